"""Tests for thresholds over every slice of a spec with `confidence` on: Holm (on_inconclusive
pass) against a plain step-down written here, intersection-union (on_inconclusive fail), and
small fixed-seed simulations of the gate's error rates with closed-form (normal, McNemar)
intervals. The large simulations, with intervals from assay itself, are bench/gate_sim.py."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from assay.validation import ValidationOptions, parse_thresholds, validate
from assay.validation.gate import holm

Z95 = stats.norm.ppf(0.975)
ALPHA = 0.025            # one-sided level of a 95% interval


def holm_rejections(p, alpha):
    """Holm's step-down as its definition states it: walk the p-values from the smallest,
    rejecting while p_(k) <= alpha / (m - k + 1); stop at the first that is not."""
    order = sorted(range(len(p)), key=lambda i: p[i])
    rejected = set()
    for k, i in enumerate(order):
        if p[i] > alpha / (len(p) - k):
            break
        rejected.add(i)
    return rejected


@pytest.mark.parametrize("seed", range(5))
def test_holm_adjusted_p_values_reject_what_the_step_down_rejects(seed):
    rng = np.random.default_rng(seed)
    p = list(rng.uniform(0, 0.1, size=12) ** 2)
    adjusted = holm(p)
    for alpha in (0.001, 0.01, 0.025, 0.05):
        assert {i for i, a in enumerate(adjusted) if a <= alpha} == holm_rejections(p, alpha)


def test_holm_by_hand():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, float("nan")]) == [1.0, 1.0]


def slice_records(diffs, se=0.01, metric="auc", feature="region"):
    """Candidate, baseline and diff records of one slice per diff, normal diff intervals."""
    records = []
    for i, d in enumerate(diffs):
        s = {feature: f"r{i:02d}"}
        records += [{"slice": s, "model": "candidate", "metrics": {metric: 0.8 + d}},
                    {"slice": s, "model": "baseline", "metrics": {metric: 0.8}},
                    {"slice": s, "model": "diff", "metrics": {metric: d},
                     "intervals": {metric: {"lower": d - Z95 * se, "upper": d + Z95 * se,
                                            "stderr": se}}}]
    return records


def diff_for_p(p_not_met, margin=0.01, se=0.01):
    """The auc change whose one-sided p-value of H0 "the regression is within margin" is p."""
    return -(margin + se * stats.norm.isf(p_not_met))


def gate_slices(diffs, policy, margin=0.01):
    items = [{"metric": "auc", "max_regression": margin, "slices": [["region"]]}]
    return validate(slice_records(diffs), parse_thresholds(items),
                    ValidationOptions(on_inconclusive=policy), has_baseline=True,
                    confidence=0.95)


def test_holm_fails_the_second_slice_where_bonferroni_would_not():
    result = gate_slices([diff_for_p(0.001), diff_for_p(0.02)], "pass")
    assert [c.outcome for c in result.checks] == ["fail", "fail"]
    assert [c.p_adjusted for c in result.checks] == pytest.approx([0.002, 0.02])
    assert result.checks[1].family == {"method": "holm", "spec": ["region"], "size": 2}
    assert "also after Holm's adjustment for the 2 slices of [region]" in \
        result.checks[1].reason


def test_holm_keeps_a_slice_that_fails_alone_but_not_among_many():
    result = gate_slices([diff_for_p(0.02), diff_for_p(0.5), diff_for_p(0.6)], "pass")
    first = result.checks[0]
    assert first.p_value == pytest.approx(0.02) and first.p_adjusted == pytest.approx(0.06)
    assert (first.outcome, first.status) == ("inconclusive", "pass")
    assert "not shown to be more than the 0.01 allowed once the 3 slices of [region] are " \
           "taken together (Holm-adjusted p = 0.06" in first.reason
    assert result.blessed
    assert result.to_dict()["confidence"]["multiplicity"] == "holm"
    # The same slice on its own (a named slice): the interval alone decides, and it fails.
    items = [{"metric": "auc", "max_regression": 0.01, "slices": [{"region": "r00"}]}]
    alone = validate(slice_records([diff_for_p(0.02)]), parse_thresholds(items),
                     ValidationOptions(on_inconclusive="pass"), has_baseline=True,
                     confidence=0.95)
    assert alone.checks[0].outcome == "fail" and alone.checks[0].family is None


def test_intersection_union_tests_each_slice_at_the_level():
    result = gate_slices([0.02, diff_for_p(0.02), 0.03], "fail")
    assert [c.outcome for c in result.checks] == ["pass", "fail", "pass"]
    assert all(c.family == {"method": "intersection-union", "spec": ["region"], "size": 3}
               and c.p_adjusted is None for c in result.checks)
    assert result.to_dict()["confidence"]["multiplicity"] == "intersection-union"


def test_one_family_per_spec_and_bound():
    records = slice_records([0.0, 0.0]) + slice_records([0.0] * 3, feature="country")
    items = [{"metric": "auc", "max_regression": 0.01, "min": 0.5,
              "slices": [["region"], ["country"]]}]
    result = validate(records, parse_thresholds(items), ValidationOptions(on_inconclusive="pass"),
                      has_baseline=True, confidence=0.95)
    sizes = {(c.kind, tuple(c.family["spec"])): c.family["size"] for c in result.checks
             if c.family}
    assert sizes == {("max_regression_absolute", ("region",)): 2,
                     ("max_regression_absolute", ("country",)): 3}
    # min checks have no interval here (the candidate records carry none): point value.
    assert all(c.interval is None for c in result.checks if c.kind == "min")


# ------------------------------------------------------------------------------------------
# Small simulations (fixed seeds). Each fails if Holm, or the outcome logic, were wrong.

def test_equal_quality_over_20_slices_refuses_at_most_5_percent_with_holm():
    rng = np.random.default_rng(20)
    refused = unadjusted = 0
    for _ in range(200):
        diffs = list(rng.normal(0.0, 0.01, size=20))     # true change 0, se 0.01, margin 0
        result = gate_slices(diffs, "pass", margin=0.0)
        refused += not result.blessed
        unadjusted += any(d + Z95 * 0.01 < 0 for d in diffs)
    assert refused / 200 <= 0.05
    # Without the adjustment the same draws would refuse about 1 - 0.975**20 = 40%.
    assert unadjusted / 200 >= 0.25


def test_intersection_union_blesses_a_slice_truly_at_the_bound_at_most_5_percent():
    rng = np.random.default_rng(21)
    blessed = 0
    for _ in range(1000):
        diffs = list(rng.normal(0.05, 0.01, size=5))     # 4 slices truly better
        diffs[2] = rng.normal(-0.01, 0.01)               # one truly at the allowed -0.01
        blessed += gate_slices(diffs, "fail").blessed
    assert blessed / 1000 <= 0.05          # expected 0.025 (sd 0.005)


def paired_accuracy_records(base_ok, cand_ok):
    """Records with the closed-form (McNemar counts, normal) interval of the paired change in
    accuracy."""
    n = len(base_ok)
    d = cand_ok.astype(float) - base_ok
    change = d.mean()
    se = np.sqrt((np.mean(d ** 2) - change ** 2) / n)
    iv = {"lower": change - Z95 * se, "upper": change + Z95 * se, "stderr": se}
    return [{"slice": {}, "model": "candidate", "metrics": {"accuracy": cand_ok.mean()}},
            {"slice": {}, "model": "baseline", "metrics": {"accuracy": base_ok.mean()}},
            {"slice": {}, "model": "diff", "metrics": {"accuracy": change},
             "intervals": {"accuracy": iv}}]


def simulate_accuracy(rng, n, p_lost, p_gained):
    """Baseline right 80% of the time; the candidate loses p_lost and gains p_gained of the
    examples (paired: the same examples)."""
    base_ok = rng.random(n) < 0.8
    u = rng.random(n)
    cand_ok = np.where(base_ok, u >= p_lost / 0.8, u < p_gained / 0.2)
    return base_ok, cand_ok


@pytest.mark.parametrize("policy", ["pass", "fail"])
def test_a_candidate_worse_by_twice_the_margin_on_50000_examples_is_refused(policy):
    rng = np.random.default_rng(22)
    items = parse_thresholds([{"metric": "accuracy", "max_regression": 0.01}])
    refused = 0
    for _ in range(200):
        base_ok, cand_ok = simulate_accuracy(rng, 50_000, 0.05, 0.03)   # true change -0.02
        result = validate(paired_accuracy_records(base_ok, cand_ok), items,
                          ValidationOptions(on_inconclusive=policy), has_baseline=True,
                          confidence=0.95)
        refused += not result.blessed
    assert refused / 200 >= 0.95


def test_an_equally_good_candidate_is_refused_at_most_5_percent_with_pass():
    rng = np.random.default_rng(23)
    items = parse_thresholds([{"metric": "accuracy", "max_regression": 0.0}])
    refused = 0
    for _ in range(200):
        base_ok, cand_ok = simulate_accuracy(rng, 5_000, 0.04, 0.04)    # true change 0
        result = validate(paired_accuracy_records(base_ok, cand_ok), items,
                          ValidationOptions(on_inconclusive="pass"), has_baseline=True,
                          confidence=0.95)
        refused += not result.blessed
    assert refused / 200 <= 0.05


def test_the_simulation_harness_runs_end_to_end(monkeypatch):
    """bench/gate_sim.py on a handful of sets (its figures are in docs/benchmarks.md)."""
    import os
    import sys

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from bench import gate_sim

    monkeypatch.setattr(gate_sim, "TRUTH_SIZE", 200_000)
    monkeypatch.setattr(gate_sim, "_POPULATION", {})
    truth = gate_sim.true_values(gate_sim.SIGMA, gate_sim.SIGMA)
    assert truth["diff auc"] == pytest.approx(0.0, abs=0.01)
    figures = gate_sim.coverage(sets=4, n=1000)
    rates = figures["coverage"]
    assert {"auc", "accuracy", "log_loss", "mean_prediction", "diff auc"} <= set(rates)
    assert all(r["n"] == 4 and 0 <= r["rate"] <= 1 for r in rates.values())
