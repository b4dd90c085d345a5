"""The model adapter interface, precomputed predictions, and reading a batch's columns as inputs.

    adapter = PredictionColumn(ModelSpec(prediction="p"))
    preds = adapter.predict(batch)          # float64, shape [n] or [n, k]

Every adapter (here, `assay.models.tensorflow`, `assay.models.sklearn`) implements
`_predict_chunk` for at most `batch_size` rows; `ModelAdapter.predict` splits batches, checks the
output's shape and turns a failure inside the model into a ModelError that names the model.
Errors name their cause: DataError when the data does not fit the model (a missing column, a row
with the wrong number of values, strings for numbers), ModelError when the model fails or lacks
what the config asks of it.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np
import pyarrow as pa

from assay.config.models import ModelSpec
from assay.data.buffers import numpy_values
from assay.data.columns import list_lengths
from assay.errors import AssayError, ConfigError, DataError, ModelError

# When a signature or model has several outputs and none is named, the first of these present.
PREFERRED_OUTPUTS = ("probabilities", "probs", "scores", "predictions", "outputs", "logistic",
                     "output_0")


class ModelAdapter:
    """Turns RecordBatches into predictions, `batch_size` rows at a time.

    Subclasses set `description` and implement `_predict_chunk`.
    """

    description: str = ""
    needs_raw_records: bool = False  # True when the model takes serialized tf.Examples
    preprocessing: Tuple[str, ...] = ()  # the signatures transformed_features runs

    def __init__(self, batch_size: int = 1024):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or \
                batch_size < 1:
            raise ConfigError(f"'batch_size' must be a positive integer (got {batch_size!r})")
        self.batch_size = int(batch_size)
        self._tail: Tuple[int, ...] = ()  # the shape of one row's output, once seen

    def predict(self, batch: pa.RecordBatch) -> np.ndarray:
        """The model's predictions for every row of `batch`.

        Returns:
          float64 array, shape [n] for one value per example ([n, 1] outputs are flattened) or
          [n, k] for k values per example.

        Raises:
          DataError: the batch does not hold what the model takes.
          ModelError: the model failed, or gave an output of the wrong shape.

        Example:
          >>> batch = pa.record_batch([pa.array([0.2, 0.9])], names=["p"])
          >>> PredictionColumn(ModelSpec(prediction="p")).predict(batch)
          array([0.2, 0.9])
        """
        n = batch.num_rows
        if n == 0:
            return np.empty((0,) + self._tail, dtype=np.float64)
        parts = [self._as_output(self._call(batch.slice(start, self.batch_size), start),
                                 min(self.batch_size, n - start))
                 for start in range(0, n, self.batch_size)]
        out = parts[0] if len(parts) == 1 else np.concatenate(parts)
        self._tail = out.shape[1:]
        return out

    def _call(self, chunk: pa.RecordBatch, start: int) -> Any:
        try:
            return self._predict_chunk(chunk)
        except AssayError:
            raise
        except Exception as e:  # the model's own error: TF, Keras, sklearn each raise their own
            raise ModelError(f"the {self.description} failed on rows {start}..."
                             f"{start + chunk.num_rows - 1} of a batch: {type(e).__name__}: "
                             f"{str(e)[:1000]}") from e

    def _predict_chunk(self, batch: pa.RecordBatch) -> Any:
        raise NotImplementedError

    def transformed_features(self, batch: pa.RecordBatch) -> Dict[str, np.ndarray]:
        """The features the model's preprocessing functions compute from `batch` ({} when it
        has none; `assay.models.tensorflow.SavedModelAdapter` runs signatures)."""
        return {}

    def _as_output(self, values: Any, rows: int) -> np.ndarray:
        out = np.asarray(values, dtype=np.float64)
        if out.ndim == 2 and out.shape[1] == 1:
            out = out[:, 0]
        if out.ndim not in (1, 2) or out.shape[0] != rows:
            raise ModelError(f"{self.description} gave an output of shape {out.shape} for {rows} "
                             f"examples; expected [{rows}] or [{rows}, k]")
        return out

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.description}>"


class PredictionColumn(ModelAdapter):
    """Predictions read from the data: one column (scalar or list), or one column per class.

    A row with no value (null, or an empty list) gives NaN, which the engine counts as an
    invalid prediction. A list column gives [n] when each row holds one value and [n, k] when
    each holds k; a row holding another number is an error.

    Example:
      >>> batch = pa.record_batch([pa.array([[0.1, 0.9], [0.7, 0.3]])], names=["probs"])
      >>> PredictionColumn(ModelSpec(prediction="probs")).predict(batch)
      array([[0.1, 0.9],
             [0.7, 0.3]])
    """

    def __init__(self, spec: ModelSpec):
        super().__init__(spec.batch_size)
        if spec.prediction is None:
            raise ConfigError("PredictionColumn needs a spec with 'prediction' set")
        self._stacked = not isinstance(spec.prediction, str)
        self.columns: Tuple[str, ...] = tuple(spec.prediction) if self._stacked \
            else (spec.prediction,)
        if not self.columns:
            raise ConfigError("'prediction' must name at least one column (got [])")
        self.description = (f"prediction column '{self.columns[0]}'" if not self._stacked else
                            f"prediction columns {', '.join(repr(c) for c in self.columns)}")

    def predict(self, batch: pa.RecordBatch) -> np.ndarray:
        require_columns(batch, self.columns, f"the {self.description}")
        if not self._stacked:
            out = fixed_width_values(batch.column(self.columns[0]), None, self.columns[0],
                                     "a prediction column", allow_missing=True)
        else:
            out = np.concatenate([fixed_width_values(batch.column(c), 1, c,
                                                     "a stacked prediction column",
                                                     allow_missing=True)
                                  for c in self.columns], axis=1)
        if out.dtype.kind in "OSU":
            raise DataError(f"the {self.description} holds strings (e.g. {out.flat[0]!r}); "
                            f"predictions must be numbers")
        return self._as_output(out, batch.num_rows)


# ------------------------------------------------------------------------------------------------
# Reading a batch's columns as model inputs


def require_columns(batch: pa.RecordBatch, names: Sequence[str], what: str,
                    hidden: Sequence[Optional[str]] = ()) -> None:
    """Raises DataError naming the columns of `names` the batch lacks, and those it has."""
    missing = [n for n in names if n not in batch.schema.names]
    if missing:
        have = [n for n in batch.schema.names if n not in hidden]
        raise DataError(f"{what} needs the column{'s' if len(missing) > 1 else ''} "
                        f"{', '.join(repr(m) for m in missing)}, which the data lacks "
                        f"(columns: {', '.join(have) or 'none'})")


def arrow_values(values: pa.Array) -> np.ndarray:
    """A flat Arrow array as numpy, bytes kept as bytes (models take tf.Example strings raw)."""
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    return numpy_values(values)


def fixed_width_values(column: pa.Array, width: Optional[int], name: str, what: str,
                       allow_missing: bool = False) -> np.ndarray:
    """The values of a scalar or list column as a [n, width] array, exactly `width` per row.

    Args:
      column: a scalar column (one value per row) or a list column.
      width: the number of values each row must hold; None for "as many as the first row that
        has any".
      name: the column, for error messages.
      what: what reads it ("input 'hour' of ...", "prediction"), for error messages.
      allow_missing: rows with no value (null, empty list) become NaN instead of an error; the
        values are then float64.

    Returns:
      shape [n, width]; numbers as stored, strings and bytes as an object array.

    Raises:
      DataError: (a ValueError) a row holds another number of values (or none, unless
        allow_missing).

    Example:
      >>> fixed_width_values(pa.array([[1, 2], [3, 4]]), 2, "x", "test")
      array([[1, 2],
             [3, 4]])
    """
    n = len(column)
    counts, values = list_lengths(column)
    if width is None:
        nonzero = counts[counts > 0]
        width = int(nonzero[0]) if len(nonzero) else 1
    bad = (counts != width) & ~((counts == 0) & allow_missing)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        got = int(counts[row])
        raise DataError(f"column '{name}' holds {got} value{'' if got == 1 else 's'} in row "
                        f"{row} (and {int(bad.sum()) - 1} other rows differ), but {what} needs "
                        f"exactly {width} per example")
    if values.null_count:
        raise DataError(f"column '{name}' holds a null value inside a list; {what} needs "
                        f"{width} value{'' if width == 1 else 's'} per example")
    flat = arrow_values(values)
    present = counts == width
    if present.all():
        return flat.reshape(n, width)
    out = np.full((n, width), np.nan, dtype=np.float64 if flat.dtype.kind in "biuf" else object)
    out[present] = flat.reshape(-1, width)
    return out


def cast_values(values: np.ndarray, dtype: np.dtype, name: str, what: str) -> np.ndarray:
    """`values` as `dtype`; strings and numbers are not converted into each other.

    Raises:
      DataError: strings for numbers, numbers for strings, or fractions for integers.
    """
    source_is_text = values.dtype.kind in "OSU"
    if dtype.kind in "OSU":
        if not source_is_text:
            raise DataError(f"column '{name}' holds numbers ({values.dtype}) but {what} takes "
                            f"strings")
        return values.astype(object)
    if source_is_text:
        example = values.flat[0] if values.size else ""
        raise DataError(f"column '{name}' holds strings (e.g. {example!r}) but {what} takes "
                        f"{dtype.name} numbers")
    if dtype.kind in "iu" and values.dtype.kind == "f" and \
            not np.all(values == np.round(values)):
        raise DataError(f"column '{name}' holds non-integral values but {what} takes "
                        f"{dtype.name}")
    return values.astype(dtype, copy=False)


def choose_output(names: Sequence[str], wanted: Optional[str], what: str) -> str:
    """The output to read: `wanted`, the only one, or the first of PREFERRED_OUTPUTS present.

    Raises:
      ModelError: the model has no output `wanted`, or several and none is preferred.
    """
    if wanted is not None:
        if wanted not in names:
            raise ModelError(f"{what} has no output '{wanted}' (outputs: {', '.join(names)})")
        return wanted
    if len(names) == 1:
        return names[0]
    for name in PREFERRED_OUTPUTS:
        if name in names:
            return name
    raise ModelError(f"{what} has several outputs ({', '.join(names)}) and none is one of "
                     f"{', '.join(PREFERRED_OUTPUTS)}; set output: NAME in the model's config")
