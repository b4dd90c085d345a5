"""What the driver says when a Beam pass fails: assay's own error, or a RunnerError.

    @reported                              # on a DoFn method: assay errors cross the runner
    def process(self, element): ...

    with translated_failures("PortableRunner"):
        with beam.Pipeline(options=options) as p: ...

A DataError raised in a worker reaches the driver as text on most runners (the portable runner
and Dataflow report the worker's traceback in a RuntimeError). `reported` writes the error's
class and message into that text, in a marker; `translated_failures` finds the marker and raises
the same assay error with the original message, so `assay evaluate` exits with the same code on
every runner. Any other failure becomes a RunnerError (exit 7) naming the runner and the cause.

Beam's own in-process job service (the DirectRunner in multi_processing mode, the portable
runner with `--job_endpoint=embed`) waits forever for a worker process that died: its control
connection closes and the pending requests are never answered. `_WorkerWatch` notices the
closed connection while the pass runs and fails those requests, so a killed worker ends the
pass with a RunnerError instead of a hang. Runners with a service of their own (Dataflow,
Flink, Spark) notice lost workers themselves, and retry or fail the job.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import inspect
import json
import re
import threading
import time
from typing import Any, Callable, Iterator, List, Optional

from assay import errors
from assay.errors import AssayError, RunnerError

_MARKER = re.compile(r"ASSAY-ERROR\[([A-Za-z0-9+/=]+)\]")
_CAUSE_CHARS = 2000
# What Beam's data plane says when a worker's stream ends in the middle of a bundle.
_LOST_WORKER = "Channel closed prematurely"
# Beam's ControlConnection state once its read thread runs (BeamFnControlServicer.STARTED_STATE);
# `close()` sets 'done'.
_STARTED = "started"


def _marked(error: AssayError) -> AssayError:
    """The error again, its message followed by a marker that carries the class and message."""
    if _MARKER.search(str(error)):
        return error
    names = [c.__name__ for c in type(error).__mro__ if getattr(errors, c.__name__, None) is c]
    payload = json.dumps({"classes": names, "message": str(error)}).encode()
    text = f"{error} ASSAY-ERROR[{base64.b64encode(payload).decode('ascii')}]"
    try:
        again = type(error)(text)
    except Exception:  # a subclass with another signature
        again = AssayError(text)
    return again


def reported(method: Callable) -> Callable:
    """Marks the assay errors a DoFn/CombineFn method raises (generators included)."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            result = method(*args, **kwargs)
        except AssayError as e:
            raise _marked(e) from None
        return _reported_items(result) if inspect.isgenerator(result) else result
    return wrapper


def _reported_items(items: Iterator[Any]) -> Iterator[Any]:
    try:
        yield from items
    except AssayError as e:
        raise _marked(e) from None


def _chain(error: BaseException) -> List[BaseException]:
    seen: List[BaseException] = []
    while error is not None and error not in seen:
        seen.append(error)
        error = error.__cause__ or error.__context__
    return seen


def assay_error_in(error: BaseException) -> Optional[AssayError]:
    """The assay error a worker raised, rebuilt from the marker in `error`'s text; else None."""
    for e in _chain(error):
        found = _MARKER.search(str(e))
        if found:
            doc = json.loads(base64.b64decode(found.group(1)))
            for name in doc["classes"]:
                cls = getattr(errors, name, None)
                if isinstance(cls, type) and issubclass(cls, AssayError):
                    return cls(doc["message"])
    return None


def cause_of(error: BaseException) -> str:
    """The last exception line(s) of a failure's text (a worker's traceback, on most runners)."""
    text = str(error).strip() or type(error).__name__
    lines = text.splitlines()
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith("  File "):
            rest = lines[i + 2:] if i + 1 < len(lines) and lines[i + 1].startswith("    ") \
                else lines[i + 1:]
            text = "\n".join(rest).strip() or text
            break
    if len(text) > _CAUSE_CHARS:
        text = text[:_CAUSE_CHARS] + " ..."
    return f"{type(error).__name__}: {text}" if "Error" not in text.split(":", 1)[0] else text


class _WorkerWatch:
    """Fails the requests of an in-process Beam job service whose worker connection closed.

    It looks at the threads that read the workers' control streams (Beam's
    `ControlConnection`, thread name 'beam_control_read'); when one ends while requests to its
    worker are still pending, the worker is gone, and those requests fail at once.

    Only a connection that Beam marks started (its read thread is running: `set_input` sets
    the state after `Thread.start()` returns) and has not closed itself counts. A read thread
    that is starting is in `threading.enumerate()` with `is_alive()` False, while the runner
    already waits on the requests it pushed before the worker connected; and the runner's own
    `close()` (at the end of the pass, or after a failure while another worker still runs a
    bundle) ends the read thread with requests pending. Neither is a lost worker. Beam's
    `ControlConnection._lock` is held by `set_input` and `close` around both moments, so the
    state is read under it.
    """

    POLL_SECONDS = 0.2

    def __init__(self):
        self.lost = False
        self._stop = threading.Event()
        self._conns: dict = {}
        self._thread = threading.Thread(target=self._watch, name="assay-worker-watch",
                                        daemon=True)

    def __enter__(self) -> "_WorkerWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(self.POLL_SECONDS):
            self.check()

    def check(self) -> bool:
        """Fails the pending requests of every worker whose connection closed; True if any."""
        for t in threading.enumerate():
            target = getattr(t, "_target", None)
            if t.name == "beam_control_read" and t not in self._conns and target:
                self._conns[t] = getattr(target, "__self__", None)
        for t, conn in list(self._conns.items()):
            pending = getattr(conn, "_futures_by_id", None)
            if t.is_alive() or not pending or not hasattr(conn, "abort"):
                continue
            if not self._closed_by_worker(conn, t):
                continue
            self.lost = True
            conn.abort(RuntimeError(
                "a Beam SDK worker's connection to the runner closed in the middle of the "
                "pass: the worker process died (killed, or out of memory)"))
        return self.lost

    @staticmethod
    def _closed_by_worker(conn: Any, thread: threading.Thread) -> bool:
        """Whether `conn`'s read thread ran and ended on its own while requests are pending
        (not starting, not closed by the runner)."""
        lock = getattr(type(conn), "_lock", None)
        if lock is None or not lock.acquire(blocking=False):
            return False  # a connection is starting or closing now: look again at the next poll
        try:
            return (getattr(conn, "_state", None) == _STARTED and not thread.is_alive()
                    and bool(getattr(conn, "_futures_by_id", None)))
        finally:
            lock.release()

    def settle(self, seconds: float = 2.0) -> bool:
        """After a failure: whether a worker was lost (its connection may take a moment to
        close after the runner has failed on the broken data stream)."""
        deadline = time.monotonic() + seconds
        while not self.check() and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.lost


@contextlib.contextmanager
def translated_failures(runner: str) -> Iterator[Any]:
    """Raises a failed pass as the assay error a worker raised, or as a RunnerError."""
    watch = _WorkerWatch()
    try:
        with watch:
            yield watch
    except AssayError as e:
        original = assay_error_in(e)
        raise (original or e) from None
    except Exception as e:
        original = assay_error_in(e)
        if original is not None:
            raise original from None
        if watch.settle() or any(_LOST_WORKER in str(x) for x in _chain(e)):
            raise RunnerError(
                f"a worker of the Beam runner {runner} died in the middle of the pass (killed, "
                f"or out of memory); nothing was published. Rerun with more memory per worker "
                f"or smaller batches (batch_size).") from e
        raise RunnerError(f"the Beam pipeline failed on {runner}; nothing was published. "
                          f"Cause: {cause_of(e)}") from e
