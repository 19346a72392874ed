"""The cache's locks and faults: a write lock that says what it waits for and explains a cache
directory it cannot write, a damaged file moved aside, and Ctrl-C held off while a batch is
being committed.

Reading never locks: a complete file is read without touching its lock (so a cache on a
read-only directory or medium serves every row it holds); only filling rows takes the lock.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import signal
import threading
import time
from pathlib import Path

logger = logging.getLogger(__name__)

#: Seconds to wait on another process's lock before saying so.
WAIT_NOTICE_S = 2.0


@contextlib.contextmanager
def write_lock(path: Path, *, notice_after: float = WAIT_NOTICE_S):
    """Hold ``<path>.lock`` while filling the cache file ``path``.

    A process that has to wait logs (at WARNING) which file it waits for and why, once, after
    ``notice_after`` seconds. A directory that cannot be written (permissions, a read-only
    medium) raises ``PermissionError`` saying which folder and what to pass instead.
    """
    from filelock import FileLock, Timeout

    lock = FileLock(str(path) + ".lock")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            lock.acquire(timeout=notice_after)
        except Timeout:
            logger.warning("waiting for %s: another featx process is filling this cache file; it goes on when "
                           "that one finishes or stops", lock.lock_file)
            start = time.monotonic()
            lock.acquire()
            logger.info("got %s after %.1f s", lock.lock_file, time.monotonic() - start)
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        raise PermissionError(
            f"Cannot write the feature cache under {str(path.parent)!r} ({exc.strerror}); rows still have to be "
            "computed and stored there. Pass a writable folder as --cache-dir (cache_dir=) or set FEATX_CACHE_DIR."
        ) from exc
    try:
        yield
    finally:
        lock.release()


def set_aside(path: Path, problems: list[str]) -> Path:
    """Move a damaged cache file out of the way (renamed, never deleted) and warn, naming it.

    The file keeps the ``.h5`` suffix beside the new one, so its sound blocks still give their
    rows (:func:`featx.extract.find_rows` checks each block's checksum and passes over the failing
    ones), and ``featx cache ls``/``verify`` keep showing it until it is removed.
    """
    aside = path.with_name(f"{path.stem}.damaged-{time.strftime('%Y%m%dT%H%M%S')}{path.suffix}")
    n = 1
    while aside.exists():
        n += 1
        aside = aside.with_name(f"{path.stem}.damaged-{time.strftime('%Y%m%dT%H%M%S')}-{n}{path.suffix}")
    path.rename(aside)
    logger.warning("cache file %s is damaged (%s); moved aside to %s and its rows are computed again. Remove it "
                   "with `featx cache rm %s` when you no longer need it.", path, "; ".join(problems[:3]), aside, aside)
    return aside


@contextlib.contextmanager
def uninterrupted():
    """Hold off SIGINT (Ctrl-C) until the block ends, then raise ``KeyboardInterrupt``: a batch
    being committed to the cache is always committed whole. Outside the main thread, where
    signal handlers cannot be set, the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught and previous is not signal.SIG_IGN:
        if callable(previous):
            previous(signal.SIGINT, None)  # Python's own handler raises KeyboardInterrupt
        else:
            raise KeyboardInterrupt
