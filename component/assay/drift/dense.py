"""Sketch counting for every slice at once: one dense [slices, cells] count matrix per column.

Adding a batch to one sketch per slice would cost numpy calls per slice and column; here a
column's counts for every slice live in one matrix, updated with one bincount per batch for
all slicing specs together (the pairs (slice, value) of every spec are concatenated first).
Columns are cells: for a numeric column, the zeros, the non-finite values and the positive and
negative log bins (each bin range grown as new bins come); for a categorical one, the values'
texts. The matrices merge as matrices (shards, workers) and become per-slice NumericSketch /
CategoricalSketch objects only at the end (`sketches`), so what is written is exactly what
adding the values one slice at a time gives.

The one exception keeps the sketches' own semantics: a categorical column whose vocabulary
outgrows MAX_TRACKED (per shard, or once shards are merged) is no longer merged here; the
caller turns it into per-slice sketches, which fold their rarest values into "other".
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from assay.drift.sketches import (MAX_TRACKED, TINY, CategoricalSketch, NumericSketch,
                                  bin_index, _text)

ZERO, NONFINITE = 0, 1  # the first two cells of a numeric column


class DenseColumn:
    """One column's counts for every slice: counts[slice id, cell].

    Slice ids are the accumulator's (assay.drift.extension.DriftAccumulator.keys); a slice
    has a sketch in this column once a batch holding it was added (`present`).

    Attributes:
      kind: "numeric" or "categorical".
      counts: [slices, cells] int64. Numeric cells: ZERO, NONFINITE, then the positive bins
        pos_lo.. (pos_width of them), then the negative bins neg_lo.. (neg_width).
        Categorical cells: the codes of `vocabulary` ({text: code}).
      missing, other: [slices] rows without a value; values beyond MAX_TRACKED (categorical).
      low, high: [slices] the smallest and largest finite value (numeric; +-inf: none).
      approximate: the vocabulary outgrew MAX_TRACKED (values then counted as other).
    """

    def __init__(self, kind: str, accuracy: float, top: int):
        self.kind, self.accuracy, self.top = kind, accuracy, top
        self.counts = np.zeros((0, 2 if kind == "numeric" else 0), np.int64)
        self.present = np.zeros(0, bool)
        self.missing = np.zeros(0, np.int64)
        self.other = np.zeros(0, np.int64)
        self.low = np.zeros(0)
        self.high = np.zeros(0)
        self.pos_lo = self.pos_width = self.neg_lo = self.neg_width = 0
        self.vocabulary: Dict[str, int] = {}
        self.approximate = False

    def grow(self, n_slices: int) -> None:
        """Makes room for slice ids < n_slices."""
        more = n_slices - len(self.present)
        if more <= 0:
            return
        self.counts = np.pad(self.counts, ((0, more), (0, 0)))
        self.present = np.concatenate([self.present, np.zeros(more, bool)])
        self.missing = np.concatenate([self.missing, np.zeros(more, np.int64)])
        self.other = np.concatenate([self.other, np.zeros(more, np.int64)])
        self.low = np.concatenate([self.low, np.full(more, np.inf)])
        self.high = np.concatenate([self.high, np.full(more, -np.inf)])

    def add(self, present: np.ndarray, missing: Optional[np.ndarray], slices: np.ndarray,
            index: np.ndarray, values: np.ndarray) -> None:
        """Adds one batch for every slice at once.

        Args:
          present: [slices] bool, the slices the batch holds (grown to with `grow` first).
          missing: [slices] rows of each slice without a value, or None (none).
          slices, index: [k] pair j puts values[index[j]] in slice slices[j].
          values: [m] the column's values in the batch.
        """
        self.present |= present
        if missing is not None:
            self.missing += missing
        if self.kind == "categorical":
            self._add_categories(slices, index, values)
        elif values.dtype.kind not in "iuf":  # text in a numeric column: not a number
            self.counts[:, NONFINITE] += np.bincount(slices, minlength=len(self.present))
        else:
            self._add_numbers(slices, index, values.astype(np.float64, copy=False))

    def _count(self, slices: np.ndarray, cells: np.ndarray) -> None:
        # add.at on the flat view, not a bincount: a bincount's [slices * cells] result is
        # a fresh allocation each batch, and that (page faults included) cost more than the
        # counting itself.
        if not self.counts.flags.c_contiguous:  # so that reshape gives a view, not a copy
            self.counts = np.ascontiguousarray(self.counts)
        np.add.at(self.counts.reshape(-1), slices * self.counts.shape[1] + cells, 1)

    def _add_numbers(self, slices: np.ndarray, index: np.ndarray, v: np.ndarray) -> None:
        # Each value's cell once; then every spec's pairs pick theirs.
        finite = np.isfinite(v)
        mag = np.abs(v)
        cells = np.full(len(v), NONFINITE, np.int64)
        cells[finite & (mag < TINY)] = ZERO
        pos = finite & (v >= TINY)
        neg = finite & (v <= -TINY)
        pos_bins, neg_bins = bin_index(mag[pos], self.accuracy), bin_index(mag[neg], self.accuracy)
        self._cover(pos_bins, neg_bins)
        cells[pos] = 2 + pos_bins - self.pos_lo
        cells[neg] = 2 + self.pos_width + neg_bins - self.neg_lo
        self._count(slices, cells[index])
        ok = finite[index]
        if not ok.all():
            slices, index = slices[ok], index[ok]
        pair_values = v[index]
        # Over every pair: with numpy's fast ufunc.at (1.25+), cheaper than picking first the
        # few values past a slice's extreme. Ties go to the later value (-0.0, 0.0).
        np.minimum.at(self.low, slices, pair_values)
        np.maximum.at(self.high, slices, pair_values)

    def _cover(self, pos_bins: np.ndarray, neg_bins: np.ndarray) -> None:
        """Widens the bin ranges to hold these bins."""
        self._cover_span(_span(pos_bins, self.pos_lo, self.pos_width),
                         _span(neg_bins, self.neg_lo, self.neg_width))

    def _cover_span(self, pos: Tuple[int, int], neg: Tuple[int, int]) -> None:
        """Moves the counts to the bin layout (pos, neg): (lo, width) of each side."""
        if pos != (self.pos_lo, self.pos_width) or neg != (self.neg_lo, self.neg_width):
            self.counts = self._relayout(pos, neg)
            (self.pos_lo, self.pos_width), (self.neg_lo, self.neg_width) = pos, neg

    def _cell_map(self, pos: Tuple[int, int], neg: Tuple[int, int]) -> np.ndarray:
        """Where each of this column's cells goes in the layout (pos, neg) that covers it."""
        return np.concatenate([[ZERO, NONFINITE],
                               2 + self.pos_lo - pos[0] + np.arange(self.pos_width),
                               2 + pos[1] + self.neg_lo - neg[0] + np.arange(self.neg_width)])

    def _relayout(self, pos: Tuple[int, int], neg: Tuple[int, int]) -> np.ndarray:
        out = np.zeros((self.counts.shape[0], 2 + pos[1] + neg[1]), np.int64)
        out[:, self._cell_map(pos, neg)] = self.counts
        return out

    def _add_categories(self, slices: np.ndarray, index: np.ndarray, values: np.ndarray) -> None:
        codes = np.full(len(values), -2, np.int64)  # -2: NaN, neither counted nor missing
        keep = ~np.isnan(values) if values.dtype.kind == "f" else np.ones(len(values), bool)
        uniques, inverse = np.unique(values[keep], return_inverse=True)
        unique_codes = np.empty(len(uniques), np.int64)
        for i, u in enumerate(uniques.tolist()):
            text = _text(u)
            if text not in self.vocabulary and len(self.vocabulary) >= MAX_TRACKED:
                unique_codes[i] = -1  # beyond the cap: counted as other
                self.approximate = True
                continue
            unique_codes[i] = self.vocabulary.setdefault(text, len(self.vocabulary))
        codes[keep] = unique_codes[inverse.reshape(-1)]
        if len(self.vocabulary) > self.counts.shape[1]:
            self.counts = np.pad(self.counts, ((0, 0), (0, len(self.vocabulary)
                                                       - self.counts.shape[1])))
        pair_codes = codes[index]
        other = pair_codes == -1
        if other.any():
            self.other += np.bincount(slices[other], minlength=len(self.present))
        counted = pair_codes >= 0
        self._count(slices[counted], pair_codes[counted])

    def merge(self, other: "DenseColumn", ids: np.ndarray) -> bool:
        """Adds `other` (its slice i is this column's slice ids[i]; grown first). False, and
        nothing changed, for categorical columns that would hold more than MAX_TRACKED values:
        those merge as sketches (see the module docstring)."""
        ids = ids[:len(other.present)]  # slices other's accumulator added after its last batch
        if self.kind == "categorical":
            if self.approximate or other.approximate:
                return False
            fresh = [t for t in other.vocabulary if t not in self.vocabulary]
            if len(self.vocabulary) + len(fresh) > MAX_TRACKED:
                return False
            for t in fresh:
                self.vocabulary[t] = len(self.vocabulary)
            self.counts = np.pad(self.counts, ((0, 0), (0, len(self.vocabulary)
                                                       - self.counts.shape[1])))
            cells = np.array([self.vocabulary[t] for t in other.vocabulary], np.int64)
        else:
            pos = _span(np.array([other.pos_lo, other.pos_lo + other.pos_width - 1])
                        if other.pos_width else np.zeros(0), self.pos_lo, self.pos_width)
            neg = _span(np.array([other.neg_lo, other.neg_lo + other.neg_width - 1])
                        if other.neg_width else np.zeros(0), self.neg_lo, self.neg_width)
            self._cover_span(pos, neg)
            cells = other._cell_map(pos, neg)
        if len(cells):
            self.counts[np.ix_(ids, cells)] += other.counts
        self.present[ids] |= other.present
        self.missing[ids] += other.missing
        self.other[ids] += other.other
        # Ties keep this column's value, as NumericSketch.merge does (-0.0 against 0.0).
        mine_low, mine_high = self.low[ids], self.high[ids]
        self.low[ids] = np.where(other.low < mine_low, other.low, mine_low)
        self.high[ids] = np.where(other.high > mine_high, other.high, mine_high)
        return True

    def fold(self, src: np.ndarray, dst: np.ndarray) -> None:
        """Adds slice src[j] to slice dst[j] for every j (atoms into the slices they make
        up: assay.engine.atoms); src and dst never share a slice."""
        np.add.at(self.counts, dst, self.counts[src])
        np.logical_or.at(self.present, dst, self.present[src])
        np.add.at(self.missing, dst, self.missing[src])
        np.add.at(self.other, dst, self.other[src])
        np.minimum.at(self.low, dst, self.low[src])
        np.maximum.at(self.high, dst, self.high[src])

    def take(self, ids: np.ndarray) -> None:
        """Keeps only slices `ids` (renumbered 0..len(ids)-1 in that order)."""
        for name in ("counts", "present", "missing", "other", "low", "high"):
            setattr(self, name, getattr(self, name)[ids])

    def sketches(self, keys: List[Any]) -> Dict[Any, Any]:
        """{slice key: sketch} of every present slice (keys: the key of each slice id)."""
        out = {}
        ids = np.flatnonzero(self.present)
        counts = self.counts[ids]
        if self.kind == "categorical":
            names = np.array(list(self.vocabulary) or [""], dtype=object)  # by code
            per_row = _row_dicts(counts, lambda cells: names[cells].tolist())
        else:
            pos_end = 2 + self.pos_width
            positive = _row_dicts(counts[:, 2:pos_end], lambda c: (c + self.pos_lo).tolist())
            negative = _row_dicts(counts[:, pos_end:], lambda c: (c + self.neg_lo).tolist())
        for j, i in enumerate(ids.tolist()):
            if self.kind == "categorical":
                s = CategoricalSketch(self.top)
                s.counts = per_row[j]
                s.other, s.approximate = int(self.other[i]), self.approximate
            else:
                s = NumericSketch(self.accuracy)
                s.zeros, s.nonfinite = int(counts[j, ZERO]), int(counts[j, NONFINITE])
                s.positive, s.negative = positive[j], negative[j]
                if np.isfinite(self.low[i]):
                    s.min, s.max = float(self.low[i]), float(self.high[i])
            s.missing = int(self.missing[i])
            out[keys[i]] = s
        return out


def _span(bins: np.ndarray, lo: int, width: int) -> Tuple[int, int]:
    """(lo, width) of the smallest bin range holding both `bins` and lo..lo+width-1."""
    if not len(bins):
        return lo, width
    b_lo, b_hi = int(bins.min()), int(bins.max())
    if width:
        b_lo, b_hi = min(b_lo, lo), max(b_hi, lo + width - 1)
    return b_lo, b_hi - b_lo + 1


def _row_dicts(block: np.ndarray, names: Any) -> List[Dict[Any, int]]:
    """[{name of cell: count} of each row of block ([rows, cells]), nonzero counts only];
    names(cell indices) gives the names. One nonzero() for the whole matrix, not one a row."""
    rows, cells = np.nonzero(block)
    keys, counts = names(cells), block[rows, cells].tolist()
    bounds = np.searchsorted(rows, np.arange(block.shape[0] + 1)).tolist()
    return [dict(zip(keys[a:b], counts[a:b])) for a, b in zip(bounds[:-1], bounds[1:])]


def group_values(rows: np.ndarray, g_rows: np.ndarray, g_ids: np.ndarray
                 ) -> Tuple[np.ndarray, np.ndarray]:
    """(group, value index) pairs: value j (in batch row rows[j]) belongs to every group
    holding that row (a row is in one slice of each spec, and a multi-valued slice feature
    puts it in several)."""
    if len(g_rows) and np.bincount(g_rows).max() <= 1:  # one group a row
        group_of_row = np.full(int(max(g_rows.max(), rows.max(initial=0))) + 1, -1, np.int64)
        group_of_row[g_rows] = g_ids
        value_group = group_of_row[rows]
        value_index = np.flatnonzero(value_group >= 0)
        return value_group[value_index], value_index
    order = np.argsort(g_rows, kind="stable")
    sorted_rows, sorted_ids = g_rows[order], g_ids[order]
    lo = np.searchsorted(sorted_rows, rows, side="left")
    hi = np.searchsorted(sorted_rows, rows, side="right")
    count = hi - lo
    total = int(count.sum())
    value_index = np.repeat(np.arange(len(rows)), count)
    offsets = np.arange(total) - np.repeat(np.cumsum(count) - count, count)
    return sorted_ids[np.repeat(lo, count) + offsets], value_index


__all__ = ["DenseColumn", "group_values"]
