"""The examples a pass keeps for discovery: numpy arrays per batch, merged across shards.

SliceLine's crosses need each example's feature values, and the confirmation needs its error
and its stable key, so the pass keeps them per example, as compact arrays (never Python lists):

    categorical feature   int32 codes, with this shard's dictionary {value: code}
    quantile feature      float64 values (bucketed at extract, from the exact quantiles)
    error                 float32 (the per-example loss, or candidate - baseline)
    key                   uint64 (assay.metrics.bootstrap.row_keys: decides the half)
    labels, predictions   float64 per model (int32 class ids for multiclass labels), kept so
                          that a confirmed slice's headline metrics are computed on its own
                          examples at extract; weights (float64) only with a weight column

About 4 bytes per categorical feature, 8 per quantile feature, 12 for error and key and 16 per
model (8 per class for multiclass predictions) per example: 1,000,000 examples, 10 features
and two binary models take about 84 MB.

Example:
    >>> import pyarrow as pa
    >>> acc = ExampleStore((("g", None),))
    >>> acc.add_batch(pa.record_batch([pa.array(["a", "b", None])], names=["g"]),
    ...               np.zeros(3), np.arange(3, dtype=np.uint64), {})
    >>> acc.categorical()["g"][0].tolist(), acc.categorical()["g"][1]
    ([0, 1, 2], ['a', 'b', None])
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assay.data.columns import column_values
from assay.errors import ConfigError


class ExampleStore:
    """One shard's examples for discovery (add batches, merge shards in order).

    Attributes:
      features: ((name, quantiles or None), ...) as `discover:` names them.
      levels: {categorical feature: {value: code}} of the codes stored (this shard's).
    """

    def __init__(self, features: Sequence[Tuple[str, Optional[int]]]):
        self.features = tuple(features)
        self.levels: Dict[str, Dict[Any, int]] = {f: {} for f, q in features if q is None}
        self.columns: Dict[str, List[np.ndarray]] = {f: [] for f, _ in features}
        self.errors: List[np.ndarray] = []
        self.keys: List[np.ndarray] = []
        self.labels: Dict[str, List[np.ndarray]] = {}
        self.predictions: Dict[str, List[np.ndarray]] = {}
        self.weights: List[np.ndarray] = []

    def __len__(self) -> int:
        return int(sum(len(e) for e in self.errors))

    def add_batch(self, batch: pa.RecordBatch, errors: np.ndarray, keys: np.ndarray,
                  per_model: Mapping[str, Any], weights: Optional[np.ndarray] = None) -> None:
        """Adds a batch: its searched columns, errors (n,), keys (n,) uint64, and each model's
        labels and predictions (ModelBatch objects of the same n rows).

        Raises:
          ConfigError: a searched feature is not a column of the batch.
        """
        for name, q in self.features:
            if name not in batch.schema.names:
                raise ConfigError(f"'discover.features' names {name!r}, which is not a column "
                                  f"of the examples; they have: "
                                  f"{', '.join(sorted(batch.schema.names))}")
            column = batch.column(name)
            if q is None and _plain_column(column.type):  # C++ encoding, no Python per row
                self.columns[name].append(self._arrow_codes(name, column))
                continue
            first = _first_values(batch, name)
            self.columns[name].append(_numeric(first, name) if q is not None
                                      else self._codes(name, first))
        self.errors.append(np.asarray(errors, dtype=np.float32))
        self.keys.append(np.asarray(keys, dtype=np.uint64))
        for model, mb in per_model.items():
            labels = np.asarray(mb.labels)
            labels = labels.astype(np.int32) if labels.dtype.kind in "iu" else labels
            self.labels.setdefault(model, []).append(labels)
            self.predictions.setdefault(model, []).append(np.asarray(mb.predictions))
        if weights is not None:
            self.weights.append(np.asarray(weights, dtype=np.float64))

    def _arrow_codes(self, name: str, column: pa.Array) -> np.ndarray:
        """int32 codes of a scalar string/integer/bool column, encoded by Arrow."""
        encoded = column if pa.types.is_dictionary(column.type) else column.dictionary_encode()
        levels = self.levels[name]
        table = [levels.setdefault(v, len(levels)) for v in encoded.dictionary.to_pylist()]
        indices = encoded.indices
        if indices.null_count:
            table.append(levels.setdefault(None, len(levels)))
            indices = pc.fill_null(indices, len(table) - 1)
        return np.asarray(table, dtype=np.int32)[indices.to_numpy(zero_copy_only=False)]

    def _codes(self, name: str, values: np.ndarray) -> np.ndarray:
        """int32 codes of one batch's values in this shard's dictionary (None: missing).
        Only the batch's distinct values pass through Python."""
        present = np.array([v is not None for v in values], dtype=bool) \
            if values.dtype == object else np.ones(len(values), dtype=bool)
        codes = np.empty(len(values), dtype=np.int32)
        levels = self.levels[name]
        if present.any():
            uniq, inverse = np.unique(values[present], return_inverse=True)
            table = np.array([levels.setdefault(_plain(v), len(levels)) for v in uniq],
                             dtype=np.int32)
            codes[present] = table[inverse.reshape(-1)]
        if not present.all():
            codes[~present] = levels.setdefault(None, len(levels))
        return codes

    def merge(self, others: Sequence["ExampleStore"]) -> "ExampleStore":
        """This store with the others' examples appended, in the order given (only this one
        is changed): their codes are translated into this store's dictionaries."""
        for other in others:
            for name, _ in self.features:
                arrays = other.columns[name]
                if name in self.levels:
                    mine = self.levels[name]
                    table = np.array([mine.setdefault(v, len(mine)) for v in other.levels[name]],
                                     dtype=np.int32)
                    arrays = [table[a] for a in arrays] if len(table) else arrays
                self.columns[name].extend(arrays)
            self.errors.extend(other.errors)
            self.keys.extend(other.keys)
            for model in other.labels:
                self.labels.setdefault(model, []).extend(other.labels[model])
                self.predictions.setdefault(model, []).extend(other.predictions[model])
            self.weights.extend(other.weights)
        return self

    def categorical(self) -> Dict[str, Tuple[np.ndarray, list]]:
        """{categorical feature: (codes (n,), values)}: codes renumbered so that they follow
        the values' sorted order (None last), whatever order the shards met them in."""
        out = {}
        for name, levels in self.levels.items():
            values = sorted(levels, key=_sort_key)
            rank = np.empty(len(levels), dtype=np.int32)
            for new, value in enumerate(values):
                rank[levels[value]] = new
            codes = _concat(self.columns[name], np.int32)
            out[name] = (rank[codes] if len(rank) else codes, values)
        return out

    def numeric(self, name: str) -> np.ndarray:
        """The float64 values (nan: missing) of a quantile feature, shape (n,)."""
        return _concat(self.columns[name], np.float64)

    def error_values(self) -> np.ndarray:
        return _concat(self.errors, np.float32).astype(np.float64)

    def key_values(self) -> np.ndarray:
        return _concat(self.keys, np.uint64)

    def model_arrays(self, model: str) -> Tuple[np.ndarray, np.ndarray]:
        """(labels, predictions) of a model over every example, in order."""
        return (np.concatenate(self.labels[model]), np.concatenate(self.predictions[model]))

    def weight_values(self) -> np.ndarray:
        return _concat(self.weights, np.float64) if self.weights else np.ones(len(self))


def _plain_column(kind: pa.DataType) -> bool:
    """A scalar column whose Arrow values are the values discovery names (strings, integers,
    booleans; a dictionary of them): bytes and lists go through column_values instead."""
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return (pa.types.is_string(kind) or pa.types.is_large_string(kind)
            or pa.types.is_integer(kind) or pa.types.is_boolean(kind))


def _first_values(batch: pa.RecordBatch, name: str) -> np.ndarray:
    """One value per row: a list feature's first value; None (object) / nan where missing."""
    values, rows = column_values(batch, name)
    n = batch.num_rows
    if len(rows) == n and np.array_equal(rows, np.arange(n)):
        return values
    first = np.r_[True, rows[1:] != rows[:-1]] if len(rows) else np.zeros(0, dtype=bool)
    out = np.full(n, None, dtype=object)
    out[rows[first]] = values[first]
    return out


def _numeric(values: np.ndarray, name: str) -> np.ndarray:
    """float64 values of a quantile feature (nan where missing)."""
    if values.dtype == object:
        values = np.array([np.nan if v is None else v for v in values], dtype=object)
    try:
        return values.astype(np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"'discover.features': {name!r} is bucketed by quantiles, so it must "
                          f"be numeric; it holds {values[:3].tolist()!r}...") from None


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _sort_key(value: Any) -> tuple:
    """Sorts values of one type naturally, None last, mixed types by type name then text."""
    if value is None:
        return (2, "", "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, "", value)
    return (1, type(value).__name__, str(value))


def _concat(arrays: List[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(arrays).astype(dtype, copy=False) if arrays else np.zeros(0, dtype)


__all__ = ["ExampleStore"]
