"""The pool of exact score counts (assay.metrics.score_pool) against sums kept in plain Python."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from assay.metrics.score_pool import ExactPool, sort_order


def _reference(entries):
    """{sid: {key: [pos, neg]}} summed in the order given."""
    out = defaultdict(lambda: defaultdict(lambda: [0.0, 0.0]))
    for sid, key, pos, neg in entries:
        cell = out[int(sid)][float(key)]
        cell[0] += float(pos)
        cell[1] += float(neg)
    return out


def _batch(rng, n, n_slices, float32):
    sid = rng.integers(0, n_slices, n)
    keys = np.round(rng.random(n) * 2 - 1, 2)  # ties, negative keys and zero
    keys = keys.astype(np.float32) if float32 else keys + 1e-9  # no float32 value
    keys[rng.random(n) < 0.05] = -0.0
    return sid, keys, rng.integers(0, 3, n).astype(float), rng.integers(0, 3, n).astype(float)


@pytest.mark.parametrize("float32", [True, False])
@pytest.mark.parametrize("flush_every", [1, 3, 100])
def test_merged_counts_equal_a_plain_sum_and_spill_past_the_cap(float32, flush_every):
    """Entries merged at any frequency hold the plain sums per (slice, key); a slice past the
    cap at a merge comes back whole (its sums so far) and leaves the pool, as DenseBinary then
    buckets it and adds its later entries elsewhere."""
    rng = np.random.default_rng(7)
    pool = ExactPool(np.float32 if float32 else np.float64, np.float64)
    cap = 60
    added, spilled = [], {}
    for i in range(12):
        sid, keys, pos, neg = _batch(rng, int(rng.integers(1, 80)), 6, float32)
        mine = ~np.isin(sid, list(spilled))
        batch = (sid[mine], keys[mine], pos[mine], neg[mine])
        pool.add(*batch)
        added += list(zip(*batch))
        if i % flush_every == flush_every - 1 or i == 11:
            want = _reference(added)
            for one, (k, p, n) in pool.flush(cap):
                assert len(k) == len(want[one]) > cap
                assert (np.diff(k.astype(np.float64)) > 0).all()  # distinct, sorted
                assert all(want[one][key] == [a, b] for key, a, b in
                           zip(k.tolist(), p.tolist(), n.tolist()))
                spilled[one] = True
            added = [e for e in added if int(e[0]) not in spilled]
            assert not set(pool.held) & set(spilled)
    assert spilled and len(spilled) < 6  # some slices past the cap, some not
    want = _reference(added)
    for sid in set(range(6)) - set(spilled):
        keys, pos, neg = pool.take(sid)
        ref = want.get(sid, {})
        assert len(keys) == len(ref) <= cap
        assert (np.diff(keys.astype(np.float64)) > 0).all()  # distinct and sorted
        for k, p, n in zip(keys.tolist(), pos.tolist(), neg.tolist()):
            assert ref[k] == [p, n]
        assert len(pool.take(sid)[0]) == 0  # handed over once


def test_a_slice_handed_over_keeps_only_what_comes_after():
    pool = ExactPool(np.float32, np.int32)
    pool.add(np.array([0, 1, 0]), np.array([0.5, 0.5, 0.25], np.float32),
             np.array([1, 1, 0]), np.array([0, 0, 1]))
    assert pool.flush(None) == []
    keys, pos, neg = pool.take(0)
    assert keys.tolist() == [0.25, 0.5] and pos.tolist() == [0, 1] and neg.tolist() == [1, 0]
    assert not pool.holds(0) and pool.holds(1)
    pool.add(np.array([0]), np.array([0.5], np.float32), np.array([2]), np.array([0]))
    assert pool.holds(0)
    pool.flush(None)
    assert pool.take(0)[1].tolist() == [2] and pool.take(1)[1].tolist() == [1]


def test_whole_counts_held_narrow_add_up_past_each_narrow_limit():
    """Held whole counts are stored as uint8 or uint16 where they fit: sums that cross 255 and
    65,535 over merges come out whole (no wrap-around), in the pool's count dtype."""
    pool = ExactPool(np.float32, np.int32)
    keys = np.array([0.25, 0.5, 0.75], np.float32)
    total = np.zeros(3, np.int64)
    for k, pos in enumerate(([1, 200, 255], [0, 100, 65_000], [255, 1, 2_000],
                             [0, 0, 1_000_000]), 1):
        pool.add(np.zeros(3, np.int32), keys, np.array(pos), np.array([1, 0, 0]))
        total += pos
        pool.flush(None)
        held = pool.held[0]
        assert held[1].dtype == (np.uint8 if total.max() <= 255 else np.uint16
                                 if total.max() <= 65_535 else np.int32)
        got_keys, got_pos, got_neg = pool.entries(0)
        assert got_pos.dtype == got_neg.dtype == np.int32
        assert got_keys.tolist() == keys.tolist()
        assert got_pos.tolist() == total.tolist() and got_neg.tolist() == [k, 0, 0]
    assert pool.take(0)[1].tolist() == [256, 301, 1_067_255]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sort_order_is_by_slice_then_value_and_stable(dtype):
    rng = np.random.default_rng(1)
    sid = rng.integers(0, 5, 500).astype(np.int32)
    keys = np.round(rng.standard_normal(500), 1).astype(dtype)
    order = sort_order(sid, keys).tolist()
    want = sorted(range(500), key=lambda i: (sid[i], float(keys[i]), i))
    # by (slice, value); -0.0 and 0.0 are one value, and may come in either order
    assert [(sid[i], float(keys[i])) for i in order] == [(sid[i], float(keys[i])) for i in want]
    last = {}  # stable: entries with the same slice and bits keep their order
    for i in order:
        bits = (int(sid[i]), keys[i].tobytes())
        assert last.get(bits, -1) < i
        last[bits] = i
    unstable = sort_order(sid, keys, stable=False).tolist()
    assert [(sid[i], float(keys[i])) for i in unstable] == \
        [(sid[i], float(keys[i])) for i in want]


def test_narrow_counts_keeps_what_does_not_fit_and_casts_what_does():
    from assay.metrics.score_counts import narrow_counts

    assert narrow_counts(np.array([0, 3, 255])).dtype == np.uint8
    assert narrow_counts(np.array([0, 256])).dtype == np.uint16
    for kept in (np.array([1, 65_536]), np.array([-1, 2]), np.array([1.0, np.nan]),
                 np.zeros(0, np.int32)):
        assert narrow_counts(kept) is kept


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.int32, np.int64,
                                   np.float32, np.float64])
def test_narrow_count_dtype_against_the_values_bounds(dtype):
    """The narrowest unsigned dtype that holds every value, checked against the bounds of the
    values themselves (min >= 0, max below 256 or 65,536), for each dtype counts come in."""
    from assay.metrics.score_counts import narrow_count_dtype

    rng = np.random.default_rng(5)
    top = np.iinfo(dtype).max if np.dtype(dtype).kind in "ui" else 2**20
    cases = [np.array([0, 255]), np.array([255, 256]), np.array([65_535, 0]),
             np.array([65_536]), np.array([3, -1]), np.array([-300]), np.array([2.0, np.nan]),
             np.array([np.nan]), np.zeros(0), rng.integers(0, 300, 50)]
    for values in cases:
        if np.isnan(values).any() and np.dtype(dtype).kind != "f":
            continue
        lo, hi = (values.min(), values.max()) if len(values) else (0, 0)
        if len(values) and (lo < np.iinfo(np.int64).min or hi > top
                            or (np.dtype(dtype).kind == "u" and lo < 0)):
            continue  # not representable in this dtype
        v = values.astype(dtype)
        got = narrow_count_dtype(v)
        if not len(v) or np.isnan(v.astype(np.float64)).any() or v.min() < 0 or v.max() > 65_535:
            assert got is None, (dtype, values)
        else:
            assert got == (np.uint8 if v.max() <= 255 else np.uint16), (dtype, values)


def test_cumulative_counts_of_one_counts_object_then_another_are_each_their_own():
    """The last call's arrays are handed out again only for the same counts object: areas
    read alternately from two slices' counts equal scikit-learn's for each; the arrays are
    read-only, so a caller cannot change what the next one reads."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    from assay.metrics.curves import (average_precision, cumulative_counts,
                                      grouped_score_counts, roc_auc)

    rng = np.random.default_rng(3)
    slices = []
    for _ in range(2):
        y = rng.integers(0, 2, 300).astype(float)
        p = np.round(rng.random(300), 2)
        counts = grouped_score_counts(np.zeros(300, np.int64), np.zeros(300, np.int32), p, y,
                                      1 - y, 1, 10_000, None)[0]
        slices.append((counts, y, p))
    for counts, y, p in slices + slices[::-1] + slices:
        _, tp, fp = cumulative_counts(counts, 0)
        assert roc_auc(tp, fp) == pytest.approx(roc_auc_score(y, p), rel=1e-12)
        assert average_precision(tp, fp) == pytest.approx(average_precision_score(y, p),
                                                          rel=1e-12)
        with pytest.raises(ValueError):
            tp[0] = -1.0


def test_a_ratio_of_scalars_equals_numpys():
    from assay.metrics.base import ratio

    for num, den in ((1, 3), (np.float32(0.1), 7.0), (np.int64(5), np.float64(-0.0)),
                     (2.0, 0), (np.nan, 2.0), (1.0, np.inf), (3.0, np.nan)):
        want = np.divide(np.float64(num), np.float64(den)) if den != 0 else np.nan
        got = ratio(num, den)
        assert type(got) is float
        assert (np.isnan(got) and np.isnan(want)) or got == want
        assert got == float(ratio(np.array([num], np.float64), np.array([den], np.float64))[0]) \
            or np.isnan(got)


@pytest.mark.parametrize("widen", [False, True])
def test_held_keys_come_back_bit_for_bit(widen):
    """Keys are held as their order keys; what the pool hands back has the bits that came in
    (-0.0, negative, subnormal and huge values), also once widened to float64."""
    values = np.array([-np.inf, -3.4e38, -1.0, -1e-45, -0.0, 1e-45, 0.5, 3.4e38, np.inf],
                      np.float32)
    pool = ExactPool(np.float32, np.int32)
    pool.add(np.zeros(len(values), np.int32), values[::-1].copy(), np.ones(len(values)),
             np.zeros(len(values)))
    pool.flush(None)
    if widen:
        pool.widen(keys=True)
        values = values.astype(np.float64)
    assert pool.held[0][0].dtype == (np.int64 if widen else np.int32)
    keys, pos, neg = pool.entries(0)
    assert keys.dtype == values.dtype and keys.tobytes() == values.tobytes()
    assert pos.tolist() == [1] * len(values) and neg.tolist() == [0] * len(values)
    keys, pos, _ = pool.held_entries(0)
    assert keys.tobytes() == values.tobytes() and pos.dtype == np.uint8  # held narrow


def test_sorted_distinct_equals_numpy_unique():
    from assay.metrics.binary_dense import _sorted_distinct

    rng = np.random.default_rng(3)
    for _ in range(20):
        runs = [np.sort(rng.integers(-50, 50, rng.integers(0, 40))).astype(np.int32)
                for _ in range(rng.integers(1, 6))]
        values = np.concatenate(runs)
        assert _sorted_distinct(values).tolist() == np.unique(values).tolist()


@pytest.mark.parametrize("top,float32", [(3, True), (300, True), (70_000, True), (3, False)])
def test_an_exact_slice_is_handed_over_packed_as_packing_gives_it(top, float32):
    """DenseBinary.scores hands a slice's held counts over as PackedScoreCounts; where they are
    held as packing holds them (float32 keys, uint8/uint16 counts) they are taken as they are.
    Either way the packed state equals PackedScoreCounts of the widened counts: same dtypes,
    same bits."""
    from assay.metrics.binary_dense import DenseBinary
    from assay.metrics.curves import ScoreCounts
    from assay.metrics.score_counts import PackedScoreCounts

    keys = np.array([0.125, 0.25, 0.5, 0.75], np.float32 if float32 else np.float64)
    if not float32:
        keys = keys + 1e-12  # not float32 values
    pos = np.array([top, 1, 0, 2])
    neg = np.array([0, 1, 1, 2])
    state = DenseBinary(3, 10, 1000, 100)
    state.reserve(1)
    state.add_scores(np.zeros(4, np.int64), keys.astype(np.float64), pos.astype(np.float64),
                     neg.astype(np.float64), True, float32)
    got = state.scores(0)
    want = PackedScoreCounts(ScoreCounts(np.zeros(4, np.int32), keys.astype(np.float64),
                                         pos.astype(np.float64), neg.astype(np.float64)))
    for a, b in zip(got.__getstate__(), want.__getstate__()):
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
        else:
            assert a == b
    assert got.keys.tolist() == keys.astype(np.float64).tolist()
    assert got.pos.tolist() == pos.tolist() and got.neg.tolist() == neg.tolist()
    assert 0 not in state.pool.held  # handed over once


@pytest.mark.parametrize("seed", range(6))
def test_packed_exact_parts_merge_as_their_widened_forms_do(seed):
    """merge_score_counts of packed single-curve exact parts (float32 keys, uint8/uint16
    counts) is read from the packed arrays as they are; the packed result equals merging the
    same parts widened to ScoreCounts (ties, -0.0 and 0.0, sums past 255 and 65,535, and a sum
    past max_exact keys, which is bucketed)."""
    from assay.metrics.curves import ScoreCounts, merge_score_counts
    from assay.metrics.score_counts import PackedScoreCounts

    rng = np.random.default_rng(seed)
    parts = []
    for _ in range(rng.integers(2, 5)):
        keys = np.unique(np.round(rng.random(rng.integers(1, 60)), 2).astype(np.float32))
        if rng.random() < 0.5:
            keys = np.unique(np.concatenate([keys, np.array([-0.0], np.float32)]))
        scale = [1, 100, 30_000][seed % 3]
        pos, neg = (rng.integers(0, scale, len(keys)).astype(np.float64) for _ in range(2))
        parts.append(ScoreCounts(np.zeros(len(keys), np.int32), keys.astype(np.float64), pos,
                                 neg))
    max_exact = [None, 1000, 20][seed % 3 if seed < 3 else 1]
    packed = [PackedScoreCounts(p) for p in parts]
    got = merge_score_counts(packed, 50, max_exact)
    want = merge_score_counts(parts, 50, max_exact)
    assert isinstance(got, PackedScoreCounts) and isinstance(want, PackedScoreCounts)
    for a, b in zip(got.__getstate__(), want.__getstate__()):
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
        else:
            assert a == b
    total = _reference([(0, k, p, n) for part in parts
                        for k, p, n in zip(part.keys, part.pos, part.neg)])[0]
    if got.exact:
        assert {float(k): [p, n] for k, p, n in zip(got.keys, got.pos, got.neg)} == \
            {k: v for k, v in total.items()}
