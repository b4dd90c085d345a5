"""`discover:` in the pass: the config, the per-example store, the `discovered` section.

References: the slice statistics of the section are recomputed here in plain numpy from the
examples (the confirmation half by the documented split); p-values against scipy's Welch
t-test; a confirmed slice's metrics against scikit-learn on the slice's rows; quantile buckets
against numpy's exact quantiles. The whole-pass tests are in test_discovery_e2e.py.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

from assay.config.schema import EvalConfig
from assay.discovery.config import parse_discover
from assay.discovery.discover import confirmation_half
from assay.discovery.errors import task_loss
from assay.discovery.examples import ExampleStore
from assay.discovery.extension import extension
from assay.discovery.section import build_section
from assay.errors import ConfigError
from assay.metrics.batch import ModelBatch
from assay.metrics.binary import BinaryMetrics

# ---------------------------------------------------------------- config


def test_config_defaults_and_round_trip_through_eval_config():
    raw = {"label": "y", "models": {"candidate": {"prediction": "p"}},
           "discover": {"features": ["region", {"feature": "amount", "quantiles": 4}],
                        "min_size": 100}}
    cfg = EvalConfig.from_dict(raw)
    d = cfg.feature("discover")
    assert d.features == (("region", None), ("amount", 4))
    assert (d.max_features, d.min_size, d.top, d.error, d.alpha, d.q) == (3, 100, 20, None,
                                                                          0.95, 0.05)
    again = EvalConfig.from_dict(cfg.to_dict())
    assert again.feature("discover") == d and hash(d) == hash(again.feature("discover"))
    assert parse_discover({"features": "a", "min_size": 0.05}).min_size == 0.05
    assert parse_discover({"features": ["a"], "min_size": 100.0}).min_size == 100


@pytest.mark.parametrize("raw, match", [
    ([1], r"'discover' must be a mapping"),
    ({"max_features": 2}, r"'discover' needs 'features'"),
    ({"features": []}, r"'discover.features' must name at least one feature"),
    ({"features": [3]}, r"'discover.features\[0\]' must be a list of feature names"),
    ({"features": [{"feature": "a"}]}, r"'discover.features\[0\]' must give both"),
    ({"features": [{"feature": "a", "quantiles": 1}]}, r"quantiles' must be at least 2"),
    ({"features": ["a", "a"]}, r"names a more than once"),
    ({"features": ["a"], "min_size": 1.5}, r"'discover.min_size' must be a count .* \(got 1.5\)"),
    ({"features": ["a"], "min_size": 0}, r"'discover.min_size' must be a count"),
    ({"features": ["a"], "min_size": "5"}, r"'discover.min_size' .* a str"),
    ({"features": ["a"], "error": "logloss"}, r"did you mean 'log_loss'"),
    ({"features": ["a"], "loss": "zero_one"}, r"'discover.loss' is only used with error: reg"),
    ({"features": ["a"], "alpha": 0}, r"'discover.alpha' must be in \(0, 1\]"),
    ({"features": ["a"], "q": 1}, r"'discover.q' must be in \(0, 1\)"),
    ({"features": ["a"], "top": 0}, r"'discover.top' must be at least 1"),
    ({"features": ["a"], "levels": 2}, r"unknown key 'levels' in 'discover'"),
])
def test_config_errors_name_the_key_and_value(raw, match):
    with pytest.raises(ConfigError, match=match):
        parse_discover(raw)


def test_config_error_through_eval_config_names_discover():
    with pytest.raises(ConfigError, match=r"'discover.error' must be one of"):
        EvalConfig.from_dict({"label": "y", "models": {"candidate": {"prediction": "p"}},
                              "discover": {"features": ["a"], "error": "nope"}})


@dataclasses.dataclass
class _Plan:
    config: EvalConfig
    task: str


def _plan(task, discover, baseline=True):
    models = {"candidate": {"prediction": "p"}}
    if baseline:
        models["baseline"] = {"prediction": "b"}
    return _Plan(EvalConfig.from_dict({"label": "y", "models": models,
                                       "discover": discover}), task)


@pytest.mark.parametrize("task, discover, baseline, match", [
    ("regression", {"error": "log_loss"}, True,
     r"'discover.error' is 'log_loss', which does not fit a regression task; use "
     r"squared_error or absolute_error or regression"),
    ("binary", {"error": "squared_error"}, True, r"use log_loss or zero_one or regression"),
    ("binary", {"error": "regression", "loss": "absolute_error"}, True,
     r"'discover.loss' is 'absolute_error', which does not fit a binary task"),
    ("multilabel", {}, True, r"supports binary, multiclass and regression .* 'multilabel'"),
])
def test_task_dependent_errors_say_which_fit(task, discover, baseline, match):
    with pytest.raises(ConfigError, match=match):
        extension(_plan(task, {"features": ["a"], **discover}, baseline))


def test_regression_without_a_baseline_is_a_section_saying_so():
    ext = extension(_plan("binary", {"features": ["a"], "error": "regression"}, baseline=False))
    acc = ext.add(ext.create(), None)  # nothing is kept: there is nothing to compare
    section = ext.extract(acc, {})
    assert section["slices"] == [] and section["examples"] == 0
    assert section["unavailable"] == ("error: regression compares the candidate with the "
                                      "baseline, and no baseline model was evaluated")


def test_a_label_free_config_cannot_discover():
    """No label, no per-example error: refused with a reason (not zero labels searched)."""
    plan = _Plan(EvalConfig.from_dict({"models": {"candidate": {"prediction": "p"}},
                                       "discover": {"features": ["a"]}}), "binary")
    with pytest.raises(ConfigError, match=r"'discover' searches .* needs a label; this config "
                                          r"has none"):
        extension(plan)


def test_no_discover_no_extension():
    plan = _Plan(EvalConfig.from_dict({"label": "y", "models": {"candidate": {
        "prediction": "p"}}}), "binary")
    assert extension(plan) is None
    assert extension(_plan("regression", {"features": ["a"]})).loss == "squared_error"


# ---------------------------------------------------------------- per-example losses


def test_task_losses_match_scikit_learn():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 50)
    p = rng.dirichlet(np.ones(3), 50)
    assert np.isclose(task_loss("multiclass", "log_loss", y, p).mean(),
                      log_loss(y, p, labels=[0, 1, 2]))
    assert np.isclose(task_loss("multiclass", "zero_one", y, p).mean(),
                      1 - accuracy_score(y, p.argmax(1)))
    v, w = rng.normal(size=50), rng.normal(size=50)
    assert np.allclose(task_loss("regression", "squared_error", v, w), (v - w) ** 2)
    assert np.allclose(task_loss("regression", "absolute_error", v, w), abs(v - w))


# ---------------------------------------------------------------- the store and the section


def planted(n, seed=0):
    """Columns with a planted weak slice (region=north & segment=b: the candidate is right on
    50% there, 90% elsewhere; the baseline is right on 90% everywhere), and a numeric amount."""
    rng = np.random.default_rng(seed)
    region = rng.choice(["north", "south", "east", "west"], n)
    segment = rng.choice(["a", "b", "c"], n)
    amount = np.round(rng.gamma(2.0, 20.0, n), 2)
    y = (rng.random(n) < 0.4).astype(np.float64)
    bad = (region == "north") & (segment == "b")
    right = rng.random(n) < np.where(bad, 0.5, 0.9)
    p = np.where(right == (y == 1), 0.8, 0.2) + rng.uniform(-0.05, 0.05, n)
    b = np.where((rng.random(n) < 0.9) == (y == 1), 0.75, 0.25)
    return {"region": region, "segment": segment, "amount": amount, "y": y, "p": p, "b": b}


SETTINGS = {"max_features": 2, "min_size": 50, "top": 6, "alpha": 0.95, "q": 0.05,
            "error": "log_loss"}
FEATURES = (("region", None), ("segment", None), ("amount", 4))


def _store(cols, rows, paired=False):
    store = ExampleStore(FEATURES)
    batch = pa.record_batch([pa.array(cols[k][rows]) for k in ("region", "segment", "amount")],
                            names=["region", "segment", "amount"])
    cand = ModelBatch(cols["y"][rows], cols["p"][rows], np.ones(len(rows)))
    base = ModelBatch(cols["y"][rows], cols["b"][rows], np.ones(len(rows)))
    err = task_loss("binary", "log_loss", cand.labels, cand.predictions)
    if paired:
        err = err - task_loss("binary", "log_loss", base.labels, base.predictions)
    store.add_batch(batch, err, rows.astype(np.uint64) * np.uint64(7919),
                    {"candidate": cand, "baseline": base})
    return store


@pytest.fixture(scope="module")
def cols():
    return planted(4000)


def _section(cols, paired=False, shards=1):
    parts = np.array_split(np.arange(4000), shards)
    stores = [_store(cols, rows, paired) for rows in parts]
    merged = stores[0].merge(stores[1:])
    fam = BinaryMetrics()
    settings = dict(SETTINGS, error="regression" if paired else "log_loss")
    return build_section(merged, settings, paired=paired,
                         families={"candidate": fam, "baseline": fam},
                         headline=("auc", "log_loss", "accuracy"))


def _rows_of(cols, slice_):
    mask = np.ones(4000, dtype=bool)
    for name, value in slice_.items():
        if name == "amount":
            lo, hi = (float(x) for x in value.strip("[()").split(", "))
            mask &= (cols["amount"] >= lo) & (cols["amount"] < hi)
        else:
            mask &= cols[name] == value
    return mask


def test_section_matches_plain_statistics_and_recovers_the_planted_slice(cols):
    section = _section(cols)
    assert section["examples"] == 4000
    err = task_loss("binary", "log_loss", cols["y"], cols["p"])
    assert section["overall_error"] == pytest.approx(err.mean(), rel=1e-6)
    confirmed = [s["slice"] for s in section["slices"] if s["confirmed"]]
    assert {"region": "north", "segment": "b"} in confirmed
    held = confirmation_half(np.arange(4000, dtype=np.uint64) * np.uint64(7919))
    for s in section["slices"]:
        mask = _rows_of(cols, s["slice"])
        inside, rest = err[mask & held], err[~mask & held]
        assert s["examples"] == mask.sum() and s["size"] == len(inside)
        assert s["error"] == pytest.approx(inside.mean(), rel=1e-5)
        assert s["rest_error"] == pytest.approx(rest.mean(), rel=1e-5)
        assert s["effect"] == pytest.approx(inside.mean() - rest.mean(), rel=1e-4, abs=1e-6)
        ref = stats.ttest_ind(inside, rest, equal_var=False, alternative="greater").pvalue
        assert s["p_value"] == pytest.approx(ref, rel=1e-3, abs=1e-12)
        if s["confirmed"]:
            y, p = cols["y"][mask], cols["p"][mask]
            m = s["metrics"]["candidate"]
            assert m["auc"] == pytest.approx(roc_auc_score(y, p), abs=2e-3)
            assert m["log_loss"] == pytest.approx(log_loss(y, p), rel=1e-6)
            assert m["accuracy"] == pytest.approx(accuracy_score(y, p >= 0.5))
            assert s["metrics"]["baseline"]["accuracy"] == pytest.approx(
                accuracy_score(y, cols["b"][mask] >= 0.5))
        else:
            assert "metrics" not in s


def test_quantile_buckets_are_the_exact_quantiles(cols):
    from assay.discovery.section import _feature_codes

    codes, labels = _feature_codes(_store(cols, np.arange(4000)))
    bounds = np.unique(np.quantile(cols["amount"], [0.25, 0.5, 0.75]))
    assert labels["amount"] == ([f"(-inf, {bounds[0]!r})"]
                                + [f"[{b!r}, {c!r})" for b, c in zip(bounds[:-1], bounds[1:])]
                                + [f"[{bounds[-1]!r}, inf)", None])
    for code, label in enumerate(labels["amount"][:-1]):  # each example in its interval
        mask = _rows_of(cols, {"amount": label.replace("-inf", "-1e300").replace("inf)",
                                                                               "1e300)")})
        assert np.array_equal(codes["amount"] == code, mask)


def test_shards_merge_to_the_same_section(cols):
    one, three = _section(cols), _section(cols, shards=3)
    assert [s["slice"] for s in one["slices"]] == [s["slice"] for s in three["slices"]]
    for a, b in zip(one["slices"], three["slices"]):
        assert a["p_value"] == pytest.approx(b["p_value"], rel=1e-9)


def test_paired_regression_tests_the_difference(cols):
    section = _section(cols, paired=True)
    d = (task_loss("binary", "log_loss", cols["y"], cols["p"])
         - task_loss("binary", "log_loss", cols["y"], cols["b"])).astype(np.float32)
    assert section["overall_error"] == pytest.approx(d.mean(), rel=1e-5)
    held = confirmation_half(np.arange(4000, dtype=np.uint64) * np.uint64(7919))
    top = [s for s in section["slices"] if s["confirmed"]]
    assert {"region": "north", "segment": "b"} in [s["slice"] for s in top]
    for s in top:
        mask = _rows_of(cols, s["slice"])
        assert s["error"] == pytest.approx(d[mask & held].mean(), rel=1e-5)
        assert s["rest_error"] == pytest.approx(d[~mask & held].mean(), rel=1e-4, abs=1e-7)


def test_store_keeps_numpy_arrays_and_reports_a_missing_feature():
    store = ExampleStore((("g", None), ("x", 3)))
    batch = pa.record_batch([pa.array(["a", None, "b"]), pa.array([1.0, None, 3.0])],
                            names=["g", "x"])
    store.add_batch(batch, np.array([0.1, 0.2, 0.3]), np.arange(3, dtype=np.uint64), {})
    other = ExampleStore((("g", None), ("x", 3)))
    other.add_batch(pa.record_batch([pa.array(["c", "a"]), pa.array([2.0, 5.0])],
                                    names=["g", "x"]),
                    np.array([0.4, 0.5]), np.arange(3, 5, dtype=np.uint64), {})
    store.merge([other])
    codes, values = store.categorical()["g"]
    assert values == ["a", "b", "c", None]
    assert [values[c] for c in codes] == ["a", None, "b", "c", "a"]
    assert codes.dtype == np.int32 and store.errors[0].dtype == np.float32
    assert np.isnan(store.numeric("x")[1]) and store.key_values().dtype == np.uint64
    with pytest.raises(ConfigError, match=r"names 'h', which is not a column of the examples; "
                                          r"they have: g, x"):
        ExampleStore((("h", None),)).add_batch(batch, np.zeros(3), np.zeros(3, np.uint64), {})


def test_paired_null_confirms_no_slice_in_95_percent_of_100_sets():
    """Two models equally good everywhere (their paired loss differences have mean 0 in every
    slice, and either sign): the section confirms some slice in at most 5 of 100 data sets."""
    flagged = 0
    fam = BinaryMetrics()
    for seed in range(100):
        rng = np.random.default_rng(7000 + seed)
        n = 1500
        store = ExampleStore((("a", None), ("b", None), ("c", None)))
        cols = [rng.integers(0, k, n) for k in (4, 3, 5)]
        batch = pa.record_batch([pa.array(c) for c in cols], names=["a", "b", "c"])
        diff = rng.exponential(0.5, n) - rng.exponential(0.5, n)
        y = np.zeros(n)
        store.add_batch(batch, diff, np.arange(n, dtype=np.uint64),
                        {"candidate": ModelBatch(y, np.full(n, 0.3), np.ones(n))})
        section = build_section(store, dict(SETTINGS, min_size=30, top=10, error="regression"),
                                paired=True, families={"candidate": fam}, headline=("auc",))
        flagged += any(s["confirmed"] for s in section["slices"])
    assert flagged <= 5


def test_list_dictionary_and_plain_columns_give_the_same_codes():
    """tf.Example list features (their first value) and Arrow dictionaries are encoded like the
    plain column of the same values."""
    plain = pa.array(["b", None, "a", "b"])
    forms = [plain, pa.array([["b"], None, ["a", "z"], ["b"]]), plain.dictionary_encode(),
             pa.array([["b"], [], ["a"], ["b"]])]
    seen = []
    for column in forms:
        store = ExampleStore((("g", None),))
        store.add_batch(pa.record_batch([column], names=["g"]), np.zeros(4),
                        np.arange(4, dtype=np.uint64), {})
        codes, values = store.categorical()["g"]
        seen.append([values[c] for c in codes])
    assert seen == [["b", None, "a", "b"]] * 4
