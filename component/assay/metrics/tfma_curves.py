"""TFMA's confusion matrices at interpolated thresholds, and what it reads off them.

TFMA 0.47 (metrics/calibration_histogram.py, binary_confusion_matrices.py) puts each example
in bucket int(prediction * 10000 + 1) of a calibration histogram (0 below 0, 10001 at 1 and
above), then rebins the histogram at its thresholds and counts, per threshold, the weight in
the buckets at or above it. These functions repeat that arithmetic on numpy arrays, so the
matrices (and the areas and curve points read from them) are TFMA's up to float rounding.

Example:
    >>> import numpy as np
    >>> hist = np.zeros((HISTOGRAM_SIZE, 2))
    >>> hist[histogram_bucket(np.array([.1, .4, .35, .8]))] += [[0, 1], [0, 1], [1, 1], [1, 1]]
    >>> round(roc_area(*interpolated_matrices(hist, 10000)), 4)
    0.75
"""

from __future__ import annotations

from typing import List, Tuple

import numpy as np

HISTOGRAM_BUCKETS = 10000            # calibration_histogram.DEFAULT_NUM_BUCKETS
HISTOGRAM_SIZE = HISTOGRAM_BUCKETS + 2  # plus the buckets below 0 and from 1 up
EPSILON = 1e-7                       # binary_confusion_matrices._EPSILON

Matrices = Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # tp, tn, fp, fn


def histogram_bucket(p: np.ndarray) -> np.ndarray:
    """TFMA's calibration histogram bucket of each prediction; shape [n] int64."""
    index = np.asarray(p, np.float64) / 1.0 * HISTOGRAM_BUCKETS + 1
    out = np.trunc(np.clip(index, 0, HISTOGRAM_BUCKETS + 1)).astype(np.int64)
    return np.where(index < 0, 0, out)


def interpolated_thresholds(num_thresholds: int) -> List[float]:
    """TFMA's (and Keras') thresholds: -1e-7, (i + 1) / (N - 1) for i < N - 2, 1 + 1e-7."""
    inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
    return [-EPSILON] + inner + [1.0 + EPSILON]


def matrices_at(histogram: np.ndarray, thresholds: List[float]) -> Matrices:
    """TFMA's rebin + _histogram_to_binary_confusion_matrices.

    Args:
      histogram: shape [HISTOGRAM_SIZE, 2]: weight of positives, weight, per bucket.
      thresholds: sorted thresholds.

    Returns:
      (tp, tn, fp, fn), shape [len(thresholds)] each.
    """
    rebin = [t + EPSILON if t != 0 else t for t in thresholds]
    if thresholds[0] >= 0:
        rebin = [-EPSILON] + rebin
    if thresholds[-1] < 1.0:
        rebin = rebin + [1.0 + EPSILON]
    ids = np.arange(HISTOGRAM_SIZE)
    lower = (ids - 1) / HISTOGRAM_BUCKETS * (1.0 - 0.0) + 0.0  # a bucket's lower edge
    lower[0], lower[-1] = -np.inf, np.inf
    offset = np.searchsorted(np.asarray(rebin[1:]), lower, side="right")
    n = len(rebin)
    pos = np.bincount(offset, histogram[:, 0], minlength=n)
    neg = np.bincount(offset, histogram[:, 1], minlength=n) - pos
    tp = np.cumsum(pos[::-1])[::-1]
    fp = np.cumsum(neg[::-1])[::-1]
    fn = np.r_[0.0, np.cumsum(pos)[:-1]]
    tn = np.r_[0.0, np.cumsum(neg)[:-1]]
    first = 1 if (thresholds[0] >= 0 or len(thresholds) == 1) and n > 1 else 0
    part = slice(first, first + len(thresholds))
    tp, tn, fp, fn = tp[part].copy(), tn[part].copy(), fp[part].copy(), fn[part].copy()
    above = np.asarray(thresholds) >= 1.0 + EPSILON
    fn[above], tn[above] = tp[0], fp[0]
    tp[above], fp[above] = 0.0, 0.0
    return tp, tn, fp, fn


def interpolated_matrices(histogram: np.ndarray, num_thresholds: int) -> Matrices:
    """(tp, tn, fp, fn) at TFMA's num_thresholds interpolated thresholds."""
    return matrices_at(histogram, interpolated_thresholds(num_thresholds))


def roc_area(tp: np.ndarray, tn: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> float:
    """TFMA's AUC(curve="ROC", summation_method="interpolation"): trapezoids over thresholds."""
    with np.errstate(invalid="ignore", divide="ignore"):
        x, y = fp / (fp + tn), tp / (tp + fn)
        return float(np.nansum((x[:-1] - x[1:]) * (y[:-1] + y[1:]) / 2.0))


def pr_area(tp: np.ndarray, tn: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> float:
    """TFMA's AUC(curve="PR", summation_method="interpolation") (Davis & Goadrich)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = dtp / np.maximum(dp, 0)
        intercept = tp[1:] - slope * p[1:]
        ratio = np.where((p[:-1] > 0) & (p[1:] > 0), p[:-1] / np.maximum(p[1:], 0),
                         np.ones_like(p[1:]))
        increment = slope * (dtp + intercept * np.log(ratio)) / np.maximum(tp[1:] + fn[1:], 0)
        return float(np.nansum(increment))


def constrained_value(base: str, value: float, tp: np.ndarray, tn: np.ndarray,
                      fp: np.ndarray, fn: np.ndarray) -> float:
    """TFMA's _find_max_under_constraint for PrecisionAtRecall and its kin: the largest
    `dependent` among thresholds where `constrained` meets `value`; 0.0 where none does."""
    with np.errstate(invalid="ignore", divide="ignore"):
        recall, precision = tp / (tp + fn), tp / (tp + fp)
        specificity, fpr = tn / (tn + fp), fp / (fp + tn)
        constrained, dependent, op = {
            "precision_at_recall": (recall, precision, np.greater_equal),
            "recall_at_precision": (precision, recall, np.greater_equal),
            "sensitivity_at_specificity": (specificity, recall, np.greater_equal),
            "specificity_at_sensitivity": (recall, specificity, np.greater_equal),
            "recall_at_false_positive_rate": (fpr, recall, np.less_equal),
        }[base]
        gathered = dependent[op(constrained, value)]
    if gathered.size == 0:
        return 0.0
    return float(np.nanmax(gathered)) if not np.all(np.isnan(gathered)) else float("nan")


__all__ = ["HISTOGRAM_SIZE", "constrained_value", "histogram_bucket", "interpolated_matrices",
           "interpolated_thresholds", "matrices_at", "pr_area", "roc_area"]
