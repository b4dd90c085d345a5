"""Exact score counts of many slices, with one pool of pending entries (for binary_dense).

A slice's exact score counts are (key, pos, neg) per distinct prediction, sorted by key. Kept
wholly per slice, each batch cost Python work per slice: a copy of its entries into the slice's
list, then a sort and a merge per slice every few batches. Here:

  * held: per slice, its merged (keys, pos, neg), sorted, one entry per distinct key. Keys are
    held as their order keys (curves._order_key: the integers a merge compares, made once for
    all slices at a flush, not again for each slice's held keys at every merge); whole counts
    as uint8 or uint16 where they fit (a slice's 10,000 keys then take 60 kB, not 120 kB: 168
    such slices were most of what a pass held), widened by a merge only when a sum passes;
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
from assay.metrics.score_counts import narrow_count_dtype, narrow_counts

Counts = Tuple[np.ndarray, np.ndarray, np.ndarray]  # (keys, pos, neg)


class ExactPool:
    """Exact (key, pos, neg) counts per slice id, for many slices (see module doc)."""

    def __init__(self, key_dtype: Any, count_dtype: Any):
        self.key_dtype, self.count_dtype = np.dtype(key_dtype), np.dtype(count_dtype)
        self.held: Dict[int, Counts] = {}
        self.parts: List[Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.n_pending = 0
        self.runs = True  # every pending part is sorted by key (and of one slice)

    def add(self, sid: np.ndarray, keys: np.ndarray, pos: np.ndarray, neg: np.ndarray,
            runs: bool = False) -> None:
        """Entries (slice id, key, pos, neg), in any order, to merge later; copied in the held
        dtypes, so that no batch's arrays stay alive for them. runs: they are of one slice and
        sorted by key (another slice's held counts): a merge then sorts by a stable sort, which
        merges such runs in a fraction of the time a quicksort takes."""
        if not len(sid):
            return
        self.runs = self.runs and runs
        self.parts.append((np.asarray(sid).astype(np.int32), keys.astype(self.key_dtype),
                           pos.astype(self.count_dtype), neg.astype(self.count_dtype)))
        self.n_pending += len(sid)

    def flush(self, max_exact: Optional[int]) -> List[Tuple[int, Counts]]:
        """Merges the pending entries into the held ones. Returns [(slice id, its counts)] of
        the slices that then hold more than max_exact distinct keys (no longer held)."""
        if not self.parts:
            return []
        parts, self.parts, self.n_pending, runs = self.parts, [], 0, self.runs
        self.runs = True
        cols = [np.concatenate([p[i] for p in parts]) for i in range(4)]
        del parts
        # Counts (not weights) sum to the same in any order: no need for a stable sort, but
        # for sorted runs it is the faster.
        order = sort_order(cols[0], cols[1], stable=runs or self.count_dtype.kind == "f")
        sid, keys, pos, neg = score_runs(*(c[order] for c in cols))
        del cols, order
        okeys = _order_key(keys)  # the held form, for every slice at once
        del keys
        starts = _run_starts(sid)
        bounds = np.r_[starts, len(sid)].tolist()
        spill = []
        for i, s in enumerate(sid[starts].tolist()):
            a, b = bounds[i], bounds[i + 1]
            held = self.held.pop(s, None)
            if held is None:  # copies (narrowed, or not views of the lot)
                counts = (okeys[a:b].copy(), self._narrow(pos[a:b]), self._narrow(neg[a:b]))
            else:
                counts = merged(held, okeys[a:b], pos[a:b], neg[a:b])
            if max_exact is not None and len(counts[0]) > max_exact:
                spill.append((s, self._loaded(counts)))
            else:
                self.held[s] = counts
        return spill

    def holds(self, sid: int) -> bool:
        """Whether the slice has entries, held or pending."""
        return sid in self.held or any((p[0] == sid).any() for p in self.parts)

    def entries(self, sid: int) -> Counts:
        """The slice's held (keys, pos, neg) (merged: call flush first)."""
        if sid in self.held:
            return self._loaded(self.held[sid])
        return np.zeros(0, self.key_dtype), *(np.zeros(0, self.count_dtype),) * 2

    def held_entries(self, sid: int) -> Counts:
        """The slice's held (keys, pos, neg), counts as held (narrow, not copied)."""
        if sid not in self.held:
            return self.entries(sid)
        okeys, pos, neg = self.held[sid]
        return _key_values(okeys), pos, neg

    def order_keys(self, sid: int, dtype: Any) -> np.ndarray:
        """The order keys (curves._order_key) of the slice's held keys as `dtype` values
        (merged: call flush first)."""
        if np.dtype(dtype) == self.key_dtype:
            return self.held[sid][0] if sid in self.held else _order_key(
                np.zeros(0, self.key_dtype))
        return _order_key(self.entries(sid)[0].astype(dtype))

    def take(self, sid: int) -> Counts:
        """Hands the slice's held counts over and forgets them (merged: call flush first)."""
        counts = self.entries(sid)
        self.held.pop(sid, None)
        return counts

    def widen(self, keys: bool = False, counts: bool = False) -> None:
        """Held and pending entries as float64 keys and/or float64 counts."""
        def wide(arrays: tuple, at: int, held: bool) -> tuple:
            out = list(arrays)
            if keys:
                out[at] = (_order_key(_key_values(out[at]).astype(np.float64)) if held
                           else out[at].astype(np.float64))
            if counts:
                out[at + 1], out[at + 2] = (a.astype(np.float64) for a in out[at + 1:at + 3])
            return tuple(out)

        self.key_dtype = np.dtype(np.float64) if keys else self.key_dtype
        self.count_dtype = np.dtype(np.float64) if counts else self.count_dtype
        self.held = {s: wide(c, 0, True) for s, c in self.held.items()}
        self.parts = [wide(p, 1, False) for p in self.parts]

    def _narrow(self, counts: np.ndarray) -> np.ndarray:
        """New counts as held (a copy): whole counts in the narrowest unsigned dtype that holds
        them (most keys count one example or a few: 6 bytes an entry, not 12)."""
        if self.count_dtype.kind != "i":
            return counts.copy()
        narrow = narrow_counts(counts)
        return narrow if narrow is not counts else counts.copy()

    def _loaded(self, counts: Counts) -> Counts:
        """Held counts as the pool's entries: keys as values of its key dtype, counts in its
        count dtype (copies where they were narrowed)."""
        okeys, pos, neg = counts
        return (_key_values(okeys), pos.astype(self.count_dtype, copy=False),
                neg.astype(self.count_dtype, copy=False))

    def clear(self) -> None:
        self.held, self.parts, self.n_pending, self.runs = {}, [], 0, True


def _key_values(okeys: np.ndarray) -> np.ndarray:
    """The float keys whose order keys (curves._order_key) are `okeys`: the same flip of the
    bits undoes it (int32: float32 keys; int64: float64)."""
    dtype = np.float32 if okeys.dtype == np.int32 else np.float64
    return _order_key(okeys.view(dtype)).view(dtype)


def merged(held: Counts, keys: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> Counts:
    """Sorted distinct (keys, pos, neg) `held` plus sorted distinct new ones, keys as order keys
    (curves._order_key): added in place where the key is held, inserted where not. Linear in
    what is held, where a sort of both would cost n log n: a slice's held counts are usually
    far more than one merge brings. Held whole counts stay narrow (uint8, uint16) while the
    sums fit; an array is widened where one does not."""
    h_keys, h_pos, h_neg = held
    if not len(h_keys):
        return keys, pos, neg
    at = np.searchsorted(h_keys, keys)
    # Past the end (at == len), the last held key is less: no hit.
    hit = h_keys.take(at, mode="clip") == keys
    h_at = at[hit]  # distinct keys: no index twice
    h_pos, h_neg = _added(h_pos, h_at, pos[hit]), _added(h_neg, h_at, neg[hit])
    if len(h_at) == len(keys):
        return h_keys, h_pos, h_neg
    # The new entries' places in the result (`at` is sorted, as the new keys are), and the
    # held entries' in the rest: one placement for the three arrays.
    new = ~hit
    placed = at[new] + np.arange(len(keys) - len(h_at))
    held_at = np.ones(len(h_keys) + len(placed), bool)
    held_at[placed] = False
    out = []
    for h, v in ((h_keys, keys), (h_pos, pos), (h_neg, neg)):
        v = v[new]
        dtype = h.dtype if h.dtype.kind != "u" else np.promote_types(h.dtype, _fitting(v))
        merged_ = np.empty(len(held_at), dtype)
        merged_[held_at] = h
        merged_[placed] = v
        out.append(merged_)
    return tuple(out)


def _fitting(counts: np.ndarray) -> Any:
    """The narrowest dtype that holds whole counts `counts` (>= 0): narrow_count_dtype's, or
    theirs past 65,535."""
    return narrow_count_dtype(counts) or (np.dtype(np.uint8) if not len(counts)
                                          else counts.dtype)


def _added(held: np.ndarray, at: np.ndarray, add: np.ndarray) -> np.ndarray:
    """held with add[j] added at held[at[j]] (distinct), in place; a narrow (uint8, uint16)
    held array is first widened to what the sums need, when they pass its largest value."""
    if not len(at):
        return held
    if held.dtype.kind != "u":
        held[at] += add
        return held
    sums = held[at] + add.astype(np.int64)
    if int(sums.max()) > np.iinfo(held.dtype).max:
        held = held.astype(np.promote_types(held.dtype, _fitting(sums.astype(add.dtype))))
    held[at] = sums
    return held


def sort_order(sid: np.ndarray, keys: np.ndarray, stable: bool = True) -> np.ndarray:
    """The order of entries by (slice id, key), stable (equal entries in the order given) or
    not (several times faster): one sort of a 64-bit integer when keys are float32 (slice id
    above the key's order bits), a lexsort (stable) of the two otherwise."""
    if keys.dtype == np.float32:
        low = (_order_key(keys).astype(np.int64) + (1 << 31)).astype(np.uint64)
        combined = (sid.astype(np.uint64) << np.uint64(32)) | low
        return np.argsort(combined, kind="stable" if stable else "quicksort")
    return np.lexsort((_order_key(keys.astype(np.float64, copy=False)), sid))
