"""The Beam engine on a distributed runner: Beam's PortableRunner with an EXTERNAL worker pool.

The workers are separate processes started by `python -m apache_beam.runners.worker.worker_pool_main`
(tests/beam_workers.py), and they cannot see the directory the results go to (a tmpfs hides it
in their mount namespace), as on a cluster whose workers have disks of their own. Every record is
compared with the local engine's, which never starts Beam.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import pytest

import assay
from assay.errors import DataError, RunnerError, StorageError

import model_fixtures as mf
from beam_workers import KILL_ENV, WorkerPool

N = 3000


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    root = tmp_path_factory.mktemp("portable")
    (root / "data").mkdir()
    return {"data": root / "data", "hidden": root / "outputs", "shared": root / "shared",
            "pool": root / "pool"}


@pytest.fixture(scope="module")
def pool(roots):
    """The worker pool; the workers do not see roots['hidden'], where the results go."""
    with WorkerPool(roots["pool"], hidden=[roots["hidden"]], env={KILL_ENV: "1"}) as p:
        yield p


@pytest.fixture(scope="module")
def df():
    return mf.make_tabular_data(N, seed=11)


@pytest.fixture(scope="module")
def data(roots, df):
    """Two gzipped TFRecord shards (two work units) and the same rows as one Parquet file."""
    d = roots["data"] / "Split-eval"
    d.mkdir(parents=True)
    half = len(df) // 2
    mf.write_tfrecord(df.iloc[:half], d / "data_tfrecord-00000-of-00002.gz", gzip=True)
    mf.write_tfrecord(df.iloc[half:], d / "data_tfrecord-00001-of-00002.gz", gzip=True)
    return str(d)


@pytest.fixture(scope="module")
def models(roots):
    m = roots["data"] / "models"
    return {"saved_model": mf.make_tfx_saved_model(m / "trainer"),
            "lr": mf.make_sklearn_model(m / "lr.joblib"),
            "mc": mf.make_sklearn_multiclass_model(m / "mc.joblib"),
            "mc_old": mf.make_sklearn_multiclass_model(
                m / "mc_old.joblib", df=mf.make_tabular_data(200, seed=9))}


def _portable(pool, roots, *extra):
    return pool.pipeline_args(f"--temp_location={roots['shared']}", *extra)


def _same_records(beam, local, tol=1e-9):
    """Every record of both results, matched by (slice, model), equal within `tol`."""
    def index(result):
        return {(tuple(sorted(r["slice"].items())), r["model"]): r for r in result.records}

    got, want = index(beam), index(local)
    assert got.keys() == want.keys()
    for key, rec in want.items():
        other = got[key]
        assert other.keys() == rec.keys(), key
        if "withheld" in rec:
            assert other["withheld"] == rec["withheld"]
            continue
        assert other["metrics"].keys() == rec["metrics"].keys(), key
        for name, value in rec["metrics"].items():
            mine = other["metrics"][name]
            if isinstance(value, float) and math.isnan(value):
                assert math.isnan(mine), (key, name)
            else:
                assert mine == pytest.approx(value, rel=tol, abs=tol), (key, name)
    return len(want)


def _check_same_evaluation(cfg, data, out_beam, out_local, args, allow_pickle=False):
    beam = assay.evaluate(cfg, data, str(out_beam), beam_pipeline_args=args,
                          allow_pickle=allow_pickle)
    local = assay.evaluate(cfg, data, str(out_local), engine="local", allow_pickle=allow_pickle)
    assert beam.info["engine"] == "beam" and local.info["engine"] == "local"
    assert _same_records(beam, local) > 20
    assert beam.info["quantile_boundaries"] == local.info["quantile_boundaries"]
    assert beam.info["examples_read"] == local.info["examples_read"] == N
    vb, vl = assay.validate(beam), assay.validate(local)
    assert (vb.blessed, vb.reasons) == (vl.blessed, vl.reasons)
    return beam, local


def test_binary_savedmodel_and_joblib_baseline_match_the_local_engine(pool, roots, data, models,
                                                                      df, tmp_path):
    cfg = {"label": "label", "weight": "weight",
           "models": {"candidate": {"path": models["saved_model"]},
                      "baseline": {"path": models["lr"]}},
           "slices": [[], ["payment"], ["day", "payment"], {"feature": "miles", "quantiles": 4}],
           "thresholds": [{"metric": "auc", "min": 0.6, "max_regression": 0.05},
                          {"metric": "accuracy", "slices": [["payment"]], "min": 0.99}]}
    beam, _ = _check_same_evaluation(cfg, data, roots["hidden"] / "binary",
                                     tmp_path / "local", _portable(pool, roots),
                                     allow_pickle=True)
    # Independent of both engines: the overall candidate accuracy from TensorFlow's predictions.
    p = mf.reference_saved_model(models["saved_model"], df)
    w = df["weight"].to_numpy()
    assert beam.metrics()["accuracy"] == pytest.approx(
        np.average((p > 0.5) == (df["label"].to_numpy() == 1), weights=w), rel=1e-9)
    assert len(beam.info["quantile_boundaries"]["miles"]) == 3
    assert not assay.validate(beam).blessed  # accuracy >= 0.99 fails on some payment slice


def test_multiclass_joblib_models_match_the_local_engine(pool, roots, data, models, tmp_path):
    cfg = {"label": "payment", "label_vocabulary": list(mf.MULTICLASS_CLASSES),
           "models": {"candidate": {"path": models["mc"]},
                      "baseline": {"path": models["mc_old"]}},
           "slices": [[], ["day"], {"feature": "hour", "quantiles": 3}],
           "thresholds": [{"metric": "accuracy", "min": 0.2, "max_regression": 0.5}]}
    beam, _ = _check_same_evaluation(cfg, data, roots["hidden"] / "multiclass",
                                     tmp_path / "local", _portable(pool, roots),
                                     allow_pickle=True)
    assert beam.task == "multiclass" and assay.validate(beam).blessed


def test_local_output_without_a_shared_temp_location_fails_clearly(pool, roots, data, tmp_path):
    """Without --temp_location the scratch is beside the output, which these workers cannot see:
    the pass must say so, not report "no examples at all", and publish nothing."""
    out = roots["hidden"] / "unshared"
    cfg = {"label": "label", "models": {"candidate": {"prediction": "label"}}, "slices": [[]]}
    with pytest.raises(StorageError, match=r"results of the pass are not in .*_scratch.*"
                                           r"--temp_location"):
        for attempt in range(2):
            try:
                assay.evaluate(cfg, data, str(out), beam_pipeline_args=pool.pipeline_args())
            except RunnerError as e:
                # A pool worker lost while the machine is loaded (seen once in CI, under another
                # test's TensorFlow training) is not what this test is about: try once more.
                # The StorageError below must still come, and nothing may be published.
                if attempt or "died" not in str(e):
                    raise
                assert not out.exists()
    assert not out.exists()


def test_data_error_in_a_worker_keeps_its_class_and_message(pool, roots, tmp_path):
    bad = mf.make_tabular_data(300, seed=2)
    bad["prob"] = np.where(np.arange(300) == 7, 1.5, 0.5)
    path = mf.write_parquet(bad, roots["data"] / "bad.parquet")
    out = roots["hidden"] / "bad"
    cfg = {"label": "label", "models": {"candidate": {"prediction": "prob"}}, "task": "binary"}
    with pytest.raises(DataError, match=r"1 example\(s\): prediction of model 'candidate' is "
                                        r"outside \[0, 1\]") as err:
        assay.evaluate(cfg, path, str(out), beam_pipeline_args=_portable(pool, roots))
    assert "ASSAY-ERROR" not in str(err.value)
    assert not out.exists()


def test_100k_slices_complete(pool, roots, tmp_path):
    """A crossed spec of two integer features: 100,000 slices of 2 rows, regression family."""
    n_a, n_b = 400, 250
    a, b = np.meshgrid(np.arange(n_a), np.arange(n_b), indexing="ij")
    a, b = np.repeat(a.ravel(), 2), np.repeat(b.ravel(), 2)
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"a": a, "b": b, "y": rng.normal(size=len(a)).round(3)})
    table["yhat"] = (table["y"] + rng.normal(size=len(a))).round(3)
    d = roots["data"] / "many"
    d.mkdir()
    half = len(table) // 2
    paths = [mf.write_parquet(table.iloc[:half], d / "part-0.parquet"),
             mf.write_parquet(table.iloc[half:], d / "part-1.parquet")]
    cfg = {"label": "y", "task": "regression", "models": {"candidate": {"prediction": "yhat"}},
           "slices": [["a", "b"]], "metrics": ["mse"], "batch_size": 65536}
    start = time.monotonic()
    result = assay.evaluate(cfg, paths, str(roots["hidden"] / "many"),
                            beam_pipeline_args=_portable(pool, roots), write_report=False)
    elapsed = time.monotonic() - start
    print(f"\n100,000 slices on the PortableRunner: {elapsed:.1f} s")
    records = [r for r in result.records if r["model"] == "candidate"]
    assert len(records) == n_a * n_b + 1
    sq = (table["y"] - table["yhat"]) ** 2
    want = sq.groupby([table["a"], table["b"]]).mean()
    for rec in records[:: 997]:
        if rec["slice"]:
            key = (rec["slice"]["a"], rec["slice"]["b"])
            assert rec["metrics"]["mse"] == pytest.approx(want[key], rel=1e-12, abs=1e-15)
            assert rec["metrics"]["example_count"] == 2


def test_killed_worker_gives_a_runner_error_and_publishes_nothing(pool, roots, data, tmp_path):
    out = roots["hidden"] / "killed"
    cfg = {"label": "label", "models": {"candidate": {"prediction": "label"}},
           "custom_metrics": [{"class": "beam_workers:KillWorker"}]}
    start = time.monotonic()
    with pytest.raises(RunnerError, match=r"a worker of the Beam runner PortableRunner died in "
                                          r"the middle of the pass"):
        assay.evaluate(cfg, data, str(out), beam_pipeline_args=_portable(pool, roots),
                       allow_custom_code=["beam_workers"])
    assert time.monotonic() - start < 120
    assert not out.exists()


def test_failing_runner_gives_a_runner_error(roots, data, tmp_path):
    out = tmp_path / "out"
    cfg = {"label": "label", "models": {"candidate": {"prediction": "label"}}}
    with pytest.raises(RunnerError, match=r"the Beam pipeline failed on PortableRunner"):
        assay.evaluate(cfg, data, str(out), beam_pipeline_args=[
            "--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=EXTERNAL",
            "--environment_config=localhost:1"])
    assert not out.exists()


def test_worker_error_marker_round_trip_and_cause():
    """What the driver makes of a worker's traceback text, without a pipeline."""
    from assay.engine import beam_failures as bf
    from assay.errors import ModelError

    @bf.reported
    def fails():
        raise ModelError("model 'candidate' at /m cannot load:\n  bad opcode")
        yield  # a generator, as DoFn.process often is

    with pytest.raises(ModelError) as err:
        list(fails())
    text = (f"Pipeline job_1 failed in state FAILED: Traceback (most recent call last):\n"
            f'  File "x.py", line 3, in process\n    raise\n'
            f"assay.errors.ModelError: {err.value} [while running 'AccumulateSlices']")
    again = bf.assay_error_in(RuntimeError(text))
    assert type(again) is ModelError
    assert str(again) == "model 'candidate' at /m cannot load:\n  bad opcode"
    plain = RuntimeError('Traceback (most recent call last):\n  File "x.py", line 1, in f\n'
                         '    g()\nValueError: no such thing [while running \'ReadBatches\']')
    assert bf.assay_error_in(plain) is None
    assert bf.cause_of(plain) == "ValueError: no such thing [while running 'ReadBatches']"
