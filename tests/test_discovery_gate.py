"""Gates on discovered slices (assay.discovery.thresholds), on hand-made metrics documents.

The end-to-end gate (a planted regression refused through assay.evaluate) is in
test_discovery_e2e.py.
"""

from __future__ import annotations

import re

import pytest

from assay.config.schema import EvalConfig
from assay.discovery.thresholds import DiscoveredThreshold, parse_threshold
from assay.errors import ConfigError
from assay.validation.verdict import validate


def _slice(slice_, error, effect, confirmed=True, size=120, q=0.001):
    return {"slice": slice_, "size": size, "examples": 2 * size, "error": error,
            "rest_error": error - effect, "effect": effect, "p_value": q / 10, "q_value": q,
            "confirmed": confirmed, "score": 0.5}


def _doc(form, slices):
    return {"records": [], "discovered": {"settings": {"error": form}, "examples": 1000,
                                          "overall_error": 0.1, "slices": slices}}


def test_max_regression_fails_on_a_confirmed_slice_above_the_bound_and_names_it():
    t = parse_threshold({"discovered": "regression", "max_regression": 0.02})
    doc = _doc("regression", [_slice({"region": "north", "segment": "b"}, 0.05, 0.04),
                              _slice({"region": "south"}, 0.015, 0.01),
                              _slice({"hour": 3}, 0.9, 0.8, confirmed=False)])
    checks = t.checks(doc)
    assert [c.status for c in checks] == ["fail", "pass"]  # the unconfirmed one is not checked
    assert checks[0].slice == {"region": "north", "segment": "b"}
    assert checks[0].candidate == 0.05 and checks[0].threshold == 0.02
    assert checks[0].reason == ("discovered slice region=north, segment=b (size 120, effect "
                                "0.04, q 0.001): regression 0.05, above max_regression 0.02")


def test_max_effect_bounds_the_effect_of_the_error_form():
    t = parse_threshold({"discovered": "error", "max_effect": 0.1})
    checks = t.checks(_doc("log_loss", [_slice({"a": 1}, 0.9, 0.3), _slice({"a": 2}, 0.5, 0.05)]))
    assert [(c.status, c.candidate) for c in checks] == [("fail", 0.3), ("pass", 0.05)]
    assert "effect 0.3, above max_effect 0.1" in checks[0].reason


def test_no_confirmed_slice_passes_and_says_so():
    t = parse_threshold({"discovered": "error", "max_effect": 0.1})
    [check] = t.checks(_doc("zero_one", [_slice({"a": 1}, 0.9, 0.3, confirmed=False)]))
    assert check.status == "pass" and "no confirmed weak slice among 1" in check.reason


@pytest.mark.parametrize("threshold, doc, match", [
    ({"discovered": "regression", "max_regression": 0.02}, {"records": []},
     r"has no discovered slices to check; add `discover:`"),
    ({"discovered": "regression", "max_regression": 0.02}, _doc("log_loss", []),
     r"max_regression needs `discover:` with error: regression; .* is 'log_loss'"),
    ({"discovered": "error", "max_effect": 0.02}, _doc("regression", []),
     r"max_effect needs `discover:` with a loss as its error"),
])
def test_a_missing_or_mismatched_section_is_a_failed_check(threshold, doc, match):
    [check] = parse_threshold(threshold).checks(doc)
    assert check.status == "fail"
    assert re.search(match, check.reason), check.reason


def test_regression_gate_is_skipped_without_a_baseline():
    doc = {"records": [], "discovered": {"settings": {"error": "regression"}, "slices": [],
                                         "unavailable": "no baseline model was evaluated"}}
    [check] = parse_threshold({"discovered": "regression", "max_regression": 0.02}).checks(doc)
    assert check.status == "skipped"
    assert check.reason == "discovered regression: no baseline model was evaluated"


@pytest.mark.parametrize("raw, match", [
    ({"discovered": "regresion", "max_regression": 0.02}, r"did you mean 'regression'"),
    ({"discovered": "regression"}, r"needs 'max_regression', e.g."),
    ({"discovered": "regression", "max_effect": 0.1}, r"unknown key 'max_effect'"),
    ({"discovered": "error", "max_effect": "big"}, r"'thresholds\[\].max_effect' must be a num"),
    ({"discovered": "error", "max_effect": -1}, r"must be >= 0"),
])
def test_threshold_errors(raw, match):
    with pytest.raises(ConfigError, match=match):
        parse_threshold(raw)


def test_config_parses_the_threshold_and_validate_runs_it():
    raw = {"label": "y", "models": {"candidate": {"prediction": "p"}},
           "discover": {"features": ["region"]},
           "thresholds": [{"discovered": "error", "max_effect": 0.1}]}
    cfg = EvalConfig.from_dict(raw)
    [t] = cfg.validation.thresholds
    assert isinstance(t, DiscoveredThreshold) and t.kind == "error" and t.bound == 0.1
    assert EvalConfig.from_dict(cfg.to_dict()).validation.thresholds == (t,)
    doc = _doc("log_loss", [_slice({"region": "north"}, 0.9, 0.3)])
    verdict = validate([], cfg.validation.thresholds, None, has_baseline=False, sections=doc)
    assert not verdict.blessed
    assert any("discovered slice region=north" in r for r in verdict.reasons)
