"""Tests for the noise-aware gate (assay.validation.gate): outcomes from intervals, the
on_inconclusive policy, p-values (against scipy), Holm and intersection-union over the slices of
a spec (against a plain step-down written here), validation.json's fields and sentences, and
small simulations of the gate's error rates with closed-form intervals."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
from scipy import stats

from assay.errors import ConfigError
from assay.validation import (Outcome, ValidationOptions, ValidationResult, parse_thresholds,
                              validate)
from assay.validation.gate import one_sided_p

Z95 = stats.norm.ppf(0.975)


def rec(slice_, model, metrics, intervals=None):
    r = {"slice": slice_, "model": model, "metrics": metrics}
    if intervals is not None:
        r["intervals"] = intervals
    return r


def normal_iv(estimate, se, z=Z95):
    return {"lower": estimate - z * se, "upper": estimate + z * se, "stderr": se}


def change_records(metric, candidate, baseline, se, slice_=None, value_se=0.01):
    """Candidate, baseline and diff records of one slice, with normal intervals."""
    slice_ = slice_ or {}
    return [rec(slice_, "candidate", {metric: candidate},
                {metric: normal_iv(candidate, value_se)}),
            rec(slice_, "baseline", {metric: baseline}, {metric: normal_iv(baseline, value_se)}),
            rec(slice_, "diff", {metric: candidate - baseline},
                {metric: normal_iv(candidate - baseline, se)})]


def gate(items, records, level=0.95, **options):
    return validate(records, parse_thresholds(items), ValidationOptions(**options),
                    has_baseline=True, confidence=level)


# ------------------------------------------------------------------------------------------
# Outcomes of one check: hand-computed intervals

# (threshold, candidate, baseline, se of what is compared) -> outcome. auc: higher is better;
# log_loss: lower is better. With se 0.01 the 95% interval is the estimate +- 0.0196.
OUTCOME_CASES = [
    ({"metric": "auc", "min": 0.7}, 0.75, None, "pass"),         # [0.730, 0.770]
    ({"metric": "auc", "min": 0.7}, 0.71, None, "inconclusive"),  # [0.690, 0.730]
    ({"metric": "auc", "min": 0.7}, 0.65, None, "fail"),          # [0.630, 0.670]
    ({"metric": "auc", "max": 0.7}, 0.65, None, "pass"),
    ({"metric": "auc", "max": 0.7}, 0.69, None, "inconclusive"),
    ({"metric": "auc", "max": 0.7}, 0.75, None, "fail"),
    # change -0.004, interval [-0.0236, 0.0156]
    ({"metric": "auc", "max_regression": 0.03}, 0.796, 0.80, "pass"),
    ({"metric": "auc", "max_regression": 0.01}, 0.796, 0.80, "inconclusive"),
    ({"metric": "auc", "max_regression": 0.01}, 0.76, 0.80, "fail"),  # [-0.0596, -0.0204]
    ({"metric": "auc", "max_regression": -0.01}, 0.83, 0.80, "pass"),  # improvement required
    ({"metric": "auc", "max_regression": -0.01}, 0.78, 0.80, "fail"),
    ({"metric": "log_loss", "max_regression": 0.01}, 0.40, 0.43, "pass"),   # fell: better
    ({"metric": "log_loss", "max_regression": 0.01}, 0.45, 0.40, "fail"),   # rose by 0.05
    ({"metric": "log_loss", "max_regression": 0.01}, 0.405, 0.40, "inconclusive"),
    # relative: the change interval / |baseline| = (-0.04 +- 0.0196) / 0.8: [-7.45%, -2.55%]
    ({"metric": "auc", "max_regression": {"relative": 0.1}}, 0.76, 0.80, "pass"),
    ({"metric": "auc", "max_regression": {"relative": 0.05}}, 0.76, 0.80, "inconclusive"),
    ({"metric": "auc", "max_regression": {"relative": 0.02}}, 0.76, 0.80, "fail"),
]


@pytest.mark.parametrize("item,candidate,baseline,outcome", OUTCOME_CASES)
@pytest.mark.parametrize("policy", ["fail", "pass"])
def test_outcome_from_the_whole_interval(item, candidate, baseline, outcome, policy):
    metric = item["metric"]
    if baseline is None:
        records = [rec({}, "candidate", {metric: candidate},
                       {metric: normal_iv(candidate, 0.01)})]
        result = validate(records, parse_thresholds([item]),
                          ValidationOptions(on_inconclusive=policy), has_baseline=False,
                          confidence=0.95)
    else:
        result = gate([item], change_records(metric, candidate, baseline, 0.01),
                      on_inconclusive=policy)
    check, = result.checks
    assert check.outcome == outcome
    expected = outcome if outcome != "inconclusive" else policy
    assert check.status == expected
    assert result.blessed == (expected == "pass")
    assert result.outcome == (Outcome.BLESSED if expected == "pass" else Outcome.NOT_BLESSED)


def test_the_same_values_pass_on_points_and_are_inconclusive_with_intervals():
    records = change_records("auc", 0.796, 0.80, 0.01)
    items = [{"metric": "auc", "max_regression": 0.01}]
    on_points = validate(records, parse_thresholds(items), ValidationOptions(),
                         has_baseline=True)
    assert on_points.blessed and on_points.checks[0].outcome is None
    assert not gate(items, records).blessed


def test_the_issue_sentence_and_the_validation_json_fields():
    records = [rec({}, "candidate", {"auc": 0.816}), rec({}, "baseline", {"auc": 0.82}),
               rec({}, "diff", {"auc": -0.004},
                   {"auc": {"lower": -0.011, "upper": 0.003, "stderr": 0.0036}})]
    result = gate([{"metric": "auc", "max_regression": 0.002}], records)
    assert result.reasons == [
        "auc fell by 0.004 (95% CI -0.011 to +0.003) against the baseline (0.82 -> 0.816): "
        "not shown to be within the allowed 0.002 (inconclusive; on_inconclusive is fail)"]
    doc = json.loads(result.to_json())
    check, = doc["checks"]
    assert check["outcome"] == "inconclusive" and check["status"] == "fail"
    assert check["interval"] == {"lower": -0.011, "upper": 0.003, "stderr": 0.0036}
    # H0 "not within": the regression 0.004 is 0.002 beyond the bound; the upper side of the
    # interval (0.011 for the regression) gives se = 0.007 / z.
    assert check["p_value"] == pytest.approx(stats.norm.sf(-0.002 / (0.007 / Z95)), rel=1e-9)
    assert doc["confidence"]["level"] == 0.95
    assert doc["confidence"]["on_inconclusive"] == "fail"
    assert doc["confidence"]["multiplicity"] == "intersection-union"
    assert ValidationResult.from_json(result.to_json()).to_dict() == doc


@pytest.mark.parametrize("candidate,outcome,said", [
    (0.75, "pass", "auc is 0.75 (95% CI 0.7304 to 0.7696): shown to be at or above the minimum "
                   "0.7"),
    (0.65, "fail", "auc is 0.65 (95% CI 0.6304 to 0.6696): shown to be below the minimum 0.7"),
])
def test_value_sentences(candidate, outcome, said):
    records = [rec({}, "candidate", {"auc": candidate}, {"auc": normal_iv(candidate, 0.01)})]
    result = validate(records, parse_thresholds([{"metric": "auc", "min": 0.7}]),
                      ValidationOptions(), has_baseline=False, confidence=0.95)
    assert result.checks[0].reason == said


def test_on_inconclusive_pass_blesses_and_still_lists_the_inconclusive_checks():
    records = change_records("auc", 0.796, 0.80, 0.01)
    result = gate([{"metric": "auc", "max_regression": 0.01, "min": 0.7}], records,
                  on_inconclusive="pass")
    assert result.blessed
    assert result.reasons[0] == "all 2 checks passed, 1 of them inconclusive"
    assert result.reasons[1].startswith("1 inconclusive check passed because on_inconclusive "
                                        "is pass: auc fell by 0.004 (95% CI -0.0236 to +0.0156)")
    assert "not shown to be more than the 0.01 allowed" in result.reasons[1]


def test_not_blessed_lists_failing_and_inconclusive_checks():
    records = (change_records("auc", 0.70, 0.80, 0.01)
               + change_records("auc", 0.796, 0.80, 0.01, {"region": "north"}))
    items = [{"metric": "auc", "max_regression": 0.01, "slices": [[], {"region": "north"}]}]
    result = gate(items, records, on_inconclusive="pass")
    assert not result.blessed
    assert [c.outcome for c in result.checks] == ["fail", "inconclusive"]
    assert "shown to be more than the 0.01 allowed" in result.reasons[0]
    assert result.reasons[1].startswith("1 inconclusive check passed")
    strict = gate(items, records)
    assert len(strict.reasons) == 2 and "not shown to be within" in strict.reasons[1]


# ------------------------------------------------------------------------------------------
# p-values, intervals that are missing or not computed

@pytest.mark.parametrize("estimate,bound,se", [(0.8, 0.7, 0.05), (0.71, 0.7, 0.02),
                                               (0.6, 0.7, 0.1), (0.7, 0.7, 0.01)])
def test_p_values_against_scipy(estimate, bound, se):
    records = [rec({}, "candidate", {"auc": estimate}, {"auc": normal_iv(estimate, se)})]
    for policy, expected in (("fail", stats.norm.sf((estimate - bound) / se)),
                             ("pass", stats.norm.cdf((estimate - bound) / se))):
        result = validate(records, parse_thresholds([{"metric": "auc", "min": bound}]),
                          ValidationOptions(on_inconclusive=policy), has_baseline=False,
                          confidence=0.95)
        assert result.checks[0].p_value == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_p_value_agrees_with_the_interval_when_it_is_not_symmetric():
    # Interval [0.69, 0.80] around 0.75: the lower side implies se = 0.06 / z; the p-value
    # of H0 "below 0.7" is then exactly (1 - level) / 2 when the bound is at the lower end.
    records = [rec({}, "candidate", {"auc": 0.75},
                   {"auc": {"lower": 0.70, "upper": 0.80, "stderr": 0.04}})]
    result = validate(records, parse_thresholds([{"metric": "auc", "min": 0.7}]),
                      ValidationOptions(), has_baseline=False, confidence=0.9)
    assert result.checks[0].outcome == "pass"
    assert result.checks[0].p_value == pytest.approx(0.05, rel=1e-9)
    assert "90% CI 0.7 to 0.8" in result.checks[0].reason


def test_one_sided_p_uses_the_stderr_when_the_interval_gives_none():
    assert one_sided_p(0.02, -1.0, 0.01) == pytest.approx(stats.norm.sf(2.0))
    assert one_sided_p(0.02, 0.0, 0.0) == 0.0 and one_sided_p(-0.02, 0.0, 0.0) == 1.0
    assert math.isnan(one_sided_p(0.02, math.nan, math.nan))


def test_a_metric_without_an_interval_is_judged_on_its_point_value_and_says_so():
    records = [rec({}, "candidate", {"auc": 0.75, "my_score": 3.0},
                   {"auc": normal_iv(0.75, 0.01)})]
    items = [{"metric": "my_score", "min": 2.0, "direction": "higher"}]
    result = validate(records, parse_thresholds(items), ValidationOptions(),
                      has_baseline=False, confidence=0.95)
    check, = result.checks
    assert check.outcome == "pass" and check.interval is None and check.p_value is None
    assert check.reason == ("my_score is 3, at or above the minimum 2 (no 95% CI for it in the "
                            "results, so judged on the point value)")


@pytest.mark.parametrize("interval", [{"lower": None, "upper": None, "stderr": None},
                                      {"lower": "NaN", "upper": "NaN", "stderr": "NaN"}])
@pytest.mark.parametrize("policy", ["fail", "pass"])
def test_an_interval_that_could_not_be_computed_is_inconclusive(interval, policy):
    records = [rec({}, "candidate", {"auc": 0.9}, {"auc": interval})]
    result = validate(records, parse_thresholds([{"metric": "auc", "min": 0.7}]),
                      ValidationOptions(on_inconclusive=policy), has_baseline=False,
                      confidence=0.95)
    check, = result.checks
    assert (check.outcome, check.status) == ("inconclusive", policy)
    # Strict JSON: what is not a number is null, never NaN.
    assert check.interval == {"lower": None, "upper": None, "stderr": None}
    assert check.p_value is None and "NaN" not in result.to_json()
    assert check.reason == ("auc: its 95% CI could not be computed, so the data show it neither "
                            "at or above the minimum 0.7 nor below the minimum 0.7 "
                            f"(inconclusive; on_inconclusive is {policy})")


def test_missing_data_and_max_gap_keep_their_point_reasons():
    records = [rec({"region": r}, "candidate", {"auc": v}, {"auc": normal_iv(v, 0.01)})
               for r, v in (("n", 0.8), ("s", 0.7))]
    items = [{"metric": "auc", "max_gap": {"across": ["region"], "value": 0.05}},
             {"metric": "recall", "min": 0.5, "slices": [{"region": "n"}]}]
    result = validate(records, parse_thresholds(items), ValidationOptions(),
                      has_baseline=False, confidence=0.95)
    gap, missing = result.checks
    assert (gap.outcome, gap.interval) == ("fail", None)
    assert gap.reason.startswith("auc varies by 0.1 across [region]")
    assert missing.outcome == "fail" and "recall is not among the metrics" in missing.reason


def test_without_confidence_validation_json_is_unchanged_by_intervals_in_the_records():
    plain = [{k: v for k, v in r.items() if k != "intervals"}
             for r in change_records("auc", 0.796, 0.80, 0.01)]
    items = [{"metric": "auc", "max_regression": 0.01, "min": 0.7}]
    with_iv = validate(change_records("auc", 0.796, 0.80, 0.01), parse_thresholds(items),
                       ValidationOptions(on_inconclusive="pass"), has_baseline=True)
    without = validate(plain, parse_thresholds(items), ValidationOptions(), has_baseline=True)
    assert with_iv.to_dict() == without.to_dict()
    assert "confidence" not in without.to_dict()
    assert not {"outcome", "interval", "p_value"} & set(without.to_dict()["checks"][0])


@pytest.mark.parametrize("level,message", [(1.5, "got 1.5"), ("high", "got 'high', a str"),
                                           (0, "between 0 and 1")])
def test_bad_levels_are_named(level, message):
    with pytest.raises(ConfigError, match=message):
        validate([], parse_thresholds([{"metric": "auc", "min": 0.7}]), ValidationOptions(),
                 has_baseline=False, confidence=level)


def test_on_inconclusive_is_checked():
    with pytest.raises(ConfigError, match="on_inconclusive"):
        ValidationOptions(on_inconclusive="maybe")


# ------------------------------------------------------------------------------------------
# A tfma.EvalConfig asking for confidence intervals

@pytest.mark.parametrize("options", [
    {"compute_confidence_intervals": {"value": True}},
    {"compute_confidence_intervals": True, "confidence_intervals": {"method": "JACKKNIFE"}},
])
def test_tfma_compute_confidence_intervals_translates_to_confidence(options):
    from assay.config.schema import EvalConfig
    from assay.config.tfma import from_tfma

    raw = {"model_specs": [{"label_key": "y", "prediction_key": "p"}], "options": options}
    out = from_tfma(raw)
    assert out["confidence"] == {}
    assert EvalConfig.from_dict(out).confidence.level == 0.95
    assert "confidence" not in from_tfma({"model_specs": raw["model_specs"], "options": {
        "compute_confidence_intervals": {"value": False}}})


def test_tfma_proto_with_confidence_intervals_translates():
    import tensorflow_model_analysis as tfma
    from assay.config.tfma import from_tfma

    proto = tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(label_key="y", prediction_key="p")],
        options=tfma.Options(compute_confidence_intervals={"value": True}))
    assert from_tfma(proto)["confidence"] == {}


def test_on_inconclusive_pass_without_confidence_is_a_config_error():
    from assay.config.schema import EvalConfig

    base = {"label": "y", "models": {"candidate": {"prediction": "p"}},
            "thresholds": [{"metric": "auc", "min": 0.7}]}
    with pytest.raises(ConfigError, match="'on_inconclusive' .* needs 'confidence:'"):
        EvalConfig.from_dict(dict(base, on_inconclusive="pass"))
    cfg = EvalConfig.from_dict(dict(base, on_inconclusive="pass", confidence={"level": 0.9}))
    assert cfg.validation.options.on_inconclusive == "pass"
    assert cfg.to_dict()["on_inconclusive"] == "pass"
    assert EvalConfig.from_dict(cfg.to_dict()) == cfg


# ------------------------------------------------------------------------------------------
# End to end: assay.evaluate with `confidence:`, and assay.validate on what it wrote

@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    import pandas as pd

    import assay

    rng = np.random.default_rng(7)
    n = 3000
    x = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(1.5 * x - 0.5)))).astype(int)
    frame = pd.DataFrame({"y": y, "region": rng.choice(["a", "b", "c"], n),
                          "p": 1 / (1 + np.exp(-(x + rng.normal(0, 0.8, n)))),
                          "q": 1 / (1 + np.exp(-(x + rng.normal(0, 0.8, n))))})
    config = {"label": "y", "models": {"candidate": {"prediction": "p"},
                                       "baseline": {"prediction": "q"}},
              "slices": [[], ["region"]], "confidence": {"replicates": 50, "seed": 3},
              "thresholds": [{"metric": "auc", "min": 0.7, "max_regression": 0.01},
                             {"metric": "accuracy", "slices": [["region"]],
                              "max_regression": 0.02}]}
    root = tmp_path_factory.mktemp("gate")
    frame.to_csv(root / "frame.csv", index=False)  # the same rows, for the components' test
    out = str(root / "out")
    return assay.evaluate(config, frame, out, write_report=False), config, out


def test_evaluate_decides_every_check_on_the_records_intervals(evaluated):
    result, _, out = evaluated
    with open(os.path.join(out, "validation.json")) as f:
        doc = json.load(f)
    assert doc["confidence"]["level"] == 0.95 and doc["confidence"]["on_inconclusive"] == "fail"
    records = {(json.dumps(r["slice"], sort_keys=True), r["model"]): r for r in result.records}
    for c in doc["checks"]:
        change = c["kind"].startswith("max_regression")
        r = records[(json.dumps(c["slice"], sort_keys=True), "diff" if change else "candidate")]
        iv = r["intervals"][c["metric"]]
        assert c["interval"] == {"lower": iv["lower"], "upper": iv["upper"],
                                 "stderr": iv["stderr"]}
        # By hand: higher is better for both metrics.
        if change:
            ok, bad = -iv["lower"] <= c["threshold"], -iv["upper"] > c["threshold"]
        else:
            ok, bad = iv["lower"] >= c["threshold"], iv["upper"] < c["threshold"]
        want = "pass" if ok else "fail" if bad else "inconclusive"
        assert c["outcome"] == want, c["reason"]
        assert c["status"] == ("pass" if want == "pass" else "fail")
        assert "95% CI" in c["reason"]
    assert result.blessed == all(c["outcome"] == "pass" for c in doc["checks"])
    families = [c["family"] for c in doc["checks"] if c["metric"] == "accuracy"]
    assert families == [{"method": "intersection-union", "spec": ["region"], "size": 3}] * 3


def test_validate_rejudges_a_stored_evaluation_with_the_other_policy(evaluated):
    import assay

    result, config, out = evaluated
    loose = assay.validate(out, dict(config, on_inconclusive="pass"))
    assert loose.confidence["multiplicity"] == "holm"
    assert {c.outcome for c in loose.checks} <= {"pass", "fail", "inconclusive"}
    assert all(c.status == "pass" for c in loose.checks if c.outcome == "inconclusive")
    points = assay.validate(out, {k: v for k, v in config.items() if k != "confidence"})
    assert points.confidence is None and all(c.outcome is None for c in points.checks)


def test_cross_model_metrics_are_judged_on_the_diff_records_interval():
    records = [rec({}, "candidate", {"auc": 0.8}), rec({}, "baseline", {"auc": 0.8}),
               rec({}, "diff", {"auc": 0.0, "symmetric_flip_rate": 0.05},
                   {"symmetric_flip_rate": {"lower": 0.04, "upper": 0.11, "stderr": 0.018}})]
    result = gate([{"metric": "symmetric_flip_rate", "max": 0.1}], records)
    check, = result.checks
    assert (check.outcome, check.interval["upper"]) == ("inconclusive", 0.11)
    assert check.reason.startswith("symmetric_flip_rate is 0.05 (95% CI 0.04 to 0.11): not "
                                   "shown to be at or below the maximum 0.1")


def test_model_thresholds_read_that_models_records_and_say_so():
    records = (change_records("auc", 0.70, 0.80, 0.01)
               + [rec({}, "previous", {"auc": 0.79}, {"auc": normal_iv(0.79, 0.01)}),
                  rec({}, "diff:previous", {"auc": -0.01}, {"auc": normal_iv(-0.01, 0.002)})])
    result = gate([{"metric": "auc", "model": "previous", "max_regression": 0.02}], records)
    check, = result.checks
    assert check.outcome == "pass"
    assert check.interval["lower"] == pytest.approx(-0.01 - Z95 * 0.002)
    assert check.reason == ("model previous: auc fell by 0.01 (95% CI -0.01392 to -0.00608) "
                            "against the baseline (0.8 -> 0.79): shown to be within the "
                            "allowed 0.02")



def _csv_of(frame, directory):
    os.makedirs(directory, exist_ok=True)
    frame.to_csv(os.path.join(directory, "data.csv"), index=False)
    return directory


def _gate_of(directory):
    with open(os.path.join(directory, "validation.json")) as f:
        return {(json.dumps(c["slice"], sort_keys=True), c["metric"], c["kind"]):
                (c["outcome"], c["interval"]) for c in json.load(f)["checks"]}


def test_kfp_and_tfx_components_give_the_cli_and_apis_gate(evaluated, tmp_path):
    """The KFP component's entrypoint and the TFX executor, with the same `confidence:` config
    on the same file (data.csv: an example's resampling weights depend on its file name and row,
    so all three draw the same replicates): the same intervals and outcomes as assay.evaluate,
    and the same verdict."""
    import pandas as pd
    from test_kfp import hand_built_executor_input
    from tfx.types import standard_artifacts
    from tfx_artifacts import artifact, executor_outputs

    import assay
    from assay.kfp import executor as kfp_executor
    from assay.tfx.executor import Executor

    _, config, out = evaluated
    frame = pd.read_csv(os.path.join(out, "..", "frame.csv"))
    data = _csv_of(frame, str(tmp_path / "examples"))
    reference = assay.evaluate(config, data, str(tmp_path / "api"), write_report=False)
    want = _gate_of(str(tmp_path / "api"))
    assert {outcome for outcome, _ in want.values()} >= {"pass"}
    # KFP
    task = hand_built_executor_input(
        str(tmp_path / "task"), {"examples": ("system.Dataset", data)},
        {"config": json.dumps(config), "beam_pipeline_args": [], "allow_pickle": False,
         "force_bless": ""})
    kfp_executor.run(task)

    # TFX
    examples = artifact(standard_artifacts.Examples, tmp_path, "tfx_examples",
                        split_names='["eval"]')
    _csv_of(frame, os.path.join(examples.uri, "Split-eval"))
    outputs = executor_outputs(tmp_path)
    Executor().Do({"examples": [examples]}, outputs,
                  {"config": json.dumps(config), "eval_config": None,
                   "example_splits": json.dumps(["eval"])})
    for directory in (str(tmp_path / "task" / "evaluation"), outputs["evaluation"][0].uri):
        got = _gate_of(directory)
        assert set(got) == set(want), directory
        for key, (outcome, interval) in want.items():
            assert got[key][0] == outcome, (directory, key)
            for bound in ("lower", "upper"):
                assert got[key][1][bound] == pytest.approx(interval[bound], rel=1e-9), key
        assert assay.load_result(directory).blessed == reference.blessed
