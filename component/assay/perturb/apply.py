"""Editing one feature of a batch of examples: the perturbations of `perturbations:`.

    # Input: pa.RecordBatch of n rows as read (scalar or list columns), uint64 [n] row keys.
    # Output: the same batch with one column edited; every other column is untouched.

What each kind does (values of list features are edited item by item; nulls stay null):

    noise_relative r   x * (1 + r z);  noise_absolute a:  x + a z;  z ~ N(0, 1) drawn from the
                       row's stable key (and the item's place in its list), the perturbation's
                       name and seed: the same on every worker, batch size and engine. Integer
                       features get the result rounded to the nearest integer (they stay
                       integers, as a model's input signature expects).
    set v              every row's value becomes v (null: the feature is missing).
    permute            within each batch the pass reads (batch_size rows of a file or file
                       part), rows are ordered by a keyed hash of their row key, and each row
                       takes the value of the next row in that order (the last takes the
                       first's): a cyclic shift, so no row keeps its own row's value. Batches
                       are cut the same way by both engines, so the permutation depends on the
                       data, the batch size and the seed only.
    swap {a: b, ...}   each value found among the keys is replaced by its mapping; others stay.

Serialized tf.Examples (the raw record column a SavedModel parses) are not edited in place:
the perturbed batch leaves the raw record column out, and the model adapter serializes the
decoded (edited) columns again with tfx-bsl's encoder (assay.data.tfrecord.encode_examples).
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assay.data.columns import is_list_type, list_lengths
from assay.errors import ConfigError
from assay.metrics.bootstrap import mix64, text_key
from assay.perturb.config import Perturbation

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def draw_keys(p: Perturbation, keys: np.ndarray) -> np.ndarray:
    """uint64 [n]: each row's key mixed with the perturbation's name and seed."""
    salt = np.uint64(text_key(f"perturb:{p.name}:{p.seed}"))
    with np.errstate(over="ignore"):
        return mix64(np.asarray(keys, np.uint64) ^ mix64(salt))


def _uniform(bits: np.ndarray) -> np.ndarray:
    """float64 in (0, 1) from the top 53 bits of uint64 draws."""
    return ((bits >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)


def normal_draws(p: Perturbation, keys: np.ndarray, item: np.ndarray) -> np.ndarray:
    """float64 [m]: standard normal draws (Box-Muller) for items `item` (their index within
    their row's list, int64 [m]) of rows with keys `keys` (uint64 [m])."""
    base = draw_keys(p, keys)
    with np.errstate(over="ignore"):
        first = mix64(base + (2 * np.asarray(item, np.uint64) + np.uint64(1)) * _GOLDEN)
        second = mix64(base + (2 * np.asarray(item, np.uint64) + np.uint64(2)) * _GOLDEN)
    u1, u2 = _uniform(first), _uniform(second)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def permutation(p: Perturbation, keys: np.ndarray) -> np.ndarray:
    """int64 [n]: the row whose value each row takes (see the module docstring)."""
    n = len(keys)
    order = np.argsort(draw_keys(p, keys), kind="stable")
    source = np.empty(n, np.int64)
    source[order] = np.roll(order, -1)
    return source


def _rebuild(column: pa.Array, lengths: np.ndarray, values: pa.Array) -> pa.Array:
    """A column shaped like `column` (scalar or list, same nulls) holding new flat `values`."""
    if not is_list_type(column.type):
        valid = column.is_valid().to_numpy(zero_copy_only=False)
        indices = np.cumsum(valid) - 1
        taken = values.take(pa.array(np.where(valid, indices, 0).astype(np.int64))) \
            if len(values) else pa.nulls(len(column), values.type)
        return pc.if_else(pa.array(valid), taken, pa.nulls(len(column), values.type))
    offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
    kind = pa.large_list if pa.types.is_large_list(column.type) else pa.list_
    offset_type = pa.int64() if kind is pa.large_list else pa.int32()
    array_type = pa.LargeListArray if kind is pa.large_list else pa.ListArray
    return array_type.from_arrays(pa.array(offsets, offset_type), values, mask=column.is_null())


def _is_numeric(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind)


def _noise(p: Perturbation, column: pa.Array, keys: np.ndarray, where: str) -> pa.Array:
    lengths, flat = list_lengths(column)
    if pa.types.is_dictionary(flat.type) or not _is_numeric(flat.type):
        raise ConfigError(f"perturbation '{p.name}' adds noise to feature '{p.feature}', which "
                          f"holds {flat.type} values in {where}, not numbers; use set, permute "
                          f"or swap for a categorical feature")
    x = flat.to_numpy(zero_copy_only=False).astype(np.float64)
    rows = np.repeat(np.arange(len(column)), lengths)
    item = np.arange(len(rows)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    z = normal_draws(p, keys[rows], item)
    edited = x * (1.0 + p.value * z) if p.kind == "noise_relative" else x + p.value * z
    if pa.types.is_integer(flat.type):
        edited = np.round(edited)
    return _rebuild(column, lengths, pa.array(edited).cast(flat.type, safe=False))


def _set(p: Perturbation, column: Optional[pa.Array], n: int, where: str) -> pa.Array:
    if column is None:  # the feature is in no row of this batch: add it
        return pa.nulls(n) if p.value is None else pa.array([p.value] * n)
    if p.value is None:
        return pa.nulls(n, column.type)
    lengths, flat = list_lengths(column)
    kind = flat.type.value_type if pa.types.is_dictionary(flat.type) else flat.type
    try:
        value = pa.array([p.value]).cast(kind)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise ConfigError(f"perturbation '{p.name}' sets feature '{p.feature}' to {p.value!r}, "
                          f"but the feature holds {kind} values in {where}") from None
    if not is_list_type(column.type):
        return value.take(pa.array(np.zeros(n, np.int64)))
    offsets = np.arange(n + 1, dtype=np.int64)  # one item per row
    array_type = pa.LargeListArray if pa.types.is_large_list(column.type) else pa.ListArray
    offset_type = pa.int64() if pa.types.is_large_list(column.type) else pa.int32()
    return array_type.from_arrays(pa.array(offsets, offset_type),
                                  value.take(pa.array(np.zeros(n, np.int64))))


def _swap(p: Perturbation, column: pa.Array, where: str) -> pa.Array:
    lengths, flat = list_lengths(column)
    if pa.types.is_dictionary(flat.type):
        flat = flat.dictionary_decode()
    text = pa.types.is_string(flat.type) or pa.types.is_large_string(flat.type) or \
        pa.types.is_binary(flat.type) or pa.types.is_large_binary(flat.type)
    keys_text = {isinstance(k, str) for k, _ in p.value}
    if keys_text != {text}:
        got = "strings" if True in keys_text else "numbers"
        raise ConfigError(f"perturbation '{p.name}' swaps {got} ({dict(p.value)!r}) in feature "
                          f"'{p.feature}', which holds {flat.type} values in {where}; the swap's "
                          f"keys must be values of the feature")
    binary = pa.types.is_binary(flat.type) or pa.types.is_large_binary(flat.type)
    mapping = {(k.encode() if binary else k): (v.encode() if binary and isinstance(v, str)
                                              else v) for k, v in p.value}
    values = flat.to_numpy(zero_copy_only=False)
    uniques, inverse = np.unique(values, return_inverse=True) if len(values) else (values, [])
    mapped = np.array([mapping.get(u, u) for u in uniques.tolist()], dtype=object)
    edited = mapped[inverse] if len(values) else mapped
    try:
        out = pa.array(edited.tolist(), type=flat.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        raise ConfigError(f"perturbation '{p.name}' swaps in values {dict(p.value)!r} that do "
                          f"not fit feature '{p.feature}' ({flat.type} in {where})") from None
    return _rebuild(column, lengths, out)


def perturb_batch(p: Perturbation, batch: pa.RecordBatch, keys: np.ndarray,
                  raw_record_column: Optional[str] = None, where: str = "the data"
                  ) -> pa.RecordBatch:
    """`batch` with feature `p.feature` edited; the raw record column, if any, left out (the
    model adapter then serializes the edited columns).

    Args:
      p: the perturbation.
      batch: the examples as read, n rows.
      keys: uint64 [n], the rows' stable keys (assay.metrics.bootstrap.row_keys).
      raw_record_column: the column of serialized examples, dropped from the result.
      where: the file, for error messages.

    Raises:
      ConfigError: the edit does not fit the feature's values (noise on strings, ...).
    """
    names = [n for n in batch.schema.names if n != raw_record_column]
    columns = {n: batch.column(n) for n in names}
    column = columns.get(p.feature)
    n = batch.num_rows
    if column is None and p.kind != "set":
        edited = None  # no row of this batch has the feature: nothing to edit
    elif p.kind.startswith("noise_"):
        edited = _noise(p, column, keys, where)
    elif p.kind == "set":
        edited = _set(p, column, n, where)
    elif p.kind == "permute":
        edited = column.take(pa.array(permutation(p, keys)))
    else:
        edited = _swap(p, column, where)
    if edited is not None:
        columns[p.feature] = edited
    return pa.RecordBatch.from_arrays(list(columns.values()), names=list(columns))


__all__ = ["draw_keys", "normal_draws", "permutation", "perturb_batch"]
