"""Multi-label classification metrics: each example may belong to any number of k classes.

Labels are multi-hot, shape [n, k] of 0/1 (the engine reads them from a list column of k
values per example), and predictions a [n, k] matrix of per-class scores in [0, 1] that need
not sum to 1. Class c is predicted iff its score > the decision threshold (TFMA's and Keras'
rule; the config's first decision threshold, 0.5 by default). Every statistic is weighted by
`batch.weights`.

Per class c, the binary metrics of column c (TFMA's `binarize: {class_ids: ...}`, whose keys
are `precision` with sub key classId c): `precision/{c}`, `recall/{c}`, `f1/{c}`, `auc/{c}`.
Averaged over classes (TFMA's `aggregate` options, scikit-learn's `average=`):
`{m}_micro` (every (example, class) cell one binary example), `{m}_macro` (the mean of the
classes' values) and `{m}_weighted` (weighted by each class's weighted count of positive
labels), for m in precision, recall, f1, auc. They follow sklearn's precision_score /
recall_score / f1_score / roc_auc_score on multi-hot input, with zero_division=np.nan: an
undefined class value (no predicted positives for precision, no positives for recall and
auc) is NaN and left out of the macro and weighted means. (TFMA's macro average keeps a NaN
class, and so gives NaN; it needs `class_weights` in a model-agnostic run.)

Whole-example metrics:
  * subset_accuracy: the weighted share of examples whose predicted set equals the label set
    (sklearn.metrics.accuracy_score on multi-hot input).
  * hamming_loss: the weighted share of (example, class) cells predicted wrongly.
  * exact_match: TFMA's ExactMatch, the weighted share of (example, class) cells whose score
    equals the label exactly (no threshold: it means something only for 0/1 predictions).
  * set_match_precision, set_match_recall: TFMA's SetMatchPrecision / SetMatchRecall on the
    predicted set {c: score > threshold} against the label set; micro precision and recall.

Plot: `multi_label_confusion_matrix`, TFMA's MultiLabelConfusionMatrixPlot at the threshold:
for each actual class i (the examples with label i) and predicted class j, the weighted tp, fp,
tn, fn of predicting j.

Example:

    metric = MultilabelMetrics(class_names=["sports", "news", "tech"])
    acc = metric.add(metric.create(), batch)   # labels [n, 3] multi-hot, predictions [n, 3]
    metric.result(acc)["f1_macro"], metric.result(acc)["recall/news"]
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from assay.config.values import positive_int
from assay.errors import DataError
from assay.metrics.base import GroupedMetric, ratio
from assay.metrics.batch import ModelBatch
from assay.metrics.binary import exact_score_limit
from assay.metrics.curves import (ScoreCounts, cumulative_counts, grouped_score_counts,
                                  merge_with_scores, roc_auc)
from assay.metrics.multiclass import (AVERAGED_DIRECTIONS, AVERAGES, _check_class_names,
                                      _nan_average, per_class_metric_info)
from assay.metrics.registry import HIGHER, LOWER

DIRECTIONS = {"example_count": None, "weighted_example_count": None, "subset_accuracy": HIGHER,
              "hamming_loss": LOWER, "exact_match": HIGHER, "set_match_precision": HIGHER,
              "set_match_recall": HIGHER}
# AVERAGES and AVERAGED_DIRECTIONS: the multiclass ones (the same per-class naming).
PLOT = "multi_label_confusion_matrix"


def multilabel_directions(class_names: Sequence[str] = ()) -> Dict[str, Optional[str]]:
    """{name: direction} of every name MultilabelMetrics(class_names) produces, in order.

    Example:
        >>> multilabel_directions(["a", "b"])["recall/b"]
        'higher'
    """
    out = dict(DIRECTIONS)
    out.update((f"{m}_{avg}", d) for m, d in AVERAGED_DIRECTIONS.items() for avg in AVERAGES)
    out.update((f"{m}/{c}", d) for m, d in AVERAGED_DIRECTIONS.items() for c in class_names)
    return out


def multilabel_metric_info(name: str) -> Tuple[bool, Optional[str]]:
    """(whether MultilabelMetrics produces `name` with some class names, its direction)."""
    if name in DIRECTIONS:
        return True, DIRECTIONS[name]
    return per_class_metric_info(name)


@dataclasses.dataclass
class MultilabelAccumulator:
    """Sufficient statistics of MultilabelMetrics; every array is summed when merging.

    Attributes:
      sums: shape [5]: example count, weight, weight of examples predicted exactly right,
        weight * cells predicted wrongly, weight * cells whose score equals the label.
      confusion: shape [k, 2, 2]: weight per class, label (0, 1) and prediction (0, 1).
      pairs: shape [k, k, 4]: for actual class i and predicted class j, weighted tp, fp, tn, fn
        of class j among the examples with label i.
      scores: per class (curve = class), the positives and negatives per distinct score (or
        score bucket beyond max_exact_scores), for the ROC areas.
    """

    sums: np.ndarray
    confusion: np.ndarray
    pairs: np.ndarray
    scores: ScoreCounts


class MultilabelMetrics(GroupedMetric):
    """Per-class and averaged precision, recall, f1 and AUC, and whole-example metrics, of
    multi-label predictions (see the module docstring for the definitions).

    Args:
      class_names: one name per class; column i of labels and predictions is class i.
      threshold: class c is predicted iff its score > threshold.
      num_buckets, exact, max_exact_scores: how the ROC curves are kept, as in
        assay.metrics.multiclass.MulticlassMetrics.
    """

    name = "multilabel"

    def __init__(self, class_names: Sequence[str], threshold: float = 0.5,
                 num_buckets: int = 10000, exact: bool = False,
                 max_exact_scores: Optional[int] = None):
        self.class_names = _check_class_names(class_names)
        self.num_classes = len(self.class_names)
        self.threshold = float(threshold)
        self.num_buckets = positive_int(num_buckets, "num_buckets")
        self.max_exact_scores = exact_score_limit(num_buckets, exact, max_exact_scores)

    @property
    def directions(self) -> Dict[str, Optional[str]]:
        return multilabel_directions(self.class_names)

    def create(self) -> MultilabelAccumulator:
        k = self.num_classes
        return MultilabelAccumulator(np.zeros(5), np.zeros((k, 2, 2)), np.zeros((k, k, 4)),
                                     ScoreCounts.empty())

    def merge(self, accs: Sequence[MultilabelAccumulator]) -> MultilabelAccumulator:
        return merge_with_scores(accs, ("sums", "confusion", "pairs"), self.num_buckets,
                                 self.max_exact_scores)

    def _accumulate(self, batch: ModelBatch, group: np.ndarray,
                    n_groups: int) -> List[MultilabelAccumulator]:
        """One accumulator per group, in one vectorised pass over the batch."""
        k = self.num_classes
        y = np.asarray(batch.labels, np.float64)
        p = np.asarray(batch.predictions, np.float64)
        w = np.asarray(batch.weights, np.float64)
        n = len(w)
        if y.shape != (n, k) or p.shape != (n, k):
            raise DataError(f"MultilabelMetrics with {k} class_names needs multi-hot labels and "
                            f"predictions of shape [n, {k}] (got labels {y.shape}, predictions "
                            f"{p.shape})")
        predicted = p > self.threshold
        wrong = predicted != (y > 0)

        def per_group(values: np.ndarray, cells: int = 1, cell: Any = 0) -> np.ndarray:
            return np.bincount(group * cells + cell, values, minlength=n_groups * cells)

        sums = np.stack([per_group(np.ones(n)), per_group(w), per_group(w * ~wrong.any(axis=1)),
                         per_group(w * wrong.sum(axis=1)), per_group(w * (p == y).sum(axis=1))],
                        axis=1)
        cls = np.arange(k)[None, :]
        cell = (cls * 2 + (y > 0)) * 2 + predicted  # [n, k]: class, label, predicted
        confusion = np.bincount(np.repeat(group, k) * (k * 4) + cell.ravel(), np.repeat(w, k),
                                minlength=n_groups * k * 4).reshape(n_groups, k, 2, 2)
        pairs = np.zeros((n_groups, k, k, 4))
        for g in np.unique(group):  # a matrix product per group, not per example
            rows = group == g
            wy = w[rows, None] * y[rows]                        # [m, k]: weight of actual i
            yj, pj = y[rows], predicted[rows].astype(np.float64)
            pairs[g, :, :, 0] = wy.T @ (yj * pj)                # tp: label j, predicted j
            pairs[g, :, :, 1] = wy.T @ ((1 - yj) * pj)          # fp
            pairs[g, :, :, 2] = wy.T @ ((1 - yj) * (1 - pj))    # tn
            pairs[g, :, :, 3] = wy.T @ (yj * (1 - pj))          # fn
        scores = grouped_score_counts(
            np.repeat(group, k), np.tile(np.arange(k, dtype=np.int32), n), p.ravel(),
            (w[:, None] * y).ravel(), (w[:, None] * (1 - y)).ravel(), n_groups,
            self.num_buckets, self.max_exact_scores)
        return [MultilabelAccumulator(sums[g].copy(), confusion[g].copy(), pairs[g].copy(),
                                      scores[g]) for g in range(n_groups)]

    def result(self, acc: MultilabelAccumulator) -> Dict[str, float]:
        count, weight, subset, wrong_cells, equal_cells = acc.sums
        c = acc.confusion
        tp, fp, fn = c[:, 1, 1], c[:, 0, 1], c[:, 1, 0]
        support = tp + fn
        per_class = {
            "precision": ratio(tp, tp + fp), "recall": ratio(tp, support),
            "f1": ratio(2 * tp, 2 * tp + fp + fn),
            "auc": np.array([roc_auc(*cumulative_counts(acc.scores, i)[1:])
                             for i in range(self.num_classes)]),
        }
        tp_all, fp_all, fn_all = tp.sum(), fp.sum(), fn.sum()
        micro = {"precision": ratio(tp_all, tp_all + fp_all),
                 "recall": ratio(tp_all, tp_all + fn_all),
                 "f1": ratio(2 * tp_all, 2 * tp_all + fp_all + fn_all),
                 "auc": roc_auc(*cumulative_counts(acc.scores, None)[1:])}
        cells = weight * self.num_classes
        values = {"example_count": float(count), "weighted_example_count": float(weight),
                  "subset_accuracy": ratio(subset, weight),
                  "hamming_loss": ratio(wrong_cells, cells),
                  "exact_match": ratio(equal_cells, cells),
                  "set_match_precision": micro["precision"], "set_match_recall": micro["recall"]}
        for m in AVERAGED_DIRECTIONS:
            values[f"{m}_macro"] = _nan_average(per_class[m], None)
            values[f"{m}_micro"] = micro[m]
            values[f"{m}_weighted"] = _nan_average(per_class[m], support)
        for m in AVERAGED_DIRECTIONS:
            for name, v in zip(self.class_names, per_class[m]):
                values[f"{m}/{name}"] = float(v)
        return values

    def plots(self, acc: MultilabelAccumulator) -> Dict[str, Any]:
        """TFMA's multi-label confusion matrix at the threshold: entries[i][j] holds {tp, fp,
        tn, fn} of predicting class j among the examples of actual class i."""
        entries = [[dict(zip(("tp", "fp", "tn", "fn"), acc.pairs[i, j].tolist()))
                    for j in range(self.num_classes)] for i in range(self.num_classes)]
        return {PLOT: {"labels": list(self.class_names), "threshold": self.threshold,
                       "entries": entries}}


__all__ = ["MultilabelAccumulator", "MultilabelMetrics", "multilabel_directions",
           "multilabel_metric_info"]
