"""Issue 17 (speed, memory): the per-batch shared score order, the dense merge of bucketed
counts and the packed score counts give the same accumulators as the plain paths.

References: BinaryMetrics.add_grouped on the sub-batch (the path every spec took before), a
plain dict-based sum per (curve, key) written here, and the float64 arrays before packing.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from assay.metrics import bootstrap, curves
from assay.metrics.base import grouped_partials
from assay.metrics.batch import ModelBatch
from assay.metrics.binary import BinaryMetrics


def _batch(n: int, seed: int, decimals: int = 3) -> ModelBatch:
    rng = np.random.default_rng(seed)
    p = np.round(rng.random(n), decimals)  # ties
    y = (rng.random(n) < p).astype(np.float64)
    return ModelBatch(y, p, rng.exponential(size=n))


def _same_accs(a, b) -> None:
    for x, z in zip(a, b):
        for field in ("sums", "confusion", "calibration"):
            np.testing.assert_array_equal(getattr(x, field), getattr(z, field))
        for field in ("curve", "keys", "pos", "neg"):
            np.testing.assert_array_equal(getattr(x.scores, field), getattr(z.scores, field))
            assert getattr(x.scores, field).dtype == getattr(z.scores, field).dtype


@pytest.mark.parametrize("max_exact", [None, 150, 0])
def test_grouped_partials_equal_add_grouped_on_the_sub_batch(max_exact):
    batch = _batch(4000, seed=1)
    fam = BinaryMetrics(thresholds=(0.3, 0.5), max_exact_scores=max_exact)
    rng = np.random.default_rng(2)
    cache = {}
    for spec in range(3):  # three specs of one batch share the cache
        rows = np.sort(rng.choice(len(batch), 2500, replace=False))
        groups = rng.integers(0, 9, len(rows))
        expected = fam.add_grouped(batch.take(rows), groups, 9)
        got = grouped_partials([fam], batch, rows, groups, 9, cache)[0]
        _same_accs(expected, got)
    overall = grouped_partials([fam], batch, None, np.zeros(len(batch), np.int64), 1, cache)[0]
    _same_accs(fam.add_grouped(batch, np.zeros(len(batch), np.int64), 1), overall)


def test_grouped_partials_leave_a_wrapped_family_its_own_add_grouped():
    # bootstrap.Replicated forwards unknown attributes to its family: it must not be bypassed.
    batch = _batch(500, seed=3)
    weights = bootstrap.replicate_weights(np.arange(500, dtype=np.uint64), 0, 8,
                                          ones_column=True)
    batch = ModelBatch(batch.labels, batch.predictions, batch.weights, replicate_weights=weights)
    fam = bootstrap.Replicated(BinaryMetrics(), 8)
    got = grouped_partials([fam], batch, None, np.zeros(500, np.int64), 1, {})[0]
    assert isinstance(got[0], bootstrap.ReplicatedAcc)
    assert got[0].reps is not None


def _dict_sums(parts):
    out = {}
    for c in parts:
        for curve, key, pos, neg in zip(c.curve, c.keys, c.pos, c.neg):
            pp, nn = out.get((int(curve), key), (0.0, 0.0))
            out[(int(curve), key)] = (pp + pos, nn + neg)
    return out


@pytest.mark.parametrize("n_curves", [1, 3])
def test_merged_bucketed_counts_equal_a_plain_sum_per_key(n_curves):
    rng = np.random.default_rng(4)
    parts = []
    for _ in range(5):
        m = 300
        curve = np.sort(rng.integers(0, n_curves, m)).astype(np.int32)
        parts.append(curves.bucketize(curves.ScoreCounts(
            curve, rng.random(m), rng.exponential(size=m), rng.exponential(size=m)), 50))
    parts = [curves._sum_by_key(p.curve, p.keys, p.pos, p.neg) for p in parts]
    merged = curves.merge_score_counts(parts, 50, None)
    assert not merged.exact
    expected = _dict_sums(parts)
    got = {(int(c), int(k)): (p, n) for c, k, p, n in
           zip(merged.curve, merged.keys, merged.pos, merged.neg)}
    assert sorted(got) == sorted((c, int(k)) for c, k in expected)
    for (c, k), (p, n) in expected.items():
        assert got[(c, int(k))] == pytest.approx((p, n), rel=1e-12)
    # keys sorted by (curve, key), as the sort path gives them
    order = np.lexsort((merged.keys, merged.curve))
    np.testing.assert_array_equal(order, np.arange(len(order)))


def test_packed_counts_are_lossless_and_narrow_where_values_allow():
    rng = np.random.default_rng(5)
    counts32 = curves.ScoreCounts(np.zeros(1000, np.int32),
                                  np.sort(rng.random(1000).astype(np.float32)).astype(np.float64),
                                  rng.integers(0, 50, 1000).astype(np.float64),
                                  rng.integers(0, 50, 1000).astype(np.float64))
    counts64 = curves.ScoreCounts(np.zeros(1000, np.int32), np.sort(rng.random(1000)),
                                  rng.exponential(size=1000), np.ones(1000))
    bucketed = curves.bucketize(counts64, 10000)
    top = int(bucketed.keys[-1])
    # three curves, large counts (uint16, then float32 past 2**16), a -0.0 weight, sparse ids
    curve = np.repeat(np.arange(3, dtype=np.int32), 100)
    sparse = curves.ScoreCounts(curve, np.tile(np.arange(0, 10000, 100), 3),
                                np.r_[np.full(299, 300.0), 2.0**16],
                                np.r_[-0.0, np.full(299, 1.0)])
    single_sparse = curves.ScoreCounts(np.zeros(10, np.int32), np.arange(0, 10000, 1000),
                                       np.full(10, 70000.0), np.full(10, 0.5))
    for counts, narrow in (
            # no curve array (one curve); float32 keys; counts below 2**8: uint8
            (counts32, 1000 * (4 + 1 + 1)),
            (counts64, 1000 * (8 + 8 + 1)),
            # bucket ids dense enough for a bitmap: one bit per id up to the largest
            (bucketed, (top + 1 + 7) // 8 + len(bucketed) * (8 + 1)),
            # int8 curves, int16 ids, float32 (2**16 is past uint16), -0.0 kept as a float
            (sparse, 300 * (1 + 2 + 4 + 4)),
            (single_sparse, 10 * (2 + 4 + 4))):
        packed = curves.PackedScoreCounts(counts)
        assert packed.nbytes == narrow
        again = pickle.loads(pickle.dumps(packed))
        for field, dtype in (("curve", np.int32), ("pos", np.float64), ("neg", np.float64),
                             ("keys", counts.keys.dtype)):
            for p in (packed, again):
                got = getattr(p, field)
                np.testing.assert_array_equal(got, getattr(counts, field))
                # bit for bit: -0.0 stays -0.0
                np.testing.assert_array_equal(np.signbit(got), np.signbit(getattr(counts, field)))
                assert got.dtype == dtype
        for p in (packed, again):
            assert p.exact == counts.exact and len(p) == len(counts)
            assert p.max_keys_per_curve() == counts.max_keys_per_curve()


def test_merging_packed_accumulators_gives_the_unpacked_result():
    fam = BinaryMetrics(max_exact_scores=300)
    batches = [_batch(400, seed=s, decimals=2) for s in range(6)]
    accs = [fam.add_grouped(b, np.zeros(len(b), np.int64), 1)[0] for b in batches]
    merged = fam.merge([fam.merge(accs[:3]), fam.merge(accs[3:])])
    assert isinstance(merged.scores, curves.PackedScoreCounts)
    y = np.concatenate([b.labels for b in batches])
    p = np.concatenate([b.predictions for b in batches])
    w = np.concatenate([b.weights for b in batches])
    from sklearn.metrics import average_precision_score, roc_auc_score

    result = fam.result(merged)
    assert result["auc"] == pytest.approx(roc_auc_score(y, p, sample_weight=w), abs=1e-12)
    assert result["auc_pr"] == pytest.approx(average_precision_score(y, p, sample_weight=w),
                                             abs=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_order_keys_sort_floats_of_either_width_in_value_order(dtype):
    """The integer keys that exact score counts sort by (float32 ones held packed), against
    numpy's own float order; -0.0 just before 0.0, infinities at the ends."""
    rng = np.random.default_rng(4)
    values = np.r_[rng.normal(0, 1e3, 500), rng.random(500), -0.0, 0.0, np.inf, -np.inf,
                   np.finfo(dtype).tiny, -np.finfo(dtype).tiny].astype(dtype)
    keys = curves._order_key(values)
    assert keys.dtype == (np.int32 if dtype == np.float32 else np.int64)
    ordered = values[np.argsort(keys, kind="stable")]
    np.testing.assert_array_equal(ordered, np.sort(values))
    zeros = ordered[ordered == 0]
    assert list(np.signbit(zeros)) == [True, False]
