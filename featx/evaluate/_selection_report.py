"""The report's model-selection part: methods x validators at the largest budget, a heat map of
the gaps to the oracle, and how well each validator's score ranks the grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from featx.select import ORACLE


def _at_largest(result) -> tuple:
    """``(budget, methods, validators, cell)``: each method at the largest budget it has picks at
    (fine-tuning may run at smaller budgets only); ``cell[(method, validator)]`` a summary row;
    ``budget`` the largest overall."""
    budgets = result.info["budgets"]
    rows = result.selection_summary
    at = {}
    for m in result.info["methods"]:
        ran = [b for b in budgets if any(r["method"] == m and r["budget"] == b for r in rows)]
        if ran:
            at[m] = ran[-1]
    last = next((b for b in reversed(budgets) if b in at.values()), None)
    validators = [*result.info["select"], ORACLE]
    cell = {(r["method"], r["validator"]): r for r in rows if at.get(r["method"]) == r["budget"]}
    return last, list(at), validators, cell, at


def _label(method, at, last) -> str:
    return method if at[method] == last else f"{method} (budget {at[method]})"


def selection_table(result) -> str:
    """Markdown: target accuracy % of each validator's pick (gap to the oracle in brackets)."""
    last, methods, validators, cell, at = _at_largest(result)
    lines = ["| method | " + " | ".join(validators) + " |", "|---|" + "---:|" * len(validators)]
    for m in methods:
        cells = []
        for v in validators:
            r = cell.get((m, v))
            if r is None or not r["draws"]:
                cells.append("-")
            else:
                cells.append(f"{100 * r['accuracy']:.1f}" + ("" if v == ORACLE else f" ({100 * r['gap']:+.1f})"))
        lines.append(f"| {_label(m, at, last)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def validator_ranking(rows_in, validators) -> list[dict]:
    """Per validator over the given rows (each with ``validator``, ``gap``, ``rank_corr``,
    ``fit_s``; e.g. a comparison's ``selection_summary``): mean gap to the oracle, mean rank
    correlation between its scores and target accuracy, mean fit seconds; best (smallest gap) first."""
    out = []
    for v in validators:
        rows = [r for r in rows_in if r["validator"] == v]
        gaps = [r["gap"] for r in rows if np.isfinite(r["gap"])]
        corr = [r["rank_corr"] for r in rows if np.isfinite(r["rank_corr"])]
        out.append({"validator": v, "gap": float(np.mean(gaps)) if gaps else float("nan"),
                    "rank_corr": float(np.mean(corr)) if corr else float("nan"),
                    "fit_s": float(np.nanmean([r["fit_s"] for r in rows])) if rows else float("nan"),
                    "cells": len(gaps)})
    return sorted(out, key=lambda r: (np.isnan(r["gap"]), r["gap"]))


def ranking_table(result) -> str:
    lines = ["| validator | mean gap to oracle (points) | rank correlation with target accuracy | fit s per grid |",
             "|---|---:|---:|---:|"]
    for r in validator_ranking(result.selection_summary, result.info["select"]):
        gap = "-" if np.isnan(r["gap"]) else f"{100 * r['gap']:.1f}"
        corr = "-" if np.isnan(r["rank_corr"]) else f"{r['rank_corr']:+.2f}"
        lines.append(f"| {r['validator']} | {gap} | {corr} | {r['fit_s']:.1f} |")
    return "\n".join(lines)


def plot_selection_gaps(result, path: Path) -> None:
    """Heat map: methods x validators, the gap (points) between the oracle's pick and the
    validator's at the largest budget."""
    last, methods, validators, cell, at = _at_largest(result)
    validators = [v for v in validators if v != ORACLE]
    gaps = np.array([[100 * cell[(m, v)]["gap"] if (m, v) in cell else np.nan for v in validators] for m in methods])
    plot_gap_heatmap(gaps, [_label(m, at, last) for m in methods], validators, path,
                     title=f"points lost to the oracle's pick, budget '{last}'")


def plot_gap_heatmap(gaps, methods, validators, path, *, title="points lost to the oracle's pick") -> None:
    """Write a heat map of ``gaps`` (methods x validators, points behind the oracle) to ``path``.

    Parameters
    ----------
    gaps : array-like of shape (n_methods, n_validators)
        NaN where a validator did not apply (shown as ``-``).
    methods, validators : list of str
        Row and column labels.
    path : str or Path
        The image file (its suffix picks the format).
    title : str, optional

    Raises
    ------
    ValueError
        If the shape of ``gaps`` does not match the labels.
    """
    from matplotlib.figure import Figure

    gaps = np.asarray(gaps, dtype=np.float64)
    if gaps.shape != (len(methods), len(validators)):
        raise ValueError(f"gaps must have shape (methods, validators) = ({len(methods)}, {len(validators)}); "
                         f"got {gaps.shape}.")
    fig = Figure(figsize=(0.9 * len(validators) + 2.5, 0.4 * len(methods) + 1.6), layout="constrained")
    ax = fig.subplots()
    top = max(1.0, float(np.nanmax(gaps))) if np.isfinite(gaps).any() else 1.0
    im = ax.imshow(gaps, cmap="Reds", vmin=0, vmax=top, aspect="auto")
    for (i, j), g in np.ndenumerate(gaps):
        ax.text(j, i, "-" if np.isnan(g) else f"{g:.1f}", ha="center", va="center", fontsize=8,
                color="white" if np.isfinite(g) and g > top / 2 else "black")
    ax.set_xticks(range(len(validators)), validators, rotation=30, ha="right")
    ax.set_yticks(range(len(methods)), methods)
    ax.set_xlabel("validator (no target labels)")
    ax.set_ylabel("method")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, shrink=0.8, label="points behind the oracle")
    fig.savefig(path, dpi=120)


def selection_section(result) -> list[str]:
    """The report's lines for the selection part (empty without ``select``)."""
    if not result.info.get("select") or not result.selection_summary:
        return []
    best = validator_ranking(result.selection_summary, result.info["select"])[0]
    last = _at_largest(result)[0]
    lines = ["## Model selection without target labels", "",
             f"Each validator picks every feature method's configuration from its selection grid on every draw "
             f"without target labels; the oracle picks with them (the upper bound). Target accuracy % of the picks "
             f"at budget '{last}', mean over draws, with the gap to the oracle in brackets:", "",
             selection_table(result), "", ranking_table(result), ""]
    if not np.isnan(best["gap"]):
        lines += [f"Closest to the oracle here: **{best['validator']}** ({100 * best['gap']:.1f} points behind on "
                  "average over methods and budgets).", ""]
    return lines
