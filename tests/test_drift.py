"""Drift sketches and statistics (assay.drift.sketches, stats): against scipy and hand formulas
on the raw values, within each sketch's stated error; merging; planted drift detected."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import spatial, stats as sstats

from assay.drift import stats
from assay.drift.sketches import (CategoricalSketch, NumericSketch, bin_upper, gamma_of,
                                  sketch_from_json)
from assay.drift.config import parse_drift, parse_reference
from assay.drift.thresholds import parse_threshold
from assay.errors import ConfigError


def numeric(values, missing=0, accuracy=0.01):
    return NumericSketch(accuracy).add(np.asarray(values), missing)


def raw_bins(values, edges, missing):
    """Counts of raw values in (-inf, e1], ..., (ek, inf), then missing: the slow way."""
    out = [sum(1 for v in values if v <= edges[0])] if edges else []
    out += [sum(1 for v in values if lo < v <= hi) for lo, hi in zip(edges, edges[1:])]
    out += [sum(1 for v in values if v > edges[-1])] if edges else [len(values)]
    return np.array(out + [missing], dtype=float)


def test_numeric_sketch_counts_and_relative_accuracy():
    rng = np.random.default_rng(1)
    values = np.concatenate([rng.lognormal(2, 1.5, 3000), -rng.lognormal(0, 1, 500),
                             np.zeros(40), [np.inf, np.nan]])
    s = numeric(values, missing=7)
    assert (s.count, s.zeros, s.negatives, s.missing, s.nonfinite) == (3540, 40, 500, 7, 2)
    assert s.min == values[np.isfinite(values)].min()
    for q in (0.05, 0.25, 0.5, 0.9, 0.99):
        exact = np.sort(values[np.isfinite(values)])[int(math.ceil(q * 3540)) - 1]
        got = s.quantile(q)
        # The bin's upper edge: within the relative accuracy of the exact order statistic.
        assert abs(got - exact) <= 2 * 0.01 * abs(exact) + 1e-12, (q, got, exact)
    # Bins: magnitude x in bin i iff gamma^(i-1) < x <= gamma^i.
    for k, _ in s.positive.items():
        assert bin_upper(k - 1, 0.01) < bin_upper(k, 0.01)
    x = 5.0
    i = int(math.ceil(math.log(x) / math.log(gamma_of(0.01))))
    assert numeric([x]).positive == {i: 1}


def test_sketches_merge_shard_invariantly_and_round_trip_json():
    rng = np.random.default_rng(2)
    values = rng.normal(0, 10, 5000)
    whole = numeric(values, 3)
    parts = [numeric(values[:1234], 1), numeric(values[1234:4000], 2), numeric(values[4000:])]
    merged = parts[2].merge([parts[0], parts[1]])
    assert merged.to_json() == whole.to_json()
    assert NumericSketch.from_json(whole.to_json()).to_json() == whole.to_json()
    cats = rng.choice(["a", "b", "c", "d"], 999)
    one = CategoricalSketch(2).add(cats, 4)
    two = CategoricalSketch(2).add(cats[:500], 4).merge([CategoricalSketch(2).add(cats[500:])])
    assert one.to_json() == two.to_json()
    doc = one.to_json()
    counts = {v: int((cats == v).sum()) for v in "abcd"}
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:2]
    assert doc["values"] == [list(kv) for kv in top]
    assert doc["other"] == 999 - sum(c for _, c in top) and doc["missing"] == 4
    assert sketch_from_json(doc).count == 999


def test_psi_and_js_equal_hand_formulas_and_scipy_on_the_raw_values():
    rng = np.random.default_rng(3)
    ref_values, cur_values = rng.gamma(2, 3, 4000), rng.gamma(2.3, 3, 3000)
    ref, cur = numeric(ref_values, 50), numeric(cur_values, 10)
    out = stats.compare(cur, ref)
    edges = out["edges"]
    assert len(edges) == 9
    raw_cur, raw_ref = raw_bins(cur_values, edges, 10), raw_bins(ref_values, edges, 50)
    assert out["bins"] == [raw_cur.tolist(), raw_ref.tolist()]
    p, q = raw_cur / raw_cur.sum(), raw_ref / raw_ref.sum()
    hand_psi = sum((a - b) * math.log(a / b) for a, b in zip(p, q))
    assert out["psi"] == pytest.approx(hand_psi, rel=1e-12)
    assert out["js"] == pytest.approx(spatial.distance.jensenshannon(p, q, base=2), rel=1e-9)
    # The edges are the reference's deciles to the sketch's relative accuracy.
    exact = np.quantile(ref_values, stats.DECILES, method="inverted_cdf")
    assert np.allclose(edges, exact, rtol=0.0201)


def test_ks_from_sketches_equals_scipy_within_the_stated_error():
    rng = np.random.default_rng(4)
    for shift in (0.0, 0.05, 0.3):
        a, b = rng.normal(10, 2, 3000), rng.normal(10 + shift, 2, 2000)
        out = stats.compare(numeric(a), numeric(b))
        exact = sstats.ks_2samp(a, b)
        assert abs(out["statistic"] - exact.statistic) <= out["ks_error_bound"] + 1e-12
        assert out["ks_error_bound"] < 0.05  # bins 2% wide around 10: ~4% of the mass
        en = 3000 * 2000 / 5000
        assert out["p_value"] == pytest.approx(
            sstats.kstwobign.sf(math.sqrt(en) * out["statistic"]), rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("x", [0.05, 0.3, 0.8, 1.0, 1.17, 1.19, 1.5, 2.5, 4.0])
def test_kolmogorov_sf_equals_scipy(x):
    assert stats.kolmogorov_sf(x) == pytest.approx(sstats.kstwobign.sf(x), rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("x,dof", [(0.5, 1), (3.0, 2), (10.0, 4), (40.0, 30), (80.0, 30),
                                   (1.0, 7), (200.0, 99)])
def test_chi2_sf_equals_scipy(x, dof):
    assert stats.chi2_sf(x, dof) == pytest.approx(sstats.chi2.sf(x, dof), rel=1e-9, abs=1e-300)


def test_categorical_chi2_psi_js_equal_scipy_on_the_raw_counts():
    rng = np.random.default_rng(5)
    ref_raw = rng.choice(["x", "y", "z", "w"], 2000, p=[0.4, 0.3, 0.2, 0.1])
    cur_raw = rng.choice(["x", "y", "z", "v"], 1500, p=[0.3, 0.3, 0.3, 0.1])
    cur = CategoricalSketch().add(cur_raw, 5)
    ref = CategoricalSketch().add(ref_raw, 0)
    out = stats.compare(cur, ref)
    names = ["v", "w", "x", "y", "z"]
    table = np.array([[int((cur_raw == v).sum()) for v in names] + [5],
                      [int((ref_raw == v).sum()) for v in names] + [0]])
    chi2, p, dof, _ = sstats.chi2_contingency(table, correction=False)
    assert out["statistic"] == pytest.approx(chi2, rel=1e-12)
    assert out["p_value"] == pytest.approx(p, rel=1e-9)
    assert out["categories"] == names + ["(other)", "(missing)"]
    full = np.array(out["bins"])
    assert full.tolist() == [table[0][:5].tolist() + [0, 5], table[1][:5].tolist() + [0, 0]]
    pp, qq = full[0] / full[0].sum(), full[1] / full[1].sum()
    floor = np.maximum
    hand_psi = float(np.sum((floor(pp, 1e-4) - floor(qq, 1e-4))
                            * np.log(floor(pp, 1e-4) / floor(qq, 1e-4))))
    assert out["psi"] == pytest.approx(hand_psi, rel=1e-12)
    assert out["js"] == pytest.approx(spatial.distance.jensenshannon(pp, qq, base=2), rel=1e-9)


def detection_rates(cases, n=1500, seed=0):
    """(planted drift detected, no-drift flagged) over `cases` simulated pairs: KS p < 0.01
    or PSI > 0.1 on a numeric feature; the planted drift: the mean moved by 0.25 sd."""
    rng = np.random.default_rng(seed)
    detected = false_alarms = 0
    for _ in range(cases):
        ref = numeric(rng.normal(0, 1, n))
        same = stats.compare(numeric(rng.normal(0, 1, n)), ref)
        moved = stats.compare(numeric(rng.normal(0.25, 1, n)), ref)
        detected += moved["p_value"] < 0.01 or moved["psi"] > 0.1
        false_alarms += same["p_value"] < 0.01 or same["psi"] > 0.1
    return detected / cases, false_alarms / cases


def test_planted_drift_is_detected_and_no_drift_is_not():
    # bench/drift.py runs the 200-case version of this.
    detected, false_alarms = detection_rates(20)
    assert detected >= 0.95 and false_alarms <= 0.05


def test_config_parsing_and_errors():
    d = parse_drift({"features": ["a", "b"], "categorical": "b", "max_categories": 5})
    assert d.to_config() == {"features": ["a", "b"], "categorical": ["b"], "max_categories": 5}
    assert parse_drift(d.to_config()) == d
    with pytest.raises(ConfigError, match="unknown key 'feature' in drift; did you mean "
                                          "'features'"):
        parse_drift({"feature": ["a"]})
    with pytest.raises(ConfigError, match=r"'drift.relative_accuracy' must be between"):
        parse_drift({"relative_accuracy": 0.5})
    assert parse_drift({"max_slices": 40}).to_config() == {"max_slices": 40}
    with pytest.raises(ConfigError,
                       match=r"'drift.max_slices' must be at least 1 \(got 0\)"):
        parse_drift({"max_slices": 0})
    assert parse_reference("runs/a").directory == "runs/a"
    ref = parse_reference({"source": "previous", "results": "x", "artifact_id": 3})
    assert ref.directory == "x" and parse_reference(ref.to_config()) == ref
    assert parse_reference("latest-blessed").directory is None
    with pytest.raises(ConfigError, match="'reference.source' must be latest-blessed or "
                                          "previous"):
        parse_reference({"source": "runs/a"})


def test_threshold_parsing_errors():
    t = parse_threshold({"drift": "feature", "feature": "amount", "max_psi": 0.2})
    assert (t.column, t.name, t.bounds_) == ("feature", "amount", (("max_psi", 0.2),))
    assert parse_threshold({"drift": "prediction", "max_js": 0.1}).name == "candidate"
    with pytest.raises(ConfigError, match="'feature' names the feature"):
        parse_threshold({"drift": "feature", "max_psi": 0.2})
    with pytest.raises(ConfigError, match="give at least one bound: max_psi, max_js"):
        parse_threshold({"drift": "label"})
    with pytest.raises(ConfigError, match=r"'min_p' must be in \[0, 1\] \(got 2.0\)"):
        parse_threshold({"drift": "label", "min_p": 2})
    with pytest.raises(ConfigError, match="'drift' must be one of feature, prediction, label"):
        parse_threshold({"drift": "features", "max_psi": 1})


def test_bench_detection_rates_on_20_cases():
    # bench/drift.py's generators (numeric and categorical), 20 cases instead of 200.
    import sys, os

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from bench.drift import detection

    for kind, (planted, null) in detection(20).items():
        assert planted >= 0.95 and null <= 0.05, kind
