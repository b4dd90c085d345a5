"""Binary classification metrics: ROC and PR areas, confusion counts at thresholds, log loss,
calibration.

Labels are 0/1 floats and predictions probabilities of the positive class in [0, 1] (the engine
checks both). Every statistic is weighted by `batch.weights`.

The ROC and PR areas come from `ScoreCounts`: the weight of positive and negative examples per
score key. By default the keys of a slice are its distinct prediction values, which gives
scikit-learn's roc_auc_score and average_precision_score exactly (ties included), as long as
the slice has at most `max_exact_scores` distinct predictions (default: num_buckets, 10000);
beyond that its counts are bucketed into `num_buckets` equal-width buckets of [0, 1] (examples
in one bucket count as tied), so an accumulator never holds more than 4 * num_buckets numbers
per curve. Which form a slice ends in depends on the slice only, not on how it was batched or
sharded. `exact=True` never buckets (memory grows with the number of distinct predictions).

Accuracy of the default mode, max |assay - sklearn| measured over 2-5 random draws per case:
  * slices with <= 10000 distinct scores: exact (<= 2.2e-16), whatever their size or scores.
  * 10001 to 1M examples, bucketed, unweighted [weighted by Exponential(1)]:
      scores                          labels              auc              auc_pr
      uniform                         Bernoulli(p)        3.1e-6 [2.7e-6]  2.7e-5 [3.6e-5]
      uniform                         30% at random       2.1e-6 [3.1e-6]  1.8e-4 [2.1e-4]
      Beta(0.5, 8), mass near 0       Bernoulli(p)        1.4e-5 [1.6e-5]  9.9e-5 [2.1e-4]
      Beta(8, 0.5), mass near 1       Bernoulli(p)        9.1e-6 [1.9e-5]  1.9e-5 [2.7e-5]
      sigmoid(N(-4, 1)), CTR-like     Bernoulli(p)        5.4e-5 [7.4e-5]  1.0e-4 [1.4e-3]
      sigmoid(N(-6, .5)), all < .01   Bernoulli(20p)      5.7e-4 [1.4e-3]  1.8e-3 [1.3e-3]
    The largest auc_pr errors come from the top few buckets, where ties between a positive and
    a negative move precision by up to 1/(number of positives); they shrink with the slice
    (uniform, random labels: 1.8e-4 at 10k-12k examples, 4.1e-5 at 100k, 3.6e-6 at 1M). Scores
    crowded into a few of the equal-width buckets (the last row uses about 100 of them) lose
    resolution at any size; use exact=True or a larger num_buckets for such models.

Example:

    metric = BinaryMetrics(thresholds=(0.3, 0.5))
    acc = metric.add(metric.create(), batch)     # batch: assay.metrics.batch.ModelBatch
    metric.result(acc)["auc"], metric.result(acc)["precision@0.3"]
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from assay.metrics.batch import ModelBatch
from assay.metrics.base import Metric

# sklearn >= 1.3 clips probabilities to [eps, 1 - eps] with the dtype's machine epsilon.
LOG_LOSS_EPS = float(np.finfo(np.float64).eps)
MAX_CURVE_POINTS = 200


def format_threshold(threshold: float) -> str:
    """The threshold as it appears in metric names: repr of the float, without a trailing '.0'.

    Example: format_threshold(0.5) == "0.5"; format_threshold(0.25) == "0.25";
    format_threshold(1) == "1".
    """
    text = repr(float(threshold))
    return text[:-2] if text.endswith(".0") else text


def binary_metric_names(thresholds: Sequence[float] = (0.5,)) -> List[str]:
    """The scalar names BinaryMetrics(thresholds=...).result() produces, in order."""
    names = [
        "example_count", "weighted_example_count", "auc", "auc_pr", "accuracy", "precision",
        "recall", "f1", "specificity", "false_positive_rate", "log_loss", "mean_label",
        "mean_prediction", "calibration",
    ]
    for t in thresholds:
        names += [f"{m}@{format_threshold(t)}" for m in _PER_THRESHOLD]
    return names


_PER_THRESHOLD = ("precision", "recall", "f1", "accuracy", "tp", "fp", "tn", "fn")


def ratio(numerator, denominator):
    """numerator / denominator elementwise, NaN where the denominator is 0 (no warning)."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.full(np.broadcast(numerator, denominator).shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out if out.ndim else float(out)


# --------------------------------------------------------------------------------------------
# Score counts: weighted positives and negatives per (curve, score key), shared with multiclass.
#
# Two forms. The exact form keys by the distinct prediction values (float64 keys), so the areas
# equal scikit-learn's, ties included. The bucketed form keys by
# bucket_ids(prediction, num_buckets) (int64 keys), so it holds at most num_buckets entries per
# curve however many examples it has seen. A ScoreCounts starts exact and is bucketed once some
# curve holds more than `max_exact` distinct predictions (max_exact None: never). Both the
# conversion and the bucket of an example are functions of the prediction values alone, so the
# form of a slice's counts, and the sum in each key, do not depend on how the slice was batched:
#
#   * the distinct predictions of a part are a subset of the slice's, so a part over the limit
#     means the slice is over it too (converting a part early is never wrong), and merging parts
#     that are each under the limit converts when their union is over it;
#   * bucketing exact counts re-adds their sums per bucket, which gives the same sums (up to
#     float summation order) as bucketing every example directly.


@dataclasses.dataclass
class ScoreCounts:
    """Weighted positives and negatives per distinct (curve, key), sorted by (curve, key).

    Attributes:
      curve: shape [m] int32; which curve an entry belongs to (always 0 for binary, the class for
        one-vs-rest multi-class curves).
      keys: shape [m]; float64 prediction values in the exact form, int64 bucket ids in the
        bucketed form (the dtype tells the forms apart, see `exact`).
      pos: shape [m] float64; weight of positive examples (weight * label) at the key.
      neg: shape [m] float64; weight of negative examples (weight * (1 - label)) at the key.
    """

    curve: np.ndarray
    keys: np.ndarray
    pos: np.ndarray
    neg: np.ndarray

    @property
    def exact(self) -> bool:
        """True in the exact form (keys are predictions), False in the bucketed form."""
        return self.keys.dtype.kind == "f"

    @classmethod
    def empty(cls, exact: bool = True) -> "ScoreCounts":
        key_dtype = np.float64 if exact else np.int64
        return cls(np.zeros(0, np.int32), np.zeros(0, key_dtype), np.zeros(0), np.zeros(0))

    def max_keys_per_curve(self) -> int:
        """The most entries (distinct keys) any one curve holds; 0 when empty."""
        return int(np.bincount(self.curve).max()) if len(self.curve) else 0

    def copy(self) -> "ScoreCounts":
        return ScoreCounts(self.curve.copy(), self.keys.copy(), self.pos.copy(), self.neg.copy())


def _run_starts(*columns: np.ndarray) -> np.ndarray:
    """Indices where a run of equal rows starts, for columns sorted together (length >= 1)."""
    change = np.zeros(len(columns[0]), bool)
    change[0] = True
    for col in columns:
        change[1:] |= col[1:] != col[:-1]
    return np.flatnonzero(change)


def _order_key(values: np.ndarray) -> np.ndarray:
    """int64 keys in the order of the float64 values (sorting ints is faster than floats).

    The IEEE bits of a float, read as int64, are in order for values >= 0 and in reverse order
    for values < 0; flipping all but the sign bit of the negative ones fixes that. (-0.0 comes
    just before 0.0, so the two still form one run of equal values.)
    """
    bits = values.view(np.int64)
    return bits ^ ((bits >> 63) & np.int64(0x7FFFFFFFFFFFFFFF))


def _bucket_runs(cell: np.ndarray, values: np.ndarray, pos: np.ndarray, neg: np.ndarray,
                 num_buckets: int):
    """Re-adds exact entries sorted by (cell, value) per (cell, bucket of value).

    The bucket is monotone in the value, so the bucketed entries come out sorted by
    (cell, bucket) with no sort, and their sums follow the value order.
    """
    buckets = bucket_ids(values, num_buckets)
    starts = _run_starts(cell, buckets)
    return (cell[starts], buckets[starts], np.add.reduceat(pos, starts),
            np.add.reduceat(neg, starts))


def bucketize(counts: ScoreCounts, num_buckets: int) -> ScoreCounts:
    """The bucketed form of exact counts (bucketed counts are returned as they are)."""
    if not counts.exact:
        return counts
    if len(counts.keys) == 0:
        return ScoreCounts.empty(exact=False)
    curve, keys, pos, neg = _bucket_runs(counts.curve, counts.keys, counts.pos, counts.neg,
                                         num_buckets)
    return ScoreCounts(curve, keys, pos, neg)


def grouped_score_counts(group: np.ndarray, curve: np.ndarray, scores: np.ndarray,
                         pos: np.ndarray, neg: np.ndarray, n_groups: int, num_buckets: int,
                         max_exact: Optional[int]) -> List[ScoreCounts]:
    """Sums pos and neg per (group, curve, key); one ScoreCounts per group.

    A group's counts are exact while each of its curves has at most max_exact distinct scores
    (always when max_exact is None) and bucketed otherwise, exactly as if the group's examples
    had been added alone. Vectorised: one sort of all entries; the groups that are bucketed get
    their buckets from one pass over the sorted exact entries.

    Args:
      group: shape [n] int, values in [0, n_groups).
      curve: shape [n] int, values >= 0.
      scores, pos, neg: shape [n] float64; one entry per (example, curve).
    """
    if len(scores) == 0:
        return [ScoreCounts.empty() for _ in range(n_groups)]
    scores = np.asarray(scores, np.float64)
    n_curves = int(curve.max()) + 1
    cell = group.astype(np.int64)
    if n_curves > 1:
        cell = cell * n_curves + curve
    # lexsort is stable, so equal (group, curve, score) entries are summed in input order and a
    # group's sums do not depend on which other groups share the batch.
    order = np.lexsort((_order_key(scores), cell))
    cell, scores = cell[order], scores[order]
    starts = _run_starts(cell, scores)
    pos_sum = np.add.reduceat(pos[order], starts)
    neg_sum = np.add.reduceat(neg[order], starts)
    cell, scores = cell[starts], scores[starts]
    g = cell // n_curves if n_curves > 1 else cell
    bounds = np.searchsorted(g, np.arange(n_groups + 1))

    if max_exact is None:
        bucketed = np.zeros(n_groups, bool)
    else:
        per_curve = np.bincount(cell, minlength=n_groups * n_curves).reshape(n_groups, n_curves)
        bucketed = per_curve.max(axis=1) > max_exact
    if bucketed.any():
        sel = bucketed[g]
        b_cell, b_keys, b_pos, b_neg = _bucket_runs(cell[sel], scores[sel], pos_sum[sel],
                                                    neg_sum[sel], num_buckets)
        b_bounds = np.searchsorted(b_cell // n_curves if n_curves > 1 else b_cell,
                                   np.arange(n_groups + 1))
        b_curve = (b_cell % n_curves).astype(np.int32)
    curve_out = (cell % n_curves).astype(np.int32)

    # Per group only slicing is left: views of the batch's arrays, which live until the
    # partials are merged (merging makes new arrays). (Python-int bounds: indexing with numpy
    # ints costs more.)
    exact_parts = (curve_out, scores, pos_sum, neg_sum)
    bounds = bounds.tolist()
    if not bucketed.any():
        return [_copied(exact_parts, a, b) for a, b in zip(bounds[:-1], bounds[1:])]
    b_bounds = b_bounds.tolist()
    return [_copied((b_curve, b_keys, b_pos, b_neg), b_bounds[i], b_bounds[i + 1]) if bucketed[i]
            else _copied(exact_parts, bounds[i], bounds[i + 1]) for i in range(n_groups)]


def _copied(parts, a: int, b: int) -> ScoreCounts:
    curve, keys, pos, neg = parts
    return ScoreCounts(curve[a:b], keys[a:b], pos[a:b], neg[a:b])


def _sum_by_key(curve: np.ndarray, keys: np.ndarray, pos: np.ndarray,
                neg: np.ndarray) -> ScoreCounts:
    """Entries summed per (curve, key), sorted; keys keep their dtype (form)."""
    if len(keys) == 0:
        return ScoreCounts(curve.astype(np.int32), keys, pos, neg)
    order = np.lexsort((keys, curve))  # stable: equal keys are summed in input order
    curve, keys = curve[order], keys[order]
    starts = _run_starts(curve, keys)
    return ScoreCounts(curve[starts].astype(np.int32), keys[starts],
                       np.add.reduceat(pos[order], starts), np.add.reduceat(neg[order], starts))


def merge_score_counts(counts: Sequence[ScoreCounts], num_buckets: int,
                       max_exact: Optional[int]) -> ScoreCounts:
    """Sums several ScoreCounts key by key; returns a new ScoreCounts.

    Exact parts are bucketed first if any part is bucketed; an exact sum is bucketed when some
    curve then holds more than max_exact distinct scores (never when max_exact is None).
    """
    counts = [c for c in counts if len(c.keys)]
    if not counts:
        return ScoreCounts.empty()
    if not all(c.exact for c in counts):
        counts = [bucketize(c, num_buckets) for c in counts]
    if len(counts) == 1:
        merged = counts[0].copy()
    else:
        merged = _sum_by_key(*(np.concatenate([getattr(c, f) for c in counts])
                               for f in ("curve", "keys", "pos", "neg")))
    if merged.exact and max_exact is not None and merged.max_keys_per_curve() > max_exact:
        merged = bucketize(merged, num_buckets)
    return merged


def cumulative_counts(counts: ScoreCounts, curve: Optional[int] = None
                      ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted true and false positives when predicting positive iff key >= each key.

    Args:
      counts: the ScoreCounts.
      curve: the curve to read; None merges all curves (micro-averaging).

    Returns:
      (keys, tp, fp), shape [m] each, keys descending; keys holding no weight are dropped.
    """
    if curve is None:
        merged = _sum_by_key(np.zeros_like(counts.curve), counts.keys, counts.pos, counts.neg)
    else:
        a, b = np.searchsorted(counts.curve, [curve, curve + 1])
        merged = ScoreCounts(counts.curve[a:b], counts.keys[a:b], counts.pos[a:b],
                             counts.neg[a:b])
    keep = (merged.pos != 0) | (merged.neg != 0)
    return (merged.keys[keep][::-1], np.cumsum(merged.pos[keep][::-1]),
            np.cumsum(merged.neg[keep][::-1]))


def roc_auc(tp: np.ndarray, fp: np.ndarray) -> float:
    """Trapezoidal area under the ROC curve through (0, 0) and the points (fp/N, tp/P).

    Ties (one key) form one straight segment, as in sklearn.metrics.roc_auc_score. NaN when
    either class has no weight.
    """
    if len(tp) == 0 or tp[-1] <= 0 or fp[-1] <= 0:
        return float("nan")
    return float(np.trapz(np.r_[0.0, tp] / tp[-1], np.r_[0.0, fp] / fp[-1]))


def average_precision(tp: np.ndarray, fp: np.ndarray) -> float:
    """sum over keys of (recall step) * (precision at the key), as average_precision_score.

    Ties (one key) form one step. NaN when there are no positives (scikit-learn returns 0 with
    a warning).
    """
    if len(tp) == 0 or tp[-1] <= 0:
        return float("nan")
    return float(np.sum(np.diff(np.r_[0.0, tp]) / tp[-1] * (tp / (tp + fp))))


def downsample(n: int, max_points: int = MAX_CURVE_POINTS) -> np.ndarray:
    """At most max_points indices into range(n), evenly spread, first and last included."""
    return np.unique(np.round(np.linspace(0, n - 1, min(n, max_points))).astype(np.int64))


def as_json_list(values: np.ndarray) -> List[Optional[float]]:
    """Python floats, with None (JSON null) for NaN."""
    values = np.asarray(values, np.float64)
    out = values.tolist()
    for i in np.flatnonzero(np.isnan(values)).tolist():
        out[i] = None
    return out


# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class BinaryAccumulator:
    """Sufficient statistics of BinaryMetrics; every field is summed when merging.

    Attributes:
      sums: shape [5]: example count, weight, weight * label, weight * prediction,
        weight * log loss.
      confusion: shape [T, 2, 2]: weight per threshold, label (0 negative, 1 positive) and
        predicted class (1 iff prediction > threshold).
      calibration: shape [calibration_bins, 3]: weight, weight * prediction, weight * label.
      scores: positives and negatives per distinct prediction, or per score bucket once the
        slice has more than max_exact_scores distinct predictions.
    """

    sums: np.ndarray
    confusion: np.ndarray
    calibration: np.ndarray
    scores: ScoreCounts


class BinaryMetrics(Metric):
    """ROC AUC, PR AUC, confusion-matrix metrics at thresholds, log loss and calibration.

    Args:
      thresholds: decision thresholds in [0, 1]; an example is predicted positive iff
        prediction > threshold (as Keras and TFMA). Unsuffixed accuracy, precision, recall, f1,
        specificity and false_positive_rate use the first one; every threshold t also gets
        `precision@t`, `recall@t`, `f1@t`, `accuracy@t`, `tp@t`, `fp@t`, `tn@t`, `fn@t`
        (t as format_threshold(t)).
      num_buckets: equal-width score buckets of [0, 1] for the areas and curves of slices with
        more than max_exact_scores distinct predictions.
      exact: always key by the distinct predictions, however many; auc and auc_pr then equal
        sklearn's roc_auc_score and average_precision_score on every slice.
      calibration_bins: equal-width bins of [0, 1] for the calibration plot.
      max_exact_scores: a slice's score counts stay exact (keyed by prediction) while it has at
        most this many distinct predictions, and are bucketed beyond; None means num_buckets,
        0 buckets from the first example. Ignored when exact.

    Metrics (result keys): example_count (unweighted), weighted_example_count, auc, auc_pr,
    accuracy, precision, recall, f1, specificity, false_positive_rate, log_loss, mean_label,
    mean_prediction, calibration (= weighted mean prediction / weighted mean label), and the
    per-threshold names above.

    Definitions: auc is the trapezoidal ROC area, examples with one key tied. auc_pr is average
    precision, sum over keys (from the top) of recall gained times precision at that key; on
    bucketed counts this equals average_precision_score on the predictions rounded down to
    their bucket's lower edge (the module docstring gives the error). (TFMA's default
    interpolates precision within each bucket, Davis & Goadrich; on 100k uniform scores with
    random labels that strayed up to 1.3e-4 from average_precision_score on the raw scores, the
    step sum 9.4e-5, so assay uses the step sum.)
    Ratios with a zero denominator are NaN: precision without predicted positives, recall
    without positives, auc with one class only, everything on empty input.

    Example:

        metric = BinaryMetrics()
        batch = ModelBatch(np.array([0., 0., 1., 1.]), np.array([.1, .4, .35, .8]), np.ones(4))
        metric.result(metric.add(metric.create(), batch))["auc"]  # 0.75
    """

    name = "binary"

    def __init__(self, thresholds: Sequence[float] = (0.5,), num_buckets: int = 10000,
                 exact: bool = False, calibration_bins: int = 10,
                 max_exact_scores: Optional[int] = None):
        self.thresholds = _check_thresholds(thresholds)
        self.num_buckets = check_positive_int("num_buckets", num_buckets)
        self.exact = bool(exact)
        self.calibration_bins = check_positive_int("calibration_bins", calibration_bins)
        self.max_exact_scores = exact_score_limit(num_buckets, exact, max_exact_scores)

    def metric_names(self) -> List[str]:
        return binary_metric_names(self.thresholds)

    # Accumulator algebra -----------------------------------------------------------------

    def create(self) -> BinaryAccumulator:
        return BinaryAccumulator(
            sums=np.zeros(5), confusion=np.zeros((len(self.thresholds), 2, 2)),
            calibration=np.zeros((self.calibration_bins, 3)),
            scores=ScoreCounts.empty())

    def add(self, acc: BinaryAccumulator, batch: ModelBatch) -> BinaryAccumulator:
        return self.merge([acc, self._accumulate(batch, np.zeros(len(batch), np.int64), 1)[0]])

    def add_grouped(self, batch: ModelBatch, group_ids: np.ndarray,
                    n_groups: int) -> List[BinaryAccumulator]:
        return self._accumulate(batch, np.asarray(group_ids, np.int64), n_groups)

    def merge(self, accs: Sequence[BinaryAccumulator]) -> BinaryAccumulator:
        first = accs[0]
        for other in accs[1:]:
            first.sums += other.sums
            first.confusion += other.confusion
            first.calibration += other.calibration
        first.scores = merge_score_counts([a.scores for a in accs], self.num_buckets,
                                          self.max_exact_scores)
        return first

    def _accumulate(self, batch: ModelBatch, group: np.ndarray,
                    n_groups: int) -> List[BinaryAccumulator]:
        """One accumulator per group, in one vectorised pass over the batch."""
        y = np.asarray(batch.labels, np.float64)
        p = np.asarray(batch.predictions, np.float64)
        w = np.asarray(batch.weights, np.float64)
        if p.ndim != 1:
            raise ValueError(f"BinaryMetrics needs predictions of shape [n] (got shape {p.shape}); "
                             "use MulticlassMetrics for class-probability matrices.")
        wpos, wneg = w * y, w * (1.0 - y)

        def per_group(values: np.ndarray) -> np.ndarray:
            return np.bincount(group, values, minlength=n_groups)

        log_loss = -(y * np.log(np.clip(p, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS))
                     + (1.0 - y) * np.log(np.clip(1.0 - p, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)))
        sums = np.stack([per_group(np.ones_like(w)), per_group(w), per_group(wpos),
                         per_group(w * p), per_group(w * log_loss)], axis=1)

        n_t = len(self.thresholds)
        predicted = (p[:, None] > np.asarray(self.thresholds)[None, :]).astype(np.int64)
        cell = (group[:, None] * n_t + np.arange(n_t)[None, :]) * 2 + predicted  # [n, T]
        size = n_groups * n_t * 2
        # Shape [group, t, predicted, label] from the bincounts; stored as [.., label, predicted].
        confusion = np.stack([
            np.bincount(cell.ravel(), np.repeat(wneg, n_t), minlength=size),
            np.bincount(cell.ravel(), np.repeat(wpos, n_t), minlength=size),
        ], axis=1).reshape(n_groups, n_t, 2, 2).swapaxes(2, 3)

        n_bins = self.calibration_bins
        cal_cell = group * n_bins + bucket_ids(p, n_bins)
        calibration = np.stack([np.bincount(cal_cell, v, minlength=n_groups * n_bins)
                                for v in (w, w * p, wpos)], axis=1).reshape(n_groups, n_bins, 3)

        scores = grouped_score_counts(group, np.zeros(len(p), np.int32), p, wpos, wneg,
                                      n_groups, self.num_buckets, self.max_exact_scores)
        # Views, not copies: each accumulator owns its row, and merge() adds into it in place.
        return [BinaryAccumulator(sums[g], confusion[g], calibration[g], scores[g])
                for g in range(n_groups)]

    # Results -----------------------------------------------------------------------------

    def result(self, acc: BinaryAccumulator) -> Dict[str, float]:
        count, weight, label_sum, prediction_sum, log_loss_sum = acc.sums
        _, tp, fp = cumulative_counts(acc.scores, 0)
        values = {
            "example_count": float(count),
            "weighted_example_count": float(weight),
            "auc": roc_auc(tp, fp),
            "auc_pr": average_precision(tp, fp),
        }
        at = [_threshold_metrics(acc.confusion[i], weight) for i in range(len(self.thresholds))]
        for name in ("accuracy", "precision", "recall", "f1", "specificity",
                     "false_positive_rate"):
            values[name] = at[0][name]
        values["log_loss"] = ratio(log_loss_sum, weight)
        values["mean_label"] = ratio(label_sum, weight)
        values["mean_prediction"] = ratio(prediction_sum, weight)
        values["calibration"] = ratio(prediction_sum, label_sum) if weight else float("nan")
        for t, metrics in zip(self.thresholds, at):
            for name in _PER_THRESHOLD:
                values[f"{name}@{format_threshold(t)}"] = metrics[name]
        return values

    def plots(self, acc: BinaryAccumulator) -> Dict[str, Any]:
        """ROC and PR curves (at most ~200 points each) and the calibration table.

        Curve point i predicts positive iff score >= thresholds[i] (a bucket's lower edge when
        the slice's counts are bucketed); the ROC curve starts at (0, 0) with threshold None.
        Calibration lists one entry per bin, None where a bin holds no weight.
        """
        keys, tp, fp = cumulative_counts(acc.scores, 0)
        thresholds = keys if acc.scores.exact else keys / self.num_buckets
        plots: Dict[str, Any] = {}
        if len(tp) and tp[-1] > 0 and fp[-1] > 0:
            fpr, tpr = np.r_[0.0, fp / fp[-1]], np.r_[0.0, tp / tp[-1]]
            idx = downsample(len(fpr))
            plots["roc_curve"] = {
                "fpr": as_json_list(fpr[idx]), "tpr": as_json_list(tpr[idx]),
                "thresholds": [None if i == 0 else float(thresholds[i - 1]) for i in idx],
            }
        else:
            plots["roc_curve"] = {"fpr": [], "tpr": [], "thresholds": []}
        if len(tp) and tp[-1] > 0:
            idx = downsample(len(tp))
            plots["pr_curve"] = {
                "precision": as_json_list((tp / (tp + fp))[idx]),
                "recall": as_json_list((tp / tp[-1])[idx]),
                "thresholds": as_json_list(thresholds[idx]),
            }
        else:
            plots["pr_curve"] = {"precision": [], "recall": [], "thresholds": []}
        weight, prediction_sum, label_sum = acc.calibration.T
        plots["calibration"] = {
            "bins": [i / self.calibration_bins for i in range(self.calibration_bins)],
            "mean_prediction": as_json_list(ratio(prediction_sum, weight)),
            "mean_label": as_json_list(ratio(label_sum, weight)),
            "weight": as_json_list(weight),
        }
        return plots


def bucket_ids(p: np.ndarray, num_buckets: int) -> np.ndarray:
    """Equal-width bucket of [0, 1]: min(floor(p * num_buckets), num_buckets - 1), int64."""
    return np.clip(np.floor(p * num_buckets), 0, num_buckets - 1).astype(np.int64)


def _threshold_metrics(confusion: np.ndarray, weight: float) -> Dict[str, float]:
    """Confusion-matrix metrics from one [label, predicted] 2x2 table of weights."""
    (tn, fp), (fn, tp) = confusion
    return {
        "precision": ratio(tp, tp + fp),
        "recall": ratio(tp, tp + fn),
        "f1": ratio(2 * tp, 2 * tp + fp + fn),
        "accuracy": ratio(tp + tn, weight),
        "specificity": ratio(tn, tn + fp),
        "false_positive_rate": ratio(fp, fp + tn),
        "tp": float(tp), "fp": float(fp), "tn": float(tn), "fn": float(fn),
    }


def _check_thresholds(thresholds: Sequence[float]) -> Tuple[float, ...]:
    if isinstance(thresholds, (str, bytes)) or not isinstance(thresholds, Sequence):
        raise TypeError("'thresholds' must be a sequence of numbers "
                        f"(got {thresholds!r}, a {type(thresholds).__name__}).")
    if len(thresholds) == 0:
        raise ValueError("'thresholds' must name at least one threshold (got an empty list); "
                         "the first one is used for accuracy, precision, recall and f1.")
    for t in thresholds:
        if isinstance(t, bool) or not isinstance(t, numbers.Real):
            raise TypeError(f"'thresholds' must hold numbers (got {t!r}, a {type(t).__name__}).")
        if not 0.0 <= t <= 1.0:
            raise ValueError(f"'thresholds' must lie in [0, 1] (got {t!r}).")
    names = [format_threshold(t) for t in thresholds]
    if len(set(names)) != len(names):
        raise ValueError(f"'thresholds' must not repeat a value (got {list(thresholds)!r}).")
    return tuple(float(t) for t in thresholds)


def exact_score_limit(num_buckets: int, exact: bool, max_exact_scores: Any) -> Optional[int]:
    """The max_exact of the score counts: None (never bucket) when exact, else
    max_exact_scores, num_buckets when that is None."""
    if max_exact_scores is not None:
        if isinstance(max_exact_scores, bool) or not isinstance(max_exact_scores,
                                                                numbers.Integral):
            raise TypeError("'max_exact_scores' must be an int or None (got "
                            f"{max_exact_scores!r}, a {type(max_exact_scores).__name__}).")
        if max_exact_scores < 0:
            raise ValueError(f"'max_exact_scores' must be at least 0 (got {max_exact_scores!r}).")
    if exact:
        return None
    return int(num_buckets if max_exact_scores is None else max_exact_scores)


def check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"'{name}' must be an int (got {value!r}, a {type(value).__name__}).")
    if value < 1:
        raise ValueError(f"'{name}' must be at least 1 (got {value!r}).")
    return int(value)
