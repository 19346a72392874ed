"""Deep domain-adaptation heads trained on cached embeddings (torch): DANN, CDAN(+E), MCC.

Beside :mod:`featx.finetune`, never touching the backbone: a bottleneck and a classifier
learn from the feature rows, the papers' objectives and schedules on top. The objectives
(:func:`transfer_objective`) are the ones fine-tuning trains the backbone with
(``FineTuneClassifier(da_loss=...)``).
"""

from featx.deepda._heads import CDAN, DANN, MCC
from featx.deepda._objectives import OBJECTIVES, transfer_objective
from featx.deepda._losses import (
    annealed_lr,
    certainty_weights,
    domain_adversarial_loss,
    entropy,
    grl_coefficient,
    minimum_class_confusion,
    multilinear_map,
    reverse_gradient,
)

__all__ = [
    "CDAN",
    "DANN",
    "MCC",
    "OBJECTIVES",
    "annealed_lr",
    "certainty_weights",
    "domain_adversarial_loss",
    "entropy",
    "grl_coefficient",
    "minimum_class_confusion",
    "multilinear_map",
    "reverse_gradient",
    "transfer_objective",
]
