"""Multi-class classification metrics: accuracy, top-k accuracy, log loss, per-class and averaged
precision, recall, f1 and one-vs-rest ROC AUC.

Labels are int64 class ids in [0, k) and predictions a [n, k] matrix of class probabilities. All
statistics are weighted by `batch.weights`. The averages follow scikit-learn:
precision_recall_fscore_support(average=...) with zero_division=np.nan, and
roc_auc_score(multi_class="ovr") for macro and weighted AUC; micro AUC is roc_auc_score on the
one-hot labels against the probability matrix, every (example, class) cell one binary example.

Example:

    metric = MulticlassMetrics(class_names=["cat", "dog", "bird", "fish"], top_k=(2,))
    acc = metric.add(metric.create(), batch)
    metric.result(acc)["auc/dog"], metric.result(acc)["f1_macro"]
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from assay.config.values import positive_int
from assay.metrics.batch import ModelBatch
from assay.metrics.registry import HIGHER, LOWER
from assay.metrics.base import GroupedMetric, ratio
from assay.metrics.binary import LOG_LOSS_EPS, exact_score_limit
from assay.metrics.curves import (ScoreCounts, cumulative_counts, grouped_score_counts,
                                  merge_with_scores, roc_auc)
from assay.errors import ConfigError, ConfigTypeError, DataError

AVERAGES = ("macro", "micro", "weighted")
# Which value is better, for the class-independent names and for the families of names below.
DIRECTIONS = {"example_count": None, "weighted_example_count": None, "accuracy": HIGHER,
              "log_loss": LOWER}
TOP_K_DIRECTION = HIGHER                 # top_{k}_accuracy
AVERAGED_DIRECTIONS = {"precision": HIGHER, "recall": HIGHER, "f1": HIGHER, "auc": HIGHER}
AVERAGED = tuple(AVERAGED_DIRECTIONS)    # {m}_{average} and, per class, {m}/{class}


def multiclass_directions(top_k: Sequence[int] = (3,), class_names: Sequence[str] = ()
                          ) -> Dict[str, Optional[str]]:
    """{name: direction} of every name MulticlassMetrics(class_names, top_k) produces, in order.

    top_k must already leave out k >= the number of classes (MulticlassMetrics does).

    Example:
        >>> multiclass_directions((2,), ["cat", "dog", "bird"])["auc/dog"]
        'higher'
    """
    out = {n: DIRECTIONS[n] for n in ("example_count", "weighted_example_count", "accuracy")}
    out.update((f"top_{k}_accuracy", TOP_K_DIRECTION) for k in top_k)
    out["log_loss"] = DIRECTIONS["log_loss"]
    out.update((f"{m}_{avg}", d) for m, d in AVERAGED_DIRECTIONS.items() for avg in AVERAGES)
    out.update((f"{m}/{c}", d) for m, d in AVERAGED_DIRECTIONS.items() for c in class_names)
    return out


def aggregate_metric_names(top_k: Sequence[int] = (3,)) -> List[str]:
    """The class-independent scalar names of MulticlassMetrics, in result order.

    top_{k}_accuracy appears only for k < number of classes; per-class names (`precision/{c}`,
    `recall/{c}`, `f1/{c}`, `auc/{c}`) come on top.
    """
    return list(multiclass_directions(top_k))


def multiclass_metric_info(name: str) -> Tuple[bool, Optional[str]]:
    """(whether MulticlassMetrics produces `name` with some options, its direction)."""
    if name in DIRECTIONS:
        return True, DIRECTIONS[name]
    k = name[len("top_"):-len("_accuracy")] if name.startswith("top_") and name.endswith(
        "_accuracy") else ""
    if k.isdigit() and k.isascii() and not k.startswith("0"):
        return True, TOP_K_DIRECTION
    return per_class_metric_info(name)


def per_class_metric_info(name: str) -> Tuple[bool, Optional[str]]:
    """(whether `name` is a per-class (`precision/<class>`) or averaged (`f1_macro`) name, its
    direction): the naming multiclass and multilabel metrics share."""
    base, slash, cls = name.partition("/")
    if slash and cls and base in AVERAGED_DIRECTIONS:
        return True, AVERAGED_DIRECTIONS[base]
    base, _, avg = name.rpartition("_")
    if avg in AVERAGES and base in AVERAGED_DIRECTIONS:
        return True, AVERAGED_DIRECTIONS[base]
    return False, None


@dataclasses.dataclass
class MulticlassAccumulator:
    """Sufficient statistics of MulticlassMetrics; every field is summed when merging.

    Attributes:
      sums: shape [3]: example count, weight, weight * log loss.
      confusion: shape [k, k]: weight of examples with true class i and argmax class j.
      top_k_hits: shape [len(top_k)]: weight of examples whose label is among the top k.
      scores: per-class one-vs-rest positives and negatives per distinct probability, or per
        probability bucket beyond max_exact_scores (curve = class).
    """

    sums: np.ndarray
    confusion: np.ndarray
    top_k_hits: np.ndarray
    scores: ScoreCounts


class MulticlassMetrics(GroupedMetric):
    """Accuracy, top-k accuracy, log loss, and per-class / averaged precision, recall, f1, AUC.

    Args:
      class_names: one name per class, index i naming label i and prediction column i.
      top_k: k values for `top_{k}_accuracy`; those >= the number of classes are skipped (they
        would always be 1).
      num_buckets: equal-width probability buckets of [0, 1] for the one-vs-rest ROC curves of
        slices with more than max_exact_scores distinct probabilities in some class.
      exact: always key the ROC curves by the distinct probabilities (memory grows with n * k).
      max_exact_scores: the curves of a slice stay exact (keyed by probability, so the AUCs
        equal sklearn's) while every class has at most this many distinct probabilities, and
        are all bucketed beyond; None means num_buckets, 0 buckets from the first example.
        Accuracy when bucketed: see assay.metrics.binary.

    Metrics: example_count, weighted_example_count, accuracy (argmax, ties to the lowest class
    index like np.argmax), top_{k}_accuracy, log_loss (sklearn.metrics.log_loss semantics:
    probabilities clipped to [eps, 1 - eps] and not renormalised), `precision/{c}`,
    `recall/{c}`, `f1/{c}`, `auc/{c}` for each class name c, and `{m}_macro`, `{m}_micro`,
    `{m}_weighted` for m in precision, recall, f1, auc.

    Ties in top-k: a class outranks the label if its probability is higher, or equal with a
    lower index; so top_1_accuracy equals accuracy. (sklearn's top_k_accuracy_score breaks ties
    the other way, towards the higher index; the two agree when there are no ties.)
    Undefined per-class values (no predicted examples for precision, no true examples for
    recall and auc) are NaN and left out of the macro and weighted averages, as sklearn does
    with zero_division=np.nan. Weighted averages weight each class by its weighted support.

    Example:

        metric = MulticlassMetrics(["a", "b", "c"], top_k=(2,))
        batch = ModelBatch(np.array([0, 1, 2]), np.array([[.7, .2, .1], [.3, .4, .3],
                           [.5, .1, .4]]), np.ones(3))
        metric.result(metric.add(metric.create(), batch))["top_2_accuracy"]  # 1.0
    """

    name = "multiclass"

    def __init__(self, class_names: Sequence[str], top_k: Sequence[int] = (3,),
                 num_buckets: int = 10000, exact: bool = False,
                 max_exact_scores: Optional[int] = None):
        self.class_names = _check_class_names(class_names)
        self.num_classes = len(self.class_names)
        top_k = _check_top_k(top_k)
        self.top_k = tuple(k for k in top_k if k < self.num_classes)
        self.num_buckets = positive_int(num_buckets, "num_buckets")
        self.exact = bool(exact)
        self.max_exact_scores = exact_score_limit(num_buckets, exact, max_exact_scores)

    @property
    def directions(self) -> Dict[str, Optional[str]]:
        return multiclass_directions(self.top_k, self.class_names)

    # Accumulator algebra -----------------------------------------------------------------

    def create(self) -> MulticlassAccumulator:
        k = self.num_classes
        return MulticlassAccumulator(np.zeros(3), np.zeros((k, k)), np.zeros(len(self.top_k)),
                                     ScoreCounts.empty())

    def merge(self, accs: Sequence[MulticlassAccumulator]) -> MulticlassAccumulator:
        return merge_with_scores(accs, ("sums", "confusion", "top_k_hits"), self.num_buckets,
                                 self.max_exact_scores)

    def _accumulate(self, batch: ModelBatch, group: np.ndarray,
                    n_groups: int) -> List[MulticlassAccumulator]:
        """One accumulator per group, in one vectorised pass over the batch."""
        k = self.num_classes
        y = np.asarray(batch.labels).astype(np.int64)
        p = np.asarray(batch.predictions, np.float64)
        w = np.asarray(batch.weights, np.float64)
        n = len(y)
        if p.shape != (n, k):
            raise DataError(f"MulticlassMetrics with {k} class_names needs predictions of shape "
                             f"[n, {k}] (got shape {p.shape} for {n} labels).")

        def per_group(values: np.ndarray, cells: int = 1, cell=0) -> np.ndarray:
            return np.bincount(group * cells + cell, values, minlength=n_groups * cells)

        p_true = p[np.arange(n), y]
        log_loss = -np.log(np.clip(p_true, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS))
        sums = np.stack([per_group(np.ones(n)), per_group(w), per_group(w * log_loss)], axis=1)

        confusion = per_group(w, k * k, y * k + np.argmax(p, axis=1)).reshape(n_groups, k, k)

        # Rank of the label among the classes; ties go to the lower class index.
        classes = np.arange(k)[None, :]
        beats = (p > p_true[:, None]) | ((p == p_true[:, None]) & (classes < y[:, None]))
        rank = beats.sum(axis=1)
        top_k_hits = np.zeros((n_groups, len(self.top_k)))
        for i, top in enumerate(self.top_k):  # a few k values, not examples
            top_k_hits[:, i] = per_group(w * (rank < top))

        onehot = (classes == y[:, None])  # [n, k]
        scores = grouped_score_counts(
            np.repeat(group, k), np.tile(np.arange(k, dtype=np.int32), n), p.ravel(),
            (w[:, None] * onehot).ravel(), (w[:, None] * ~onehot).ravel(), n_groups,
            self.num_buckets, self.max_exact_scores)
        return [MulticlassAccumulator(sums[g].copy(), confusion[g].copy(), top_k_hits[g].copy(),
                                      scores[g]) for g in range(n_groups)]

    # Results -----------------------------------------------------------------------------

    def result(self, acc: MulticlassAccumulator) -> Dict[str, float]:
        count, weight, log_loss_sum = acc.sums
        c = acc.confusion
        tp, predicted, support = np.diag(c), c.sum(axis=0), c.sum(axis=1)
        per_class = {
            "precision": ratio(tp, predicted),
            "recall": ratio(tp, support),
            "f1": ratio(2 * tp, predicted + support),
            "auc": np.array([roc_auc(*cumulative_counts(acc.scores, i)[1:])
                             for i in range(self.num_classes)]),
        }
        accuracy = ratio(tp.sum(), weight)
        micro = {"precision": accuracy, "recall": accuracy, "f1": accuracy,
                 "auc": roc_auc(*cumulative_counts(acc.scores, None)[1:])}

        values = {"example_count": float(count), "weighted_example_count": float(weight),
                  "accuracy": accuracy}
        for top, hits in zip(self.top_k, acc.top_k_hits):
            values[f"top_{top}_accuracy"] = ratio(hits, weight)
        values["log_loss"] = ratio(log_loss_sum, weight)
        for m in AVERAGED:
            values[f"{m}_macro"] = _nan_average(per_class[m], None)
            values[f"{m}_micro"] = micro[m]
            values[f"{m}_weighted"] = _nan_average(per_class[m], support)
        for m in AVERAGED:
            for name, v in zip(self.class_names, per_class[m]):
                values[f"{m}/{name}"] = float(v)
        return values

    def plots(self, acc: MulticlassAccumulator) -> Dict[str, Any]:
        """The weighted confusion matrix: matrix[i][j] = weight of true class i predicted j."""
        return {"confusion_matrix": {"labels": list(self.class_names),
                                     "matrix": acc.confusion.tolist()}}


def _nan_average(values: np.ndarray, weights) -> float:
    """Weighted mean ignoring NaNs, as sklearn.utils.extmath._nanaverage."""
    keep = ~np.isnan(values)
    if not keep.any():
        return float("nan")
    if weights is None or np.sum(weights[keep]) == 0:
        return float(np.mean(values[keep]))
    return float(np.average(values[keep], weights=weights[keep]))


def _check_class_names(class_names: Sequence[str]) -> Tuple[str, ...]:
    if isinstance(class_names, (str, bytes)) or not isinstance(class_names, Sequence):
        raise ConfigTypeError("'class_names' must be a list of strings "
                        f"(got {class_names!r}, a {type(class_names).__name__}).")
    for c in class_names:
        if not isinstance(c, str):
            raise ConfigTypeError(f"'class_names' must hold strings (got {c!r}, a {type(c).__name__}); "
                            "name numeric classes like '0', '1'.")
    if len(class_names) < 2:
        raise ConfigError(f"'class_names' must name at least 2 classes (got {list(class_names)!r}).")
    if len(set(class_names)) != len(class_names):
        raise ConfigError(f"'class_names' must be unique (got {list(class_names)!r}).")
    return tuple(class_names)


def _check_top_k(top_k: Sequence[int]) -> Tuple[int, ...]:
    if isinstance(top_k, (str, bytes)) or not isinstance(top_k, Sequence):
        raise ConfigTypeError(f"'top_k' must be a sequence of ints (got {top_k!r}, "
                        f"a {type(top_k).__name__}).")
    for k in top_k:
        positive_int(k, "top_k")
    return tuple(int(k) for k in top_k)
