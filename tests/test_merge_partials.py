"""passes.merge_partials: the partials of many units merged in one call, as the local engine's
driver merges a big file's parts (engine/local.py, MERGE_UNITS at a time)."""

import copy

import numpy as np
import pytest
from sklearn import metrics as skm

from assay.engine import passes
from assay.metrics.batch import ModelBatch
from assay.metrics.binary import BinaryMetrics
from assay.metrics.regression import RegressionMetrics


def _units(n_units, rows, seed, distinct):
    """Labels, predictions, weights of `n_units` parts of one data set (weights in eighths:
    exact in float64, so any order of summation gives the same sums)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(rows) < 0.4).astype(np.float64)
    p = np.clip(0.3 * y + rng.random(rows) * 0.7, 0, 1)
    p = np.round(p * distinct) / distinct  # ties within and across parts
    w = rng.integers(1, 16, rows) / 8.0
    cuts = np.sort(rng.choice(np.arange(1, rows), n_units - 1, replace=False))
    return y, p, w, np.split(np.arange(rows), cuts)


def _partials(families, y, p, w, parts):
    out = []
    for rows in parts:
        batch = ModelBatch(y[rows], p[rows], w[rows])
        accs = {m: [f.add(f.create(), batch) for f in families] for m in ("candidate", "other")}
        out.append(accs)
    return out


def _pairwise(families, partials):
    """The merge the driver did before: the running sum merged with each unit in turn."""
    out = partials[0]
    for other in partials[1:]:
        out = {m: [f.merge([a, b]) for f, a, b in zip(families, out[m], other[m])] for m in out}
    return out


@pytest.mark.parametrize("distinct,max_exact", [(50, None), (100000, 300)])
def test_merging_many_units_at_once_equals_pairwise_and_sklearn(distinct, max_exact):
    # max_exact 300: the merged scores outgrow the exact limit, so the merge buckets them.
    families = [BinaryMetrics(num_buckets=1000, max_exact_scores=max_exact),
                RegressionMetrics()]
    y, p, w, parts = _units(7, 3000, seed=3, distinct=distinct)
    partials = _partials(families, y, p, w, parts)
    once = passes.merge_partials(families, copy.deepcopy(partials))
    pairwise = _pairwise(families, copy.deepcopy(partials))
    assert once.keys() == {"candidate", "other"}
    for model in once:
        a = passes.compute_slice(families, {model: once[model]})[model]["metrics"]
        b = passes.compute_slice(families, {model: pairwise[model]})[model]["metrics"]
        assert a.keys() == b.keys()
        for name, value in a.items():
            assert value == b[name] or (np.isnan(value) and np.isnan(b[name])), name
    got = passes.compute_slice(families, once)["candidate"]["metrics"]
    assert got["example_count"] == 3000
    assert got["weighted_example_count"] == pytest.approx(w.sum(), abs=0)
    # An independent reference: scikit-learn on all the rows (exact score counts only).
    if max_exact is None:
        assert got["auc"] == pytest.approx(skm.roc_auc_score(y, p, sample_weight=w), abs=1e-12)
    else:
        assert got["auc"] == pytest.approx(skm.roc_auc_score(y, p, sample_weight=w), abs=2e-3)


def test_one_partial_is_returned_as_it_is_and_models_may_be_missing_from_some():
    families = [BinaryMetrics()]
    y, p, w, parts = _units(3, 300, seed=4, distinct=20)
    partials = _partials(families, y, p, w, parts)
    assert passes.merge_partials(families, partials[:1]) == partials[0]
    del partials[1]["other"]
    merged = passes.merge_partials(families, partials)
    counts = passes.compute_slice(families, merged)
    assert counts["candidate"]["metrics"]["example_count"] == 300
    assert counts["other"]["metrics"]["example_count"] == 300 - len(parts[1])
