"""Confidence intervals in the same pass (`confidence:`, assay.metrics.bootstrap).

The references are independent of the pass: a plain bootstrap written here (per replicate,
scikit-learn's metrics with the replicate's weights), closed forms computed by hand or by an
O(n^2) loop, and Poisson(1)'s probabilities.
"""

import dataclasses
import json
import math
import os

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

import assay
from assay.config.confidence import ConfidenceConfig
from assay.config.schema import EvalConfig
from assay.errors import ConfigError
from assay.metrics import BinaryMetrics, Metric
from assay.metrics import bootstrap, closed_forms
from assay.metrics.batch import ModelBatch

R = 60  # replicates in the end-to-end tests: enough to compare, few enough to be fast


def _rows(n, seed=0, units=40):
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    pred = np.clip(0.35 * label + rng.uniform(0, 0.65, n), 0.001, 0.999).round(3)
    old = np.clip(0.25 * label + rng.uniform(0, 0.7, n), 0.001, 0.999).round(3)
    return {"label": label.astype(float), "prediction": pred, "old_prediction": old,
            "weight": rng.choice([0.5, 1.0, 2.0], n), "g": rng.integers(0, 3, n),
            "user": rng.integers(0, units, n)}


def _write_csv(path, cols, rows=None):
    names = list(cols)
    idx = range(len(cols["label"])) if rows is None else rows
    lines = [",".join(names)] + [",".join(repr(float(cols[c][i])) if c in (
        "label", "prediction", "old_prediction", "weight") else str(int(cols[c][i]))
        for c in names) for i in idx]
    path.write_text("\n".join(lines) + "\n")


def _config(**extra):
    cfg = {"label": "label", "weight": "weight",
           "models": {"candidate": {"prediction": "prediction"},
                      "baseline": {"prediction": "old_prediction"}},
           "slices": [[], ["g"]], "confidence": {"replicates": R, "seed": 3}}
    cfg.update(extra)
    return cfg


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("intervals")
    cols = _rows(600)
    _write_csv(root / "all.csv", cols)
    split = root / "split"
    split.mkdir()
    for i, part in enumerate(np.array_split(np.arange(600), 3)):
        _write_csv(split / f"part-{i}.csv", cols, part)
    return root, cols


@pytest.fixture(scope="module")
def one_file(data):
    root, _ = data
    return assay.evaluate(_config(), str(root / "all.csv"), str(root / "out-one"),
                          engine="local", workers=1)


def _record(result, model, slice_=None):
    doc = json.loads(open(os.path.join(result.path, "assay_metrics.json")).read())
    return next(r for r in doc["records"] if r["model"] == model and r["slice"] == (slice_ or {}))


# ---- config -------------------------------------------------------------------------------------

def test_confidence_config_defaults_round_trip_and_errors():
    base = {"label": "y", "models": {"candidate": {"prediction": "p"}}}
    assert EvalConfig.from_dict(base).confidence is None
    on = EvalConfig.from_dict({**base, "confidence": True}).confidence
    assert on == ConfidenceConfig(level=0.95, replicates=200, unit=None, seed=0)
    cfg = EvalConfig.from_dict({**base, "confidence": {"level": 0.9, "unit": "user", "seed": 4}})
    assert EvalConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.to_dict()["confidence"] == {"level": 0.9, "replicates": 200, "seed": 4,
                                           "unit": "user"}
    for bad, message in [({"level": 1.0}, r"confidence.level' must be a number in \(0, 1\)"),
                         ({"replicates": 5}, r"replicates' must be an integer from 20"),
                         ({"replicates": 50.5}, r"replicates' must be an integer \(got 50.5"),
                         ({"seed": -1}, r"seed' must be an integer >= 0"),
                         ({"unit": " "}, r"confidence.unit' must name a column"),
                         ({"levle": 0.9}, r"unknown key 'levle' in 'confidence'; did you mean"),
                         ("yes", r"'confidence' must be a mapping")]:
        with pytest.raises(ConfigError, match=message):
            EvalConfig.from_dict({**base, "confidence": bad})


def test_tfma_compute_confidence_intervals_translates_to_confidence():
    from assay.config.tfma import from_tfma

    raw = from_tfma({"model_specs": [{"label_key": "y", "prediction_key": "p"}],
                     "options": {"compute_confidence_intervals": {"value": True}}})
    assert EvalConfig.from_dict(raw).confidence == ConfidenceConfig()


def test_a_missing_unit_column_is_named(data, tmp_path):
    root, _ = data
    with pytest.raises(ConfigError, match=r"confidence unit \(confidence.unit\) column 'usr'"):
        assay.evaluate(_config(confidence={"unit": "usr"}), str(root / "all.csv"),
                       str(tmp_path / "o"), engine="local", workers=1)


# ---- the weights --------------------------------------------------------------------------------

def test_poisson_weights_have_poisson_frequencies_and_are_pure_functions_of_the_key():
    keys = bootstrap.row_keys("f.csv", np.arange(20000))
    w = bootstrap.replicate_weights(keys, 0, 50)
    freq = np.bincount(w.astype(int).ravel(), minlength=6)[:6] / w.size
    expected = [math.exp(-1) / math.factorial(k) for k in range(6)]
    np.testing.assert_allclose(freq, expected, atol=0.002)  # 1e6 draws: sd <= 5e-4
    assert abs(np.corrcoef(w[:, 0], w[:, 1])[0, 1]) < 0.02  # replicates independent
    # A row's weights depend on its key alone: the same whether drawn alone or in a batch.
    np.testing.assert_array_equal(bootstrap.replicate_weights(keys[777:778], 0, 50), w[777:778])
    assert not np.array_equal(bootstrap.replicate_weights(keys[:50], 1, 50), w[:50])  # seed
    assert bootstrap.file_names(["gs://b/x/part-0", "gs://b/x/y/part-1"]) == \
        {"gs://b/x/part-0": "part-0", "gs://b/x/y/part-1": "y/part-1"}
    # A unit value keys alike whatever its type: 7 (int), 7.0 (a float column), "7".
    assert len(set(bootstrap.unit_keys(np.array([7, 7])).tolist()
                   + bootstrap.unit_keys(np.array([7.0])).tolist()
                   + bootstrap.unit_keys(np.array(["7"], dtype=object)).tolist())) == 1


def test_sub_batches_index_the_shared_weights():
    w = bootstrap.replicate_weights(bootstrap.row_keys("f", np.arange(10)), 0, 20)
    batch = ModelBatch(np.zeros(10), np.zeros(10), np.ones(10), replicate_weights=w)
    sub = batch.take(np.array([2, 5, 7])).take(np.array([0, 2]))
    assert sub.replicate_weights is w  # not copied
    np.testing.assert_array_equal(sub.example_replicate_weights(), w[[2, 7]])


def test_sparse_products_without_scipy_equal_scipys(monkeypatch):
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 30, (500, 3))
    data = rng.random((500, 3))
    weights = rng.poisson(1, (500, 20)).astype(np.float32)
    fast = bootstrap.example_products(rows, data, 30, weights)
    slow = np.zeros((30, 20))
    for i in range(500):
        for e in range(3):
            slow[rows[i, e]] += data[i, e] * weights[i]
    np.testing.assert_allclose(fast, slow, rtol=1e-5)
    import builtins
    real_import = builtins.__import__

    def no_scipy(name, *args, **kwargs):
        if name.startswith("scipy"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_scipy)
    np.testing.assert_allclose(bootstrap.example_products(rows, data, 30, weights), slow,
                               rtol=1e-7)


def test_percentile_intervals_leave_out_a_few_undefined_replicates():
    rng = np.random.default_rng(0)
    reps = {"a": rng.normal(size=50), "b": rng.normal(size=50), "c": rng.normal(size=50),
            "d": rng.normal(size=50)}
    reps["b"][:3] = np.nan      # 6% undefined: left out
    reps["c"][:10] = np.inf     # 20%: no interval
    out = bootstrap.interval_set({"a": 0.1, "b": 0.2, "c": 0.3, "d": math.nan, "e": 1.0},
                                 reps, 0.9)
    assert set(out) == {"a", "b", "c", "d"}  # "e" has no replicates
    for name in ("a", "b"):
        finite = reps[name][np.isfinite(reps[name])]
        assert [out[name]["lower"], out[name]["upper"], out[name]["stderr"]] == pytest.approx(
            [np.quantile(finite, 0.05), np.quantile(finite, 0.95), np.std(finite, ddof=1)])
    assert all(math.isnan(v) for name in ("c", "d") for v in out[name].values())


# ---- against a plain bootstrap ------------------------------------------------------------------

def _plain_bootstrap(cols, rows, keys, metric, level=0.95, seed=3, replicates=R):
    """Percentile interval and stderr of metric(idx, weights) over the replicates (slow)."""
    w = bootstrap.replicate_weights(keys, seed, replicates)
    values = np.array([metric(rows, cols["weight"][rows] * w[:, r]) for r in range(replicates)])
    a = (1 - level) / 2
    return np.quantile(values, a), np.quantile(values, 1 - a), np.std(values, ddof=1)


def _acc(pred_col):
    return lambda cols, rows, sw: accuracy_score(cols["label"][rows],
                                                 cols[pred_col][rows] > 0.5, sample_weight=sw)


def test_intervals_equal_a_plain_bootstrap_for_every_model_and_the_paired_diff(data, one_file):
    _, cols = data
    n = len(cols["label"])
    keys = bootstrap.row_keys("all.csv", np.arange(n))
    for slice_, rows in (({}, np.arange(n)), ({"g": 1}, np.flatnonzero(cols["g"] == 1))):
        k = keys[rows]
        y = cols["label"][rows]
        checks = {
            ("candidate", "accuracy"): _acc("prediction"),
            ("baseline", "accuracy"): _acc("old_prediction"),
            ("candidate", "mean_label"): lambda c, r, sw: np.average(y, weights=sw),
            ("candidate", "log_loss"): lambda c, r, sw: log_loss(y, c["prediction"][r],
                                                                 sample_weight=sw),
            ("diff", "accuracy"): lambda c, r, sw: _acc("prediction")(c, r, sw)
            - _acc("old_prediction")(c, r, sw),
            ("diff", "mean_prediction"): lambda c, r, sw: np.average(
                c["prediction"][r] - c["old_prediction"][r], weights=sw),
        }
        for (model, name), fn in checks.items():
            lower, upper, se = _plain_bootstrap(cols, rows, k, lambda r, sw: fn(cols, r, sw))
            got = _record(one_file, model, slice_)["intervals"][name]
            # The pass sums a batch's replicates in float32 (about 1e-7 relative per sum).
            np.testing.assert_allclose([got["lower"], got["upper"], got["stderr"]],
                                       [lower, upper, se], rtol=1e-5, atol=2e-6,
                                       err_msg=f"{model} {name}")
        # AUC: the replicates' areas come from coarser score buckets, centred on the exact
        # value; the spread matches the plain bootstrap's closely.
        for model, fn in (("candidate", lambda r, sw: roc_auc_score(
                y, cols["prediction"][r], sample_weight=sw)), ("diff", lambda r, sw: (
                roc_auc_score(y, cols["prediction"][r], sample_weight=sw)
                - roc_auc_score(y, cols["old_prediction"][r], sample_weight=sw)))):
            lower, upper, se = _plain_bootstrap(cols, rows, k, fn)
            got = _record(one_file, model, slice_)["intervals"]["auc"]
            assert got["stderr"] == pytest.approx(se, rel=0.1)
            assert got["lower"] == pytest.approx(lower, abs=0.3 * se)
            assert got["upper"] == pytest.approx(upper, abs=0.3 * se)


def test_same_intervals_on_any_batch_size_worker_count_and_engine(data, one_file, tmp_path):
    root, _ = data
    split = str(root / "split")
    runs = [assay.evaluate(_config(batch_size=7), split, str(tmp_path / "w3"), engine="local",
                           workers=3),
            assay.evaluate(_config(batch_size=64), split, str(tmp_path / "beam"),
                           engine="beam")]
    one_split = assay.evaluate(_config(), split, str(tmp_path / "w1"), engine="local", workers=1)
    for other in runs:
        for model in ("candidate", "baseline", "diff"):
            for slice_ in ({}, {"g": 0}, {"g": 2}):
                a = _record(one_split, model, slice_)["intervals"]
                b = _record(other, model, slice_)["intervals"]
                assert a.keys() == b.keys()
                for name in a:
                    for field in ("lower", "upper", "stderr"):
                        # Within a batch the replicate sums are float32 products (exact for
                        # the integer weights, 6e-8 relative for weight * prediction).
                        assert b[name][field] == pytest.approx(a[name][field], rel=1e-5,
                                                               abs=1e-9, nan_ok=True)
    # The split files are other row identities than all.csv: other (equally valid) draws.
    assert _record(one_split, "candidate")["intervals"]["accuracy"] != \
        _record(one_file, "candidate")["intervals"]["accuracy"]


def test_unit_column_resamples_whole_units(data, tmp_path):
    root, cols = data
    result = assay.evaluate(_config(confidence={"replicates": R, "seed": 3, "unit": "user"}),
                            str(root / "all.csv"), str(tmp_path / "u"), engine="local",
                            workers=1)
    keys = bootstrap.unit_keys(cols["user"])
    n = len(cols["label"])
    lower, upper, se = _plain_bootstrap(cols, np.arange(n), keys,
                                        lambda r, sw: _acc("prediction")(cols, r, sw))
    got = _record(result, "candidate")["intervals"]["accuracy"]
    np.testing.assert_allclose([got["lower"], got["upper"], got["stderr"]], [lower, upper, se],
                               rtol=1e-6)


# ---- any family: custom metrics, regression --------------------------------------------------

class MaxAbsError(Metric):
    name = "max_abs_error"
    directions = {"max_abs_error": "lower", "mean_abs_error": "lower"}

    def create(self):
        return [-np.inf, 0.0, 0.0]

    def add(self, acc, batch):
        e = np.abs(batch.predictions - batch.labels)
        if len(e):
            acc[0] = max(acc[0], float(e.max()))
        acc[1] += float(np.sum(batch.weights * e))
        acc[2] += float(np.sum(batch.weights))
        return acc

    def merge(self, accs):
        return [max(a[0] for a in accs), sum(a[1] for a in accs), sum(a[2] for a in accs)]

    def result(self, acc):
        return {"max_abs_error": acc[0] if acc[2] else math.nan,
                "mean_abs_error": acc[1] / acc[2] if acc[2] else math.nan}


def test_a_custom_metric_gets_replicates_by_resampling():
    rng = np.random.default_rng(5)
    n, reps = 300, 40
    y, p = rng.normal(size=n), rng.normal(size=n)
    w = bootstrap.replicate_weights(bootstrap.row_keys("x", np.arange(n)), 0, reps)
    group = rng.integers(0, 2, n)
    fam = bootstrap.Replicated(MaxAbsError(), reps)
    batch = ModelBatch(y, p, np.ones(n), replicate_weights=w)
    halves = [fam.add_grouped(batch.take(np.arange(0, 150)), group[:150], 2),
              fam.add_grouped(batch.take(np.arange(150, n)), group[150:], 2)]
    accs = [fam.merge([halves[0][g], halves[1][g]]) for g in range(2)]
    for g in range(2):
        values = fam.replicate_values(accs[g])
        rows = np.flatnonzero(group == g)
        e = np.abs(p[rows] - y[rows])
        expected_max = [e[w[rows, r] > 0].max() for r in range(reps)]
        expected_mean = [np.average(e, weights=w[rows, r]) for r in range(reps)]
        np.testing.assert_allclose(values["max_abs_error"], expected_max)
        np.testing.assert_allclose(values["mean_abs_error"], expected_mean, rtol=1e-12)
        assert fam.result(accs[g])["mean_abs_error"] == pytest.approx(e.mean())


def test_regression_metrics_get_intervals(tmp_path):
    rng = np.random.default_rng(2)
    n = 200
    y = rng.normal(10, 2, n)
    p = y + rng.normal(0, 1, n)
    (tmp_path / "r.csv").write_text("y,p\n" + "\n".join(f"{a!r},{b!r}" for a, b in zip(y, p)))
    result = assay.evaluate({"label": "y", "models": {"candidate": {"prediction": "p"}},
                             "confidence": {"replicates": 40}}, str(tmp_path / "r.csv"),
                            str(tmp_path / "o"), engine="local", workers=1)
    intervals = _record(result, "candidate")["intervals"]
    metrics = _record(result, "candidate")["metrics"]
    w = bootstrap.replicate_weights(bootstrap.row_keys("r.csv", np.arange(n)), 0, 40)
    mae = np.array([np.average(np.abs(p - y), weights=w[:, r]) for r in range(40)])
    name = next(k for k in metrics if k in ("mae", "mean_absolute_error"))
    assert intervals[name]["stderr"] == pytest.approx(np.std(mae, ddof=1), rel=1e-9)
    assert set(intervals) >= {k for k, v in metrics.items() if isinstance(v, float)}


# ---- closed forms -------------------------------------------------------------------------------

def test_wilson_and_mcnemar_by_hand():
    w = closed_forms.wilson(8, 10, 0.95)
    assert (round(w["lower"], 4), round(w["upper"], 4)) == (0.4902, 0.9433)
    m = closed_forms.mcnemar(30, 10, 200, 0.95)  # diff 0.1, var (0.2 - 0.01) / 200
    assert m["stderr"] == pytest.approx(math.sqrt(0.19 / 200))
    assert m["lower"] == pytest.approx(0.1 - 1.959964 * math.sqrt(0.19 / 200), abs=1e-6)


def _slow_delong(y, a, b=None):
    """DeLong by the O(n^2) definition of the placements (ties count half)."""
    def placements(s):
        pos, neg = s[y == 1], s[y == 0]
        psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
        return psi.mean(axis=1), psi.mean(axis=0)
    a10, a01 = placements(a)
    if b is not None:
        b10, b01 = placements(b)
        a10, a01 = a10 - b10, a01 - b01
    return a10.mean(), math.sqrt(np.var(a10, ddof=1) / len(a10) + np.var(a01, ddof=1) / len(a01))


def test_delong_fast_forms_equal_the_definition():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    a = np.round(0.3 * y + rng.random(300), 1)  # many ties
    b = np.round(0.2 * y + rng.random(300), 2)
    keys = np.unique(a)
    pos = np.array([np.sum((a == k) & (y == 1)) for k in keys], float)
    neg = np.array([np.sum((a == k) & (y == 0)) for k in keys], float)
    auc, se = _slow_delong(y, a)
    got = closed_forms.delong_auc(pos, neg, 0.95)
    assert (got["value"], got["stderr"]) == (pytest.approx(auc), pytest.approx(se))
    assert got["value"] == pytest.approx(roc_auc_score(y, a))
    diff, se = _slow_delong(y, a, b)
    got = closed_forms.delong_paired(y, a, b, 0.95)
    assert (got["value"], got["stderr"]) == (pytest.approx(diff), pytest.approx(se))


def test_bootstrap_agrees_with_the_closed_forms():
    rng = np.random.default_rng(7)
    n, reps = 2000, 1000
    y = rng.integers(0, 2, n).astype(float)
    a = np.clip(0.3 * y + rng.random(n) * 0.7, 0, 1)
    b = np.clip(0.3 * y + rng.random(n) * 0.7 + rng.normal(0, 0.05, n), 0, 1)
    w = bootstrap.replicate_weights(bootstrap.row_keys("c", np.arange(n)), 0, reps)
    fam = bootstrap.Replicated(BinaryMetrics(), reps)
    accs = {m: fam.add(fam.create(), ModelBatch(y, p, np.ones(n), replicate_weights=w))
            for m, p in (("a", a), ("b", b))}
    values = {m: fam.replicate_values(acc) for m, acc in accs.items()}
    closed = fam.closed_forms(accs["a"], 0.95)
    for name in ("accuracy", "mean_label", "mean_prediction", "log_loss", "auc"):
        assert np.std(values["a"][name], ddof=1) == pytest.approx(closed[name]["stderr"],
                                                                  rel=0.1), name
    # Paired: the diff's replicates against DeLong's paired form and McNemar's counts.
    paired = closed_forms.delong_paired(y, a, b, 0.95)
    assert np.std(values["a"]["auc"] - values["b"]["auc"], ddof=1) == \
        pytest.approx(paired["stderr"], rel=0.1)
    right_a, right_b = (a > 0.5) == y, (b > 0.5) == y
    mc = closed_forms.mcnemar(np.sum(right_a & ~right_b), np.sum(~right_a & right_b), n, 0.95)
    assert np.std(values["a"]["accuracy"] - values["b"]["accuracy"], ddof=1) == \
        pytest.approx(mc["stderr"], rel=0.1)


def test_records_carry_closed_forms_and_tfma_files_carry_the_intervals(one_file):
    iv = _record(one_file, "candidate")["intervals"]
    assert iv["auc"]["closed_form"]["method"] == "delong"
    assert iv["accuracy"]["closed_form"]["method"] == "wilson"
    assert iv["auc"]["lower"] < _record(one_file, "candidate")["metrics"]["auc"] < \
        iv["auc"]["upper"]
    from assay.results.tfma_metrics import metrics_for_slices

    doc = json.loads(open(os.path.join(one_file.path, "assay_metrics.json")).read())
    overall = metrics_for_slices(doc)[0]
    kv = next(kv for kv in overall.metric_keys_and_values
              if kv.key.name == "auc" and not kv.key.is_diff and
              kv.key.model_name == "candidate")
    assert kv.confidence_interval.lower_bound.double_value.value == pytest.approx(iv["auc"]["lower"])
    assert kv.confidence_interval.standard_error.double_value.value == \
        pytest.approx(iv["auc"]["stderr"])


def test_without_confidence_records_have_no_intervals(data, tmp_path):
    root, _ = data
    cfg = _config()
    del cfg["confidence"]
    result = assay.evaluate(cfg, str(root / "all.csv"), str(tmp_path / "o"), engine="local",
                            workers=1)
    assert "intervals" not in _record(result, "candidate")


# ---- the format ---------------------------------------------------------------------------------

def test_intervals_golden_file(tmp_path_factory):
    """assay_metrics.json with intervals: every record (candidate, baseline, diff) holds
    "intervals": {metric: {"lower", "upper", "stderr"[, "closed_form"]}} (tests/golden/
    intervals/; rewrite with ASSAY_UPDATE_GOLDEN=1 as test_formats says)."""
    from test_formats import BINARY_CONFIG, binary_rows, check_golden, read_json

    root = tmp_path_factory.mktemp("golden-intervals")
    (root / "binary.csv").write_text("\n".join(binary_rows()) + "\n")
    cfg = {k: v for k, v in BINARY_CONFIG.items() if k != "thresholds"}
    cfg.update(slices=[[], ["payment"]], confidence={"replicates": 20, "seed": 0})
    result = assay.evaluate(cfg, str(root / "binary.csv"), str(root / "out"), engine="local",
                            workers=1)
    doc = read_json(os.path.join(result.path, "assay_metrics.json"))
    assert all("intervals" in r for r in doc["records"] if "metrics" in r)
    check_golden("intervals/assay_metrics.json", doc, root)
