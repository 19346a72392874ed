"""Decoding images to 8-bit RGB and resizing them the way a backbone expects."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageOps

#: File extensions treated as images when scanning folders (lower case).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")

#: Interpolation names accepted by :func:`resize_and_crop` and their PIL filters.
RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any PIL image to 8-bit RGB.

    EXIF orientation is applied first. Grayscale, palette, RGBA (alpha dropped), CMYK and
    YCbCr go through PIL's own conversion; 16- and 32-bit integer images (``I;16``, ``I``)
    are scaled from 16-bit range to 8 bits, and float images (``F``) are clipped to
    [0, 255], before PIL's conversion, which would otherwise saturate them.
    """
    img = ImageOps.exif_transpose(img)
    if img.mode == "RGB":
        return img
    if img.mode.startswith("I") or img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        if img.mode != "F":
            arr = arr / 257.0
        img = Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), mode="L")
    return img.convert("RGB")


def resize_and_crop(
    img: Image.Image,
    size: tuple[int, int],
    *,
    crop_pct: float = 1.0,
    crop_mode: str = "center",
    interpolation: str = "bicubic",
) -> np.ndarray:
    """Resize and crop an RGB image to ``size`` (height, width); return HWC uint8.

    ``crop_mode="center"`` resizes the shorter side to ``floor(size / crop_pct)`` and takes
    the central ``size`` crop (timm's and torchvision's evaluation transform);
    ``"squash"`` resizes both sides to ``floor(size / crop_pct)`` ignoring the aspect ratio
    and then crops the centre.

    For JPEG files not yet loaded, the decoder first produces a reduced-size image
    (``Image.draft``: DCT scaling by 1/2, 1/4 or 1/8) that is still at least as large as
    the resize target, which makes decoding several times cheaper for large photos.
    """
    if interpolation not in RESAMPLE:
        raise ValueError(f"interpolation must be one of {sorted(RESAMPLE)}; got {interpolation!r}.")
    if crop_mode not in ("center", "squash"):
        raise ValueError(f"crop_mode must be 'center' or 'squash'; got {crop_mode!r}.")
    h, w = size
    scale_h, scale_w = math.floor(h / crop_pct), math.floor(w / crop_pct)
    if getattr(img, "format", None) == "JPEG" and img.mode in ("RGB", "L", "CMYK", "YCbCr"):
        iw, ih = img.size
        s = max(scale_h / ih, scale_w / iw) if crop_mode == "squash" else max(scale_h, scale_w) / min(iw, ih)
        img.draft(img.mode, (math.ceil(iw * s), math.ceil(ih * s)))
    img = to_rgb(img)
    iw, ih = img.size
    if crop_mode == "squash":
        nw, nh = scale_w, scale_h
    else:
        ratio = max(scale_h, scale_w) / min(iw, ih)
        nw, nh = max(scale_w, round(iw * ratio)), max(scale_h, round(ih * ratio))
    left, top = int(round((nw - w) / 2.0)), int(round((nh - h) / 2.0))
    if (nw, nh) == (iw, ih):
        img = img.crop((left, top, left + w, top + h))
    else:
        # Resample only the region that survives the crop: the same filter taps as resizing
        # the whole image and then cropping (the filter still reads pixels around the box).
        rx, ry = nw / iw, nh / ih
        box = (left / rx, top / ry, (left + w) / rx, (top + h) / ry)
        img = img.resize((w, h), RESAMPLE[interpolation], box=box)
    return np.asarray(img, dtype=np.uint8)
