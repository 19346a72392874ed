"""ONNX backbones: ``onnx:<path>`` run by onnxruntime, and :func:`export_onnx` to write one."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from featx.backbones._base import POOLED, Backbone, global_average_pool
from featx.backbones._preprocessing import Preprocessing

#: Metadata key under which :func:`export_onnx` stores the preprocessing (JSON).
PREPROCESSING_KEY = "featx.preprocessing"


def onnxruntime_module():
    """``onnxruntime``, or an ``ImportError`` naming the extra that installs it."""
    try:
        import onnxruntime
    except ImportError as exc:
        raise ImportError("ONNX backbones need onnxruntime: pip install 'featx[onnx]' "
                          "(or pip install onnxruntime).") from exc
    return onnxruntime


def file_fingerprint(path) -> str:
    """BLAKE2b hash of a file's bytes."""
    h = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def default_providers(ort) -> list[str]:
    """CUDA's execution provider when onnxruntime and torch both see a GPU, else the CPU's."""
    available = ort.get_available_providers()
    if "CUDAExecutionProvider" in available and torch.cuda.is_available():
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class OnnxSession(nn.Module):
    """An onnxruntime session as a module: normalised float images in, one graph output out.

    Inputs are copied to the host as contiguous float32 (any memory format) and outputs come
    back on the input's device. A graph with a fixed batch dimension is run in chunks of that
    size, the last one padded. Pickling (Ray actors, ``copy.deepcopy``) stores the path and rebuilds the session.
    """

    def __init__(self, path, output: str | None, providers):
        super().__init__()
        self.path, self.output, self.providers = str(path), output, list(providers)
        self._open()

    def _open(self):
        ort = onnxruntime_module()
        self.session = ort.InferenceSession(self.path, providers=self.providers)
        inputs = self.session.get_inputs()
        self.input_name = inputs[0].name if inputs else None
        first = inputs[0].shape[0] if inputs and inputs[0].shape else None
        self.fixed_batch = first if isinstance(first, int) and first > 0 else None

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("session")
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._open()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the graph on ``x`` (N, 3, H, W), normalised."""
        arr = np.ascontiguousarray(x.detach().float().cpu().numpy())
        step = self.fixed_batch or max(len(arr), 1)
        outs = []
        for i in range(0, len(arr), step):
            chunk = arr[i:i + step]
            if len(chunk) < step:  # a short last chunk of a fixed-batch graph: pad with its last image
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], step - len(chunk), axis=0)])
            outs.append(self.session.run([self.output], {self.input_name: chunk})[0][: len(arr) - i])
        return torch.from_numpy(np.concatenate(outs).astype(np.float32, copy=False)).to(x.device)


def _onnx_pooled(model, x):
    return global_average_pool(model(x))


class OnnxBackbone(Backbone):
    """A :class:`Backbone` whose network is an ONNX graph run by onnxruntime.

    Built by :func:`onnx_backbone`. Its weights fingerprint is the file's hash; it runs in
    float32 only (autocast does not reach onnxruntime), is never folded or compiled by
    featx (onnxruntime optimises the graph itself), and its cache key records the graph
    output, onnxruntime's version and the execution provider.
    """

    precisions = ("float32",)
    compilable = False

    def folded(self) -> Backbone:
        """``self``: onnxruntime fuses BatchNorm into convolutions when it loads the graph."""
        return self

    @property
    def float32_first_stage(self) -> tuple[str, ...]:
        """Empty: an ONNX backbone runs in float32 throughout."""
        return ()

    def with_float32_first_stage(self) -> Backbone:
        """``self`` (see :attr:`float32_first_stage`)."""
        return self

    @property
    def runtime(self) -> dict:
        """What besides the weights changes the numbers: output, onnxruntime version, provider."""
        return {k: self.info[k] for k in ("onnx_output", "onnxruntime_version", "execution_provider")}


def _read_preprocessing(session, path) -> Preprocessing | None:
    meta = session.get_modelmeta().custom_metadata_map
    if PREPROCESSING_KEY not in meta:
        return None
    try:
        return preprocessing_from(json.loads(meta[PREPROCESSING_KEY]))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{str(path)!r}: metadata {PREPROCESSING_KEY!r} is not a valid preprocessing: {exc}") from exc


def preprocessing_from(spec) -> Preprocessing:
    """A :class:`Preprocessing` from itself, a mapping of its fields, a JSON string or a JSON file.

    ``input_size``, ``mean`` and ``std`` are required; the others default as in the class.
    """
    if isinstance(spec, Preprocessing):
        return spec
    if isinstance(spec, (str, Path)):
        text = Path(spec).read_text() if Path(str(spec)).suffix == ".json" else str(spec)
        spec = json.loads(text)
    if not isinstance(spec, dict):
        raise TypeError(f"preprocessing must be a Preprocessing, a mapping, JSON text or a .json file; "
                        f"got {type(spec).__name__}.")
    missing = [k for k in ("input_size", "mean", "std") if k not in spec]
    if missing:
        raise ValueError(f"preprocessing needs 'input_size', 'mean' and 'std'; missing {missing} in {spec}.")
    fields = dict(spec)
    fields["input_size"] = tuple(int(v) for v in fields["input_size"][-2:])
    fields["mean"], fields["std"] = (tuple(float(v) for v in fields[k]) for k in ("mean", "std"))
    if len(fields["mean"]) != 3 or len(fields["std"]) != 3:
        raise ValueError(f"mean and std need 3 values (RGB); got {fields['mean']} and {fields['std']}.")
    return Preprocessing(**fields)


def onnx_backbone(path: str, *, output: str | None = None, preprocessing=None, providers=None,
                  layers=None) -> OnnxBackbone:
    """A frozen backbone from an ONNX file, run by onnxruntime (``pip install 'featx[onnx]'``).

    Parameters
    ----------
    path : str
        The ``.onnx`` file: one input of shape (N, 3, H, W) taking normalised float32 images.
    output : str, optional
        The graph output used as the embedding (default: the graph's last output); a 4-d or
        3-d output is globally average-pooled.
    preprocessing : Preprocessing, dict, JSON text or .json file, optional
        Size and normalisation of the images; default: what the file's metadata records
        (:func:`export_onnx` writes it under ``featx.preprocessing``). Required otherwise.
    providers : list of str, optional
        onnxruntime execution providers; default CUDA's when a GPU is visible, else the CPU's.
    layers : None or ["pooled"]
        ONNX backbones report one output; choose it with ``output``.

    Returns
    -------
    OnnxBackbone
    """
    ort = onnxruntime_module()
    if layers not in (None, (POOLED,), [POOLED]):
        raise ValueError(f"ONNX backbones report one graph output, chosen with output=NAME; got layers={layers!r}.")
    if not Path(path).is_file():
        raise FileNotFoundError(f"No ONNX file at {str(path)!r}.")
    providers = list(providers) if providers else default_providers(ort)
    module = OnnxSession(path, None, providers)
    inputs, outputs = module.session.get_inputs(), [o.name for o in module.session.get_outputs()]
    if len(inputs) != 1 or len(inputs[0].shape) != 4:
        raise ValueError(f"{str(path)!r}: expected one image input of shape (N, 3, H, W); got "
                         f"{[(i.name, i.shape) for i in inputs]}.")
    output = outputs[-1] if output is None else output
    if output not in outputs:
        raise ValueError(f"{str(path)!r} has no output {output!r}; its outputs are {outputs}.")
    module.output = output
    pre = preprocessing_from(preprocessing) if preprocessing is not None else _read_preprocessing(module.session,
                                                                                                 path)
    if pre is None:
        raise ValueError(f"{str(path)!r} records no preprocessing (metadata {PREPROCESSING_KEY!r}); pass "
                         "preprocessing={'input_size': [H, W], 'mean': [...], 'std': [...]} (CLI: --preprocessing).")
    dim = _output_width(module, pre)
    bb = OnnxBackbone(module, name=f"onnx:{Path(path).resolve()}", preprocessing=pre, pooled_fn=_onnx_pooled,
                      pooled_dim=dim, info={
                          "architecture": "onnx", "onnx_output": output,
                          "onnxruntime_version": ort.__version__,
                          "execution_provider": module.session.get_providers()[0]})
    bb._fingerprint = file_fingerprint(path)
    return bb


def _output_width(module: OnnxSession, pre: Preprocessing) -> int:
    with torch.inference_mode():
        return int(_onnx_pooled(module, torch.zeros(1, 3, *pre.input_size)).shape[1])


def export_onnx(backbone: Backbone, path, *, opset: int = 18) -> Path:
    """Write ``backbone``'s pooled embedding as an ONNX graph that :func:`onnx_backbone` reads back.

    The graph takes normalised float32 images (N, 3, H, W) with a dynamic batch dimension and
    returns the pooled embedding (output ``embedding``); the preprocessing is stored in the
    file's metadata. Uses torch's exporter (``torch.onnx.export(..., dynamo=True)``, which
    needs the packages ``onnx`` and ``onnxscript``: ``pip install 'featx[onnx]'``).

    Returns
    -------
    Path
        ``path``.
    """
    import onnx

    if backbone.layers != (POOLED,):
        raise ValueError(f"export_onnx writes the pooled embedding only; the backbone reports {list(backbone.layers)}.")
    path = Path(path)
    example = torch.zeros(2, 3, *backbone.preprocessing.input_size)
    graph = _PooledOnly(backbone).eval()
    program = torch.onnx.export(graph, (example,), input_names=["input"], output_names=["embedding"], dynamo=True,
                                opset_version=opset, dynamic_shapes=({0: torch.export.Dim("batch")},),
                                verbose=False)
    model = program.model_proto
    entry = model.metadata_props.add()
    entry.key, entry.value = PREPROCESSING_KEY, json.dumps(backbone.preprocessing.to_dict())
    onnx.save(model, str(path))
    return path


class _PooledOnly(nn.Module):
    def __init__(self, backbone: Backbone):
        super().__init__()
        self.model, self.pooled_fn = backbone.model, backbone.pooled_fn

    def forward(self, x):
        return self.pooled_fn(self.model, x)
