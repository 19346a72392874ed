"""Progress of long work: a bar on a terminal, plain periodic lines anywhere else.

A bar redraws itself with carriage returns, which a log file, a pipe or a CI console keeps
as one endless line; there, :class:`PlainProgress` writes a line such as
``extract digits (efficientnet_lite0): 416/1797 (23%), 94.4 img/s, 15 s left`` every
``every`` seconds and once at the end.
"""

from __future__ import annotations

import sys
import time

#: Seconds between two plain progress lines.
PLAIN_EVERY_S = 10.0


def progress_bar(*, total: int, desc: str, unit: str, disable: bool = False, initial: int = 0, leave: bool = True,
                 stream=None, every: float = PLAIN_EVERY_S):
    """A progress reporter for ``total`` steps of ``unit`` named ``desc``.

    Parameters
    ----------
    total, initial : int
        Steps in all, and already done (a resumed run).
    desc, unit : str
        What is going on (name the model and the data), and what a step is.
    disable : bool, default=False
        Report nothing.
    leave : bool, default=True
        Keep the finished bar on a terminal.
    stream : file, optional
        Where to write (default: ``sys.stderr``). A terminal gets a tqdm bar; anything else
        plain lines.
    every : float
        Seconds between plain lines.

    Returns
    -------
    tqdm or PlainProgress
        Either takes ``update(n)``, ``set_postfix(**values)`` and ``close()`` and is a context manager.
    """
    stream = sys.stderr if stream is None else stream
    if not disable and _is_terminal(stream):
        from tqdm.auto import tqdm

        return tqdm(total=total, initial=initial, desc=desc, unit=unit, leave=leave, file=stream)
    return PlainProgress(total=total, desc=desc, unit=unit, initial=initial, stream=stream, every=every,
                         disable=disable)


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class PlainProgress:
    """Progress as whole lines: one every ``every`` seconds while work goes on, and one at the end.

    Parameters
    ----------
    total, initial : int
        Steps in all, and already done.
    desc, unit : str
        What is going on, and what a step is.
    stream : file
        Where the lines go.
    every : float
        Seconds between two lines.
    disable : bool
        Write nothing.
    clock : callable, default=time.monotonic
        The time source (a test passes its own).
    """

    def __init__(self, *, total, desc, unit, initial=0, stream, every=PLAIN_EVERY_S, disable=False,
                 clock=time.monotonic):
        self.total, self.desc, self.unit, self.n = int(total), desc, unit, int(initial)
        self.stream, self.every, self.disable, self.clock = stream, every, disable, clock
        self.start = self.last = clock()
        self.initial, self.postfix, self.closed, self.written = int(initial), "", False, None

    def update(self, n: int = 1) -> None:
        """Count ``n`` more steps; write a line when ``every`` seconds have passed since the last."""
        self.n += n
        if self.clock() - self.last >= self.every:
            self._write()

    def set_postfix(self, **values) -> None:
        """Values appended to the next line (``loss=0.31``)."""
        self.postfix = ", ".join(f"{k} {v}" for k, v in values.items())

    def close(self) -> None:
        """Write the final line (once, and not when the last line already said it)."""
        if not self.closed:
            self.closed = True
            if (self.n, self.postfix) != self.written:
                self._write()

    def line(self) -> str:
        """The line that would be written now."""
        elapsed = max(self.clock() - self.start, 1e-9)
        rate = (self.n - self.initial) / elapsed
        share = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        text = f"{self.desc}: {self.n}/{self.total}{share}, {rate:.1f} {self.unit}/s"
        if 0 < rate and self.n < self.total:
            text += f", {(self.total - self.n) / rate:.0f} s left"
        return f"{text}, {self.postfix}" if self.postfix else text

    def _write(self) -> None:
        self.last, self.written = self.clock(), (self.n, self.postfix)
        if self.disable:
            return
        try:
            print(self.line(), file=self.stream, flush=True)
        except (OSError, ValueError):  # the stream went away: progress is not worth a failure
            self.disable = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
