"""The engine end to end: every record checked against scikit-learn on the filtered subset.

Each test runs on both engines that run the pass: the local one (`assay.engine.local`, forked processes
on sharded input) and Beam's (`assay.engine.beam`, the DirectRunner).
"""

import functools
import json
import math
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn import metrics as skm

import assay
from assay import demo
from assay.config.schema import ConfigError
from assay.errors import DataError

N = 4000


@pytest.fixture(params=["local", "beam"])
def evaluate(request):
    """assay.evaluate on one engine."""
    return functools.partial(assay.evaluate, engine=request.param)


@pytest.fixture(scope="module")
def trips():
    return demo.make_trips(N, seed=7)


@pytest.fixture(scope="module")
def trips_df(trips):
    return trips.to_pandas()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, trips):
    root = tmp_path_factory.mktemp("trips")
    demo.write_trips(str(root / "Split-eval"), N, shards=3, seed=7)
    pq.write_table(trips, str(root / "trips.parquet"))
    trips.to_pandas().to_csv(str(root / "trips.csv"), index=False)
    return root


def _config(**extra):
    cfg = {
        "label": "label", "weight": "weight",
        "models": {"candidate": {"prediction": "prediction"},
                   "baseline": {"prediction": "old_prediction"}},
        "slices": [[], ["payment"], ["payment", "day"], {"day": 6},
                   {"feature": "miles", "boundaries": [1, 2, 5, 10]},
                   {"keys": ["payment"], "values": {"day": 3}}],
    }
    cfg.update(extra)
    return cfg


def _subset(df, slice_):
    mask = np.ones(len(df), dtype=bool)
    for k, v in slice_.items():
        if k == "miles":
            lo, hi = v[1:-1].split(", ")
            lo = -np.inf if lo == "-inf" else float(lo)
            hi = np.inf if hi == "inf" else float(hi)
            mask &= (df["miles"] >= lo) & (df["miles"] < hi)
        else:
            mask &= (df[k] == v).to_numpy()
    return df[mask]


def _reference_binary(sub, column, weighted=True):
    y = sub["label"].to_numpy().astype(float)
    p = sub[column].to_numpy()
    w = sub["weight"].to_numpy() if weighted else np.ones(len(sub))
    pred = (p > 0.5).astype(int)
    ref = {
        "example_count": len(sub),
        "weighted_example_count": w.sum(),
        "accuracy": skm.accuracy_score(y, pred, sample_weight=w),
        "log_loss": skm.log_loss(y, p, sample_weight=w, labels=[0, 1]),
        "mean_label": np.average(y, weights=w),
        "mean_prediction": np.average(p, weights=w),
    }
    if pred.any():
        ref["precision"] = skm.precision_score(y, pred, sample_weight=w, zero_division=0)
    if y.any():
        ref["recall"] = skm.recall_score(y, pred, sample_weight=w)
    if 0 < y.sum() < len(y):
        ref["auc"] = skm.roc_auc_score(y, p, sample_weight=w)
        ref["auc_pr"] = skm.average_precision_score(y, p, sample_weight=w)
    return ref


def _check_binary_records(result, df, tol_area, weighted=True, min_slice_size=1):
    checked = 0
    for rec in result.records:
        sub = _subset(df, rec["slice"])
        if "withheld" in rec:
            assert len(sub) < min_slice_size and rec["slice"], rec
            continue
        assert rec["slice"] == {} or len(sub) >= min_slice_size
        if rec["model"] == "diff":
            cand = result.metrics(rec["slice"], "candidate")
            base = result.metrics(rec["slice"], "baseline")
            for name, value in rec["metrics"].items():
                if isinstance(cand[name], float) and math.isnan(cand[name]):
                    continue
                assert value == pytest.approx(cand[name] - base[name], rel=1e-9, abs=1e-12)
            continue
        column = "prediction" if rec["model"] == "candidate" else "old_prediction"
        ref = _reference_binary(sub, column, weighted)
        got = rec["metrics"]
        for name, value in ref.items():
            tol = tol_area if name in ("auc", "auc_pr") else 1e-9
            assert got[name] == pytest.approx(value, rel=tol, abs=tol), (rec["slice"], name)
        checked += 1
    return checked


def test_binary_slices_match_sklearn_on_filtered_subset(evaluate, data_dir, trips_df, tmp_path):
    result = evaluate(_config(exact=True), str(data_dir / "trips.parquet"),
                            str(tmp_path / "out"))
    assert result.task == "binary"
    checked = _check_binary_records(result, trips_df, tol_area=1e-9)
    assert checked > 60
    # Every slice of every spec is there: 5 payments, 5 x 7 (payment, day), etc.
    slices = result.slices()
    assert {"payment": "cash"} in slices and {"day": 6} in slices
    assert sum(1 for s in slices if set(s) == {"payment", "day"}) == trips_df.groupby(
        ["payment", "day"]).ngroups
    assert {"miles": "(-inf, 1)"} in slices and {"miles": "[10, inf)"} in slices
    assert {"day": 3, "payment": "mobile"} in slices


def test_bucketed_area_metrics_within_tolerance_and_unweighted(evaluate, data_dir, trips_df,
                                                               tmp_path):
    cfg = _config()
    del cfg["weight"]
    result = evaluate(cfg, str(data_dir / "trips.parquet"), str(tmp_path / "out"))
    assert _check_binary_records(result, trips_df, tol_area=1e-4, weighted=False) > 60


def test_min_slice_size_withholds_small_slices_with_reason(evaluate, data_dir, trips_df, tmp_path):
    result = evaluate(_config(min_slice_size=120), str(data_dir / "trips.parquet"),
                            str(tmp_path / "out"))
    withheld = [r for r in result.records if "withheld" in r]
    assert withheld
    for r in withheld:
        n = len(_subset(trips_df, r["slice"]))
        assert n < 120
        assert r["withheld"] == f"withheld: {n} examples, fewer than min_slice_size 120"
        assert r["example_count"] == n and "metrics" not in r
    _check_binary_records(result, trips_df, tol_area=1e-4, min_slice_size=120)


def test_formats_and_sharded_tfrecords_give_the_same_metrics(evaluate, data_dir, tmp_path):
    out = {}
    for name, path in [("tfrecord", data_dir / "Split-eval"),
                       ("parquet", data_dir / "trips.parquet"), ("csv", data_dir / "trips.csv")]:
        out[name] = evaluate(_config(), str(path), str(tmp_path / name))
    ref = out["parquet"]
    for name in ("tfrecord", "csv"):
        assert [r["slice"] for r in out[name].records] == [r["slice"] for r in ref.records]
        for a, b in zip(out[name].records, ref.records):
            for metric, value in b["metrics"].items():
                # tf.Example stores floats as float32: predictions differ in the 7th digit.
                tol = 1e-6 if name == "tfrecord" else 1e-12
                assert a["metrics"][metric] == pytest.approx(value, rel=tol, abs=tol, nan_ok=True)


def _same_records(a, b, rel=1e-9):
    assert [(r["slice"], r["model"]) for r in a.records] == \
        [(r["slice"], r["model"]) for r in b.records]
    for ra, rb in zip(a.records, b.records):
        assert ra.keys() == rb.keys()
        for metric, value in rb.get("metrics", {}).items():
            assert ra["metrics"][metric] == pytest.approx(value, rel=rel, abs=1e-12, nan_ok=True)


def test_engine_workers_and_batch_size_invariance(data_dir, tmp_path, monkeypatch):
    data = str(data_dir / "Split-eval")  # 3 shards
    one = assay.evaluate(_config(batch_size=8192), data, str(tmp_path / "a"), engine="local",
                         workers=1)
    small = assay.evaluate(_config(batch_size=97), data, str(tmp_path / "b"), engine="local",
                           workers=3)
    multi = assay.evaluate(
        _config(batch_size=500), data, str(tmp_path / "c"),
        beam_pipeline_args=["--direct_num_workers=2", "--direct_running_mode=multi_processing"],
        engine="beam")  # DirectRunner arguments alone would run the local engine (issue 17)
    beam = assay.evaluate(_config(batch_size=8192), data, str(tmp_path / "d"), engine="beam")
    from assay.engine import local
    monkeypatch.setattr(local, "use_processes", lambda plan, workers: False)
    threads = assay.evaluate(_config(batch_size=8192), data, str(tmp_path / "e"),
                             engine="local", workers=2)
    _same_records(small, one)
    _same_records(multi, one)
    _same_records(beam, one)
    _same_records(threads, one)
    assert (one.info["engine"], multi.info["engine"], beam.info["engine"]) == \
        ("local", "beam", "beam")
    # The local engine merges per-file partials in file order: same bytes whatever the workers.
    assert (tmp_path / "e" / "assay_metrics.json").read_bytes() == \
        (tmp_path / "a" / "assay_metrics.json").read_bytes()
    plots_a = one.plots({})["roc_curve"]
    plots_b = small.plots({})["roc_curve"]
    np.testing.assert_allclose(plots_a["tpr"], plots_b["tpr"], rtol=1e-9)


def test_results_files_and_load_result(evaluate, data_dir, trips_df, tmp_path):
    out = tmp_path / "out"
    result = evaluate(_config(), str(data_dir / "trips.parquet"), str(out))
    doc = json.loads((out / "assay_metrics.json").read_text())
    assert doc["version"] == 2 and doc["task"] == "binary"
    first = doc["records"][0]
    assert set(first) == {"slice", "model", "metrics"}
    assert (first["slice"], first["model"]) == ({}, "candidate")
    # The file holds the values scikit-learn gives on all the data (areas from 1,000 buckets).
    for name, want in _reference_binary(trips_df, "prediction").items():
        tol = 1e-4 if name in ("auc", "auc_pr") else 1e-9
        assert first["metrics"][name] == pytest.approx(want, rel=tol, abs=tol), name
    assert [r["model"] for r in doc["records"][:3]] == ["candidate", "baseline", "diff"]
    hour_day = [r for r in doc["records"] if set(r["slice"]) == {"payment", "day"}]
    assert all(isinstance(r["slice"]["day"], int) for r in hour_day)
    plots = json.loads((out / "assay_plots.json").read_text())
    assert (plots["records"][0]["slice"], plots["records"][0]["model"]) == ({}, "candidate")
    roc = plots["records"][0]["plots"]["roc_curve"]
    # From (0, 0) (threshold None: nothing predicted positive) to (1, 1); point i predicts
    # positive iff prediction >= thresholds[i]: check each against the weighted rates.
    assert (roc["fpr"][0], roc["tpr"][0], roc["thresholds"][0]) == (0, 0, None)
    assert roc["fpr"][-1] == pytest.approx(1) and roc["tpr"][-1] == pytest.approx(1)
    y, p, w = (trips_df[c].to_numpy() for c in ("label", "prediction", "weight"))
    for t, fpr, tpr in list(zip(roc["thresholds"], roc["fpr"], roc["tpr"]))[1:]:
        positive = p >= t
        assert fpr == pytest.approx(w[positive & (y == 0)].sum() / w[y == 0].sum(), abs=1e-9)
        assert tpr == pytest.approx(w[positive & (y == 1)].sum() / w[y == 1].sum(), abs=1e-9)
    config = json.loads((out / "config.json").read_text())
    assert assay.EvalConfig.from_dict(config).label == "label"
    again = assay.load_result(str(out))
    assert again.records == result.records
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")], "temporary dirs left"


def test_quantile_buckets_split_evenly_and_match_subsets(evaluate, data_dir, trips_df, tmp_path):
    cfg = _config(slices=[{"feature": "miles", "quantiles": 4}], exact=True)
    result = evaluate(cfg, str(data_dir / "trips.parquet"), str(tmp_path / "out"))
    bounds = result.info["quantile_boundaries"]["miles"]
    assert len(bounds) == 3
    np.testing.assert_allclose(bounds, np.quantile(trips_df["miles"], [0.25, 0.5, 0.75]),
                               atol=0.05)
    counts = [result.metrics(s)["example_count"] for s in result.slices() if s]
    assert sum(counts) == N and min(counts) > 0.2 * N
    assert _check_binary_records(result, trips_df, tol_area=1e-9) == 10


def test_multi_valued_feature_puts_an_example_in_each_slice(evaluate, tmp_path):
    # tags: example i holds tags[i]; crossing with a single-valued feature.
    tags = [["a", "b"], ["a"], [], ["b", "c", "b"], ["c"], ["a", "c"]] * 50
    n = len(tags)
    rng = np.random.default_rng(3)
    label = rng.integers(0, 2, n)
    pred = rng.random(n)
    group = rng.integers(0, 2, n)
    offsets = np.concatenate([[0], np.cumsum([len(t) for t in tags])]).astype(np.int32)
    batch = pa.RecordBatch.from_arrays([
        pa.ListArray.from_arrays(pa.array(offsets), pa.array(sum(tags, []), pa.binary())),
        pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32)), pa.array(label)),
        pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32)),
                                 pa.array(pred, pa.float32())),
        pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32)), pa.array(group)),
    ], ["tags", "label", "p", "group"])
    from tfx_bsl.coders import example_coder
    path = tmp_path / "tags.tfrecord"
    demo.write_tfrecord(str(path), example_coder.RecordBatchToExamples(batch))
    cfg = {"label": "label", "models": {"candidate": {"prediction": "p"}},
           "slices": [["tags"], ["tags", "group"]], "exact": True}
    result = evaluate(cfg, str(path), str(tmp_path / "out"))
    p32 = pred.astype(np.float32).astype(np.float64)
    for tag in "abc":
        rows = [i for i, t in enumerate(tags) if tag in t]
        got = result.metrics({"tags": tag})
        assert got["example_count"] == len(rows)
        assert got["auc"] == pytest.approx(skm.roc_auc_score(label[rows], p32[rows]), abs=1e-12)
        for g in (0, 1):
            sub = [i for i in rows if group[i] == g]
            assert result.metrics({"tags": tag, "group": g})["example_count"] == len(sub)
    assert result.metrics()["example_count"] == n


def test_multiclass_and_regression_from_prediction_columns(evaluate, tmp_path):
    rng = np.random.default_rng(5)
    n, k = 3000, 4
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    region = rng.choice(["north", "south"], n)
    w = rng.uniform(0.5, 2, n)
    offsets = pa.array(np.arange(0, n * k + 1, k, dtype=np.int32))
    table = pa.table({"y": y, "region": region, "w": w,
                      "proba": pa.ListArray.from_arrays(offsets, pa.array(proba.ravel())),
                      "target": logits[:, 0] * 3 + 10, "estimate": logits[:, 0] * 2.5 + 10.3})
    pq.write_table(table, str(tmp_path / "d.parquet"))
    mc = evaluate({"label": "y", "weight": "w", "models": {"candidate": {"prediction": "proba"}},
                         "slices": [["region"]], "exact": True},
                        str(tmp_path / "d.parquet"), str(tmp_path / "mc"))
    assert mc.task == "multiclass"
    for reg in ("north", "south"):
        m = region == reg
        got = mc.metrics({"region": reg})
        assert got["accuracy"] == pytest.approx(
            skm.accuracy_score(y[m], proba[m].argmax(1), sample_weight=w[m]), rel=1e-12)
        assert got["log_loss"] == pytest.approx(
            skm.log_loss(y[m], proba[m], sample_weight=w[m], labels=range(k)), rel=1e-9)
        assert got["auc_macro"] == pytest.approx(
            skm.roc_auc_score(y[m], proba[m], multi_class="ovr", sample_weight=w[m]), rel=1e-9)
        assert got["f1_weighted"] == pytest.approx(
            skm.f1_score(y[m], proba[m].argmax(1), average="weighted", sample_weight=w[m]),
            rel=1e-9)
    matrix = mc.plots({})["confusion_matrix"]["matrix"]
    np.testing.assert_allclose(matrix, skm.confusion_matrix(y, proba.argmax(1), sample_weight=w))

    rg = evaluate({"label": "target", "models": {"candidate": {"prediction": "estimate"}},
                         "slices": [["region"]], "task": "regression"},
                        str(tmp_path / "d.parquet"), str(tmp_path / "rg"))
    t, e = table["target"].to_numpy(), table["estimate"].to_numpy()
    for reg in ("north", "south"):
        m = region == reg
        got = rg.metrics({"region": reg})
        assert got["mse"] == pytest.approx(skm.mean_squared_error(t[m], e[m]), rel=1e-9)
        assert got["mae"] == pytest.approx(skm.mean_absolute_error(t[m], e[m]), rel=1e-9)
        assert got["r2"] == pytest.approx(skm.r2_score(t[m], e[m]), rel=1e-9)
        assert got["mape"] == pytest.approx(
            skm.mean_absolute_percentage_error(t[m], e[m]), rel=1e-9)


def test_custom_metric_per_slice(evaluate, data_dir, trips_df, tmp_path):
    cfg = _config(custom_metrics=[{"class": "custom_metrics:MaxError"}], slices=[["payment"]])
    result = evaluate(cfg, str(data_dir / "trips.parquet"), str(tmp_path / "out"),
                      allow_custom_code=["custom_metrics"])
    for s in result.slices():
        sub = _subset(trips_df, s)
        for model, col in (("candidate", "prediction"), ("baseline", "old_prediction")):
            assert result.metrics(s, model)["max_error"] == pytest.approx(
                np.max(np.abs(sub[col] - sub["label"])), rel=1e-12)


# --------------------------------------------------------------------------------------------
# Bad input: clear errors, nothing half-written


def _bad_table(tmp_path, **cols):
    t = demo.make_trips(500, seed=1).to_pandas()
    for k, v in cols.items():
        t[k] = v
    path = tmp_path / "bad.parquet"
    t.to_parquet(path)
    return str(path)


def test_missing_column_names_it_and_lists_the_others(evaluate, data_dir, tmp_path):
    cfg = _config(label="lable")
    with pytest.raises(ConfigError, match=r"label column 'lable' is not in the data; did you mean "
                                          r"'label'\? \(columns: hour, day, payment"):
        evaluate(cfg, str(data_dir / "trips.parquet"), str(tmp_path / "out"))
    cfg = _config(slices=[["paymnt"]])
    with pytest.raises(ConfigError, match=r"slice feature .*'paymnt'.*did you mean 'payment'"):
        evaluate(cfg, str(data_dir / "trips.parquet"), str(tmp_path / "out"))
    cfg = _config(slices=[["paymnt"]])
    with pytest.raises(ConfigError, match=r"slice feature 'paymnt' .* is in no example"):
        evaluate(cfg, str(data_dir / "Split-eval"), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_invalid_values_are_counted_and_reported(evaluate, tmp_path):
    pred = np.random.default_rng(0).random(500)
    pred[[3, 10, 11]] = [1.5, np.nan, -0.2]
    path = _bad_table(tmp_path, prediction=pred)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("previous results")
    with pytest.raises(DataError) as err:
        evaluate(_config(), path, str(out))
    msg = str(err.value)
    assert "nothing was written" in msg
    assert "2 example(s): prediction of model 'candidate' is outside [0, 1]" in msg
    assert "1 example(s): prediction of model 'candidate' is NaN or infinite" in msg
    assert "(first: 1.5 in " in msg and "example 3)" in msg
    assert (out / "keep.txt").read_text() == "previous results"
    skipped = evaluate(_config(invalid_values="skip"), path, str(out))
    assert skipped.info["skipped_examples"] == {
        "prediction of model 'candidate' is outside [0, 1] (binary task); binary predictions "
        "are probabilities: if the model outputs logits, set transform: sigmoid, or outputs: "
        "scores to take them as TFMA does": 2,
        "prediction of model 'candidate' is NaN or infinite": 1}
    assert skipped.metrics()["example_count"] == 497
    assert skipped.metrics({}, "baseline")["example_count"] == 497


def test_label_of_the_wrong_kind(evaluate, tmp_path):
    labels = np.random.default_rng(0).integers(0, 2, 500)
    labels[7] = 2
    path = _bad_table(tmp_path, label=labels)
    with pytest.raises(DataError, match=r"1 example\(s\): label 'label' is not 0 or 1 "
                                        r"\(binary task\) \(first: 2 in .*example 7\)"):
        evaluate(_config(task="binary"), path, str(tmp_path / "out"))
    strings = np.where(labels > 0, "yes", "no")
    path = _bad_table(tmp_path, label=strings)
    with pytest.raises(ConfigError, match=r"holds strings \(e.g. '(yes|no)'\); give label_vocabulary"):
        evaluate(_config(), path, str(tmp_path / "out"))
    ok = evaluate(_config(label_vocabulary=["no", "yes"]), path, str(tmp_path / "out"))
    assert ok.task == "binary"
    assert ok.metrics()["mean_label"] == pytest.approx(
        np.average(labels > 0, weights=pd.read_parquet(path)["weight"]))


def test_corrupt_tfrecord_names_the_file(evaluate, tmp_path):
    d = tmp_path / "data"
    paths = demo.write_trips(str(d), 300, shards=2, compress=False)
    raw = bytearray(open(paths[1], "rb").read())
    raw[len(raw) // 2] ^= 0xFF
    open(paths[1], "wb").write(bytes(raw))
    with pytest.raises(Exception, match=r"corrupt TFRecord file .*data_tfrecord-00001-of-00002"):
        evaluate(_config(), str(d), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_no_examples(evaluate, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("label,prediction,old_prediction,weight\n")
    with pytest.raises(DataError, match="no examples at all in .*empty.csv"):
        evaluate(_config(slices=[]), str(path), str(tmp_path / "out"))


def test_unknown_metric_name_is_rejected(evaluate, data_dir, tmp_path):
    with pytest.raises(ConfigError, match=r"unknown metric 'acuracy' for a binary task; "
                                          r"did you mean 'accuracy'\?"):
        evaluate(_config(metrics=["auc", "acuracy"]), str(data_dir / "trips.parquet"),
                       str(tmp_path / "out"))
    result = evaluate(_config(metrics=["auc"]), str(data_dir / "trips.parquet"),
                            str(tmp_path / "out"))
    assert set(result.metrics()) == {"auc", "example_count", "weighted_example_count"}
