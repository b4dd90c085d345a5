"""Multi-label tasks in the pass: reading multi-hot labels, and the checks of the plan.

A multi-label task (`task: multilabel`, never inferred: a list label could as well be a
mistake) reads its label column as k values per example, 0 or 1 for each class, in the order
of the model's k outputs: a tf.Example float_list/int64_list feature of length k, or a Parquet
list column. (TFMA also accepts a list of class ids, which it turns into multi-hot labels; give
assay the multi-hot form.) An example whose label does not have k values, or has a value other
than 0 or 1, is invalid and counted (the config's `invalid_values` decides what happens).

    # Input: pa.RecordBatch of n rows. Output: labels [n, k] float64, valid [n] bool.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Tuple

import numpy as np
import pyarrow as pa

from assay.config.schema import ConfigError
from assay.errors import DataError

if TYPE_CHECKING:  # annotations only
    from assay.engine.extract import Problems
    from assay.engine.plan import EvalPlan



def multihot_labels(plan: "EvalPlan", batch: pa.RecordBatch, where: str, offset: int,
                    problems: "Problems") -> Tuple[np.ndarray, np.ndarray]:
    """(labels [n, k] float64 of 0/1, valid [n]) from the label column's lists of k values."""
    from assay.data.columns import column_values

    label = plan.config.label
    k = len(plan.class_names)
    n = batch.num_rows
    values, rows = column_values(batch, label, required=True)
    if values.dtype.kind not in "biuf":
        raise DataError(f"label column '{label}' of a multilabel task must hold lists of {k} "
                        f"numbers, 0 or 1 per class (got {values[:1].tolist()!r} in {where})")
    counts = np.bincount(rows, minlength=n)
    wrong_length = counts != k
    shown = np.array([f"{c} values" for c in counts], dtype=object)
    problems.add(f"label '{label}' does not hold {k} values (one 0/1 per class "
                 f"{list(plan.class_names)}, multilabel task)", wrong_length, shown, where, offset)
    labels = np.zeros((n, k))
    keep = ~wrong_length[rows]
    position = np.arange(len(rows)) - np.searchsorted(rows, rows)  # index within its row
    labels[rows[keep], position[keep]] = values[keep].astype(np.float64)
    not_binary = ~wrong_length & ((labels != 0) & (labels != 1)).any(axis=1)
    problems.add(f"label '{label}' holds a value other than 0 or 1 (multilabel task)", not_binary,
                 np.asarray(labels.tolist() + [None], dtype=object)[:-1], where, offset)
    return labels, ~wrong_length & ~not_binary


def first_labels(config, first: pa.RecordBatch) -> np.ndarray:
    """The labels of the plan's first batch, one per example; a list label column's error
    says how to ask for a multilabel task (which is never inferred)."""
    from assay.data.columns import single_values

    try:
        return single_values(first, config.label, "label")
    except DataError as e:
        raise DataError(f"{e}; if these are multi-hot labels (one 0/1 per class), set "
                        f"task: multilabel") from None


def multilabel_class_names(config, cand: np.ndarray) -> Tuple[str, ...]:
    """The class names of a multilabel task: the label_vocabulary, or '0' .. 'k-1' after the
    candidate's k outputs."""
    width = cand.shape[1] if cand.ndim == 2 else 1
    if config.label_vocabulary is not None:
        if width != len(config.label_vocabulary):
            raise ConfigError(f"label_vocabulary names {len(config.label_vocabulary)} classes but "
                              f"the candidate gives {width} values per example")
        return config.label_vocabulary
    if width < 2:
        raise ConfigError("task is multilabel but the candidate gives one value per example; "
                          "multilabel predictions are one score per class, shape [n, k]")
    return tuple(str(i) for i in range(width))


def check_multilabel_predictions(k: int, model: str, preds: np.ndarray) -> Optional[str]:
    """The reason predictions do not fit a multilabel task of k classes, or None."""
    if preds.ndim != 2 or preds.shape[1] != k:
        got = 1 if preds.ndim == 1 else preds.shape[1]
        return (f"model '{model}' gives {got} values per example, but the task is multilabel "
                f"with {k} classes")
    return None


__all__ = ["check_multilabel_predictions", "first_labels", "multihot_labels",
           "multilabel_class_names"]
