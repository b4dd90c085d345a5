"""BinaryMetrics accumulated for every slice at once (assay.metrics.binary_dense) against the
per-slice accumulators it replaces in the pass, and against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

import assay
from assay.engine import passes
from assay.metrics.batch import ModelBatch
from assay.metrics.binary import BinaryMetrics


def _batches(seed: int, n_batches: int, n_slices: int, decimals: int, unweighted: int = 0,
             float32: int = 0):
    """Random batches of (labels, predictions, weights, slice of each row); the first
    `unweighted` batches have weight 1 everywhere, the first `float32` batches float32
    predictions (as float32 arrays, and every other one as float64 arrays of float32 values)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n_batches):
        n = int(rng.integers(1, 400))
        p = np.round(rng.random(n), decimals)
        if i < float32:
            p = p.astype(np.float32) if i % 2 else p.astype(np.float32).astype(np.float64)
        y = (rng.random(n) < p).astype(float)
        w = np.ones(n) if i < unweighted else rng.exponential(1.0, n)
        share = 0.5 ** np.arange(n_slices)  # slices from large to a few rows
        out.append((ModelBatch(y, p, w), rng.choice(n_slices, n, p=share / share.sum())))
    return out


def _legacy(fam: BinaryMetrics, batches, n_slices: int):
    """Per slice: one accumulator per batch from add_grouped, merged (the per-slice path)."""
    parts = {s: [] for s in range(n_slices)}
    for batch, slice_of in batches:
        present = np.unique(slice_of)
        local = np.searchsorted(present, slice_of)
        for g, acc in enumerate(fam.add_grouped(batch, local, len(present))):
            parts[int(present[g])].append(acc)
    return {s: fam.merge(p) for s, p in parts.items() if p}


def _dense(fam: BinaryMetrics, batches, n_slices: int, id_of: np.ndarray):
    state = fam.dense_create()
    for batch, slice_of in batches:
        present = np.unique(slice_of)
        local = np.searchsorted(present, slice_of)
        fam.dense_add(state, batch, None, local, id_of[present], {})
    return fam.dense_split(state)


@pytest.mark.parametrize("max_exact, exact, decimals, unweighted, float32", [
    (None, False, 3, 0, 0),   # the default cap (num_buckets): every slice exact here
    (40, False, 3, 0, 0),     # slices cross the cap at different batches: some bucketed
    (40, False, 3, 25, 0),    # unweighted: bucket counts held as integers
    (40, False, 3, 12, 0),    # unweighted, then weighted: the integer counts become floats
    (40, False, 12, 0, 0),    # continuous scores: no ties
    (0, False, 3, 0, 0),      # bucketed from the first example
    (0, False, 3, 25, 0),
    (None, True, 2, 0, 0),    # never bucketed
    # exact counts held packed (float32 keys, int32 counts), then widened in place
    (40, False, 3, 25, 25),   # float32 predictions, unweighted: packed throughout
    (None, False, 8, 25, 25),
    (40, False, 3, 25, 10),   # float32, then float64 predictions: keys widened
    (None, True, 12, 12, 12), # keys and counts widened at the same batch
    (None, False, 12, 20, 8), # keys widened first, counts later
])
def test_dense_state_equals_the_per_slice_accumulators(max_exact, exact, decimals, unweighted,
                                                       float32):
    fam = BinaryMetrics(thresholds=(0.3, 0.5), num_buckets=50, exact=exact,
                        max_exact_scores=max_exact)
    n_slices = 9
    batches = _batches(7, 25, n_slices, decimals, unweighted, float32)
    id_of = np.random.default_rng(1).permutation(n_slices)  # slice ids in any order
    legacy = _legacy(fam, batches, n_slices)
    dense = _dense(fam, batches, n_slices, id_of)
    assert sorted(dense) == sorted(id_of[s] for s in legacy)
    forms = set()
    for s, want in legacy.items():
        got = dense[int(id_of[s])]
        for field in ("sums", "confusion", "calibration"):
            np.testing.assert_allclose(getattr(got, field), getattr(want, field), rtol=1e-12)
        assert got.scores.exact == want.scores.exact
        forms.add(got.scores.exact)
        np.testing.assert_array_equal(got.scores.keys, want.scores.keys)
        np.testing.assert_allclose(got.scores.pos, want.scores.pos, rtol=1e-12)
        np.testing.assert_allclose(got.scores.neg, want.scores.neg, rtol=1e-12)
        rw, rg = fam.result(want), fam.result(got)
        assert rw.keys() == rg.keys()
        for k in rw:
            assert rg[k] == pytest.approx(rw[k], rel=1e-12, nan_ok=True), k
    if max_exact == 40:
        assert forms == {True, False}  # both forms were exercised
    # Merged with an accumulator made the per-slice way: what the engine does across files.
    s = next(iter(legacy))
    both = fam.merge([dense[int(id_of[s])], fam.add(fam.create(), batches[0][0])])
    assert fam.result(both)["example_count"] == (
        fam.result(legacy[s])["example_count"] + len(batches[0][0]))


def test_dense_state_matches_scikit_learn_per_slice():
    fam = BinaryMetrics(num_buckets=10000)
    batches = _batches(3, 12, 5, 4)
    dense = _dense(fam, batches, 5, np.arange(5))
    y = np.concatenate([b.labels for b, _ in batches])
    p = np.concatenate([b.predictions for b, _ in batches])
    w = np.concatenate([b.weights for b, _ in batches])
    s_of = np.concatenate([s for _, s in batches])
    for s, acc in dense.items():
        m = s_of == s
        r = fam.result(acc)
        assert r["example_count"] == m.sum()
        assert r["auc"] == pytest.approx(roc_auc_score(y[m], p[m], sample_weight=w[m]), abs=1e-12)
        assert r["auc_pr"] == pytest.approx(
            average_precision_score(y[m], p[m], sample_weight=w[m]), abs=1e-12)


@pytest.fixture(scope="module")
def trips(tmp_path_factory):
    from assay import demo

    root = tmp_path_factory.mktemp("trips")
    demo.write_trips(str(root), 6000, 3, 4, False)
    return str(root)


def test_the_pass_gives_the_per_slice_results(trips, monkeypatch):
    """Whole evaluations, dense and per-slice, on small batches, overlapping specs ([day] and
    {day: 3} give one slice), two models, a weight and a min_slice_size: equal records."""
    cfg = {"label": "label", "weight": "weight",
           "models": {"candidate": {"prediction": "prediction"},
                      "baseline": {"prediction": "old_prediction"}},
           "slices": [[], ["hour"], ["day"], {"day": 3}, ["hour", "day"]],
           "metrics": ["example_count", "auc", "auc_pr", "accuracy", "log_loss", "calibration"],
           "batch_size": 500, "num_buckets": 100, "min_slice_size": 5}
    dense = assay.evaluate(cfg, examples=trips, workers=1)

    init = passes.SliceAccumulator.__init__

    def per_slice(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self._dense = [False] * len(self._families)
        self._legacy = list(self._families)

    monkeypatch.setattr(passes.SliceAccumulator, "__init__", per_slice)
    legacy = assay.evaluate(cfg, examples=trips, workers=1)
    a = {(str(r["slice"]), r["model"]): r.get("metrics") for r in dense.records}
    b = {(str(r["slice"]), r["model"]): r.get("metrics") for r in legacy.records}
    assert a.keys() == b.keys() and len(a) > 100
    for key, metrics in b.items():
        assert a[key].keys() == metrics.keys(), key
        for name, value in metrics.items():
            assert a[key][name] == pytest.approx(value, rel=1e-12, nan_ok=True), (key, name)


# ---- exact score counts: merges at any frequency, a slice crossing the cap late ------------


def _reference_counts(p: np.ndarray, y: np.ndarray, w: np.ndarray):
    """(distinct predictions, weight of positives, weight of negatives), sorted: np.unique."""
    keys, inverse = np.unique(p, return_inverse=True)
    return (keys, np.bincount(inverse, w * y, minlength=len(keys)),
            np.bincount(inverse, w * (1 - y), minlength=len(keys)))


def _late_crossing_batches(seed: int, n_batches: int = 30):
    """Slices 0-3 over many small batches, duplicates-heavy (scores from small sets), weighted:
    slice 0 draws from 35 scores and, in the last batch only, gets 6 more (it crosses a cap
    of 40 late, by one); slice 1 from exactly 40 (at the cap, never over it); slice 2 from
    3; slice 3 continuous (crosses early)."""
    rng = np.random.default_rng(seed)
    pools = {0: np.round(rng.random(35), 6), 1: np.round(rng.random(40), 6),
             2: np.array([0.25, 0.5, 0.75])}
    late = np.round(rng.random(6), 6) + 1e-7  # distinct from the pool's
    out = []
    for i in range(n_batches):
        parts = []
        for s in range(4):
            n = int(rng.integers(5, 60))
            if s == 3:
                p = rng.random(n)
            elif s == 0 and i == n_batches - 1:
                p = np.r_[rng.choice(pools[0], n), pools[0], late]  # 41 distinct in all
            else:
                p = rng.choice(pools[s], n)
            parts.append((p, np.full(len(p), s)))
        p = np.concatenate([q for q, _ in parts])
        slice_of = np.concatenate([s for _, s in parts])
        y = (rng.random(len(p)) < p).astype(float)
        w = rng.exponential(1.0, len(p))
        order = rng.permutation(len(p))
        out.append((ModelBatch(y[order], p[order], w[order]), slice_of[order]))
    return out


@pytest.mark.parametrize("pool_cap", [1 << 20, 8, 100, 1])
def test_merges_at_any_frequency_equal_the_per_slice_path_and_numpy(monkeypatch, pool_cap):
    """Merges of the pool at any frequency (every few entries to once at the end) give the
    per-slice path's counts: a slice crossing the cap in the last batch is bucketed, one at
    the cap is not, and the exact ones hold numpy's counts of their rows."""
    from assay.metrics import binary_dense

    monkeypatch.setattr(binary_dense, "_POOL_CAP", pool_cap)
    fam = BinaryMetrics(thresholds=(0.5,), num_buckets=20, max_exact_scores=40)
    batches = _late_crossing_batches(5)
    id_of = np.array([3, 0, 2, 1])
    legacy = _legacy(fam, batches, 4)
    dense = _dense(fam, batches, 4, id_of)
    forms = {s: dense[int(id_of[s])].scores.exact for s in range(4)}
    assert forms == {0: False, 1: True, 2: True, 3: False}
    y = np.concatenate([b.labels for b, _ in batches])
    p = np.concatenate([b.predictions for b, _ in batches])
    w = np.concatenate([b.weights for b, _ in batches])
    s_of = np.concatenate([s for _, s in batches])
    for s in range(4):
        got, want = dense[int(id_of[s])].scores, legacy[s].scores
        np.testing.assert_array_equal(got.keys, want.keys)
        np.testing.assert_allclose(got.pos, want.pos, rtol=1e-12)
        np.testing.assert_allclose(got.neg, want.neg, rtol=1e-12)
        m = s_of == s
        r = fam.result(dense[int(id_of[s])])
        if forms[s]:
            keys, pos, neg = _reference_counts(p[m], y[m], w[m])
            np.testing.assert_array_equal(got.keys, keys)
            np.testing.assert_allclose(got.pos, pos, rtol=1e-12)
            np.testing.assert_allclose(got.neg, neg, rtol=1e-12)
            assert r["auc"] == pytest.approx(roc_auc_score(y[m], p[m], sample_weight=w[m]),
                                             abs=1e-12)
        assert r["auc"] == pytest.approx(fam.result(legacy[s])["auc"], rel=1e-12)


def test_scores_hand_a_slice_over_once(monkeypatch):
    """scores(sid) hands a slice's counts over and forgets them: entries added afterwards
    (merged with the other slices' counts, not yet handed over) come back alone."""
    from assay.metrics import binary_dense

    monkeypatch.setattr(binary_dense, "_POOL_CAP", 4)
    state = binary_dense.DenseBinary(1, 4, 10, None)
    state.reserve(3)

    def add(sid, keys, pos):
        sid, keys, pos = np.asarray(sid), np.asarray(keys, float), np.asarray(pos, float)
        state.add_scores(sid, keys, pos, 1.0 - pos, True)

    add([0, 0, 1, 2, 2], [0.1, 0.4, 0.3, 0.2, 0.9], [1, 0, 1, 1, 0])
    add([2, 0, 1, 1], [0.2, 0.4, 0.3, 0.6], [1, 1, 0, 0])
    first = state.scores(0)
    np.testing.assert_array_equal(first.keys, [0.1, 0.4])
    np.testing.assert_array_equal(first.pos, [1, 1])
    np.testing.assert_array_equal(first.neg, [0, 1])
    add([1, 0], [0.3, 0.4], [1, 0])  # after the hand-over of slice 0
    np.testing.assert_array_equal(state.scores(0).keys, [0.4])
    one = state.scores(1)
    np.testing.assert_array_equal(one.keys, [0.3, 0.6])
    np.testing.assert_array_equal(one.pos, [2, 0])
    two = state.scores(2)
    np.testing.assert_array_equal(two.keys, [0.2, 0.9])
    np.testing.assert_array_equal(two.pos, [2, 0])
    assert len(state.scores(1)) == 0  # handed over


@pytest.mark.parametrize("max_exact", [0, 3])
def test_bucket_counts_past_the_uint16_range_widen_and_stay_exact(max_exact):
    """Unweighted bucket counts are held as uint16 while no bucket can pass 65,535; a slice
    whose one bucket reaches 79,976 widens them without losing a count."""
    fam = BinaryMetrics(thresholds=(0.5,), num_buckets=10, max_exact_scores=max_exact)
    rng = np.random.default_rng(3)
    batches = []
    for _ in range(8):
        slice_of = np.r_[np.zeros(10_000, np.int64), rng.integers(1, 3, 500)]
        p = np.r_[0.05, 0.15, 0.25, np.full(9_997, 0.55), rng.random(500)]
        y = np.r_[np.zeros(10_000), (rng.random(500) < 0.3).astype(float)]
        batches.append((ModelBatch(y, p, np.ones(len(p))), slice_of))
    state = fam.dense_create()
    id_of = np.arange(3)
    for batch, slice_of in batches:
        fam.dense_add(state, batch, None, slice_of, id_of, {})
    dense = fam.dense_split(state)  # bucketed at the latest here, when the pool merges
    assert state.bpos.dtype == np.int32  # widened from uint16
    legacy = _legacy(fam, batches, 3)
    big = dense[0].scores
    assert list(big.keys) == [0, 1, 2, 5] and big.neg[-1] == 8 * 9_997 and big.pos[-1] == 0
    for s, want in legacy.items():
        got = dense[s].scores
        np.testing.assert_array_equal(got.keys, want.scores.keys)
        np.testing.assert_array_equal(got.pos, want.scores.pos)
        np.testing.assert_array_equal(got.neg, want.scores.neg)
        np.testing.assert_equal(fam.result(dense[s]), fam.result(want))


def test_bucket_counts_stay_uint16_while_they_fit():
    fam = BinaryMetrics(thresholds=(0.5,), num_buckets=10, max_exact_scores=0)
    state = fam.dense_create()
    batch = ModelBatch(np.r_[np.ones(500), np.zeros(500)], np.full(1000, 0.25), np.ones(1000))
    for _ in range(60):  # 60,000 in one bucket: below 65,535
        fam.dense_add(state, batch, None, np.zeros(1000, np.int64), np.array([0]), {})
    assert state.bpos.dtype == np.uint16 and state.bhas is None
    scores = fam.dense_split(state)[0].scores
    assert list(scores.keys) == [2] and scores.pos[0] == scores.neg[0] == 30_000
