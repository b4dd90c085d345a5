"""TFMA's metric classes in assay: translated from a tfma.EvalConfig and computed with TFMA 0.47's
semantics (assay.metrics.tfma_family), checked against TFMA itself and scikit-learn.

One TFMA run (model-agnostic: ModelSpec(label_key, prediction_key, example_weight_key) on a
TFRecord of tf.Examples written here) computes every metric below on every slice; assay then
evaluates the same file with from_tfma(the same eval_config), and each TFMA value must equal
assay's under the name the translation records in `tfma_names`.

Tolerances, and why:
  * TOL (1e-9, relative and absolute): everything TFMA computes in float64 numpy (confusion
    counts and their formulas, the calibration histogram behind the AUCs and curve points, the
    sums behind the regression extras): the same arithmetic, summed in another order.
  * KERAS_TOL (2e-5 relative): Keras' BinaryCrossentropy, which TFMA runs in TensorFlow in
    float32 (per-example losses and their weighted total); assay computes the same float32
    per-example losses and sums them in float64, so only the total's float32 rounding differs
    (2e-5 is about 200 float32 ulps of a sum of 1500 terms).
  * FLOAT32_TOL (1e-6 relative): TFMA's MeanSquaredLogarithmicError (and its mean errors)
    computes each example's error on the float32 label and prediction arrays, in float32
    (eps 6e-8); assay computes in float64, as scikit-learn does (checked to 1e-12 below).
    Measured: 5e-8 (MSLE, small slice), 1.7e-9 (MSE).
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

from assay.config.tfma import TfmaConfigError, from_tfma
from assay.config.tfma_metrics import METRIC_NAMES, Translation, default_metric_name
from assay.metrics.batch import ModelBatch
from assay.metrics.registry import metric_direction, metric_info
from assay.metrics.tfma_family import TfmaMetrics, keras_binary_crossentropy
from assay.metrics.tfma_names import parse_tfma_name, tfma_metric_info

TOL = 1e-9
KERAS_TOL = 2e-5
FLOAT32_TOL = 1e-6
N = 1500
TINY = 25  # examples in the small slice

# (class_name, config) of every metric the TFMA run computes; names are unique per spec.
FORMULAS = ["Specificity", "TNR", "FallOut", "FPR", "MissRate", "FNR", "NegativePredictiveValue",
            "NPV", "FalseDiscoveryRate", "FalseOmissionRate", "Prevalence",
            "PrevalenceThreshold", "ThreatScore", "BalancedAccuracy",
            "MatthewsCorrelationCoefficient", "FowlkesMallowsIndex", "Informedness",
            "Markedness", "PositiveLikelihoodRatio", "NegativeLikelihoodRatio",
            "DiagnosticOddsRatio", "PredictedPositiveRate"]
BINARY_METRICS = [(c, {}) for c in FORMULAS] + [
    ("MatthewsCorrelationCoefficient", {"thresholds": 0.3, "name": "mcc_at_0.3"}),
    ("Specificity", {"thresholds": [0.3], "name": "specificity_at_0.3"}),
    ("FallOut", {"thresholds": 0.7, "name": "fall_out_at_0.7"}),
    ("Precision", {}), ("PPV", {}), ("Recall", {"thresholds": 0.3}), ("TPR", {}),
    ("F1Score", {}), ("BinaryAccuracy", {}), ("TP", {}), ("FN", {"thresholds": 0.3}),
    ("AUC", {}), ("AUC", {"num_thresholds": 200, "name": "auc_200"}),
    ("AUC", {"curve": "PR", "name": "auc_pr_curve"}), ("AUCPrecisionRecall", {}),
    ("BinaryCrossentropy", {}), ("MaxRecall", {}),
    ("PrecisionAtRecall", {"recall": 0.7}), ("RecallAtPrecision", {"precision": 0.8}),
    ("SensitivityAtSpecificity", {"specificity": 0.6}),
    ("SpecificityAtSensitivity", {"sensitivity": 0.6, "num_thresholds": 300}),
    ("RecallAtFalsePositiveRate", {"false_positive_rate": 0.2}),
    ("MeanSquaredLogarithmicError", {}), ("SquaredPearsonCorrelation", {}),
    ("CoefficientOfDiscrimination", {}), ("RelativeCoefficientOfDiscrimination", {}),
    ("ExampleCount", {}), ("WeightedExampleCount", {}), ("MeanLabel", {}),
    ("MeanPrediction", {}), ("Calibration", {}),
    ("ConfusionMatrixAtThresholds", {"thresholds": [0.25, 0.5]}),
    ("ScoreDistributionPlot", {}),  # a plot: test_score_distribution_plot_equals_tfmas
]
PLOTS = {"score_distribution_plot"}
TOLERANCE = {"binary_crossentropy": KERAS_TOL, "mean_squared_logarithmic_error": FLOAT32_TOL,
             "mean_squared_error": FLOAT32_TOL, "mean_absolute_error": FLOAT32_TOL}


def binary_data(seed=7):
    """Labels, predictions and weights with ties, saturated predictions (0, 1 and 1e-9, where
    Keras' clipping matters) and a slice feature with a small slice."""
    rng = np.random.default_rng(seed)
    y = (rng.random(N) < 0.4).astype(np.float64)
    p = 1 / (1 + np.exp(-(1.6 * (2 * y - 1) + rng.normal(0, 1.5, N))))
    p[:300] = np.round(p[:300], 2)  # ties
    p[300:310], p[310:320], p[320:330] = 0.0, 1.0, 1e-9
    p = p.astype(np.float32).astype(np.float64)  # what a tf.Example float holds
    w = rng.uniform(0.5, 2.0, N).astype(np.float32).astype(np.float64)
    region = np.where(np.arange(N) < TINY, "tiny",
                      np.where(rng.random(N) < 0.5, "north", "south"))
    return y, p, w, region


def write_tfrecord(path, y, p, w, region):
    import tensorflow as tf

    with tf.io.TFRecordWriter(path) as writer:
        for yi, pi, wi, ri in zip(y, p, w, region):
            ex = tf.train.Example(features=tf.train.Features(feature={
                "label": tf.train.Feature(float_list=tf.train.FloatList(value=[yi])),
                "score": tf.train.Feature(float_list=tf.train.FloatList(value=[pi])),
                "w": tf.train.Feature(float_list=tf.train.FloatList(value=[wi])),
                "region": tf.train.Feature(bytes_list=tf.train.BytesList(
                    value=[ri.encode()]))}))
            writer.write(ex.SerializeToString())


def eval_config_json(metrics):
    return {"model_specs": [{"label_key": "label", "prediction_key": "score",
                             "example_weight_key": "w"}],
            "slicing_specs": [{}, {"feature_keys": ["region"]}],
            "metrics_specs": [{"metrics": [{"class_name": c, "config": json.dumps(cfg)}
                                           for c, cfg in metrics]}]}


def tfma_values(tfma, eval_config, data, output):
    """{slice (dict): {TFMA metric name: value}} of a model-agnostic TFMA run."""
    from google.protobuf import json_format

    proto = json_format.ParseDict(eval_config, tfma.EvalConfig())
    tfma.run_model_analysis(eval_config=proto, data_location=data, output_path=output)
    out = {}
    for key, by_output in tfma.load_eval_result(output).slicing_metrics:
        values = {}
        for name, value in by_output[""][""].items():
            if "doubleValue" in value:
                values[name] = value["doubleValue"]
            elif "confusionMatrixAtThresholds" in value:
                values[name] = value["confusionMatrixAtThresholds"]
        out[json.dumps(dict((k, v.decode() if isinstance(v, bytes) else v) for k, v in key),
                       sort_keys=True)] = values
    return out


@pytest.fixture(scope="module")
def binary_run(tmp_path_factory):
    """(TFMA's values, assay's EvalResult, the translated config, the data) on one file."""
    import tensorflow_model_analysis as tfma
    import assay

    root = tmp_path_factory.mktemp("tfma_metrics")
    data = binary_data()
    path = str(root / "data.tfrecord")
    write_tfrecord(path, *data)
    raw = eval_config_json(BINARY_METRICS)
    expected = tfma_values(tfma, raw, path, str(root / "tfma"))
    cfg = from_tfma(raw)
    result = assay.evaluate(cfg, path, str(root / "assay"), engine="local", workers=1,
                            write_report=False)
    return expected, result, cfg, data


def _close(a, b, tol):
    a, b = (float(v) if isinstance(v, str) else v for v in (a, b))  # proto JSON: "NaN"
    if a is None or b is None or (isinstance(a, float) and math.isnan(a)):
        return (a is None or math.isnan(a)) and (b is None or math.isnan(b))
    return abs(a - b) <= tol * max(1.0, abs(b))


def test_every_tfma_metric_on_every_slice_equals_assays(binary_run):
    expected, result, cfg, _ = binary_run
    # {TFMA key: assay name}, per metric (tfma_names keeps one TFMA name per assay metric: here
    # PPV and Precision are both assay's precision).
    tr = Translation()
    tr.weight = "w"
    by_tfma = dict(tr.metric("", m)[:2] for m in eval_config_json(BINARY_METRICS)[
        "metrics_specs"][0]["metrics"])
    assert all(by_tfma[t] == a for a, t in cfg["tfma_names"].items())
    assert len(expected) == 4  # overall, north, south, tiny
    compared = set()
    for slice_json, values in expected.items():
        ours = result.metrics(json.loads(slice_json))
        for tfma_name, value in values.items():
            if tfma_name == "confusion_matrix_at_thresholds":
                for m in value["matrices"]:
                    t = m.get("threshold", 0.0)
                    for field, short in (("truePositives", "tp"), ("falsePositives", "fp"),
                                         ("trueNegatives", "tn"), ("falseNegatives", "fn")):
                        assert _close(ours[f"{short}@{t:g}"], m.get(field, 0.0), TOL)
                compared.add(tfma_name)
                continue
            name = by_tfma[tfma_name]
            tol = TOLERANCE.get(tfma_name, TOL)
            assert _close(ours[name], value, tol), (slice_json, tfma_name, name, ours[name],
                                                    value)
            compared.add(tfma_name)
    # Every configured metric was compared (MetricConfig names, or the class defaults).
    configured = {cfg_.get("name") or default_metric_name(c) for c, cfg_ in BINARY_METRICS}
    assert configured - PLOTS == compared


def _score_distributions(tfma, output):
    """{slice (JSON): [(threshold, weight above, weight at or below)]} of TFMA's plots file."""
    out = {}
    for plots in tfma.load_plots(output):
        key = json.dumps({k: v.decode() if isinstance(v, bytes) else v
                          for k, v in tfma.slicer.deserialize_slice_key(plots.slice_key)},
                         sort_keys=True)
        for kv in plots.plot_keys_and_values:
            if kv.key.name == "score_distribution_plot":
                out[key] = [(m.threshold, m.true_positives, m.true_negatives)
                            for m in kv.value.confusion_matrix_at_thresholds.matrices]
    return out


def test_score_distribution_plot_equals_tfmas(binary_run):
    """TFMA's ScoreDistributionPlot (1002 thresholds) in TFMA's own run, in the TFMA plots file
    assay writes, in assay_plots.json, and counted here with numpy: all the same."""
    import tensorflow_model_analysis as tfma

    _, result, _, (y, p, w, region) = binary_run
    theirs = _score_distributions(tfma, os.path.join(os.path.dirname(result.path), "tfma"))
    ours = _score_distributions(tfma, result.path)
    assert len(theirs) == 4 and set(ours) == set(theirs)
    thresholds = [-1e-6] + [i / 1000 for i in range(1001)]
    for slice_json, matrices in theirs.items():
        rows = np.ones(len(y), bool)
        for k, v in json.loads(slice_json).items():
            rows &= region == v
        # Independent count: TFMA folds each matrix to (weight above t, weight at or below t).
        counted = [(t, w[rows & (p > t)].sum(), w[rows & (p <= t)].sum()) for t in thresholds]
        assert len(matrices) == len(ours[slice_json]) == len(counted) == 1002
        for a, b, c in zip(matrices, ours[slice_json], counted):
            assert a[0] == pytest.approx(b[0], abs=1e-12) == pytest.approx(c[0], abs=1e-12)
            for i in (1, 2):
                # TFMA's sums differ from float64 ones by ~1e-9 relative (summation order).
                assert a[i] == pytest.approx(b[i], rel=FLOAT32_TOL), (slice_json, a, b)
                assert b[i] == pytest.approx(c[i], rel=1e-9, abs=1e-9), (slice_json, b, c)
        plot = result.plots(json.loads(slice_json))["score_distribution_plot"]
        assert plot["weight_above"] == [m[1] for m in ours[slice_json]]


REGRESSION_METRICS = [("MeanSquaredLogarithmicError", {}), ("SquaredPearsonCorrelation", {}),
                      ("MeanSquaredError", {}), ("MeanAbsoluteError", {}),
                      ("WeightedExampleCount", {})]


def test_regression_extras_equal_tfmas_on_a_regression_task(tmp_path):
    """MSLE and the squared Pearson correlation beside assay's regression family (labels and
    predictions far from [0, 1]; some predictions below -1, whose log error TFMA drops)."""
    import tensorflow_model_analysis as tfma
    import assay

    rng = np.random.default_rng(11)
    n = 300
    y = rng.lognormal(2.0, 1.0, n).astype(np.float32).astype(np.float64)
    p = (y * rng.lognormal(0.0, 0.3, n)).astype(np.float32).astype(np.float64)
    p[:5] = -3.0
    w = rng.uniform(0.5, 2.0, n).astype(np.float32).astype(np.float64)
    region = np.where(rng.random(n) < 0.5, "north", "south")
    path = str(tmp_path / "r.tfrecord")
    write_tfrecord(path, y, p, w, region)
    raw = eval_config_json(REGRESSION_METRICS)
    expected = tfma_values(tfma, raw, path, str(tmp_path / "tfma"))
    cfg = from_tfma(raw)
    result = assay.evaluate(cfg, path, str(tmp_path / "assay"), engine="local", workers=1,
                            write_report=False)
    assert result.task == "regression" and len(expected) == 3
    by_tfma = {t: a for a, t in cfg["tfma_names"].items()}
    for slice_json, values in expected.items():
        ours = result.metrics(json.loads(slice_json))
        for tfma_name, value in values.items():
            tol = TOLERANCE.get(tfma_name, TOL)
            assert _close(ours[by_tfma[tfma_name]], value, tol), (slice_json, tfma_name)
    assert set(expected["{}"]) == {default_metric_name(c) for c, _ in REGRESSION_METRICS}


def test_tfma_exact_metrics_differ_from_assays_own_where_the_issue_says(binary_run):
    """Keras' clipped cross-entropy and TFMA's interpolated PR area are not assay's log_loss and
    average precision: both names stay, with their own values."""
    expected, result, _, _ = binary_run
    overall = result.metrics()
    tfma_overall = expected[json.dumps({})]
    assert abs(overall["log_loss"] - tfma_overall["binary_crossentropy"]) > 0.01
    assert abs(overall["auc_pr"] - tfma_overall["auc_precision_recall"]) > 1e-4
    assert abs(overall["auc"] - tfma_overall["auc"]) < 1e-3  # ROC: only the thresholds differ


def test_against_scikit_learn(binary_run):
    from sklearn.metrics import (balanced_accuracy_score, matthews_corrcoef,
                                 mean_squared_log_error)

    _, result, _, (y, p, w, _) = binary_run
    ours = result.metrics()
    hard = (p > 0.5).astype(int)
    assert ours["matthews_correlation_coefficient@0.5"] == pytest.approx(
        matthews_corrcoef(y, hard, sample_weight=w), abs=1e-12)
    assert ours["balanced_accuracy@0.5"] == pytest.approx(
        balanced_accuracy_score(y, hard, sample_weight=w), abs=1e-12)
    assert ours["mean_squared_logarithmic_error"] == pytest.approx(
        mean_squared_log_error(y, p, sample_weight=w), rel=1e-12)
    r = np.cov(y, p, aweights=w)
    assert ours["squared_pearson_correlation"] == pytest.approx(
        r[0, 1] ** 2 / (r[0, 0] * r[1, 1]), rel=1e-9)


# ------------------------------------------------------------------------------------------
# The family without TFMA: algebra, edge cases, names


def _batch(y, p, w):
    return ModelBatch(np.asarray(y, float), np.asarray(p, float), np.asarray(w, float))


ALL_NAMES = ([f"{f}@0.5" for f in ("specificity", "matthews_correlation_coefficient",
                                   "diagnostic_odds_ratio", "prevalence_threshold")]
             + ["auc_tfma", "auc_pr_tfma;n=200", "precision_at_recall@0.7", "max_recall",
                "binary_crossentropy", "squared_pearson_correlation",
                "coefficient_of_discrimination", "mean_squared_logarithmic_error"])


def test_shards_merged_equal_one_pass_and_groups_equal_their_subsets():
    y, p, w, region = binary_data(3)
    metric = TfmaMetrics(ALL_NAMES, "binary")
    whole = metric.result(metric.add(metric.create(), _batch(y, p, w)))
    parts = [metric.add(metric.create(), _batch(y[a:b], p[a:b], w[a:b]))
             for a, b in ((0, 100), (100, 101), (101, 900), (900, N))]
    merged = metric.result(metric.merge(parts))
    group = (region == "north").astype(np.int64)
    grouped = metric.add_grouped(_batch(y, p, w), group, 2)
    alone = metric.result(metric.add(metric.create(), _batch(y[group == 1], p[group == 1],
                                                             w[group == 1])))
    for name in ALL_NAMES:
        assert merged[name] == pytest.approx(whole[name], rel=1e-12, nan_ok=True), name
        assert metric.result(grouped[1])[name] == pytest.approx(alone[name], rel=1e-12,
                                                                nan_ok=True), name


def test_empty_input_and_one_class_give_nan_not_errors():
    metric = TfmaMetrics(ALL_NAMES, "binary")
    empty = metric.result(metric.create())
    assert all(math.isnan(empty[n]) for n in ALL_NAMES if n not in (
        "auc_tfma", "auc_pr_tfma;n=200", "precision_at_recall@0.7"))
    one_class = metric.result(metric.add(metric.create(), _batch([1, 1], [.2, .9], [1, 1])))
    assert math.isnan(one_class["specificity@0.5"])
    assert one_class["max_recall"] == 1.0


def test_hand_computed_confusion_formulas():
    # tp=2, fp=1, tn=3, fn=1 at 0.5 (weights 1).
    metric = TfmaMetrics(["matthews_correlation_coefficient@0.5", "threat_score@0.5",
                          "diagnostic_odds_ratio@0.5", "fowlkes_mallows_index@0.5"], "binary")
    values = metric.result(metric.add(metric.create(), _batch(
        [1, 1, 1, 0, 0, 0, 0], [.9, .8, .2, .7, .1, .3, .4], np.ones(7))))
    assert values["matthews_correlation_coefficient@0.5"] == pytest.approx(
        (2 * 3 - 1 * 1) / math.sqrt(3 * 3 * 4 * 4))
    assert values["threat_score@0.5"] == pytest.approx(2 / 4)
    assert values["diagnostic_odds_ratio@0.5"] == pytest.approx((2 / 1) / (1 / 3))
    assert values["fowlkes_mallows_index@0.5"] == pytest.approx(math.sqrt(2 / 3 * 2 / 3))


def test_keras_cross_entropy_clips_in_float32():
    # p = 1 for a negative: Keras clips to float32(1 - 1e-7) and adds 1e-7 in the log.
    loss = keras_binary_crossentropy(np.array([0.0]), np.array([1.0]))[0]
    one_minus = np.float32(1) - np.float32(1e-7)
    assert loss == pytest.approx(-math.log(float(np.float32(1) - one_minus) + 1e-7), rel=1e-6)
    assert loss < 16.2  # scikit-learn's log_loss clips at 2.2e-16: about 36


def test_name_grammar_and_directions():
    assert parse_tfma_name("recall_at_precision@0.9;n=200").num_thresholds == 200
    for bad in ("auc_tfma@0.5", "threat_score", "threat_score@0.50", "threat_score@1.5",
                "threat_score@0.5;n=10", "auc_tfma;n=1", "auc_tfma;n=010", "nope@0.5"):
        assert parse_tfma_name(bad) is None, bad
    assert tfma_metric_info("squared_pearson_correlation", "regression") == (True, "higher")
    assert tfma_metric_info("auc_tfma", "regression") == (False, None)
    assert metric_direction("false_omission_rate@0.3") == "lower"
    assert metric_info("prevalence@0.5") == (True, None)
    with pytest.raises(Exception, match="not a TFMA-semantics metric of a regression task"):
        TfmaMetrics(["auc_tfma"], "regression")


def test_an_assay_config_asks_for_them_by_name(tmp_path):
    import assay

    y, p, w, _ = binary_data(5)
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = str(tmp_path / "d.parquet")
    pq.write_table(pa.table({"y": y, "p": p}), path)
    model = {"label": "y", "models": {"candidate": {"prediction": "p"}}}
    result = assay.evaluate({**model, "metrics": ["auc", "informedness@0.4",
                                                  "recall_at_precision@0.8"]},
                            path, str(tmp_path / "out"), engine="local", workers=1,
                            write_report=False)
    hard = p > 0.4
    tpr, tnr = hard[y == 1].mean(), (~hard[y == 0]).mean()
    assert result.metrics()["informedness@0.4"] == pytest.approx(tpr + tnr - 1, abs=1e-12)
    assert set(result.metrics()) >= {"auc", "informedness@0.4", "recall_at_precision@0.8"}
    # A threshold alone asks for its metric; the defaults stay.
    result = assay.evaluate({**model, "thresholds": [{"metric": "threat_score@0.5",
                                                      "min": 0.99}]},
                            path, str(tmp_path / "out1"), engine="local", workers=1,
                            write_report=False)
    tp, fp_fn = ((p > 0.5) & (y == 1)).sum(), ((p > 0.5) != (y == 1)).sum()
    assert result.metrics()["threat_score@0.5"] == pytest.approx(tp / (tp + fp_fn))
    assert "auc" in result.metrics() and "informedness@0.4" not in result.metrics()
    assert result.blessed is False and "threat_score@0.5" in result.validation["reasons"][0]
    with pytest.raises(Exception, match="unknown metric 'informedness@0.45x'"):
        assay.evaluate({"label": "y", "models": {"candidate": {"prediction": "p"}},
                        "metrics": ["informedness@0.45x"]}, path, str(tmp_path / "o2"),
                       engine="local", workers=1, write_report=False)


# ------------------------------------------------------------------------------------------
# Translation


def test_translation_records_tfma_names_and_parameters():
    cfg = from_tfma(eval_config_json([
        ("AUC", {"num_thresholds": 200}), ("PrecisionAtRecall", {"recall": [0.7],
                                                                  "name": "p_at_r"}),
        ("MatthewsCorrelationCoefficient", {"thresholds": 0.3}), ("Specificity", {}),
        ("BinaryCrossentropy", {})]))
    assert cfg["tfma_names"] == {
        "auc_tfma;n=200": "auc", "precision_at_recall@0.7": "p_at_r",
        "matthews_correlation_coefficient@0.3": "matthews_correlation_coefficient",
        "specificity": "specificity", "binary_crossentropy": "binary_crossentropy"}


def test_thresholds_on_tfma_metrics_translate_with_their_directions():
    raw = eval_config_json([("PrecisionAtRecall", {"recall": 0.7})])
    spec = raw["metrics_specs"][0]
    spec["metrics"][0]["threshold"] = {
        "value_threshold": {"lower_bound": {"value": 0.6}},
        "change_threshold": {"direction": "HIGHER_IS_BETTER", "absolute": {"value": -0.02}}}
    spec["thresholds"] = {"false_omission_rate": {"value_threshold": {"upper_bound": 0.2}}}
    spec["metrics"].append({"class_name": "FalseOmissionRate"})
    cfg = from_tfma(raw)
    assert cfg["thresholds"] == [
        {"metric": "precision_at_recall@0.7", "min": 0.6, "max_regression": {"absolute": 0.02},
         "slices": [[], ["region"]]},
        {"metric": "false_omission_rate@0.5", "max": 0.2, "slices": [[], ["region"]]}]
    spec["thresholds"] = {"false_omission_rate": {"change_threshold": {
        "direction": "HIGHER_IS_BETTER", "absolute": 0.1}}}
    with pytest.raises(TfmaConfigError, match="says higher is better, but lower "
                                              "false_omission_rate@0.5 is better"):
        from_tfma(raw)


@pytest.mark.parametrize("metric, fragment", [
    (("PrecisionAtRecall", {}), "PrecisionAtRecall needs 'recall'"),
    (("PrecisionAtRecall", {"recall": 1.5}), "'recall' must lie in [0, 1] (got 1.5)"),
    (("RecallAtPrecision", {"precision": [0.5, 0.6]}), "several precision [0.5, 0.6]"),
    (("AUC", {"summation_method": "majoring"}), "summation_method 'majoring'"),
    (("ThreatScore", {"top_k": 2}), "ThreatScore config 'top_k': 2"),
])
def test_untranslatable_settings_are_named(metric, fragment):
    with pytest.raises(TfmaConfigError, match="cannot be translated") as info:
        from_tfma(eval_config_json([metric]))
    assert fragment in str(info.value)


# Classes that need arguments to be built with their defaults otherwise.
REQUIRED_ARGS = {"PrecisionAtRecall": {"recall": 0.5}, "RecallAtPrecision": {"precision": 0.5},
                 "SensitivityAtSpecificity": {"specificity": 0.5},
                 "SpecificityAtSensitivity": {"sensitivity": 0.5},
                 "ConfusionMatrixAtThresholds": {"thresholds": [0.5]},
                 "NDCG": {"gain_key": "gain", "top_k_list": [1, 3]}}


def _translate_alone(config):
    """from_tfma of an EvalConfig holding only `config` (a MetricConfig dict), the way a user
    writes it: a candidate and a baseline (cross-model classes need one), and a query key for
    the classes that need one (ranking). Returns from_tfma's dict; raises TfmaConfigError."""
    def eval_config(spec_options):
        return {"model_specs": [
                    {"name": "candidate", "label_key": "label", "prediction_key": "p"},
                    {"name": "baseline", "label_key": "label", "prediction_key": "b",
                     "is_baseline": True}],
                "metrics_specs": [dict(spec_options, metrics=[config])]}
    try:
        return from_tfma(eval_config({}))
    except TfmaConfigError as e:
        if "query_key" not in str(e) and "query key" not in str(e):
            raise
        return from_tfma(eval_config({"query_key": "query"}))


def test_walk_tfma_metrics_and_count_translatable_classes():
    """Every Metric class tfma.metrics exports, built with its defaults and serialised by TFMA
    itself, translated alone by from_tfma (the path every user takes): `N of M translatable`,
    N checked against the README."""
    import inspect

    import tensorflow_model_analysis as tfma

    classes = sorted(n for n in dir(tfma.metrics) if inspect.isclass(getattr(tfma.metrics, n))
                     and issubclass(getattr(tfma.metrics, n), tfma.metrics.Metric)
                     and n != "Metric")
    ok, failed = [], {}
    for name in classes:
        try:
            instance = getattr(tfma.metrics, name)(**REQUIRED_ARGS.get(name, {}))
        except TypeError as e:  # needs arguments with no neutral default
            failed[name] = f"cannot be built with defaults: {e}"
            continue
        try:  # TFMA's own serialisation of the default config (counts come first)
            config = tfma.metrics.specs_from_metrics([instance])[-1].metrics[-1]
            config = {"class_name": config.class_name, "module": config.module,
                      "config": config.config}
        except TypeError:  # a default TFMA cannot write (an ndarray): what a user would write
            config = {"class_name": name, "config": json.dumps(REQUIRED_ARGS.get(name, {}))}
        try:
            translated = _translate_alone(config)
        except TfmaConfigError as e:
            failed[name] = str(e)
            continue
        ok.append(name)
        # The TFMA key name the translation records for TFMA's files (plots have none).
        names = translated.get("tfma_names", {})
        if names and not name.endswith("Plot"):
            assert instance.name in names.values(), (name, instance.name, names)
    print(f"{len(ok)} of {len(classes)} translatable; not: {sorted(failed)}")
    assert len(classes) == 96
    # The classes the README lists as unsupported are exactly the ones that fail here.
    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md")).read()
    assert f"{len(ok)} of {len(classes)}" in readme
