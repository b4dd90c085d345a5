"""Faults while writing results (issue 12, "Faults and fuzzing"): a full disk, and SIGKILL at
random moments during many concurrent runs into one output directory.

Both run the real command line (`python -m assay.cli evaluate`) in subprocesses on a small local
Parquet file whose prediction column is the candidate. The property: the output directory is
always either the previous complete result or a new complete one; a failure is one clear assay
error (a StorageError naming the path and the cause, exit 6); no staging debris is left behind
once a later run has finished.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import file_tree
from assay.errors import EXIT_STORAGE, InputNotFound
from assay.results.result import load_result

ROOT = Path(__file__).resolve().parent.parent
ENV = dict(os.environ, PYTHONPATH=str(ROOT / "component"))


def _config(min_auc: float, big: bool = False) -> dict:
    """A run's config; its auc minimum identifies the run in what it published."""
    return {"label": "label", "models": {"candidate": {"prediction": "p"}},
            "slices": [[], ["store"]] if big else [[], ["region"]], "min_slice_size": 1,
            "thresholds": [{"metric": "auc", "min": min_auc}]}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """4,000 rows: a label, a prediction column, 2,000 stores (a large result) and 4 regions."""
    d = tmp_path_factory.mktemp("faults")
    rng = np.random.default_rng(12)
    n = 4000
    label = rng.integers(0, 2, n)
    table = pa.table({"label": label.astype("int64"),
                      "p": np.clip(0.3 * label + 0.7 * rng.random(n), 0.0, 1.0),
                      "store": rng.integers(0, 2000, n).astype("int64"),
                      "region": rng.integers(0, 4, n).astype("int64")})
    pq.write_table(table, d / "data.parquet")
    return d


def _command(data: Path, config: dict, output: Path, name: str) -> list:
    path = data / f"{name}.json"
    path.write_text(json.dumps(config))
    return [sys.executable, "-m", "assay.cli", "evaluate", "--config", str(path), "--examples",
            str(data / "data.parquet"), "--output", str(output), "--engine", "local",
            "--workers", "1"]


def _debris(output: Path) -> list:
    return sorted(n for n in os.listdir(output.parent) if n.startswith(f".{output.name}.assay-"))


# --- disk full ---------------------------------------------------------------------------------

@contextlib.contextmanager
def _small_space(directory: Path, size: str):
    """A tmpfs of `size` mounted on `directory`, or None (and nothing mounted) where this
    process may not mount one; the caller then limits file sizes instead."""
    directory.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                              str(directory)], capture_output=True).returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", str(directory)], check=True)


def _limit_file_size(limit: int):
    def apply():  # in the child: writes past `limit` bytes fail with EFBIG, not a signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@pytest.mark.parametrize("size, limit", [("400k", 150_000), ("1200k", 1_000_000)])
def test_a_full_disk_is_a_storage_error_and_the_previous_result_stays(data, tmp_path, size,
                                                                       limit):
    """The new result (about 5 MB: 2,000 slices with their plots and report, and TFMA's files)
    does not fit; the previous one (a few slices, about 300 kB) does. 400k fails on
    assay_metrics.json, 1200k on a
    later file: each a StorageError naming the staged file and the cause, exit 6, the previous
    result byte for byte, and nothing staged left beside it."""
    space = tmp_path / "space"
    out = space / "eval"
    with _small_space(space, size) as mounted:
        first = subprocess.run(_command(data, _config(0.5), out, "small"), env=ENV,
                               capture_output=True, text=True, timeout=120)
        assert first.returncode == 0, first.stderr
        before = file_tree.contents(out)
        run = subprocess.run(_command(data, _config(0.5, big=True), out, "big"), env=ENV,
                             capture_output=True, text=True, timeout=120,
                             preexec_fn=None if mounted else _limit_file_size(limit))
        cause = "No space left on device" if mounted else "File too large"
        assert run.returncode == EXIT_STORAGE, run.stderr
        err = run.stderr.strip()
        assert "Traceback" not in run.stderr and len(err.splitlines()) == 1, err
        assert err.startswith(f"assay: error: cannot write {space}/.eval.assay-"), err
        assert err.endswith(f": {cause}"), err
        assert file_tree.contents(out) == before
        assert _debris(out) == [] and os.listdir(space) == ["eval"]
        assert load_result(str(out)).config["thresholds"] == [{"metric": "auc", "min": 0.5}]


# --- SIGKILL during concurrent runs ------------------------------------------------------------

RUNS, CONCURRENT, SEED = 10, 3, 20261201
SWAPPED_READS = [0]  # reads retried because a run published meanwhile (a figure)


def _check_output(out: Path, reference, minimums: dict, completed: bool) -> str:
    """Checks that `out` holds one complete result of a run started so far, read while others
    may publish: a read is kept only if the directory was not swapped meanwhile (a reader's
    race, not the writers'). Returns the run's name, or '' when there is no result yet."""
    for _ in range(50):
        try:
            inode = os.stat(out).st_ino
        except FileNotFoundError:  # never published yet
            inode = None
        try:
            result = load_result(str(out))
            markers = sorted(os.listdir(out / "blessing"))
            files = sorted(p.name for p in out.iterdir())
        except (InputNotFound, FileNotFoundError) as e:
            if inode is not None and os.path.exists(out) and os.stat(out).st_ino != inode:
                SWAPPED_READS[0] += 1
                continue  # swapped while read
            assert not completed, f"a run completed, yet {out} holds no result: {e}"
            assert inode is None or "incomplete" in str(e), e
            return ""
        if os.stat(out).st_ino != inode:
            SWAPPED_READS[0] += 1
            continue
        break
    else:
        raise AssertionError(f"{out} was republished during each of 50 reads")
    minimum = result.config["thresholds"][0]["min"]
    (name,) = [n for n, m in minimums.items() if m == minimum]
    assert result.config["thresholds"] == _config(minimum)["thresholds"]
    (check,) = result.validation["checks"]
    auc = reference.metrics()["auc"]
    assert check["threshold"] == minimum and check["candidate"] == auc
    assert result.blessed is (auc >= minimum) and check["status"] == (
        "pass" if auc >= minimum else "fail")
    assert markers == ["BLESSED" if result.blessed else "NOT_BLESSED"]
    assert result.records == reference.records and result.plots() is not None
    assert files == ["assay_metrics.json", "assay_plots.json", "assay_sketches.json",
                     "blessing", "config.json",
                     "eval_config.json", "metrics-00000-of-00001.tfrecord",
                     "plots-00000-of-00001.tfrecord", "report.html", "validation.json",
                     "validations.tfrecord"], files
    json.loads((out / "assay_metrics.json").read_text())
    return name


def test_sigkill_at_random_moments_during_concurrent_runs(data, tmp_path):
    """Ten runs into one output directory, three at a time, most killed with SIGKILL after a
    seeded random delay between 0 and a run's typical duration; each run has its own auc
    minimum (some above the model's auc: NOT_BLESSED), so what was published names its run.
    After each kill and at the end the output is one complete result of some run (or, before
    any run completed, nothing or the documented "incomplete" error). A final run removes the
    staging every killed run left."""
    rng = random.Random(SEED)
    out = tmp_path / "shared" / "eval"
    out.parent.mkdir()
    reference_out = tmp_path / "reference"
    started = time.monotonic()
    # The reference result, and a run's typical duration when CONCURRENT run at once (the
    # longest of CONCURRENT reference runs started together), so that kills land anywhere in a
    # run, its commit included.
    # One config file each: a file written again while an earlier run reads it reads empty.
    refs = [subprocess.Popen(_command(data, _config(0.3), Path(f"{reference_out}{i}"), f"ref{i}"),
                             env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            for i in range(CONCURRENT)]
    for proc in refs:
        assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()
        proc.stderr.close()
    typical = time.monotonic() - started
    reference = load_result(f"{reference_out}0")
    minimums = {f"run{i}": round(0.70 + 0.03 * i, 2) for i in range(RUNS)}
    # Most runs are killed, at a uniform moment of a typical run; every third runs to the end.
    plan = [(f"run{i}", None if i % 3 == 2 else rng.uniform(0.0, typical)) for i in range(RUNS)]
    live, seen, kills, finished, completed = [], set(), 0, 0, False
    while plan or live:
        while plan and len(live) < CONCURRENT:
            name, delay = plan.pop(0)
            proc = subprocess.Popen(_command(data, _config(minimums[name]), out, name), env=ENV,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            live.append((name, proc, None if delay is None else time.monotonic() + delay))
        time.sleep(0.02)
        for entry in list(live):
            name, proc, kill_at = entry
            if kill_at is not None and time.monotonic() >= kill_at and proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=30)
                kills += 1
                seen.add(_check_output(out, reference, minimums, completed))
            if proc.poll() is not None:
                stderr = proc.stderr.read().decode()
                proc.stderr.close()
                live.remove(entry)
                if proc.returncode == 0:
                    finished += 1
                    completed = True
                else:
                    assert proc.returncode == -signal.SIGKILL, (name, proc.returncode, stderr)
                seen.add(_check_output(out, reference, minimums, completed))
        assert time.monotonic() - started < 240, "the kill test ran past its time bound"
    assert kills >= 3 and finished >= 3, (kills, finished)
    final = subprocess.run(_command(data, _config(0.99), out, "final"), env=ENV,
                           capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr
    minimums["final"] = 0.99
    assert _check_output(out, reference, minimums, True) == "final"
    assert _debris(out) == [] and os.listdir(out.parent) == ["eval"]
    print(f"kill test: typical run {typical:.2f} s, {kills} killed, {finished} finished, "
          f"published seen: {sorted(n for n in seen if n)}, {SWAPPED_READS[0]} reads retried, "
          f"{time.monotonic() - started:.1f} s in all")
