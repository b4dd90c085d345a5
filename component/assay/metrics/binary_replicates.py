"""BinaryMetrics' bootstrap replicates, vectorised (see assay.metrics.bootstrap).

Per group, the replicate state holds, for the R replicates and one more column of unit weights
(the full data: used to centre the areas and for the closed forms):

  * sums, shape [3 + 4T, R + 1]: count, weight * prediction, weight * log loss, then per
    decision threshold the weight in each confusion cell (tn, fp, fn, tp); weight and
    weight * label are the histograms' totals;
  * score histograms, shape [2 * B, R + 1] (negatives, then positives): the weight per
    replicate in B = REPLICATE_BUCKETS buckets of equal width in log-odds (logit(p) clipped
    to [-9, 9]), which spread scores crowded near 0 or 1. Per batch they are kept sparse
    (only the buckets hit) and become dense when merged.

The replicates' auc and auc_pr come from the histograms, then are shifted by (the point value -
the same area on the histogram of unit weights), which removes the bias of the coarse buckets
(examples in one bucket count as tied); the spread, which the interval measures, is that of
the bucketed areas.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from assay.metrics.base import float_columns, ratio
from assay.metrics.bootstrap import example_products
from assay.metrics.batch import ModelBatch
from assay.metrics.curves import ScoreCounts, cumulative_counts

REPLICATE_BUCKETS = 128
LOGIT_RANGE = 9.0
_LOG_LOSS_EPS = float(np.finfo(np.float64).eps)


@dataclasses.dataclass
class BinaryReplicates:
    """Replicate state of one group (see module doc).

    Attributes:
      sums: [3 + 4T, R+1]: count, weight * prediction, weight * log loss, then per decision
        threshold the weight in the confusion cells tn, fp, fn, tp.
      extra: [5], the full data only (for the closed forms): weight, weight * label,
        weight * prediction^2, weight * log loss^2, weight^2.
      hist: the score histograms, sparse (cells: int64 [k] into 2*B, hist [k, R+1]) or dense
        ([2*B, R+1], cells None).
    """

    sums: np.ndarray
    extra: np.ndarray
    hist: np.ndarray
    cells: Optional[np.ndarray] = None


def logit_buckets(p: np.ndarray, buckets: int = REPLICATE_BUCKETS) -> np.ndarray:
    """int64 [n]: the log-odds bucket of each probability (monotone in p)."""
    with np.errstate(divide="ignore"):
        z = np.log(p) - np.log1p(-p)
    z = np.clip(np.nan_to_num(z, nan=0.0), -LOGIT_RANGE, LOGIT_RANGE)
    ids = np.floor((z + LOGIT_RANGE) / (2 * LOGIT_RANGE) * buckets).astype(np.int64)
    return np.minimum(ids, buckets - 1)


def accumulate(thresholds: Sequence[float], batch: ModelBatch, group: np.ndarray,
               n_groups: int, replicates: int) -> List[BinaryReplicates]:
    """One replicate state per group (group: int64 [n] in [0, n_groups)), from the batch's
    replicate weights ([m, R + 1] with the pass's column of ones, or [m, R]).

    Every example adds to 1 histogram cell, 3 sums and T confusion cells of its group: one
    sparse product (bootstrap.example_products) gives them for all replicates at once.
    """
    y, p, w = float_columns(batch, "BinaryMetrics")
    weights = batch.replicate_weights
    n, R = len(y), replicates
    B, T = REPLICATE_BUCKETS, len(thresholds)
    D = 3 + 4 * T
    pos = (y > 0.5).astype(np.int64)
    cells, inverse = np.unique((group * 2 + pos) * B + logit_buckets(p), return_inverse=True)
    k = len(cells)
    ll = -(y * np.log(np.clip(p, _LOG_LOSS_EPS, 1 - _LOG_LOSS_EPS))
           + (1.0 - y) * np.log(np.clip(1.0 - p, _LOG_LOSS_EPS, 1 - _LOG_LOSS_EPS)))
    base = k + group * D
    predicted = (p[:, None] > np.asarray(thresholds)[None, :]).astype(np.int64)  # [n, T]
    rows = np.concatenate([inverse[:, None], base[:, None] + np.arange(3)[None, :],
                           base[:, None] + 3 + 4 * np.arange(T)[None, :] + 2 * pos[:, None]
                           + predicted], axis=1)
    data = np.concatenate([w[:, None], np.stack([np.ones(n), w * p, w * ll], axis=1),
                           np.repeat(w[:, None], T, axis=1)], axis=1)
    size = k + n_groups * D
    if weights.shape[1] == R + 1:  # the last column is the full data: one product for all
        full = example_products(rows, data, size, weights, batch.replicate_rows)
    else:
        full = np.empty((size, R + 1))
        full[:, :R] = example_products(rows, data, size, weights, batch.replicate_rows)
        full[:, R] = np.bincount(rows.ravel(), data.ravel(), minlength=size)
    extra = np.stack([np.bincount(group, v, minlength=n_groups)
                      for v in (w, w * y, w * p * p, w * ll * ll, w * w)], axis=1)
    dense = full[k:].reshape(n_groups, D, R + 1)
    bounds = np.searchsorted(cells, np.arange(n_groups + 1) * 2 * B)
    return [BinaryReplicates(dense[g], extra[g], full[bounds[g]:bounds[g + 1]],
                             cells[bounds[g]:bounds[g + 1]] - g * 2 * B)
            for g in range(n_groups)]


def merge(states: Sequence[Optional[BinaryReplicates]]) -> Optional[BinaryReplicates]:
    """Sums the states into a new dense one (the inputs are views of a batch's arrays)."""
    states = [s for s in states if s is not None]
    if not states:
        return None
    first = states[0]
    if first.cells is not None:
        dense = np.zeros((2 * REPLICATE_BUCKETS, first.sums.shape[1]))  # float64 from here
        dense[first.cells] = first.hist
        first = BinaryReplicates(first.sums.astype(np.float64), first.extra.copy(), dense,
                                 None)
    for other in states[1:]:
        first.sums += other.sums
        first.extra += other.extra
        if other.cells is None:
            first.hist += other.hist
        else:
            first.hist[other.cells] += other.hist
    return first


def _areas(hist: np.ndarray):
    """(auc, auc_pr), shape [R+1] each, from dense histograms [2B, R+1]."""
    B = REPLICATE_BUCKETS
    neg, pos = hist[:B][::-1], hist[B:][::-1]  # highest score first
    tp, fp = np.cumsum(pos, axis=0), np.cumsum(neg, axis=0)
    P, N = tp[-1], fp[-1]
    tp0 = np.vstack([np.zeros((1, tp.shape[1])), tp])
    fp0 = np.vstack([np.zeros((1, fp.shape[1])), fp])
    area = np.sum(np.diff(fp0, axis=0) * (tp0[1:] + tp0[:-1]) / 2.0, axis=0)
    auc = ratio(area, P * N)
    precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=(tp + fp) > 0)
    auc_pr = ratio(np.sum(np.diff(tp0, axis=0) * precision, axis=0), P)
    return np.asarray(auc), np.asarray(auc_pr)


def values(thresholds: Sequence[float], names: Sequence[str], point: Dict[str, float],
           state: Optional[BinaryReplicates], fmt) -> Dict[str, np.ndarray]:
    """{name: float64 [R]}: every metric of BinaryMetrics on each replicate; `point` holds the
    point values (to centre the areas), `fmt` formats a threshold as in the names."""
    if state is None:
        return {}
    s = merge([state]) if state.cells is not None else state
    S = s.sums
    B = REPLICATE_BUCKETS
    count, pred, ll = S[0], S[1], S[2]
    weight, label = s.hist.sum(axis=0), s.hist[B:].sum(axis=0)
    out: Dict[str, np.ndarray] = {"example_count": count, "weighted_example_count": weight}
    auc, auc_pr = _areas(s.hist)
    for name, coarse in (("auc", auc), ("auc_pr", auc_pr)):
        out[name] = coarse + (point.get(name, np.nan) - coarse[-1])
    for i, t in enumerate(thresholds):
        tn, fp, fn, tp = S[3 + 4 * i: 7 + 4 * i]
        per = {"precision": ratio(tp, tp + fp), "recall": ratio(tp, tp + fn),
               "f1": ratio(2 * tp, 2 * tp + fp + fn), "accuracy": ratio(tp + tn, weight),
               "specificity": ratio(tn, tn + fp), "false_positive_rate": ratio(fp, fp + tn),
               "tp": tp, "fp": fp, "tn": tn, "fn": fn}
        if i == 0:
            out.update((k, per[k]) for k in ("accuracy", "precision", "recall", "f1",
                                             "specificity", "false_positive_rate"))
        out.update((f"{k}@{fmt(t)}", v) for k, v in per.items())
    out["log_loss"] = ratio(ll, weight)
    out["mean_label"] = ratio(label, weight)
    out["mean_prediction"] = ratio(pred, weight)
    out["calibration"] = np.where(weight > 0, ratio(pred, label), np.nan)
    return {k: np.asarray(v, np.float64)[:-1] for k, v in out.items() if k in names}


def closed_forms(thresholds: Sequence[float], scores: ScoreCounts,
                 state: Optional[BinaryReplicates], level: float) -> Dict[str, Dict[str, Any]]:
    """Closed-form intervals: accuracy and mean_label (Wilson), mean_prediction and log_loss
    (normal), auc (DeLong, from the slice's score counts). n is Kish's effective size."""
    from assay.metrics import closed_forms as cf

    if state is None:
        return {}
    s = merge([state]) if state.cells is not None else state
    S = s.sums[:, -1]
    weight, label, p2, ll2, w2 = s.extra
    n_eff = weight * weight / w2 if w2 > 0 else 0.0
    out = {}
    if weight > 0:
        tn, fp, fn, tp = S[3:7]
        out["accuracy"] = cf.wilson((tp + tn) / weight * n_eff, n_eff, level)
        out["mean_label"] = cf.wilson(label / weight * n_eff, n_eff, level)
        for name, first, second in (("mean_prediction", S[1], p2), ("log_loss", S[2], ll2)):
            mean = first / weight
            out[name] = cf.normal_mean(mean, second / weight - mean * mean, n_eff, level)
    _, tp_c, fp_c = cumulative_counts(scores, 0)
    pos = np.diff(np.r_[0.0, tp_c])[::-1]  # ascending keys
    neg = np.diff(np.r_[0.0, fp_c])[::-1]
    out["auc"] = cf.delong_auc(pos, neg, level)
    return out


__all__ = ["BinaryReplicates", "REPLICATE_BUCKETS", "accumulate", "closed_forms",
           "logit_buckets", "merge", "values"]
