"""Per-batch sketch counting for every slice at once: dense [slices, codes] count matrices.

Adding a batch to one sketch per slice would cost a numpy call per slice and column; here a
column's counts for every slice live in one matrix (rows: slices, columns: bin indices or
category codes, both grown as new ones come), updated with one bincount per batch. At the
end (`sketches`) each row becomes the NumericSketch / CategoricalSketch it counts, so what is
written and merged is exactly what adding the values one slice at a time gives.
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

import numpy as np

from assay.drift.sketches import (MAX_TRACKED, TINY, CategoricalSketch, NumericSketch,
                                  bin_index, _text)


class CountTable:
    """counts[row, code - lo]: how often each code occurred in each row's slice."""

    def __init__(self):
        self.lo = 0
        self.counts = np.zeros((0, 0), dtype=np.int64)

    def add(self, rows: np.ndarray, codes: np.ndarray, n_rows: int) -> None:
        if self.counts.shape[0] < n_rows:
            self.counts = np.pad(self.counts, ((0, n_rows - self.counts.shape[0]), (0, 0)))
        if not len(codes):
            return
        lo, hi = int(codes.min()), int(codes.max())
        if not self.counts.shape[1]:
            self.lo, self.counts = lo, np.zeros((self.counts.shape[0], hi - lo + 1), np.int64)
        elif lo < self.lo or hi >= self.lo + self.counts.shape[1]:
            new_lo = min(lo, self.lo)
            new_hi = max(hi, self.lo + self.counts.shape[1] - 1)
            self.counts = np.pad(self.counts, ((0, 0), (self.lo - new_lo,
                                                      new_hi - self.lo - self.counts.shape[1] + 1)))
            self.lo = new_lo
        width = self.counts.shape[1]
        flat = rows.astype(np.int64) * width + (codes - self.lo)
        self.counts += np.bincount(flat, minlength=self.counts.size).reshape(self.counts.shape)

    def row(self, i: int) -> Dict[int, int]:
        if i >= self.counts.shape[0] or not self.counts.shape[1]:
            return {}
        nz = np.flatnonzero(self.counts[i])
        return dict(zip((nz + self.lo).tolist(), self.counts[i, nz].tolist()))


class DenseColumn:
    """One column's sketches for every slice seen so far (rows: slices, in `keys` order).

    Attributes:
      kind: "numeric" or "categorical".
      keys: the slice key of each row.
    """

    def __init__(self, kind: str, accuracy: float, top: int):
        self.kind, self.accuracy, self.top = kind, accuracy, top
        self.keys: List[Any] = []
        self.row_of: Dict[Any, int] = {}
        self.tables = (CountTable(), CountTable())   # positive / negative bins, or categories
        self.extra = np.zeros((0, 4), np.int64)      # missing, zeros, nonfinite, other
        self.low = np.zeros(0)
        self.high = np.zeros(0)
        self.vocabulary: Dict[str, int] = {}
        self.approximate = False

    def rows(self, keys: List[Any]) -> np.ndarray:
        """The row of each slice key (new rows for new keys)."""
        out = []
        for key in keys:
            if key not in self.row_of:
                self.row_of[key] = len(self.keys)
                self.keys.append(key)
            out.append(self.row_of[key])
        grow = len(self.keys) - len(self.extra)
        if grow > 0:
            self.extra = np.pad(self.extra, ((0, grow), (0, 0)))
            self.low = np.concatenate([self.low, np.full(grow, np.inf)])
            self.high = np.concatenate([self.high, np.full(grow, -np.inf)])
        return np.array(out, dtype=np.int64)

    def add(self, rows: np.ndarray, values: np.ndarray, missing_rows: np.ndarray,
            missing: np.ndarray) -> None:
        """Adds values (shape [m]) in slice rows `rows` ([m]); `missing` rows without a value
        in slice rows `missing_rows`."""
        np.add.at(self.extra[:, 0], missing_rows, missing)
        n = len(self.keys)
        if self.kind == "categorical":
            self._add_categories(rows, values, n)
            return
        if values.dtype.kind not in "iuf":  # text in a numeric column: not a number
            np.add.at(self.extra[:, 2], rows, 1)
            return
        v = values.astype(np.float64, copy=False)
        finite = np.isfinite(v)
        if not finite.all():
            np.add.at(self.extra[:, 2], rows[~finite], 1)
            rows, v = rows[finite], v[finite]
        np.minimum.at(self.low, rows, v)
        np.maximum.at(self.high, rows, v)
        mag = np.abs(v)
        small = mag < TINY
        np.add.at(self.extra[:, 1], rows[small], 1)
        for table, side in zip(self.tables, (v > 0, v < 0)):
            side &= ~small
            table.add(rows[side], bin_index(mag[side], self.accuracy), n)

    def _add_categories(self, rows: np.ndarray, values: np.ndarray, n: int) -> None:
        if values.dtype.kind == "f":
            keep = ~np.isnan(values)
            rows, values = rows[keep], values[keep]
        uniques, inverse = np.unique(values, return_inverse=True)
        codes = np.empty(len(uniques), np.int64)
        for i, u in enumerate(uniques.tolist()):
            text = _text(u)
            if text not in self.vocabulary and len(self.vocabulary) >= MAX_TRACKED:
                codes[i] = -1  # beyond the cap: counted as other
                self.approximate = True
                continue
            codes[i] = self.vocabulary.setdefault(text, len(self.vocabulary))
        per_value = codes[inverse.reshape(-1)]
        other = per_value < 0
        np.add.at(self.extra[:, 3], rows[other], 1)
        self.tables[0].add(rows[~other], per_value[~other], n)

    def sketches(self) -> Dict[Any, Any]:
        """{slice key: sketch} of every row."""
        out = {}
        names = {code: text for text, code in self.vocabulary.items()}
        for i, key in enumerate(self.keys):
            missing, zeros, nonfinite, other = (int(x) for x in self.extra[i])
            if self.kind == "categorical":
                s = CategoricalSketch(self.top)
                s.counts = {names[c]: n for c, n in self.tables[0].row(i).items()}
                s.other, s.approximate = other, self.approximate
            else:
                s = NumericSketch(self.accuracy)
                s.positive, s.negative = self.tables[0].row(i), self.tables[1].row(i)
                s.zeros, s.nonfinite = zeros, nonfinite
                if np.isfinite(self.low[i]):
                    s.min, s.max = float(self.low[i]), float(self.high[i])
            s.missing = missing
            out[key] = s
        return out


def group_values(rows: np.ndarray, g_rows: np.ndarray, g_ids: np.ndarray
                 ) -> Tuple[np.ndarray, np.ndarray]:
    """(group, value index) pairs: value j (in batch row rows[j]) belongs to every group
    holding that row (a multi-valued slice feature puts a row in several groups)."""
    if len(g_rows) and np.bincount(g_rows).max() <= 1:  # the usual case: one group a row
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


__all__ = ["CountTable", "DenseColumn", "group_values"]
