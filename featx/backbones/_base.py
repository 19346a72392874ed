"""The frozen backbone: a network, its preprocessing and the layers it reports."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import numbers

import torch
from torch import nn


#: Layer name meaning "the pooled penultimate embedding" (pre-logits).
POOLED = "pooled"


class _StopForward(Exception):
    """Raised by a hook once every requested intermediate layer has been seen."""


def global_average_pool(t: torch.Tensor) -> torch.Tensor:
    """Pool a layer output to (N, C): mean over H, W for (N, C, H, W), over tokens for (N, T, C)."""
    if isinstance(t, (tuple, list)):
        t = t[0]
    if t.ndim == 4:
        return t.mean(dim=(2, 3))
    if t.ndim == 3:
        return t.mean(dim=1)
    if t.ndim == 2:
        return t
    raise ValueError(f"Cannot pool a layer output of shape {tuple(t.shape)}; expected 2, 3 or 4 dimensions.")


class Backbone(nn.Module):
    """A frozen pretrained network that maps images to embeddings.

    Parameters
    ----------
    model : nn.Module
        The network. It is put in eval mode and its parameters stop requiring grad.
    name : str
        Canonical name (part of the cache key).
    preprocessing : Preprocessing
        Evaluation preprocessing of the weights.
    pooled_fn : callable
        ``pooled_fn(model, x) -> (N, D)``: the pooled penultimate embedding.
    pooled_dim : int
        Width ``D`` of that embedding.
    layers : sequence of str, default=("pooled",)
        What to return: ``"pooled"`` and/or names from ``model.named_modules()``; each named
        layer is globally average-pooled and all are concatenated in the order given, from
        one forward pass (which stops early when ``"pooled"`` is not requested).
    info : dict, optional
        Extra provenance (architecture, weights source) recorded in the cache.

    Notes
    -----
    ``forward`` takes images as uint8 in [0, 255] or float in [0, 1], shape (N, 3, H, W),
    normalises them with the weights' mean and std, and returns float features.
    """

    #: Autocast precisions the forward pass honours (subclasses that run outside torch say less).
    precisions = ("float32", "bfloat16", "float16")
    #: Whether ``torch.compile`` may run the forward pass.
    compilable = True

    def __init__(self, model, *, name, preprocessing, pooled_fn, pooled_dim, layers=(POOLED,), info=None):
        super().__init__()
        layers = tuple(layers) if layers else (POOLED,)
        if len(set(layers)) != len(layers):
            raise ValueError(f"layers must not repeat a name; got {list(layers)}.")
        modules = dict(model.named_modules())
        unknown = [name_ for name_ in layers if name_ != POOLED and name_ not in modules]
        if unknown:
            top = [n for n in modules if n and n.count(".") <= 1][:25]
            raise ValueError(
                f"Unknown layer(s) {unknown} for backbone {name!r}; expected {POOLED!r} or a module name "
                f"such as {top}."
            )
        self.model = model
        self.name = name
        self.preprocessing = preprocessing
        self.layers = layers
        self.info = dict(info or {})
        self._pooled_fn = pooled_fn
        self._pooled_dim = int(pooled_dim)
        self._layer_dims = None
        self._fingerprint = None
        self._folded = None
        self._float32_first = None
        self._captured = {}
        self._hooks = []
        self._register_hooks()
        std = torch.tensor(preprocessing.std, dtype=torch.float32).view(1, 3, 1, 1)
        mean = torch.tensor(preprocessing.mean, dtype=torch.float32).view(1, 3, 1, 1)
        self.register_buffer("_inv_std", 1.0 / std, persistent=False)
        self.register_buffer("_mean", mean, persistent=False)
        self.model.requires_grad_(False)
        self.train(False)

    def _register_hooks(self):
        modules = dict(self.model.named_modules())
        self._hooks = [modules[n].register_forward_hook(self._make_hook(n)) for n in self.layers if n != POOLED]

    def _make_hook(self, layer):
        intermediates = [n for n in self.layers if n != POOLED]

        def hook(module, args, output):
            self._captured[layer] = global_average_pool(output)
            if POOLED not in self.layers and len(self._captured) == len(intermediates):
                raise _StopForward

        return hook

    def train(self, mode: bool = True):
        """Backbones stay in eval mode: BatchNorm and dropout are frozen."""
        return super().train(False)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 [0, 255] or float [0, 1] images to normalised float32."""
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
        return (x - self._mean) * self._inv_std

    def _forward_parts(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.normalize(x)
        self._captured.clear()
        pooled = None
        try:
            pooled = self._pooled_fn(self.model, x) if POOLED in self.layers else self.model(x)
        except _StopForward:
            pass
        outs = [pooled if layer == POOLED else self._captured[layer] for layer in self.layers]
        self._captured.clear()
        return [o.flatten(1) for o in outs]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embeddings of a batch of images, shape (N, embed_dim)."""
        outs = self._forward_parts(x)
        return torch.cat(outs, dim=1) if len(outs) > 1 else outs[0]

    @property
    def runtime(self) -> dict:
        """What besides the weights, layers and preprocessing changes the numbers (part of the
        cache key when not empty); empty for torch backbones."""
        return {}

    @property
    def pooled_fn(self):
        """``pooled_fn(model, x) -> (N, D)``: the pooled penultimate embedding of normalised ``x``."""
        return self._pooled_fn

    @property
    def pooled_dim(self) -> int:
        """Width of the pooled embedding."""
        return self._pooled_dim

    @property
    def layer_dims(self) -> tuple[int, ...]:
        """Width of each requested layer (a dry run on one blank image when intermediates are asked)."""
        if self._layer_dims is None:
            if self.layers == (POOLED,):
                self._layer_dims = (self._pooled_dim,)
            else:
                device = self._mean.device
                with torch.inference_mode():
                    outs = self._forward_parts(torch.zeros(1, 3, *self.preprocessing.input_size, device=device))
                self._layer_dims = tuple(int(o.shape[1]) for o in outs)
        return self._layer_dims

    @property
    def embed_dim(self) -> int:
        """Total width of the returned features."""
        return int(sum(self.layer_dims))

    @property
    def weights_fingerprint(self) -> str:
        """BLAKE2b hash of every parameter and buffer (names, dtypes, shapes and bytes)."""
        if self._fingerprint is None:
            h = hashlib.blake2b(digest_size=20)
            for key, t in sorted(self.model.state_dict().items()):
                t = t.detach().cpu().contiguous()
                h.update(f"{key}|{t.dtype}|{tuple(t.shape)}\n".encode())
                h.update(t.reshape(-1).view(torch.uint8).numpy())
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def folded(self) -> Backbone:
        """An inference copy with BatchNorm folded into the convolutions before it.

        Same name, weights fingerprint, preprocessing and layers; outputs equal this
        backbone's up to float rounding (checked on a random image, else ``self`` is
        returned). ``info["batchnorm_folded"]`` counts the folded layers. TensorFlow
        "SAME" convolutions pad inside the convolution instead of copying their input
        (:class:`featx.backbones._same_pad.SamePadConv2d`, exact; ``info["same_padding_inlined"]``).
        Built once per backbone and reused. Do not change the weights of a backbone after
        calling this.
        """
        from featx.backbones._fold import fold_batchnorm
        from featx.backbones._same_pad import replace_same_padding

        if self._folded is not None:
            return self._folded
        g = torch.Generator().manual_seed(0)
        example = self.normalize(torch.randint(0, 256, (1, 3, *self.preprocessing.input_size), generator=g,
                                               dtype=torch.uint8).to(self._mean.device))
        with self._without_hooks():
            model, count = fold_batchnorm(self.model, example, run=self._pooled_fn)
        # plain attribute, not a registered submodule (nn.Module.__setattr__ would register it)
        self.__dict__["_folded"] = self
        if not count:
            return self
        inlined = replace_same_padding(model)  # model is fold_batchnorm's copy
        try:
            out = self._derived(model, batchnorm_folded=count,
                                **({"same_padding_inlined": inlined} if inlined else {}))
        except ValueError:  # a requested layer was a BatchNorm that folding removed
            return self
        out.__dict__["_folded"] = out
        self.__dict__["_folded"] = out
        return out

    @property
    def float32_first_stage(self) -> tuple[str, ...]:
        """Modules computing the reduction-2 features, which reduced-precision extraction
        keeps in float32 (see :mod:`featx.backbones._float32_stage`); empty when the model
        does not say (no timm ``feature_info``) or has no such stage."""
        from featx.backbones._float32_stage import first_stage_modules

        return first_stage_modules(self.model)

    def with_float32_first_stage(self) -> Backbone:
        """A copy whose :attr:`float32_first_stage` runs in float32 under autocast.

        Outputs without autocast are identical to this backbone's. ``self`` when there is
        no such stage. Built once per backbone and reused.
        """
        from featx.backbones._float32_stage import keep_in_float32

        names = self.float32_first_stage
        if not names:
            return self
        if self._float32_first is None:
            with self._without_hooks():
                model = copy.deepcopy(self.model)
            keep_in_float32(model, names)
            out = self._derived(model, float32_first_stage=list(names))
            out.__dict__["_folded"] = out if self._folded is self else None
            self.__dict__["_float32_first"] = out
        return self._float32_first

    @contextlib.contextmanager
    def _without_hooks(self):
        """Remove this backbone's layer hooks while inside: copies of the model made then do
        not carry closures that report to this backbone."""
        for h in self._hooks:
            h.remove()
        try:
            yield
        finally:
            self._register_hooks()

    def at_input_size(self, size) -> Backbone:
        """A copy fed ``size`` x ``size`` images: its preprocessing's ``input_size``
        replaced (resize, centre crop and everything else as before), the weights unchanged.

        The lower-cost path for small images (digits, icons): the convolutions' cost grows
        with the pixels, so 96 px costs about a fifth of 224 px. Globally pooled layers keep
        their width. The preprocessing is part of the cache key, so features at another size
        are cached apart. ``None``, or the size the weights were trained at, gives ``self``.

        Raises
        ------
        ValueError
            If ``size`` is not an int of at least 32, or the backbone runs outside torch
            (an ONNX graph has its input size built in).
        """
        if size is None:
            return self
        if not isinstance(size, numbers.Integral) or isinstance(size, bool) or size < 32:
            raise ValueError(f"input_size must be an int of at least 32 pixels (the networks downsample 32 times); "
                             f"got {size!r}.")
        if tuple(self.preprocessing.input_size) == (int(size), int(size)):
            return self
        if not self.compilable:
            raise ValueError(f"input_size needs a torch backbone; {self.name!r} runs outside torch with its own "
                             f"input size {tuple(self.preprocessing.input_size)}.")
        with self._without_hooks():
            model = copy.deepcopy(self.model)
        out = Backbone(model, name=self.name, preprocessing=dataclasses.replace(self.preprocessing,
                                                                               input_size=(int(size), int(size))),
                       pooled_fn=self._pooled_fn, pooled_dim=self._pooled_dim, layers=self.layers, info=self.info)
        out._fingerprint = self.weights_fingerprint
        out._layer_dims = self._layer_dims
        return out

    def _derived(self, model, **info) -> Backbone:
        """A backbone over a transformed copy of this one's model: same name, weights
        fingerprint, preprocessing and layers, with ``info`` added."""
        out = Backbone(model, name=self.name, preprocessing=self.preprocessing, pooled_fn=self._pooled_fn,
                       pooled_dim=self._pooled_dim, layers=self.layers, info={**self.info, **info})
        out._fingerprint = self.weights_fingerprint
        out._layer_dims = self._layer_dims
        return out

    def describe(self) -> dict:
        """JSON-able provenance: name, weights fingerprint, layers, widths, preprocessing."""
        return {
            "name": self.name,
            "weights_fingerprint": self.weights_fingerprint,
            "layers": list(self.layers),
            "layer_dims": list(self.layer_dims),
            "preprocessing": self.preprocessing.to_dict(),
            **self.info,
        }

    def extra_repr(self) -> str:
        return f"name={self.name!r}, layers={list(self.layers)}"

