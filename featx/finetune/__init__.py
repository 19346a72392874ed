"""End-to-end fine-tuning of a featx backbone: the baseline frozen features are measured against.

Shares only the backbone registry (same weights and preprocessing) and the evaluation
protocol with the frozen-feature path.
"""

from featx.finetune._classifier import FineTuneClassifier
from featx.finetune._freeze import FreezePolicy, parse_freeze
from featx.finetune._groups import StageGroup, stage_groups
from featx.finetune._optim import stage_learning_rates, warmup_cosine

__all__ = [
    "FineTuneClassifier",
    "FreezePolicy",
    "StageGroup",
    "parse_freeze",
    "stage_groups",
    "stage_learning_rates",
    "warmup_cosine",
]
