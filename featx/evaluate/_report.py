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
    comparison's largest), fit / predict seconds and peak memory."""
    lines = ["| method | budget | fit s | predict s | peak MiB |", "|---|---:|---:|---:|---:|"]
    for method in result.info["methods"]:
        ran = [s for s in result.summary if s["method"] == method and s["draws"]]
        if ran:
            s = ran[-1]  # the summary lists budgets in ascending order
            lines.append(f"| {method} | {s['budget']} | {s['fit_s']:.2f} | {s['predict_s']:.2f} | {s['peak_mib']:.0f} "
                         "|")
    return "\n".join(lines)


def _figure(width=7.0, height=4.5, ncols=1):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, ncols)
    return fig, axes


def plot_learning_curve(result, path: Path) -> None:
    """Accuracy vs labelled images per class, one line per method with its 95% CI band."""
    from matplotlib import colormaps

    fig, ax = _figure()
    budgets = result.info["budgets"]
    palette = colormaps["tab10"].colors  # frozen and aligned methods
    strong = ("black", "tab:red", "tab:purple", "saddlebrown")  # fine-tuning: few points, large stars
    n_other = n_strong = 0
    for method in result.info["methods"]:
        rows = [s for s in result.summary if s["method"] == method and s["draws"]]
        if not rows:
            continue
        rung = rows[0]["rung"]
        x = [s["n_labelled"] / len(result.info["classes"]) for s in rows]
        y = np.array([100 * s["accuracy"] for s in rows])
        half = np.nan_to_num(np.array([100 * s["ci95"] for s in rows]))
        if rung == "finetuned":
            colour, n_strong = strong[n_strong % len(strong)], n_strong + 1
        else:
            colour, n_other = palette[n_other % len(palette)], n_other + 1
        ax.plot(x, y, _STYLE[rung], marker=_MARKER[rung], markersize=12 if rung == "finetuned" else 5,
                markeredgecolor="white" if rung == "finetuned" else colour, color=colour, label=f"{method} ({rung})")
        ax.fill_between(x, y - half, y + half, color=colour, alpha=0.12)
    ax.set_xscale("log")
    ax.set_xlabel("labelled images per class (log scale)")
    ax.set_ylabel("test accuracy %")
    ax.set_title(f"{result.info['backbone']}: accuracy vs labelled budget ({', '.join(map(str, budgets))})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncols=2)
    fig.savefig(path, dpi=120)


def plot_methods(result, path: Path) -> None:
    """Bars: each method's accuracy at the largest budget, with 95% CI error bars."""
    last = result.info["budgets"][-1]
    rows = [s for s in result.summary if s["budget"] == last and s["draws"]]
    fig, ax = _figure()
    colours = {"frozen": "tab:blue", "aligned": "tab:green", "finetuned": "tab:orange"}
    ax.bar(range(len(rows)), [100 * s["accuracy"] for s in rows],
           yerr=[np.nan_to_num(100 * s["ci95"]) for s in rows], color=[colours[s["rung"]] for s in rows], capsize=3)
    ax.set_xticks(range(len(rows)), [s["method"] for s in rows], rotation=45, ha="right")
    ax.set_ylabel("test accuracy %")
    ax.set_title(f"accuracy at budget '{last}' (blue frozen, green aligned, orange fine-tuned)")
    ax.grid(axis="y", alpha=0.3)
    fig.savefig(path, dpi=120)


def plot_embedding(result, path: Path) -> None:
    """Source vs target in 2-D PCA, before and after alignment, with the proxy A-distance."""
    fig, axes = _figure(10, 4.5, ncols=2)
    for ax, (name, view) in zip(axes, result.embedding.items()):
        s, t = np.asarray(view["source"]), np.asarray(view["target"])
        ax.scatter(s[:, 0], s[:, 1], s=6, alpha=0.5, label="source")
        ax.scatter(t[:, 0], t[:, 1], s=6, alpha=0.5, label="target")
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
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{method}, budget '{result.info['budgets'][-1]}', draw 0")
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
    ext = "\n".join(ext)
    lines = [f"# featx compare: {result.info['backbone']}", "",
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
              "fine-tuning."]
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
