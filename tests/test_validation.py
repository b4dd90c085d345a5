"""Tests for assay.validation and assay.config.thresholds: thresholds, every outcome and its
reason, blessing files."""

from __future__ import annotations

import json
import math
import os
import random

import pytest
import yaml

from assay.errors import ConfigError, ConfigTypeError
from assay.validation import (
    Check, MaxGap, Outcome, SliceSelector, Threshold, ValidationOptions, ValidationResult,
    blessing_properties, metric_direction, parse_thresholds, parse_validation, validate,
    write_blessing)

ISSUE_CONFIG = """
thresholds:
  - {metric: auc, min: 0.70, max_regression: 0.01}    # overall slice by default
  - {metric: log_loss, max_regression: {relative: 0.05}}
  - {metric: recall, slices: [[region]], min: 0.5}   # every slice of [region]
  - {metric: auc, slices: [{region: north}], min: 0.65}
  - {metric: auc, max_gap: {across: [region], value: 0.05}}
on_no_thresholds: reject          # or bless
first_model: bless                # or reject, when only change thresholds exist
"""


def rec(slice_, model, **metrics):
    return {"slice": slice_, "model": model, "metrics": metrics}


def withheld(slice_, model="candidate", why="withheld: 12 examples, fewer than min_slice_size 100"):
    return {"slice": slice_, "model": model, "withheld": why}


def pair(metric, candidate, baseline, slice_=None):
    """Candidate and baseline records of one slice with one metric."""
    slice_ = slice_ or {}
    return [rec(slice_, "candidate", **{metric: candidate}),
            rec(slice_, "baseline", **{metric: baseline})]


def run(items, records, has_baseline=True, baseline_error=None, **options):
    return validate(records, parse_thresholds(items), ValidationOptions(**options),
                    has_baseline=has_baseline, baseline_error=baseline_error)


def statuses(result):
    return [(c.kind, c.slice, c.status) for c in result.checks]


# ------------------------------------------------------------------------------------------
# Directions

BUILTIN_DIRECTIONS = {
    # binary
    "example_count": None, "weighted_example_count": None, "auc": "higher", "auc_pr": "higher",
    "accuracy": "higher", "precision": "higher", "recall": "higher", "f1": "higher",
    "specificity": "higher", "false_positive_rate": "lower", "log_loss": "lower",
    "mean_label": None, "mean_prediction": None, "calibration": None,
    "precision@0.3": "higher", "recall@0.5": "higher", "f1@0.7": "higher",
    "accuracy@0.5": "higher", "tp@0.5": "higher", "tn@0.5": "higher", "fp@0.5": "lower",
    "fn@0.25": "lower",
    # multiclass
    "top_3_accuracy": "higher", "top_10_accuracy": "higher",
    "precision_macro": "higher", "precision_micro": "higher", "precision_weighted": "higher",
    "recall_macro": "higher", "f1_micro": "higher", "f1_weighted": "higher",
    "auc_macro": "higher", "auc_weighted": "higher",
    "precision/cat": "higher", "recall/2": "higher", "f1/a b": "higher",
    # regression
    "mse": "lower", "rmse": "lower", "mae": "lower", "mape": "lower", "r2": "higher",
    "residual_p05": None, "residual_p50": None, "residual_p95": None,
}


@pytest.mark.parametrize("name,direction", sorted(BUILTIN_DIRECTIONS.items()))
def test_metric_direction_of_every_builtin_name(name, direction):
    assert metric_direction(name) == direction


@pytest.mark.parametrize("name", ["my_score", "auc@0.5", "precision@high", "log_loss_macro",
                                  "top_k_accuracy", "residual_mean", "precision/", ""])
def test_metric_direction_is_none_for_names_that_are_not_built_in(name):
    assert metric_direction(name) is None


@pytest.mark.parametrize("name", sorted(n for n, d in BUILTIN_DIRECTIONS.items() if d is None))
def test_value_thresholds_on_directionless_metrics_are_fine_change_thresholds_need_direction(name):
    parse_thresholds([{"metric": name, "min": 0}])
    with pytest.raises(ValueError, match=rf"{name} needs 'direction: higher' or 'direction: "
                                         rf"lower': {name} has no better direction"):
        parse_thresholds([{"metric": name, "max_regression": 1}])
    t, = parse_thresholds([{"metric": name, "max_regression": 1, "direction": "lower"}])
    assert t.direction == "lower"


# ------------------------------------------------------------------------------------------
# Config

def test_issue_config_parses():
    thresholds, options = parse_validation(yaml.safe_load(ISSUE_CONFIG))
    auc, log_loss, recall, north, gap = thresholds
    assert (auc.min, auc.max_regression_absolute, auc.slices) == (0.70, 0.01, (SliceSelector(),))
    assert (log_loss.max_regression_relative, log_loss.direction) == (0.05, "lower")
    assert recall.slices == (SliceSelector(("region",), None),) and recall.slices[0].every_slice
    assert north.slices == (SliceSelector(("region",), ("north",)),)
    assert gap.max_gap == MaxGap(("region",), 0.05) and gap.bounds() == []
    assert options == ValidationOptions(on_no_thresholds="reject", first_model="bless")


def test_both_absolute_and_relative_and_overall_written_either_way():
    t, = parse_thresholds([{"metric": "auc", "slices": [[], {}],
                            "max_regression": {"absolute": 0.01, "relative": 0.02}}])
    assert (t.max_regression_absolute, t.max_regression_relative) == (0.01, 0.02)
    assert t.slices == (SliceSelector(),)          # [] and {} are both the overall slice


def test_thresholds_round_trip_through_config():
    items = yaml.safe_load(ISSUE_CONFIG)["thresholds"] + [
        {"metric": "my_score", "direction": "higher", "max_regression": {"absolute": -0.01}},
        {"metric": "auc", "slices": [{"hour": 3, "day": "mon"}, ["day", "hour"]], "max": 0.99}]
    thresholds = parse_thresholds(items)
    again = parse_thresholds(json.loads(json.dumps([t.to_config() for t in thresholds])))
    assert again == thresholds
    assert thresholds[-1].slices[0] == SliceSelector(("day", "hour"), ("mon", 3))


@pytest.mark.parametrize("item,error,message", [
    ({"metric": "auc", "min": "0.7"}, ConfigTypeError,
     r"thresholds\[0\] \(auc\): 'min' must be a number \(got '0.7', a str\)"),
    ({"metric": "auc", "max": True}, ConfigTypeError,
     r"'max' must be a number \(got True, a bool\)"),
    ({"metric": "auc", "min": float("nan")}, ConfigError, r"'min' must be a finite number"),
    ({"metric": "auc", "max_regresion": 0.01}, ConfigError,
     r"unknown key 'max_regresion' in this threshold; did you mean 'max_regression'\?"),
    ({"metric": "auc", "slice": [["region"]], "min": 0.5}, ConfigError,
     r"unknown key 'slice' in this threshold; did you mean 'slices'\?"),
    ({"metric": "auc", "zzz": 1}, ConfigError,
     r"unknown key 'zzz' in this threshold; valid keys are: direction, max, max_gap"),
    ({"metric": "auc", "max_regression": {"relativ": 0.1}}, ConfigError,
     r"unknown key 'relativ' in max_regression; did you mean 'relative'\?"),
    ({"metric": "auc", "max_regression": "1%"}, ConfigTypeError,
     r"'max_regression' must be a number \(absolute\) or a mapping \{absolute: a, relative: r\} "
     r"\(got '1%', a str\)"),
    ({"metric": "auc", "max_regression": {}}, ConfigError,
     r"'max_regression' must give 'absolute', 'relative' or both"),
    ({"metric": "auc", "max_regression": {"relative": "5%"}}, ConfigTypeError,
     r"'max_regression.relative' must be a number \(got '5%', a str\)"),
    ({"metric": "auc"}, ConfigError, r"the threshold on auc has no bound; give at least one of"),
    ({"min": 0.5}, ConfigError, r"thresholds\[0\]: a threshold needs 'metric'"),
    ({"metric": 3, "min": 0.5}, ConfigTypeError,
     r"'metric' must be a non-empty string \(got 3, a int\)"),
    ({"metric": "auc", "min": 0.9, "max": 0.8}, ConfigError,
     r"auc: 'min' 0.9 is greater than 'max' 0.8, so no value could pass"),
    ({"metric": "my_score", "max_regression": 0.1}, ConfigError,
     r"a max_regression on my_score needs 'direction: higher' or 'direction: lower': my_score "
     r"is not a built-in metric, so its direction is unknown"),
    ({"metric": "my_score", "max_regression": 0.1, "direction": "up"}, ConfigError,
     r"'direction' must be one of higher, lower \(got 'up'\)"),
    ({"metric": "my_score", "max_regression": 0.1, "direction": "lowr"}, ConfigError,
     r"\(got 'lowr'\); did you mean 'lower'\?"),
    ({"metric": "auc", "max_regression": 0.1, "direction": "lower"}, ConfigError,
     r"'direction' of auc is 'higher' for the built-in metric \(got 'lower'\)"),
    ({"metric": "auc", "slices": "region", "min": 0.5}, ConfigTypeError,
     r"'slices' must be a list of slicing specs"),
    ({"metric": "auc", "slices": ["region"], "min": 0.5}, ConfigTypeError,
     r"a 'slices' entry must be a list of feature names .* \(got 'region', a str\)"),
    ({"metric": "auc", "slices": [{"region": None}], "min": 0.5}, ConfigTypeError,
     r"'region' must be a string, number or boolean \(got None, a NoneType\)"),
    ({"metric": "auc", "slices": [], "min": 0.5}, ConfigError, r"'slices' is empty"),
    ({"metric": "auc", "max_gap": {"across": ["region"]}}, ConfigError,
     r"'max_gap' needs 'value'"),
    ({"metric": "auc", "max_gap": {"across": [], "value": 0.1}}, ConfigError,
     r"'max_gap.across' must name at least one feature"),
    ({"metric": "auc", "max_gap": {"across": "region", "value": 0.1}}, ConfigTypeError,
     r"'max_gap.across' must be a list of feature names \(got 'region', a str\)"),
    ({"metric": "auc", "max_gap": {"across": ["region"], "value": -0.1}}, ConfigError,
     r"'max_gap.value' must be >= 0"),
    ({"metric": "auc", "max_gap": {"acros": ["region"], "value": 0.1}}, ConfigError,
     r"unknown key 'acros' in max_gap; did you mean 'across'\?"),
    ({"metric": "auc", "slices": [["hour"]], "max_gap": {"across": ["region"], "value": 0.1}},
     ConfigError, r"'slices' has no effect on a threshold whose only bound is max_gap"),
    ("auc > 0.7", ConfigTypeError, r"a threshold must be a mapping"),
])
def test_config_errors_name_the_key_rule_and_value(item, error, message):
    with pytest.raises(error, match=message):
        parse_thresholds([item])


def test_error_names_the_threshold_index():
    with pytest.raises(ConfigTypeError, match=r"^thresholds\[1\] \(log_loss\): 'max'"):
        parse_thresholds([{"metric": "auc", "min": 0.5}, {"metric": "log_loss", "max": "1"}])


def test_thresholds_must_be_a_list():
    with pytest.raises(ConfigTypeError, match=r"'thresholds' must be a list of thresholds"):
        parse_thresholds({"metric": "auc", "min": 0.5})
    assert parse_thresholds(None) == ()


@pytest.mark.parametrize("kw,error,message", [
    ({"on_no_thresholds": "blesss"}, ConfigError,
     r"'on_no_thresholds' must be one of reject, bless \(got 'blesss'\); did you mean 'bless'"),
    ({"first_model": True}, ConfigTypeError,
     r"'first_model' must be one of bless, reject \(got True"),
    ({"baseline_failure": "skip"}, ConfigError, r"'baseline_failure' must be one of fail, ignore"),
    ({"force_bless": "  "}, ConfigError, r"'force_bless' needs a reason"),
    ({"force_bless": True}, ConfigTypeError, r"'force_bless' must be a string giving the reason"),
])
def test_option_errors(kw, error, message):
    with pytest.raises(error, match=message):
        ValidationOptions(**kw)


def test_validation_config_rejects_unknown_keys():
    with pytest.raises(ConfigError, match=r"unknown key 'first_modle' in the validation config; "
                                          r"did you mean 'first_model'"):
        parse_validation({"thresholds": [], "first_modle": "reject"})


def test_validate_wants_parsed_thresholds():
    with pytest.raises(TypeError, match=r"build them with parse_thresholds"):
        validate([], [{"metric": "auc", "min": 0.5}], None, has_baseline=False)


# ------------------------------------------------------------------------------------------
# Value thresholds

def test_value_bounds_are_inclusive_and_reasons_say_which_side():
    records = [rec({}, "candidate", auc=0.7, log_loss=0.5)]
    result = run([{"metric": "auc", "min": 0.7, "max": 0.9},
                  {"metric": "log_loss", "max": 0.5}], records, has_baseline=False)
    assert result.blessed and result.outcome == Outcome.BLESSED
    assert [c.reason for c in result.checks] == [
        "auc is 0.7, at or above the minimum 0.7", "auc is 0.7, at or below the maximum 0.9",
        "log_loss is 0.5, at or below the maximum 0.5"]
    assert result.reasons == ["all 3 checks passed"]


def test_value_below_minimum_fails_with_reason():
    result = run([{"metric": "auc", "min": 0.65}], [rec({}, "candidate", auc=0.612)])
    assert not result.blessed and result.outcome == Outcome.NOT_BLESSED
    assert result.reasons == ["auc is 0.612, below the minimum 0.65"]
    check, = result.checks
    assert (check.kind, check.threshold, check.candidate, check.status) == ("min", 0.65, 0.612,
                                                                            "fail")


def test_value_above_maximum_fails_and_close_values_print_distinctly():
    result = run([{"metric": "log_loss", "max": 0.5}], [rec({}, "candidate", log_loss=0.50001)])
    assert result.reasons == ["log_loss is 0.50001, above the maximum 0.5"]


# ------------------------------------------------------------------------------------------
# Change thresholds

def test_absolute_regression_in_the_metric_direction():
    # auc (higher is better): a drop is a regression; log_loss (lower is better): a rise.
    items = [{"metric": "auc", "max_regression": 0.01},
             {"metric": "log_loss", "max_regression": 0.01}]
    ok = run(items, [rec({}, "candidate", auc=0.795, log_loss=0.405),
                     rec({}, "baseline", auc=0.80, log_loss=0.40)])
    assert ok.blessed, ok.reasons
    assert [c.reason for c in ok.checks] == [
        "auc fell by 0.005 against the baseline (0.8 -> 0.795), within the 0.01 allowed",
        "log_loss rose by 0.005 against the baseline (0.4 -> 0.405), within the 0.01 allowed"]
    bad = run(items, [rec({}, "candidate", auc=0.78, log_loss=0.43),
                      rec({}, "baseline", auc=0.80, log_loss=0.40)])
    assert bad.reasons == [
        "auc fell by 0.02 against the baseline (0.8 -> 0.78), more than the 0.01 allowed",
        "log_loss rose by 0.03 against the baseline (0.4 -> 0.43), more than the 0.01 allowed"]
    auc = bad.checks[0]
    assert (auc.kind, auc.candidate, auc.baseline) == ("max_regression_absolute", 0.78, 0.80)
    assert auc.change == pytest.approx(-0.02)


def test_improvements_pass_any_regression_bound():
    result = run([{"metric": "auc", "max_regression": 0.0},
                  {"metric": "mse", "max_regression": {"relative": 0.0}}],
                 [rec({}, "candidate", auc=0.9, mse=1.0), rec({}, "baseline", auc=0.8, mse=2.0)])
    assert result.blessed
    assert [c.reason for c in result.checks] == [
        "auc rose by 0.1 against the baseline (0.8 -> 0.9), an improvement",
        "mse fell 50% against the baseline (2 -> 1), an improvement"]


def test_relative_regression_wording():
    result = run([{"metric": "log_loss", "max_regression": {"relative": 0.05}}],
                 pair("log_loss", 0.441, 0.412))
    assert result.reasons == ["log_loss rose 7.04% against the baseline (0.412 -> 0.441), "
                              "more than the 5% allowed"]
    check, = result.checks
    assert check.kind == "max_regression_relative"
    assert check.change == pytest.approx((0.441 - 0.412) / 0.412)


def test_absolute_and_relative_must_both_hold():
    items = [{"metric": "auc", "max_regression": {"absolute": 0.05, "relative": 0.01}}]
    result = run(items, pair("auc", 0.48, 0.50))           # -0.02 absolute, -4% relative
    assert statuses(result) == [("max_regression_absolute", {}, "pass"),
                                ("max_regression_relative", {}, "fail")]
    assert result.reasons == ["auc fell 4% against the baseline (0.5 -> 0.48), "
                              "more than the 1% allowed"]


def test_negative_bound_requires_an_improvement():
    items = [{"metric": "auc", "max_regression": -0.01}]
    short = run(items, pair("auc", 0.805, 0.80))
    assert short.reasons == ["auc rose by 0.005 against the baseline (0.8 -> 0.805), short of "
                             "the required improvement of 0.01"]
    met = run(items, pair("auc", 0.82, 0.80))
    assert met.blessed and met.checks[0].reason.endswith("meeting the required improvement of "
                                                         "at least 0.01")


def test_relative_change_against_the_absolute_value_of_a_negative_baseline():
    # r2 from -0.5 to -0.6 is 20% worse; TFMA (diff / baseline = +0.2) would call it better.
    result = run([{"metric": "r2", "max_regression": {"relative": 0.1}}], pair("r2", -0.6, -0.5))
    assert result.reasons == ["r2 fell 20% against the baseline (-0.5 -> -0.6), "
                              "more than the 10% allowed"]
    assert result.checks[0].change == pytest.approx(-0.2)


@pytest.mark.parametrize("metric,candidate,status,reason", [
    ("fp@0.5", 0.0, "pass", "fp@0.5 is unchanged against the baseline (0)"),
    ("fp@0.5", 3.0, "fail", "fp@0.5 rose from a baseline of 0 to 3, an infinite relative change, "
                        "more than the 5% allowed"),
    ("recall", 0.1, "pass", "recall rose from a baseline of 0 to 0.1, an infinite relative "
                            "change, an improvement"),
    ("recall", -0.1, "fail", "recall fell from a baseline of 0 to -0.1, an infinite relative "
                             "change, more than the 5% allowed"),
])
def test_relative_change_with_a_zero_baseline(metric, candidate, status, reason):
    result = run([{"metric": metric, "max_regression": {"relative": 0.05}}],
                 pair(metric, candidate, 0.0))
    check, = result.checks
    assert (check.status, check.reason) == (status, reason)
    assert check.change == (0.0 if candidate == 0 else math.copysign(math.inf, candidate))


def test_unchanged_zero_baseline_does_not_meet_a_required_improvement():
    result = run([{"metric": "fp@0.5", "max_regression": {"relative": -0.1}}],
                 pair("fp@0.5", 0.0, 0.0))
    assert result.checks[0].status == "fail"


def test_a_change_equal_to_the_bound_passes_despite_float_rounding():
    assert 0.79 - 0.80 < -0.01                              # the float rounding in question
    result = run([{"metric": "auc", "max_regression": 0.01}], pair("auc", 0.79, 0.80))
    assert result.blessed
    assert result.checks[0].reason == ("auc fell by 0.01 against the baseline (0.8 -> 0.79), "
                                       "within the 0.01 allowed")


def test_custom_metric_with_direction():
    items = [{"metric": "latency_ms", "direction": "lower", "max_regression": {"relative": 0.1}}]
    result = run(items, pair("latency_ms", 120.0, 100.0))
    assert result.reasons == ["latency_ms rose 20% against the baseline (100 -> 120), "
                              "more than the 10% allowed"]


def test_diff_records_are_not_needed_or_read():
    records = pair("auc", 0.8, 0.8) + [rec({}, "diff", auc=-1.0)]
    assert run([{"metric": "auc", "max_regression": 0.01}], records).blessed


# ------------------------------------------------------------------------------------------
# Slices

REGION_RECORDS = [
    rec({}, "candidate", auc=0.80, recall=0.6), rec({}, "baseline", auc=0.80, recall=0.6),
    rec({"region": "north"}, "candidate", auc=0.612, recall=0.4),
    rec({"region": "north"}, "baseline", auc=0.70, recall=0.4),
    rec({"region": "south"}, "candidate", auc=0.70, recall=0.55),
    rec({"region": "south"}, "baseline", auc=0.70, recall=0.55),
    withheld({"region": "east"}), withheld({"region": "east"}, "baseline"),
]


def test_named_slice_threshold():
    result = run([{"metric": "auc", "slices": [{"region": "north"}], "min": 0.65}],
                 REGION_RECORDS)
    assert result.reasons == ["auc on slice region=north is 0.612, below the minimum 0.65"]
    assert result.checks[0].slice == {"region": "north"}
    ok = run([{"metric": "auc", "slices": [{"region": "south"}], "min": 0.65}], REGION_RECORDS)
    assert ok.blessed


def test_every_slice_of_a_spec_skips_withheld_slices_and_says_so():
    result = run([{"metric": "recall", "slices": [["region"]], "min": 0.5}], REGION_RECORDS)
    assert statuses(result) == [("min", {"region": "east"}, "skipped"),
                                ("min", {"region": "north"}, "fail"),
                                ("min", {"region": "south"}, "pass")]
    assert result.checks[0].reason == ("slice region=east was withheld (12 examples, fewer "
                                       "than min_slice_size 100); not checked")
    assert result.reasons == ["recall on slice region=north is 0.4, below the minimum 0.5"]


def test_change_threshold_on_every_slice_of_a_spec():
    result = run([{"metric": "auc", "slices": [[], ["region"]], "max_regression": 0.05}],
                 REGION_RECORDS)
    assert [(c.slice, c.status) for c in result.checks] == [
        ({}, "pass"), ({"region": "east"}, "skipped"), ({"region": "north"}, "fail"),
        ({"region": "south"}, "pass")]
    assert result.reasons == ["auc on slice region=north fell by 0.088 against the baseline "
                              "(0.7 -> 0.612), more than the 0.05 allowed"]


def test_overlapping_selectors_check_a_slice_once():
    result = run([{"metric": "auc", "slices": [["region"], {"region": "south"}], "min": 0.5}],
                 REGION_RECORDS)
    assert [c.slice for c in result.checks] == [{"region": "east"}, {"region": "north"},
                                                {"region": "south"}]


def test_named_slice_missing_is_a_stated_failure():
    result = run([{"metric": "auc", "slices": [{"region": "west"}], "min": 0.5,
                   "max_regression": 0.1}], REGION_RECORDS)
    assert [c.status for c in result.checks] == ["fail", "fail"]
    assert result.reasons == ["auc: slice region=west is not in the results (no example has "
                              "region=west, or [region] is not among the slicing specs)"]


def test_named_slice_withheld_is_a_stated_failure():
    result = run([{"metric": "auc", "slices": [{"region": "east"}], "min": 0.5}], REGION_RECORDS)
    assert result.reasons == ["slice region=east was withheld (12 examples, fewer than "
                              "min_slice_size 100), so auc cannot be checked there"]


def test_spec_with_no_slices_is_a_stated_failure():
    result = run([{"metric": "auc", "slices": [["device"]], "min": 0.5}], REGION_RECORDS)
    assert result.checks[0].spec == ("device",) and result.checks[0].status == "fail"
    assert result.reasons == ["auc: no slice of [device] is in the results; is [device] among "
                              "the slicing specs, and does the data have these features?"]


def test_spec_whose_slices_are_all_withheld_is_a_stated_failure():
    records = [rec({}, "candidate", auc=0.8), withheld({"region": "a"}), withheld({"region": "b"})]
    result = run([{"metric": "auc", "slices": [["region"]], "min": 0.5}], records)
    assert result.reasons == ["auc: every slice of [region] was withheld (2 slices, e.g. slice "
                              "region=a: 12 examples, fewer than min_slice_size 100), so none "
                              "could be checked"]


def test_multi_feature_slices_match_in_any_key_order():
    records = [rec({"hour": 3, "day": 1}, "candidate", auc=0.6),
               rec({"day": 2, "hour": 3}, "candidate", auc=0.9)]
    result = run([{"metric": "auc", "slices": [{"day": 1, "hour": 3}], "min": 0.5}], records)
    assert result.blessed and result.checks[0].slice == {"day": 1, "hour": 3}
    every = run([{"metric": "auc", "slices": [["hour", "day"]], "min": 0.7}], records)
    assert every.reasons == ["auc on slice day=1, hour=3 is 0.6, below the minimum 0.7"]


@pytest.mark.parametrize("wanted,seen,matches", [
    (3, 3, True), ("3", 3, True), (3, "3", True), (3.0, 3, True), (3, 3.0, True),
    (0.5, "0.5", True), ("north", "north", True), (b"north", "north", True),
    ("03", 3, False), ("3.0", 3, False), (3, 4, False), ("North", "north", False),
    (True, True, True), (True, 1, False), (1, True, False), ("true", True, False),
])
def test_slice_value_matching(wanted, seen, matches):
    records = [rec({"hour": seen}, "candidate", auc=0.9)]
    result = run([{"metric": "auc", "slices": [{"hour": wanted}], "min": 0.5}], records)
    assert result.blessed is matches


def test_numpy_slice_values_and_metric_values():
    import numpy as np
    records = [rec({"hour": np.int64(3)}, "candidate", auc=np.float32(0.5))]
    result = run([{"metric": "auc", "slices": [{"hour": 3}], "min": 0.6}], records)
    assert result.reasons == ["auc on slice hour=3 is 0.5, below the minimum 0.6"]


# ------------------------------------------------------------------------------------------
# Cross-slice gap

def test_max_gap_fails_naming_the_extreme_slices():
    result = run([{"metric": "auc", "max_gap": {"across": ["region"], "value": 0.05}}],
                 REGION_RECORDS)
    check, = result.checks
    assert (check.kind, check.spec, check.slice, check.status) == ("max_gap", ("region",), {},
                                                                   "fail")
    assert check.candidate == pytest.approx(0.088)
    assert result.reasons == ["auc varies by 0.088 across [region] (lowest 0.612 on slice "
                              "region=north, highest 0.7 on slice region=south), more than the "
                              "0.05 allowed (1 withheld slice left out)"]


def test_max_gap_passes_within_bound_and_is_judged_on_the_candidate():
    records = [rec({"g": "a"}, "candidate", auc=0.80), rec({"g": "b"}, "candidate", auc=0.83),
               rec({"g": "c"}, "candidate", auc=0.81), rec({"g": "a"}, "baseline", auc=0.1)]
    result = run([{"metric": "auc", "max_gap": {"across": ["g"], "value": 0.05}}], records)
    assert result.blessed
    assert result.checks[0].reason == ("auc varies by 0.03 across [g] (lowest 0.8 on slice g=a, "
                                       "highest 0.83 on slice g=b), within the 0.05 allowed")


@pytest.mark.parametrize("records,reason", [
    ([rec({}, "candidate", auc=0.8)],
     "auc max_gap: no slice of [g] is in the results; is [g] among the slicing specs, and does "
     "the data have these features?"),
    ([rec({"g": "a"}, "candidate", auc=0.8), withheld({"g": "b"})],
     "auc max_gap across [g] needs at least two slices with data; found 1 (slice g=a) "
     "(1 withheld slice left out)"),
    ([rec({"g": "a"}, "candidate", auc=0.8), rec({"g": "b"}, "candidate", auc=float("nan"))],
     "auc on slice g=b is NaN (it could not be computed), so the gap across [g] cannot be "
     "measured"),
    ([rec({"g": "a"}, "candidate", auc=0.8), rec({"g": "b"}, "candidate", accuracy=0.8)],
     "auc is not among the metrics of slice g=b (it has: accuracy), so the gap across [g] "
     "cannot be measured"),
])
def test_max_gap_failures(records, reason):
    result = run([{"metric": "auc", "max_gap": {"across": ["g"], "value": 0.05}}], records)
    assert not result.blessed and result.reasons == [reason]


def test_max_gap_with_value_bounds_on_slices():
    result = run([{"metric": "auc", "slices": [["region"]], "min": 0.6,
                   "max_gap": {"across": ["region"], "value": 0.1}}], REGION_RECORDS)
    assert [c.kind for c in result.checks] == ["min", "min", "min", "max_gap"]
    assert result.blessed


# ------------------------------------------------------------------------------------------
# Missing metrics and NaN

def test_missing_metric_names_the_metrics_that_exist():
    result = run([{"metric": "aucroc", "min": 0.5}], [rec({}, "candidate", auc=0.8, log_loss=0.3)])
    assert result.reasons == ["aucroc is not among the metrics of the overall slice (it has: "
                              "auc, log_loss); did you mean 'auc'?"]


def test_missing_metric_fails_even_for_a_first_model():
    result = run([{"metric": "auc_roc", "direction": "higher", "max_regression": 0.01}],
                 [rec({}, "candidate", auc=0.8)], has_baseline=False)
    assert not result.blessed and result.outcome == Outcome.NOT_BLESSED
    assert result.reasons == ["auc_roc is not among the metrics of the overall slice (it has: "
                              "auc); did you mean 'auc'?"]


def test_metric_missing_from_the_baseline():
    records = [rec({}, "candidate", auc=0.8), rec({}, "baseline", accuracy=0.9)]
    result = run([{"metric": "auc", "min": 0.5, "max_regression": 0.01}], records)
    assert statuses(result) == [("min", {}, "pass"), ("max_regression_absolute", {}, "fail")]
    assert result.reasons == ["the baseline's auc is not among the metrics of the overall slice "
                              "(it has: accuracy)"]


def test_baseline_without_results_for_a_slice():
    records = [rec({"g": "a"}, "candidate", auc=0.8)]
    result = run([{"metric": "auc", "slices": [["g"]], "max_regression": 0.01}], records)
    assert result.reasons == ["the baseline has no results for slice g=a"]


@pytest.mark.parametrize("value", [float("nan"), None, "NaN"])
def test_nan_value_fails_with_reason(value):
    result = run([{"metric": "auc", "min": 0.5}], [rec({}, "candidate", auc=value)])
    assert result.reasons == ["auc is NaN (it could not be computed), so the minimum 0.5 cannot "
                              "be confirmed"]


def test_nan_in_change_checks():
    items = [{"metric": "auc", "max_regression": 0.01}]
    assert run(items, pair("auc", float("nan"), 0.8)).reasons == [
        "auc: the candidate's value is NaN (0.8 -> NaN), so the change against the baseline "
        "cannot be checked"]
    assert run(items, pair("auc", 0.8, float("nan"))).reasons == [
        "auc: the baseline's value is NaN (NaN -> 0.8), so the change against the baseline "
        "cannot be checked"]
    assert run(items, pair("auc", math.inf, math.inf)).reasons == [
        "auc: the change is undefined (inf -> inf), so the change against the baseline cannot "
        "be checked"]


def test_non_numeric_metric_value_fails():
    result = run([{"metric": "auc", "min": 0.5}], [rec({}, "candidate", auc=[0.5])])
    assert result.reasons == ["auc on the overall slice is not a number (got [0.5])"]


def test_malformed_records_raise():
    with pytest.raises(ValueError, match=r"records\[0\] must be"):
        run([{"metric": "auc", "min": 0.5}], [{"slice": {}, "model": "candidate"}])
    with pytest.raises(ValueError, match=r"records\[1\]: a second record for slice g=1, "
                                         r"model candidate"):
        run([{"metric": "auc", "min": 0.5}], [rec({"g": 1}, "candidate", auc=1.0),
                                              rec({"g": 1.0}, "candidate", auc=1.0)])


# ------------------------------------------------------------------------------------------
# Outcomes

def test_no_thresholds_rejects_by_default_with_reason():
    result = validate([rec({}, "candidate", auc=0.9)], (), ValidationOptions(), has_baseline=True)
    assert (result.blessed, result.outcome) == (False, Outcome.NO_THRESHOLDS_NOT_BLESSED)
    assert result.reasons == ["no thresholds are configured, so nothing shows that the model may "
                              "ship; add thresholds, or set on_no_thresholds: bless to bless "
                              "without checks"]
    assert result.checks == []


def test_no_thresholds_bless_option():
    result = validate([], (), ValidationOptions(on_no_thresholds="bless"), has_baseline=False)
    assert (result.blessed, result.outcome) == (True, Outcome.NO_THRESHOLDS_BLESSED)
    assert result.reasons == ["no thresholds are configured; blessed because on_no_thresholds is "
                              "bless"]


CHANGE_ONLY = [{"metric": "auc", "max_regression": 0.01},
               {"metric": "log_loss", "max_regression": {"relative": 0.05}}]


def test_first_model_with_only_change_thresholds_is_blessed_by_default():
    result = run(CHANGE_ONLY, [rec({}, "candidate", auc=0.8, log_loss=0.4)], has_baseline=False)
    assert (result.blessed, result.outcome) == (True, Outcome.FIRST_MODEL_BLESSED)
    assert [c.status for c in result.checks] == ["skipped", "skipped"]
    assert result.checks[0].reason == ("auc: there is no baseline model (first model), so the "
                                       "change against the baseline is not checked")
    assert result.reasons == ["first model: every threshold compares against a baseline and "
                              "there is no baseline model (first model), so the change against "
                              "the baseline is not checked; blessed because first_model is bless"]


def test_first_model_reject_option():
    result = run(CHANGE_ONLY, [rec({}, "candidate", auc=0.8, log_loss=0.4)], has_baseline=False,
                 first_model="reject")
    assert (result.blessed, result.outcome) == (False, Outcome.FIRST_MODEL_NOT_BLESSED)
    assert result.reasons[0].endswith("not blessed because first_model is reject")


@pytest.mark.parametrize("first_model", ["bless", "reject"])
def test_first_model_value_thresholds_still_apply(first_model):
    items = [{"metric": "auc", "min": 0.7, "max_regression": 0.01}]
    good = run(items, [rec({}, "candidate", auc=0.8)], has_baseline=False, first_model=first_model)
    assert (good.blessed, good.outcome) == (True, Outcome.BLESSED)
    assert statuses(good) == [("min", {}, "pass"), ("max_regression_absolute", {}, "skipped")]
    assert good.reasons == ["the 1 check passed", "1 skipped: auc: there is no baseline model "
                            "(first model), so the change against the baseline is not checked"]
    bad = run(items, [rec({}, "candidate", auc=0.6)], has_baseline=False, first_model=first_model)
    assert (bad.blessed, bad.reasons) == (False, ["auc is 0.6, below the minimum 0.7"])


def test_baseline_that_failed_fails_the_change_checks():
    result = run([{"metric": "auc", "min": 0.7, "max_regression": 0.01}],
                 [rec({}, "candidate", auc=0.8)], baseline_error="SavedModel not found at gs://b")
    assert statuses(result) == [("min", {}, "pass"), ("max_regression_absolute", {}, "fail")]
    assert result.reasons == ["the baseline model could not be evaluated (SavedModel not found at "
                              "gs://b), so the change in auc cannot be checked; fix the baseline, "
                              "or set baseline_failure: ignore to judge this model as a first "
                              "model"]


def test_baseline_failure_ignore_treats_the_candidate_as_a_first_model():
    result = run(CHANGE_ONLY, [rec({}, "candidate", auc=0.8, log_loss=0.4)],
                 baseline_error="load failed", baseline_failure="ignore")
    assert (result.blessed, result.outcome) == (True, Outcome.FIRST_MODEL_BLESSED)
    assert "the baseline model could not be evaluated (load failed); baseline_failure is " \
           "ignore" in result.reasons[0]
    rejected = run(CHANGE_ONLY, [rec({}, "candidate", auc=0.8, log_loss=0.4)],
                   baseline_error="load failed", baseline_failure="ignore", first_model="reject")
    assert rejected.outcome == Outcome.FIRST_MODEL_NOT_BLESSED


def test_force_bless_overrides_and_keeps_the_checks():
    result = run([{"metric": "auc", "min": 0.9}], [rec({}, "candidate", auc=0.8)],
                 force_bless="INC-42: approved by on-call")
    assert (result.blessed, result.outcome) == (True, Outcome.FORCED_BLESSED)
    assert (result.forced, result.unforced_outcome) == ("INC-42: approved by on-call",
                                                        Outcome.NOT_BLESSED)
    assert result.reasons == ["blessed by force_bless: INC-42: approved by on-call",
                              "overridden: auc is 0.8, below the minimum 0.9"]
    assert [c.status for c in result.checks] == ["fail"]


def test_force_bless_without_thresholds():
    result = validate([], (), ValidationOptions(force_bless="backfill"), has_baseline=False)
    assert result.blessed and result.unforced_outcome == Outcome.NO_THRESHOLDS_NOT_BLESSED


# ------------------------------------------------------------------------------------------
# Serialisation and the blessing

def test_result_json_round_trip_keeps_nan_and_infinity():
    result = run([{"metric": "auc", "min": 0.5, "max_regression": {"relative": 0.1}}],
                 pair("auc", float("nan"), 0.8) + pair("auc", 1.0, 0.0, {"g": 1}),
                 force_bless="why")
    text = result.to_json()
    again = ValidationResult.from_json(text)
    assert again.to_json() == text
    assert again.outcome is Outcome.FORCED_BLESSED and again.unforced_outcome is Outcome.NOT_BLESSED
    assert math.isnan(again.checks[0].candidate)
    data = json.loads(text)
    assert data["version"] == 1 and data["outcome"] == "FORCED_BLESSED"
    assert set(data["checks"][0]) == {"metric", "kind", "slice", "threshold", "status", "reason",
                                      "candidate", "baseline", "change", "spec"}
    gap = run([{"metric": "auc", "max_gap": {"across": ["g"], "value": 1}}],
              [rec({"g": 1}, "candidate", auc=0.1), rec({"g": 2}, "candidate", auc=0.2)])
    assert ValidationResult.from_json(gap.to_json()).checks == gap.checks
    assert isinstance(Check.from_dict(gap.checks[0].to_dict()).spec, tuple)


def test_write_blessing_replaces_the_other_marker(tmp_path):
    directory = str(tmp_path / "blessing")
    blessed = ValidationResult(True, Outcome.BLESSED, ["ok"], [])
    rejected = ValidationResult(False, Outcome.NOT_BLESSED, ["no"], [])
    assert write_blessing(directory, rejected) == os.path.join(directory, "NOT_BLESSED")
    assert os.listdir(directory) == ["NOT_BLESSED"]
    write_blessing(directory, blessed)
    assert os.listdir(directory) == ["BLESSED"]
    assert os.path.getsize(os.path.join(directory, "BLESSED")) == 0
    write_blessing(directory, blessed)              # idempotent
    write_blessing(directory, rejected)
    assert os.listdir(directory) == ["NOT_BLESSED"]


def test_blessing_properties_are_tfx_compatible():
    # Keys and values as tfx.components.evaluator.executor sets them (tfx 1.16 constants.py:
    # 'blessed', 'current_model', 'current_model_id', 'baseline_model', 'baseline_model_id').
    result = run([{"metric": "auc", "min": 0.9}], [rec({}, "candidate", auc=0.8)])
    props = blessing_properties(result, current_model="gs://m/2", current_model_id=12,
                                baseline_model="gs://m/1", baseline_model_id=7)
    assert props == {"blessed": 0, "current_model": "gs://m/2", "current_model_id": 12,
                     "baseline_model": "gs://m/1", "baseline_model_id": 7,
                     "assay_outcome": "NOT_BLESSED",
                     "assay_reasons": json.dumps(["auc is 0.8, below the minimum 0.9"])}
    forced = run([{"metric": "auc", "min": 0.9}], [rec({}, "candidate", auc=0.8)],
                 force_bless="hotfix")
    props = blessing_properties(forced, current_model="gs://m/2")
    assert (props["blessed"], props["assay_forced"]) == (1, "hotfix")
    assert "baseline_model" not in props and "current_model_id" not in props
    with pytest.raises(TypeError, match=r"'current_model_id' must be an int artifact id "
                                        r"\(got '12', a str\)"):
        blessing_properties(forced, current_model_id="12")


# ------------------------------------------------------------------------------------------
# TFMA 0.47.1 semantics, checked by hand against evaluators/metrics_validator.py:
#   value:  passes iff lower_bound <= value <= upper_bound (inclusive).
#   change: diff = candidate - baseline; HIGHER_IS_BETTER passes iff diff >= absolute and
#           diff / baseline >= relative; LOWER_IS_BETTER iff <=. So assay's max_regression a is
#           TFMA's absolute -a (higher is better) or +a (lower is better). A baseline of 0 makes
#           TFMA's ratio NaN, which fails.
# Each row: config, candidate, baseline, TFMA's verdict (run once with TFMA; see the gated test
# below), assay's verdict.

TFMA_CASES = [
    # auc >= 0.7 (lower_bound 0.7) and change absolute -0.01 / relative -0.02 HIGHER_IS_BETTER
    ({"metric": "auc", "min": 0.7, "max_regression": {"absolute": 0.01, "relative": 0.02}},
     0.70, 0.70, True, True),
    ({"metric": "auc", "min": 0.7, "max_regression": {"absolute": 0.01, "relative": 0.02}},
     0.695, 0.70, False, False),                    # below the lower bound
    ({"metric": "auc", "min": 0.7, "max_regression": {"absolute": 0.01, "relative": 0.02}},
     0.788, 0.80, False, False),                    # diff -0.012 < -0.01
    ({"metric": "auc", "max": 0.9}, 0.9, 0.5, True, True),
    # log_loss change absolute 0.01 / relative 0.05 LOWER_IS_BETTER
    ({"metric": "log_loss", "max_regression": {"absolute": 0.01, "relative": 0.05}},
     0.441, 0.412, False, False),                   # +0.029, +7%
    ({"metric": "log_loss", "max_regression": {"absolute": 0.01, "relative": 0.05}},
     0.42, 0.412, True, True),                      # +0.008, +1.9%
    ({"metric": "log_loss", "max_regression": {"absolute": 0.01, "relative": 0.05}},
     0.30, 0.412, True, True),                      # an improvement
    ({"metric": "auc", "max_regression": -0.01}, 0.805, 0.80, False, False),  # TFMA absolute +0.01
    # Where assay differs, on purpose:
    ({"metric": "auc", "max_regression": 0.01}, 0.79, 0.80, False, True),     # float tolerance
    ({"metric": "log_loss", "max_regression": {"relative": 0.05}}, 0.0, 0.0, False, True),
    ({"metric": "recall", "max_regression": {"relative": 0.05}}, 0.1, 0.0, False, True),
    ({"metric": "r2", "max_regression": {"relative": 0.1}}, -0.6, -0.5, True, False),
]


@pytest.mark.parametrize("item,candidate,baseline,tfma_ok,assay_ok", TFMA_CASES)
def test_verdicts_match_tfma_except_where_documented(item, candidate, baseline, tfma_ok,
                                                     assay_ok):
    result = run([item], pair(item["metric"], candidate, baseline))
    assert result.blessed is assay_ok


def _tfma_verdict(item, candidate, baseline):
    """TFMA's validate_metrics on the overall slice, for an assay threshold item."""
    from google.protobuf import text_format
    import tensorflow_model_analysis as tfma
    from tensorflow_model_analysis.evaluators import metrics_validator
    from tensorflow_model_analysis.metrics import metric_types

    t, = parse_thresholds([item])
    direction = "HIGHER_IS_BETTER" if t.direction == "higher" else "LOWER_IS_BETTER"
    sign = -1 if t.direction == "higher" else 1
    parts = []
    if t.min is not None or t.max is not None:
        parts.append("value_threshold {" + (f" lower_bound {{ value: {t.min!r} }}"
                                            if t.min is not None else "")
                     + (f" upper_bound {{ value: {t.max!r} }}" if t.max is not None else "")
                     + " }")
    if t.has_change_bound:
        change = f"change_threshold {{ direction: {direction}"
        if t.max_regression_absolute is not None:
            change += f" absolute {{ value: {sign * t.max_regression_absolute!r} }}"
        if t.max_regression_relative is not None:
            change += f" relative {{ value: {sign * t.max_regression_relative!r} }}"
        parts.append(change + " }")
    config = text_format.Parse(f"""
        model_specs {{ name: 'candidate' }}
        model_specs {{ name: 'baseline' is_baseline: true }}
        metrics_specs {{ thresholds {{ key: '{t.metric}' value {{ {' '.join(parts)} }} }}
                         model_names: 'candidate' model_names: 'baseline' }}""",
                               tfma.EvalConfig())
    # Keys as TFMA derives them from `metrics_specs.thresholds` (example_weighted unset).
    key = metric_types.MetricKey(name=t.metric, model_name="candidate", example_weighted=None)
    base = metric_types.MetricKey(name=t.metric, model_name="baseline", example_weighted=None)
    metrics = {key: candidate, base: baseline, key.make_diff_key(): candidate - baseline}
    return metrics_validator.validate_metrics(((), metrics), config).validation_ok


def test_tfma_parity_against_the_installed_tfma():
    for item, candidate, baseline, tfma_ok, _ in TFMA_CASES:
        assert _tfma_verdict(item, candidate, baseline) is tfma_ok, item
    # Random cases: verdicts agree unless the difference is one of the documented ones.
    rng = random.Random(0)
    for _ in range(500):
        metric = rng.choice(["auc", "log_loss"])
        candidate, baseline = (round(rng.uniform(0.05, 1), 2) for _ in range(2))
        item = {"metric": metric, "max_regression": {"absolute": round(rng.uniform(-.1, .2), 3),
                                                     "relative": round(rng.uniform(-.1, .2), 3)}}
        if rng.random() < 0.5:
            item["min"] = round(rng.uniform(0, 1), 2)
        ours = run([item], pair(metric, candidate, baseline)).blessed
        if ours != _tfma_verdict(item, candidate, baseline):
            t, = parse_thresholds([item])
            diff = candidate - baseline
            regression = diff if t.direction == "lower" else -diff
            near = [abs(regression - t.max_regression_absolute),
                    abs(regression / baseline - t.max_regression_relative)]
            assert min(near) < 1e-9, (item, candidate, baseline)   # float tolerance only


# ------------------------------------------------------------------------------------------
# The validation part of EvalConfig: typed, parsed once, hashable, written back as given


def _config(**validation):
    from assay.config.schema import EvalConfig

    # The slicing specs the thresholds below name (a threshold on an unlisted one is refused).
    return EvalConfig.from_dict({"label": "y", "models": {"candidate": {"prediction": "p"}},
                                 "slices": [["region"], ["a", "b"], ["y", "z"]], **validation})


def test_config_holds_parsed_thresholds_and_options_and_is_hashable():
    cfg = _config(**yaml.safe_load(ISSUE_CONFIG))
    assert cfg.validation.thresholds == parse_thresholds(yaml.safe_load(ISSUE_CONFIG)["thresholds"])
    assert all(isinstance(t, Threshold) for t in cfg.validation.thresholds)
    assert cfg.validation.options == ValidationOptions(first_model="bless")
    assert hash(cfg) == hash(_config(**yaml.safe_load(ISSUE_CONFIG)))
    assert len({cfg, _config(**yaml.safe_load(ISSUE_CONFIG)), _config()}) == 2


@pytest.mark.parametrize("validation", [
    yaml.safe_load(ISSUE_CONFIG),
    {"thresholds": [{"metric": "auc", "max_regression": 0.01, "min": 1}]},   # number, int
    {"thresholds": [{"metric": "auc", "max_regression": {"absolute": 0.01},
                     "direction": "higher"}]},
    {"thresholds": [{"metric": "auc", "slices": [{"b": 1.0, "a": "x"}, ["z", "y"]], "min": 0}]},
    {"thresholds": [], "first_model": "bless", "force_bless": None},
    {"on_no_thresholds": "bless"},
])
def test_config_json_shows_the_validation_keys_as_written(validation):
    cfg = _config(**validation)
    out = cfg.to_dict()
    assert {k: out[k] for k in validation} == json.loads(json.dumps(validation))
    assert _config(**json.loads(cfg.to_json())) == cfg


def test_a_changed_validation_is_written_canonically():
    import dataclasses

    cfg = _config(thresholds=[{"metric": "auc", "max_regression": 0.01}], first_model="bless")
    changed = cfg.replace(validation=dataclasses.replace(
        cfg.validation, options=ValidationOptions(first_model="reject")))
    out = changed.to_dict()
    assert out["thresholds"] == [{"metric": "auc", "max_regression": {"absolute": 0.01}}]
    assert out["first_model"] == "reject"
    assert _config(**{k: out[k] for k in ("thresholds", "first_model")}) == changed


def test_a_typo_in_a_threshold_key_is_a_usage_error():
    from assay.errors import exit_code

    with pytest.raises(ConfigError, match=r"thresholds\[0\]: unknown key 'mtric' in this "
                                          r"threshold; did you mean 'metric'\?") as e:
        _config(thresholds=[{"mtric": "auc", "min": 0.7}])
    assert exit_code(e.value) == 2
    with pytest.raises(ConfigTypeError, match=r"'min' must be a number") as e:
        _config(thresholds=[{"metric": "auc", "min": "0.7"}])
    assert exit_code(e.value) == 2


def test_the_blessing_marker_is_published_readable_and_alone(tmp_path):
    directory = str(tmp_path / "blessing")
    path = write_blessing(directory, ValidationResult(True, Outcome.BLESSED, [], []))
    assert os.listdir(directory) == ["BLESSED"]          # no temporary file left behind
    assert os.stat(path).st_mode & 0o777 == 0o644        # readable by the Pusher's user
    assert open(path).read() == ""
