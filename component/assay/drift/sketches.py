"""Compact, mergeable sketches of one column's distribution: numpy only.

Two kinds, each a plain object that adds a batch of values, merges with others of its kind and
writes itself as JSON (assay_sketches.json, see assay.drift.files):

- NumericSketch: a DDSketch-style histogram whose bins do not depend on the data, so two
  evaluations compare bin by bin without agreeing on bins first. A value x > 0 falls in bin
  i = ceil(log_gamma(x)), covering (gamma^(i-1), gamma^i], with gamma = (1 + a) / (1 - a) for
  the relative accuracy a (default 0.01): any quantile read off the sketch is within a
  relative a of a value in that bin. Negative values go to the mirrored bins of -x. Zeros
  (|x| < TINY), missing values (a row without one) and non-finite values are counted exactly,
  as are n, min and max. A CDF read at a bin edge is exact, so the KS statistic from two
  sketches differs from the one on the raw values by at most the largest mass that one bin
  holds in either sketch (`max_bin_mass`).
- CategoricalSketch: exact counts of every value up to MAX_TRACKED distinct values per sketch
  (beyond that, the smallest counts are folded into "other", and the sketch says it is
  approximate); written with the top `max_categories` values and the rest as "other".

Counts are unweighted: drift is about the examples, not the metric's weights.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

import numpy as np

DEFAULT_ACCURACY = 0.01
DEFAULT_MAX_CATEGORIES = 100
MAX_TRACKED = 10_000  # distinct categories held exactly per sketch
TINY = 1e-12          # |x| below this counts as zero (log bins cannot hold 0)


def gamma_of(accuracy: float) -> float:
    """The ratio of a bin's upper to its lower edge for a relative accuracy."""
    return (1.0 + accuracy) / (1.0 - accuracy)


def bin_index(magnitudes: np.ndarray, accuracy: float) -> np.ndarray:
    """Bin index of each magnitude (> TINY): ceil(log(x) / log(gamma)), shape as given."""
    return np.ceil(np.log(magnitudes) / math.log(gamma_of(accuracy))).astype(np.int64)


def bin_upper(index: np.ndarray, accuracy: float) -> np.ndarray:
    """The upper edge gamma^i of bins i (the lower edge of bin i + 1)."""
    return np.exp(np.asarray(index, dtype=np.float64) * math.log(gamma_of(accuracy)))


def _add_counts(store: Dict[int, int], keys: np.ndarray, counts: np.ndarray) -> None:
    for k, c in zip(keys.tolist(), counts.tolist()):
        store[k] = store.get(k, 0) + c


class NumericSketch:
    """A log-binned histogram of numbers with exact zero / negative / missing counts.

    Attributes:
      accuracy: the relative accuracy a of the bins.
      positive, negative: {bin index: count} of the values > TINY and of -x for x < -TINY.
      zeros, missing, nonfinite: exact counts (missing: rows with no value at all).
      count: finite values held (zeros + the bins); min, max: of those values (None: none).
    """

    kind = "numeric"

    def __init__(self, accuracy: float = DEFAULT_ACCURACY):
        self.accuracy = float(accuracy)
        self.positive: Dict[int, int] = {}
        self.negative: Dict[int, int] = {}
        self.zeros = self.missing = self.nonfinite = 0
        self.min: Optional[float] = None
        self.max: Optional[float] = None

    @property
    def count(self) -> int:
        return self.zeros + sum(self.positive.values()) + sum(self.negative.values())

    @property
    def negatives(self) -> int:
        return sum(self.negative.values())

    def add(self, values: np.ndarray, missing: int = 0) -> "NumericSketch":
        """Adds values (shape [m], any numeric dtype) and `missing` rows without one."""
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        self.missing += int(missing)
        finite = np.isfinite(values)
        self.nonfinite += int(len(values) - finite.sum())
        values = values[finite]
        if not len(values):
            return self
        lo, hi = float(values.min()), float(values.max())
        self.min = lo if self.min is None else min(self.min, lo)
        self.max = hi if self.max is None else max(self.max, hi)
        mag = np.abs(values)
        small = mag < TINY
        self.zeros += int(small.sum())
        for store, side in ((self.positive, values > 0), (self.negative, values < 0)):
            side &= ~small
            if side.any():
                keys, counts = np.unique(bin_index(mag[side], self.accuracy), return_counts=True)
                _add_counts(store, keys, counts)
        return self

    def merge(self, others: Iterable["NumericSketch"]) -> "NumericSketch":
        """Adds the others' counts into this one (returned); exact, so order does not matter."""
        for o in others:
            if o.accuracy != self.accuracy:
                raise ValueError(f"cannot merge numeric sketches of relative accuracy "
                                 f"{self.accuracy} and {o.accuracy}")
            for mine, theirs in ((self.positive, o.positive), (self.negative, o.negative)):
                for k, c in theirs.items():
                    mine[k] = mine.get(k, 0) + c
            self.zeros += o.zeros
            self.missing += o.missing
            self.nonfinite += o.nonfinite
            for name, pick in (("min", min), ("max", max)):
                a, b = getattr(self, name), getattr(o, name)
                setattr(self, name, b if a is None else a if b is None else pick(a, b))
        return self

    def histogram(self) -> Tuple[np.ndarray, np.ndarray]:
        """(uppers, counts): the bins in value order, shape [k] each; a bin holds the values
        in (previous upper, upper]. The zero bin's upper edge is 0 (it holds [-TINY, TINY])."""
        neg = sorted(self.negative.items(), reverse=True)
        pos = sorted(self.positive.items())
        uppers = np.concatenate([-bin_upper([k - 1 for k, _ in neg], self.accuracy),
                                 [0.0] if self.zeros else [],
                                 bin_upper([k for k, _ in pos], self.accuracy)])
        counts = np.array([c for _, c in neg] + ([self.zeros] if self.zeros else [])
                          + [c for _, c in pos], dtype=np.float64)
        return uppers.astype(np.float64), counts

    def cdf(self, points: np.ndarray) -> np.ndarray:
        """The fraction of values <= each point, exact where the point is a bin's upper edge."""
        uppers, counts = self.histogram()
        total = counts.sum()
        if not total:
            return np.full(len(points), np.nan)
        cum = np.concatenate([[0.0], np.cumsum(counts)])
        return cum[np.searchsorted(uppers, points, side="right")] / total

    def quantile(self, q: float) -> float:
        """The q-quantile, to the sketch's relative accuracy: the upper edge of its bin."""
        uppers, counts = self.histogram()
        if not counts.sum():
            return float("nan")
        i = int(np.searchsorted(np.cumsum(counts), q * counts.sum(), side="left"))
        return float(uppers[min(i, len(uppers) - 1)])

    def max_bin_mass(self) -> float:
        """The largest fraction of the values in one bin: the bound on the KS error."""
        _, counts = self.histogram()
        return float(counts.max() / counts.sum()) if counts.sum() else 0.0

    def to_json(self) -> Dict[str, Any]:
        return {"kind": self.kind, "relative_accuracy": self.accuracy, "count": self.count,
                "missing": self.missing, "zeros": self.zeros, "negatives": self.negatives,
                "nonfinite": self.nonfinite, "min": self.min, "max": self.max,
                "positive": [[k, c] for k, c in sorted(self.positive.items())],
                "negative": [[k, c] for k, c in sorted(self.negative.items())]}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> "NumericSketch":
        s = cls(doc["relative_accuracy"])
        s.positive = {int(k): int(c) for k, c in doc.get("positive", [])}
        s.negative = {int(k): int(c) for k, c in doc.get("negative", [])}
        s.zeros, s.missing = int(doc.get("zeros", 0)), int(doc.get("missing", 0))
        s.nonfinite, s.min, s.max = int(doc.get("nonfinite", 0)), doc.get("min"), doc.get("max")
        return s


class CategoricalSketch:
    """Counts of each value (as text), exact up to MAX_TRACKED distinct values.

    Attributes:
      counts: {value: count}; other: values folded away; missing: rows with no value.
      approximate: True once values were folded while adding (more than MAX_TRACKED).
    """

    kind = "categorical"

    def __init__(self, max_categories: int = DEFAULT_MAX_CATEGORIES):
        self.max_categories = int(max_categories)
        self.counts: Dict[str, int] = {}
        self.other = self.missing = 0
        self.approximate = False

    @property
    def count(self) -> int:
        return sum(self.counts.values()) + self.other

    def add(self, values: np.ndarray, missing: int = 0) -> "CategoricalSketch":
        """Adds values (shape [m]; numbers and booleans are counted by their text)."""
        self.missing += int(missing)
        values = np.asarray(values)
        if values.dtype.kind == "f":
            values = values[~np.isnan(values)]
        if len(values):
            keys, counts = np.unique(values, return_counts=True)
            _add_counts(self.counts, np.array([_text(k) for k in keys.tolist()], dtype=object),
                        counts)
            self._fold(MAX_TRACKED)
        return self

    def _fold(self, keep: int) -> None:
        if len(self.counts) > keep:
            ranked = self.ranked()
            self.other += sum(c for _, c in ranked[keep:])
            self.counts = dict(ranked[:keep])
            self.approximate = True

    def ranked(self) -> List[Tuple[str, int]]:
        """(value, count) by count, then value: the order in which values are kept."""
        return sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))

    def merge(self, others: Iterable["CategoricalSketch"]) -> "CategoricalSketch":
        for o in others:
            for k, c in o.counts.items():
                self.counts[k] = self.counts.get(k, 0) + c
            self.other += o.other
            self.missing += o.missing
            self.approximate |= o.approximate
        self._fold(MAX_TRACKED)
        return self

    def to_json(self) -> Dict[str, Any]:
        ranked = self.ranked()
        top = ranked[:self.max_categories]
        return {"kind": self.kind, "count": self.count, "missing": self.missing,
                "distinct": len(ranked), "values": [[k, c] for k, c in top],
                "other": self.other + sum(c for _, c in ranked[self.max_categories:]),
                "approximate": self.approximate}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> "CategoricalSketch":
        s = cls(max(len(doc.get("values", [])), 1))
        s.counts = {str(k): int(c) for k, c in doc.get("values", [])}
        s.other, s.missing = int(doc.get("other", 0)), int(doc.get("missing", 0))
        s.approximate = bool(doc.get("approximate", False))
        return s


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def sketch_from_json(doc: Mapping[str, Any]) -> Any:
    """The sketch a to_json() document describes."""
    kinds = {"numeric": NumericSketch, "categorical": CategoricalSketch}
    if doc.get("kind") not in kinds:
        raise ValueError(f"unknown sketch kind {doc.get('kind')!r} (expected numeric or "
                         f"categorical)")
    return kinds[doc["kind"]].from_json(doc)


def new_sketch(kind: str, accuracy: float = DEFAULT_ACCURACY,
               max_categories: int = DEFAULT_MAX_CATEGORIES) -> Any:
    return NumericSketch(accuracy) if kind == "numeric" else CategoricalSketch(max_categories)


__all__ = ["CategoricalSketch", "DEFAULT_ACCURACY", "DEFAULT_MAX_CATEGORIES", "MAX_TRACKED",
           "NumericSketch", "TINY", "bin_index", "bin_upper", "gamma_of", "new_sketch",
           "sketch_from_json"]
