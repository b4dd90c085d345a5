"""TFMA's ScoreDistributionPlot: how the model's scores are spread, at TFMA's thresholds.

TFMA 0.47 (tensorflow_model_analysis/metrics/score_distribution_plot.py) computes it as binary
confusion matrices with the prediction standing in for the label, at the thresholds
[-1e-6, 0, 1/N, 2/N, ..., 1] (N = num_thresholds, 1000), and then folds each matrix so that
`true_positives` holds the weight of the examples scored above the threshold and
`true_negatives` the weight of those scored at or below it (false positives and negatives,
precision and recall are 0). This family accumulates the same numbers: a histogram of the
examples' weight by the number of thresholds their score exceeds.

Asked for by name, `score_distribution_plot` (in `metrics:`, or translated from TFMA's class);
it adds a plot and no metric:

    {"score_distribution_plot": {"thresholds": [...], "weight_above": [...],
                                 "weight_at_or_below": [...]}}

Example:
    >>> import numpy as np
    >>> from assay.metrics.batch import ModelBatch
    >>> m = ScoreDistribution(num_thresholds=4)
    >>> b = ModelBatch(np.zeros(3), np.array([0.1, 0.5, 0.9]), np.ones(3))
    >>> m.plots(m.add(m.create(), b))["score_distribution_plot"]["weight_above"]
    [3.0, 3.0, 2.0, 1.0, 1.0, 0.0]
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from assay.metrics.base import GroupedMetric, float_columns
from assay.metrics.batch import ModelBatch

NAME = "score_distribution_plot"
DEFAULT_NUM_THRESHOLDS = 1000


def tfma_thresholds(num_thresholds: int = DEFAULT_NUM_THRESHOLDS) -> List[float]:
    """TFMA's thresholds for the plot, computed as TFMA computes them (Python floats)."""
    return [-1e-6] + [i * 1.0 / num_thresholds for i in range(0, num_thresholds + 1)]


class ScoreDistribution(GroupedMetric):
    """The weight of examples above / at or below each of TFMA's thresholds (a plot only).

    Args:
      num_thresholds: TFMA's num_thresholds (> 1).

    The accumulator is a histogram over k = the number of thresholds the score exceeds
    (0 ... len(thresholds)), so its size does not grow with the data.
    """

    name = NAME

    def __init__(self, num_thresholds: int = DEFAULT_NUM_THRESHOLDS):
        self.thresholds = np.asarray(tfma_thresholds(num_thresholds))

    @property
    def directions(self) -> Dict[str, Optional[str]]:
        return {}

    def create(self) -> np.ndarray:
        return np.zeros(len(self.thresholds) + 1)

    def merge(self, accs: Sequence[np.ndarray]) -> np.ndarray:
        first = accs[0]
        for acc in accs[1:]:
            first += acc
        return first

    def _accumulate(self, batch: ModelBatch, group: np.ndarray, n_groups: int) -> List[Any]:
        _, p, w = float_columns(batch, "ScoreDistribution")
        # k: how many thresholds t the score exceeds (p > t, TFMA's rule for "positive").
        k = np.searchsorted(self.thresholds, p, side="left")
        size = len(self.thresholds) + 1
        counts = np.bincount(group * size + k, w, minlength=n_groups * size)
        return list(counts.reshape(n_groups, size))

    def result(self, acc: np.ndarray) -> Dict[str, float]:
        return {}

    def plots(self, acc: np.ndarray) -> Dict[str, Any]:
        # Above threshold i: every example whose score exceeds more than i thresholds.
        above = np.cumsum(acc[::-1])[::-1][1:]
        total = float(acc.sum())
        return {NAME: {"thresholds": self.thresholds.tolist(),
                       "weight_above": above.tolist(),
                       "weight_at_or_below": (total - above).tolist()}}


def requested(names: Sequence[str]) -> bool:
    """Whether the plot is asked for among `names` (metrics, thresholds, tfma_names)."""
    return NAME in names


__all__ = ["DEFAULT_NUM_THRESHOLDS", "NAME", "ScoreDistribution", "requested",
           "tfma_thresholds"]
