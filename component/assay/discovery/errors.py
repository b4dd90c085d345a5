"""Per-example errors that discovery searches over."""

from __future__ import annotations

import numpy as np

_EPSILON = 1e-15  # log loss of a prediction of exactly 0 or 1 would be infinite


def per_example_error(labels, predictions, kind: str = "log_loss",
                      threshold: float = 0.5) -> np.ndarray:
    """The error of each example of a binary classifier.

    Args:
        labels: 0/1 labels, shape (n,).
        predictions: Predicted probabilities of class 1, shape (n,).
        kind: "log_loss" (clipped to [1e-15, 1 - 1e-15] as scikit-learn does) or "zero_one"
            (1 where the prediction, thresholded at ``threshold``, differs from the label).
        threshold: The decision threshold of "zero_one".

    Returns:
        Non-negative errors, shape (n,).

    Example:
        >>> per_example_error([1, 0], [0.9, 0.9], "zero_one").tolist()
        [0.0, 1.0]
    """
    y = np.asarray(labels, dtype=float).reshape(-1)
    p = np.asarray(predictions, dtype=float).reshape(-1)
    if y.shape != p.shape:
        raise ValueError(f"per_example_error: {len(y)} labels but {len(p)} predictions")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("per_example_error: labels must be 0 or 1")
    if kind == "log_loss":
        p = np.clip(p, _EPSILON, 1 - _EPSILON)
        return -(y * np.log(p) + (1 - y) * np.log1p(-p))
    if kind == "zero_one":
        return ((p >= threshold).astype(float) != y).astype(float)
    raise ValueError(f"per_example_error: 'kind' must be 'log_loss' or 'zero_one'; got {kind!r}")


def task_loss(task: str, loss: str, labels, predictions, threshold: float = 0.5) -> np.ndarray:
    """The per-example loss of any supported task, vectorised.

    Args:
        task: "binary", "multiclass" or "regression".
        loss: binary and multiclass: "log_loss" or "zero_one"; regression: "squared_error" or
            "absolute_error".
        labels: shape (n,): 0/1 (binary), class ids (multiclass), or values (regression).
        predictions: shape (n,) (binary: probability of class 1; regression: the value) or
            (n, k) class probabilities (multiclass).
        threshold: the decision threshold of a binary zero_one.

    Returns:
        Non-negative losses, shape (n,) float64.

    Example:
        >>> task_loss("multiclass", "zero_one", [0, 2], [[.7, .2, .1], [.5, .1, .4]]).tolist()
        [0.0, 1.0]
    """
    if task == "binary":
        return per_example_error(labels, predictions, loss, threshold)
    y = np.asarray(labels).reshape(-1)
    p = np.asarray(predictions, dtype=float)
    if task == "multiclass" and loss in ("log_loss", "zero_one"):
        p = p.reshape(len(y), -1)
        rows = np.arange(len(y))
        if loss == "zero_one":
            return (np.argmax(p, axis=1) != y).astype(float)
        return -np.log(np.clip(p[rows, y.astype(np.int64)], _EPSILON, 1.0))
    if task == "regression" and loss in ("squared_error", "absolute_error"):
        diff = p.reshape(-1) - y.astype(float)
        return diff * diff if loss == "squared_error" else np.abs(diff)
    raise ValueError(f"task_loss: loss {loss!r} does not fit a {task} task")
