"""Label-free metrics: what a config without `label` evaluates (names in
assay.metrics.label_free_names).

Binary and regression: example counts, the weighted mean prediction and weighted prediction
quantiles (exact, or from the residual sketch of assay.metrics.regression: the prediction is the
"residual" of predicting 0 for a label equal to the prediction, so the same accumulator, merge
and sketch serve), and for binary the positive rate at each decision threshold (prediction > t,
as TFMA's confusion matrices) and a 20-bin histogram of the prediction over [0, 1]. Multiclass:
the rate of each predicted (top) class and each class's mean probability.

`LabelFreeFairness` is Fairness Indicators' label-free part: positive_rate and negative_rate at
each fairness threshold, under TFMA's names, so the group metrics (demographic parity) read them
as they read the full set.

Example:
    >>> import numpy as np
    >>> from assay.metrics.batch import ModelBatch
    >>> m = LabelFreeMetrics("binary", thresholds=(0.5,), quantiles=(0.5,), exact=True)
    >>> b = ModelBatch(np.zeros(4), np.array([0.2, 0.4, 0.6, 0.8]), np.ones(4))
    >>> m.result(m.add(m.create(), b))["positive_rate@0.5"]
    0.5
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from assay.errors import ConfigError
from assay.metrics.base import GroupedMetric
from assay.metrics.batch import ModelBatch
from assay.metrics.fairness_names import format_threshold, indicator_name
from assay.metrics.label_free_names import label_free_directions, quantile_name
from assay.metrics.regression import RegressionMetrics

HISTOGRAM_BINS = 20  # over [0, 1], binary predictions


@dataclasses.dataclass
class LabelFreeAccumulator:
    """Sufficient statistics of LabelFreeMetrics.

    Attributes:
      dist: the prediction's RegressionAccumulator (binary, regression); None for multiclass.
      positive: shape [T], the weight of predictions > each threshold (binary).
      hist: shape [HISTOGRAM_BINS], the weight per bin of [0, 1] (binary).
      counts: shape [2], example count and weight (multiclass).
      classes: shape [2, k], weight of rows whose top class is each class, and weight *
        probability per class (multiclass).
    """

    dist: Any = None
    positive: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    hist: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    counts: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(2))
    classes: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((2, 0)))

    @property
    def sums(self) -> np.ndarray:  # [count, weight, ...]: the pass withholds small slices by it
        return self.dist.sums if self.dist is not None else self.counts


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b > 0 else float("nan")


class LabelFreeMetrics(GroupedMetric):
    """The prediction's distribution per slice, for a config without a label.

    Args:
      task: "binary", "multiclass" or "regression".
      thresholds: the decision thresholds (binary).
      quantiles: the prediction quantiles to report (binary, regression).
      class_names: the classes (multiclass).
      exact: exact quantiles (keeps every prediction) instead of the sketch.
    """

    name = "label_free"

    def __init__(self, task: str, thresholds: Sequence[float] = (0.5,),
                 quantiles: Sequence[float] = (0.05, 0.25, 0.5, 0.75, 0.95),
                 class_names: Sequence[str] = (), exact: bool = False):
        if task not in ("binary", "multiclass", "regression"):
            raise ConfigError(f"a config without 'label' evaluates binary, multiclass or "
                              f"regression predictions (got task {task!r}; multilabel needs "
                              f"its labels)")
        self.task = task
        # Positive rates are a binary task's: a regression's values have no decision threshold.
        self.thresholds = tuple(float(t) for t in thresholds) if task == "binary" else ()
        self.quantiles = tuple(float(q) for q in quantiles)
        self.class_names = tuple(class_names)
        self._dist = RegressionMetrics(quantiles=self.quantiles or (0.5,), exact=exact)

    @property
    def directions(self) -> Dict[str, Optional[str]]:
        return label_free_directions(self.task, self.thresholds, self.quantiles,
                                     self.class_names)

    def create(self) -> LabelFreeAccumulator:
        if self.task == "multiclass":
            return LabelFreeAccumulator(classes=np.zeros((2, len(self.class_names))))
        return LabelFreeAccumulator(self._dist.create(), np.zeros(len(self.thresholds)),
                                    np.zeros(HISTOGRAM_BINS if self.task == "binary" else 0))

    def merge(self, accs: Sequence[LabelFreeAccumulator]) -> LabelFreeAccumulator:
        first = accs[0]
        if first.dist is not None:
            first.dist = self._dist.merge([a.dist for a in accs])
        for other in accs[1:]:
            first.positive = first.positive + other.positive
            first.hist = first.hist + other.hist
            first.counts = first.counts + other.counts
            first.classes = first.classes + other.classes
        return first

    def _accumulate(self, batch: ModelBatch, group: np.ndarray, n_groups: int
                    ) -> List[LabelFreeAccumulator]:
        p = np.asarray(batch.predictions, np.float64)
        w = np.asarray(batch.weights, np.float64)

        def per_group(values: np.ndarray) -> np.ndarray:
            return np.bincount(group, values, minlength=n_groups)

        if self.task == "multiclass":
            top = np.argmax(p, axis=1)
            k = len(self.class_names)
            cls = np.stack([per_group(w * (top == c)) for c in range(k)], axis=1) if k else \
                np.zeros((n_groups, 0))
            mean = np.stack([per_group(w * p[:, c]) for c in range(k)], axis=1) if k else \
                np.zeros((n_groups, 0))
            counts = np.stack([per_group(np.ones_like(w)), per_group(w)], axis=1)
            return [LabelFreeAccumulator(counts=counts[g], classes=np.stack([cls[g], mean[g]]))
                    for g in range(n_groups)]
        # The prediction as the residual of predicting 0 (see the module doc).
        dists = self._dist._accumulate(ModelBatch(p, np.zeros_like(p), w), group, n_groups)
        positive = np.stack([per_group(w * (p > t)) for t in self.thresholds], axis=1) \
            if self.thresholds else np.zeros((n_groups, 0))
        if self.task == "binary":
            bins = np.clip(np.floor(p * HISTOGRAM_BINS), 0, HISTOGRAM_BINS - 1).astype(np.int64)
            hist = np.bincount(group * HISTOGRAM_BINS + bins, w,
                               minlength=n_groups * HISTOGRAM_BINS).reshape(n_groups, -1)
        else:
            hist = np.zeros((n_groups, 0))
        return [LabelFreeAccumulator(dists[g], positive[g], hist[g]) for g in range(n_groups)]

    def result(self, acc: LabelFreeAccumulator) -> Dict[str, float]:
        if self.task == "multiclass":
            count, weight = acc.counts
            out = {"example_count": float(count), "weighted_example_count": float(weight)}
            for c, name in enumerate(self.class_names):
                out[f"predicted_rate/{name}"] = _ratio(acc.classes[0, c], weight)
            for c, name in enumerate(self.class_names):
                out[f"mean_prediction/{name}"] = _ratio(acc.classes[1, c], weight)
            return out
        count, weight = acc.dist.sums[0], acc.dist.sums[1]
        mean = self._dist.result(acc.dist)["mean_label"]
        out = {"example_count": float(count), "weighted_example_count": float(weight),
               "mean_prediction": float(mean)}
        if self.quantiles:
            values = self._dist.residual_quantiles(acc.dist, self.quantiles)
            out.update((quantile_name(q), float(v)) for q, v in zip(self.quantiles, values))
        for t, pos in zip(self.thresholds, acc.positive):
            out[f"positive_rate@{format_threshold(t)}"] = _ratio(pos, weight)
        return out

    def plots(self, acc: LabelFreeAccumulator) -> Dict[str, Any]:
        """The prediction's percentiles 0 ... 100 (binary, regression) and, binary, its
        histogram over [0, 1] ({"edges": [B + 1], "weights": [B]})."""
        if self.task == "multiclass":
            return {}
        out = {"prediction_quantiles": self._dist.plots(acc.dist)["residuals"]}
        if self.task == "binary":
            edges = np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1)
            out["prediction_histogram"] = {"edges": [float(e) for e in edges],
                                           "weights": [float(v) for v in acc.hist]}
        return out


class LabelFreeFairness(GroupedMetric):
    """Fairness Indicators without labels: positive_rate and negative_rate at each threshold
    (TFMA's names, fairness_indicators_metrics/positive_rate@t), for binary predictions."""

    name = "fairness_indicators"

    def __init__(self, thresholds: Sequence[float]):
        self.thresholds = tuple(float(t) for t in thresholds)

    @property
    def directions(self) -> Dict[str, Optional[str]]:
        return {indicator_name(r, t): None for t in self.thresholds
                for r in ("positive_rate", "negative_rate")}

    def create(self) -> np.ndarray:
        return np.zeros(len(self.thresholds) + 1)  # [weight above each t..., total weight]

    def merge(self, accs: Sequence[np.ndarray]) -> np.ndarray:
        return np.sum(accs, axis=0)

    def _accumulate(self, batch: ModelBatch, group: np.ndarray, n_groups: int
                    ) -> List[np.ndarray]:
        p = np.asarray(batch.predictions, np.float64)
        w = np.asarray(batch.weights, np.float64)
        cols = [np.bincount(group, w * (p > t), minlength=n_groups) for t in self.thresholds]
        cols.append(np.bincount(group, w, minlength=n_groups))
        table = np.stack(cols, axis=1)
        return [table[g].copy() for g in range(n_groups)]

    def result(self, acc: np.ndarray) -> Dict[str, float]:
        total = float(acc[-1])
        out = {}
        for t, pos in zip(self.thresholds, acc[:-1]):
            out[indicator_name("positive_rate", t)] = _ratio(pos, total)
            out[indicator_name("negative_rate", t)] = _ratio(total - pos, total)
        return out


def infer_label_free_task(cfg: Any, preds: np.ndarray) -> str:
    """The task of a config without a label, from the candidate's predictions on a first
    batch: several values per example -> multiclass; probabilities (at least 99% in [0, 1]),
    or a sigmoid transform or outputs: scores -> binary; else regression. Set `task:` when the
    predictions are a regression's values that happen to lie in [0, 1]."""
    width = 1 if preds.ndim == 1 or preds.shape[1] == 1 else preds.shape[1]
    if width > 2:
        return "multiclass"
    spec = cfg.model_specs["candidate"]
    p = preds if preds.ndim == 1 else preds[:, -1]
    p = p[np.isfinite(p)]
    in_unit = float(np.mean((p >= 0) & (p <= 1))) if len(p) else 0.0
    if width == 2 or in_unit >= 0.99 or getattr(spec, "transform", "none") == "sigmoid" \
            or getattr(spec, "outputs", "probabilities") == "scores":
        return "binary"
    return "regression"


__all__ = ["HISTOGRAM_BINS", "LabelFreeAccumulator", "LabelFreeFairness", "LabelFreeMetrics",
           "infer_label_free_task"]
