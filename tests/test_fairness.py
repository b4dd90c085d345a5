"""`fairness:` (assay.config.fairness) and its metrics (assay.metrics.group_fairness).

References:
  * TFMA 0.47.1 itself: TFMA 0.47.1 no longer ships its FairnessIndicators class (it moved to the
    separate fairness-indicators package, not installed), so one model-agnostic TFMA run computes
    the same rates with the ConfusionMatrixMetric classes FairnessIndicators is built from (FPR,
    FNR, TPR, TNR, FDR, FOR, PredictedPositiveRate) at each threshold, on every slice of the
    group; assay's fairness_indicators_metrics/... must equal them.
  * scikit-learn's weighted confusion_matrix, for the rates of one batch.
  * Fairlearn's MetricFrame disparities (demographic parity and equalized odds, difference and
    ratio, between groups and to the overall) re-implemented here in plain, slow numpy from
    Fairlearn's documented definitions, on per-example arrays; Fairlearn itself (the dev group)
    is the reference in tests/test_fairness_fairlearn.py.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix

from assay.config.fairness import DEFAULT_THRESHOLDS, FairnessConfig
from assay.config.schema import EvalConfig
from assay.config.slices import SliceSpec, parse_slice_spec
from assay.errors import ConfigError
from assay.metrics.batch import ModelBatch
from assay.metrics.group_fairness import (FairnessIndicators, RATES, group_metrics,
                                          indicator_name, result_group_metrics)

THRESHOLDS = (0.3, 0.5)
N = 900
# TFMA class name of each rate (the ConfusionMatrixMetric FairnessIndicators computes).
TFMA_CLASSES = {"false_positive_rate": "FPR", "false_negative_rate": "FNR",
                "true_positive_rate": "TPR", "true_negative_rate": "TNR",
                "false_discovery_rate": "FalseDiscoveryRate",
                "false_omission_rate": "FalseOmissionRate",
                "positive_rate": "PredictedPositiveRate"}


def data(seed=3):
    """Labels, predictions, weights and a group column whose groups differ in their rates."""
    rng = np.random.default_rng(seed)
    g = rng.choice(["a", "b", "c"], N, p=[0.5, 0.3, 0.2])
    shift = np.select([g == "a", g == "b"], [0.0, 0.8], 1.6)
    y = (rng.random(N) < 0.4).astype(np.float64)
    p = 1 / (1 + np.exp(-(1.5 * (2 * y - 1) + shift - 0.4 + rng.normal(0, 1.2, N))))
    p[:50] = np.round(p[:50], 1)  # ties at the thresholds
    p = p.astype(np.float32).astype(np.float64)
    w = rng.uniform(0.5, 2.0, N).astype(np.float32).astype(np.float64)
    return y, p, w, g


# ---------------------------------------------------------------- config


def test_config_defaults_round_trip_and_group_slices():
    cfg = EvalConfig.from_dict({"label": "y", "models": {"candidate": {"prediction": "p"}},
                                "slices": [["g"]],
                                "fairness": {"groups": [["g"], ["g", "h"]]}})
    assert cfg.fairness.thresholds == DEFAULT_THRESHOLDS
    assert cfg.fairness.reference == "overall"
    # [g] is in slices already; [g, h] is added once, after the config's slices.
    assert [s.name for s in cfg.slices] == ["overall", "g", "g x h"]
    again = EvalConfig.from_dict(cfg.to_dict())
    assert again == cfg
    ref = FairnessConfig.parse({"groups": ["g"], "thresholds": 0.5, "reference": {"g": "a"}})
    assert ref.thresholds == (0.5,) and ref.reference == (("g", "a"),)
    assert FairnessConfig.parse(ref.to_config()) == ref


@pytest.mark.parametrize("raw, match", [
    ({"groups": []}, r"'fairness.groups' must list at least one.*left out"),
    ({"groups": [[]]}, r"lists the overall slice"),
    ({"groups": "g"}, r"'fairness.groups' must be a list of slicing specs"),
    ({"groups": [["g"]], "thresholds": [0.5, 1.5]}, r"numbers in \[0, 1\].*1.5"),
    ({"groups": [["g"]], "thresholds": [0.5, 0.5]}, r"must be distinct"),
    ({"groups": [["g"]], "reference": "smallest"}, r"'overall', 'largest' or a mapping"),
    ({"groups": [["g"]], "reference": 3}, r"'overall', 'largest' or a mapping"),
    ({"groups": [["g"]], "reference": {"h": "x"}}, r"names the features \['h'\].*groups: g"),
    ({"groups": [["g"]], "treshold": [0.5]}, r"treshold"),
    ({"groups": [["g"], 3]}, r"fairness.groups\[1\]"),
])
def test_config_errors(raw, match):
    with pytest.raises(ConfigError, match=match):
        FairnessConfig.parse(raw)


def test_config_error_in_a_whole_config_names_fairness():
    with pytest.raises(ConfigError, match=r"fairness"):
        EvalConfig.from_dict({"label": "y", "models": {"candidate": {"prediction": "p"}},
                              "fairness": ["g"]})


# ---------------------------------------------------------------- the rates


def _sklearn_rates(y, p, w, t):
    (tn, fp), (fn, tp) = confusion_matrix(y, (p > t).astype(float), labels=[0.0, 1.0],
                                          sample_weight=w)

    def div(a, b):
        return a / b if b > 0 else float("nan")

    return {"false_positive_rate": div(fp, fp + tn), "false_negative_rate": div(fn, fn + tp),
            "true_positive_rate": div(tp, tp + fn), "true_negative_rate": div(tn, tn + fp),
            "positive_rate": div(tp + fp, tn + fp + fn + tp),
            "negative_rate": div(tn + fn, tn + fp + fn + tp),
            "false_discovery_rate": div(fp, fp + tp), "false_omission_rate": div(fn, fn + tn)}


def test_indicators_equal_sklearn_per_group_and_nan_without_positives():
    y, p, w, g = data()
    fam = FairnessIndicators(THRESHOLDS)
    groups = np.searchsorted(["a", "b", "c"], g)
    accs = fam.add_grouped(ModelBatch(y, p, w), groups, 3)
    assert set(fam.metric_names()) == {indicator_name(r, t) for r in RATES for t in THRESHOLDS}
    for i, name in enumerate("abc"):
        got = fam.result(accs[i])
        m = g == name
        for t in THRESHOLDS:
            for rate, value in _sklearn_rates(y[m], p[m], w[m], t).items():
                assert got[f"fairness_indicators_metrics/{rate}@{t}"] == pytest.approx(value,
                                                                                      rel=1e-12)
    # No positive labels: TPR and FNR are NaN (TFMA divides only by a positive denominator).
    only_neg = fam.result(fam.add(fam.create(), ModelBatch(np.zeros(3), np.array([.1, .6, .9]),
                                                           np.ones(3))))
    assert math.isnan(only_neg[indicator_name("true_positive_rate", 0.5)])
    assert only_neg[indicator_name("false_positive_rate", 0.5)] == pytest.approx(2 / 3)


# ---------------------------------------------------------------- Fairlearn's disparities


def _fairlearn_reference(y, p, w, g, t):
    """Fairlearn's disparities, from its definitions, on per-example arrays (plain numpy):
    selection rate, TPR and FPR per group (weighted), 'between_groups' = max - min and
    min / max; 'to_overall' = max |group - overall| and min of min(g/o, o/g)."""
    pred = (p > t).astype(float)

    def rates_of(m):
        sel = np.sum(w[m] * pred[m]) / np.sum(w[m])
        tpr = np.sum(w[m] * pred[m] * y[m]) / np.sum(w[m] * y[m])
        fpr = np.sum(w[m] * pred[m] * (1 - y[m])) / np.sum(w[m] * (1 - y[m]))
        return sel, tpr, fpr

    per = np.array([rates_of(g == v) for v in np.unique(g)])  # [groups, 3]
    overall = np.array(rates_of(np.ones(len(g), bool)))

    def ratio(a, b):
        return np.minimum(a, b) / np.maximum(a, b)

    diff_b, ratio_b = per.max(0) - per.min(0), per.min(0) / per.max(0)
    diff_o = np.abs(per - overall).max(0)
    ratio_o = ratio(per, overall).min(0)
    return ({"demographic_parity_difference": diff_b[0], "demographic_parity_ratio": ratio_b[0],
             "equalized_odds_difference": max(diff_b[1], diff_b[2]),
             "equalized_odds_ratio": min(ratio_b[1], ratio_b[2])},
            {"demographic_parity_difference": diff_o[0], "demographic_parity_ratio": ratio_o[0],
             "equalized_odds_difference": max(diff_o[1], diff_o[2]),
             "equalized_odds_ratio": min(ratio_o[1], ratio_o[2])})


@pytest.fixture(scope="module")
def fairness_run(tmp_path_factory):
    """(TFMA's values per slice, assay's EvalResult, the FairnessConfig, the data)."""
    import tensorflow_model_analysis as tfma
    from test_tfma_metrics import tfma_values, write_tfrecord

    import assay

    root = tmp_path_factory.mktemp("fairness")
    y, p, w, g = data()
    path = str(root / "data.tfrecord")
    write_tfrecord(path, y, p, w, g)
    metrics = [{"class_name": cls, "config": json.dumps({"thresholds": [t],
                                                         "name": f"{rate}@{t}"})}
               for rate, cls in TFMA_CLASSES.items() for t in THRESHOLDS]
    raw = {"model_specs": [{"label_key": "label", "prediction_key": "score",
                            "example_weight_key": "w"}],
           "slicing_specs": [{}, {"feature_keys": ["region"]}],
           "metrics_specs": [{"metrics": metrics}]}
    expected = tfma_values(tfma, raw, path, str(root / "tfma"))
    cfg = {"label": "label", "weight": "w", "models": {"candidate": {"prediction": "score"}},
           "fairness": {"groups": [["region"]], "thresholds": list(THRESHOLDS)}}
    result = assay.evaluate(cfg, path, str(root / "assay"), engine="local", workers=1,
                            write_report=False)
    return expected, result, EvalConfig.from_dict(cfg).fairness, (y, p, w, g)


def test_indicators_equal_tfmas_confusion_matrix_metrics(fairness_run):
    expected, result, _, _ = fairness_run
    assert len(expected) == 4  # overall, a, b, c
    for slice_json, values in expected.items():
        ours = result.metrics(json.loads(slice_json))
        for rate in TFMA_CLASSES:
            for t in THRESHOLDS:
                assert ours[indicator_name(rate, t)] == pytest.approx(values[f"{rate}@{t}"],
                                                                      rel=1e-9, abs=1e-12)
        for t in THRESHOLDS:  # TFMA's negative rate: 1 - positive rate, both of the same sums
            assert ours[indicator_name("negative_rate", t)] == pytest.approx(
                1 - values[f"positive_rate@{t}"], rel=1e-9)


def test_group_metrics_equal_fairlearns_definitions(fairness_run):
    _, result, fairness, (y, p, w, g) = fairness_run
    got = result_group_metrics(result, fairness)["region"]
    for t in THRESHOLDS:
        between, to_overall = _fairlearn_reference(y, p, w, g, t)
        for name, value in between.items():
            assert got["between_groups"][f"{name}@{t}"] == pytest.approx(value, rel=1e-9)
        for name, value in to_overall.items():
            assert got["to_reference"][f"{name}@{t}"] == pytest.approx(value, rel=1e-9)
    assert got["between_groups"]["demographic_parity_difference@0.5"] > 0.1  # groups differ


def test_group_metrics_reference_largest_and_one_slice():
    slices = {"a": {indicator_name("positive_rate", 0.5): 0.2,
                    indicator_name("true_positive_rate", 0.5): 0.5,
                    indicator_name("false_positive_rate", 0.5): 0.1},
              "b": {indicator_name("positive_rate", 0.5): 0.4,
                    indicator_name("true_positive_rate", 0.5): 0.8,
                    indicator_name("false_positive_rate", 0.5): float("nan")}}
    got = group_metrics(slices, "largest", [0.5], sizes={"a": 10.0, "b": 30.0})
    # Reference b (largest): |0.2 - 0.4| = 0.2, ratio 0.5; FPR is NaN, so the odds are too.
    assert got["to_reference"]["demographic_parity_difference@0.5"] == pytest.approx(0.2)
    assert got["to_reference"]["demographic_parity_ratio@0.5"] == pytest.approx(0.5)
    assert math.isnan(got["to_reference"]["equalized_odds_difference@0.5"])
    # Between groups, FPR has one finite value (difference 0): the TPR gap 0.3 decides.
    assert got["between_groups"]["equalized_odds_difference@0.5"] == pytest.approx(0.3)
    with pytest.raises(ValueError, match="'largest' with sizes"):
        group_metrics(slices, "largest", [0.5])


def test_fairness_spec_is_a_slice_spec():
    assert FairnessConfig.parse({"groups": ["g"]}).groups == (parse_slice_spec("g"),)
    assert not FairnessConfig.parse({"groups": ["g"]}).groups[0] == SliceSpec()


# ---------------------------------------------------------------- TFMA and TFX translation


def test_tfma_fairness_indicators_translate_to_the_fairness_config():
    from assay.config.tfma import TfmaConfigError, from_tfma

    raw = {"model_specs": [{"label_key": "y", "prediction_key": "p"}],
           "slicing_specs": [{}, {"feature_keys": ["g"]}],
           "metrics_specs": [{"metrics": [
               {"class_name": "FairnessIndicators", "config": '{"thresholds": [0.5, 0.25]}',
                "module": "tensorflow_model_analysis.addons.fairness.metrics."
                          "fairness_indicators"},
               {"class_name": "FairnessIndicators", "config": '{"thresholds": 0.75}'}]}]}
    cfg = from_tfma(raw)
    assert cfg["fairness"] == {"thresholds": [0.25, 0.5, 0.75]}
    parsed = EvalConfig.from_dict(cfg).fairness
    assert parsed.groups == () and parsed.thresholds == (0.25, 0.5, 0.75)
    default = from_tfma(dict(raw, metrics_specs=[{"metrics": [
        {"class_name": "FairnessIndicators"}]}]))
    assert default["fairness"]["thresholds"] == list(DEFAULT_THRESHOLDS)
    with pytest.raises(TfmaConfigError, match=r"FairnessIndicators config 'example_weighted'"):
        from_tfma(dict(raw, metrics_specs=[{"metrics": [
            {"class_name": "FairnessIndicators", "config": '{"example_weighted": true}'}]}]))
    with pytest.raises(TfmaConfigError, match=r"FairnessIndicators thresholds \[2\]"):
        from_tfma(dict(raw, metrics_specs=[{"metrics": [
            {"class_name": "FairnessIndicators", "config": '{"thresholds": [2]}'}]}]))


def test_tfx_fairness_indicator_thresholds():
    from assay.tfx.params import with_fairness_thresholds

    config = json.dumps({"label": "y", "models": {"candidate": {"prediction": "p"}},
                         "slices": [["g"]]})
    out, eval_json = with_fairness_thresholds(config, None, [0.5, 0.3])
    assert eval_json is None and json.loads(out)["fairness"] == {"thresholds": [0.3, 0.5]}
    assert with_fairness_thresholds(config, None, None) == (config, None)
    tfma_json = json.dumps({"model_specs": [{"label_key": "y", "prediction_key": "p"}]})
    _, eval_out = with_fairness_thresholds(None, tfma_json, [0.5])
    from assay.config.tfma import from_tfma

    assert from_tfma(eval_out)["fairness"] == {"thresholds": [0.5]}
    with pytest.raises(ConfigError, match=r"must list numbers in \[0, 1\].*'x'"):
        with_fairness_thresholds(config, None, ["x"])
    both = json.dumps(dict(json.loads(config), fairness={"thresholds": [0.7]}))
    with pytest.raises(ConfigError, match=r"fairness.thresholds \(\[0.7\]\).*give one"):
        with_fairness_thresholds(both, None, [0.5])


def test_group_metrics_without_groups_use_every_slicing_spec(fairness_run):
    _, result, fairness, _ = fairness_run
    every = FairnessConfig.parse({"thresholds": list(THRESHOLDS)})
    assert result_group_metrics(result, every) == result_group_metrics(result, fairness)


def test_results_file_has_the_group_metrics(fairness_run):
    from assay.results.result import load_result

    _, result, fairness, _ = fairness_run
    section = result.info["fairness"]
    assert section["thresholds"] == list(THRESHOLDS) and section["reference"] == "overall"
    assert section["group_metrics"]["candidate"] == result_group_metrics(result, fairness)
    loaded = load_result(result.path)  # as written to assay_metrics.json
    got = loaded.info["fairness"]["group_metrics"]["candidate"]["region"]
    want = section["group_metrics"]["candidate"]["region"]
    assert got["between_groups"] == pytest.approx(want["between_groups"], rel=1e-12)
    assert result_group_metrics(loaded, fairness) == result_group_metrics(result, fairness)


# ---------------------------------------------------------------- the gate


def test_indicators_gate_with_max_gap_across_a_group():
    import pandas as pd

    import assay
    from assay.metrics.fairness_names import fairness_metric_info

    assert fairness_metric_info(indicator_name("false_positive_rate", 0.5)) == (True, "lower")
    assert fairness_metric_info(indicator_name("positive_rate", 0.3)) == (True, None)
    for bad in ("fairness_indicators_metrics/precision@0.5",
                "fairness_indicators_metrics/false_positive_rate@0.50",
                "fairness_indicators_metrics/false_positive_rate", "false_positive_rate@0.5"):
        assert fairness_metric_info(bad) == (False, None)
    y, p, w, g = data()
    df = pd.DataFrame({"y": y, "p": p, "g": g})
    fpr = [_sklearn_rates(y[g == v], p[g == v], np.ones(int(np.sum(g == v))), 0.5)[
        "false_positive_rate"] for v in "abc"]
    gap = max(fpr) - min(fpr)
    name = indicator_name("false_positive_rate", 0.5)
    cfg = {"label": "y", "models": {"candidate": {"prediction": "p"}},
           "fairness": {"groups": [["g"]], "thresholds": [0.5]},  # g is in no `slices:`
           "thresholds": [{"metric": name, "max_gap": {"across": ["g"], "value": gap * 0.99}},
                          {"metric": name, "max_gap": {"across": ["g"], "value": gap * 1.01}}]}
    checks = assay.evaluate(cfg, df).validation["checks"]
    assert [c["status"] for c in checks] == ["fail", "pass"]
    assert checks[0]["candidate"] == pytest.approx(gap, rel=1e-12)
