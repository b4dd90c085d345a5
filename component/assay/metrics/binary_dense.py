"""BinaryMetrics accumulated for every slice at once: one state per model, indexed by slice id.

The per-slice accumulators (assay.metrics.binary.BinaryAccumulator) cost Python work per slice,
batch and model: an object per group of every batch, then merges. With hundreds of slices that
work, not the arithmetic, was most of a model's cost, and a baseline doubled it. Here a
SliceAccumulator holds, per model, one DenseBinary state for all its slices (the pass gives each
slice a stable id, assay.engine.passes):

  * sums, confusion and calibration are rows of arrays indexed by slice id: a batch adds its
    per-group bincounts to the rows of its slices in one fancy-indexed `+=`;
  * score counts of a slice stay exact (keyed by prediction) while it has at most max_exact
    distinct predictions: its batches' entries (copies, so that no batch stays alive for them)
    wait in a short list, are summed by one sort of the list and added to its held counts by
    one linear merge (np.searchsorted, np.insert); once more at the end. A slice found with more is
    bucketed: it gets a row of dense bucket arrays, to which every later batch adds its entries
    with np.add.at, with no sort and no Python work per slice.

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
_MIN_PENDING = 1024  # score entries a slice's pending parts may hold before a merge
_MAX_PARTS = 16  # pending parts (batches) of a slice before a merge: few small arrays at once


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
        # Exact score counts per slice: merged (keys, pos, neg) and the parts still to merge.
        self.exact: Dict[int, tuple] = {}
        self.pending: Dict[int, List[tuple]] = {}
        self.pending_n: Dict[int, int] = {}
        # Bucketed slices: slot per slice id (-1: exact), and dense [slots, num_buckets] sums,
        # held as int32 counts while every weight was 1 (half the memory of float64, exact;
        # a bucket would need 2**31 examples to overflow), as float64 from the first other.
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
        """Adds score entries sorted by (slice id, key), one per distinct (slice, key);
        unit_weights: every example behind them had weight 1 (pos and neg are counts)."""
        if not len(keys):
            return
        if self.integral and not unit_weights:
            self.integral = False
            self.bpos, self.bneg = self.bpos.astype(np.float64), self.bneg.astype(np.float64)
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
        starts = np.flatnonzero(np.r_[True, sid[1:] != sid[:-1]])
        bounds = np.r_[starts, len(sid)].tolist()
        for i, s in enumerate(sid[starts].tolist()):
            a, b = bounds[i], bounds[i + 1]
            # Copies: a view would keep the batch's whole arrays alive until the slice merges.
            parts = self.pending.setdefault(s, [])
            parts.append((keys[a:b].copy(), pos[a:b].copy(), neg[a:b].copy()))
            n = self.pending_n.get(s, 0) + b - a
            self.pending_n[s] = n
            if len(parts) >= _MAX_PARTS or n > self._merge_limit(s):
                self._merge_exact(s)

    def _merge_limit(self, sid: int) -> int:
        """Pending entries of a slice that trigger a merge: as many as it holds merged, at
        least _MIN_PENDING, at most max_exact (past it the slice may need bucketing)."""
        limit = max(_MIN_PENDING, len(self.exact.get(sid, ((),))[0]))
        return limit if self.max_exact is None else min(limit, self.max_exact)

    def _merge_exact(self, sid: int) -> None:
        """Merges a slice's pending entries into its exact counts; buckets it beyond max_exact."""
        parts = self.pending.pop(sid, [])
        self.pending_n.pop(sid, None)
        if not parts:
            return
        keys, pos, neg = _summed(parts)
        if sid in self.exact:
            keys, pos, neg = _merged(self.exact.pop(sid), keys, pos, neg)
        if self.max_exact is not None and len(keys) > self.max_exact:
            slot = self._new_slot(sid)
            _, buckets, bpos, bneg = _bucket_runs(np.zeros(len(keys), np.int64), keys, pos,
                                                  neg, self.num_buckets)
            self.bpos[slot, buckets] += bpos.astype(self.bpos.dtype)
            self.bneg[slot, buckets] += bneg.astype(self.bneg.dtype)
            self.bhas[slot, buckets] = True
        else:
            self.exact[sid] = (keys, pos, neg)

    # ---- reading -------------------------------------------------------------------------------

    def scores(self, sid: int) -> Any:
        """The slice's ScoreCounts (packed, as merged accumulators hold them)."""
        if self.slot[sid] < 0:
            self._merge_exact(sid)  # which may bucket it
        slot = int(self.slot[sid])
        if slot < 0:
            keys, pos, neg = self.exact.pop(sid, (np.zeros(0), np.zeros(0), np.zeros(0)))
            counts = ScoreCounts(np.zeros(len(keys), np.int32), keys, pos, neg)
        else:
            present = np.flatnonzero(self.bhas[slot])
            counts = ScoreCounts(np.zeros(len(present), np.int32), present.astype(np.int64),
                                 self.bpos[slot, present].astype(np.float64),
                                 self.bneg[slot, present].astype(np.float64))
        return PackedScoreCounts(counts) if len(counts) else counts

    def ids(self) -> List[int]:
        """The slice ids that received examples."""
        return np.flatnonzero(self.seen).tolist()


def _summed(parts: List[tuple]) -> tuple:
    """(keys, pos, neg) of parts each sorted by key with distinct keys: summed per key, sorted;
    equal keys summed in the order of the parts (a stable sort)."""
    if len(parts) == 1:
        return parts[0]
    keys, pos, neg = (np.concatenate([p[i] for p in parts]) for i in range(3))
    order = np.argsort(_order_key(keys), kind="stable")
    return score_runs(np.zeros(len(keys), np.int64), keys[order], pos[order], neg[order])[1:]


def _merged(held: tuple, keys: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> tuple:
    """Sorted distinct (keys, pos, neg) `held` plus sorted distinct new ones: added in place
    where the key is held, inserted where not. Linear in what is held, where a sort of both
    would cost n log n: a slice's held counts are usually far more than one merge brings."""
    h_keys, h_pos, h_neg = held
    h_order, order = _order_key(h_keys), _order_key(keys)
    at = np.searchsorted(h_order, order)
    hit = at < len(h_order)
    hit[hit] = h_order[at[hit]] == order[hit]
    h_pos[at[hit]] += pos[hit]  # distinct keys: no index twice
    h_neg[at[hit]] += neg[hit]
    if hit.all():
        return h_keys, h_pos, h_neg
    new, where = ~hit, at[~hit]
    return (np.insert(h_keys, where, keys[new]), np.insert(h_pos, where, pos[new]),
            np.insert(h_neg, where, neg[new]))


def _grown(values: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros((size,) + values.shape[1:], values.dtype)
    out[:len(values)] = values
    return out
