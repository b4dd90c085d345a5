"""Fairness gates: `min_ratio` (the 80% rule), thresholds on the fairness section's group
metrics (assay.metrics.fairness_thresholds), and label-free fairness.

References: the per-group rates computed here in plain numpy on each group's rows, and
Fairlearn's definitions of the disparities (max - min, min / max) applied to them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import assay
from assay.config.schema import EvalConfig
from assay.config.thresholds import MinRatio, parse_thresholds
from assay.errors import ConfigError

N = 900


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(11)
    g = rng.choice(["a", "b", "c"], N, p=[0.5, 0.3, 0.2])
    shift = np.select([g == "a", g == "b"], [0.0, 0.6], 1.2)
    y = (rng.random(N) < 0.4).astype(np.float64)
    p = 1 / (1 + np.exp(-(1.5 * (2 * y - 1) + shift - 0.5 + rng.normal(0, 1.2, N))))
    w = rng.uniform(0.5, 2.0, N)
    return pd.DataFrame({"y": y, "p": p, "w": w, "g": g})


def rate(df, t, which):
    """A weighted rate at threshold t of one group's rows: positive (predicted positive), tpr,
    fpr."""
    pred = df.p > t
    if which == "positive":
        return df.w[pred].sum() / df.w.sum()
    cond = df.y == (1 if which == "tpr" else 0)
    return df.w[pred & cond].sum() / df.w[cond].sum()


def per_group(frame, t, which):
    return {k: rate(frame[frame.g == k], t, which) for k in ("a", "b", "c")}


def _config(label=True, thresholds=(), **extra):
    cfg = {"models": {"candidate": {"prediction": "p"}}, "weight": "w", "slices": [[]],
           "fairness": {"groups": [["g"]], "thresholds": [0.5]}, "thresholds": list(thresholds)}
    if label:
        cfg["label"] = "y"
    cfg.update(extra)
    return cfg


# ---------------------------------------------------------------- min_ratio


def test_min_ratio_is_min_over_max_across_the_slices(frame):
    rates = per_group(frame, 0.5, "positive")
    truth = min(rates.values()) / max(rates.values())
    name = "fairness_indicators_metrics/positive_rate@0.5"
    ok = assay.evaluate(_config(thresholds=[
        {"metric": name, "min_ratio": {"across": ["g"], "value": truth - 0.01}}]), frame)
    bad = assay.evaluate(_config(thresholds=[
        {"metric": name, "min_ratio": {"across": ["g"], "value": truth + 0.01}}]), frame)
    assert ok.blessed is True and bad.blessed is False
    check = bad.validation["checks"][0]
    assert check["kind"] == "min_ratio" and check["candidate"] == pytest.approx(truth)
    low = min(rates, key=rates.get)
    high = max(rates, key=rates.get)
    assert f"on slice g={low}" in check["reason"] and f"on slice g={high}" in check["reason"]
    assert "below the" in check["reason"]


def test_min_ratio_config_round_trip_and_errors():
    (t,) = parse_thresholds([{"metric": "recall@0.5", "min_ratio": {"across": ["g"],
                                                                      "value": 0.8}}])
    assert t.min_ratio == MinRatio(("g",), 0.8)
    assert parse_thresholds([t.to_config()]) == (t,)
    with pytest.raises(ConfigError, match=r"'min_ratio.value' must lie in \[0, 1\]"):
        parse_thresholds([{"metric": "recall@0.5", "min_ratio": {"across": ["g"], "value": 80}}])
    with pytest.raises(ConfigError, match=r"'min_ratio' needs 'value'"):
        parse_thresholds([{"metric": "recall@0.5", "min_ratio": {"across": ["g"]}}])
    with pytest.raises(ConfigError, match=r"min_ratio.across \['region'\] is not among the "
                                          r"slicing specs"):
        EvalConfig.from_dict({"label": "y", "models": {"candidate": {"prediction": "p"}},
                              "thresholds": [{"metric": "recall@0.5", "min_ratio": {
                                  "across": ["region"], "value": 0.8}}]})


# ---------------------------------------------------------------- group-metric thresholds


def test_equalized_odds_threshold_reads_the_section_and_names_the_groups(frame):
    tpr, fpr = per_group(frame, 0.5, "tpr"), per_group(frame, 0.5, "fpr")
    gaps = {"tpr": max(tpr.values()) - min(tpr.values()),
            "fpr": max(fpr.values()) - min(fpr.values())}
    truth = max(gaps.values())
    metric = "equalized_odds_difference@0.5"
    ok = assay.evaluate(_config(thresholds=[{"metric": metric, "across": ["g"],
                                             "max": truth + 0.005}]), frame)
    bad = assay.evaluate(_config(thresholds=[{"metric": metric, "across": ["g"],
                                              "max": truth - 0.005}]), frame)
    assert ok.blessed is True and bad.blessed is False
    check = bad.validation["checks"][0]
    assert check["candidate"] == pytest.approx(truth)
    worse = tpr if gaps["tpr"] >= gaps["fpr"] else fpr
    rate_name = "true_positive_rate" if worse is tpr else "false_positive_rate"
    assert f"{rate_name}@0.5: lowest" in check["reason"]
    assert f"on g={min(worse, key=worse.get)}" in check["reason"]
    assert f"on g={max(worse, key=worse.get)}" in check["reason"]


def test_ratio_threshold_to_reference(frame):
    rates = per_group(frame, 0.5, "positive")
    overall = rate(frame, 0.5, "positive")
    truth = min(min(r / overall, overall / r) for r in rates.values())
    res = assay.evaluate(_config(thresholds=[
        {"metric": "demographic_parity_ratio@0.5", "across": ["g"], "min": truth + 0.001,
         "method": "to_reference"}]), frame)
    assert res.blessed is False
    assert res.validation["checks"][0]["candidate"] == pytest.approx(truth)


@pytest.mark.parametrize("item, match", [
    ({"metric": "auc", "across": ["g"], "max": 0.1}, r"a threshold with 'across' bounds a "
                                                     r"fairness group metric"),
    ({"metric": "demographic_parity_ratio@0.5", "across": ["g"]}, r"has no bound"),
    ({"metric": "demographic_parity_ratio@0.5", "across": "g", "min": 0.8},
     r"'across' must be a non-empty list"),
    ({"metric": "demographic_parity_ratio@0.5", "across": ["g"], "min": 0.8,
      "method": "overall"}, r"'method' must be one of between_groups, to_reference"),
])
def test_group_metric_threshold_errors(item, match):
    with pytest.raises(ConfigError, match=match):
        parse_thresholds([item])


def test_a_missing_group_fails_with_its_reason(frame):
    res = assay.evaluate(_config(thresholds=[
        {"metric": "demographic_parity_difference@0.3", "across": ["g"], "max": 0.5}]), frame)
    check = res.validation["checks"][0]
    assert check["status"] == "fail" and "is 0.3 among fairness.thresholds" in check["reason"]


# ---------------------------------------------------------------- label-free fairness


@pytest.fixture(scope="module")
def label_free(frame):
    return assay.evaluate(_config(label=False, exact=True), frame)


def test_label_free_section_holds_rates_means_and_distributions(frame, label_free):
    section = label_free.info["fairness"]["group_metrics"]["candidate"]["g"]
    rates = per_group(frame, 0.5, "positive")
    for k in ("a", "b", "c"):
        rows = frame[frame.g == k]
        row = section["groups"][f"g={k}"]
        assert row["positive_rate@0.5"] == pytest.approx(rates[k])
        assert row["mean_prediction"] == pytest.approx(np.sum(rows.w * rows.p) / rows.w.sum())
        assert row["prediction_p50"] == pytest.approx(
            np.sort(rows.p)[np.searchsorted(np.cumsum(rows.w.to_numpy()[np.argsort(rows.p)]),
                                            0.5 * rows.w.sum())])
    between = section["between_groups"]
    assert between["demographic_parity_difference@0.5"] == pytest.approx(
        max(rates.values()) - min(rates.values()))
    assert between["demographic_parity_ratio@0.5"] == pytest.approx(
        min(rates.values()) / max(rates.values()))
    assert not any(k.startswith("equalized_odds") for k in between)


def test_label_free_fairness_gates(frame):
    rates = per_group(frame, 0.5, "positive")
    ratio = min(rates.values()) / max(rates.values())
    res = assay.evaluate(_config(label=False, thresholds=[
        {"metric": "demographic_parity_ratio@0.5", "across": ["g"], "min": ratio + 0.01},
        {"metric": "positive_rate@0.5", "min_ratio": {"across": ["g"], "value": ratio - 0.01},
         "slices": [["g"]], "max": 1.0}]), frame)
    kinds = {c["kind"]: c["status"] for c in res.validation["checks"] if c["spec"]}
    assert res.blessed is False
    assert kinds["min"] == "fail" and kinds["min_ratio"] == "pass"
    with pytest.raises(ConfigError, match=r"needs a label; this config has none"):
        EvalConfig.from_dict(_config(label=False, thresholds=[
            {"metric": "fairness_indicators_metrics/true_positive_rate@0.5", "max_gap": {
                "across": ["g"], "value": 0.1}}]))


# ---------------------------------------------------------------- KFP


def test_kfp_fairness_parameter_reaches_the_config(tmp_path):
    import json

    from assay.errors import ConfigTypeError
    from assay.kfp import executor
    from assay.kfp.parameters import settings
    from model_fixtures import make_sklearn_model, make_tabular_data, write_csv
    from test_kfp import hand_built_executor_input

    (tmp_path / "data").mkdir()
    (tmp_path / "model").mkdir()
    write_csv(make_tabular_data(400, seed=8), tmp_path / "data" / "eval.csv")
    make_sklearn_model(tmp_path / "model" / "model.joblib", "logistic")
    fairness = {"groups": [["payment"]], "thresholds": [0.5]}
    task = hand_built_executor_input(
        tmp_path / "task", {"examples": ("system.Dataset", str(tmp_path / "data")),
                            "model": ("system.Model", str(tmp_path / "model"))},
        {"config": {"label": "label"}, "fairness": fairness, "thresholds": [
            {"metric": "demographic_parity_ratio@0.5", "across": ["payment"], "min": 0.0}],
         "beam_pipeline_args": [], "allow_pickle": True, "force_bless": ""})
    executor.run(task)
    doc = json.loads((tmp_path / "task" / "evaluation" / "assay_metrics.json").read_text())
    assert doc["fairness"]["thresholds"] == [0.5]
    assert "demographic_parity_ratio@0.5" in \
        doc["fairness"]["group_metrics"]["candidate"]["payment"]["between_groups"]
    with pytest.raises(ConfigTypeError, match=r"the `fairness` parameter must be a dict"):
        settings({"fairness": [["payment"]]})


def test_fairness_indicator_rate_names_bound_any_slice_with_a_label(frame):
    """The issue's 80% rule with a label: positive_rate@0.5 (and true_positive_rate@0.5) are
    computed per slice when a threshold names them, equal to the numpy rates and to the
    fairness_indicators_metrics/ values of the group slices."""
    t = [{"metric": "positive_rate@0.5", "min_ratio": {"across": ["g"], "value": 0.8}},
         {"metric": "true_positive_rate@0.5", "max_gap": {"across": ["g"], "value": 1.0}}]
    result = assay.evaluate(_config(thresholds=t), frame)
    positive, tpr = per_group(frame, 0.5, "positive"), per_group(frame, 0.5, "tpr")
    for g in ("a", "b", "c"):
        m = result.metrics({"g": g})
        assert m["positive_rate@0.5"] == pytest.approx(positive[g], rel=1e-12)
        assert m["true_positive_rate@0.5"] == pytest.approx(tpr[g], rel=1e-12)
        assert m["positive_rate@0.5"] == pytest.approx(
            m["fairness_indicators_metrics/positive_rate@0.5"], rel=1e-12)
    ratio = min(positive.values()) / max(positive.values())
    (check,) = [c for c in result.validation["checks"] if c["kind"] == "min_ratio"]
    assert check["candidate"] == pytest.approx(ratio, rel=1e-12)
    assert check["status"] == ("pass" if ratio >= 0.8 else "fail")
