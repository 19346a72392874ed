"""One protocol for frozen features, domain alignment and fine-tuning: learning curves over the
labelled budget with confidence intervals, costs, and reports."""

from featx.evaluate._compare import Comparison, compare, compare_features
from featx.methods import default_methods
from featx.protocol import budget_draws, mean_ci, parse_budgets, proxy_a_distance
from featx.evaluate._report import summary_table, write_report
from featx.evaluate._selection_report import plot_gap_heatmap, validator_ranking

__all__ = [
    "Comparison",
    "budget_draws",
    "compare",
    "compare_features",
    "default_methods",
    "mean_ci",
    "parse_budgets",
    "plot_gap_heatmap",
    "proxy_a_distance",
    "summary_table",
    "validator_ranking",
    "write_report",
]
