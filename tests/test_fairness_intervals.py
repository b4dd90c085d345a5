"""Intervals of gaps and ratios across slices (assay.metrics.fairness_spread) and the gate's
decisions on them.

References: a plain numpy Poisson bootstrap (the scheme of assay.metrics.bootstrap) on simulated
groups of known rates, for the coverage of the gap's interval and the point gap's upward bias;
and, in the pipeline, two code paths that must agree (the fairness section's demographic parity
difference and a max_gap threshold on the same positive rate).
"""

from __future__ import annotations

import numpy as np
import pytest

import assay
from group_data import group_frame
from assay.metrics.fairness_spread import gap_interval, spread_values

RATE = "fairness_indicators_metrics/positive_rate@0.5"


def simulated_gaps(rates, n, seed, replicates=200):
    """(point gap, 95% interval) of max - min positive rate over groups of n rows."""
    rng = np.random.default_rng(seed)
    hits = [rng.random(n) < r for r in rates]
    point = spread_values(np.array([[h.mean()] for h in hits]), "max_gap")[0]
    weights = [rng.poisson(1.0, (replicates, n)) for _ in rates]
    reps = np.stack([(w * h).sum(axis=1) / w.sum(axis=1) for w, h in zip(weights, hits)])
    iv = gap_interval(point, spread_values(reps, "max_gap"), 0.95)
    return point, iv["lower"], iv["upper"]


@pytest.mark.parametrize("rates", [(0.3, 0.3, 0.3), (0.3, 0.35, 0.45)])
def test_gap_interval_covers_the_truth_where_the_point_gap_is_biased(rates):
    truth = max(rates) - min(rates)
    runs = np.array([simulated_gaps(rates, 60, seed) for seed in range(200)])
    # The point gap of small groups sits well above the true gap ...
    assert runs[:, 0].mean() > truth + 0.015
    # ... while the interval covers the true gap about as often as it says (95%; a true gap of
    # 0 lies on the boundary, where the clipped interval covers it somewhat less often).
    cover = np.mean((runs[:, 1] <= truth + 1e-12) & (truth <= runs[:, 2] + 1e-12))
    assert cover >= (0.85 if truth == 0 else 0.92)


def test_spread_values_ratio_and_gap():
    m = np.array([[0.2, 0.0, np.nan], [0.4, 0.0, 0.5], [0.3, 0.0, np.nan]])
    assert spread_values(m, "max_gap")[0] == pytest.approx(0.2)
    assert spread_values(m, "min_ratio")[0] == pytest.approx(0.5)
    assert spread_values(m, "min_ratio")[1] == 1.0       # all zero: Fairlearn's ratio is 1
    assert np.isnan(spread_values(m, "max_gap")[2])       # one group with a value: no gap


@pytest.fixture(scope="module")
def frame():
    return group_frame(2, 1500, ["a", "b", "c"], lift=0.25, shift=0.1)


def _evaluate(frame, thresholds, **extra):
    cfg = {"label": "y", "models": {"candidate": {"prediction": "p"}}, "slices": [[]],
           "fairness": {"groups": [["g"]], "thresholds": [0.5]},
           "confidence": {"replicates": 100, "seed": 3}, "thresholds": thresholds}
    cfg.update(extra)
    return assay.evaluate(cfg, frame)


def test_the_gate_decides_gaps_and_ratios_on_their_intervals(frame):
    probe = _evaluate(frame, [{"metric": RATE, "max_gap": {"across": ["g"], "value": 0.1}},
                              {"metric": RATE, "min_ratio": {"across": ["g"], "value": 0.8}}])
    gap, ratio = probe.info["spread_intervals"]
    assert (gap["kind"], ratio["kind"]) == ("max_gap", "min_ratio")
    # Two code paths over the same replicates: the section's demographic parity difference
    # and ratio are the max_gap and min_ratio of the positive rate.
    section = probe.info["fairness"]["intervals"]["candidate"]["g"]["between_groups"]
    assert section["demographic_parity_difference@0.5"]["lower"] == pytest.approx(gap["lower"])
    assert section["demographic_parity_difference@0.5"]["upper"] == pytest.approx(gap["upper"])
    assert section["demographic_parity_ratio@0.5"]["upper"] == pytest.approx(ratio["upper"])
    assert gap["lower"] < gap["upper"] and 0 <= ratio["lower"] < ratio["upper"] <= 1

    def outcome(kind, value):
        res = _evaluate(frame, [{"metric": RATE, kind: {"across": ["g"], "value": value}}])
        check = res.validation["checks"][0]
        assert check["interval"]["lower"] == pytest.approx(
            gap["lower"] if kind == "max_gap" else ratio["lower"])
        return check["outcome"], check["status"], check["reason"]

    mid = (gap["lower"] + gap["upper"]) / 2
    assert outcome("max_gap", gap["upper"] + 0.01)[:2] == ("pass", "pass")
    assert outcome("max_gap", max(gap["lower"] - 0.005, 0.0))[:2] == ("fail", "fail")
    inconclusive = outcome("max_gap", mid)
    assert inconclusive[:2] == ("inconclusive", "fail")
    assert f"{RATE} gap across [g]" in inconclusive[2] and "95% CI" in inconclusive[2]
    assert outcome("min_ratio", ratio["lower"] - 0.01)[:2] == ("pass", "pass")
    assert outcome("min_ratio", min(ratio["upper"] + 0.01, 1.0))[:2] == ("fail", "fail")


def test_without_confidence_no_intervals_are_written(frame):
    res = assay.evaluate({"label": "y", "models": {"candidate": {"prediction": "p"}},
                          "fairness": {"groups": [["g"]], "thresholds": [0.5]}}, frame)
    assert "spread_intervals" not in res.info and "intervals" not in res.info["fairness"]


def test_beam_gives_the_same_intervals(frame, tmp_path):
    """The replicates travel with Beam's slice results too: the same intervals and verdict."""
    frame.to_parquet(tmp_path / "eval.parquet")
    config = {"label": "y", "models": {"candidate": {"prediction": "p"}}, "slices": [[]],
              "fairness": {"groups": [["g"]], "thresholds": [0.5]},
              "confidence": {"replicates": 100, "seed": 3},
              "thresholds": [{"metric": RATE, "max_gap": {"across": ["g"], "value": 0.1}}]}
    local, beam = (assay.evaluate(config, str(tmp_path / "eval.parquet"), engine=engine)
                   for engine in ("local", "beam"))
    (a,), (b,) = local.info["spread_intervals"], beam.info["spread_intervals"]
    numbers = ("value", "lower", "upper", "stderr")
    assert [a[k] for k in numbers] == pytest.approx([b[k] for k in numbers])
    for method in ("between_groups", "to_reference"):
        ours = local.info["fairness"]["intervals"]["candidate"]["g"][method]
        theirs = beam.info["fairness"]["intervals"]["candidate"]["g"][method]
        for name in ours:
            assert ours[name] == pytest.approx(theirs[name]), name
    assert beam.validation["checks"][0]["outcome"] == local.validation["checks"][0]["outcome"]


def test_group_metric_thresholds_are_decided_on_the_section_interval(frame):
    probe = _evaluate(frame, [])
    iv = probe.info["fairness"]["intervals"]["candidate"]["g"]["between_groups"][
        "equalized_odds_difference@0.5"]

    def check(bound):
        res = _evaluate(frame, [{"metric": "equalized_odds_difference@0.5", "across": ["g"],
                                 "max": bound}])
        return res.validation["checks"][0]

    assert check(iv["upper"] + 0.01)["outcome"] == "pass"
    assert check(max(iv["lower"] - 0.005, 0.0))["outcome"] == "fail"
    middle = check((iv["lower"] + iv["upper"]) / 2)
    assert (middle["outcome"], middle["status"]) == ("inconclusive", "fail")
    assert middle["interval"]["lower"] == pytest.approx(iv["lower"])
    assert "95% CI" in middle["reason"]
