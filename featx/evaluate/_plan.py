"""What a comparison runs (:class:`Plan`): methods and their rungs, budgets and draws, scaling,
seeds, fine-tuning's scope and the validators, checked before any work."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from featx.methods import SCALES, canonical_name, default_methods, needs_target, rung_of, sweep_layers
from featx.protocol import ALL, parse_budgets


@dataclass(frozen=True)
class Plan:
    """The protocol of one comparison.

    Attributes
    ----------
    methods : list of str
        Canonical registry names.
    rungs : dict
        Method -> ``"frozen"``, ``"aligned"`` or ``"finetuned"`` (:func:`featx.methods.rung_of`).
    budgets : list
        Labelled images per class (``"all"`` last when asked).
    repeats : int
        Draws per budget.
    scale : str
    random_state : int
    ft_epochs : int or None
    ft_budgets : list
        The budgets fine-tuning runs at.
    ft_repeats : int
        The draws fine-tuned per budget.
    select : list of str or None
        Validators choosing each configuration without target labels.
    select_finetune : bool
        Whether they also choose fine-tuning's learning rate.
    """

    methods: list
    rungs: dict
    budgets: list
    repeats: int
    scale: str
    random_state: int
    ft_epochs: int | None = None
    ft_budgets: list = ()
    ft_repeats: int = 0
    select: list | None = None
    select_finetune: bool = False

    @classmethod
    def check(cls, methods, budgets, repeats, scale, random_state, *, with_target, images, ft_epochs=None,
              ft_budgets=None, ft_repeats=None, select=None, select_finetune=False) -> "Plan":
        """The plan of these arguments, or a ``ValueError`` that says which is wrong.

        ``images``: whether the data are images (fine-tuning possible).
        """
        budgets = parse_budgets(budgets)
        if not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 1:
            raise ValueError(f"repeats must be a positive int; got {repeats!r}.")
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {list(SCALES)}; got {scale!r}.")
        methods = [canonical_name(m) for m in methods] if methods is not None else default_methods(with_target, images)
        if len(set(methods)) < len(methods):
            raise ValueError(f"Methods name the same model twice: {methods}.")
        rungs = {m: rung_of(m) for m in methods}
        aligned = [m for m in methods if needs_target(m)]
        if not with_target and aligned:
            raise ValueError(f"Methods {aligned} train on unlabelled target images (alignment, or fine-tuning with a "
                             "domain-adaptation objective) and need a target domain; pass target=... (--target).")
        tuned = [m for m, k in rungs.items() if k == "finetuned"]
        if not images and tuned:
            raise ValueError(f"Fine-tuning methods {tuned} need images; use compare() on image data, not "
                             "compare_features().")
        ft_budgets, ft_repeats = _check_ft_scope(ft_budgets, ft_repeats, budgets, repeats)
        return cls(methods, rungs, budgets, repeats, scale, random_state, ft_epochs, ft_budgets, ft_repeats,
                   _check_select(select, with_target, select_finetune), bool(select_finetune))

    def swept(self, layers, ensemble: bool = False) -> "Plan":
        """The plan with every frozen and aligned method fitted on each of ``layers`` on its own
        (:func:`featx.methods.sweep_layers`), and with ``ensemble`` once more on all of them,
        one model per layer with the probabilities averaged."""
        methods = sweep_layers(self.methods, layers, ensemble)
        return replace(self, methods=methods, rungs={m: rung_of(m) for m in methods})

    def check_budgets(self, y, pool, classes, *, held_out: bool) -> None:
        """Refuse budgets above what the smallest class of the training pool holds: such a
        "budget" would train on fewer images of that class than its label says (and, at or
        above the largest class, repeat one draw ``repeats`` times with a spread of 0).

        Parameters
        ----------
        y : ndarray of int
            Training labels; ``pool`` indexes the labelled rows budgets draw from.
        classes : sequence of str
            Class names, for the message.
        held_out : bool
            Whether test rows were held out of the training data (said in the message).
        """
        counts = np.bincount(np.asarray(y)[pool], minlength=len(classes))
        present = np.flatnonzero(counts)
        smallest = present[np.argmin(counts[present])]
        over = [b for b in self.budgets if b != ALL and b > counts[smallest]]
        if over:
            after = " after the test rows are held out" if held_out else ""
            raise ValueError(
                f"Budget(s) {over} per class exceed the smallest training class: {classes[smallest]!r} has "
                f"{counts[smallest]} labelled image(s){after}; expected budgets up to {counts[smallest]}, or 'all'.")

    def describe(self) -> str:
        """What the plan will run, in one sentence: the feature fits and the fine-tuning runs
        (said before a comparison starts: fine-tuning costs minutes per run on a CPU)."""
        draws = {b: 1 if b == ALL else self.repeats for b in self.budgets}
        feature = [m for m in self.methods if self.rungs[m] != "finetuned"]
        tuned = [m for m in self.methods if self.rungs[m] == "finetuned"]
        parts = []
        if feature:
            n_draws = sum(draws.values())
            parts.append(f"{_count(len(feature) * n_draws, 'feature fit')} ({_count(len(feature), 'model')} x "
                         f"{_count(n_draws, 'draw')} over budgets {self.budgets})")
        if tuned:
            runs = len(tuned) * sum(min(draws[b], self.ft_repeats) for b in self.ft_budgets)
            parts.append(f"{_count(runs, 'fine-tuning run')} of {_count(self.ft_epochs, 'epoch')} "
                         f"({', '.join(tuned)} at budgets {self.ft_budgets}; choose fewer with methods/ft_budgets/"
                         "ft_repeats, --methods/--ft-budgets/--ft-repeats on the command line)")
        text = " and ".join(parts)
        if self.select:
            text += (f"; then the validators {self.select} choose each feature model's configuration from its grid "
                     "(one fit per configuration and fold)")
        return text

    @property
    def finetunes(self) -> bool:
        """Whether some method fine-tunes the backbone."""
        return "finetuned" in self.rungs.values()

    def info(self) -> dict:
        """The plan as :attr:`Comparison.info` reports it."""
        return {"budgets": self.budgets, "repeats": self.repeats, "scale": self.scale,
                "random_state": self.random_state, "methods": self.methods, "rungs": self.rungs,
                "ft_epochs": self.ft_epochs, "ft_budgets": list(self.ft_budgets), "ft_repeats": self.ft_repeats,
                "select": self.select, "select_finetune": self.select_finetune}


def _count(n: int, thing: str) -> str:
    """``1 draw``, ``2 draws``."""
    return f"{n} {thing}" + ("" if n == 1 else "s")


def _check_select(select, with_target, select_finetune=False) -> list | None:
    if select is None:
        if select_finetune:
            raise ValueError("select_finetune=True chooses fine-tuning's learning rate with the validators of "
                             "select; pass select=... (--select) too.")
        return None
    from featx.select import check_validators

    names = check_validators(select)
    if not with_target:
        raise ValueError(f"select={select!r} chooses configurations for a target domain; pass target=... (--target).")
    return names


def _check_ft_scope(ft_budgets, ft_repeats, budgets, repeats) -> tuple[list, int]:
    """``(budgets, draws)`` fine-tuning runs at, checked against the comparison's own."""
    chosen = budgets if ft_budgets is None else parse_budgets(ft_budgets)
    stray = [b for b in chosen if b not in budgets]
    if stray:
        raise ValueError(f"ft_budgets must be some of the budgets {budgets}; got {stray} besides.")
    n = repeats if ft_repeats is None else ft_repeats
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= repeats:
        raise ValueError(f"ft_repeats must be an int from 1 to repeats={repeats}; got {ft_repeats!r}.")
    return list(chosen), n
