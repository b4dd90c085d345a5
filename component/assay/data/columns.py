"""Reading the columns of a RecordBatch as numpy arrays, the same way whatever the format.

    labels = single_values(batch, "label", "label")     # shape [n], one per example
    hours, rows = column_values(batch, "hour")          # every value, and the row it belongs to

Batches from TFRecord files hold list columns (and lack a feature no example of the batch has);
batches from CSV and Parquet hold scalar columns. These helpers hide both differences from the
engine and the model adapters, vectorised through the list offsets: no per-row Python.
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence, Tuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assay.data.buffers import list_parts, numpy_values
from assay.errors import DataError


def is_list_type(kind: pa.DataType) -> bool:
    """True for list, large_list and fixed_size_list types."""
    return pa.types.is_list(kind) or pa.types.is_large_list(kind) or \
        pa.types.is_fixed_size_list(kind)


def list_lengths(column: pa.Array) -> Tuple[np.ndarray, pa.Array]:
    """(values per row, shape [n] int64; the values of every row, concatenated).

    A list column gives each list's length (0 for a null row) and its flattened items; a scalar
    column gives 1 per non-null row, 0 per null row, and its non-null values.
    """
    if is_list_type(column.type):
        parts = list_parts(column)  # from the offsets: pyarrow's compute imports pandas
        if parts is not None:
            return parts
        lengths = pc.fill_null(pc.list_value_length(column), 0).to_numpy(zero_copy_only=False)
        return lengths.astype(np.int64, copy=False), column.flatten()
    if not column.null_count:  # no compute call either: pyarrow's compute imports pandas
        return np.ones(len(column), np.int64), column
    return column.is_valid().to_numpy(zero_copy_only=False).astype(np.int64), column.drop_null()


def column_values(batch: pa.RecordBatch, name: str,
                  required: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """Every value of a column, flattened, with the row each belongs to.

    Works on scalar columns (CSV, Parquet) and list columns (tf.Example features) alike; null
    rows, empty lists and null list items contribute no values.

    Args:
      batch: the RecordBatch.
      name: the column.
      required: raise if the batch has no such column; otherwise a missing column (no example
        in the batch has the feature) gives empty arrays.

    Returns:
      (values, row_index): values shape [m] (int64/float32/float64/bool as stored; strings and
      bytes as an object array of str, decoded as utf-8), row_index shape [m] int64,
      non-decreasing.

    Raises:
      DataError: the column is missing and required, or holds nested lists or structs.

    Example:
      >>> b = pa.record_batch([pa.array([[1, 2], None, [3]])], names=["x"])
      >>> column_values(b, "x")
      (array([1, 2, 3]), array([0, 0, 2]))
    """
    column = _column(batch, name, required)
    if column is None:
        return np.empty(0, dtype=np.float64), np.empty(0, dtype=np.int64)
    n = len(column)
    if is_list_type(column.type):
        counts, values = list_lengths(column)
        row_index = np.repeat(np.arange(n, dtype=np.int64), counts)
    else:
        row_index = np.arange(n, dtype=np.int64)
        values = column
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if values.null_count:
        valid = values.is_valid()
        row_index = row_index[valid.to_numpy(zero_copy_only=False)]
        values = values.filter(valid)
    return to_numpy(values, name), row_index


def single_values(batch: pa.RecordBatch, name: str, what: str,
                  row_offset: int = 0) -> np.ndarray:
    """Exactly one value per row of a column (a label, a prediction, a weight).

    Args:
      batch: the RecordBatch.
      name: the column.
      what: what the column is, for the error message ("label", "prediction", ...).
      row_offset: added to the row numbers in error messages (the batch's first row in a file).

    Returns:
      shape [num_rows]; dtypes as `column_values`.

    Raises:
      DataError: the column is missing, or a row holds no value or several; the message names
        the column and the first such row and what it holds.

    Example:
      >>> b = pa.record_batch([pa.array([[1], [0], [1]])], names=["label"])
      >>> single_values(b, "label", "label")
      array([1, 0, 1])
    """
    values, row_index = column_values(batch, name, required=False)
    n = batch.num_rows
    if np.array_equal(row_index, np.arange(n)):
        return values
    if _column(batch, name, required=False) is None:
        raise DataError(f"{what} column {name!r} must hold exactly one value per example; no "
                        f"example in this batch has it (its columns: "
                        f"{', '.join(batch.schema.names)})")
    counts = np.bincount(row_index, minlength=n)
    row = int(np.flatnonzero(counts != 1)[0])
    held = values[row_index == row]
    shown = ", ".join(repr(v) for v in held[:5].tolist()) + (", ..." if len(held) > 5 else "")
    detail = f"{len(held)} values" + (f": [{shown}]" if len(held) else "")
    raise DataError(f"{what} column {name!r} must hold exactly one value per example; "
                    f"row {row + row_offset} holds {detail}")


def _column(batch: pa.RecordBatch, name: str, required: bool) -> Optional[pa.Array]:
    index = batch.schema.get_field_index(name)
    if index < 0:
        if required:
            raise DataError(f"column {name!r} is missing from this batch; its columns: "
                            f"{', '.join(batch.schema.names)}")
        return None
    column = batch.column(index)
    if isinstance(column, pa.ChunkedArray):  # a pa.Table column
        column = column.combine_chunks()
    return column


def to_numpy(values: pa.Array, name: str) -> np.ndarray:
    """A flat Arrow array as numpy: numbers as stored, strings and bytes as objects of str.

    Raises:
      DataError: the values are lists or structs.
    """
    kind = values.type
    if pa.types.is_dictionary(kind):
        values = values.dictionary_decode()
        kind = values.type
    if pa.types.is_null(kind):
        return np.empty(0, dtype=np.float64)
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        try:
            values = values.cast(pa.large_string())
        except pa.ArrowInvalid:  # not utf-8: decode each value, marking the bad bytes
            return np.array([v.decode("utf-8", "replace") for v in values.to_pylist()],
                            dtype=object)
        kind = values.type
    if pa.types.is_nested(kind):
        raise DataError(f"column {name!r} holds {kind} values; only scalars and lists of scalars "
                        f"are supported")
    return numpy_values(values)


def vocabulary_codes(values: np.ndarray, vocabulary: Sequence[str]) -> np.ndarray:
    """Each value's index in `vocabulary`, or -1 for a value not in it; vectorised (Arrow).

    Args:
      values: shape [n]; str, or bytes (compared as their utf-8 text, as tf.Example strings).
      vocabulary: the classes, in order; a value equal to several entries gets the first.

    Returns:
      shape [n] int64.

    Example:
      >>> vocabulary_codes(np.array(["b", "x", b"a"], dtype=object), ["a", "b"])
      array([ 1, -1,  0])
    """
    if len(values) == 0:
        return np.empty(0, dtype=np.int64)
    classes = pa.array([str(v) for v in vocabulary], pa.string())
    codes = pc.index_in(text_array(values), value_set=classes)
    return pc.fill_null(codes, -1).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)


def text_array(values: np.ndarray) -> pa.Array:
    """str or bytes values as an Arrow string array; bytes are decoded as utf-8.

    Bytes that are not utf-8 are decoded with U+FFFD for the bad bytes, and other objects are
    written as str(value), one at a time (rare: tf.Example strings are nearly always utf-8).
    """
    try:
        if values.dtype.kind == "S":
            return pa.array(values).cast(pa.string())  # numpy bytes: binary first
        return pa.array(values, pa.string())  # takes str, and bytes holding utf-8
    except (pa.ArrowException, TypeError):  # bad utf-8, or not strings: rare, one by one
        return pa.array([v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                         for v in values.tolist()], pa.string())


def select(batch: pa.RecordBatch, keep: Iterable[str]) -> pa.RecordBatch:
    """The batch with only the columns named in `keep`, in the batch's order."""
    keep = set(keep)
    names = [n for n in batch.schema.names if n in keep]
    return pa.RecordBatch.from_arrays([batch.column(n) for n in names], names=names)


def with_column(batch: pa.RecordBatch, name: str, values: pa.Array, path: str) -> pa.RecordBatch:
    """The batch with the column `name` added (the raw record column, read from `path`).

    Raises:
      DataError: the batch already has a column of that name.
    """
    if name in batch.schema.names:
        raise DataError(f"raw_record_column {name!r} clashes with a column of the same name in "
                        f"{path}; choose another name")
    return pa.RecordBatch.from_arrays(batch.columns + [values], names=batch.schema.names + [name])
