"""Arrow arrays as numpy straight from their buffers, where that is exact and cheap.

    values = numpy_values(batch.column(0))        # what .to_numpy(zero_copy_only=False) gives
    lengths, flat = list_parts(list_column)       # what pc.list_value_length + .flatten() give

Why not pyarrow's own conversions: in pyarrow 10, `Array.to_numpy`, `pa.array`, `pa.scalar` and
every Array method that calls a compute function (`is_valid`, `flatten`, `cast`, ...) import
pandas on first use when it is installed (pyarrow's pandas shim), about 0.15 s of CPU on every
`assay evaluate` that reads TFRecord files and otherwise never needs pandas. The common cases (a
numeric array without nulls, a list array without null rows) are read here from the buffers with
numpy, giving the same values; anything else falls back to pyarrow.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np
import pyarrow as pa

# The numeric Arrow types stored as one plain numpy value per row (booleans are bit-packed).
_NUMPY_TYPES = {pa.int8(): np.int8, pa.int16(): np.int16, pa.int32(): np.int32,
                pa.int64(): np.int64, pa.uint8(): np.uint8, pa.uint16(): np.uint16,
                pa.uint32(): np.uint32, pa.uint64(): np.uint64, pa.float32(): np.float32,
                pa.float64(): np.float64}


def _view(buffer: Optional[pa.Buffer], dtype: np.dtype, first: int, count: int) -> np.ndarray:
    """`count` values of `dtype` from element `first` of `buffer` (read-only, no copy)."""
    view = np.empty(0, dtype=dtype) if count == 0 or buffer is None else \
        np.frombuffer(buffer, dtype=dtype, count=count, offset=first * dtype.itemsize)
    view.flags.writeable = False  # Arrow's memory, shared: read-only, as pyarrow's views are
    return view


def numpy_values(values: pa.Array) -> np.ndarray:
    """`values.to_numpy(zero_copy_only=False)`: the same array (a read-only view of a numeric
    array without nulls, as pyarrow gives), read from the data buffer where it can be.

    Example:
      >>> numpy_values(pa.array([1.5, 2.0]))
      array([1.5, 2. ])
    """
    dtype = _NUMPY_TYPES.get(values.type)
    if dtype is None or values.null_count or not isinstance(values, pa.Array):
        return values.to_numpy(zero_copy_only=False)
    return _view(values.buffers()[1], np.dtype(dtype), values.offset, len(values))


def list_parts(column: pa.Array) -> Optional[Tuple[np.ndarray, pa.Array]]:
    """(values per row, shape [n] int64; every row's values, concatenated) of a list or
    large_list column without null rows, from its offsets; None for any other column (a null
    row, a fixed-size list), which pyarrow's compute functions then handle.

    Example:
      >>> lengths, flat = list_parts(pa.array([[1, 2], [], [3]]))
      >>> lengths.tolist(), flat.to_pylist()
      ([2, 0, 1], [1, 2, 3])
    """
    if column.null_count or not len(column) or not isinstance(column, pa.Array):
        return None  # (a ChunkedArray too: it has no buffers of its own)
    if pa.types.is_list(column.type):
        dtype = np.dtype(np.int32)
    elif pa.types.is_large_list(column.type):
        dtype = np.dtype(np.int64)
    else:
        return None
    offsets = _view(column.buffers()[1], dtype, column.offset, len(column) + 1)
    start, stop = int(offsets[0]), int(offsets[-1])
    return np.diff(offsets).astype(np.int64, copy=False), column.values.slice(start, stop - start)


def first_valid_row(column: pa.Array) -> int:
    """The index of the column's first non-null row (0 when every row is null), from the
    validity bitmap.

    Example:
      >>> first_valid_row(pa.array([None, None, 3]))
      2
    """
    if column.null_count == 0 or column.null_count == len(column):
        return 0
    bits = np.unpackbits(np.frombuffer(column.buffers()[0], dtype=np.uint8), bitorder="little")
    return int(np.flatnonzero(bits[column.offset:column.offset + len(column)])[0])


def large_binary_array(items: List[bytes]) -> pa.Array:
    """`pa.array(items, pa.large_binary())` for a list of bytes, built from its buffers.

    Example:
      >>> large_binary_array([b"ab", b"", b"c"]).to_pylist()
      [b'ab', b'', b'c']
    """
    offsets = np.zeros(len(items) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, items), dtype=np.int64, count=len(items)), out=offsets[1:])
    return pa.Array.from_buffers(pa.large_binary(), len(items),
                                 [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(items))])


__all__ = ["first_valid_row", "large_binary_array", "list_parts", "numpy_values"]
