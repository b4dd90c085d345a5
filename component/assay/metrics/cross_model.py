"""Cross-model metrics: flip rates, prediction difference and cosine similarity between a model
and the baseline, on the same examples (names and semantics: assay.metrics.cross_names).

They need both models' predictions per example, so the pass gives a model's ModelBatch the
baseline's predictions on the same rows (`ModelBatch.baseline_predictions`); the accumulator
of this family is then one over the pair. For the baseline itself, and when there is no
baseline, batches carry none and the family gives no metric.

    # Input: ModelBatch with predictions [n] (or [n, k]) and baseline_predictions alike.
    # Accumulator: (paired: bool, sums: float64 [m]): per flip threshold the weighted count of
    #   examples and of the four (baseline -> model) cells; the weighted count and sum of the
    #   symmetric prediction difference; the count and sum of per-example cosine similarities.

Example:
    >>> import numpy as np
    >>> from assay.metrics.batch import ModelBatch
    >>> fam = CrossModelMetrics(["symmetric_flip_rate", "symmetric_prediction_difference"])
    >>> b = ModelBatch(np.zeros(2), np.array([0.75, 0.25]), np.ones(2), None,
    ...                baseline_predictions=np.array([0.25, 0.25]))
    >>> fam.result(fam.add(fam.create(), b))
    {'symmetric_flip_rate': 0.5, 'symmetric_prediction_difference': 0.5}
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from assay.errors import DataError
from assay.metrics.base import Metric
from assay.metrics.batch import ModelBatch
from assay.metrics.cross_names import (COSINE_SIMILARITY, FLIP_RATES, PREDICTION_DIFFERENCE,
                                       parse_cross_name)

_EPSILON = 1e-7  # TFMA's _K_EPSILON: two predictions both this close to 0 do not differ
# Which of the five flip sums (examples, nn, np, pn, pp) each flip rate divides by the first.
_FLIP_CELLS = {"symmetric_flip_rate": (2, 3), "flip_rate": (2, 3), "neg_to_neg_flip_rate": (1,),
               "neg_to_pos_flip_rate": (2,), "pos_to_neg_flip_rate": (3,),
               "pos_to_pos_flip_rate": (4,)}


class CrossModelMetrics(Metric):
    """The cross-model metrics named in `names` (see assay.metrics.cross_names).

    Args:
      names: cross-model metric names, e.g. ["symmetric_flip_rate", "flip_rate@0.3"].
    """

    name = "cross_model"

    def __init__(self, names: Sequence[str]):
        self.names = tuple(dict.fromkeys(names))
        parsed = [parse_cross_name(n) for n in self.names]
        others = [n for n, p in zip(self.names, parsed) if p is None]
        if others:
            raise ValueError(f"not cross-model metrics: {others}")
        self._parsed: List[Tuple[str, Any]] = parsed  # type: ignore[assignment]
        self.thresholds = tuple(dict.fromkeys(t for b, t in parsed if b in FLIP_RATES))
        self._pd = 5 * len(self.thresholds)   # offset of the prediction difference sums
        self._cos = self._pd + 2               # offset of the cosine similarity sums
        self.directions = {n: None for n in self.names}

    def create(self) -> Tuple[bool, np.ndarray]:
        return False, np.zeros(self._cos + 2)

    def _rows(self, batch: ModelBatch) -> np.ndarray:
        """Each example's contribution to the sums, shape [n, m]."""
        cand = np.asarray(batch.predictions, np.float64)
        base = np.asarray(batch.baseline_predictions, np.float64)
        w = np.asarray(batch.weights, np.float64)
        out = np.zeros((len(batch), self._cos + 2))
        if self.thresholds or any(b == PREDICTION_DIFFERENCE for b, _ in self._parsed):
            if cand.ndim != 1:
                raise DataError(f"the flip rates and {PREDICTION_DIFFERENCE} compare one score "
                                f"per example (got predictions of shape {cand.shape}); use "
                                f"{COSINE_SIMILARITY} for class probabilities")
        for i, t in enumerate(self.thresholds):
            b, c = base > t, cand > t
            cells = (np.ones_like(b), ~b & ~c, ~b & c, b & ~c, b & c)
            out[:, 5 * i:5 * i + 5] = np.stack(cells, axis=1) * w[:, None]
        if cand.ndim == 1:
            num, den = 2 * np.abs(base - cand), np.abs(base + cand)
            with np.errstate(divide="ignore", invalid="ignore"):
                sym = np.where((num < _EPSILON) & (den < _EPSILON), 0.0, num / den)
                cos = cand * base / (np.abs(cand) * np.abs(base))
            out[:, self._pd] = w
            out[:, self._pd + 1] = sym * w
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                cos = np.sum(cand * base, axis=1) / (np.linalg.norm(cand, axis=1) *
                                                     np.linalg.norm(base, axis=1))
        out[:, self._cos] = 1.0
        out[:, self._cos + 1] = cos
        return out

    def add_grouped(self, batch: ModelBatch, group_ids: np.ndarray, n_groups: int) -> List[Any]:
        if batch.baseline_predictions is None:
            return [self.create() for _ in range(n_groups)]
        rows = self._rows(batch)
        group_ids = np.asarray(group_ids, np.int64)
        sums = np.stack([np.bincount(group_ids, rows[:, j], minlength=n_groups)
                         for j in range(rows.shape[1])], axis=1) if len(rows) else \
            np.zeros((n_groups, rows.shape[1]))
        return [(True, sums[g]) for g in range(n_groups)]

    def add(self, acc: Tuple[bool, np.ndarray], batch: ModelBatch) -> Tuple[bool, np.ndarray]:
        return self.merge([acc, self.add_grouped(batch, np.zeros(len(batch), np.int64), 1)[0]])

    def merge(self, accs: Sequence[Tuple[bool, np.ndarray]]) -> Tuple[bool, np.ndarray]:
        paired = any(p for p, _ in accs)
        return paired, np.sum([s for _, s in accs], axis=0)

    def result(self, acc: Tuple[bool, np.ndarray]) -> Dict[str, float]:
        paired, sums = acc
        if not paired:
            return {}   # the baseline itself, or no baseline: nothing to compare
        out = {}
        for name, (base, t) in zip(self.names, self._parsed):
            if base in FLIP_RATES:
                i = 5 * self.thresholds.index(t)
                value = _ratio(sum(sums[i + c] for c in _FLIP_CELLS[base]), sums[i])
            elif base == PREDICTION_DIFFERENCE:
                value = _ratio(sums[self._pd + 1], sums[self._pd])
            else:
                value = _ratio(sums[self._cos + 1], sums[self._cos])
            out[name] = value
        return out

    def metric_names(self) -> List[str]:
        return list(self.names)


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else float("nan")


__all__ = ["CrossModelMetrics"]
