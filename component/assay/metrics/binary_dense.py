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
    one linear merge (np.searchsorted, one placement for keys and counts); once more at the
    end. A slice found with more is bucketed: it gets a row of dense bucket arrays, to which
    every later batch adds its entries with np.add.at, with no sort and no Python work per
    slice;
  * every count is held in the smallest lossless form, widened in place at the first batch
    that needs more: exact keys as float32 while every prediction is a float32 value, exact
    counts as int32 while every weight is 1; bucket counts as uint16 while no bucket can pass
    65,535 (then int32; float64 from the first other weight), and no presence mask while
    unweighted (a bucket is present when it counts an example).

`BinaryMetrics.dense_acc(state, sid)` makes one slice's BinaryAccumulator, once per file or bundle;
those merge with accumulators made any other way. The result is the same as the per-slice path:
the same sums added in the same batch order, the same exact/bucketed form (which depends on the
slice's distinct predictions alone), up to floating-point summation order within a bucket.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from assay.metrics.curves import (PackedScoreCounts, ScoreCounts, _bucket_runs, _order_key,
                                  bucket_ids, score_runs)

_GROW = 64  # slice rows added at a time (the arrays double beyond)
_MIN_PENDING = 1024  # score entries a slice's pending parts may hold before a merge
_MAX_PARTS = 16  # pending parts (batches) of a slice before a merge: few small arrays at once
_FOLD_CHUNK = 1 << 16  # score entries folded at a time (assay.engine.atoms): ~1 MB


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
        # Held packed while lossless: keys as float32 while every prediction was a float32
        # value (tf.Example floats, most models' outputs), counts as int32 while every weight
        # was 1 (`integral`, below); widened to float64 in place at the first batch that is not.
        self.exact: Dict[int, tuple] = {}
        self.pending: Dict[int, List[tuple]] = {}
        self.pending_n: Dict[int, int] = {}
        self.keys32 = True
        # Bucketed slices: slot per slice id (-1: exact), and dense [slots, num_buckets] sums.
        # While every weight was 1 they are counts: uint16 while no bucket can pass 2**16 - 1
        # (`room`: per slot, a bound on its largest count), then int32 (a bucket would need
        # 2**31 examples to overflow), and a bucket is present when it counts an example. From
        # the first other weight, float64 sums and a presence mask (`bhas`; weights may be 0).
        self.slot = np.zeros(0, np.int64)
        self.integral = True
        self.bpos = np.zeros((0, num_buckets), np.uint16)
        self.bneg = np.zeros((0, num_buckets), np.uint16)
        self.bhas: Optional[np.ndarray] = None
        self.room = np.zeros(0, np.int64)
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
            self.room = _grown(self.room, size)
            if self.bhas is not None:
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
                   neg: np.ndarray, unit_weights: bool, keys32: bool = False) -> None:
        """Adds score entries sorted by (slice id, key), one per distinct (slice, key);
        unit_weights: every example behind them had weight 1 (pos and neg are counts);
        keys32: every key is a float32 value (float64 keys that float32 holds exactly)."""
        if not len(keys):
            return
        self._adopt(unit_weights, keys32)
        slot = self.slot[sid]
        bucketed = slot >= 0
        if bucketed.any():
            slots, bpos, bneg = slot[bucketed], pos[bucketed], neg[bucketed]
            flat = slots * self.num_buckets + bucket_ids(keys[bucketed], self.num_buckets)
            self._make_room(slots, bpos + bneg)
            np.add.at(self.bpos.reshape(-1), flat, bpos.astype(self.bpos.dtype))
            np.add.at(self.bneg.reshape(-1), flat, bneg.astype(self.bneg.dtype))
            if self.bhas is not None:
                self.bhas.reshape(-1)[flat] = True
            if bucketed.all():
                return
            exact = ~bucketed
            sid, keys, pos, neg = sid[exact], keys[exact], pos[exact], neg[exact]
        starts = np.flatnonzero(np.r_[True, sid[1:] != sid[:-1]])
        bounds = np.r_[starts, len(sid)].tolist()
        # Copies: a view would keep the batch's whole arrays alive until the slice merges;
        # packed, as the held counts are.
        kt = np.float32 if self.keys32 else np.float64
        ct = np.int32 if self.integral else np.float64
        # Converted once: a float32 cast costs several times a copy on small arrays.
        keys, pos, neg = keys.astype(kt, copy=False), pos.astype(ct, copy=False), \
            neg.astype(ct, copy=False)
        for i, s in enumerate(sid[starts].tolist()):
            a, b = bounds[i], bounds[i + 1]
            parts = self.pending.setdefault(s, [])
            parts.append((keys[a:b].copy(), pos[a:b].copy(), neg[a:b].copy()))
            n = self.pending_n.get(s, 0) + b - a
            self.pending_n[s] = n
            if len(parts) >= _MAX_PARTS or n > self._merge_limit(s):
                self._merge_exact(s)

    def _adopt(self, unit_weights: bool, keys32: bool) -> None:
        """Widens what is held before entries that the packed forms cannot hold come."""
        if self.integral and not unit_weights:
            self.integral = False
            self.bhas = (self.bpos > 0) | (self.bneg > 0)
            self.bpos, self.bneg = self.bpos.astype(np.float64), self.bneg.astype(np.float64)
            self._widen(counts=True)
        if self.keys32 and not keys32:
            self.keys32 = False
            self._widen(keys=True)

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
            self._to_slot(sid, keys, pos, neg)
        else:
            self.exact[sid] = (keys, pos, neg)

    def _to_slot(self, sid: int, keys: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> int:
        """Buckets a slice: a new row of bucket counts holding its exact counts."""
        slot = self._new_slot(sid)
        if not len(keys):
            return slot
        # float64 keys: a float32 product could round into another bucket.
        _, buckets, bpos, bneg = _bucket_runs(np.zeros(len(keys), np.int64),
                                              keys.astype(np.float64), pos, neg,
                                              self.num_buckets)
        self._add_row(slot, buckets, bpos, bneg)
        return slot

    def _add_row(self, slot: int, buckets: np.ndarray, bpos: np.ndarray, bneg: np.ndarray
                 ) -> None:
        """Adds counts (or weights) at distinct `buckets` to bucket row `slot`."""
        if self.bpos.dtype == np.uint16 and len(buckets):  # the row's largest count after it
            top = int(max((self.bpos[slot, buckets] + bpos).max(),
                          (self.bneg[slot, buckets] + bneg).max()))
            if top > np.iinfo(np.uint16).max:
                self.bpos, self.bneg = self.bpos.astype(np.int32), self.bneg.astype(np.int32)
            else:
                self.room[slot] = max(int(self.room[slot]), top)
        self.bpos[slot, buckets] += bpos.astype(self.bpos.dtype)
        self.bneg[slot, buckets] += bneg.astype(self.bneg.dtype)
        if self.bhas is not None:
            self.bhas[slot, buckets] = True

    # ---- folding atoms (assay.engine.atoms) ----------------------------------------------------

    def fold(self, atoms: "DenseBinary", images: Sequence[Sequence[int]], own: Sequence[int],
             n_ids: int) -> None:
        """Adds each slice a of `atoms` (the finest slices of nested slicing specs, kept in a
        state of their own: assay.engine.atoms) to this state's slices images[a], as if their
        batches had been added to those slices; own[a], among them, is the atom's own slice
        (of the finest spec; -1: none). `atoms` is emptied. n_ids: this state's slice ids.

        Per target slice: its atoms' exact counts are summed into it a chunk at a time while
        they stay within max_exact distinct keys; from the first bucketed part on, every
        remaining part is added to its bucket row by one bincount per chunk. Where this state
        has no bucket rows yet, it takes the atoms' (their own slices' rows, not copies), so
        that folding never holds two sets of them."""
        self.reserve(n_ids)
        n = min(len(images), len(atoms.sums))
        seen = [a for a in range(n) if atoms.seen[a] and len(images[a])]
        if not seen:
            return
        counts = [len(images[a]) for a in seen]
        src = np.repeat(np.asarray(seen, np.int64), counts)
        dst = np.concatenate([np.asarray(images[a], np.int64) for a in seen])
        for name in ("sums", "confusion", "calibration"):
            np.add.at(getattr(self, name), dst, getattr(atoms, name)[src])
        self.seen[dst] = True
        self._adopt(atoms.integral, atoms.keys32)
        for a in seen:
            atoms._merge_exact(a)  # which may bucket it
        done = self._take_rows(atoms, [a for a in seen if atoms.slot[a] >= 0 and own[a] >= 0],
                               own)
        by_target: Dict[int, List[int]] = {}
        for a in seen:
            for t in images[a]:
                if done is None or (t, a) not in done:
                    by_target.setdefault(t, []).append(a)
        rows = atoms if done is None else self  # where the atoms' bucket rows are
        kt = np.float32 if self.keys32 else np.float64
        ct = np.int32 if self.integral else np.float64
        for t, parts in by_target.items():
            if self.slot[t] < 0:
                self._merge_exact(t)
            if self.slot[t] < 0 and not self._outgrown(t, atoms, parts, kt):
                for i in range(0, len(parts), 16):  # few arrays summed at a time
                    self.pending[t] = [tuple(f.astype(d) for f, d in zip(atoms.exact[a],
                                                                        (kt, ct, ct)))
                                       for a in parts[i:i + 16]]  # copies
                    self._merge_exact(t)
            else:
                self._fold_buckets(t, atoms, parts, rows)
        atoms.exact.clear()

    def _take_rows(self, atoms: "DenseBinary", bucketed: List[int], own: Sequence[int]
                   ) -> Optional[set]:
        """Takes the atoms' bucket rows as this state's, each then the row of the atom's own
        slice, when this state has none and those slices hold nothing yet; the (slice, atom)
        pairs so added, or None."""
        if not bucketed or self.n_slots or any(own[a] in self.exact or own[a] in self.pending
                                               for a in bucketed):
            return None
        atoms._adopt(self.integral, self.keys32)  # the same forms (this state has theirs)
        self.bpos, self.bneg, self.room, self.bhas = atoms.bpos, atoms.bneg, atoms.room, atoms.bhas
        self.n_slots = atoms.n_slots
        for a in bucketed:
            self.slot[own[a]] = atoms.slot[a]
        return {(own[a], a) for a in bucketed}

    def _outgrown(self, t: int, atoms: "DenseBinary", parts: List[int], kt: Any) -> bool:
        """Whether slice t's exact counts and its atoms `parts` hold more than max_exact
        distinct keys together (or some part is bucketed): counted a chunk at a time, so
        that a sum far past max_exact stops early."""
        if any(atoms.slot[a] >= 0 for a in parts):
            return True
        if self.max_exact is None:
            return False
        held = self.exact.get(t, (np.zeros(0, kt),))[0].astype(kt, copy=False)
        if len(held) + sum(len(atoms.exact[a][0]) for a in parts) <= self.max_exact:
            return False
        distinct = _order_key(held)
        for i in range(0, len(parts), 8):
            more = [_order_key(atoms.exact[a][0].astype(kt, copy=False)) for a in parts[i:i + 8]]
            distinct = np.unique(np.concatenate([distinct] + more))
            if len(distinct) > self.max_exact:
                return True
        return False

    def _fold_buckets(self, t: int, atoms: "DenseBinary", parts: List[int],
                      rows: "DenseBinary") -> None:
        """Adds the atoms `parts` (exact or bucketed) to slice t's bucket row (made first);
        `rows`: the state whose arrays hold the atoms' bucket rows (atoms.slot)."""
        slot = int(self.slot[t])
        if slot < 0:
            self._merge_exact(t)
            slot = int(self.slot[t])
        if slot < 0:
            keys, pos, neg = self.exact.pop(t, (np.zeros(0), np.zeros(0), np.zeros(0)))
            slot = self._to_slot(t, keys, pos, neg)
        slots = [int(atoms.slot[a]) for a in parts if atoms.slot[a] >= 0]
        for i in range(0, len(slots), 64):
            take = slots[i:i + 64]
            has = (rows.bhas[take] if rows.bhas is not None else
                   (rows.bpos[take] > 0) | (rows.bneg[take] > 0)).any(axis=0)
            buckets = np.flatnonzero(has)
            self._add_row(slot, buckets, rows.bpos[take][:, buckets].sum(axis=0),
                          rows.bneg[take][:, buckets].sum(axis=0))
        exact = [atoms.exact[a] for a in parts if atoms.slot[a] < 0 and a in atoms.exact]
        i = 0
        while i < len(exact):
            j, size = i, 0
            while j < len(exact) and (size == 0 or size + len(exact[j][0]) <= _FOLD_CHUNK):
                size += len(exact[j][0])
                j += 1
            keys, pos, neg = (np.concatenate([e[f] for e in exact[i:j]]) for f in range(3))
            cells = bucket_ids(keys.astype(np.float64), self.num_buckets)
            present = np.bincount(cells, minlength=self.num_buckets)
            buckets = np.flatnonzero(present)
            self._add_row(slot, buckets,
                          np.bincount(cells, pos, minlength=self.num_buckets)[buckets],
                          np.bincount(cells, neg, minlength=self.num_buckets)[buckets])
            i = j

    # ---- reading -------------------------------------------------------------------------------

    def scores(self, sid: int) -> Any:
        """The slice's ScoreCounts (packed, as merged accumulators hold them)."""
        if self.slot[sid] < 0:
            self._merge_exact(sid)  # which may bucket it
        slot = int(self.slot[sid])
        if slot < 0:
            keys, pos, neg = self.exact.pop(sid, (np.zeros(0), np.zeros(0), np.zeros(0)))
            counts = ScoreCounts(np.zeros(len(keys), np.int32), keys.astype(np.float64),
                                 pos.astype(np.float64), neg.astype(np.float64))
        else:
            present = np.flatnonzero(self.bhas[slot] if self.bhas is not None else
                                     (self.bpos[slot] > 0) | (self.bneg[slot] > 0))
            counts = ScoreCounts(np.zeros(len(present), np.int32), present.astype(np.int64),
                                 self.bpos[slot, present].astype(np.float64),
                                 self.bneg[slot, present].astype(np.float64))
        return PackedScoreCounts(counts) if len(counts) else counts

    def _make_room(self, slots: np.ndarray, counts: np.ndarray) -> None:
        """Before adding `counts` (examples) to bucket rows `slots` of uint16 counts: widens
        them to int32 when a bucket could pass 2**16 - 1. A slot's bound (`room`) grows by
        what it is given and is brought back to its largest count when it passes the limit."""
        if self.bpos.dtype != np.uint16:
            return
        limit = np.iinfo(np.uint16).max
        add = np.bincount(slots, counts, minlength=self.n_slots)[:self.n_slots].astype(np.int64)
        room = self.room[:self.n_slots]
        room += add
        for s in np.flatnonzero(room > limit).tolist():
            room[s] = int(max(self.bpos[s].max(), self.bneg[s].max())) + add[s]
        if (room > limit).any():
            self.bpos, self.bneg = self.bpos.astype(np.int32), self.bneg.astype(np.int32)

    def _widen(self, keys: bool = False, counts: bool = False) -> None:
        """Held and pending exact counts as float64 keys and/or float64 counts."""
        def wide(entry: tuple) -> tuple:
            k, p, n = entry
            if counts:
                p, n = p.astype(np.float64), n.astype(np.float64)
            return (k.astype(np.float64) if keys else k), p, n

        for sid, entry in self.exact.items():
            self.exact[sid] = wide(entry)
        for sid, parts in self.pending.items():
            self.pending[sid] = [wide(part) for part in parts]

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
    # Held keys are never empty; past the end (at == len), the last one is less: no hit.
    hit = h_order.take(at, mode="clip") == order
    h_pos[at[hit]] += pos[hit]  # distinct keys: no index twice
    h_neg[at[hit]] += neg[hit]
    if hit.all():
        return h_keys, h_pos, h_neg
    # np.insert, once for the three arrays: the new entries' places in the result (`where`
    # is sorted, as the new keys are), and the held entries' in the rest.
    new = ~hit
    placed = at[new] + np.arange(int(new.sum()))
    held_at = np.ones(len(h_keys) + len(placed), bool)
    held_at[placed] = False
    out = []
    for h, v in ((h_keys, keys), (h_pos, pos), (h_neg, neg)):
        merged = np.empty(len(held_at), h.dtype)
        merged[held_at] = h
        merged[placed] = v[new]
        out.append(merged)
    return tuple(out)


def _grown(values: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros((size,) + values.shape[1:], values.dtype)
    out[:len(values)] = values
    return out
