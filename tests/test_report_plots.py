"""The report's plots a person can read: every axis labelled, values on the bars, the axis zoomed
to the values, overlapping series told apart, titles and legends naming only what is drawn."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from featx.data import make_shifted_domains
from featx.evaluate import compare_features, write_report
from featx.evaluate._report import dodged, zoomed_limits  # private: the plots' pure helpers
from featx.features import FeatureSet


@pytest.mark.parametrize("low, high", [(93.0, 95.0), (2.0, 60.0), (99.5, 100.0), (0.0, 0.0), (40.0, 41.0)])
def test_zoomed_limits_hold_the_data_inside_zero_to_hundred_with_a_margin(low, high):
    lo, hi = zoomed_limits(low, high)
    assert 0.0 <= lo <= low and high <= hi <= 100.0
    assert (low - lo >= 0.99 or lo == 0.0) and (hi - high >= 0.99 or hi == 100.0)
    assert hi - lo <= max(2.0, 1.3 * (high - low) + 2.0)  # zoomed: not the whole 0-100 for a narrow span


def test_dodged_series_keep_their_order_and_stay_near_the_budget():
    x = [1.0, 5.0, 100.0]
    moved = [dodged(x, i, 4) for i in range(4)]
    for a, b in zip(moved, moved[1:]):
        assert (a < b).all()  # equal curves no longer lie on one another
    assert all(np.abs(np.log10(m / x)).max() <= 0.02 + 1e-12 for m in moved)
    np.testing.assert_array_equal(dodged(x, 0, 1), x)


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    """Every figure ``write_report`` saves for a comparison of frozen and aligned models."""
    X, y, sd, y_target = make_shifted_domains(60, 60, 6, 2, class_sep=3.0, random_state=0)
    src, tgt = sd > 0, sd < 0

    def fs(rows, labels, name):
        n = int(rows.sum())
        return FeatureSet(X[rows].astype(np.float32), labels, np.array([f"{name}{i}" for i in range(n)]),
                          np.array([name] * n), ("a", "b"))

    result = compare_features(fs(src, y[src], "s"), target=fs(tgt, y_target, "t"), budgets=[2, "all"], repeats=2,
                              methods=["ncm", "logreg", "coral"], progress=False)
    saved = []
    real = Figure.savefig

    def keep(fig, path, *args, **kwargs):
        saved.append((str(path), fig))
        return real(fig, path, *args, **kwargs)

    mp = pytest.MonkeyPatch()
    mp.setattr(Figure, "savefig", keep)
    try:
        write_report(result, tmp_path_factory.mktemp("report"))
    finally:
        mp.undo()
    return result, {path.rsplit("/", 1)[-1]: fig for path, fig in saved}


def _plot_axes(fig):
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]


def test_every_plot_labels_both_axes_and_has_a_title(figures):
    _, figs = figures
    assert {"learning_curve.png", "methods.png", "embedding.png"} <= set(figs)
    for name, fig in figs.items():
        for ax in _plot_axes(fig):
            assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title(), name


def test_the_bars_carry_their_values_on_an_axis_zoomed_to_them(figures):
    result, figs = figures
    ax = figs["methods.png"].axes[0]
    rows = [s for s in result.summary if s["budget"] == "all" and s["draws"]]
    values = sorted(t.get_text() for t in ax.texts)
    assert values == sorted(f"{100 * s['accuracy']:.1f}" for s in rows)
    low, high = ax.get_ylim()
    lowest = min(100 * s["accuracy"] for s in rows)
    assert low <= lowest and (low > 0) == ("axis from" in ax.get_ylabel())
    assert high - low < 100 or low == 0


def test_titles_and_legends_name_only_the_rungs_drawn(figures):
    _, figs = figures
    ax = figs["methods.png"].axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["frozen", "aligned"]
    assert "fine-tuned" not in ax.get_title() and "orange" not in ax.get_title()


def test_curves_of_equal_accuracy_are_drawn_apart(figures):
    _, figs = figures
    ax = figs["learning_curve.png"].axes[0]
    lines = [line for line in ax.get_lines() if line.get_label()[:1] != "_"]
    assert len(lines) == 3
    xs = [tuple(line.get_xdata()) for line in lines]
    markers = [line.get_marker() for line in lines]
    colours = [line.get_color() for line in lines]
    assert len(set(xs)) == 3 and len(set(zip(markers, colours))) == 3


def test_the_embedding_axes_say_which_components_and_how_much_variance(figures):
    _, figs = figures
    for ax in figs["embedding.png"].axes:
        assert ax.get_xlabel().startswith("principal component 1 (") and "% of variance)" in ax.get_xlabel()
        assert ax.get_ylabel().startswith("principal component 2 (")
