"""`--timings PATH`: where an evaluation's time went, per stage (assay.timings).

The stage times are checked for what can be known exactly (every stage present, none
negative, the example count, the worker stages within the process's CPU, a model's own
measured time inside "predict"), never for speed; and a run with the flag writes the same
results, byte for byte, as one without.
"""

import json
import os
import time

import numpy as np
import pytest

import assay
from assay import cli, demo, timings
from assay.errors import EXIT_USAGE, DataError

import file_tree

N = 2000
SLACK_S = 0.05  # clock granularity: thread_time and os.times tick in 10 ms on some systems


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("trips")
    demo.write_trips(str(root / "Split-eval"), N, shards=4, seed=3)
    return str(root / "Split-eval")


def _config(path):
    cfg = {"label": "label", "weight": "weight",
           "models": {"candidate": {"prediction": "prediction"},
                      "baseline": {"prediction": "old_prediction"}},
           "slices": [[], ["hour"], ["payment", "day"]]}
    with open(path, "w") as f:
        json.dump(cfg, f)
    return str(path)


def _run_cli(tmp_path, shards, name, *extra):
    out = tmp_path / name
    argv = ["evaluate", "--config", _config(tmp_path / "config.json"), "--examples", shards,
            "--output", str(out), "-q", *extra]
    assert cli.main(argv) == 0
    return out


def _read(path):
    with open(path) as f:
        return json.load(f)


def test_the_file_holds_every_stage_and_the_examples_read(tmp_path, shards):
    _run_cli(tmp_path, shards, "out", "--workers", "1", "--timings", str(tmp_path / "t.json"))
    doc = _read(tmp_path / "t.json")
    assert doc["version"] == 1 and doc["engine"] == "local" and doc["not_measured"] == []
    assert doc["examples"] == N
    assert sorted(doc["stages"]) == sorted(timings.STAGES)
    for stage, times in doc["stages"].items():
        assert times["cpu_s"] >= 0 and times["wall_s"] >= 0, stage
    worker = sum(doc["stages"][s]["cpu_s"] for s in timings.WORKER_STAGES)
    everything = sum(t["cpu_s"] for t in doc["stages"].values())
    assert worker > 0 and doc["stages"]["write"]["wall_s"] > 0
    assert everything <= doc["evaluate"]["cpu_s"] + SLACK_S
    assert doc["evaluate"]["cpu_s"] <= doc["total"]["cpu_s"] + SLACK_S
    assert doc["evaluate"]["wall_s"] <= doc["total"]["wall_s"] + SLACK_S
    # One worker: the pass runs inside the driver's merge span, whose CPU (every thread)
    # holds the pass's stages and the merge's own.
    assert sorted(doc["driver"]) == ["compute", "merge", "write"]
    span = doc["driver"]["merge"]
    assert span["process_cpu_s"] + SLACK_S >= worker + doc["stages"]["merge"]["cpu_s"]
    assert span["wall_s"] + SLACK_S >= sum(doc["stages"][s]["wall_s"]
                                           for s in timings.WORKER_STAGES)


def test_one_and_two_workers_report_the_same_stages(tmp_path, shards):
    docs = []
    for workers in ("1", "2"):
        path = tmp_path / f"t{workers}.json"
        _run_cli(tmp_path, shards, f"out{workers}", "--workers", workers, "--timings", str(path))
        docs.append(_read(path))
    one, two = docs
    assert one.keys() == two.keys() and one["stages"].keys() == two["stages"].keys()
    assert one["driver"].keys() == two["driver"].keys()
    assert one["examples"] == two["examples"] == N
    # With forked workers their CPU reaches the total once they have ended.
    worker = sum(two["stages"][s]["cpu_s"] for s in timings.WORKER_STAGES)
    assert 0 < worker <= two["total"]["cpu_s"] + SLACK_S


def test_the_results_are_byte_identical_with_and_without_timings(tmp_path, shards):
    plain = _run_cli(tmp_path, shards, "plain", "--workers", "2")
    timed = _run_cli(tmp_path, shards, "timed", "--workers", "2", "--timings",
                     str(tmp_path / "t.json"))
    a, b = file_tree.contents(plain), file_tree.contents(timed)
    assert a.keys() == b.keys() and len(a) > 3
    # Both directories name their own location inside a few files: compare with it replaced.
    for name in a:
        assert a[name].replace(str(plain).encode(), b"DIR") == \
            b[name].replace(str(timed).encode(), b"DIR"), name
    assert not any("timing" in name for name in b)  # the file goes where asked, nowhere else


def test_a_models_own_time_is_counted_as_predict(tmp_path):
    import pandas as pd
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"y": rng.integers(0, 2, 5000), "x": rng.random(5000)})
    spent = []

    def model(batch):  # its own CPU seconds, measured the way the stages are
        start = time.thread_time()
        out = np.asarray(batch["x"], dtype=np.float64)
        sum(i * i for i in range(300_000))  # a slow model: about 20 ms
        spent.append(time.thread_time() - start)
        return out

    path = tmp_path / "t.json"
    cfg = {"label": "y", "models": {"candidate": {}}, "slices": [[]], "batch_size": 500}
    result = assay.evaluate(cfg, df, model=model, timings=str(path), workers=1)
    # 10 batches, and a call before the pass on a few rows (assay.models.memory's check).
    assert result.path is None and len(spent) == 11
    doc = _read(path)
    assert doc["examples"] == 5000
    in_pass = sum(spent) - max(spent)
    assert in_pass - SLACK_S <= doc["stages"]["predict"]["cpu_s"] <= sum(spent) + SLACK_S
    assert doc["stages"]["accumulate"]["cpu_s"] < in_pass / 2  # the model's time is not there
    assert doc["stages"]["read"]["cpu_s"] >= 0


def test_a_failed_evaluation_writes_no_timings(tmp_path):
    import pandas as pd
    df = pd.DataFrame({"y": [0, 1, 1], "p": [0.1, 1.5, 0.3]})  # 1.5 is no probability
    path = tmp_path / "t.json"
    with pytest.raises(DataError, match="invalid values"):
        assay.evaluate({"label": "y", "task": "binary",
                        "models": {"candidate": {"prediction": "p"}}}, df,
                       timings=str(path))
    assert not path.exists()


def test_a_stage_timed_inside_another_counts_once():
    times = timings.new_times()
    start = time.thread_time()
    outer = timings.begin()
    for _ in range(3):
        inner = timings.begin()
        np.sort(np.random.default_rng(0).random(200_000))
        timings.end(times, "read", inner)
    np.sort(np.random.default_rng(1).random(200_000))
    timings.end(times, "merge", outer)
    elapsed = time.thread_time() - start
    assert times["read"][0] > 0 and times["merge"][0] > 0
    assert times["read"][0] + times["merge"][0] <= elapsed + 1e-9
    merged = timings.merge([times, times, None])
    assert merged["read"] == [2 * times["read"][0], 2 * times["read"][1]]


def test_without_a_recording_the_driver_stages_record_nothing():
    assert timings.driver_begin() is None
    timings.driver_end("merge", None)
    timings.note_pass({"rows": 3}, "local")
    timings.add_worker_times([{"compute": [1.0, 1.0]}])
    with timings.recording(None) as rec:
        assert rec is None and timings.driver_begin() is None


def test_the_beam_engine_times_its_workers_predict_and_accumulate(tmp_path, shards):
    path = tmp_path / "t.json"
    assay.evaluate(_config(tmp_path / "config.json"), shards, str(tmp_path / "out"),
                   engine="beam", timings=str(path))
    doc = _read(path)
    assert doc["engine"] == "beam" and doc["not_measured"] == ["read", "merge"]
    assert sorted(doc["driver"]) == ["compute", "write"]
    assert doc["examples"] == N and sorted(doc["stages"]) == sorted(timings.STAGES)
    assert doc["stages"]["accumulate"]["cpu_s"] > 0 and doc["stages"]["write"]["cpu_s"] > 0


@pytest.mark.parametrize("where, problem", [
    ("missing/t.json", "does not exist"),  # a directory that is not there
    (".", "is a directory"),
])
def test_a_timings_path_that_cannot_be_written_is_refused_before_the_run(
        tmp_path, shards, capsys, where, problem):
    """The CLI exits with the usage code, names the path and what was expected, and writes no
    results: the path is checked before the evaluation starts."""
    path = str(tmp_path / where)
    out = tmp_path / "out"
    argv = ["evaluate", "--config", _config(tmp_path / "config.json"), "--examples", shards,
            "--output", str(out), "-q", "--timings", path]
    assert cli.main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"timings: {path!r}" in err or f"cannot write {path!r}" in err
    assert problem in err
    assert "expected a file path in an existing, writable local directory" in err
    assert not out.exists()


def test_the_timings_file_is_written_whole(tmp_path, shards):
    """Written through a temporary file renamed into place: nothing else is left beside it."""
    _run_cli(tmp_path, shards, "out", "--workers", "1", "--timings", str(tmp_path / "t.json"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "out", "t.json"]
    assert _read(tmp_path / "t.json")["examples"] == N
