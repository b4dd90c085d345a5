"""The unit of work that flows through assay's engine: one model's view of a batch of examples."""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np
import pyarrow as pa


@dataclasses.dataclass(frozen=True)
class ModelBatch:
    """Labels, predictions and weights of a batch of examples, for one model.

    Attributes:
      labels: shape [n]. float64 0/1 for binary tasks, int64 class ids in [0, k) for multi-class
        tasks, float64 for regression.
      predictions: shape [n] float64 (probability of the positive class, or the regression value)
        or shape [n, k] float64 (class probabilities) for multi-class tasks.
      weights: shape [n] float64; all ones when the config names no weight column.
      features: the batch's raw columns (all of them), for custom metrics that need them.
      baseline_predictions: the baseline's predictions on the same rows, shaped like
        `predictions`, for the cross-model metrics (assay.metrics.cross_model); None for the
        baseline itself and when no cross-model metric is asked for.
      replicate_weights: shape [m, R] or [m, R + 1] float32, Poisson bootstrap weights in each
        of the R replicates (assay.metrics.bootstrap), the pass adding a last column of ones
        (the full data), when `confidence:` is on; else None. Shared by the sub-batches of a
        batch, not copied: see replicate_rows.
      replicate_rows: shape [n] int64, the row of replicate_weights of each example; None: row i
        is example i.
    """

    labels: np.ndarray
    predictions: np.ndarray
    weights: np.ndarray
    features: Optional[pa.RecordBatch] = None
    baseline_predictions: Optional[np.ndarray] = None
    replicate_weights: Optional[np.ndarray] = None
    replicate_rows: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def take(self, rows: np.ndarray) -> "ModelBatch":
        """The sub-batch at the given row indices (shape [m] int64)."""
        features = None
        if self.features is not None:
            features = self.features.take(pa.array(rows))
        base = None if self.baseline_predictions is None else self.baseline_predictions[rows]
        reps = None
        if self.replicate_weights is not None:  # an index into the shared weights: no copy
            reps = rows if self.replicate_rows is None else self.replicate_rows[rows]
        return ModelBatch(self.labels[rows], self.predictions[rows], self.weights[rows], features,
                          base, self.replicate_weights, reps)

    def example_replicate_weights(self) -> np.ndarray:
        """float32 [n, R]: each example's replicate weights (a copy unless unindexed)."""
        if self.replicate_rows is None:
            return self.replicate_weights
        return self.replicate_weights[self.replicate_rows]
