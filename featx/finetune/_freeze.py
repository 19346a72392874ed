"""Freezing policies: which backbone parameters are frozen at each epoch (the head always trains)."""

from __future__ import annotations

import fnmatch
import logging
import re
from dataclasses import dataclass

from torch import nn

from featx.finetune._groups import StageGroup

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FreezePolicy:
    """A named freezing policy.

    kind : ``all`` (linear probe: every backbone parameter frozen), ``none`` (full
    fine-tune), ``first`` (the first ``k`` stage groups frozen), ``last`` (only the last ``k``
    stage groups train), ``patterns`` (parameters whose name contains one of ``patterns`` or
    matches it as a glob are frozen), ``gradual`` (all frozen, then one stage group unfrozen
    every ``every`` epochs, from the top) or ``lp-ft`` (Kumar et al. 2022: frozen for
    ``every`` epochs, then everything trains).
    """

    kind: str
    k: int = 0
    patterns: tuple[str, ...] = ()
    every: int = 1

    def frozen(self, epoch: int, groups: list[StageGroup]) -> set[str]:
        """Names of the backbone parameters frozen during ``epoch`` (0-based)."""
        n = len(groups)
        if self.kind == "patterns":
            names = [p for g in groups for p in g.params]
            return {p for p in names if any(pat in p or fnmatch.fnmatchcase(p, pat) for pat in self.patterns)}
        if self.kind == "gradual":
            n_frozen = max(n - epoch // self.every, 0)
        elif self.kind == "lp-ft":
            n_frozen = n if epoch < self.every else 0
        else:
            n_frozen = {"all": n, "none": 0, "first": min(self.k, n), "last": max(n - self.k, 0)}[self.kind]
        return {p for g in groups[:n_frozen] for p in g.params}

    def changes_over_time(self) -> bool:
        """Whether the frozen set depends on the epoch."""
        return self.kind in ("gradual", "lp-ft")


_SPEC = re.compile(r"^(first|last):(\d+)$")


def parse_freeze(freeze, every: int = 1, every_name: str = "unfreeze_every") -> FreezePolicy:
    """Turn ``FineTuneClassifier(freeze=...)`` into a policy.

    Parameters
    ----------
    freeze : str or sequence of str
        ``"all"``, ``"none"``, ``"first:K"``, ``"last:K"``, ``"gradual"``, ``"lp-ft"``, or a
        list of parameter-name patterns (substrings or globs) to freeze.
    every : int, default=1
        Epochs between unfreezing steps (``gradual``) or of the linear probe (``lp-ft``).
    every_name : str
        The parameter ``every`` came from, for the error message.
    """
    if isinstance(freeze, (list, tuple)):
        if not freeze or not all(isinstance(p, str) and p for p in freeze):
            raise ValueError(f"freeze patterns must be a non-empty list of non-empty strings; got {freeze!r}.")
        return FreezePolicy("patterns", patterns=tuple(freeze))
    if not isinstance(freeze, str):
        raise ValueError(f"freeze must be a string or a list of name patterns; got {freeze!r}.")
    if freeze in ("all", "none"):
        return FreezePolicy(freeze)
    if freeze in ("gradual", "lp-ft"):
        least = 1 if freeze == "gradual" else 0  # lp-ft with 0 probe epochs: the head was warm-started
        if not isinstance(every, int) or every < least:
            raise ValueError(f"{every_name} must be an int >= {least} for freeze={freeze!r}; got {every!r}.")
        return FreezePolicy(freeze, every=every)
    m = _SPEC.match(freeze)
    if m:
        return FreezePolicy(m.group(1), k=int(m.group(2)))
    raise ValueError(
        "freeze must be 'all', 'none', 'first:K', 'last:K', 'gradual', 'lp-ft' or a list of name patterns; "
        f"got {freeze!r}."
    )


def apply_freeze(body: nn.Module, frozen: set[str], *, log_each: bool = False) -> tuple[set[str], set[str]]:
    """Set ``requires_grad`` of ``body``'s parameters; return (newly frozen, newly trainable) names.

    A frozen parameter also loses any stale ``.grad``.
    """
    newly_frozen, newly_trainable = set(), set()
    for name, p in body.named_parameters():
        want = name not in frozen
        if p.requires_grad and not want:
            newly_frozen.add(name)
            p.grad = None
        elif want and not p.requires_grad:
            newly_trainable.add(name)
        p.requires_grad_(want)
    if newly_frozen:
        if log_each:
            for name in sorted(newly_frozen):
                logger.info("frozen: %s", name)
        logger.info("froze %d parameter tensors", len(newly_frozen))
    if newly_trainable:
        logger.info("unfroze %d parameter tensors", len(newly_trainable))
    return newly_frozen, newly_trainable


def freeze_batchnorm_statistics(body: nn.Module, every: bool = False) -> int:
    """Put every BatchNorm whose parameters are all frozen (with ``every``, every BatchNorm) in
    eval mode: it normalises with its running statistics and leaves them as they are, while its
    scale and shift may still train. Return how many. Call after ``body.train()``."""
    count = 0
    for m in body.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            params = list(m.parameters(recurse=False))
            if every or (params and not any(p.requires_grad for p in params)):
                m.eval()
                count += 1
    return count
