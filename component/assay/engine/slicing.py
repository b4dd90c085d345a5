"""Slice keys for a batch of examples, computed with numpy for the whole batch at once.

For one SliceSpec and one Arrow batch, `slice_groups` returns which rows belong to which slices:
`rows[i]` belongs to the slice `keys[group_ids[i]]`. A row with one value per sliced feature
belongs to one slice of the spec; a multi-valued feature puts the row into one slice per distinct
value (crossed with the other features' values); a row that lacks a sliced feature (or the fixed
value) belongs to no slice of the spec.

Slice keys are tuples of (feature, value) pairs with plain Python values (ints stay ints);
bucketed features get interval labels such as "[1, 5)". A fixed value of a spec ({"day": 3})
matches the data's values as `assay.results.slices.values_match` says (3, 3.0 and "3" alike),
the rule that validation and the report use too.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pyarrow as pa

from assay import data as assay_io
from assay.config.slices import SliceColumn, SliceSpec
from assay.results.slices import values_match

# The key of a slice as the pass computes it: the values as the data has them. Results name
# slices by the JSON form of this key ({} is the overall slice).
SliceKey = Tuple[Tuple[str, Any], ...]
OVERALL_KEY: SliceKey = ()


def _fmt(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else repr(float(bound))


def bucket_labels(boundaries: Sequence[float]) -> List[str]:
    """Interval labels for the len(boundaries) + 1 buckets, e.g. ['(-inf, 0)', '[0, 1)', '[1, inf)']."""
    edges = ["-inf"] + [_fmt(b) for b in boundaries] + ["inf"]
    labels = []
    for i in range(len(edges) - 1):
        left = "(" if i == 0 else "["
        labels.append(f"{left}{edges[i]}, {edges[i + 1]})")
    return labels


def _py(values: np.ndarray) -> List[Any]:
    return [v.item() if isinstance(v, np.generic) else v for v in values]


@dataclasses.dataclass(frozen=True)
class SliceGroups:
    """Rows of a batch grouped into the slices of one spec.

    Attributes:
      rows: shape [m] int64, row indices into the batch (a row may appear more than once when a
        multi-valued feature puts it into several slices).
      group_ids: shape [m] int64 in [0, len(keys)).
      keys: the slice key of each group.
    """

    rows: np.ndarray
    group_ids: np.ndarray
    keys: List[SliceKey]


def _unique_inverse(values: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """np.unique(values, return_inverse=True), in linear time for integers of a small range.

    Slice features are mostly small integers (hours, days, ids, bucket numbers): counting them
    beats sorting them. Same result as np.unique: the distinct values sorted, and each value's
    index among them.
    """
    values = np.asarray(values)
    if values.dtype.kind in "iub" and len(values):
        ints = values.astype(np.int64, copy=False)
        lo, hi = int(ints.min()), int(ints.max())
        span = hi - lo + 1
        if span <= max(4 * len(ints), 1 << 16):
            shifted = ints - lo
            present = np.flatnonzero(np.bincount(shifted, minlength=span))
            lookup = np.zeros(span, np.int64)
            lookup[present] = np.arange(len(present))
            return (present + lo).astype(values.dtype), lookup[shifted]
    return np.unique(values, return_inverse=True)


def _column_codes(batch: pa.RecordBatch, column: SliceColumn,
                  boundaries: Dict[str, Tuple[float, ...]]) -> Tuple[np.ndarray, np.ndarray, List[Any]]:
    """(rows, codes, uniques): each (row, value) pair of the column, deduplicated and sorted."""
    values, rows = assay_io.column_values(batch, column.feature)
    if column.bucketed:
        bounds = column.boundaries if column.boundaries is not None else boundaries[column.feature]
        numeric = np.asarray(values, dtype=np.float64)
        finite = ~np.isnan(numeric)
        numeric, rows = numeric[finite], rows[finite]
        codes = np.searchsorted(np.asarray(bounds, dtype=np.float64), numeric, side="right")
        labels = bucket_labels(bounds)
        present, codes = _unique_inverse(codes)
        uniques = [labels[i] for i in present]
    else:
        uniques_arr, codes = _unique_inverse(values)
        uniques = _py(uniques_arr)
    codes = codes.astype(np.int64, copy=False)
    rows = rows.astype(np.int64, copy=False)
    # Deduplicate (row, code) pairs and sort by row, then code; nothing to do when every row
    # has one value (rows strictly increasing), the common case.
    if len(rows) > 1 and not bool(np.all(rows[1:] > rows[:-1])):
        pair = rows * (len(uniques) + 1) + codes
        pair = np.unique(pair)
        rows, codes = pair // (len(uniques) + 1), pair % (len(uniques) + 1)
    return rows, codes, uniques


def _cross(left_rows: np.ndarray, left_codes: np.ndarray, right_rows: np.ndarray,
           right_codes: np.ndarray, num_rows: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Joins two row-sorted (row, code) lists on row: every left pair with every right pair.

    left_codes has shape [m, j] (codes so far), right_codes shape [p]. Returns (rows, left_index,
    right_index) of the joined pairs.
    """
    if not len(left_rows) or not len(right_rows):
        # Nothing joins; also the empty batch (every row skipped as invalid), whose zero-length
        # counts the prefix sums below would pad to length 1.
        none = np.zeros(0, np.int64)
        return none, none, none
    right_count = np.bincount(right_rows, minlength=num_rows)
    right_start = np.concatenate([[0], np.cumsum(right_count)[:-1]])
    reps = right_count[left_rows]
    left_index = np.repeat(np.arange(len(left_rows)), reps)
    # For each output, its position among the right pairs of its row.
    out_start = np.concatenate([[0], np.cumsum(reps)[:-1]])
    within = np.arange(int(reps.sum())) - np.repeat(out_start, reps)
    right_index = right_start[left_rows[left_index]] + within
    return left_rows[left_index], left_index, right_index


def _matching(values: np.ndarray, wanted: Any) -> np.ndarray:
    """Which of `values` (shape [m]) match the fixed slice value `wanted`, shape [m] bool.

    Same type, same rule: a number against numbers, a string against strings (the common cases)
    is a plain comparison. Across types ("3" against numbers), the rule is applied once per
    distinct value, not per example.
    """
    values = np.asarray(values)
    kind = values.dtype.kind
    if isinstance(wanted, str) and kind == "O":  # strings (the data layer decodes bytes)
        return values == wanted
    if not isinstance(wanted, (bool, str)) and kind in "iuf":
        return values == wanted
    uniques, inverse = _unique_inverse(values)
    hit = np.array([values_match(wanted, u) for u in _py(uniques)], dtype=bool)
    return hit[inverse.reshape(-1)]


# {slice key: its canonical form}: the same keys come back every batch. Bounded.
_CANONICAL: Dict[SliceKey, SliceKey] = {}
_CANONICAL_MAX = 1 << 16


def canonical(key: SliceKey) -> SliceKey:
    """The slice key with its features in name order (specs may name them in any order), so
    that the same slice has one key whichever spec yields it; remembered."""
    try:
        return _CANONICAL[key]
    except KeyError:
        pass
    except TypeError:  # an unhashable value
        return tuple(sorted(key, key=lambda kv: kv[0]))
    if len(_CANONICAL) >= _CANONICAL_MAX:
        _CANONICAL.clear()
    out = _CANONICAL[key] = tuple(sorted(key, key=lambda kv: kv[0]))
    return out


# (weak reference to the batch sliced last, {spec: its SliceGroups}): the pass and its drift
# extension slice each batch by the same specs, one after the other. Weak: no batch is kept
# alive for this, and a new batch at a freed one's address is not taken for it.
# Per thread: the local engine's threads slice batches of their own.
_LAST = threading.local()


def slice_groups(batch: pa.RecordBatch, spec: SliceSpec,
                 boundaries: Dict[str, Tuple[float, ...]] = None) -> SliceGroups:
    """Groups the rows of `batch` into the slices of `spec` (see the module docstring).

    The batch sliced last keeps its groups: the same batch and spec give the same SliceGroups
    object again (read it, do not modify it).

    Args:
      batch: the examples, shape [n] rows.
      spec: the slicing spec.
      boundaries: bucket boundaries of the features sliced by quantiles, computed earlier in the
        pass.
    """
    import weakref  # only here

    if any(c.bucketed and c.boundaries is None for c in spec.columns):  # by quantiles
        return _slice_groups(batch, spec, boundaries)
    ref, memo = getattr(_LAST, "value", (None, {}))
    if ref is None or ref() is not batch:
        memo = {}
        _LAST.value = (weakref.ref(batch), memo)
    groups = memo.get(spec)
    if groups is None:
        groups = memo[spec] = _slice_groups(batch, spec, boundaries, memo)
    return groups


def _slice_groups(batch: pa.RecordBatch, spec: SliceSpec,
                  boundaries: Dict[str, Tuple[float, ...]] = None,
                  memo: Optional[Dict[Any, Any]] = None) -> SliceGroups:
    """slice_groups, not remembered; memo: the batch's, where each column's codes are kept
    for the batch's other specs ([hour, day], [hour] and [day] read hour and day once)."""
    n = batch.num_rows
    if spec.is_overall:
        return SliceGroups(np.arange(n, dtype=np.int64), np.zeros(n, dtype=np.int64),
                           [OVERALL_KEY])
    boundaries = boundaries or {}
    present = set(batch.schema.names)
    empty = SliceGroups(np.zeros(0, np.int64), np.zeros(0, np.int64), [])
    if any(f not in present for f in spec.features):
        return empty

    keep = np.ones(n, dtype=bool)
    for feature, wanted in spec.values:
        values, rows = assay_io.column_values(batch, feature)
        hit = np.zeros(n, dtype=bool)
        if len(values):
            hit[rows[_matching(values, wanted)]] = True
        keep &= hit
    fixed: SliceKey = tuple(spec.values)

    if not spec.columns:
        rows = np.flatnonzero(keep).astype(np.int64)
        if not len(rows):
            return empty
        return SliceGroups(rows, np.zeros(len(rows), np.int64), [fixed])

    rows = np.flatnonzero(keep).astype(np.int64)
    codes = np.zeros((len(rows), 0), dtype=np.int64)
    uniques_per_col: List[List[Any]] = []
    distinct = True  # rows strictly increasing (one entry a row)
    for column in spec.columns:
        at = ("column", column)
        if memo is None:  # (slice_groups passes none for specs bucketed by quantiles)
            col_rows, col_codes, uniques = _column_codes(batch, column, boundaries)
        elif at in memo:
            col_rows, col_codes, uniques = memo[at]
        else:
            col_rows, col_codes, uniques = memo[at] = _column_codes(batch, column, boundaries)
        uniques_per_col.append(uniques)
        if distinct and len(col_rows) == len(rows) and np.array_equal(col_rows, rows):
            # one value for each row kept so far (the common case): the join is the identity
            codes = np.concatenate([codes, col_codes[:, None]], axis=1)
            continue
        joined_rows, li, ri = _cross(rows, codes, col_rows, col_codes, n)
        rows, distinct = joined_rows, False
        codes = np.concatenate([codes[li], col_codes[ri][:, None]], axis=1)
    if not len(rows):
        return empty
    combos, group_ids = _unique_rows(codes, [len(u) for u in uniques_per_col])
    return SliceGroups(rows, group_ids.reshape(-1).astype(np.int64),
                       _keys(spec, fixed, uniques_per_col, combos))


# {(spec, values of each column, combos): slice keys}: batches mostly hold the same slices, and
# building their keys (a tuple per slice) cost more than looking them up. Bounded.
_KEYS: Dict[Any, List[SliceKey]] = {}
_KEYS_MAX = 256


def _keys(spec: SliceSpec, fixed: SliceKey, uniques_per_col: List[List[Any]],
          combos: np.ndarray) -> List[SliceKey]:
    """The slice key of each combination of column codes (rows of `combos`)."""
    try:
        # the values' types too: 1, 1.0 and True are equal, and a key keeps its value's type
        memo = (spec, tuple((tuple(u), tuple(map(type, u))) for u in uniques_per_col),
                combos.tobytes())
        hash(memo)
    except TypeError:  # an unhashable value: build the keys
        memo = None
    keys = _KEYS.get(memo) if memo is not None else None
    if keys is None:
        keys = [fixed + tuple((c.feature, uniques_per_col[j][combo[j]])
                              for j, c in enumerate(spec.columns))
                for combo in combos.tolist()]
        if memo is not None:
            if len(_KEYS) >= _KEYS_MAX:
                _KEYS.clear()
            _KEYS[memo] = keys
    return list(keys)


def _unique_rows(codes: np.ndarray, sizes: Sequence[int]) -> Tuple[np.ndarray, np.ndarray]:
    """np.unique(codes, axis=0, return_inverse=True) for codes[:, j] in [0, sizes[j]).

    The rows are read as numbers in a mixed radix (their order is the rows' lexicographic
    order), so that one unique of integers replaces a unique of rows.
    """
    total = 1
    for size in sizes:
        total *= max(int(size), 1)
    if total >= 2**62:
        return np.unique(codes, axis=0, return_inverse=True)
    number = np.zeros(len(codes), np.int64)
    for j, size in enumerate(sizes):
        number = number * max(int(size), 1) + codes[:, j]
    present, inverse = _unique_inverse(number)
    combos = np.zeros((len(present), len(sizes)), np.int64)
    rest = present.astype(np.int64)
    for j in range(len(sizes) - 1, -1, -1):
        size = max(int(sizes[j]), 1)
        combos[:, j] = rest % size
        rest //= size
    return combos, inverse

