"""assay's fairness rates and group metrics against Fairlearn itself (fairlearn 0.9, the dev
group; the last release that runs with TFX 1.16's pandas < 2).

Every rate per group (MetricFrame of selection_rate, true/false positive/negative rates) and
every group metric (demographic_parity_difference/ratio, equalized_odds_difference/ratio,
method between_groups and to_overall) on the same data, weighted and unweighted, with labels
and, for what needs none, without.

Why no fairness-indicators package: its only release for TFMA 0.47 (fairness-indicators
0.47.0) needs tensorflow-hub >= 0.16.1, and TFX 1.16 pins tensorflow-hub < 0.16, so it cannot
install beside TFX 1.16 (uv lock: "fairness-indicators==0.47.0 and tfx==1.16.0 are
incompatible"). tests/test_fairness.py compares the rates with TFMA's own confusion-matrix
metrics (the classes FairnessIndicators is built from) instead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn import metrics as flm

import assay

THRESHOLDS = (0.3, 0.5)
RATES = {"positive_rate": flm.selection_rate, "true_positive_rate": flm.true_positive_rate,
         "false_positive_rate": flm.false_positive_rate,
         "false_negative_rate": flm.false_negative_rate,
         "true_negative_rate": flm.true_negative_rate}
GROUP_FUNCTIONS = {"demographic_parity_difference": flm.demographic_parity_difference,
                   "demographic_parity_ratio": flm.demographic_parity_ratio,
                   "equalized_odds_difference": flm.equalized_odds_difference,
                   "equalized_odds_ratio": flm.equalized_odds_ratio}
METHODS = {"between_groups": "between_groups", "to_reference": "to_overall"}


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(5)
    n = 1200
    g = rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1])
    shift = pd.Series(g).map({"a": 0.0, "b": 0.4, "c": 0.9, "d": -0.5}).to_numpy()
    y = (rng.random(n) < 0.4).astype(float)
    p = 1 / (1 + np.exp(-(1.4 * (2 * y - 1) + shift - 0.3 + rng.normal(0, 1.1, n))))
    p[:60] = np.round(p[:60], 1)  # ties at the thresholds: predicted positive iff p > t
    return pd.DataFrame({"y": y, "p": p, "g": g, "w": rng.uniform(0.5, 2.0, n)})


def _evaluate(frame, weighted, label):
    cfg = {"models": {"candidate": {"prediction": "p"}},
           "fairness": {"groups": [["g"]], "thresholds": list(THRESHOLDS)}}
    if weighted:
        cfg["weight"] = "w"
    if label:
        cfg["label"] = "y"
    return assay.evaluate(cfg, frame)


CASES = [(w, lab) for w in (False, True) for lab in (True, False)]


@pytest.fixture(scope="module")
def results(frame):
    return {case: _evaluate(frame, *case) for case in CASES}


def _kw(frame, weighted):
    return {"sample_weight": frame.w.to_numpy()} if weighted else {}


@pytest.mark.parametrize("weighted, label", CASES)
def test_rates_per_group_equal_fairlearn_metric_frame(frame, results, weighted, label):
    res = results[(weighted, label)]
    names = RATES if label else {"positive_rate": RATES["positive_rate"]}
    for t in THRESHOLDS:
        y_pred = (frame.p > t).astype(int)
        kw = _kw(frame, weighted)
        mf = flm.MetricFrame(metrics=names, y_true=frame.y, y_pred=y_pred,
                             sensitive_features=frame.g,
                             sample_params={n: kw for n in names} if kw else None)
        for group, row in mf.by_group.iterrows():
            got = res.metrics({"g": group})
            for rate in names:
                key = f"fairness_indicators_metrics/{rate}@{t}"
                assert got[key] == pytest.approx(row[rate], abs=1e-12), (group, rate, t)
        overall = res.metrics()
        for rate in names:
            assert overall[f"fairness_indicators_metrics/{rate}@{t}"] == pytest.approx(
                mf.overall[rate], abs=1e-12)


@pytest.mark.parametrize("weighted, label", CASES)
def test_group_metrics_equal_fairlearn(frame, results, weighted, label):
    section = results[(weighted, label)].info["fairness"]["group_metrics"]["candidate"]["g"]
    functions = GROUP_FUNCTIONS if label else {
        k: v for k, v in GROUP_FUNCTIONS.items() if k.startswith("demographic")}
    for t in THRESHOLDS:
        y_pred = (frame.p > t).astype(int)
        for ours, theirs in METHODS.items():
            for name, fn in functions.items():
                # Demographic parity reads no label: Fairlearn is given the real ones anyway.
                expected = fn(frame.y, y_pred, sensitive_features=frame.g, method=theirs,
                              **_kw(frame, weighted))
                assert section[ours][f"{name}@{t}"] == pytest.approx(expected, abs=1e-12), \
                    (name, ours, t)
    if not label:
        assert not any(k.startswith("equalized_odds") for k in section["between_groups"])
