"""TFMA's files in assay's results (assay.results.tfma_files), read by TFMA 0.47's own readers.

The references are TFMA itself: its readers (load_eval_result, load_metrics, load_plots,
load_validation_result, load_eval_results), its dataframes, TFX's InteractiveContext.show, and
one TFMA run (tfma.run_model_analysis, model-agnostic) on the same examples, whose slice keys,
withheld slices, example counts and binary_accuracy assay's files must reproduce. Counts on the
data (numpy) and scikit-learn check the plots.
"""

from __future__ import annotations

import builtins
import json
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import tensorflow_model_analysis as tfma

from object_store import ObjectStore  # noqa: E402  (registers memobj://)

import assay  # noqa: E402
from assay.config.schema import EvalConfig  # noqa: E402
from assay.config.tfma import from_tfma  # noqa: E402
from assay.data.tfrecord import encode_examples  # noqa: E402
from assay.errors import ConfigError, ConfigTypeError  # noqa: E402
from assay.results import tfma_files  # noqa: E402
from assay.results.tfma_metrics import metrics_for_slices  # noqa: E402

N = 400
MIN_SLICE = 30
TFMA_SLICES = [[], ["payment"], ["payment", "hour"]]
BINARY = {
    "label": "label",
    "models": {"candidate": {"prediction": "prediction"},
               "baseline": {"prediction": "old_prediction"}},
    "slices": TFMA_SLICES + [[{"feature": "miles", "boundaries": [5, 10]}]],
    "min_slice_size": MIN_SLICE, "decision_thresholds": [0.5, 0.7],
    "thresholds": [{"metric": "auc", "min": 0.9, "max_regression": 0.01},
                   {"metric": "recall", "min": 0.75, "slices": [["payment"]]},
                   {"metric": "log_loss", "max_regression": {"relative": 0.05}}]}
TFMA_CONFIG = """
model_specs { name: "candidate" label_key: "label" prediction_key: "prediction" }
model_specs { name: "baseline" label_key: "label" prediction_key: "old_prediction"
              is_baseline: true }
slicing_specs {}
slicing_specs { feature_keys: "payment" }
slicing_specs { feature_keys: ["payment", "hour"] }
metrics_specs { metrics { class_name: "ExampleCount" } metrics { class_name: "BinaryAccuracy" } }
options { min_slice_size { value: 30 } }
"""


def _frame_file(path, df):
    batch = pa.RecordBatch.from_pandas(df, preserve_index=False)
    with open(path, "wb") as f:
        f.write(b"".join(tfma_files.frame(r) for r in encode_examples(batch)))
    return str(path)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    rng = np.random.default_rng(18)
    y = rng.integers(0, 2, N)
    df = pd.DataFrame({
        "label": y,
        "prediction": np.round(np.clip(0.3 * y + rng.random(N) * 0.7, 0, 1), 3),
        "old_prediction": np.round(np.clip(0.15 * y + rng.random(N) * 0.85, 0, 1), 3),
        "payment": rng.choice(["cash", "card", "mobile"], N, p=[.45, .45, .1]),
        "hour": rng.integers(0, 4, N),
        "miles": np.round(rng.random(N) * 20, 2),
    })
    root = tmp_path_factory.mktemp("tfma_output")
    return df, _frame_file(root / "data.tfrecord", df), root


@pytest.fixture(scope="module")
def binary(data):
    df, path, root = data
    out = str(root / "binary")
    result = assay.evaluate(BINARY, path, out, write_report=False)
    return out, result


@pytest.fixture(scope="module")
def tfma_run(data):
    """TFMA's own evaluation of the same examples (model-agnostic: prediction_key)."""
    from google.protobuf import text_format

    _, path, root = data
    out = str(root / "tfma")
    config = text_format.Parse(TFMA_CONFIG, tfma.EvalConfig())
    tfma.run_model_analysis(eval_config=config, data_location=path, output_path=out)
    return out


def _slice(key_proto):
    from tensorflow_model_analysis.slicer import slicer_lib

    return slicer_lib.deserialize_slice_key(key_proto)


def _by_slice(path):
    """{slice key tuple: MetricsForSlice} as TFMA's load_metrics reads them."""
    return {_slice(m.slice_key): m for m in tfma.load_metrics(path)}


def _values(m):
    """{(model, name, is_diff): value} of a MetricsForSlice's double values."""
    return {(kv.key.model_name, kv.key.name, kv.key.is_diff): kv.value.double_value.value
            for kv in m.metric_keys_and_values if kv.value.HasField("double_value")}


def _labels_and_scores(df):
    """The labels and the candidate's predictions as assay read them: a tf.Example holds
    float32 values, so the comparisons with thresholds are made on those."""
    return df.label.to_numpy(), df.prediction.to_numpy().astype(np.float32).astype(np.float64)


def _tuple(slice_):
    return tuple(sorted(slice_.items()))


def _same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-12, abs=1e-12)


# --------------------------------------------------------------------------------------------
# The files TFMA's globs find, and what its own run writes

def test_file_names_are_those_tfma_writes_and_globs_find_only_them(binary, tfma_run):
    import glob

    out, _ = binary
    ours, theirs = set(os.listdir(out)), set(os.listdir(tfma_run))
    assert theirs - ours == {"attributions-00000-of-00001.tfrecord"}  # assay has none
    for key in ("metrics", "plots", "validations"):
        found = {os.path.basename(p) for p in glob.glob(os.path.join(out, key + "*"))}
        assert found == {os.path.basename(p) for p in glob.glob(os.path.join(tfma_run, key + "*"))}


def test_slice_keys_withheld_slices_and_counts_match_tfmas_own_run(binary, tfma_run):
    ours, theirs = _by_slice(binary[0]), _by_slice(tfma_run)
    bucketed = {k for k in ours if k and k[0][0] == "miles"}
    assert set(ours) - bucketed == set(theirs)
    withheld = [k for k, m in theirs.items() if "__ERROR__" in m.metrics]
    assert withheld  # the data has slices under min_slice_size (payment=mobile by hour)
    for key, m in theirs.items():
        if key in withheld:
            assert ours[key].metrics["__ERROR__"].debug_message == \
                m.metrics["__ERROR__"].debug_message
            assert not ours[key].metric_keys_and_values
            continue
        theirs_values, our_values = _values(m), _values(ours[key])
        for model in ("candidate", "baseline"):
            assert our_values[(model, "example_count", False)] == \
                theirs_values[(model, "example_count", False)]
            # TFMA's BinaryAccuracy, computed by TFMA: assay's accuracy.
            assert our_values[(model, "accuracy", False)] == pytest.approx(
                theirs_values[(model, "binary_accuracy", False)], abs=1e-9)
        assert our_values[("candidate", "accuracy", True)] == pytest.approx(
            theirs_values[("candidate", "binary_accuracy", True)], abs=1e-9)


def test_a_translated_config_writes_the_names_tfma_writes(data, tfma_run):
    from google.protobuf import text_format

    df, path, root = data
    config = from_tfma(text_format.Parse(TFMA_CONFIG, tfma.EvalConfig()))
    assert config["tfma_names"]["accuracy"] == "binary_accuracy"
    out = str(root / "translated")
    assay.evaluate(config, path, out, write_report=False)
    ours, theirs = _by_slice(out), _by_slice(tfma_run)
    for key, m in theirs.items():
        if "__ERROR__" in m.metrics:
            continue
        theirs_values, our_values = _values(m), _values(ours[key])
        for k, v in theirs_values.items():
            assert our_values[k] == pytest.approx(v, abs=1e-9), (key, k)
        assert not any(name == "accuracy" for _, name, _ in our_values)  # renamed


# --------------------------------------------------------------------------------------------
# TFMA's readers give assay's values

def test_load_eval_result_gives_every_value_of_every_slice_model_and_diff(binary):
    out, result = binary
    for model in ("candidate", "baseline"):
        loaded = tfma.load_eval_result(out, model_name=model)
        by_key = dict(loaded.slicing_metrics)
        records = [r for r in result.records if r["model"] == model and "metrics" in r]
        # A withheld slice has no model's metrics: TFMA's reader leaves it out for a named model
        # (as for a TFMA run), so every slice read is one with metrics.
        assert len(records) == len(by_key)
        for r in records:
            seen = by_key[_tuple(r["slice"])][""][""]
            for name, value in r["metrics"].items():
                assert _same(seen[name]["doubleValue"], value), (r["slice"], model, name)
    diffs = dict(tfma.load_eval_result(out, model_name="candidate").slicing_metrics)
    for r in (r for r in result.records if r["model"] == "diff" and "metrics" in r):
        for name, value in r["metrics"].items():
            assert _same(diffs[_tuple(r["slice"])][""][""][name + "_diff"]["doubleValue"], value)


def test_bucketed_slices_carry_their_interval_labels(binary, data):
    df = data[0]
    ours = _by_slice(binary[0])
    for label, (lo, hi) in (("(-inf, 5)", (-np.inf, 5)), ("[5, 10)", (5, 10)),
                            ("[10, inf)", (10, np.inf))):
        count = int(((df.miles >= lo) & (df.miles < hi)).sum())
        assert _values(ours[(("miles", label),)])[("candidate", "example_count", False)] == count


def test_confusion_matrices_at_the_decision_thresholds_count_the_data(binary, data):
    df = data[0]
    y, p = _labels_and_scores(df)
    overall = _by_slice(binary[0])[()]
    cms = [kv.value.confusion_matrix_at_thresholds for kv in overall.metric_keys_and_values
           if kv.key.name == "confusion_matrix_at_thresholds" and kv.key.model_name == "candidate"]
    assert len(cms) == 1 and [m.threshold for m in cms[0].matrices] == [0.5, 0.7]
    for m in cms[0].matrices:
        positive = p > m.threshold  # TFMA's and assay's rule at a decision threshold
        tp, fp = float((positive & (y == 1)).sum()), float((positive & (y == 0)).sum())
        tn, fn = float((~positive & (y == 0)).sum()), float((~positive & (y == 1)).sum())
        assert (m.true_positives, m.false_positives, m.true_negatives, m.false_negatives) == \
            (tp, fp, tn, fn)
        assert m.precision == pytest.approx(tp / (tp + fp))
        assert m.recall == pytest.approx(tp / (tp + fn))


def test_plots_hold_the_calibration_histogram_and_the_roc_curve_counts(binary, data):
    df = data[0]
    y, p = _labels_and_scores(df)
    plots = {_slice(x.slice_key): x for x in tfma.load_plots(binary[0])}
    (kv,) = [kv for kv in plots[()].plot_keys_and_values if kv.key.model_name == "candidate"]
    assert kv.key.name == ""  # TFMA merges its calibration and confusion plots under one key
    buckets = kv.value.calibration_histogram_buckets.buckets
    ids = np.minimum(np.floor(p * 10), 9).astype(int)  # ten equal-width bins
    assert [b.num_weighted_examples.value for b in buckets] == \
        np.bincount(ids, minlength=10).astype(float).tolist()
    assert [b.total_weighted_label.value for b in buckets] == pytest.approx(
        np.bincount(ids, y, minlength=10))
    assert [b.total_weighted_refined_prediction.value for b in buckets] == pytest.approx(
        np.bincount(ids, p, minlength=10))
    matrices = kv.value.confusion_matrix_at_thresholds.matrices
    assert len(matrices) > 50
    for m in matrices:
        positive = p >= m.threshold  # a curve point's own rule
        assert m.true_positives == pytest.approx((positive & (y == 1)).sum())
        assert m.false_positives == pytest.approx((positive & (y == 0)).sum())
        assert m.true_negatives == pytest.approx((~positive & (y == 0)).sum())
        assert m.false_negatives == pytest.approx((~positive & (y == 1)).sum())
    # A withheld slice has an empty PlotsForSlice, as TFMA writes one.
    metrics = _by_slice(binary[0])
    withheld = [k for k, m in metrics.items() if "__ERROR__" in m.metrics]
    assert withheld and all(not plots[k].plot_keys_and_values for k in withheld)
    loaded = tfma.load_eval_result(binary[0], model_name="candidate")
    assert dict(loaded.plots)[()][""][""]["calibrationHistogramBuckets"]["buckets"]


def test_load_validation_result_gives_the_verdict_and_names_each_failure(binary):
    out, result = binary
    v = tfma.load_validation_result(out)
    assert v.validation_ok is result.validation["blessed"] is False
    failed = {(_tuple(c["slice"]), c["metric"], c["kind"].startswith("max_regression"))
              for c in result.validation["checks"] if c["status"] == "fail"}
    assert failed
    seen = {(_slice(s.slice_key), f.metric_key.name, f.metric_key.is_diff)
            for s in v.metric_validations_per_slice for f in s.failures}
    assert seen == failed
    (auc,) = [f for s in v.metric_validations_per_slice for f in s.failures
              if f.metric_key.name == "auc" and not f.metric_key.is_diff]
    assert auc.metric_threshold.value_threshold.lower_bound.value == 0.9
    assert auc.metric_value.double_value.value == result.metrics()["auc"]
    assert auc.message.startswith("auc is ") and auc.metric_key.model_name == "candidate"


def test_eval_config_json_is_tfmas_eval_run(binary, data):
    out, _ = binary
    loaded = tfma.load_eval_result(out)
    config = loaded.config
    assert [(m.name, m.prediction_key, m.is_baseline) for m in config.model_specs] == \
        [("candidate", "prediction", False), ("baseline", "old_prediction", True)]
    assert config.options.min_slice_size.value == MIN_SLICE
    assert [list(s.feature_keys) for s in config.slicing_specs] == TFMA_SLICES + [["miles"]]
    (spec,) = config.metrics_specs
    assert spec.thresholds["auc"].value_threshold.lower_bound.value == 0.9
    change = spec.thresholds["auc"].change_threshold
    assert change.absolute.value == -0.01 and \
        change.direction == tfma.MetricDirection.HIGHER_IS_BETTER
    log_loss = spec.thresholds["log_loss"].change_threshold
    assert log_loss.relative.value == 0.05 and \
        log_loss.direction == tfma.MetricDirection.LOWER_IS_BETTER
    (recall,) = spec.per_slice_thresholds["recall"].thresholds
    assert list(recall.slicing_specs[0].feature_keys) == ["payment"]
    assert loaded.data_location == data[1] and loaded.file_format == "tfrecord"
    results = tfma.load_eval_results(out)  # one per model named in model_locations
    assert len(results.get_results()) == 2


def test_dataframes_hold_every_value(binary):
    from tensorflow_model_analysis.experimental import dataframe

    out, result = binary
    frames = dataframe.metrics_as_dataframes(list(tfma.load_metrics(out)))
    df = frames.double_value
    assert len(df) == sum(len(r["metrics"]) for r in result.records if "metrics" in r)
    keys = df["metric_keys"]
    row = df[(keys["name"] == "auc") & (keys["model_name"] == "candidate") & (~keys["is_diff"])]
    assert sorted(row["metric_values"]["double_value"]) == sorted(
        r["metrics"]["auc"] for r in result.records
        if r["model"] == "candidate" and "metrics" in r)
    plots = dataframe.plots_as_dataframes(list(tfma.load_plots(out)))
    # Every example of every slice with metrics in some bucket, once per model (two models).
    assert plots.calibration_histogram_buckets["plot_data"][
        "num_weighted_examples"].sum() == pytest.approx(
            2 * sum(r["metrics"]["example_count"] for r in result.records
                    if r["model"] == "candidate" and "metrics" in r))


# --------------------------------------------------------------------------------------------
# Multi-class and regression

def test_multiclass_confusion_matrix_plot_is_sklearns(tmp_path):
    from sklearn.metrics import confusion_matrix

    rng = np.random.default_rng(7)
    n, names = 150, ["a", "b", "c"]
    label = rng.integers(0, 3, n)
    scores = rng.random((n, 3)) + np.eye(3)[label] * 0.6
    scores /= scores.sum(1, keepdims=True)
    df = pd.DataFrame({"label": [names[i] for i in label], "p0": scores[:, 0],
                       "p1": scores[:, 1], "p2": scores[:, 2]})
    df.to_csv(tmp_path / "mc.csv", index=False)
    out = str(tmp_path / "out")
    result = assay.evaluate({"label": "label", "label_vocabulary": names,
                             "models": {"candidate": {"prediction": ["p0", "p1", "p2"]}}},
                            str(tmp_path / "mc.csv"), out, write_report=False)
    (plots,) = list(tfma.load_plots(out))
    (kv,) = plots.plot_keys_and_values
    assert kv.key.name == "multi_class_confusion_matrix_plot"
    (matrix,) = kv.value.multi_class_confusion_matrix_at_thresholds.matrices
    got = np.zeros((3, 3))
    for e in matrix.entries:
        got[e.actual_class_id, e.predicted_class_id] = e.num_weighted_examples
    assert matrix.threshold == 0.0
    assert got.tolist() == confusion_matrix(label, scores.argmax(1)).astype(float).tolist()
    loaded = dict(tfma.load_eval_result(out).slicing_metrics)[()][""][""]
    for name, value in result.metrics().items():
        assert _same(loaded[name]["doubleValue"], value)


def test_regression_values_are_read_back_and_residuals_have_no_tfma_plot(tmp_path):
    rng = np.random.default_rng(3)
    y = rng.random(120) * 10
    df = pd.DataFrame({"label": y, "pred": y + rng.normal(0, 1, 120), "g": rng.integers(0, 2, 120)})
    df.to_csv(tmp_path / "r.csv", index=False)
    out = str(tmp_path / "out")
    result = assay.evaluate({"label": "label", "task": "regression", "slices": [[], ["g"]],
                             "models": {"candidate": {"prediction": "pred"}}},
                            str(tmp_path / "r.csv"), out, write_report=False)
    loaded = dict(tfma.load_eval_result(out).slicing_metrics)
    assert set(loaded) == {(), (("g", 0),), (("g", 1),)}
    assert loaded[()][""][""]["mse"]["doubleValue"] == pytest.approx(
        float(np.mean((df.pred - y) ** 2)))
    for r in result.records:
        for name, value in r["metrics"].items():
            assert _same(loaded[_tuple(r["slice"])][""][""][name]["doubleValue"], value)
    assert all(not p.plot_keys_and_values for p in tfma.load_plots(out))
    assert tfma.load_validation_result(out).missing_thresholds is True


# --------------------------------------------------------------------------------------------
# tfma_names, weights, the protos, remote outputs, TFX's InteractiveContext

def test_tfma_names_are_checked_and_round_trip():
    base = {"label": "y", "models": {"candidate": {"prediction": "p"}}}
    cfg = EvalConfig.from_dict({**base, "tfma_names": {"accuracy": "binary_accuracy"}})
    assert dict(cfg.tfma_names) == {"accuracy": "binary_accuracy"}
    assert EvalConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert "tfma_names" not in EvalConfig.from_dict(base).to_dict()
    with pytest.raises(ConfigTypeError, match=r"'tfma_names': each TFMA metric name must be a "
                                              r"string \(got 1, a int"):
        EvalConfig.from_dict({**base, "tfma_names": {"accuracy": 1}})
    with pytest.raises(ConfigTypeError, match="'tfma_names' must be a mapping"):
        EvalConfig.from_dict({**base, "tfma_names": "accuracy"})
    with pytest.raises(ConfigError, match="'tfma_names': an empty assay metric name"):
        EvalConfig.from_dict({**base, "tfma_names": {"": "auc"}})


def test_keys_carry_example_weighted_and_a_translated_name_shadows_assays_own():
    doc = {"records": [{"slice": {"flag": True}, "model": "candidate",
                        "metrics": {"auc": 0.7, "auc_tfma": 0.69, "example_count": 5}}]}
    (m,) = metrics_for_slices(doc, {"auc_tfma": "auc"}, weighted=True)
    keys = {kv.key.name: kv for kv in m.metric_keys_and_values}
    assert set(keys) == {"auc", "example_count"} and keys["auc"].value.double_value.value == 0.69
    assert keys["auc"].key.example_weighted.value is True
    assert keys["example_count"].key.HasField("example_weighted")
    assert keys["example_count"].key.example_weighted.value is False
    assert m.slice_key.single_slice_keys[0].int64_value == 1  # a bool, as TFMA writes it


def test_a_benchmark_models_diff_is_keyed_by_that_model(tmp_path):
    records = [{"slice": {}, "model": m, "metrics": {"auc": v}} for m, v in
               (("candidate", 0.8), ("baseline", 0.7), ("previous", 0.75), ("diff", 0.1),
                ("diff:previous", 0.05))]
    (tmp_path / tfma_files.METRICS_FILE).write_bytes(
        tfma_files.tfrecord_bytes(metrics_for_slices({"records": records})))
    for model, value, diff in (("candidate", 0.8, 0.1), ("previous", 0.75, 0.05)):
        (loaded,) = tfma.load_eval_result(str(tmp_path), model_name=model).slicing_metrics
        assert loaded[1][""][""] == {"auc": {"doubleValue": value},
                                     "auc_diff": {"doubleValue": diff}}
    (loaded,) = tfma.load_eval_result(str(tmp_path), model_name="baseline").slicing_metrics
    assert loaded[1][""][""] == {"auc": {"doubleValue": 0.7}}


def test_an_interval_is_read_as_tfmas_bounded_value(tmp_path):
    doc = {"records": [{"slice": {}, "model": "candidate", "metrics": {"auc": 0.7},
                        "intervals": {"auc": [0.65, 0.74]}}]}
    (tmp_path / tfma_files.METRICS_FILE).write_bytes(
        tfma_files.tfrecord_bytes(metrics_for_slices(doc)))
    (loaded,) = tfma.load_eval_result(str(tmp_path)).slicing_metrics
    assert loaded[1][""][""]["auc"] == {"boundedValue": {
        "lowerBound": 0.65, "upperBound": 0.74, "value": 0.7}}


@pytest.mark.parametrize("first", ["assay", "tfma"])
def test_the_vendored_protos_and_tfmas_live_in_one_process(first, binary):
    path = os.path.join(binary[0], tfma_files.METRICS_FILE)  # the fixture writes it first
    imports = {"assay": "from assay.results.tfma_proto import metrics_for_slice_pb2 as ours",
               "tfma": "import tensorflow_model_analysis as tfma"}
    script = "\n".join([imports[first], imports["assay" if first == "tfma" else "tfma"], """
        import sys
        from tensorflow_model_analysis.proto import metrics_for_slice_pb2 as theirs
        assert ours.MetricsForSlice is not theirs.MetricsForSlice
        m = ours.MetricsForSlice(); m.slice_key.single_slice_keys.add(column="x", int64_value=3)
        back = theirs.MetricsForSlice.FromString(m.SerializeToString())
        assert back.slice_key.single_slice_keys[0].int64_value == 3
        print(len(list(tfma.load_metrics(sys.argv[1]))))
    """.replace("\n        ", "\n")])
    done = subprocess.run([sys.executable, "-c", script, path], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) > 10


def test_writing_tfmas_files_imports_no_tensorflow(data):
    script = textwrap.dedent("""
        import sys, assay
        assay.evaluate({"label": "label", "models": {"candidate": {"prediction": "prediction"}},
                        "slices": [["payment"]]}, sys.argv[1], sys.argv[2], write_report=False)
        import os
        assert "metrics-00000-of-00001.tfrecord" in os.listdir(sys.argv[2])
        print(sorted(m for m in sys.modules if m.split(".")[0] in
                     ("tensorflow", "tensorflow_model_analysis", "apache_beam")))
    """)
    out = os.path.join(str(data[2]), "no_tf")
    done = subprocess.run([sys.executable, "-c", script, data[1], out], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[-2] == "[]"


def test_on_an_object_store_the_tfma_files_are_part_of_the_commit(data, binary):
    df, _, root = data
    ObjectStore.objects.clear()
    try:
        out = "memobj://bucket/tfma"
        assay.evaluate(BINARY, data[1], out, write_report=False)
        commit = json.loads(ObjectStore.objects[f"{out}/_ASSAY_COMMIT.json"])
        assert set(tfma_files.TFMA_FILES) <= set(commit["files"])
        generation = f"{out}/.runs/{commit['run']}"
        remote = ObjectStore.objects[f"{generation}/{tfma_files.METRICS_FILE}"]
        local = open(os.path.join(binary[0], tfma_files.METRICS_FILE), "rb").read()
        assert remote == local
    finally:
        ObjectStore.objects.clear()


def test_interactive_context_show_renders_the_tfx_components_evaluation(data, monkeypatch):
    import IPython.core.display as ipython_display
    from tfx.components import CsvExampleGen
    from tfx.orchestration.experimental.interactive.interactive_context import \
        InteractiveContext

    from assay.tfx import Evaluator

    df, _, root = data
    os.makedirs(root / "csv", exist_ok=True)
    df.to_csv(root / "csv" / "data.csv", index=False)
    monkeypatch.setattr(builtins, "__IPYTHON__", True, raising=False)  # as in a notebook
    shown = []
    monkeypatch.setattr(ipython_display, "display", lambda *a, **k: shown.append(a[0]))
    context = InteractiveContext(pipeline_root=str(root / "ic"),
                                 metadata_connection_config=None)
    gen = CsvExampleGen(input_base=str(root / "csv"))
    context.run(gen)
    evaluator = Evaluator(examples=gen.outputs["examples"],
                          config={k: v for k, v in BINARY.items() if k != "thresholds"})
    context.run(evaluator)
    context.show(evaluator.outputs["evaluation"])
    viewer = shown[-1]
    assert type(viewer).__name__ == "SlicingMetricsViewer"
    overall = next(d for d in viewer.data if d["slice"] == "Overall")
    uri = evaluator.outputs["evaluation"].get()[0].uri
    assert overall["metrics"][""][""]["auc"]["doubleValue"] == \
        assay.load_result(uri).metrics()["auc"]
