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

from assay.config.values import positive_int
from assay.metrics.batch import ModelBatch
from assay.metrics.registry import HIGHER, LOWER
from assay.metrics.base import (GroupedMetric, float_columns, ratio,
                                unit_values)
from assay.metrics.curves import (ScoreCounts, ScoreOrder, as_json_list, average_precision,
                                  bucket_ids, cumulative_counts, downsample, merge_with_scores,
                                  roc_auc, sorted_score_counts)
from assay.errors import ConfigError, ConfigTypeError

# sklearn >= 1.3 clips probabilities to [eps, 1 - eps] with the dtype's machine epsilon.
LOG_LOSS_EPS = float(np.finfo(np.float64).eps)

# The metrics BinaryMetrics produces and which value of each is better, in result order; the
# per-threshold ones appear once per decision threshold t as f"{name}@{format_threshold(t)}".
DIRECTIONS = {
    "example_count": None, "weighted_example_count": None, "auc": HIGHER, "auc_pr": HIGHER,
    "accuracy": HIGHER, "precision": HIGHER, "recall": HIGHER, "f1": HIGHER,
    "specificity": HIGHER, "false_positive_rate": LOWER, "log_loss": LOWER, "mean_label": None,
    "mean_prediction": None, "calibration": None,
}
PER_THRESHOLD_DIRECTIONS = {"precision": HIGHER, "recall": HIGHER, "f1": HIGHER,
                            "accuracy": HIGHER, "tp": HIGHER, "fp": LOWER, "tn": HIGHER,
                            "fn": LOWER}
_PER_THRESHOLD = tuple(PER_THRESHOLD_DIRECTIONS)


def format_threshold(threshold: float) -> str:
    """The threshold as it appears in metric names: repr of the float, without a trailing '.0'.

    Example: format_threshold(0.5) == "0.5"; format_threshold(0.25) == "0.25";
    format_threshold(1) == "1".
    """
    text = repr(float(threshold))
    return text[:-2] if text.endswith(".0") else text


def binary_directions(thresholds: Sequence[float] = (0.5,)) -> Dict[str, Optional[str]]:
    """{name: "higher" | "lower" | None} of every name BinaryMetrics(thresholds) produces.

    Example:
        >>> binary_directions((0.3,))["fp@0.3"]
        'lower'
    """
    out = dict(DIRECTIONS)
    for t in thresholds:
        out.update((f"{m}@{format_threshold(t)}", d) for m, d in PER_THRESHOLD_DIRECTIONS.items())
    return out


def binary_metric_names(thresholds: Sequence[float] = (0.5,)) -> List[str]:
    """The scalar names BinaryMetrics(thresholds=...).result() produces, in order."""
    return list(binary_directions(thresholds))


def binary_metric_info(name: str) -> Tuple[bool, Optional[str]]:
    """(whether BinaryMetrics produces `name` with some options, its direction).

    A per-threshold name counts only with its threshold written as format_threshold writes it
    (precision@0.3, not precision@.3 or precision@0.30), in [0, 1].
    """
    if name in DIRECTIONS:
        return True, DIRECTIONS[name]
    base, _, threshold = name.partition("@")
    if base in PER_THRESHOLD_DIRECTIONS:
        try:
            value = float(threshold)
        except ValueError:
            return False, None
        if 0.0 <= value <= 1.0 and format_threshold(value) == threshold:
            return True, PER_THRESHOLD_DIRECTIONS[base]
    return False, None


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


class BinaryMetrics(GroupedMetric):
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
        self.num_buckets = positive_int(num_buckets, "num_buckets")
        self.exact = bool(exact)
        self.calibration_bins = positive_int(calibration_bins, "calibration_bins")
        self.max_exact_scores = exact_score_limit(num_buckets, exact, max_exact_scores)

    @property
    def directions(self) -> Dict[str, Optional[str]]:
        return binary_directions(self.thresholds)

    # Accumulator algebra -----------------------------------------------------------------

    def create(self) -> BinaryAccumulator:
        return BinaryAccumulator(
            sums=np.zeros(5), confusion=np.zeros((len(self.thresholds), 2, 2)),
            calibration=np.zeros((self.calibration_bins, 3)),
            scores=ScoreCounts.empty())

    def merge(self, accs: Sequence[BinaryAccumulator]) -> BinaryAccumulator:
        return merge_with_scores(accs, ("sums", "confusion", "calibration"), self.num_buckets,
                                 self.max_exact_scores)

    def _accumulate(self, batch: ModelBatch, group: np.ndarray,
                    n_groups: int) -> List[BinaryAccumulator]:
        """One accumulator per group, in one vectorised pass over the batch."""
        return self._accumulate_rows(self._prepare(batch), None, group, n_groups)

    def add_grouped_rows(self, batch: ModelBatch, rows: Optional[np.ndarray],
                         group_ids: np.ndarray, n_groups: int,
                         cache: Dict[Any, Any]) -> List[BinaryAccumulator]:
        """add_grouped(batch.take(rows), group_ids, n_groups) (rows None: every row), with what
        depends on the batch alone (log loss, thresholds, bins, the score order) computed once
        per batch and kept in `cache` for the batch's other slicing specs."""
        if not len(group_ids):
            return [self.create() for _ in range(n_groups)]
        prepared = cache.get(self)
        if prepared is None:
            prepared = cache[self] = self._prepare(batch)
        return self._accumulate_rows(prepared, rows, np.asarray(group_ids, np.int64), n_groups)

    def _prepare(self, batch: ModelBatch) -> Dict[str, Any]:
        """Per-row columns of the batch that every slicing spec needs."""
        y, p, w = float_columns(batch, "BinaryMetrics",
                                "; use MulticlassMetrics for class-probability matrices")
        wpos, wneg = w * y, w * (1.0 - y)
        log_loss = -(y * np.log(np.clip(p, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS))
                     + (1.0 - y) * np.log(np.clip(1.0 - p, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)))
        thresholds = np.asarray(self.thresholds)
        return {"p": p, "w": w, "wpos": wpos, "wneg": wneg, "wp": w * p,
                "wloss": w * log_loss, "ones": np.ones_like(w),
                "predicted": (p[:, None] > thresholds[None, :]).astype(np.int64),
                "bins": bucket_ids(p, self.calibration_bins),
                # pos and neg are then counts (assay.metrics.binary_dense keeps them as such)
                "unit_weights": bool((w == 1.0).all() and ((y == 0.0) | (y == 1.0)).all()),
                # every prediction a float32 value (assay.metrics.binary_dense holds them so)
                "keys32": bool(np.asarray(batch.predictions).dtype == np.float32
                               or (p.astype(np.float32) == p).all())}

    def _accumulate_rows(self, c: Dict[str, Any], rows: Optional[np.ndarray],
                         group: np.ndarray, n_groups: int) -> List[BinaryAccumulator]:
        """One accumulator per group of the entries (group[i], row rows[i] of the batch)."""
        sums, confusion, calibration = self._group_arrays(c, rows, group, n_groups)
        order = c.get("order") or c.setdefault("order", ScoreOrder(c["p"]))  # once a batch
        sorted_group, src = order.group_order(group, rows)
        scores = sorted_score_counts(sorted_group, 1, c["p"][src], c["wpos"][src],
                                     c["wneg"][src], n_groups, self.num_buckets,
                                     self.max_exact_scores)
        # Views, not copies: each accumulator owns its row, and merge() adds into it in place.
        return [BinaryAccumulator(sums[g], confusion[g], calibration[g], scores[g])
                for g in range(n_groups)]

    def _group_arrays(self, c: Dict[str, Any], rows: Optional[np.ndarray], group: np.ndarray,
                      n_groups: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(sums [G, 5], confusion [G, T, 2, 2], calibration [G, bins, 3]) per group."""
        def col(name: str) -> np.ndarray:
            return c[name] if rows is None else c[name][rows]

        def per_group(values: np.ndarray) -> np.ndarray:
            return np.bincount(group, values, minlength=n_groups)

        wpos, wneg, w = col("wpos"), col("wneg"), col("w")
        sums = np.stack([per_group(col("ones")), per_group(w), per_group(wpos),
                         per_group(col("wp")), per_group(col("wloss"))], axis=1)

        n_t = len(self.thresholds)
        cell = (group[:, None] * n_t + np.arange(n_t)[None, :]) * 2 + col("predicted")  # [n, T]
        size = n_groups * n_t * 2
        # Shape [group, t, predicted, label] from the bincounts; stored as [.., label, predicted].
        confusion = np.stack([
            np.bincount(cell.ravel(), np.repeat(wneg, n_t), minlength=size),
            np.bincount(cell.ravel(), np.repeat(wpos, n_t), minlength=size),
        ], axis=1).reshape(n_groups, n_t, 2, 2).swapaxes(2, 3)

        n_bins = self.calibration_bins
        cal_cell = group * n_bins + col("bins")
        calibration = np.stack([np.bincount(cal_cell, v, minlength=n_groups * n_bins)
                                for v in (w, col("wp"), wpos)], axis=1).reshape(n_groups, n_bins, 3)
        return sums, confusion, calibration

    # Every slice at once (assay.metrics.binary_dense: one state per model, by slice id) -------

    def dense_create(self) -> Any:
        from assay.metrics.binary_dense import DenseBinary

        return DenseBinary(len(self.thresholds), self.calibration_bins, self.num_buckets,
                           self.max_exact_scores)

    def dense_add(self, state: Any, batch: ModelBatch, rows: Optional[np.ndarray],
                  group_ids: np.ndarray, ids: np.ndarray, cache: Dict[Any, Any]) -> None:
        """Adds the entries (group_ids[i], row rows[i]) to the slices ids[group] (ids[g] < 0:
        group g is left out, counted by another slicing spec of this batch)."""
        if not len(group_ids):
            return
        prepared = cache.get(self)
        if prepared is None:
            prepared = cache[self] = self._prepare(batch)
        group = np.asarray(group_ids, np.int64)
        keep = ids[group] >= 0
        if not keep.all():
            group = group[keep]
            rows = np.flatnonzero(keep) if rows is None else rows[keep]
        fresh = np.flatnonzero(ids >= 0)
        state.reserve(int(ids.max()) + 1)
        sums, confusion, calibration = self._group_arrays(prepared, rows, group, len(ids))
        state.add_sums(ids[fresh], sums[fresh], confusion[fresh], calibration[fresh])
        src = np.arange(len(group)) if rows is None else rows  # unsorted: the state sorts
        state.add_scores(ids[group], prepared["p"][src], prepared["wpos"][src],
                         prepared["wneg"][src], prepared["unit_weights"], prepared["keys32"])

    def dense_fold(self, state: Any, atoms: Any, images: Sequence[Sequence[int]],
                   own: Sequence[int], n_ids: int) -> None:
        """Adds slice a of `atoms` to slices images[a] of `state` (assay.engine.atoms)."""
        state.fold(atoms, images, own, n_ids)

    def dense_split(self, state: Any) -> Dict[int, BinaryAccumulator]:
        """{slice id: its accumulator} of every slice the state holds."""
        return {sid: self.dense_acc(state, sid) for sid in state.ids()}

    def dense_acc(self, state: Any, sid: int) -> BinaryAccumulator:
        """The accumulator of slice `sid` (one the state holds), made when asked for, so that
        a pass hands slices over one at a time (its score counts are then released)."""
        return BinaryAccumulator(state.sums[sid].copy(), state.confusion[sid].copy(),
                                 state.calibration[sid].copy(), state.scores(sid))

    # Bootstrap replicates (assay.metrics.bootstrap, vectorised in binary_replicates) ----------

    def replicate_accumulate(self, batch: ModelBatch, group: np.ndarray, n_groups: int,
                             replicates: int) -> List[Any]:
        from assay.metrics import binary_replicates

        return binary_replicates.accumulate(self.thresholds, batch, group, n_groups, replicates)

    def replicate_merge(self, states: Sequence[Any]) -> Any:
        from assay.metrics import binary_replicates

        return binary_replicates.merge(states)

    def replicate_values(self, acc: BinaryAccumulator, state: Any) -> Dict[str, np.ndarray]:
        from assay.metrics import binary_replicates

        return binary_replicates.values(self.thresholds, self.metric_names(), self.result(acc),
                                        state, format_threshold)

    def closed_form_intervals(self, acc: BinaryAccumulator, state: Any,
                              level: float) -> Dict[str, Dict[str, Any]]:
        from assay.metrics import binary_replicates

        return binary_replicates.closed_forms(self.thresholds, acc.scores, state, level)

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
                "thresholds": [None] + thresholds[idx[1:] - 1].tolist(),  # idx[0] is 0
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
    if isinstance(thresholds, Sequence) and len(thresholds) == 0:
        raise ConfigError("'thresholds' must name at least one threshold (got an empty list); "
                         "the first one is used for accuracy, precision, recall and f1.")
    return unit_values(thresholds, "thresholds", lambda t: f"precision@{format_threshold(t)}")


def exact_score_limit(num_buckets: int, exact: bool, max_exact_scores: Any) -> Optional[int]:
    """The max_exact of the score counts: None (never bucket) when exact, else
    max_exact_scores, num_buckets when that is None."""
    if max_exact_scores is not None:
        if isinstance(max_exact_scores, bool) or not isinstance(max_exact_scores,
                                                                numbers.Integral):
            raise ConfigTypeError("'max_exact_scores' must be an int or None (got "
                            f"{max_exact_scores!r}, a {type(max_exact_scores).__name__}).")
        if max_exact_scores < 0:
            raise ConfigError(f"'max_exact_scores' must be at least 0 (got {max_exact_scores!r}).")
    if exact:
        return None
    return int(num_buckets if max_exact_scores is None else max_exact_scores)
