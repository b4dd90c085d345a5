"""Reading labels, weights and each model's predictions out of a batch, with invalid values
counted rather than raised (the config's `invalid_values` decides what happens to them).

    # Input: pa.RecordBatch of n rows. Output: {model: ModelBatch} of the valid rows.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pyarrow as pa

from assay import data as assay_io, timings
from assay.config.schema import ConfigError
from assay.errors import DataError
from assay.metrics.batch import ModelBatch

if TYPE_CHECKING:  # annotations only: the plan imports this module
    from assay.engine.plan import EvalPlan

# The column that holds each example's serialized record, for models that read the records.
RAW_RECORD_COLUMN = "__assay_raw_record__"


def _missing_column(batch: pa.RecordBatch, column: str, role: str) -> ConfigError:
    names = [n for n in batch.schema.names if n != RAW_RECORD_COLUMN]
    close = difflib.get_close_matches(column, names, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return ConfigError(f"{role} column '{column}' is not in the data{hint} "
                       f"(columns: {', '.join(names)})")


def require_column(batch: pa.RecordBatch, column: str, role: str) -> None:
    """Raises ConfigError naming `column` (and a close match) when the batch lacks it."""
    if column not in batch.schema.names:
        raise _missing_column(batch, column, role)


class Problems:
    """Counts of invalid values found in the data, with the first example of each kind."""

    def __init__(self):
        self.counts: Dict[str, List[Any]] = {}

    def add(self, what: str, mask: np.ndarray, values: np.ndarray, where: str,
            offset: int = 0) -> None:
        """Counts the rows in `mask` (shape [n]) of a batch read from `where` at row `offset`."""
        n = int(np.count_nonzero(mask))
        if not n:
            return
        first = int(np.flatnonzero(mask)[0])
        value = values[first]
        value = value.item() if isinstance(value, np.generic) else value
        example = f"{value!r} in {where}, example {offset + first}"
        if what in self.counts:
            self.counts[what][0] += n
        else:
            self.counts[what] = [n, example]

    @staticmethod
    def merge(all_counts: Sequence[Dict[str, List[Any]]]) -> Dict[str, List[Any]]:
        out: Dict[str, List[Any]] = {}
        for counts in all_counts:
            for what, (n, example) in counts.items():
                if what in out:
                    out[what][0] += n
                else:
                    out[what] = [n, example]
        return out


def extract_labels(plan: "EvalPlan", batch: pa.RecordBatch, where: str, offset: int,
                   problems: Problems) -> Tuple[np.ndarray, np.ndarray]:
    """(labels, valid): labels in the task's encoding, shape [n]; valid marks usable rows."""
    cfg = plan.config
    if cfg.label is None:  # label-free (assay.metrics.label_free): no label is read
        zeros = np.zeros(batch.num_rows, np.int64 if plan.task == "multiclass" else np.float64)
        return zeros, np.ones(batch.num_rows, bool)
    require_column(batch, cfg.label, "label")
    if plan.task == "multilabel":  # shape [n, k]
        from assay.engine.multihot import multihot_labels

        return multihot_labels(plan, batch, where, offset, problems)
    raw = assay_io.single_values(batch, cfg.label, "label", row_offset=offset)
    if raw.dtype.kind in "OSU":
        vocab = plan.class_names
        if vocab is None:
            raise ConfigError(
                f"label column '{cfg.label}' holds strings (e.g. {raw[0]!r}); give "
                f"label_vocabulary: [...] listing the classes in the order of the model's outputs")
        codes = assay_io.vocabulary_codes(raw, vocab)  # vectorised; -1: not in the vocabulary
        bad = codes < 0
        problems.add(f"label '{cfg.label}' not in label_vocabulary {list(vocab)}", bad, raw,
                     where, offset)
        labels = codes.astype(np.float64) if plan.task != "multiclass" else codes
        return labels, ~bad
    numeric = raw.astype(np.float64)
    finite = np.isfinite(numeric)
    problems.add(f"label '{cfg.label}' is NaN or infinite", ~finite, raw, where, offset)
    if plan.task == "binary":
        bad = finite & (numeric != 0) & (numeric != 1)
        problems.add(f"label '{cfg.label}' is not 0 or 1 (binary task)", bad, raw, where, offset)
        return numeric, finite & ~bad
    if plan.task == "multiclass":
        k = len(plan.class_names)
        bad = finite & ((numeric != np.round(numeric)) | (numeric < 0) | (numeric >= k))
        problems.add(f"label '{cfg.label}' is not a class id in [0, {k}) (multiclass task)", bad,
                     raw, where, offset)
        ok = finite & ~bad
        return np.where(ok, numeric, 0).astype(np.int64), ok
    return numeric, finite


def extract_weights(plan: "EvalPlan", batch: pa.RecordBatch, where: str, offset: int,
                    problems: Problems) -> Tuple[np.ndarray, np.ndarray]:
    cfg = plan.config
    if cfg.weight is None:
        return np.ones(batch.num_rows), np.ones(batch.num_rows, dtype=bool)
    require_column(batch, cfg.weight, "weight")
    raw = assay_io.single_values(batch, cfg.weight, "weight", row_offset=offset)
    if raw.dtype.kind not in "biuf":
        raise DataError(f"weight column '{cfg.weight}' must hold numbers (got {raw[0]!r} in "
                        f"{where})")
    w = raw.astype(np.float64)
    finite = np.isfinite(w)
    problems.add(f"weight '{cfg.weight}' is NaN or infinite", ~finite, raw, where, offset)
    negative = finite & (w < 0)
    problems.add(f"weight '{cfg.weight}' is negative", negative, raw, where, offset)
    return np.where(finite, w, 0.0), finite & ~negative


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _softmax(x: np.ndarray) -> np.ndarray:
    z = x - np.max(x, axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def shape_predictions(plan: "EvalPlan", model: str, raw: np.ndarray) -> np.ndarray:
    """Applies the model's transform and brings predictions to the task's shape."""
    spec = plan.config.model_specs[model]
    preds = np.asarray(raw, dtype=np.float64)
    if preds.ndim == 2 and preds.shape[1] == 1:
        preds = preds[:, 0]
    transform = getattr(spec, "transform", "none")
    if transform == "sigmoid":
        preds = _sigmoid(preds)
    elif transform == "softmax":
        if preds.ndim != 2:
            raise ConfigError(f"models.{model}.transform is softmax but the model gives one value "
                              f"per example")
        preds = _softmax(preds)
    if plan.task == "binary" and preds.ndim == 2:
        if preds.shape[1] != 2:
            raise DataError(f"model '{model}' gives {preds.shape[1]} values per example, but the "
                            f"task is binary (expected 1, or 2 class probabilities)")
        preds = preds[:, 1]
    if plan.task == "multiclass":
        k = len(plan.class_names)
        if preds.ndim != 2 or preds.shape[1] != k:
            got = 1 if preds.ndim == 1 else preds.shape[1]
            raise DataError(f"model '{model}' gives {got} values per example, but the task is "
                            f"multiclass with {k} classes {list(plan.class_names)}")
    if plan.task == "multilabel":
        from assay.engine.multihot import check_multilabel_predictions

        problem = check_multilabel_predictions(len(plan.class_names), model, preds)
        if problem:
            raise DataError(problem)
    if plan.task in ("binary", "regression") and preds.ndim != 1:
        raise DataError(f"model '{model}' gives {preds.shape[1]} values per example, but the task "
                        f"is {plan.task} (expected one)")
    if plan.task == "binary" and getattr(spec, "outputs", "probabilities") == "scores":
        # TFMA's confusion matrices count a score below 0 or above 1 in their first or last
        # bucket: clipped, a score gives the same counts at every threshold (and log loss
        # clips as Keras does), so the thresholded metrics and AUC are TFMA's.
        preds = np.clip(preds, 0.0, 1.0)
    return preds


def check_predictions(plan: "EvalPlan", model: str, preds: np.ndarray, where: str, offset: int,
                      problems: Problems) -> np.ndarray:
    """Marks rows whose predictions are unusable; returns the valid mask, shape [n]."""
    finite = np.isfinite(preds) if preds.ndim == 1 else np.isfinite(preds).all(axis=1)
    shown = preds if preds.ndim == 1 else preds.tolist()
    shown = np.asarray(shown, dtype=object) if preds.ndim == 2 else shown
    problems.add(f"prediction of model '{model}' is NaN or infinite", ~finite, shown, where, offset)
    ok = finite
    if getattr(plan.config.model_specs[model], "outputs", "probabilities") == "scores":
        return ok  # any finite score is valid, as in TFMA (see ModelSpec.outputs)
    if plan.task == "binary":
        out = finite & ((preds < 0) | (preds > 1))
        hint = ("" if getattr(plan.config.model_specs[model], "transform", "none") != "none" else
                "; binary predictions are probabilities: if the model outputs logits, set "
                "transform: sigmoid, or outputs: scores to take them as TFMA does")
        problems.add(f"prediction of model '{model}' is outside [0, 1] (binary task){hint}", out,
                     shown, where, offset)
        ok = ok & ~out
    elif plan.task in ("multiclass", "multilabel"):
        out = finite & ((preds < 0).any(axis=1) | (preds > 1).any(axis=1))
        problems.add(f"prediction of model '{model}' has a class probability outside [0, 1]; "
                     f"if the model outputs logits, set transform: softmax, or outputs: scores "
                     f"to take them as TFMA does (accuracy by argmax)", out, shown, where, offset)
        ok = ok & ~out
    return ok


def model_batches(plan: "EvalPlan", adapters: Dict[str, Any], batch: pa.RecordBatch, where: str,
                  offset: int, problems: Problems, inputs: Optional[pa.RecordBatch] = None,
                  times: Optional[Dict[str, List[float]]] = None
                  ) -> Tuple[Dict[str, ModelBatch], Optional[np.ndarray]]:
    """Labels, weights and each model's predictions for the valid rows of `batch`.

    `inputs`, when given, is what the models read: the raw examples of which `batch` holds the
    transformed features too (assay.engine.transformed); TFMA predicts from the raw examples.
    `times`, when given, gets the models' seconds under "predict" (assay.timings).

    Returns ({model: ModelBatch}, rows): rows is None when every row is valid, else the indices
    (shape [m]) of the valid rows, which the ModelBatches hold.
    """
    labels, ok = extract_labels(plan, batch, where, offset, problems)
    weights, w_ok = extract_weights(plan, batch, where, offset, problems)
    ok &= w_ok
    preds = {}
    for name, adapter in adapters.items():
        mark = timings.begin()  # the models' time, apart (assay.timings: --timings)
        p = shape_predictions(plan, name, adapter.predict(batch if inputs is None else inputs))
        if times is not None:
            timings.end(times, "predict", mark)
        ok &= check_predictions(plan, name, p, where, offset, problems)
        preds[name] = p
    rows = None if ok.all() else np.flatnonzero(ok)
    features = batch if plan.needs_features else None
    out = {}
    # The cross-model metrics read the baseline's predictions beside each other model's.
    base = preds.get("baseline") if plan.cross_metric_names else None
    for name, p in preds.items():
        mb = ModelBatch(labels, p, weights, features, None if name == "baseline" else base)
        out[name] = mb if rows is None else mb.take(rows)
    return out, rows
