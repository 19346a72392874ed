"""Reports of a comparison: Markdown, JSON, CSV and PNG plots (matplotlib's object API, no pyplot
state)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from featx.evaluate._selection_report import plot_selection_gaps, selection_section
from featx.protocol import ALL

#: fine-tuning often runs at one or two budgets only: a large star stays visible alone
_MARKER = {"frozen": "o", "aligned": "s", "finetuned": "*"}
_STYLE = {"frozen": "-", "aligned": "-.", "finetuned": "--"}
#: each method's own marker inside its rung's look, so that curves on top of each other stay apart
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")
_RUNG_COLOURS = {"frozen": "tab:blue", "aligned": "tab:green", "finetuned": "tab:orange"}


def zoomed_limits(low: float, high: float, *, floor: float = 0.0, ceiling: float = 100.0,
                  pad: float = 0.15) -> tuple[float, float]:
    """Axis limits around data spanning ``[low, high]``: padded by ``pad`` of the span (at least
    one unit) on each side, kept within ``[floor, ceiling]``. So 93-95% fill the axis instead of
    sitting as equal bars on an axis from 0.

    Examples
    --------
    >>> zoomed_limits(93.0, 95.0)
    (92.0, 96.0)
    >>> zoomed_limits(2.0, 60.0)
    (0.0, 68.7)
    """
    margin = max(pad * (high - low), 1.0)
    return max(floor, round(low - margin, 1)), min(ceiling, round(high + margin, 1))


def dodged(x, index: int, count: int, width: float = 0.04) -> np.ndarray:
    """``x`` (on a log axis) moved sideways for series ``index`` of ``count``: the series spread
    over ``width`` decades around the true budget, so equal curves are seen side by side."""
    if count < 2:
        return np.asarray(x, dtype=np.float64)
    shift = width * (index / (count - 1) - 0.5)
    return np.asarray(x, dtype=np.float64) * 10.0 ** shift


def _fmt(acc, half) -> str:
    return f"{100 * acc:.1f}" + ("" if np.isnan(half) else f" ± {100 * half:.1f}")


def _cell(row) -> str:
    """A summary row's table cell: mean ± CI, marked when draws failed (``failed`` alone when all did)."""
    if not row["draws"]:
        return f"failed ({row['failed']})" if row["failed"] else "-"
    return _fmt(row["accuracy"], row["ci95"]) + (f" ({row['failed']} failed)" if row["failed"] else "")


def summary_table(result) -> str:
    """Markdown: methods x budgets, mean accuracy % ± 95% CI half-width."""
    budgets = result.info["budgets"]
    head = "| method | rung | " + " | ".join(f"{b}/class" if b != ALL else "all" for b in budgets) + " |"
    lines = [head, "|---|---|" + "---:|" * len(budgets)]
    for method in result.info["methods"]:
        rows = {s["budget"]: s for s in result.summary if s["method"] == method}
        rung = rows[budgets[0]]["rung"]
        lines.append(f"| {method} | {rung} | " + " | ".join(_cell(rows[b]) for b in budgets) + " |")
    return "\n".join(lines)


def _ft_scope(result) -> str:
    """A sentence on where fine-tuning ran, when it ran at fewer budgets or draws than the rest."""
    info = result.info
    if "finetuned" not in {s["rung"] for s in result.summary} or not info.get("ft_budgets"):
        return ""
    if info["ft_budgets"] == info["budgets"] and info["ft_repeats"] == info["repeats"]:
        return f" Fine-tuning: {info['ft_epochs']} epochs a run."
    return (f" Fine-tuning ran at budgets {info['ft_budgets']} only, on the first {info['ft_repeats']} draw(s) "
            f"of each, {info['ft_epochs']} epochs a run (its other cells read '-').")


def failure_table(result) -> str:
    """Markdown: one row per failed (method, budget, draw) with the error."""
    lines = ["| method | budget | draw | error | message |", "|---|---|---:|---|---|"]
    for f in result.failures:
        message = " ".join(f["message"].split())[:300].replace("|", "\\|")
        lines.append(f"| {f['method']} | {f['budget']} | {f['draw']} | {f['error']} | {message} |")
    return "\n".join(lines)


def cost_table(result) -> str:
    """Markdown: per method at the largest budget it ran at (fine-tuning may stop short of the
    comparison's largest), fit / predict seconds and peak memory; with several backbones, also
    the seconds this run spent embedding every role with the backbones the row uses
    (:func:`embedding_seconds`)."""
    several = "backbones" in result.info
    lines = ["| method | budget | fit s | predict s | peak MiB |" + (" embed s |" if several else ""),
             "|---|---:|---:|---:|---:|" + ("---:|" if several else "")]
    for method in result.info["methods"]:
        ran = [s for s in result.summary if s["method"] == method and s["draws"]]
        if ran:
            s = ran[-1]  # the summary lists budgets in ascending order
            embed = f" {embedding_seconds(result, method):.1f} |" if several else ""
            lines.append(f"| {method} | {s['budget']} | {s['fit_s']:.2f} | {s['predict_s']:.2f} | {s['peak_mib']:.0f} "
                         "|" + embed)
    return "\n".join(lines)


def embedding_seconds(result, method: str) -> float:
    """Seconds this comparison spent embedding every role with the backbones ``method`` uses:
    ``MODEL@NAME`` one backbone, ``MODEL@ensemble`` and an unlayered model all of them,
    fine-tuning none (it trains on the images). A cache hit costs only the read."""
    from featx.methods import ENSEMBLE, rung_of, split_layer

    if rung_of(method) == "finetuned":
        return 0.0
    layer = split_layer(method)[1]
    used = result.info["backbones"] if layer is None or layer == ENSEMBLE else [layer.split("/")[0]]
    return sum(e["backbones"][name]["seconds"] for e in result.extraction.values() for name in used)


def _figure(width=7.0, height=4.5, ncols=1):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, ncols)
    return fig, axes


def plot_learning_curve(result, path: Path) -> None:
    """Accuracy vs labelled images per class, one line per method with its 95% CI band. Every
    method has its own colour and marker, and the series are dodged sideways a little on the
    log axis, so two methods with the same accuracies stay visible."""
    from matplotlib import colormaps

    fig, ax = _figure(8.5, 4.8)
    budgets = result.info["budgets"]
    palette = colormaps["tab10"].colors + colormaps["Dark2"].colors  # 18 strong, distinct colours
    # fine-tuning: few points, large stars, in colours the other methods' palette does not use
    strong = ("black", "deeppink", "darkgoldenrod", "navy")
    series = [(m, [s for s in result.summary if s["method"] == m and s["draws"]]) for m in result.info["methods"]]
    series = [(m, rows) for m, rows in series if rows]
    n_other = n_strong = 0
    for i, (method, rows) in enumerate(series):
        rung = rows[0]["rung"]
        x = dodged([s["n_labelled"] / len(result.info["classes"]) for s in rows], i, len(series))
        y = np.array([100 * s["accuracy"] for s in rows])
        half = np.nan_to_num(np.array([100 * s["ci95"] for s in rows]))
        if rung == "finetuned":
            colour, marker, n_strong = strong[n_strong % len(strong)], "*", n_strong + 1
        else:
            colour, marker = palette[n_other % len(palette)], _MARKERS[n_other % len(_MARKERS)]
            n_other += 1
        ax.plot(x, y, _STYLE[rung], marker=marker, markersize=12 if rung == "finetuned" else 5,
                markeredgecolor="white" if rung == "finetuned" else colour, color=colour, label=f"{method} ({rung})")
        ax.fill_between(x, y - half, y + half, color=colour, alpha=0.08)
    ax.set_xscale("log")
    ax.set_xlabel("labelled images per class (log scale; series dodged sideways to stay visible)")
    ax.set_ylabel("test accuracy %, mean over draws (band: 95% CI)")
    ax.set_title(f"{result.info['backbone']}: accuracy vs labelled budget ({', '.join(map(str, budgets))})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.savefig(path, dpi=120)


def plot_methods(result, path: Path) -> None:
    """Bars: each method's accuracy at the largest budget with its 95% CI, the value written on
    each bar, the axis zoomed to the values (said in the axis label when it does not start at 0),
    coloured by rung with a legend of the rungs drawn."""
    from matplotlib.patches import Patch

    last = result.info["budgets"][-1]
    rows = [s for s in result.summary if s["budget"] == last and s["draws"]]
    fig, ax = _figure(max(6.0, 0.6 * len(rows) + 2.0), 4.5)
    acc = np.array([100 * s["accuracy"] for s in rows])
    half = np.nan_to_num(np.array([100 * s["ci95"] for s in rows]))
    bars = ax.bar(range(len(rows)), acc, yerr=half, color=[_RUNG_COLOURS[s["rung"]] for s in rows], capsize=3)
    ax.bar_label(bars, labels=[f"{a:.1f}" for a in acc], padding=2, fontsize=7)
    if len(rows):
        low, high = zoomed_limits(float(np.min(acc - half)), float(np.max(acc + half)))
        ax.set_ylim(low, high + 0.06 * (high - low))  # room for the values above the bars
    ax.set_xticks(range(len(rows)), [s["method"] for s in rows], rotation=45, ha="right")
    start = ax.get_ylim()[0]
    ax.set_ylabel("test accuracy %" + (f" (axis from {start:.0f}%)" if start > 0 else ""))
    ax.set_xlabel("method")
    drawn = list(dict.fromkeys(s["rung"] for s in rows))
    ax.legend(handles=[Patch(color=_RUNG_COLOURS[r], label=r) for r in drawn], fontsize=8, title="rung",
              title_fontsize=8)
    draws = sorted({s["draws"] for s in rows})
    spread = "one draw" if draws == [1] else f"mean of {'/'.join(map(str, draws))} draws, 95% CI"
    ax.set_title(f"accuracy at budget '{last}' ({spread})")
    ax.grid(axis="y", alpha=0.3)
    fig.savefig(path, dpi=120)


def plot_embedding(result, path: Path) -> None:
    """Source vs target in 2-D PCA, before and after alignment, with the proxy A-distance."""
    fig, axes = _figure(10, 4.5, ncols=2)
    for ax, (name, view) in zip(axes, result.embedding.items()):
        s, t = np.asarray(view["source"]), np.asarray(view["target"])
        ax.scatter(s[:, 0], s[:, 1], s=6, alpha=0.5, label=f"source ({len(s)} rows)")
        ax.scatter(t[:, 0], t[:, 1], s=6, alpha=0.5, label=f"target ({len(t)} rows)")
        share = view.get("explained", [None, None])
        for set_label, k in ((ax.set_xlabel, 0), (ax.set_ylabel, 1)):
            set_label(f"principal component {k + 1}" + (f" ({100 * share[k]:.0f}% of variance)"
                                                        if share[k] is not None else ""))
        ax.set_title(f"{name}: proxy A-distance {view['a_distance']:.2f}")
        ax.legend()
    fig.savefig(path, dpi=120)


def plot_confusion(result, method: str, path: Path) -> None:
    """Confusion matrix (rows: true class) of ``method`` on the test rows."""
    from sklearn.metrics import confusion_matrix

    true, pred = result.predictions[method]
    classes = result.info["classes"]
    cm = confusion_matrix(true, pred, labels=range(len(classes)))
    fig, ax = _figure(5.5, 5)
    ax.imshow(cm, cmap="Blues")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=7, color="white" if v > cm.max() / 2 else "black")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(classes)), classes, fontsize=7)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"{method} on the test rows, budget '{result.info['budgets'][-1]}', draw 0")
    fig.savefig(path, dpi=120)


def _json_safe(obj):
    """``obj`` with NaN floats as ``None`` (strict JSON has no NaN)."""
    if isinstance(obj, float) and np.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def plot_layers(result, path: Path) -> None:
    """A layer sweep: accuracy against the backbone layer, one panel per budget, one line per
    model (the ``MODEL@LAYER`` records of ``compare(..., layer_sweep=True)``)."""
    from featx.methods import split_layer

    layers = list(result.info["layers"])
    budgets = result.info["budgets"]
    fig, axes = _figure(width=max(4.0, 3.2 * len(budgets)), height=3.6, ncols=len(budgets))
    axes = np.atleast_1d(axes)
    models = list(dict.fromkeys(split_layer(m)[0] for m in result.info["methods"] if split_layer(m)[1] in layers))
    for ax, budget in zip(axes, budgets):
        for i, model in enumerate(models):
            y = []
            for layer in layers:
                row = next((s for s in result.summary if s["method"] == f"{model}@{layer}" and s["budget"] == budget
                            and s["draws"]), None)
                y.append(100 * row["accuracy"] if row else np.nan)
            ax.plot(range(len(layers)), y, marker="o", markersize=4, color=f"C{i % 10}", label=model)
        ax.set_xticks(range(len(layers)), layers, rotation=45, ha="right", fontsize=7)
        ax.set_xlabel("layer", fontsize=8)
        ax.set_title(f"budget {budget}", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test accuracy %")
    axes[0].legend(fontsize=7)
    fig.suptitle(f"{result.info['backbone']}: where in the network the transferable features are", fontsize=10)
    fig.savefig(path, dpi=120)


def write_report(result, out_dir) -> dict:
    """Write report.md, results.json, results.csv and the plots to ``out_dir``; return the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out / "report.md", "json": out / "results.json", "csv": out / "results.csv",
             "learning_curve": out / "learning_curve.png", "methods": out / "methods.png"}
    plot_learning_curve(result, paths["learning_curve"])
    plot_methods(result, paths["methods"])
    best = result.best()
    if best is not None and best["method"] in result.predictions:
        paths["confusion"] = out / "confusion.png"
        plot_confusion(result, best["method"], paths["confusion"])
    if result.embedding:
        paths["embedding"] = out / "embedding.png"
        plot_embedding(result, paths["embedding"])
    if result.info.get("layer_sweep"):
        paths["layers"] = out / "layers.png"
        plot_layers(result, paths["layers"])
    if result.selection_summary:
        paths["selection"] = out / "selection_gaps.png"
        plot_selection_gaps(result, paths["selection"])
    with open(paths["csv"], "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(result.records[0]) if result.records else ["method", "budget", "draw"])
        w.writeheader()
        w.writerows(result.records)
    paths["json"].write_text(json.dumps(_json_safe({"info": result.info, "extraction": result.extraction,
                                         "summary": result.summary, "records": result.records,
                                         "failed": result.failures, "selection": result.selection,
                                         "selection_summary": result.selection_summary,
                                         "embedding_a_distance": {k: v["a_distance"] for k,
                                                                  v in result.embedding.items()}}),
                                        indent=2, allow_nan=False))
    ext = []
    for role, e in result.extraction.items():
        status = "cache hit" if e["cache_hit"] else f"{e['computed']} embedded"
        ext.append(f"- {role}: {e['rows']} images, {e['seconds']:.1f} s, {status} (`{e['cache_file']}`)")
        for name, b in e.get("backbones", {}).items():
            ext.append(f"  - {name}: {b['seconds']:.1f} s, " + ("cache hit" if b["computed"] == 0 else
                                                                 f"{b['computed']} embedded"))
    ext = "\n".join(ext)
    size = result.info.get("input_size")
    at = f" ({size[0]} x {size[1]} px images)" if size else ""
    lines = [f"# featx compare: {result.info['backbone']}{at}", "",
             f"Training data `{result.info['roles']['train']}`; test rows: {result.info['n_test']} "
             f"({'target domain' if result.info['roles']['target'] else 'held out'}); budgets "
             f"{result.info['budgets']} labelled images per class, {result.info['repeats']} stratified draws each "
             "('all' is one draw); hyper-parameters by inner CV on the drawn rows only. "
             f"Every feature model starts with per-domain scaling `{result.info['scale']}`. "
             "Accuracy % (mean ± 95% CI half-width over draws)." + _ft_scope(result), "",
             "## Extraction", "", ext, "", "## Accuracy", "", summary_table(result), ""]
    if best is not None:
        lines += [f"Best at the largest budget: **{best['method']}** ({_fmt(best['accuracy'], best['ci95'])}).", ""]
    if result.failures:
        lines += ["## Failed", "", f"{len(result.failures)} fits raised; their cells are marked above and the other "
                  "fits are complete. A re-run tries them again.", "", failure_table(result), ""]
    lines += ["## Cost", "", "Per method at the largest budget it ran at.", "", cost_table(result), "",
              "Peak memory: tracemalloc peak during fit + predict for feature methods; process max RSS for "
              "fine-tuning." + (" embed s: the seconds this run spent embedding every role with the backbones the "
                                "row uses (all of them for @ensemble; a cache hit costs only the read)."
                                if "backbones" in result.info else "")]
    paths_info = result.info.get("code_paths")
    if paths_info:
        blas = ", ".join(f"{b['library']} {b['version']} ({b['architecture']})" for b in paths_info["blas"])
        lines += ["", f"Ran on {paths_info['cpu']} (flags: {' '.join(paths_info['cpu_flags']) or 'unknown'}); "
                      f"BLAS: {blas or 'none seen'}; torch CPU capability: {paths_info['torch_cpu_capability']}."]
    reused = sum(r.get("reused", False) for r in result.records)
    if reused:
        lines += ["", f"{reused} of {len(result.records)} fits were read from an earlier run's task log "
                      "(same features, split, method, budget and rows); their costs are those measured then."]
    selection = selection_section(result)
    if selection:
        lines += ["", *selection]
    lines += ["", "## Plots", ""]
    lines += [f"![{k}]({p.name})" for k, p in paths.items() if p.suffix == ".png"]
    if "embedding_error" in result.info:
        lines += ["", f"The source/target embedding view could not be drawn: {result.info['embedding_error']}."]
    if result.embedding:
        dist = ", ".join(f"{k} {v['a_distance']:.2f}" for k, v in result.embedding.items())
        lines += ["", f"Proxy A-distance between source and target: {dist}."]
    paths["markdown"].write_text("\n".join(lines) + "\n")
    return paths
