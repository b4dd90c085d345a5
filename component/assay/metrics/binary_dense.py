"""BinaryMetrics accumulated for every slice at once: one state per model, indexed by slice id.

The per-slice accumulators (assay.metrics.binary.BinaryAccumulator) cost Python work per slice,
batch and model: an object per group of every batch, then merges. With hundreds of slices that
work, not the arithmetic, was most of a model's cost, and a baseline doubled it. Here a
SliceAccumulator holds, per model, one DenseBinary state for all its slices (the pass gives each
slice a stable id, assay.engine.passes):

  * sums, confusion and calibration are rows of arrays indexed by slice id: a batch adds its
    per-group bincounts to the rows of its slices in one fancy-indexed `+=`;
  * score counts of a slice stay exact (keyed by prediction) while it has at most max_exact
    distinct predictions, held per slice as (keys, pos, neg) sorted by key (pos and neg int32
    counts while every weight was 1: exact, half the bytes; float64 from the first other). A
    batch's entries, of all its slices, wait in one list as they came (a batch costs a list
    append and a bincount, with no Python work per slice). Merges are rare: when the pending
    entries outnumber a quarter of what is held (at least _MIN_PENDING), or one slice's alone
    exceed max_exact, and once more at the end. A merge sorts the pending entries alone by
    (slice id, key), sums their runs, and adds those of each slice with at least 1/8 as many
    as it holds to its held counts by one linear merge (np.searchsorted, a masked copy); the
    others' wait, summed. One Python step per slice per merge; transients of one slice's size,
    and pending bounded by a fraction of what is held (where one list of all slices' held
    counts, merged by one sort, needed transients of their whole size). A slice then found
    with more than max_exact is bucketed: it gets a row of dense bucket arrays, to which every
    later batch adds its entries with np.add.at, with no sort and no Python work per slice. A
    merge bucketing a slice only later than it could have changes memory, not results: the
    form depends on the final distinct count.

`BinaryMetrics.dense_acc(state, sid)` makes one slice's BinaryAccumulator, once per file or bundle;
those merge with accumulators made any other way. The result is the same as the per-slice path:
the same sums added in the same batch order, the same exact/bucketed form (which depends on the
slice's distinct predictions alone), up to floating-point summation order within a bucket.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import numpy as np

from assay.metrics.curves import (PackedScoreCounts, ScoreCounts, _bucket_runs, _order_key,
                                  bucket_ids, score_runs)

_GROW = 64  # slice rows added at a time (the arrays double beyond)
# Pending score entries (all exact slices together) that trigger a merge at the least; beyond
# it, a quarter of the entries held. A merge costs a pass over what is held (np.insert), so
# pending must grow with it; a fraction keeps pending (32 bytes an entry) and the merge's
# transients small beside the held counts.
_MIN_PENDING = 1 << 17
_PENDING_SHARE = 4  # held entries per pending one that trigger a merge
# A merge leaves pending the entries of a slice that holds more than _SLICE_SHARE times as many
# (fewer than half the trigger in all): a slice's held counts are copied (np.insert) only once
# they grow by a fraction.
_SLICE_SHARE = 8
_MAX_PARTS = 64  # pending parts (batches) kept apart; more are concatenated into one


class DenseBinary:
    """Sufficient statistics of BinaryMetrics for many slices, by slice id (see module doc)."""

    def __init__(self, n_thresholds: int, calibration_bins: int, num_buckets: int,
                 max_exact: Optional[int]):
        self.num_buckets = num_buckets
        self.max_exact = max_exact
        self.sums = np.zeros((0, 5))
        self.confusion = np.zeros((0, n_thresholds, 2, 2))
        self.calibration = np.zeros((0, calibration_bins, 3))
        self.seen = np.zeros(0, bool)
        # Exact score counts per slice: (keys, pos, neg) sorted by key, distinct keys, and
        # their total length; the batches' entries still to merge (slice ids, keys, pos, neg),
        # as they came; how many of those each slice has, and their total.
        self.exact: Dict[int, tuple] = {}
        self.n_held = 0
        self.parts: List[tuple] = []
        self.pending_n = np.zeros(0, np.int64)
        self.n_pending = 0
        # Bucketed slices: slot per slice id (-1: exact), and dense [slots, num_buckets] sums.
        # Counts (bucketed and exact) are int32 while every weight was 1 (half the memory of
        # float64, exact; a key would need 2**31 examples to overflow), float64 from the first
        # other weight.
        self.slot = np.zeros(0, np.int64)
        self.integral = True
        self.bpos = np.zeros((0, num_buckets), np.int32)
        self.bneg = np.zeros((0, num_buckets), np.int32)
        self.bhas = np.zeros((0, num_buckets), bool)
        self.n_slots = 0

    # ---- growing -------------------------------------------------------------------------------

    def reserve(self, n_ids: int) -> None:
        """Rows for slice ids < n_ids."""
        have = len(self.sums)
        if n_ids <= have:
            return
        size = max(n_ids, 2 * have, _GROW)
        self.sums = _grown(self.sums, size)
        self.confusion = _grown(self.confusion, size)
        self.calibration = _grown(self.calibration, size)
        self.seen = _grown(self.seen, size)
        self.pending_n = _grown(self.pending_n, size)
        slot = np.full(size, -1, np.int64)
        slot[:have] = self.slot
        self.slot = slot
        if self.max_exact == 0:  # bucketed from the first example
            for sid in range(have, size):
                self._new_slot(sid)

    def _new_slot(self, sid: int) -> int:
        if self.n_slots == len(self.bpos):
            size = max(2 * self.n_slots, 8)
            self.bpos = _grown(self.bpos, size)
            self.bneg = _grown(self.bneg, size)
            self.bhas = _grown(self.bhas, size)
        self.slot[sid] = self.n_slots
        self.n_slots += 1
        return self.n_slots - 1

    # ---- adding --------------------------------------------------------------------------------

    def add_sums(self, ids: np.ndarray, sums: np.ndarray, confusion: np.ndarray,
                 calibration: np.ndarray) -> None:
        """Adds per-group rows to the rows of slices `ids` (distinct)."""
        self.sums[ids] += sums
        self.confusion[ids] += confusion
        self.calibration[ids] += calibration
        self.seen[ids] = True

    def add_scores(self, sid: np.ndarray, keys: np.ndarray, pos: np.ndarray,
                   neg: np.ndarray, unit_weights: bool) -> None:
        """Adds score entries, one per distinct (slice, key), each slice's contiguous and sorted
        by key (slice ids < what reserve() made room for); unit_weights: every example behind
        them had weight 1 (pos and neg are counts)."""
        if not len(keys):
            return
        if self.integral and not unit_weights:
            self._to_float()
        slot = self.slot[sid]
        bucketed = slot >= 0
        if bucketed.any():
            flat = slot[bucketed] * self.num_buckets + bucket_ids(keys[bucketed], self.num_buckets)
            np.add.at(self.bpos.reshape(-1), flat, pos[bucketed].astype(self.bpos.dtype))
            np.add.at(self.bneg.reshape(-1), flat, neg[bucketed].astype(self.bneg.dtype))
            self.bhas.reshape(-1)[flat] = True
            if bucketed.all():
                return
            exact = ~bucketed
            sid, keys, pos, neg = sid[exact], keys[exact], pos[exact], neg[exact]
        # The arrays are the caller's own (made for this call): holding them holds no batch.
        self.parts.append((sid, keys, pos, neg))
        if len(self.parts) > _MAX_PARTS:  # few large arrays rather than many small ones
            self.parts = [_joined(self.parts)]
        self.n_pending += len(sid)
        if self.max_exact is not None:
            self.pending_n += np.bincount(sid, minlength=len(self.pending_n))
        if self.n_pending > max(_MIN_PENDING, self.n_held // _PENDING_SHARE) or (
                self.max_exact is not None and self.pending_n.max() > self.max_exact):
            self._merge()

    def _to_float(self) -> None:
        """Counts as float64 from now on (the first weight other than 1)."""
        self.integral = False
        self.bpos, self.bneg = self.bpos.astype(np.float64), self.bneg.astype(np.float64)
        for s, (keys, pos, neg) in self.exact.items():
            self.exact[s] = (keys, pos.astype(np.float64), neg.astype(np.float64))

    def _merge(self, every: bool = False) -> None:
        """Merges pending entries into their slices' held counts: of every slice, or (a merge
        the pending count triggered) of the slices that have none held or pending entries at
        least 1/_SLICE_SHARE of those held; the others' entries stay pending, summed. Buckets
        the slices that then hold more than max_exact distinct keys."""
        if not self.parts:
            return
        sid, keys, pos, neg = _joined(self.parts)
        self.parts = []
        # One stable sort by (slice id, key) as complex numbers (sorted by real, then imaginary
        # part): a timsort, which merges the batches' sorted runs rather than sorting from
        # scratch (a lexsort costs twice as much). The keys are finite (assay.engine.extract
        # drops the rest). Stable: equal entries are summed batch by batch, as they came.
        order = np.argsort(_keyed(sid, keys), kind="stable")
        # One array at a time, each unsorted one freed as its sorted copy is made.
        sid = sid[order]
        keys = keys[order]
        pos = pos[order]
        neg = neg[order]
        del order
        sid, keys, pos, neg = score_runs(sid, keys, pos, neg)
        starts = np.flatnonzero(np.r_[True, sid[1:] != sid[:-1]])
        bounds = np.r_[starts, len(sid)].tolist()
        wait = np.zeros(len(starts), bool)
        for i, s in enumerate(sid[starts].tolist()):  # once per slice in a merge
            a, b = bounds[i], bounds[i + 1]
            held = len(self.exact.get(s, ((),))[0])
            # Merging costs a copy of what the slice holds (np.insert): not for a few entries.
            if every or not held or _SLICE_SHARE * (b - a) >= held:
                self._merge_slice(s, keys[a:b], pos[a:b], neg[a:b])
            else:
                wait[i] = True
        self.pending_n[:] = 0
        self.n_pending = 0
        if wait.any():
            keep = np.repeat(wait, np.diff(bounds))
            self.parts = [(sid[keep], keys[keep], pos[keep], neg[keep])]
            self.n_pending = int(keep.sum())
            if self.max_exact is not None:
                self.pending_n += np.bincount(sid[keep], minlength=len(self.pending_n))

    def _merge_slice(self, sid: int, keys: np.ndarray, pos: np.ndarray,
                     neg: np.ndarray) -> None:
        """Adds a slice's summed pending entries (views of the merge's arrays) to its held
        counts; buckets it beyond max_exact."""
        if self.integral:  # counts (unit weights)
            pos, neg = pos.astype(np.int32), neg.astype(np.int32)
        held = self.exact.pop(sid, None)
        if held is None:  # copies: a view would keep the whole merge's arrays alive
            merged = tuple(a if a.base is None else a.copy() for a in (keys, pos, neg))
        else:
            self.n_held -= len(held[0])
            merged = _merged(held, keys, pos, neg)
        if self.max_exact is not None and len(merged[0]) > self.max_exact:
            slot = self._new_slot(sid)
            _, buckets, bpos, bneg = _bucket_runs(np.zeros(len(merged[0]), np.int64),
                                                  *merged, self.num_buckets)
            self.bpos[slot, buckets] += bpos.astype(self.bpos.dtype)
            self.bneg[slot, buckets] += bneg.astype(self.bneg.dtype)
            self.bhas[slot, buckets] = True
        else:
            self.exact[sid] = merged
            self.n_held += len(merged[0])

    # ---- reading -------------------------------------------------------------------------------

    def scores(self, sid: int) -> Any:
        """The slice's ScoreCounts (packed, as merged accumulators hold them); handed over once:
        the state forgets the slice's score counts (a second call gives those added since)."""
        self._merge(every=True)  # once at the end: which may bucket slices
        slot = int(self.slot[sid])
        if slot < 0:
            keys, pos, neg = self.exact.pop(sid, (np.zeros(0), np.zeros(0), np.zeros(0)))
            self.n_held -= len(keys)
            counts = ScoreCounts(np.zeros(len(keys), np.int32), keys,
                                 pos.astype(float, copy=False), neg.astype(float, copy=False))
        else:
            present = np.flatnonzero(self.bhas[slot])
            counts = ScoreCounts(np.zeros(len(present), np.int32), present.astype(np.int64),
                                 self.bpos[slot, present].astype(np.float64),
                                 self.bneg[slot, present].astype(np.float64))
        return PackedScoreCounts(counts) if len(counts) else counts

    def ids(self) -> List[int]:
        """The slice ids that received examples."""
        return np.flatnonzero(self.seen).tolist()


def _joined(parts: List[tuple]) -> tuple:
    """Parts (arrays of equal length each) as one part: their arrays concatenated in order."""
    if len(parts) == 1:
        return parts[0]
    return tuple(np.concatenate(a) for a in zip(*parts))


def _keyed(sid: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """sid + 1j * keys, exactly (no arithmetic: -0.0 and the ids stay as they are)."""
    out = np.empty(len(keys), np.complex128)
    out.real, out.imag = sid, keys
    return out


def _merged(held: tuple, keys: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> tuple:
    """Sorted distinct (keys, pos, neg) `held` plus sorted distinct new ones: added in place
    where the key is held, inserted where not. Linear in what is held, where a sort of both
    would cost n log n: a slice's held counts are usually far more than one merge brings."""
    h_keys, h_pos, h_neg = held
    h_order, order = _order_key(h_keys), _order_key(keys)
    at = np.searchsorted(h_order, order)
    # Held keys are never empty; past the end (at == len), the last one is less: no hit.
    hit = h_order.take(at, mode="clip") == order
    if hit.any():
        h_pos[at[hit]] += pos[hit]  # distinct keys: no index twice
        h_neg[at[hit]] += neg[hit]
        if hit.all():
            return h_keys, h_pos, h_neg
    # np.insert of the misses in each array, with the positions found once for the three.
    new = ~hit
    to = at[new] + np.arange(int(new.sum()))  # where the inserted ones land
    old = np.ones(len(h_keys) + len(to), bool)
    old[to] = False
    out = []
    for h, v in ((h_keys, keys), (h_pos, pos), (h_neg, neg)):
        merged = np.empty(len(old), h.dtype)
        merged[old], merged[to] = h, v[new]
        out.append(merged)
    return tuple(out)


def _grown(values: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros((size,) + values.shape[1:], values.dtype)
    out[:len(values)] = values
    return out
