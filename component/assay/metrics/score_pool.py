"""Exact score counts of many slices, with one pool of pending entries (for binary_dense).

A slice's exact score counts are (key, pos, neg) per distinct prediction, sorted by key. Kept
wholly per slice, each batch cost Python work per slice: a copy of its entries into the slice's
list, then a sort and a merge per slice every few batches. Here:

  * held: per slice, its merged (keys, pos, neg), sorted, one entry per distinct key; whole
    counts held as uint8 or uint16 where they fit (a slice's 10,000 keys then take 60 kB, not
    120 kB: 168 such slices were most of what a pass held);
  * pending: the batches' entries as they came, one entry per row (copies, one tuple of arrays
    per batch, not per slice). At a merge (`flush`) they are sorted by (slice id, key), all
    slices at once, by one sort, summed per (slice, key), and each slice's run is added
    to its held counts by one linear merge (np.searchsorted);
  * after a merge, a slice with more than max_exact distinct keys is handed back to be bucketed
    (its form depends on its distinct keys alone, as on the per-slice path).

The caller merges when the pending entries reach a fixed number, so a merge's temporary arrays
stay a few MB however many counts are held. Equal (slice, key) entries are summed in the order
they came (the sort is stable; while they are whole counts, which sum to the same in any
order, a faster unstable sort is used), added to the held sums after.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from assay.metrics.curves import _order_key, _run_starts, score_runs
from assay.metrics.score_counts import narrow_counts

Counts = Tuple[np.ndarray, np.ndarray, np.ndarray]  # (keys, pos, neg)


class ExactPool:
    """Exact (key, pos, neg) counts per slice id, for many slices (see module doc)."""

    def __init__(self, key_dtype: Any, count_dtype: Any):
        self.key_dtype, self.count_dtype = np.dtype(key_dtype), np.dtype(count_dtype)
        self.held: Dict[int, Counts] = {}
        self.parts: List[Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.n_pending = 0

    def add(self, sid: np.ndarray, keys: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> None:
        """Entries (slice id, key, pos, neg), in any order, to merge later; copied in the held
        dtypes, so that no batch's arrays stay alive for them."""
        if not len(sid):
            return
        self.parts.append((np.asarray(sid).astype(np.int32), keys.astype(self.key_dtype),
                           pos.astype(self.count_dtype), neg.astype(self.count_dtype)))
        self.n_pending += len(sid)

    def flush(self, max_exact: Optional[int]) -> List[Tuple[int, Counts]]:
        """Merges the pending entries into the held ones. Returns [(slice id, its counts)] of
        the slices that then hold more than max_exact distinct keys (no longer held)."""
        if not self.parts:
            return []
        parts, self.parts, self.n_pending = self.parts, [], 0
        cols = [np.concatenate([p[i] for p in parts]) for i in range(4)]
        del parts
        # Counts (not weights) sum to the same in any order: no need for a stable sort.
        order = sort_order(cols[0], cols[1], stable=self.count_dtype.kind == "f")
        sid, keys, pos, neg = score_runs(*(c[order] for c in cols))
        del cols, order
        starts = _run_starts(sid)
        bounds = np.r_[starts, len(sid)].tolist()
        spill = []
        for i, s in enumerate(sid[starts].tolist()):
            a, b = bounds[i], bounds[i + 1]
            new = (keys[a:b].copy(), pos[a:b].copy(), neg[a:b].copy())  # not views of the lot
            held = self.held.pop(s, None)
            counts = new if held is None else merged(self._loaded(held), *new)
            if max_exact is not None and len(counts[0]) > max_exact:
                spill.append((s, counts))
            else:
                self.held[s] = self._stored(counts)
        return spill

    def holds(self, sid: int) -> bool:
        """Whether the slice has entries, held or pending."""
        return sid in self.held or any((p[0] == sid).any() for p in self.parts)

    def entries(self, sid: int) -> Counts:
        """The slice's held (keys, pos, neg) (merged: call flush first)."""
        if sid in self.held:
            return self._loaded(self.held[sid])
        return np.zeros(0, self.key_dtype), *(np.zeros(0, self.count_dtype),) * 2

    def take(self, sid: int) -> Counts:
        """Hands the slice's held counts over and forgets them (merged: call flush first)."""
        counts = self.entries(sid)
        self.held.pop(sid, None)
        return counts

    def widen(self, keys: bool = False, counts: bool = False) -> None:
        """Held and pending entries as float64 keys and/or float64 counts."""
        def wide(arrays: tuple, at: int) -> tuple:
            out = list(arrays)
            if keys:
                out[at] = out[at].astype(np.float64)
            if counts:
                out[at + 1], out[at + 2] = (a.astype(np.float64) for a in out[at + 1:at + 3])
            return tuple(out)

        self.key_dtype = np.dtype(np.float64) if keys else self.key_dtype
        self.count_dtype = np.dtype(np.float64) if counts else self.count_dtype
        self.held = {s: wide(c, 0) for s, c in self.held.items()}
        self.parts = [wide(p, 1) for p in self.parts]

    def _stored(self, counts: Counts) -> Counts:
        """A slice's counts as held: whole counts in the narrowest unsigned dtype that holds
        them (most keys count one example or a few: 6 bytes an entry, not 12)."""
        if self.count_dtype.kind != "i":
            return counts
        keys, pos, neg = counts
        return keys, narrow_counts(pos), narrow_counts(neg)

    def _loaded(self, counts: Counts) -> Counts:
        """Held counts in the pool's count dtype (copies where they were narrowed)."""
        keys, pos, neg = counts
        return keys, pos.astype(self.count_dtype, copy=False), neg.astype(self.count_dtype,
                                                                          copy=False)

    def clear(self) -> None:
        self.held, self.parts, self.n_pending = {}, [], 0


def merged(held: Counts, keys: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> Counts:
    """Sorted distinct (keys, pos, neg) `held` plus sorted distinct new ones: added in place
    where the key is held, inserted where not. Linear in what is held, where a sort of both
    would cost n log n: a slice's held counts are usually far more than one merge brings."""
    h_keys, h_pos, h_neg = held
    if not len(h_keys):
        return keys, pos, neg
    h_order, order = _order_key(h_keys), _order_key(keys)
    at = np.searchsorted(h_order, order)
    # Past the end (at == len), the last held key is less: no hit.
    hit = h_order.take(at, mode="clip") == order
    h_pos[at[hit]] += pos[hit]  # distinct keys: no index twice
    h_neg[at[hit]] += neg[hit]
    if hit.all():
        return h_keys, h_pos, h_neg
    # The new entries' places in the result (`at` is sorted, as the new keys are), and the
    # held entries' in the rest: one placement for the three arrays.
    new = ~hit
    placed = at[new] + np.arange(int(new.sum()))
    held_at = np.ones(len(h_keys) + len(placed), bool)
    held_at[placed] = False
    out = []
    for h, v in ((h_keys, keys), (h_pos, pos), (h_neg, neg)):
        merged_ = np.empty(len(held_at), h.dtype)
        merged_[held_at] = h
        merged_[placed] = v[new]
        out.append(merged_)
    return tuple(out)


def sort_order(sid: np.ndarray, keys: np.ndarray, stable: bool = True) -> np.ndarray:
    """The order of entries by (slice id, key), stable (equal entries in the order given) or
    not (several times faster): one sort of a 64-bit integer when keys are float32 (slice id
    above the key's order bits), a lexsort (stable) of the two otherwise."""
    if keys.dtype == np.float32:
        low = (_order_key(keys).astype(np.int64) + (1 << 31)).astype(np.uint64)
        combined = (sid.astype(np.uint64) << np.uint64(32)) | low
        return np.argsort(combined, kind="stable" if stable else "quicksort")
    return np.lexsort((_order_key(keys.astype(np.float64, copy=False)), sid))
