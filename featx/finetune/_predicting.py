"""What a fitted ``FineTuneClassifier`` does besides training: predict images in padded batches,
score them, validate during training, and save without pickle."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from featx.data import open_source
from featx.finetune._net import FineTuneNet
from featx.metrics import top_k_accuracy


class PredictingMixin:
    """Prediction, scoring and saving of :class:`featx.finetune.FineTuneClassifier` (it holds
    ``net_``, ``classes_``, ``preprocessing_``, ``batch_size`` and ``_runtime()``)."""

    def _logits(self, net, source, backbone_preprocessing, device, precision, workers) -> torch.Tensor:
        from featx.runtime import autocast
        from featx.runtime import aligned_batches, make_loader
        from featx.runtime import reuse_large_allocations

        size = 2 * self.batch_size
        batches = aligned_batches(np.arange(len(source)), len(source), size)
        loader = make_loader(source, backbone_preprocessing, batches, num_workers=workers,
                             pin_memory=device.type == "cuda")
        out = torch.empty(len(source), net.head.out_features)
        was_training = net.training
        net.eval()
        with torch.inference_mode(), reuse_large_allocations(device.type == "cpu"):
            for idx, images in loader:
                images = images.to(device, non_blocking=True)
                if len(images) < size:  # one shape: an image alone is computed as among others
                    images = torch.cat([images, images[-1:].expand(size - len(images), *images.shape[1:])])
                if device.type != "mps":
                    images = images.contiguous(memory_format=torch.channels_last)
                with autocast(device, precision):
                    out[idx] = net(images)[: len(idx)].float().cpu()
        net.train(was_training)
        return out

    def _validate(self, net, val, backbone, device, precision, workers) -> dict:
        logits = self._logits(net, val, backbone.preprocessing, device, precision, workers).numpy()
        target = np.asarray(val.labels)
        k = min(5, logits.shape[1])
        return {"val_top1": top_k_accuracy(logits, target, 1), f"val_top{k}": top_k_accuracy(logits, target, k)}

    def _predict_logits(self, data) -> torch.Tensor:
        check_is_fitted(self)
        source = open_source(data)
        device, precision, workers = self._runtime()
        net = self.net_.to(device)
        try:
            return self._logits(net, source, self.preprocessing_, device, precision, workers)
        finally:
            self.net_ = net.to("cpu")

    def __getstate__(self):
        """Parameters and fitted attributes with the network as numpy arrays (its state dict) and
        the preprocessing as a dict, so skops saves the model without pickle
        (:func:`featx.persist.save_model`); the network is rebuilt from the backbone's name."""
        state = dict(super().__getstate__())
        net, pre = state.pop("net_", None), state.pop("preprocessing_", None)
        if net is not None:
            from featx.backbones import Backbone

            if isinstance(self.backbone, Backbone):
                state["backbone"] = self.backbone.name  # the architecture's name; the weights are below
            state["net_arrays_"] = {k: v.detach().cpu().numpy() for k, v in net.state_dict().items()}
        if pre is not None:
            state["preprocessing_dict_"] = pre.to_dict()
        return state

    def __setstate__(self, state):
        state = dict(state)
        arrays, pre = state.pop("net_arrays_", None), state.pop("preprocessing_dict_", None)
        super().__setstate__(state)
        if pre is not None:
            from featx.backbones import Preprocessing

            self.preprocessing_ = Preprocessing(**{k: tuple(v) if isinstance(v, list) else v for k, v in pre.items()})
        if arrays is not None:
            from featx.backbones import create_backbone

            name = str(self.backbone)  # the saved weights replace any: a timm model is built without a download
            backbone = create_backbone(name, **({"pretrained": False} if name.startswith("timm:") else {}))
            net = FineTuneNet(backbone, len(self.classes_))
            net.load_state_dict({k: torch.as_tensor(np.asarray(v)) for k, v in arrays.items()})
            self.net_ = net.eval()

    def predict_proba(self, data) -> np.ndarray:
        """Class probabilities, shape (n_images, n_classes), columns in ``classes_`` order."""
        return torch.softmax(self._predict_logits(data), dim=1).numpy()

    def predict(self, data) -> np.ndarray:
        """Predicted class names."""
        return self.classes_[self._predict_logits(data).argmax(1).numpy()]

    def score(self, data, y=None, sample_weight=None) -> float:
        """Top-1 accuracy on labelled images (labels from the source, or ``y`` with arrays)."""
        source = open_source(data, y)
        labels = np.asarray(source.labels)
        if (labels < 0).any():
            raise ValueError(f"score needs a label for every image; {int((labels < 0).sum())} have none.")
        truth = np.asarray(source.classes)[labels]
        from sklearn.metrics import accuracy_score

        return accuracy_score(truth, self.predict(source), sample_weight=sample_weight)
