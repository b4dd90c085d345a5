"""Score counts (ScoreCounts), and the same at rest in the smallest dtypes that hold them
(PackedScoreCounts: a merged accumulator keeps its score counts packed between merges, a slice
at the 10,000-bucket cap in about 4 bytes an entry instead of 28; every read gives the arrays
back, equal bit for bit). The areas and curves read from them are in assay.metrics.curves.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np


@dataclasses.dataclass
class ScoreCounts:
    """Weighted positives and negatives per distinct (curve, key), sorted by (curve, key).

    Attributes:
      curve: shape [m] int32; which curve an entry belongs to (always 0 for binary, the class for
        one-vs-rest multi-class curves).
      keys: shape [m]; float64 prediction values in the exact form, int64 bucket ids in the
        bucketed form (the dtype tells the forms apart, see `exact`).
      pos: shape [m] float64; weight of positive examples (weight * label) at the key.
      neg: shape [m] float64; weight of negative examples (weight * (1 - label)) at the key.
    """

    curve: np.ndarray
    keys: np.ndarray
    pos: np.ndarray
    neg: np.ndarray

    @property
    def exact(self) -> bool:
        """True in the exact form (keys are predictions), False in the bucketed form."""
        return self.keys.dtype.kind == "f"

    @classmethod
    def empty(cls, exact: bool = True) -> "ScoreCounts":
        key_dtype = np.float64 if exact else np.int64
        return cls(np.zeros(0, np.int32), np.zeros(0, key_dtype), np.zeros(0), np.zeros(0))

    def __len__(self) -> int:
        return len(self.keys)

    def max_keys_per_curve(self) -> int:
        """The most entries (distinct keys) any one curve holds; 0 when empty."""
        return int(np.bincount(self.curve).max()) if len(self.curve) else 0

    def copy(self) -> "ScoreCounts":
        return ScoreCounts(self.curve.copy(), self.keys.copy(), self.pos.copy(), self.neg.copy())


class PackedScoreCounts:
    """A ScoreCounts at rest (a merged accumulator's), each array in the smallest form that
    holds its values exactly:
      * weights that are whole numbers below 2**16 (unweighted counts) as uint8/uint16, other
        float32 values (tf.Example floats) as float32;
      * predictions that are float32 values as float32; curves and bucket ids as int8/int16;
      * a single curve (every binary slice) as its length alone, and its bucket ids, when they
        fill at least a sixteenth of their range, as a bitmap (uint8, one bit per bucket id).

    Reading a field gives it back in ScoreCounts' dtypes (int32 curves, float64 or int64 keys,
    float64 weights), equal bit for bit to what was packed, so every computation is as before;
    a bucketed slice at the 10,000-bucket cap holds about 4 bytes an entry instead of 28.
    Nothing mutates score arrays in place (merging makes new ones), so packing loses nothing.
    """

    __slots__ = ("_n", "_curve", "_keys", "_pos", "_neg")

    def __init__(self, counts: "ScoreCounts"):
        self._n = len(counts.keys)
        single = not counts.curve.any()
        self._curve = None if single else _narrow_int(counts.curve)
        keys = counts.keys
        if keys.dtype.kind == "f":
            self._keys = _narrow_float(keys)
        elif single and self._n and keys[0] >= 0 and 16 * self._n >= int(keys[-1]) + 1:
            # distinct and sorted (one curve): a bitmap of the ids present
            present = np.zeros(int(keys[-1]) + 1, bool)
            present[keys] = True
            self._keys = np.packbits(present)
        else:
            self._keys = _narrow_int(keys)
        self._pos = _narrow_weights(counts.pos)
        self._neg = _narrow_weights(counts.neg)

    @classmethod
    def of_one_curve(cls, keys: np.ndarray, pos: np.ndarray, neg: np.ndarray
                     ) -> "PackedScoreCounts":
        """The packed form of one curve's distinct exact counts already held as packing would
        hold them (float32 keys; whole counts as uint8/uint16, each the narrowest for its
        largest): taken as they are, not widened to ScoreCounts' dtypes and narrowed again."""
        packed = cls.__new__(cls)
        packed.__setstate__((len(keys), None, keys, pos, neg))
        return packed

    def __getstate__(self):
        return (self._n, self._curve, self._keys, self._pos, self._neg)

    def __setstate__(self, state):
        self._n, self._curve, self._keys, self._pos, self._neg = state

    @property
    def curve(self) -> np.ndarray:
        if self._curve is None:
            return np.zeros(self._n, np.int32)
        return self._curve.astype(np.int32)

    @property
    def keys(self) -> np.ndarray:
        if self._keys.dtype == np.uint8:  # a bitmap (_narrow_int gives signed types)
            return np.flatnonzero(np.unpackbits(self._keys)).astype(np.int64)
        return self._keys.astype(np.float64 if self._keys.dtype.kind == "f" else np.int64)

    @property
    def pos(self) -> np.ndarray:
        return self._pos.astype(np.float64)

    @property
    def neg(self) -> np.ndarray:
        return self._neg.astype(np.float64)

    @property
    def exact(self) -> bool:
        return self._keys.dtype.kind == "f"

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self._curve, self._keys, self._pos, self._neg)
                   if a is not None)

    def __len__(self) -> int:
        return self._n

    def max_keys_per_curve(self) -> int:
        if self._curve is None:
            return self._n
        return int(np.bincount(self._curve).max()) if len(self._curve) else 0

    def copy(self) -> "ScoreCounts":
        return ScoreCounts(self.curve, self.keys, self.pos, self.neg)


def _narrow_int(values: np.ndarray) -> np.ndarray:
    """values in int8, int16 or int32 when they fit (lossless), else as they are."""
    if len(values) == 0:
        return values
    lo, hi = int(values.min()), int(values.max())
    for dtype in (np.int8, np.int16, np.int32):
        info = np.iinfo(dtype)
        if info.min <= lo and hi <= info.max:
            return values.astype(dtype)
    return values


def _narrow_float(values: np.ndarray) -> np.ndarray:
    """values in float32 when every one of them is a float32 value (lossless), else as they
    are."""
    narrow = values.astype(np.float32)
    return narrow if np.array_equal(narrow, values) else values


_UINT8, _UINT16 = np.dtype(np.uint8), np.dtype(np.uint16)


def narrow_count_dtype(values: np.ndarray) -> Optional[np.dtype]:
    """The dtype exact whole counts are held in: uint8 when every one is below 256, uint16
    when below 65,536; None when one is negative, NaN or past 65,535 (or none is given)."""
    if not len(values):
        return None
    top = values.max()  # one reduction (unsigned values) or two: this runs per slice and merge
    if not top < 2**16 or (values.dtype.kind != "u" and not values.min() >= 0):  # NaN: None
        return None
    return _UINT8 if top < 2**8 else _UINT16


def narrow_counts(values: np.ndarray) -> np.ndarray:
    """Counts (>= 0) in narrow_count_dtype (cast: check that floats were whole), or as they
    are when one is negative or past 65,535."""
    dtype = narrow_count_dtype(values)
    return values if dtype is None else values.astype(dtype)


def _narrow_weights(values: np.ndarray) -> np.ndarray:
    """Weights (>= 0) as uint8/uint16 when every one is a whole number that fits (unweighted
    counts), else as _narrow_float gives them; lossless, -0.0 included (kept as a float)."""
    if len(values) and values.dtype.kind == "f":
        narrow = narrow_counts(values)
        if narrow.dtype.kind == "u" and np.array_equal(narrow, values) \
                and not np.signbit(values).any():
            return narrow
    return _narrow_float(values)
