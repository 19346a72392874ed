"""How a backbone wants its images: size, crop, interpolation and normalisation (no torch)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from featx.data import resize_and_crop

#: Identifies featx's decode-and-resize implementation; part of every cache key, so a change
#: to how images are decoded never reuses features computed the old way.
DECODER_VERSION = "pil-draft-boxresize-v1"


@dataclass(frozen=True)
class Preprocessing:
    """Evaluation preprocessing of a backbone, taken from its weights' own configuration.

    Parameters
    ----------
    input_size : tuple of int
        (height, width) fed to the network.
    mean, std : tuple of float
        Per-channel normalisation of [0, 1] RGB values: ``(x - mean) / std``.
    interpolation : str
        Resize filter (``bicubic``, ``bilinear``, ...).
    crop_pct : float
        Fraction of the resized image kept by the centre crop.
    crop_mode : str
        ``center`` (resize shorter side, crop) or ``squash`` (resize both sides, crop).
    decoder : str
        Version tag of the decode-and-resize code.
    """

    input_size: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str = "bicubic"
    crop_pct: float = 0.875
    crop_mode: str = "center"
    decoder: str = DECODER_VERSION

    @classmethod
    def from_timm_config(cls, cfg: dict) -> Preprocessing:
        """Build from ``timm.data.resolve_model_data_config(model)``."""
        return cls(
            input_size=tuple(int(v) for v in cfg["input_size"][-2:]),
            mean=tuple(float(v) for v in cfg["mean"]),
            std=tuple(float(v) for v in cfg["std"]),
            interpolation=str(cfg.get("interpolation", "bicubic")),
            crop_pct=float(cfg.get("crop_pct", 1.0)),
            crop_mode=str(cfg.get("crop_mode", "center")),
        )

    @classmethod
    def from_torchvision_transforms(cls, t) -> Preprocessing:
        """Build from a torchvision weights' ``transforms()`` (``ImageClassification``)."""
        crop, resize = int(t.crop_size[0]), int(t.resize_size[0])
        return cls(
            input_size=(crop, crop),
            mean=tuple(float(v) for v in t.mean),
            std=tuple(float(v) for v in t.std),
            interpolation=str(getattr(t.interpolation, "value", t.interpolation)),
            crop_pct=crop / resize,
            crop_mode="center",
        )

    def to_dict(self) -> dict:
        """JSON-able form (tuples become lists)."""
        return json.loads(json.dumps(asdict(self)))

    def fingerprint(self) -> str:
        """Stable hash of every field."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()

    def __call__(self, img):
        """Decode-and-resize one PIL image to an HWC uint8 array of ``input_size``."""
        return resize_and_crop(
            img,
            self.input_size,
            crop_pct=self.crop_pct,
            crop_mode=self.crop_mode,
            interpolation=self.interpolation,
        )
