"""Publishing a results directory so that no reader ever sees half of one, on any storage.

A run writes every file under a staging location of its own, named by its run id
(`new_run_id`: start time, host, process, random), then publishes it in one atomic step.

Local disk (a rename exists):

    .OUTPUT.assay-RUN/        the staging directory, beside OUTPUT
    OUTPUT/                   after commit(): the staging directory, swapped into place with
                              one renameat2(RENAME_EXCHANGE); the old directory is then removed

Object stores (gs://, s3://, every other Beam scheme; no rename, one object PUT is atomic):

    OUTPUT/.runs/RUN/         the generation this run writes (assay_metrics.json, ...,
                              blessing/, report.html; _RUN.json says who writes it)
    OUTPUT/_ASSAY_COMMIT.json written last, in one PUT: {"format": 1, "run": RUN,
                              "files": {name: size}, "committed": time}; readers follow it

A failed or killed run leaves the previous result as it was: locally the staging directory is
never swapped in; remotely the commit object still names the previous generation, which is
deleted only after the new commit object is written. Staging of dead runs is removed by a later
run (`remove_stale`): a run of this host as soon as its process is gone, a run of another host
once it is older than STALE_AFTER_S; the committed generation never.

Example:
    >>> with StagedOutput("out") as staged:                          # doctest: +SKIP
    ...     staged.write_json("assay_metrics.json", {"version": 1, "records": []})
    ...     staged.commit()
"""

from __future__ import annotations

import ctypes
import datetime
import errno
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import time
import uuid
from typing import Any, List, Optional, Tuple

from assay.data import files
from assay.errors import StorageError
from assay.results.result import (BLESSING_DIR, COMMIT_FILE, COMMIT_FORMAT, RESULT_FILES,
                                  RUNS_DIR, dumps, read_commit, staged_runs, staging_name)

SCRATCH_DIR = "_scratch"   # the engine's intermediate files, inside the staging
RUN_FILE = "_RUN.json"     # who writes a remote generation (also the first write: a probe)
STALE_AFTER_S = 24 * 3600  # staging of another host's run is debris only after this long
_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]
_RUN_ID = re.compile(r"^(\d{8}T\d{6}Z)-([0-9a-f]{6})-(\d+)-([0-9a-f]{6})$")
_log = logging.getLogger(__name__)


def new_run_id(now: Optional[float] = None) -> str:
    """A unique run id: UTC start time, this host (hashed), this process, random.

    Example:
        >>> parse_run_id(new_run_id(0.0))[0]
        0.0
    """
    stamp = datetime.datetime.fromtimestamp(time.time() if now is None else now,
                                            datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def parse_run_id(run: str) -> Optional[Tuple[float, str, int]]:
    """(start time in seconds since the epoch, host hash, pid), or None for another name."""
    m = _RUN_ID.match(run)
    if not m:
        return None
    started = datetime.datetime.strptime(m.group(1), "%Y%m%dT%H%M%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    return started, m.group(2), int(m.group(3))


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def is_stale(run: str, committed: Optional[str], own: Optional[str] = None,
             now: Optional[float] = None) -> bool:
    """True when the staging of `run` is debris that a later run may delete.

    Never the committed generation, this run's own, or a name that is not a run id. A run of
    this host is debris once its process is gone (at once), never while it runs; a run of
    another host only after STALE_AFTER_S (it may still be running there).
    """
    parsed = parse_run_id(run)
    if parsed is None or run in (committed, own):
        return False
    started, host, pid = parsed
    if host == _HOST:  # this machine knows: debris exactly when its process is gone
        return not _process_alive(pid)
    return (time.time() if now is None else now) - started > STALE_AFTER_S


class StagedOutput:
    """A staging location for the results of one run, published as `output` by commit().

    Leaving the `with` block without commit() removes the staging (scratch included).

    Attributes:
      output: the results directory (absolute when local).
      run: this run's id.
      path: where to write the result's files (the staging directory, or remotely the
        generation OUTPUT/.runs/RUN).
      scratch: where the engine may put intermediate files (under `path`; removed before the
        result is published, and with the staging when the run fails).
      location: where the result's files are once published (OUTPUT locally; the generation
        remotely).
    """

    def __init__(self, output: str):
        output = os.fspath(output)
        self.remote = files.is_remote(output)
        self.run = new_run_id()
        self._done = False
        if self.remote:
            self.output = output.rstrip("/")
            self.path = files.join(self.output, RUNS_DIR, self.run)
            self.location = self.path
            self._start_remote()
        else:
            self.output = os.path.abspath(output)
            parent = os.path.dirname(self.output)
            self.path = staging_name(self.output, self.run)
            self.location = self.output
            self._start_local(parent)
        self.scratch = files.join(self.path, SCRATCH_DIR)

    def _start_local(self, parent: str) -> None:
        if os.path.exists(self.output) and not os.path.isdir(self.output):
            raise StorageError(f"cannot write the results to {self.output}: it is an existing "
                               f"file; give a directory path (new or existing)")
        try:
            os.makedirs(parent, exist_ok=True)
            os.mkdir(self.path)
        except OSError as e:
            raise StorageError(f"cannot write the results to {self.output}: {e.strerror or e} "
                               f"({e.filename}); expected a directory this process may "
                               f"write in") from e

    def _start_remote(self) -> None:
        has_key = "/" in self.output.split("://", 1)[1]  # not a bucket's root
        if has_key and files.filesystems().exists(self.output):
            raise StorageError(f"cannot write the results to {self.output}: an object (a file) "
                               f"has that name; give a prefix (directory) for the results")
        started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        try:  # the first write: a bucket that is missing or read-only fails here, before the pass
            files.write_text(files.join(self.path, RUN_FILE), json.dumps(
                {"run": self.run, "host": socket.gethostname(), "pid": os.getpid(),
                 "started": started}))
        except StorageError as e:
            raise StorageError(f"cannot write the results to {self.output}: {e}") from e

    def write_json(self, name: str, obj: Any) -> None:
        """Writes `obj` as JSON (`assay.results.result.dumps`) to `name` inside the staging."""
        self.write_text(name, dumps(obj))

    def write_text(self, name: str, text: str) -> None:
        """Writes `text` to `name` ('/'-separated, relative) inside the staging."""
        files.write_text(files.join(self.path, *name.split("/")), text)

    def write_bytes(self, name: str, data: bytes) -> None:
        """Writes `data` to `name` ('/'-separated, relative) inside the staging."""
        files.write_bytes(files.join(self.path, *name.split("/")), data)

    def commit(self) -> None:
        """Publishes the staged result as `output` (the previous one is replaced whole)."""
        if self.remote:
            self._commit_remote()
        else:
            files.remove_tree(self.scratch)
            self._commit_local()
        self._done = True

    def _commit_local(self) -> None:
        try:
            if os.path.isdir(self.output):
                old = self.path
                if not _exchange(self.path, self.output):
                    # No atomic swap on this filesystem: two renames, a moment without OUTPUT.
                    old = staging_name(self.output, self.run + "-old")
                    os.rename(self.output, old)
                    os.rename(self.path, self.output)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.rename(self.path, self.output)
        except OSError as e:
            raise StorageError(f"cannot publish the results as {self.output}: "
                               f"{e.strerror or e}; they stay staged in {self.path}") from e
        self._done = True
        _best_effort(remove_stale, self.output, self.run)

    def _commit_remote(self) -> None:
        # One listing of OUTPUT serves the whole commit: each call to a store costs a round
        # trip (and Beam's S3 filesystem builds a client per call).
        listed = files.file_sizes(self.output)
        mine = f"{RUNS_DIR}/{self.run}/"
        files.remove_objects([files.join(self.output, n) for n in listed
                              if n.startswith(mine + SCRATCH_DIR + "/")])
        sizes = {n[len(mine):]: size for n, size in listed.items()
                 if n.startswith(mine) and not n[len(mine):].startswith("_")}
        previous = _best_effort(read_commit, self.output) or {}
        committed = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        files.write_text(files.join(self.output, COMMIT_FILE), json.dumps(
            {"format": COMMIT_FORMAT, "run": self.run, "files": dict(sorted(sizes.items())),
             "committed": committed}, indent=1))
        self._done = True
        # From here on the new result is what readers see; what follows is tidying up, in one
        # batched delete: the previous generation, the staging of dead runs, and the files of a
        # result copied up by hand (gsutil cp -r), never read once a commit object exists.
        runs = {n.split("/")[1] for n in listed
                if n.startswith(RUNS_DIR + "/") and n.count("/") > 1}
        gone = {r for r in runs if r == previous.get("run") or is_stale(r, self.run)} - {self.run}
        flat = set(RESULT_FILES) | {f"{BLESSING_DIR}/{m}" for m in ("BLESSED", "NOT_BLESSED")}
        _best_effort(files.remove_objects, [
            files.join(self.output, n) for n in sorted(listed)
            if n in flat or (n.startswith(RUNS_DIR + "/") and n.split("/")[1] in gone)])

    def __enter__(self) -> "StagedOutput":
        return self

    def __exit__(self, *exc) -> None:
        if not self._done:
            # Must not hide the error that ended the run: a failed removal is only logged
            # (a later run removes the debris).
            _best_effort(files.remove_tree, self.path)


def _exchange(a: str, b: str) -> bool:
    """Swaps two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    fn = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if fn is None:
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), b)


def remove_stale(output: str, own: Optional[str] = None) -> List[str]:
    """Removes the staging of dead runs for `output` (`is_stale`); returns their run ids."""
    committed = (read_commit(output) or {}).get("run") if files.is_remote(output) else None
    removed = []
    for run in staged_runs(output):
        if is_stale(run, committed, own):
            if files.is_remote(output):
                files.remove_tree(files.join(output.rstrip("/"), RUNS_DIR, run))
            else:
                shutil.rmtree(staging_name(output, run), ignore_errors=True)
            removed.append(run)
    return removed


def _best_effort(fn, *args) -> Any:
    """fn(*args); a StorageError is logged (debris for a later run), not raised."""
    try:
        return fn(*args)
    except (StorageError, OSError) as e:
        _log.warning("assay: %s (left for a later run to tidy up)", e)
        return None


__all__ = ["RUN_FILE", "SCRATCH_DIR", "STALE_AFTER_S", "StagedOutput", "is_stale",
           "new_run_id", "parse_run_id", "remove_stale"]
