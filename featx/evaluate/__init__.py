"""One protocol for frozen features, domain alignment and fine-tuning: learning curves over the
labelled budget with confidence intervals, costs, and reports."""

from featx.evaluate._compare import Comparison, compare, compare_features
from featx.evaluate._report import summary_table, write_report
from featx.evaluate._selection_report import plot_gap_heatmap, validator_ranking

__all__ = [
    "Comparison",
    "compare",
    "compare_features",
    "plot_gap_heatmap",
    "summary_table",
    "validator_ranking",
    "write_report",
]
