"""Tests for assay.config.tfma: a tfma.EvalConfig translated to assay's config.

The parity tests import TFMA (about 20 s, once for this module) and check that the translated
config, applied by assay.validation.checks, gives the verdict TFMA 0.47's metrics_validator gives on
the same metric values.
"""

from __future__ import annotations

import json
import random

import pytest

from assay.config.schema import EvalConfig
from assay.config.tfma import METRIC_NAMES, TfmaConfigError, default_metric_name, from_tfma
from assay.validation import parse_validation, validate

MODELS = [{"name": "candidate", "label_key": "y", "prediction_key": "p"},
          {"name": "baseline", "label_key": "y", "prediction_key": "q", "is_baseline": True}]


def config(*metrics_specs, slicing_specs=None, **extra):
    out = {"model_specs": MODELS, "metrics_specs": list(metrics_specs)}
    if slicing_specs is not None:
        out["slicing_specs"] = slicing_specs
    out.update(extra)
    return out


def auc_threshold(**threshold):
    return {"metrics": [{"class_name": "AUC", "threshold": threshold}]}


# ------------------------------------------------------------------------------------------
# Translation, piece by piece (the JSON form; no TFMA import)


def test_model_agnostic_models_label_weight_and_min_slice_size():
    cfg = from_tfma({"model_specs": [
        {"label_key": "y", "prediction_key": "p", "example_weight_key": "w"},
        {"name": "old", "label_key": "y", "prediction_key": "q", "is_baseline": True}],
        "options": {"min_slice_size": 25}})
    assert cfg == {"label": "y", "weight": "w", "min_slice_size": 25,
                   "models": {"candidate": {"prediction": "p", "outputs": "scores"},
                              "baseline": {"prediction": "q", "outputs": "scores"}}}
    EvalConfig.from_dict(cfg)


def test_model_paths_run_models_with_signature_and_output_key():
    spec = {"label_key": "y", "signature_name": "serving_tf", "prediction_key": "probs",
            "inference_batch_size": 64}
    cfg = from_tfma({"model_specs": [spec]}, model_paths={"candidate": "/m/2", "baseline": "/m/1"})
    expected = {"signature": "serving_tf", "output": "probs", "batch_size": 64,
                "outputs": "scores"}
    # The baseline copies the candidate's spec when the config has no baseline spec (as TFMA).
    assert cfg["models"] == {"candidate": {"path": "/m/2", **expected},
                             "baseline": {"path": "/m/1", **expected}}


def test_a_baseline_spec_without_a_baseline_path_is_dropped_on_the_first_run():
    cfg = from_tfma(config(), model_paths={"candidate": "/m/2"})
    assert cfg["models"] == {"candidate": {"path": "/m/2", "output": "p", "outputs": "scores"}}


def test_slicing_specs_keys_values_and_both():
    cfg = from_tfma(config(slicing_specs=[
        {}, {"feature_keys": ["region"]}, {"feature_values": {"hour": "3", "rate": "0.5",
                                                              "city": "Oslo"}},
        {"feature_keys": ["hour"], "feature_values": {"day": "6"}}]))
    # Numeric strings become numbers, as TFMA's slicer converts them.
    assert cfg["slices"] == [[], ["region"], {"hour": 3, "rate": 0.5, "city": "Oslo"},
                             {"keys": ["hour"], "values": {"day": 6}}]
    EvalConfig.from_dict(cfg)


def test_thresholds_apply_to_every_computed_slice_as_in_tfma():
    cfg = from_tfma(config(auc_threshold(value_threshold={"lower_bound": 0.7}),
                           slicing_specs=[{}, {"feature_keys": ["region"]},
                                          {"feature_keys": ["hour"],
                                           "feature_values": {"day": "6"}}]))
    assert cfg["thresholds"] == [{"metric": "auc_tfma", "min": 0.7,
                                  "slices": [[], ["region"], ["hour", "day"]]}]


def test_without_slicing_specs_thresholds_apply_to_the_overall_slice():
    cfg = from_tfma(config(auc_threshold(value_threshold={"upper_bound": 0.99})))
    assert "slices" not in cfg
    assert cfg["thresholds"] == [{"metric": "auc_tfma", "max": 0.99}]


@pytest.mark.parametrize("direction, absolute, relative, expected", [
    ("HIGHER_IS_BETTER", -0.01, -0.05, {"absolute": 0.01, "relative": 0.05}),
    ("HIGHER_IS_BETTER", 0.02, None, {"absolute": -0.02}),     # demands an improvement
    ("LOWER_IS_BETTER", 0.01, 0.05, {"absolute": 0.01, "relative": 0.05}),
    ("LOWER_IS_BETTER", None, -0.1, {"relative": -0.1}),
])
def test_change_threshold_signs(direction, absolute, relative, expected):
    change = {"direction": direction}
    if absolute is not None:
        change["absolute"] = absolute
    if relative is not None:
        change["relative"] = relative
    metric = "AUC" if direction == "HIGHER_IS_BETTER" else "BinaryCrossentropy"
    cfg = from_tfma(config({"metrics": [{"class_name": metric,
                                         "threshold": {"change_threshold": change}}]}))
    (t,) = cfg["thresholds"]
    assert t["max_regression"] == expected


def test_direction_is_passed_for_metrics_without_a_better_direction():
    cfg = from_tfma(config({"thresholds": {"mean_label": {"change_threshold": {
        "direction": "LOWER_IS_BETTER", "absolute": 0.1}}}}))
    assert cfg["thresholds"] == [{"metric": "mean_label", "direction": "lower",
                                  "max_regression": {"absolute": 0.1}}]


def test_per_slice_thresholds_on_keys_values_and_overall():
    per_slice = [{"slicing_specs": [{"feature_keys": ["region"]},
                                    {"feature_values": {"region": "north"}}, {}],
                  "threshold": {"value_threshold": {"lower_bound": 0.5}}}]
    cfg = from_tfma(config({"metrics": [{"class_name": "Recall"}],
                            "per_slice_thresholds": {"recall": {"thresholds": per_slice}}},
                           slicing_specs=[{}, {"feature_keys": ["region"]}]))
    assert cfg["thresholds"] == [{"metric": "recall", "min": 0.5,
                                  "slices": [["region"], {"region": "north"}, []]}]


def test_metric_names_thresholds_and_scales():
    cfg = from_tfma(config({"metrics": [
        {"class_name": "Precision", "config": '"thresholds": [0.7]',
         "threshold": {"value_threshold": {"lower_bound": 0.6}}},
        {"class_name": "AUC", "config": json.dumps({"curve": "PR", "name": "aucpr"}),
         "threshold": {"value_threshold": {"lower_bound": 0.4}}},
        {"class_name": "SparseTopKCategoricalAccuracy", "module": "tf_keras.metrics",
         "config": json.dumps({"k": 2, "dtype": "float32", "name": "top2"})},
        {"class_name": "TruePositives"},
        {"class_name": "MeanAbsolutePercentageError",
         "threshold": {"value_threshold": {"upper_bound": 12.5}}},
        {"class_name": "CalibrationPlot", "config": '"num_buckets": 1000'}],
        "thresholds": {"top2": {"value_threshold": {"lower_bound": 0.9}},
                       "true_positives": {"value_threshold": {"lower_bound": 3}}}}))
    names = [(t["metric"], t.get("min", t.get("max"))) for t in cfg["thresholds"]]
    # MAPE: TFMA reports percent, assay a fraction.
    assert names == [("precision@0.7", 0.6), ("auc_pr_tfma", 0.4), ("mape", 0.125),
                     ("top_2_accuracy", 0.9), ("tp@0.5", 3.0)]
    assert cfg["decision_thresholds"] == [0.5, 0.7]
    assert cfg["top_k"] == [2]


def test_metrics_spec_for_the_baseline_only_adds_no_threshold():
    cfg = from_tfma(config({"model_names": ["baseline"], **auc_threshold(
        value_threshold={"lower_bound": 0.7})}))
    assert "thresholds" not in cfg


def test_default_metric_names_follow_tfma():
    assert default_metric_name("AUCPrecisionRecall") == "auc_precision_recall"
    assert default_metric_name("BinaryAccuracy") == "binary_accuracy"
    assert default_metric_name("AUC") == "auc"
    assert set(METRIC_NAMES) >= {"AUC", "BinaryAccuracy", "ExampleCount", "MeanSquaredError"}


@pytest.mark.parametrize("raw, fragments", [
    (config(cross_slicing_specs=[{"baseline_spec": {}}]), ["cross_slicing_specs"]),
    (config({"metrics": [{"class_name": "NDCG"}], "binarize": {"k_list": {"values": [1]}}}),
     ["metrics_specs[0].binarize.k_list", "NDCG needs the metrics spec's query_key"]),
    (config({"metrics": [{"class_name": "AUC", "module": "my.metrics"}]}),
     ["custom metric module 'my.metrics'"]),
    (config(auc_threshold(change_threshold={"absolute": -0.1})), ["without a direction"]),
    (config(auc_threshold(change_threshold={"direction": "LOWER_IS_BETTER", "absolute": 0.1})),
     ["says lower is better, but higher auc_tfma is better"]),
    (config({"metrics": [{"class_name": "AUC", "config": '"summation_method": "minoring"'}]}),
     ["AUC summation_method 'minoring'"]),
    (config({"thresholds": {"nope": {"value_threshold": {"lower_bound": 1}}}}),
     ["threshold on 'nope'"]),
    ({"model_specs": [{"label_key": "y"}]}, ["no prediction_key"]),
    ({"model_specs": [{"prediction_key": "p", "label_keys": {"a": "b"}}]},
     ["no label_key", "'label_keys'"]),
    (config({"metrics": [{"class_name": "AUC", "per_slice_thresholds": [{
        "slicing_specs": [{"feature_keys": ["a"], "feature_values": {"b": "1"}}],
        "threshold": {"value_threshold": {"lower_bound": 0.5}}}]}]}),
     ["both feature_keys and feature_values"]),
])
def test_unsupported_parts_are_all_named(raw, fragments):
    with pytest.raises(TfmaConfigError, match="cannot be translated") as info:
        from_tfma(raw)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_bad_input_types_and_fields():
    with pytest.raises(TypeError, match="must be a tfma.EvalConfig"):
        from_tfma(42)
    with pytest.raises(TfmaConfigError, match=r"unknown field\(s\) \['modelSpecs'\]"):
        from_tfma({"modelSpecs": []})
    with pytest.raises(TfmaConfigError, match="one candidate and at most one baseline"):
        from_tfma({"model_specs": [{"prediction_key": "a"}, {"prediction_key": "b"}]})


# ------------------------------------------------------------------------------------------
# Parity with TFMA's metrics_validator


@pytest.fixture(scope="module")
def tfma():
    import tensorflow_model_analysis

    return tensorflow_model_analysis


def tfma_verdict(tfma, eval_config, slice_values, has_baseline):
    """TFMA's verdict, as TFX's Evaluator reaches it: None when TFX would write no blessing.

    slice_values: {slice key (tuple of (feature, value)): {tfma metric name: (candidate,
    baseline)}}.
    """
    from tensorflow_model_analysis.evaluators import metrics_validator
    from tensorflow_model_analysis.metrics import metric_specs
    from tensorflow_model_analysis.proto import validation_result_pb2

    cfg = tfma.utils.update_eval_config_with_defaults(
        eval_config, has_baseline=has_baseline, rubber_stamp=True)
    thresholds = metric_specs.metric_thresholds_from_metrics_specs(cfg.metrics_specs,
                                                                   eval_config=cfg)
    if not thresholds:
        return None
    result = validation_result_pb2.ValidationResult(validation_ok=True)
    for slice_key, values in slice_values.items():
        metrics = {}
        for key in thresholds:
            plain = key._replace(is_diff=False)
            candidate, baseline = values[key.name]
            metrics[plain] = candidate
            if has_baseline:
                metrics[plain.make_diff_key()] = candidate - baseline
                metrics[plain.make_baseline_key("baseline")] = baseline
        r = metrics_validator.validate_metrics((slice_key, metrics), cfg)
        result.validation_ok &= r.validation_ok
        metrics_validator.merge_details(result, r)
    if metrics_validator.get_missing_slices(result.validation_details.slicing_details, cfg):
        result.validation_ok = False
    return result.validation_ok


ASSAY_NAME = {"auc": "auc_tfma", "binary_accuracy": "accuracy", "mean_label": "mean_label",
              "binary_crossentropy": "binary_crossentropy", "example_count": "example_count"}
CLASS_NAME = {"auc": "AUC", "binary_accuracy": "BinaryAccuracy", "mean_label": "MeanLabel",
              "binary_crossentropy": "BinaryCrossentropy", "example_count": "ExampleCount"}
DIRECTION = {"auc": "HIGHER_IS_BETTER", "binary_accuracy": "HIGHER_IS_BETTER",
             "binary_crossentropy": "LOWER_IS_BETTER"}


def assay_verdict(eval_config_json, slice_values, has_baseline):
    cfg = from_tfma(eval_config_json)
    thresholds, options = parse_validation({"thresholds": cfg.get("thresholds", [])})
    records = []
    for slice_key, values in slice_values.items():
        slice_ = dict(slice_key)
        records.append({"slice": slice_, "model": "candidate", "metrics": {
            ASSAY_NAME[n]: c for n, (c, _) in values.items()}})
        if has_baseline:
            records.append({"slice": slice_, "model": "baseline", "metrics": {
                ASSAY_NAME[n]: b for n, (_, b) in values.items()}})
    return validate(records, thresholds, options, has_baseline=has_baseline), cfg


def random_threshold(rng, name):
    """A random MetricThreshold dict. Values are multiples of 1/64 and relative bounds of 1/16,
    and baselines powers of two, so every comparison is exact in floating point and ties
    (bound met exactly, inclusive in both) are tested too."""
    out = {}
    if name == "example_count" or rng.random() < 0.5:
        unit = 1.0 if name == "example_count" else 1 / 64
        lower = rng.randint(0, 48)
        bounds = {}
        if rng.random() < 0.7:
            bounds["lower_bound"] = lower * unit
        if not bounds or rng.random() < 0.3:
            bounds["upper_bound"] = rng.randint(lower, 64) * unit
        out["value_threshold"] = bounds
    if name != "example_count" and (not out or rng.random() < 0.5):
        direction = DIRECTION.get(name) or rng.choice(["HIGHER_IS_BETTER", "LOWER_IS_BETTER"])
        change = {"direction": direction}
        if rng.random() < 0.6:
            change["absolute"] = rng.randint(-8, 8) / 64
        if "absolute" not in change or rng.random() < 0.4:
            change["relative"] = rng.randint(-4, 4) / 16
        out["change_threshold"] = change
    return out


SLICES = [(), (("region", "north"),), (("region", "south"),)]


def random_case(rng):
    specs = []
    for _ in range(rng.randint(1, 3)):
        name = rng.choice(list(ASSAY_NAME))
        threshold = random_threshold(rng, name)
        where = rng.choice(["metric", "map", "per_slice"])
        if where == "metric":
            specs.append({"metrics": [{"class_name": CLASS_NAME[name], "threshold": threshold}]})
        elif where == "map":
            specs.append({"metrics": [{"class_name": CLASS_NAME[name]}],
                          "thresholds": {name: threshold}})
        else:
            slicing = rng.choice([[{}], [{"feature_keys": ["region"]}],
                                  [{"feature_values": {"region": "north"}}],
                                  [{"feature_values": {"region": "east"}}],     # no such slice
                                  [{}, {"feature_values": {"region": "south"}}]])
            specs.append({"metrics": [{"class_name": CLASS_NAME[name], "per_slice_thresholds": [
                {"slicing_specs": slicing, "threshold": threshold}]}]})
    slicing_specs = rng.choice([[{}, {"feature_keys": ["region"]}], [{"feature_keys": ["region"]}],
                                None])
    values = {}
    for key in (SLICES if slicing_specs else SLICES[:1]):
        if slicing_specs == [{"feature_keys": ["region"]}] and key == ():
            continue  # TFMA computes only the listed specs: no overall slice here
        values[key] = {}
        for name in ASSAY_NAME:
            if name == "example_count":
                values[key][name] = (float(rng.randint(0, 64)), float(rng.randint(0, 64)))
            else:
                values[key][name] = (rng.randint(1, 64) / 64, rng.choice([1 / 16, 1 / 8, 1 / 4,
                                                                          1 / 2, 1.0]))
    return config(*specs, slicing_specs=slicing_specs), values


def change_on_missing_slice_only(result):
    """Documented difference: a change threshold on a slice that was not computed fails in
    assay even on a first model (the slice is missing); TFX drops change thresholds on a first
    run before it looks for their slices."""
    failed = [c for c in result.checks if c.status == "fail"]
    return bool(failed) and all(c.kind.startswith("max_regression")
                                and "not in the results" in c.reason for c in failed)


def test_tfma_parity_on_random_configs_and_values(tfma):
    from google.protobuf import json_format

    rng = random.Random(7)
    compared = {True: 0, False: 0, "documented": 0}
    for _ in range(300):
        raw, values = random_case(rng)
        has_baseline = rng.random() < 0.8
        proto = json_format.ParseDict(raw, tfma.EvalConfig())
        expected = tfma_verdict(tfma, proto, values, has_baseline)
        as_json = json_format.MessageToJson(proto, preserving_proto_field_name=True)
        result, _ = assay_verdict(as_json, values, has_baseline)
        if not has_baseline and change_on_missing_slice_only(result):
            compared["documented"] += 1
            continue
        if expected is None:
            # TFX writes no blessing (the Pusher refuses); assay blesses a first model whose
            # thresholds all compare against the baseline (first_model: bless, documented).
            assert not has_baseline and result.blessed, (raw, result.reasons)
            continue
        assert result.blessed is expected, (raw, values, has_baseline, result.reasons)
        compared[expected] += 1
    assert compared[True] > 30 and compared[False] > 30 and compared["documented"] < 30, compared


def test_translating_the_proto_equals_translating_its_json(tfma):
    from tfx.utils import proto_utils

    specs = tfma.metrics.specs_from_metrics(
        [tfma.metrics.AUC(), tfma.metrics.MeanAbsolutePercentageError()])
    specs[-1].thresholds["auc"].value_threshold.lower_bound.value = 0.7
    specs[-1].thresholds["mean_absolute_percentage_error"].value_threshold.upper_bound.value = 20
    proto = tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(label_key="y", prediction_key="p")],
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=["region"])],
        metrics_specs=specs, options=tfma.Options(min_slice_size={"value": 10}))
    cfg = from_tfma(proto)
    assert cfg == from_tfma(proto_utils.proto_to_json(proto))
    assert cfg["min_slice_size"] == 10
    assert [(t["metric"], t.get("min", t.get("max")), t["slices"]) for t in cfg["thresholds"]
            ] == [("auc_tfma", 0.7, [[], ["region"]]), ("mape", 0.2, [[], ["region"]])]
    with pytest.raises(TypeError, match="got a tensorflow_model_analysis.ModelSpec proto"):
        from_tfma(tfma.ModelSpec())
