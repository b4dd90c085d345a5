"""Tests of the built-in metric families against scikit-learn and hand-computed values.

Layout, after sklearn's test_common.py: one registry of reference implementations per family
(REFERENCES), a completeness test that every default metric name has a reference, then invariance
tests written once for all families (shard-and-merge, add_grouped, empty input).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import pickle

import numpy as np
import pytest
from sklearn import metrics as skm

from assay.metrics.batch import ModelBatch
from assay.metrics import (DEFAULT_METRIC_NAMES, BinaryMetrics, Metric, MulticlassMetrics,
                           RegressionMetrics, format_threshold)
from assay.metrics.curves import ScoreCounts
from assay.metrics.regression import quantile_name, weighted_quantiles
from test_multilabel import MULTILABEL_REFERENCES

CLASSES = ["ant", "bee", "cat", "dog", "eel"]


# Data ----------------------------------------------------------------------------------------


@dataclasses.dataclass
class Data:
    y: np.ndarray
    p: np.ndarray
    w: np.ndarray

    def batch(self, rows=None) -> ModelBatch:
        if rows is None:
            return ModelBatch(self.y, self.p, self.w)
        return ModelBatch(self.y[rows], self.p[rows], self.w[rows])


def make_weights(rng, n, weighted):
    # Multiples of 0.5 including zero: weighted quantiles can then be checked by repetition.
    return rng.integers(0, 6, size=n) * 0.5 if weighted else np.ones(n)


def binary_data(n=3000, seed=0, weighted=True) -> Data:
    rng = np.random.default_rng(seed)
    p = rng.uniform(size=n)
    y = (rng.uniform(size=n) < 0.2 + 0.6 * p).astype(np.float64)
    return Data(y, p, make_weights(rng, n, weighted))


def multiclass_data(n=3000, seed=0, weighted=True) -> Data:
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(len(CLASSES)), size=n)
    # Labels drawn from a sharpened version of p: informative but imperfect predictions.
    sharp = p ** 2 / np.sum(p ** 2, axis=1, keepdims=True)
    y = (rng.uniform(size=(n, 1)) > np.cumsum(sharp, axis=1)).sum(axis=1).astype(np.int64)
    return Data(y, p, make_weights(rng, n, weighted))


def regression_data(n=3000, seed=0, weighted=True, offset=0.0) -> Data:
    rng = np.random.default_rng(seed)
    y = offset + rng.normal(size=n) * 3
    p = y + rng.standard_t(4, size=n)
    return Data(y, p, make_weights(rng, n, weighted))


def one_pass(metric: Metric, data: Data):
    return metric.add(metric.create(), data.batch())


def assert_results_close(actual, expected, rtol=1e-12, atol=0.0):
    assert actual.keys() == expected.keys()
    for name in expected:
        a, e = actual[name], expected[name]
        assert isinstance(a, float), (name, type(a))
        if math.isnan(e):
            assert math.isnan(a), (name, a)
        else:
            assert a == pytest.approx(e, rel=rtol, abs=atol), name


# Reference registry: metric name -> slow, obviously-correct implementation on Data ----------


def _confusion(d: Data, t: float):
    tn, fp, fn, tp = skm.confusion_matrix(d.y, d.p > t, sample_weight=d.w, labels=[0, 1]).ravel()
    return {"tn": tn, "fp": fp, "fn": fn, "tp": tp}


def _binary_at(t):
    nan = np.nan
    return {
        f"precision@{t}": lambda d: skm.precision_score(d.y, d.p > t, sample_weight=d.w,
                                                        zero_division=nan),
        f"recall@{t}": lambda d: skm.recall_score(d.y, d.p > t, sample_weight=d.w,
                                                  zero_division=nan),
        f"f1@{t}": lambda d: skm.f1_score(d.y, d.p > t, sample_weight=d.w, zero_division=nan),
        f"accuracy@{t}": lambda d: skm.accuracy_score(d.y, d.p > t, sample_weight=d.w),
        **{f"{cell}@{t}": (lambda d, cell=cell: _confusion(d, t)[cell])
           for cell in ("tp", "fp", "tn", "fn")},
    }


BINARY_REFERENCES = {
    "example_count": lambda d: len(d.y),
    "weighted_example_count": lambda d: d.w.sum(),
    "auc": lambda d: skm.roc_auc_score(d.y, d.p, sample_weight=d.w),
    "auc_pr": lambda d: skm.average_precision_score(d.y, d.p, sample_weight=d.w),
    "accuracy": lambda d: skm.accuracy_score(d.y, d.p > 0.5, sample_weight=d.w),
    "precision": lambda d: skm.precision_score(d.y, d.p > 0.5, sample_weight=d.w),
    "recall": lambda d: skm.recall_score(d.y, d.p > 0.5, sample_weight=d.w),
    "f1": lambda d: skm.f1_score(d.y, d.p > 0.5, sample_weight=d.w),
    "specificity": lambda d: skm.recall_score(d.y, d.p > 0.5, pos_label=0, sample_weight=d.w),
    "false_positive_rate": lambda d: _confusion(d, 0.5)["fp"] / (
        _confusion(d, 0.5)["fp"] + _confusion(d, 0.5)["tn"]),
    "log_loss": lambda d: skm.log_loss(d.y, d.p, sample_weight=d.w, labels=[0, 1]),
    "mean_label": lambda d: np.average(d.y, weights=d.w),
    "mean_prediction": lambda d: np.average(d.p, weights=d.w),
    "calibration": lambda d: np.average(d.p, weights=d.w) / np.average(d.y, weights=d.w),
    **_binary_at(0.5),
    **_binary_at(0.25),
}

_LABELS = list(range(len(CLASSES)))


def _prf(fn, average):
    return lambda d: fn(d.y, d.p.argmax(axis=1), average=average, labels=_LABELS,
                        sample_weight=d.w, zero_division=np.nan)


def _ovr_auc(c):
    return lambda d: skm.roc_auc_score(d.y == c, d.p[:, c], sample_weight=d.w)


MULTICLASS_REFERENCES = {
    "example_count": lambda d: len(d.y),
    "weighted_example_count": lambda d: d.w.sum(),
    "accuracy": lambda d: skm.accuracy_score(d.y, d.p.argmax(axis=1), sample_weight=d.w),
    "top_2_accuracy": lambda d: skm.top_k_accuracy_score(d.y, d.p, k=2, labels=_LABELS,
                                                         sample_weight=d.w),
    "top_3_accuracy": lambda d: skm.top_k_accuracy_score(d.y, d.p, k=3, labels=_LABELS,
                                                         sample_weight=d.w),
    "log_loss": lambda d: skm.log_loss(d.y, d.p, sample_weight=d.w, labels=_LABELS),
    "auc_macro": lambda d: skm.roc_auc_score(d.y, d.p, multi_class="ovr", average="macro",
                                             labels=_LABELS, sample_weight=d.w),
    "auc_weighted": lambda d: skm.roc_auc_score(d.y, d.p, multi_class="ovr",
                                                average="weighted", labels=_LABELS,
                                                sample_weight=d.w),
    "auc_micro": lambda d: skm.roc_auc_score(np.eye(len(CLASSES))[d.y], d.p, average="micro",
                                             sample_weight=d.w),
    **{f"{name}_{avg}": _prf(fn, avg)
       for name, fn in (("precision", skm.precision_score), ("recall", skm.recall_score),
                        ("f1", skm.f1_score))
       for avg in ("macro", "micro", "weighted")},
    **{f"{name}/{c}": (lambda d, fn=fn, i=i: _prf(fn, None)(d)[i])
       for name, fn in (("precision", skm.precision_score), ("recall", skm.recall_score),
                        ("f1", skm.f1_score))
       for i, c in enumerate(CLASSES)},
    **{f"auc/{c}": _ovr_auc(i) for i, c in enumerate(CLASSES)},
}


def _repeated_quantile(q):
    """Inverted-CDF quantile of residuals repeated by weight (weights are multiples of 0.5)."""
    def reference(d: Data):
        residuals = np.repeat(d.y - d.p, np.round(d.w * 2).astype(np.int64))
        return np.quantile(residuals, q, method="inverted_cdf")
    return reference


REGRESSION_REFERENCES = {
    "example_count": lambda d: len(d.y),
    "weighted_example_count": lambda d: d.w.sum(),
    "mse": lambda d: skm.mean_squared_error(d.y, d.p, sample_weight=d.w),
    "rmse": lambda d: math.sqrt(skm.mean_squared_error(d.y, d.p, sample_weight=d.w)),
    "mae": lambda d: skm.mean_absolute_error(d.y, d.p, sample_weight=d.w),
    "mape": lambda d: skm.mean_absolute_percentage_error(d.y, d.p, sample_weight=d.w),
    "r2": lambda d: skm.r2_score(d.y, d.p, sample_weight=d.w),
    "mean_label": lambda d: np.average(d.y, weights=d.w),
    "mean_prediction": lambda d: np.average(d.p, weights=d.w),
    **{quantile_name(q): _repeated_quantile(q) for q in (0.0, 0.05, 0.1, 0.25, 0.5, 0.75,
                                                         0.95, 0.999, 1.0)},
}

REFERENCES = {"binary": BINARY_REFERENCES, "multiclass": MULTICLASS_REFERENCES,
              "regression": REGRESSION_REFERENCES,
              "multilabel": MULTILABEL_REFERENCES}  # checked in test_multilabel.py

# family -> (metric from the mode's options, its data), each checked against every reference it
# produces.
FAMILIES = {
    "binary": (lambda **options: BinaryMetrics(thresholds=(0.5, 0.25), **options), binary_data),
    "multiclass": (lambda **options: MulticlassMetrics(CLASSES, top_k=(2, 3), **options),
                   multiclass_data),
    "regression": (lambda **options: RegressionMetrics(
        quantiles=(0.0, 0.05, 0.1, 0.25, 0.5, 0.75, 0.95, 0.999, 1.0), **options),
        regression_data),
}
# Modes of the score counts (binary and multiclass): exact keeps every distinct score; default
# does while a slice has at most num_buckets (10000) distinct scores, which every slice of the
# test data has; bucketed buckets from the first example; hybrid buckets beyond 60 distinct
# scores, so the shards and groups of the invariance tests fall on both sides of its limit.
SCORE_MODES = {"exact": {"exact": True}, "default": {}, "bucketed": {"max_exact_scores": 0},
               "hybrid": {"max_exact_scores": 60}}
MODES = {"binary": SCORE_MODES, "multiclass": SCORE_MODES,
         "regression": {"exact": {"exact": True}, "sketch": {}}}


def make_metric(family: str, mode: str) -> Metric:
    make, _ = FAMILIES[family]
    return make(**MODES[family][mode])
# Values that come from the score buckets or the sketch, so differ in bucketed mode.
CURVE_METRICS = {"auc", "auc_pr", "auc_macro", "auc_micro", "auc_weighted",
                 *(f"auc/{c}" for c in CLASSES)}


def test_every_default_metric_name_has_a_reference():
    for family, names in DEFAULT_METRIC_NAMES.items():
        missing = set(names) - set(REFERENCES[family])
        assert not missing, f"{family} metrics without a reference test: {sorted(missing)}"


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_default_options_produce_the_default_names(family):
    make = {"binary": lambda: BinaryMetrics(), "multiclass": lambda: MulticlassMetrics(CLASSES),
            "regression": lambda: RegressionMetrics()}[family]
    metric = make()
    _, data = FAMILIES[family]
    produced = metric.result(one_pass(metric, data(n=200)))
    assert set(DEFAULT_METRIC_NAMES[family]) <= set(produced)
    assert list(produced) == metric.metric_names()


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_exact_mode_matches_references(family, weighted):
    _, data_fn = FAMILIES[family]
    data = data_fn(weighted=weighted)
    metric = make_metric(family, "exact")
    values = metric.result(one_pass(metric, data))
    checked = set(values) & set(REFERENCES[family])
    assert checked == set(values), f"produced without reference: {set(values) - checked}"
    for name in checked:
        expected = REFERENCES[family][name](data)
        assert values[name] == pytest.approx(expected, rel=1e-12, abs=1e-15), name


@pytest.mark.parametrize("family,mode", [(f, m) for f in sorted(FAMILIES) for m in MODES[f]
                                         if m != "exact"])
def test_other_modes_match_references(family, mode):
    _, data_fn = FAMILIES[family]
    data = data_fn(weighted=True)
    metric = make_metric(family, mode)
    values = metric.result(one_pass(metric, data))
    for name, value in values.items():
        expected = REFERENCES[family][name](data)
        if name in CURVE_METRICS and mode != "default":
            # 3000 distinct scores: bucketed in these modes, exact in the default one.
            assert value == pytest.approx(expected, abs=2e-4), name
        elif name.startswith("residual_"):
            # 3000 residuals fit in the sketch's buffer, where it is exact.
            assert value == expected, name
        else:
            assert value == pytest.approx(expected, rel=1e-12, abs=1e-15), name


# Bucketed accuracy -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def large_binary():
    rng = np.random.default_rng(7)
    n = 100_000
    p = rng.uniform(size=n)
    return {
        "random labels, unweighted": Data((rng.uniform(size=n) < 0.3) * 1.0, p, np.ones(n)),
        "random labels, weighted": Data((rng.uniform(size=n) < 0.3) * 1.0, p,
                                        rng.exponential(size=n)),
        "informative, weighted": Data((rng.uniform(size=n) < p) * 1.0, p,
                                      rng.exponential(size=n)),
    }


def test_bucketed_areas_are_within_1e4_of_sklearn_on_continuous_scores(large_binary):
    metric = BinaryMetrics()
    for case, d in large_binary.items():
        values = metric.result(one_pass(metric, d))
        auc = skm.roc_auc_score(d.y, d.p, sample_weight=d.w)
        ap = skm.average_precision_score(d.y, d.p, sample_weight=d.w)
        assert abs(values["auc"] - auc) < 1e-5, case
        assert abs(values["auc_pr"] - ap) < 1e-4, case


def test_bucketed_areas_equal_sklearn_on_scores_rounded_to_bucket_edges(large_binary):
    # The definition of bucketed mode: examples in one bucket are tied.
    metric = BinaryMetrics(num_buckets=1000)
    d = large_binary["informative, weighted"]
    rounded = np.floor(d.p * 1000) / 1000
    values = metric.result(one_pass(metric, d))
    assert values["auc"] == pytest.approx(
        skm.roc_auc_score(d.y, rounded, sample_weight=d.w), rel=1e-12)
    assert values["auc_pr"] == pytest.approx(
        skm.average_precision_score(d.y, rounded, sample_weight=d.w), rel=1e-12)


def test_multiclass_bucketed_auc_equals_sklearn_on_rounded_scores():
    metric = MulticlassMetrics(CLASSES, num_buckets=50)
    d = multiclass_data(n=2000, seed=8)
    rounded = Data(d.y, np.floor(d.p * 50) / 50, d.w)
    values = metric.result(one_pass(metric, d))
    per_class = [MULTICLASS_REFERENCES[f"auc/{c}"](rounded) for c in CLASSES]
    assert [values[f"auc/{c}"] for c in CLASSES] == pytest.approx(per_class, rel=1e-12)
    assert values["auc_micro"] == pytest.approx(
        MULTICLASS_REFERENCES["auc_micro"](rounded), rel=1e-12)
    # (sklearn's macro and weighted ovr refuse rows that do not sum to 1: average by hand.)
    support = np.bincount(d.y, d.w)
    assert values["auc_macro"] == pytest.approx(np.mean(per_class), rel=1e-12)
    assert values["auc_weighted"] == pytest.approx(np.average(per_class, weights=support),
                                                   rel=1e-12)


def test_multiclass_one_bucket_ties_everything_within_each_class():
    metric = MulticlassMetrics(CLASSES, num_buckets=1)
    values = metric.result(one_pass(metric, multiclass_data(n=500)))
    assert [values[f"auc/{c}"] for c in CLASSES] == [0.5] * len(CLASSES)
    assert values["auc_micro"] == 0.5


# Exact while small, bucketed beyond ------------------------------------------------------------


def _small_slices():
    """Slices of 100 to 1000 examples: continuous or tied scores, weighted or not."""
    rng = np.random.default_rng(21)
    for n in (100, 200, 500, 1000):
        p = rng.uniform(size=n)
        yield Data((rng.uniform(size=n) < p) * 1.0, p, rng.exponential(size=n))
        yield Data((rng.uniform(size=n) < 0.3) * 1.0, p, np.ones(n))
        tied = np.round(rng.beta(0.5, 8, size=n), 3)
        yield Data((rng.uniform(size=n) < 2 * tied) * 1.0, tied, make_weights(rng, n, True))


def _grouped_in_batches(metric, slices, n_batches, seed):
    """The engine's path: batches mixing all slices, add_grouped, merged per slice."""
    y, p, w = (np.concatenate([getattr(d, f) for d in slices]) for f in ("y", "p", "w"))
    group = np.repeat(np.arange(len(slices)), [len(d.y) for d in slices])
    accs = [metric.create() for _ in slices]
    for rows in np.array_split(np.random.default_rng(seed).permutation(len(y)), n_batches):
        partials = metric.add_grouped(ModelBatch(y[rows], p[rows], w[rows]), group[rows],
                                      len(slices))
        accs = [metric.merge([a, b]) for a, b in zip(accs, partials)]
    return accs


def test_small_slices_equal_sklearn_in_default_mode():
    slices = list(_small_slices())
    default, bucketed = BinaryMetrics(), BinaryMetrics(max_exact_scores=0)
    worst_bucketed = 0.0
    for d, acc in zip(slices, _grouped_in_batches(default, slices, n_batches=3, seed=0)):
        assert acc.scores.exact
        values = default.result(acc)
        auc = skm.roc_auc_score(d.y, d.p, sample_weight=d.w)
        ap = skm.average_precision_score(d.y, d.p, sample_weight=d.w)
        assert abs(values["auc"] - auc) < 1e-12 and abs(values["auc_pr"] - ap) < 1e-12
        b = bucketed.result(one_pass(bucketed, d))
        worst_bucketed = max(worst_bucketed, abs(b["auc"] - auc), abs(b["auc_pr"] - ap))
    # What 10000 buckets alone gave on the same slices (examples of both labels in a bucket).
    assert worst_bucketed > 1e-5


def test_small_multiclass_slices_equal_sklearn_in_default_mode():
    metric = MulticlassMetrics(CLASSES)
    for n, seed in ((150, 1), (800, 2)):
        d = multiclass_data(n=n, seed=seed)
        acc = metric.merge([metric.add(metric.create(), d.batch(rows))
                            for rows in np.array_split(np.arange(n), 3)])
        assert acc.scores.exact
        values = metric.result(acc)
        for name in [f"auc/{c}" for c in CLASSES] + ["auc_micro", "auc_macro", "auc_weighted"]:
            assert abs(values[name] - MULTICLASS_REFERENCES[name](d)) < 1e-12, (n, name)


def test_large_slices_are_bucketed_and_small():
    metric = BinaryMetrics()
    d = binary_data(n=30_000, seed=23)
    acc = one_pass(metric, d)
    assert not acc.scores.exact and len(acc.scores.keys) <= metric.num_buckets
    values = metric.result(acc)
    assert abs(values["auc"] - skm.roc_auc_score(d.y, d.p, sample_weight=d.w)) < 1e-4
    assert abs(values["auc_pr"] - skm.average_precision_score(d.y, d.p, sample_weight=d.w)) < 1e-4
    # exact=True never buckets.
    exact = BinaryMetrics(exact=True, num_buckets=10)
    assert one_pass(exact, d).scores.exact
    assert exact.result(one_pass(exact, d))["auc"] == pytest.approx(
        skm.roc_auc_score(d.y, d.p, sample_weight=d.w), rel=1e-12)


def test_the_limit_counts_distinct_scores_of_the_whole_slice_per_curve():
    metric = BinaryMetrics(max_exact_scores=100)
    p = np.linspace(0.001, 0.999, 150)
    y = (np.arange(150) % 3 == 0) * 1.0

    def acc(rows):
        return metric.add(metric.create(), ModelBatch(y[rows], p[rows], np.ones(len(rows))))

    # Two exact parts of 80 distinct scores each: 150 together, so the merge buckets.
    first, second = acc(np.arange(80)), acc(np.arange(70, 150))
    assert first.scores.exact and second.scores.exact
    assert not metric.merge([first, second]).scores.exact
    # The same 80 scores twice: still 80 distinct, still exact.
    assert metric.merge([acc(np.arange(80)), acc(np.arange(80))]).scores.exact
    # Exactly at the limit is exact; one more is not.
    assert acc(np.arange(100)).scores.exact and not acc(np.arange(101)).scores.exact
    # Multi-class: 80 examples give 80 distinct scores per class (400 entries in all): exact.
    multi = MulticlassMetrics(CLASSES, max_exact_scores=100)
    assert one_pass(multi, multiclass_data(n=80)).scores.exact
    assert not one_pass(multi, multiclass_data(n=101)).scores.exact


def test_bucketing_early_or_late_gives_the_same_counts():
    # Weights are multiples of 0.5, so every sum is exact whatever its order: the counts must be
    # equal, not close, to bucketing every example directly.
    rng = np.random.default_rng(24)
    n, buckets = 3000, 1000
    p = rng.uniform(size=n)
    p[:500] = np.round(p[:500], 2)  # ties and bucket edges too
    d = Data((rng.uniform(size=n) < p) * 1.0, p, make_weights(rng, n, True))
    metric = BinaryMetrics(num_buckets=buckets)  # buckets beyond 1000 distinct scores
    ids = np.minimum(np.floor(p * buckets), buckets - 1).astype(np.int64)
    occupied = np.flatnonzero(np.bincount(ids, minlength=buckets))
    expected = (occupied, np.bincount(ids, d.w * d.y, buckets)[occupied],
                np.bincount(ids, d.w * (1 - d.y), buckets)[occupied])

    shards = np.array_split(rng.permutation(n), 10)  # 300 distinct scores each at most

    def parts():  # fresh ones each time: merge may change its first accumulator
        return [metric.add(metric.create(), d.batch(s)) for s in shards]

    assert all(a.scores.exact for a in parts())
    half = metric.add(metric.create(), d.batch(np.concatenate(shards[:5])))
    assert not half.scores.exact
    grouped = metric.add_grouped(d.batch(), (np.arange(n) >= 2900).astype(np.int64), 2)
    assert not grouped[0].scores.exact and grouped[1].scores.exact
    accs = {
        "early: one batch": one_pass(metric, d),
        "late: exact parts merged in a tree": metric.merge(
            [metric.merge(parts()[:3]), metric.merge(parts()[3:7]), metric.merge(parts()[7:])]),
        "late: one exact part at a time": functools.reduce(
            lambda a, b: metric.merge([a, b]), parts(), metric.create()),
        "mixed: bucketed half and exact parts": metric.merge([half] + parts()[5:]),
        "grouped: bucketed and exact groups": metric.merge(grouped),
    }
    for how, acc in accs.items():
        assert not acc.scores.exact, how
        assert np.array_equal(acc.scores.keys, expected[0]), how
        assert np.array_equal(acc.scores.pos, expected[1]), how
        assert np.array_equal(acc.scores.neg, expected[2]), how
        values, early = metric.result(acc), metric.result(accs["early: one batch"])
        assert (values["auc"], values["auc_pr"]) == (early["auc"], early["auc_pr"]), how


def test_sketched_quantiles_are_within_1e3_of_rank():
    rng = np.random.default_rng(3)
    n = 200_000
    d = Data(rng.standard_t(3, size=n), np.zeros(n), rng.uniform(0.5, 2, size=n))
    quantiles = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 0.123)
    metric = RegressionMetrics(quantiles=quantiles)
    shards = np.array_split(rng.permutation(n), 9)
    acc = metric.merge([metric.add(metric.create(), d.batch(s)) for s in shards])
    values = metric.result(acc)
    order = np.argsort(d.y)
    cdf = np.cumsum(d.w[order]) / d.w.sum()
    for q in quantiles:
        rank = cdf[np.searchsorted(d.y[order], values[quantile_name(q)], side="right") - 1]
        assert abs(rank - q) < 1e-3, q


# Hand-computed cases ------------------------------------------------------------------------


def test_binary_hand_computed():
    metric = BinaryMetrics()
    batch = ModelBatch(np.array([0.0, 0.0, 1.0, 1.0]), np.array([0.1, 0.4, 0.35, 0.8]),
                       np.ones(4))
    values = metric.result(metric.add(metric.create(), batch))
    # Pairs (pos, neg): (.35,.1) ok, (.35,.4) wrong, (.8, both) ok -> 3/4.
    assert values["auc"] == pytest.approx(0.75)
    # From the top: .8 positive (P=1, R=.5), .4 negative, .35 positive (P=2/3, R=1).
    assert values["auc_pr"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    # Only .8 > 0.5: tp=1, fp=0, tn=2, fn=1.
    assert (values["tp@0.5"], values["fp@0.5"], values["tn@0.5"], values["fn@0.5"]) == (
        1, 0, 2, 1)
    assert values["accuracy"] == 0.75 and values["precision"] == 1.0
    assert values["recall"] == 0.5 and values["f1"] == pytest.approx(2 / 3)
    assert values["specificity"] == 1.0 and values["false_positive_rate"] == 0.0
    assert values["calibration"] == pytest.approx((0.1 + 0.4 + 0.35 + 0.8) / 4 / 0.5)


def test_binary_buckets_tie_examples_within_a_bucket():
    metric = BinaryMetrics(num_buckets=4, max_exact_scores=0)
    batch = ModelBatch(np.array([0.0, 0.0, 1.0, 1.0]), np.array([0.1, 0.4, 0.35, 0.8]),
                       np.ones(4))
    values = metric.result(metric.add(metric.create(), batch))
    # By default, 4 distinct scores <= num_buckets: exact, .4 above .35 (auc 3/4 as above).
    assert BinaryMetrics(num_buckets=4).result(
        BinaryMetrics(num_buckets=4).add(BinaryMetrics().create(), batch))["auc"] == 0.75
    # Buckets: .1 -> 0, .4 and .35 -> 1 (tied), .8 -> 3. ROC: (0,0) (0,.5) (.5,1) (1,1).
    assert values["auc"] == pytest.approx(0.5 * (0.5 + 1) / 2 + 0.5)
    # Step average precision: bucket 3 gives R .5 at P 1; bucket 1 gives R 1 at P 2/3.
    assert values["auc_pr"] == pytest.approx(0.5 + 0.5 * 2 / 3)


def test_binary_predicted_positive_means_strictly_above_threshold():
    metric = BinaryMetrics(thresholds=(0.5, 0.25))
    batch = ModelBatch(np.array([1.0, 0.0]), np.array([0.5, 0.5]), np.array([2.0, 1.0]))
    values = metric.result(metric.add(metric.create(), batch))
    assert math.isnan(values["precision"])  # nothing predicted positive at 0.5
    assert values["recall"] == 0.0 and values["f1"] == 0.0 and values["fn@0.5"] == 2.0
    assert values["precision@0.25"] == pytest.approx(2 / 3) and values["accuracy"] == 1 / 3
    assert values["auc"] == 0.5  # one tie


def test_binary_log_loss_clips_like_sklearn():
    metric = BinaryMetrics()
    d = Data(np.array([1.0, 0.0, 1.0, 0.0]), np.array([0.0, 1.0, 1.0, 0.0]), np.ones(4))
    values = metric.result(one_pass(metric, d))
    assert values["log_loss"] == pytest.approx(
        skm.log_loss(d.y, d.p, labels=[0, 1]), rel=1e-12)
    assert values["log_loss"] == pytest.approx(-math.log(np.finfo(float).eps) / 2, rel=1e-12)


def test_multiclass_hand_computed_with_ties():
    metric = MulticlassMetrics(["a", "b", "c"], top_k=(1, 2))
    p = np.array([[0.7, 0.2, 0.1],   # label 0, top-1 hit
                  [0.4, 0.4, 0.2],   # label 1, tie with class 0 which wins: miss, top-2 hit
                  [0.3, 0.3, 0.4],   # label 0, rank 1 (class 2 higher, class 1 tied but later)
                  [0.5, 0.1, 0.4]])  # label 2, rank 1
    batch = ModelBatch(np.array([0, 1, 0, 2]), p, np.ones(4))
    acc = metric.add(metric.create(), batch)
    values = metric.result(acc)
    assert values["accuracy"] == 0.25 and values["top_1_accuracy"] == 0.25
    assert values["top_2_accuracy"] == 1.0
    assert metric.plots(acc)["confusion_matrix"]["matrix"] == [
        [1.0, 0.0, 1.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]
    assert math.isnan(values["precision/b"])  # never predicted
    assert values["recall/b"] == 0.0 and values["precision/a"] == pytest.approx(1 / 3)
    # Macro precision skips the undefined class b: mean(1/3, 0).
    assert values["precision_macro"] == pytest.approx(1 / 6)
    # Weighted by support (a: 2, b: 1, c: 1), b still skipped: (2 * 1/3 + 1 * 0) / 3.
    assert values["precision_weighted"] == pytest.approx(2 / 9)
    assert values["log_loss"] == pytest.approx(-np.mean(np.log([0.7, 0.4, 0.3, 0.4])))


def test_multiclass_log_loss_does_not_renormalise_like_sklearn():
    metric = MulticlassMetrics(["a", "b", "c"])
    d = Data(np.array([0, 1, 2]), np.array([[0.5, 0.2, 0.2], [0.1, 0.6, 0.6], [0.0, 0.0, 2.0]]),
             np.ones(3))
    with pytest.warns(UserWarning, match="do not sum to one"):
        expected = skm.log_loss(d.y, d.p, labels=[0, 1, 2])
    assert metric.result(one_pass(metric, d))["log_loss"] == pytest.approx(expected, rel=1e-12)


def test_top_k_skips_k_not_below_the_class_count():
    metric = MulticlassMetrics(["a", "b", "c"], top_k=(2, 3, 5))
    assert [n for n in metric.metric_names() if n.startswith("top_")] == ["top_2_accuracy"]


def test_regression_hand_computed():
    metric = RegressionMetrics(quantiles=(0.5, 0.95), exact=True)
    batch = ModelBatch(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 1.0]), np.ones(3))
    values = metric.result(metric.add(metric.create(), batch))
    # Residuals 0, 1, 2; label mean 2, so SST = 2 and SSE = 5.
    assert values["mse"] == pytest.approx(5 / 3) and values["mae"] == 1.0
    assert values["r2"] == pytest.approx(1 - 5 / 2)
    assert values["mape"] == pytest.approx((0 + 1 / 2 + 2 / 3) / 3)
    assert values["residual_p50"] == 1.0 and values["residual_p95"] == 2.0


def test_weighted_quantile_is_inverted_cdf():
    values, weights = np.array([4.0, 1.0, 3.0, 2.0]), np.array([5.0, 1.0, 1.0, 1.0])
    # Cumulative weights 1, 2, 3, 8 of sorted values 1, 2, 3, 4.
    got = weighted_quantiles(values, weights, np.array([0.0, 0.125, 0.126, 0.375, 0.376, 1.0]))
    assert got.tolist() == [1.0, 1.0, 2.0, 3.0, 4.0, 4.0]
    rng = np.random.default_rng(0)
    x = rng.normal(size=101)
    q = np.linspace(0, 1, 57)
    assert np.array_equal(weighted_quantiles(x, np.ones(101), q),
                          np.quantile(x, q, method="inverted_cdf"))


def test_r2_keeps_precision_under_a_large_label_offset():
    metric = RegressionMetrics()
    centered = regression_data(n=4000, seed=5)
    offset = regression_data(n=4000, seed=5, offset=1e9)
    rng = np.random.default_rng(0)
    shards = np.array_split(rng.permutation(4000), [10, 11, 900, 3000])
    acc = metric.merge([metric.add(metric.create(), offset.batch(s)) for s in shards])
    # Residuals are the same up to the labels' rounding (1e9 * 2^-53 ~ 1e-7).
    assert metric.result(acc)["r2"] == pytest.approx(
        skm.r2_score(centered.y, centered.p, sample_weight=centered.w), rel=1e-7)
    assert metric.result(acc)["r2"] == pytest.approx(
        skm.r2_score(offset.y, offset.p, sample_weight=offset.w), rel=1e-10)


def test_r2_follows_sklearn_on_constant_labels_and_single_examples():
    metric = RegressionMetrics()
    for y, p in (([2.0, 2.0], [2.0, 2.0]), ([2.0, 2.0], [1.0, 2.0])):
        d = Data(np.array(y), np.array(p), np.ones(2))
        assert metric.result(one_pass(metric, d))["r2"] == skm.r2_score(d.y, d.p)
    single = Data(np.array([1.0]), np.array([0.0]), np.ones(1))
    assert math.isnan(metric.result(one_pass(metric, single))["r2"])


# Invariances, written once for all families -------------------------------------------------


def all_metrics(families=tuple(FAMILIES)):
    for family in sorted(families):
        for mode in MODES[family]:
            yield pytest.param(make_metric(family, mode), FAMILIES[family][1],
                               id=f"{family}-{mode}")


def _shards(rng, n, n_shards):
    """Random uneven shards of range(n), some empty."""
    cuts = np.sort(rng.integers(0, n + 1, size=n_shards - 1))
    cuts[: n_shards // 4] = 0  # leading empty shards
    return np.split(rng.permutation(n), cuts)


@pytest.mark.parametrize("metric,data_fn", all_metrics())
def test_shard_and_merge_equals_one_pass(metric, data_fn):
    data = data_fn(n=2500, seed=11)
    expected = metric.result(one_pass(metric, data))
    rng = np.random.default_rng(1)
    shards = _shards(rng, len(data.y), 12)
    assert any(len(s) == 0 for s in shards)
    for trial in range(3):
        order = rng.permutation(len(shards))
        accs = [metric.add(metric.create(), data.batch(shards[i])) for i in order]
        if trial == 0:
            merged = metric.merge(accs)
        elif trial == 1:  # a tree of merges, going through pickling like a shuffle
            accs = [pickle.loads(pickle.dumps(a)) for a in accs]
            merged = metric.merge([metric.merge(accs[:5]), metric.merge(accs[5:])])
        else:  # one accumulator fed batch after batch
            merged = metric.create()
            for i in order:
                merged = metric.add(merged, data.batch(shards[i]))
        assert_results_close(metric.result(merged), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("metric,data_fn", all_metrics(("binary", "multiclass")))
def test_shard_and_merge_gives_the_same_score_counts(metric, data_fn):
    # (Regression keeps no score counts; its sketch is checked just below.)
    data = data_fn(n=1500, seed=12)
    one = one_pass(metric, data)
    shards = _shards(np.random.default_rng(2), len(data.y), 8)
    merged = metric.merge([metric.add(metric.create(), data.batch(s)) for s in shards])
    assert merged.scores.exact == one.scores.exact
    assert np.array_equal(merged.scores.curve, one.scores.curve)
    assert np.array_equal(merged.scores.keys, one.scores.keys)
    np.testing.assert_allclose(merged.scores.pos, one.scores.pos, rtol=1e-12)
    np.testing.assert_allclose(merged.scores.neg, one.scores.neg, rtol=1e-12)
    np.testing.assert_allclose(merged.confusion, one.confusion, rtol=1e-12)


def test_sketched_quantiles_merge_within_sketch_accuracy():
    # Above the sketch's buffer (so it does approximate): shard-and-merge stays within rank 1e-3.
    rng = np.random.default_rng(4)
    n = 60_000
    d = Data(rng.normal(size=n), np.zeros(n), np.ones(n))
    metric = RegressionMetrics(quantiles=(0.05, 0.5, 0.95))
    merged = metric.merge([metric.add(metric.create(), d.batch(s))
                           for s in _shards(rng, n, 10)])
    one = metric.result(one_pass(metric, d))
    for name, value in metric.result(merged).items():
        if name.startswith("residual_"):
            rank_gap = np.mean((d.y >= min(value, one[name])) & (d.y <= max(value, one[name])))
            assert rank_gap < 1e-3, name
        else:
            assert value == pytest.approx(one[name], rel=1e-12), name


@pytest.mark.parametrize("metric,data_fn", all_metrics())
def test_add_grouped_equals_add_on_each_group(metric, data_fn):
    data = data_fn(n=2000, seed=13)
    rng = np.random.default_rng(3)
    n_groups = 40  # groups 35..39 get no examples
    group_ids = rng.integers(0, 35, size=len(data.y))
    grouped = metric.add_grouped(data.batch(), group_ids, n_groups)
    assert len(grouped) == n_groups
    for g in range(n_groups):
        rows = np.flatnonzero(group_ids == g)
        alone = metric.add(metric.create(), data.batch(rows))
        assert_results_close(metric.result(grouped[g]), metric.result(alone), rtol=1e-12)


@pytest.mark.parametrize("metric,data_fn", all_metrics())
def test_add_grouped_equals_the_base_class_loop(metric, data_fn):
    data = data_fn(n=500, seed=14)
    group_ids = np.random.default_rng(5).integers(0, 7, size=len(data.y))
    fast = metric.add_grouped(data.batch(), group_ids, 7)
    slow = Metric.add_grouped(metric, data.batch(), group_ids, 7)
    for a, b in zip(fast, slow):
        assert_results_close(metric.result(a), metric.result(b), rtol=1e-12)


@pytest.mark.parametrize("metric,data_fn", all_metrics())
def test_empty_input_gives_nan(metric, data_fn):
    data = data_fn(n=10)
    empty = data.batch(np.zeros(0, np.int64))
    for acc in (metric.create(), metric.add(metric.create(), empty),
                metric.merge([metric.create(), metric.create()]),
                metric.add_grouped(empty, np.zeros(0, np.int64), 3)[2]):
        values = metric.result(acc)
        assert values["example_count"] == 0 and values["weighted_example_count"] == 0
        others = {k: v for k, v in values.items() if not k.endswith("example_count")
                  and not k.split("@")[0] in ("tp", "fp", "tn", "fn")}
        assert all(math.isnan(v) for v in others.values()), others
        json.dumps(metric.plots(acc), allow_nan=False)


@pytest.mark.parametrize("metric,data_fn", all_metrics())
def test_zero_total_weight_gives_nan_not_an_error(metric, data_fn):
    data = data_fn(n=50)
    data = Data(data.y, data.p, np.zeros(50))
    values = metric.result(one_pass(metric, data))
    assert values["example_count"] == 50
    assert math.isnan(values["mean_prediction" if "mean_prediction" in values else "accuracy"])


@pytest.mark.parametrize("metric,data_fn", all_metrics())
def test_merge_mutates_only_the_first_accumulator(metric, data_fn):
    data = data_fn(n=400, seed=3)
    second = metric.add(metric.create(), data.batch(np.arange(200, 400)))
    before = pickle.dumps(second)
    metric.merge([metric.add(metric.create(), data.batch(np.arange(200))), second])
    assert pickle.dumps(second) == before


# Plots --------------------------------------------------------------------------------------


def test_binary_plots_are_small_json_and_consistent():
    metric = BinaryMetrics(calibration_bins=4)
    d = binary_data(n=5000, seed=9)
    acc = one_pass(metric, d)
    plots = json.loads(json.dumps(metric.plots(acc), allow_nan=False))
    roc, pr = plots["roc_curve"], plots["pr_curve"]
    assert 100 < len(roc["fpr"]) <= 200 and len(roc["fpr"]) == len(roc["tpr"]) == len(
        roc["thresholds"])
    assert (roc["fpr"][0], roc["tpr"][0], roc["fpr"][-1], roc["tpr"][-1]) == (0, 0, 1, 1)
    assert np.all(np.diff(roc["fpr"]) >= 0) and np.all(np.diff(roc["thresholds"][1:]) < 0)
    assert pr["recall"][-1] == 1.0 and len(pr["precision"]) <= 200
    assert pr["precision"][-1] == pytest.approx(np.average(d.y, weights=d.w))
    # The area under the (downsampled) curve is close to the reported one.
    assert np.trapz(roc["tpr"], roc["fpr"]) == pytest.approx(metric.result(acc)["auc"], abs=1e-3)
    # 5000 distinct scores: exact, so the thresholds are scores; bucketed, bucket lower edges.
    assert set(roc["thresholds"][1:]) <= set(d.p)
    bucketed = BinaryMetrics(num_buckets=100, max_exact_scores=0)
    edges = bucketed.plots(one_pass(bucketed, d))["pr_curve"]["thresholds"]
    assert edges[0] == 0.99 and edges[-1] == 0.0 and len(edges) == 100
    cal = plots["calibration"]
    assert cal["bins"] == [0.0, 0.25, 0.5, 0.75]
    in_bin = (d.p >= 0.5) & (d.p < 0.75)
    assert cal["weight"][2] == pytest.approx(d.w[in_bin].sum())
    assert cal["mean_label"][2] == pytest.approx(np.average(d.y[in_bin], weights=d.w[in_bin]))
    assert cal["mean_prediction"][2] == pytest.approx(
        np.average(d.p[in_bin], weights=d.w[in_bin]))


def test_regression_and_multiclass_plots_are_json():
    metric = RegressionMetrics()
    d = regression_data(n=500)
    plots = json.loads(json.dumps(metric.plots(one_pass(metric, d)), allow_nan=False))
    residuals = plots["residuals"]
    assert len(residuals["quantiles"]) == len(residuals["values"]) == 101
    assert residuals["values"][50] == metric.result(one_pass(metric, d))["residual_p50"]
    assert residuals["values"][0] == pytest.approx(np.min((d.y - d.p)[d.w > 0]))
    metric = MulticlassMetrics(CLASSES)
    d = multiclass_data(n=300)
    matrix = metric.plots(one_pass(metric, d))["confusion_matrix"]
    assert matrix["labels"] == CLASSES
    np.testing.assert_allclose(matrix["matrix"], skm.confusion_matrix(
        d.y, d.p.argmax(axis=1), sample_weight=d.w, labels=_LABELS), rtol=1e-12)


# Names and arguments ------------------------------------------------------------------------


def test_format_threshold():
    assert [format_threshold(t) for t in (0.5, 0.25, 1, 0.0, 0.125, 1e-05)] == [
        "0.5", "0.25", "1", "0", "0.125", "1e-05"]


def test_quantile_names():
    assert [quantile_name(q) for q in (0.05, 0.5, 0.95, 0.999, 1.0, 0.0)] == [
        "residual_p05", "residual_p50", "residual_p95", "residual_p99.9", "residual_p100",
        "residual_p00"]


@pytest.mark.parametrize("make,error,match", [
    (lambda: BinaryMetrics(thresholds=0.5), TypeError, r"'thresholds' must be a sequence"),
    (lambda: BinaryMetrics(thresholds=()), ValueError, r"'thresholds' must name at least one"),
    (lambda: BinaryMetrics(thresholds=(1.5,)), ValueError, r"must lie in \[0, 1\] \(got 1.5\)"),
    (lambda: BinaryMetrics(thresholds=("0.5",)), TypeError, r"must hold numbers \(got '0.5'"),
    (lambda: BinaryMetrics(thresholds=(0.5, 0.5)), ValueError,
     r"'thresholds' must give distinct metric names \(got \[0.5, 0.5\], named \['precision@0.5', "),
    (lambda: BinaryMetrics(num_buckets=0), ValueError, r"'num_buckets' must be at least 1"),
    (lambda: BinaryMetrics(num_buckets=10.0), TypeError, r"'num_buckets' must be an int"),
    (lambda: BinaryMetrics(max_exact_scores=-1), ValueError,
     r"'max_exact_scores' must be at least 0 \(got -1\)"),
    (lambda: MulticlassMetrics(["a", "b"], max_exact_scores=1.5), TypeError,
     r"'max_exact_scores' must be an int or None"),
    (lambda: MulticlassMetrics("abc"), TypeError, r"'class_names' must be a list of strings"),
    (lambda: MulticlassMetrics(["a"]), ValueError, r"at least 2 classes"),
    (lambda: MulticlassMetrics([0, 1]), TypeError, r"must hold strings \(got 0, a int\)"),
    (lambda: MulticlassMetrics(["a", "a"]), ValueError, r"must be unique"),
    (lambda: MulticlassMetrics(["a", "b"], top_k=(0,)), ValueError, r"'top_k' must be at least"),
    (lambda: RegressionMetrics(quantiles=(95,)), ValueError, r"write 0.95, not 95"),
    (lambda: RegressionMetrics(quantiles=(0.5, 0.5)), ValueError,
     r"'quantiles' must give distinct metric names \(got \[0.5, 0.5\], named \['residual_p50'"),
    (lambda: RegressionMetrics(sketch_eps=0), ValueError, r"'sketch_eps' must lie in \(0, 1\)"),
])
def test_bad_arguments_are_rejected_with_a_clear_message(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_wrong_prediction_shapes_are_rejected():
    with pytest.raises(ValueError, match=r"needs predictions of shape \[n, 3\]"):
        metric = MulticlassMetrics(["a", "b", "c"])
        metric.add(metric.create(), ModelBatch(np.zeros(2, np.int64), np.zeros((2, 2)),
                                               np.ones(2)))
    with pytest.raises(ValueError, match=r"use MulticlassMetrics"):
        metric = BinaryMetrics()
        metric.add(metric.create(), ModelBatch(np.zeros(2), np.zeros((2, 2)), np.ones(2)))


def test_accumulators_stay_small_for_small_slices():
    # Score counts only hold occupied buckets: a 20-example slice does not carry 10000 buckets.
    for metric, data_fn in ((BinaryMetrics(), binary_data),
                            (MulticlassMetrics(CLASSES), multiclass_data),
                            (RegressionMetrics(), regression_data)):
        accs = metric.add_grouped(data_fn(n=2000).batch(), np.arange(2000) % 100, 100)
        assert len(pickle.dumps(accs[0])) < 10_000, metric.name
    assert isinstance(BinaryMetrics().create().scores, ScoreCounts)


# ------------------------------------------------------------------------------------------
# The custom metric contract, checked when the metric is loaded


class FourMethodMetric:
    """A CombineFn-style class that does not subclass assay.Metric (no add_grouped, no plots)."""

    name = "four"

    def create(self):
        return 0.0

    def add(self, acc, batch):
        return acc + len(batch)

    def merge(self, accs):
        return sum(accs)

    def result(self, acc):
        return {"four": acc}


class NamelessMetric(Metric):
    def create(self):
        return 0.0


class GoodMetric(FourMethodMetric, Metric):
    name = "good"
    directions = {"good": "lower"}


class DeclaringMetric(Metric):
    name = "declaring"
    directions = {"declaring": "better"}


def test_a_custom_metric_must_meet_the_whole_contract_up_front():
    from assay.engine.plan import load_custom_metric
    from assay.errors import ConfigError

    with pytest.raises(ConfigError, match=r"custom metric 'test_metrics:FourMethodMetric' is not "
                                          r"an assay.Metric and lacks add_grouped, plots; "
                                          r"subclass assay.Metric"):
        load_custom_metric("test_metrics:FourMethodMetric", {})
    with pytest.raises(ConfigError, match=r"'test_metrics:NamelessMetric' needs a non-empty "
                                          r"string 'name' attribute \(got ''\)"):
        load_custom_metric("test_metrics:NamelessMetric", {})
    with pytest.raises(ConfigError, match=r"must be one of higher, lower \(got 'better'\)"):
        load_custom_metric("test_metrics:DeclaringMetric", {})
    # A subclass gets add_grouped and plots from assay.Metric, and passes.
    assert load_custom_metric("test_metrics:GoodMetric", {}).directions == {"good": "lower"}


def test_families_share_add_and_add_grouped():
    # add is add_grouped with one group, for every built-in family (metrics.base.GroupedMetric).
    for metric, data_fn in ((BinaryMetrics(), binary_data),
                            (MulticlassMetrics(CLASSES), multiclass_data),
                            (RegressionMetrics(exact=True), regression_data)):
        batch = data_fn(n=300).batch()
        one = metric.result(metric.add(metric.create(), batch))
        grouped = metric.result(metric.add_grouped(batch, np.zeros(300, np.int64), 1)[0])
        assert json.dumps(one) == json.dumps(grouped), metric.name
