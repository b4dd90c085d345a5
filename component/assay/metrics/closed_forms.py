"""Closed-form confidence intervals, beside the bootstrap's (assay.metrics.bootstrap).

    wilson(successes, n, level)              a proportion (accuracy, mean of 0/1 labels)
    normal_mean(mean, variance, n, level)    a mean (mean_prediction, log_loss per example)
    delong_auc(pos, neg, level)              ROC AUC from positives / negatives per score key
    delong_paired(labels, scores_a, scores_b, level)   the paired AUC difference a - b
    mcnemar(b, c, n, level)                  the paired accuracy difference from McNemar counts

Each returns {"lower", "upper", "stderr", "method"} (and "value" where it computes one). With
example weights, n is Kish's effective sample size (sum w)^2 / sum w^2.

DeLong's fast form (Sun & Xu 2014) works from sorted scores: a positive's placement is the
share of negatives scored below it (ties count half), a negative's the share of positives
above it, and Var(AUC) = Var(positive placements) / P + Var(negative placements) / N. From
score counts (one row per distinct score or bucket) the placements are cumulative sums, so
`delong_auc` costs O(number of keys) and runs on the accumulator a slice already holds. The
paired form needs each example's placement under both models (their covariance), which the
slice's two separate score tables do not hold: `delong_paired` takes the examples themselves
(for tests and small data; the pass gives the paired difference by the bootstrap).
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any, Dict

import numpy as np


def z_value(level: float) -> float:
    """The two-sided normal quantile of `level` (1.96 for 0.95)."""
    return NormalDist().inv_cdf(0.5 + level / 2.0)


def _interval(value: float, se: float, level: float, method: str) -> Dict[str, Any]:
    z = z_value(level)
    return {"value": float(value), "lower": float(value - z * se),
            "upper": float(value + z * se), "stderr": float(se), "method": method}


def wilson(successes: float, n: float, level: float) -> Dict[str, Any]:
    """Wilson's score interval of a proportion successes / n (NaN fields when n <= 0)."""
    if not n > 0:
        return {"lower": math.nan, "upper": math.nan, "stderr": math.nan, "method": "wilson"}
    z = z_value(level)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return {"value": p, "lower": centre - half, "upper": centre + half,
            "stderr": math.sqrt(max(p * (1 - p), 0.0) / n), "method": "wilson"}


def normal_mean(mean: float, variance: float, n: float, level: float) -> Dict[str, Any]:
    """The normal interval mean +- z * sqrt(variance / n) (variance of one example)."""
    if not n > 1:
        return {"lower": math.nan, "upper": math.nan, "stderr": math.nan, "method": "normal"}
    return _interval(mean, math.sqrt(max(variance, 0.0) / n), level, "normal")


def delong_auc(pos: np.ndarray, neg: np.ndarray, level: float) -> Dict[str, Any]:
    """DeLong's interval of ROC AUC from positive and negative weights per score key.

    Args:
      pos, neg: shape [m], the positives' and negatives' weight at each key, keys ascending.
      level: the coverage.
    """
    pos, neg = np.asarray(pos, np.float64), np.asarray(neg, np.float64)
    P, N = pos.sum(), neg.sum()
    if not (P > 1 and N > 1):
        return {"lower": math.nan, "upper": math.nan, "stderr": math.nan, "method": "delong"}
    neg_below = np.cumsum(neg) - neg
    pos_above = P - np.cumsum(pos)
    v10 = (neg_below + 0.5 * neg) / N  # placement of a positive at each key
    v01 = (pos_above + 0.5 * pos) / P  # placement of a negative at each key
    auc = float(np.sum(pos * v10) / P)
    s10 = np.sum(pos * (v10 - auc) ** 2) / (P - 1)
    s01 = np.sum(neg * (v01 - auc) ** 2) / (N - 1)
    return _interval(auc, math.sqrt(s10 / P + s01 / N), level, "delong")


def _placements(labels: np.ndarray, scores: np.ndarray):
    """(positive placements, negative placements) of each example, ties counted half."""
    pos_scores = np.sort(scores[labels == 1])
    neg_scores = np.sort(scores[labels == 0])
    s_pos, s_neg = scores[labels == 1], scores[labels == 0]
    v10 = (np.searchsorted(neg_scores, s_pos, "left")
           + np.searchsorted(neg_scores, s_pos, "right")) / (2.0 * len(neg_scores))
    v01 = 1.0 - (np.searchsorted(pos_scores, s_neg, "left")
                 + np.searchsorted(pos_scores, s_neg, "right")) / (2.0 * len(pos_scores))
    return v10, v01


def delong_paired(labels: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray,
                  level: float) -> Dict[str, Any]:
    """DeLong's interval of AUC(a) - AUC(b) on the same examples (unweighted), O(n log n)."""
    labels = np.asarray(labels)
    a10, a01 = _placements(labels, np.asarray(scores_a, np.float64))
    b10, b01 = _placements(labels, np.asarray(scores_b, np.float64))
    m, n = len(a10), len(a01)
    if m < 2 or n < 2:
        return {"lower": math.nan, "upper": math.nan, "stderr": math.nan, "method": "delong"}
    d10, d01 = a10 - b10, a01 - b01
    var = np.var(d10, ddof=1) / m + np.var(d01, ddof=1) / n
    return _interval(float(a10.mean() - b10.mean()), math.sqrt(var), level, "delong")


def mcnemar(b: float, c: float, n: float, level: float) -> Dict[str, Any]:
    """The interval of the paired accuracy difference (b - c) / n from McNemar's counts: b
    examples the first model gets right and the second wrong, c the reverse, n in all."""
    if not n > 1:
        return {"lower": math.nan, "upper": math.nan, "stderr": math.nan, "method": "mcnemar"}
    diff = (b - c) / n
    var = ((b + c) / n - diff * diff) / n
    return _interval(diff, math.sqrt(max(var, 0.0)), level, "mcnemar")


__all__ = ["delong_auc", "delong_paired", "mcnemar", "normal_mean", "wilson", "z_value"]
