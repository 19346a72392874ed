"""Model selection without target labels: validators that score a domain-adapted model from
source labels and target features only, and the oracle (target labels) beside them, only as
the upper bound (numpy and scikit-learn only)."""

from featx.select._scores import (
    cross_entropy,
    deep_embedded_validation_risk,
    domain_density_ratio,
    importance_weighted_accuracy,
    mixup_pairs,
    mixval_score,
    prediction_entropy,
    soft_neighbourhood_density,
)
from featx.select._selection import (DEFAULT_VALIDATOR, ORACLE, VALIDATORS, Selection, Validator, check_validators,
                                     get_validator, list_validators, select)

__all__ = [
    "DEFAULT_VALIDATOR",
    "ORACLE",
    "VALIDATORS",
    "Selection",
    "Validator",
    "check_validators",
    "cross_entropy",
    "deep_embedded_validation_risk",
    "domain_density_ratio",
    "get_validator",
    "importance_weighted_accuracy",
    "list_validators",
    "mixup_pairs",
    "mixval_score",
    "prediction_entropy",
    "select",
    "soft_neighbourhood_density",
]
