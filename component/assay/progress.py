"""Progress of a pass, for the progress bar of the command line: examples read, slices done.

The engines call `examples_read(n)` and `slices_done(n)` as they go; nothing happens unless a
`ProgressBar` is running (the CLI starts one when stderr is a terminal). The counts live in
shared memory created before the local engine forks its workers, so a forked worker's counts
reach the bar as a thread's do; Beam's in-process DirectRunner counts too, while workers in
other processes (multi_processing, remote runners) leave the bar at its coarse stage: the
elapsed time of the running pass.

Example:
    >>> examples_read(100)  # no bar running: a no-op
"""

from __future__ import annotations

import multiprocessing
import threading
from typing import Any, Optional, TextIO

# [examples read, slices done] while a bar runs (shared with forked workers); else None.
_COUNTS: Optional[Any] = None


def examples_read(n: int) -> None:
    """Counts `n` more examples read by the pass (no-op without a running bar)."""
    counts = _COUNTS
    if counts is not None:
        with counts.get_lock():
            counts[0] += int(n)


def slices_done(n: int) -> None:
    """Counts `n` more slices whose metrics are computed (no-op without a running bar)."""
    counts = _COUNTS
    if counts is not None:
        with counts.get_lock():
            counts[1] += int(n)


def _width(stream: TextIO) -> dict:
    """tqdm's width arguments: the terminal's, or 80 columns where a terminal states none (a
    pseudo-terminal of 0 x 0, where tqdm would draw nothing)."""
    import os

    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        columns = 0
    return {"dynamic_ncols": True} if columns > 0 else {"ncols": 80, "nrows": 20}


class ProgressBar:
    """A tqdm bar on `stream` of the examples read (of `total` when known) and slices done,
    refreshed by a thread from the shared counts; a context manager. Nothing is drawn until
    the first refresh, and the bar is cleared when it ends, leaving the summary alone.

    Args:
      stream: where to draw (the CLI's stderr).
      total: the examples to read, when known cheaply (Parquet metadata); else None.
      stage: the words before the counts, e.g. "evaluating (beam engine)".
      interval: seconds between refreshes.
    """

    def __init__(self, stream: TextIO, total: Optional[int] = None, stage: str = "evaluating",
                 interval: float = 0.2):
        self.stream, self.total, self.stage, self.interval = stream, total, stage, interval
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._bar = None
        self.final = (0, 0)  # (examples read, slices done) when the bar ended

    def __enter__(self) -> "ProgressBar":
        from tqdm import tqdm

        global _COUNTS
        _COUNTS = multiprocessing.Array("q", 2)  # shared memory: forked workers count too
        self._bar = tqdm(total=self.total, file=self.stream, desc=f"assay: {self.stage}",
                         unit=" examples", unit_scale=True, leave=False, mininterval=0,
                         **_width(self.stream))
        self._thread = threading.Thread(target=self._run, name="assay-progress", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.refresh()

    def refresh(self) -> None:
        """Draws the counts as they are now."""
        counts = _COUNTS
        if counts is None or self._bar is None:
            return
        examples, slices = counts[0], counts[1]
        self._bar.n = examples
        if slices:
            self._bar.set_postfix_str(f"{slices} slices done", refresh=False)
        self._bar.refresh()

    def __exit__(self, *exc) -> None:
        global _COUNTS
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.refresh()
        counts = _COUNTS
        self.final = (counts[0], counts[1]) if counts is not None else (0, 0)
        _COUNTS = None
        if self._bar is not None:
            self._bar.close()


__all__ = ["ProgressBar", "examples_read", "slices_done"]
