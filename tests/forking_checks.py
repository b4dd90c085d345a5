"""The checks tests/test_forking.py runs in a fresh pytest process of its own: assay forks only
where it is safe (one thread, no TensorFlow or gRPC), which a pytest-xdist worker that other
test files loaded TensorFlow into is not. A publish with TFMA's files written by a forked child
(the evaluation's second core) gives the same files as writing them in order, including when
the child fails."""

from __future__ import annotations

import os
import threading

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import assay
from assay import api, forking
from assay.results import tfma_files

CONFIG = {"label": "label", "models": {"candidate": {"prediction": "p"}},
          "slices": [[], ["g"]], "metrics": ["auc", "calibration"]}


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 2000)
    table = pa.table({"label": y, "p": np.clip(0.4 * y + 0.6 * rng.random(2000), 0, 1),
                      "g": rng.choice(["a", "b", "c"], 2000)})
    root = tmp_path_factory.mktemp("forking")
    for i in range(2):  # two files: the local engine forks two workers
        pq.write_table(table.slice(i * 1000, 1000), str(root / f"part-{i}.parquet"))
    return str(root)


def test_a_forked_call_runs_in_a_child_and_says_whether_it_returned(tmp_path):
    parent = os.getpid()

    def write():
        (tmp_path / "pid").write_text(str(os.getpid()))

    assert forking.ForkedCall(write).join() is True
    assert int((tmp_path / "pid").read_text()) != parent

    def fail():
        raise RuntimeError("in the child")

    assert forking.ForkedCall(fail).join() is False  # nothing raised here
    assert os.getpid() == parent


def test_forking_is_not_safe_with_a_thread_running():
    assert forking.fork_is_safe()  # this suite's process: Linux, one thread
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not forking.fork_is_safe()
        assert forking.fork_is_safe(threads=False)
    finally:
        stop.set()
        thread.join()


def _tfma_bytes(directory):
    return {name: open(os.path.join(directory, name), "rb").read()
            for name in tfma_files.TFMA_FILES}


def _forks(monkeypatch):
    """Counts the ForkedCalls made from now on."""
    made = []
    original = forking.ForkedCall.__init__

    def counting(self, fn):
        made.append(fn)
        original(self, fn)

    monkeypatch.setattr(forking.ForkedCall, "__init__", counting)
    return made


def test_tfmas_files_written_by_a_child_are_those_written_in_order(examples, tmp_path,
                                                                   monkeypatch):
    made = _forks(monkeypatch)
    assay.evaluate(CONFIG, examples, str(tmp_path / "one"), workers=1)
    assert made == []  # one core: nothing forked
    assay.evaluate(CONFIG, examples, str(tmp_path / "two"), workers=2)
    assert len(made) == 1
    one, two = _tfma_bytes(tmp_path / "one"), _tfma_bytes(tmp_path / "two")
    assert set(one) == set(tfma_files.TFMA_FILES) and all(one.values())
    assert one == two


def test_a_child_that_fails_leaves_the_files_to_the_driver(examples, tmp_path, monkeypatch):
    parent = os.getpid()
    real = api.write_tfma_files

    def fails_in_a_child(*args, **kwargs):
        if os.getpid() != parent:
            os._exit(3)  # as a child killed midway: some files may be missing
        return real(*args, **kwargs)

    monkeypatch.setattr(api, "write_tfma_files", fails_in_a_child)
    made = _forks(monkeypatch)
    assay.evaluate(CONFIG, examples, str(tmp_path / "two"), workers=2)
    assay.evaluate(CONFIG, examples, str(tmp_path / "one"), workers=1)
    assert len(made) == 1
    assert _tfma_bytes(tmp_path / "two") == _tfma_bytes(tmp_path / "one")


def test_an_error_writing_tfmas_files_is_raised_and_nothing_is_published(examples, tmp_path,
                                                                          monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("TFMA's files cannot be written")

    monkeypatch.setattr(api, "write_tfma_files", broken)
    made = _forks(monkeypatch)
    with pytest.raises(ValueError, match="TFMA's files cannot be written"):
        assay.evaluate(CONFIG, examples, str(tmp_path / "out"), workers=2)
    assert len(made) == 1  # the child failed, then the driver, which raised
    assert not (tmp_path / "out").exists()
    assert os.listdir(tmp_path) == []  # no staging left behind


def test_an_interrupted_join_stops_the_child(tmp_path):
    import signal
    import time

    def slow():
        time.sleep(2)
        (tmp_path / "late").write_text("written after the caller gave up")

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        call = forking.ForkedCall(slow)
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        with pytest.raises(KeyboardInterrupt):
            call.join()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    with pytest.raises(ChildProcessError):  # stopped and reaped: no child left
        os.waitpid(call.pid, os.WNOHANG)
    time.sleep(2.5)
    assert not (tmp_path / "late").exists()
