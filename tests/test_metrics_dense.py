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


def _batches(seed: int, n_batches: int, n_slices: int, decimals: int, unweighted: int = 0):
    """Random batches of (labels, predictions, weights, slice of each row); the first
    `unweighted` batches have weight 1 everywhere."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n_batches):
        n = int(rng.integers(1, 400))
        p = np.round(rng.random(n), decimals)
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


@pytest.mark.parametrize("max_exact, exact, decimals, unweighted", [
    (None, False, 3, 0),   # the default cap (num_buckets): every slice exact here
    (40, False, 3, 0),     # slices cross the cap at different batches: some bucketed
    (40, False, 3, 25),    # unweighted: bucket counts held as integers
    (40, False, 3, 12),    # unweighted, then weighted: the integer counts become floats
    (40, False, 12, 0),    # continuous scores: no ties
    (0, False, 3, 0),      # bucketed from the first example
    (0, False, 3, 25),
    (None, True, 2, 0),    # never bucketed
])
def test_dense_state_equals_the_per_slice_accumulators(max_exact, exact, decimals, unweighted):
    fam = BinaryMetrics(thresholds=(0.3, 0.5), num_buckets=50, exact=exact,
                        max_exact_scores=max_exact)
    n_slices = 9
    batches = _batches(7, 25, n_slices, decimals, unweighted)
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

