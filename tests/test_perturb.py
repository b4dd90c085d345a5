"""Perturbations and permutation feature importance (assay.perturb): the config, the edits, the
perturbed models against scoring the perturbed data directly, flip rates and importance by
hand, thresholds, determinism across workers and engines."""

import math
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.metrics import log_loss, roc_auc_score

import assay
from assay.errors import ConfigError
from assay.metrics.bootstrap import row_keys
from assay.perturb.apply import draw_keys, normal_draws, perturb_batch, permutation
from assay.perturb.config import Perturbation, parse_perturbations, parse_sensitivity
from model_fixtures import make_sklearn_model, make_tabular_data, reference_sklearn, write_csv

N = 700
BATCH = 256   # several batches, the last one short: the permutation is per batch


def score(df: pd.DataFrame) -> np.ndarray:
    """The test's model: a fixed logistic function of hour, miles and payment."""
    z = (-2.0 + 0.25 * df["miles"].astype(float) + 1.0 * (df["hour"] >= 17)
         + 0.8 * (df["payment"] == "Credit Card"))
    return 1.0 / (1.0 + np.exp(-z.to_numpy(np.float64)))


PERTURBATIONS = [
    {"name": "miles_noise", "feature": "miles", "noise": {"relative": 0.2}, "seed": 3},
    {"name": "miles_shift", "feature": "miles", "noise": {"absolute": 1.5}},
    {"name": "pay_swap", "feature": "payment",
     "swap": {"Cash": "Credit Card", "Credit Card": "Cash"}},
    {"name": "evening", "feature": "hour", "set": 20},
    {"name": "hour_perm", "feature": "hour", "permute": True},
]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("perturb")
    df = make_tabular_data(N, seed=11)
    return {"root": root, "df": df, "csv": write_csv(df, root / "data.csv")}


def _config(**extra):
    cfg = {"label": "label", "weight": "weight", "slices": [[], ["day"]], "exact": True,
           "batch_size": BATCH, "models": {"candidate": {"path": "fn"}}}
    cfg.update(extra)
    return cfg


@pytest.fixture(scope="module")
def perturbed(data):
    cfg = _config(perturbations=PERTURBATIONS,
                  sensitivity={"features": ["hour", "miles", "payment", "day"],
                               "metrics": ["auc", "log_loss"]})
    return assay.evaluate(cfg, data["csv"], str(data["root"] / "out"), model=score,
                          engine="local", workers=1)


# ---- by hand ----------------------------------------------------------------------------------

def _keys(n: int) -> np.ndarray:
    return row_keys("data.csv", np.arange(n))   # one file: its row keys use its name


def hand_permutation(p: Perturbation, n: int) -> np.ndarray:
    """The row each row takes its value from: within each batch of BATCH rows, rows ordered
    by the keyed hash, each taking the next one's value (the last the first's)."""
    source = np.arange(n)
    keys = _keys(n)
    for start in range(0, n, BATCH):
        rows = np.arange(start, min(start + BATCH, n))
        order = rows[np.argsort(draw_keys(p, keys[rows]), kind="stable")]
        for i, row in enumerate(order):
            source[row] = order[(i + 1) % len(order)]
    return source


def perturbed_frame(df: pd.DataFrame, raw: dict) -> pd.DataFrame:
    """The examples a perturbation makes, built in the test."""
    p = parse_perturbations([raw]).items[0]
    out = df.copy()
    column = out[p.feature]
    if p.kind.startswith("noise_"):
        z = normal_draws(p, _keys(len(df)), np.zeros(len(df), np.int64))
        x = column.to_numpy(np.float64)
        out[p.feature] = x * (1 + p.value * z) if p.kind == "noise_relative" else x + p.value * z
    elif p.kind == "swap":
        out[p.feature] = column.map(lambda v: p.swap_map.get(v, v))
    elif p.kind == "set":
        out[p.feature] = p.value
    else:
        out[p.feature] = column.to_numpy()[hand_permutation(p, len(df))]
    return out


# ---- the config -------------------------------------------------------------------------------

def test_the_config_parses_and_writes_back():
    parsed = parse_perturbations(PERTURBATIONS)
    assert [(p.name, p.kind, p.seed) for p in parsed.items] == [
        ("miles_noise", "noise_relative", 3), ("miles_shift", "noise_absolute", 0),
        ("pay_swap", "swap", 0), ("evening", "set", 0), ("hour_perm", "permute", 0)]
    assert parse_perturbations(parsed.to_config()) == parsed
    s = parse_sensitivity({"features": ["a", "b"], "metrics": ["auc"], "seed": 2})
    assert parse_sensitivity(s.to_config()) == s
    assert [p.name for p in s.perturbations()] == ["permute:a", "permute:b"]
    cfg = assay.load_config(_config(perturbations=PERTURBATIONS, sensitivity=s.to_config()))
    assert cfg.feature("perturbations") == parsed and cfg.feature("sensitivity") == s


@pytest.mark.parametrize("raw, match", [
    ([{"name": "a", "feature": "x"}], r"perturbations\[0\]' \(a\) takes exactly one of noise, "
                                      r"set, permute, swap \(got none\)"),
    ([{"name": "a", "feature": "x", "permute": True, "set": 1}], r"exactly one .*got set, "
                                                                  r"permute"),
    ([{"name": "a", "feature": "x", "noise": {"relatve": 0.1}}], r"unknown key 'relatve'.*"
                                                                  r"did you mean 'relative'"),
    ([{"name": "a", "feature": "x", "noise": {"relative": -1}}], r"relative' must be >= 0"),
    ([{"name": "a", "feature": "x", "permute": "yes"}], r"permute' must be true"),
    ([{"name": "a", "feature": "x", "swap": {"m": 1}}], r"mixes strings and numbers"),
    ([{"name": "a b", "feature": "x", "permute": True}], r"name' must start with a letter"),
    ([{"name": "a", "feature": "x", "permute": True}] * 2, r"names a more than once"),
    ([{"feature": "x", "permute": True}], r"needs 'name'"),
    ({"name": "a"}, r"'perturbations' must be a list"),
])
def test_bad_perturbations_name_the_problem(raw, match):
    with pytest.raises(ConfigError, match=match):
        assay.load_config(_config(perturbations=raw))


@pytest.mark.parametrize("raw, match", [
    ({"method": "permute"}, r"'sensitivity' needs 'features'"),
    ({"features": ["a"], "method": "shap"}, r"sensitivity.method' must be one of permute"),
    ({"features": ["a", "a"]}, r"names a more than once"),
    ({"features": ["a"], "seed": -1}, r"sensitivity.seed' must be an int >= 0"),
])
def test_bad_sensitivity_names_the_problem(raw, match):
    with pytest.raises(ConfigError, match=match):
        assay.load_config(_config(sensitivity=raw))


# ---- the edits --------------------------------------------------------------------------------

def test_noise_draws_are_standard_normal_and_keyed_by_row():
    p = Perturbation("n", "x", "noise_relative", 0.1)
    keys = _keys(40000)
    z = normal_draws(p, keys, np.zeros(len(keys), np.int64))
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1) < 0.02
    assert abs(np.mean(z < -1.6448536) - 0.05) < 0.005   # the normal's 5% quantile
    # The same row gets the same draw whatever batch it comes in; another seed, others.
    assert np.array_equal(normal_draws(p, keys[100:200], np.zeros(100, np.int64)), z[100:200])
    other = Perturbation("n", "x", "noise_relative", 0.1, seed=1)
    assert abs(np.corrcoef(normal_draws(other, keys, np.zeros(len(keys), np.int64)), z)[0, 1]) \
        < 0.02


def test_the_permutation_is_a_keyed_cyclic_shift_with_no_fixed_row():
    p = Perturbation("p", "x", "permute")
    keys = _keys(50)
    source = permutation(p, keys)
    assert sorted(source) == list(range(50)) and not np.any(source == np.arange(50))
    order = np.argsort(draw_keys(p, keys), kind="stable")  # the rule, spelt out
    assert all(source[order[i]] == order[(i + 1) % 50] for i in range(50))


def test_edits_of_list_columns_keep_their_shape():
    batch = pa.record_batch([pa.array([[1.0, 2.0], None, [3.0]]), pa.array([["a"], ["b"], []])],
                            names=["x", "s"])
    keys = _keys(3)
    noisy = perturb_batch(Perturbation("n", "x", "noise_absolute", 1.0), batch, keys)
    z = normal_draws(Perturbation("n", "x", "noise_absolute", 1.0), keys[[0, 0, 2]],
                     np.array([0, 1, 0]))
    got = noisy.column("x").to_pylist()
    assert got[1] is None and np.allclose(got[0] + got[2], np.array([1.0, 2.0, 3.0]) + z)
    swapped = perturb_batch(Perturbation("s", "s", "swap", (("a", "b"), ("b", "a"))), batch, keys)
    assert swapped.column("s").to_pylist() == [["b"], ["a"], []]
    assert perturb_batch(Perturbation("m", "s", "set", None), batch, keys).column("s") \
        .null_count == 3


@pytest.mark.parametrize("raw, match", [
    ({"name": "a", "feature": "payment", "noise": {"relative": 0.1}},
     r"perturbation 'a' adds noise to feature 'payment', which holds string values .*data.csv"),
    ({"name": "a", "feature": "hour", "swap": {"x": "y"}},
     r"perturbation 'a' swaps strings .* in feature 'hour', which holds int64 values"),
    ({"name": "a", "feature": "miles", "set": "far"},
     r"sets feature 'miles' to 'far', but the feature holds double values"),
    ({"name": "a", "feature": "mile", "permute": True},
     r"perturbation 'a' edits feature 'mile', which is not in the data \(features: hour, day, "
     r"payment, miles"),
])
def test_edits_that_do_not_fit_the_data_are_refused_before_the_pass(data, raw, match):
    with pytest.raises(ConfigError, match=match):
        assay.evaluate(_config(perturbations=[raw]), data["csv"], None, model=score,
                       engine="local")


def test_a_prediction_column_cannot_be_perturbed(data):
    df = data["df"].assign(p=score(data["df"]))
    cfg = _config(models={"candidate": {"prediction": "p"}},
                  perturbations=[{"name": "a", "feature": "hour", "permute": True}])
    with pytest.raises(ConfigError, match=r"perturbations need a model .* the candidate is the "
                                          r"prediction column 'p', which cannot be perturbed"):
        assay.evaluate(cfg, df, None)


def test_sensitivity_metrics_must_be_computed(data):
    cfg = _config(sensitivity={"features": ["hour"], "metrics": ["rmse"]})
    with pytest.raises(ConfigError, match=r"'sensitivity.metrics' names rmse, not computed for "
                                          r"this binary task"):
        assay.evaluate(cfg, data["csv"], None, model=score, engine="local")


# ---- the pass ---------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", PERTURBATIONS, ids=[p["name"] for p in PERTURBATIONS])
def test_each_perturbation_equals_scoring_the_perturbed_file(data, perturbed, raw, tmp_path):
    df2 = perturbed_frame(data["df"], raw)
    direct = assay.evaluate(_config(), write_csv(df2, tmp_path / "p.csv"), None, model=score,
                            engine="local")
    compared = 0
    for s in direct.slices():
        want = direct.metrics(s, "candidate")
        got = perturbed.metrics(s, "perturbed:" + raw["name"])
        assert set(got) == set(want)
        for name, value in want.items():
            if isinstance(value, float) and math.isnan(value):
                assert math.isnan(got[name]), name
            else:
                assert got[name] == pytest.approx(value, rel=1e-9, abs=1e-12), (s, name)
            compared += 1
        cand = perturbed.metrics(s, "candidate")
        diff = perturbed.metrics(s, "perturbed_diff:" + raw["name"])
        assert diff["auc"] == pytest.approx(got["auc"] - cand["auc"], abs=1e-12)
    assert compared > 8 * 20


@pytest.mark.parametrize("raw", PERTURBATIONS[2:], ids=[p["name"] for p in PERTURBATIONS[2:]])
def test_flip_rates_and_prediction_change_by_hand(data, perturbed, raw):
    df = data["df"]
    p, q, w = score(df), score(perturbed_frame(df, raw)), df["weight"].to_numpy()
    for s in [{}, {"day": 3}]:
        m = np.ones(len(df), bool) if not s else (df["day"] == 3).to_numpy()
        got = perturbed.metrics(s, "perturbed_diff:" + raw["name"])
        a, b, ww = p[m] > 0.5, q[m] > 0.5, w[m]
        assert got["flip_rate@0.5"] == pytest.approx(np.sum(ww * (a != b)) / ww.sum())
        assert got["neg_to_pos_flip_rate@0.5"] == pytest.approx(np.sum(ww * (~a & b)) / ww.sum())
        assert got["pos_to_neg_flip_rate@0.5"] == pytest.approx(np.sum(ww * (a & ~b)) / ww.sum())
        assert got["mean_absolute_prediction_change"] == pytest.approx(
            np.sum(ww * np.abs(p[m] - q[m])) / ww.sum())


def test_permutation_importance_by_hand(data, perturbed):
    df = data["df"]
    y, w = df["label"].to_numpy(), df["weight"].to_numpy()
    base_auc = roc_auc_score(y, score(df), sample_weight=w)
    base_ll = log_loss(y, score(df), sample_weight=w)
    want = {}
    for feature in ["hour", "miles", "payment", "day"]:
        p = Perturbation("permute:" + feature, feature, "permute")
        shuffled = df.copy()
        shuffled[feature] = df[feature].to_numpy()[hand_permutation(p, len(df))]
        q = score(shuffled)
        want[feature] = (base_auc - roc_auc_score(y, q, sample_weight=w),
                         log_loss(y, q, sample_weight=w) - base_ll)
    section = perturbed.info["sensitivity"]
    assert section["features"] == ["hour", "miles", "payment", "day"]
    overall = section["slices"][0]
    assert overall["slice"] == {} and len(section["slices"]) == 8
    for i, metric in enumerate(["auc", "log_loss"]):
        entries = overall["metrics"][metric]
        assert [e["feature"] for e in entries] == sorted(want, key=lambda f: -want[f][i])
        assert [e["rank"] for e in entries] == [1, 2, 3, 4]
        for e in entries:
            assert e["importance"] == pytest.approx(want[e["feature"]][i], abs=1e-9)
    # day is not an input of the model: permuting it changes nothing.
    assert next(e for e in overall["metrics"]["auc"] if e["feature"] == "day")["importance"] == 0


def test_thresholds_gate_on_perturbations(data):
    cfg = _config(perturbations=PERTURBATIONS[2:4], thresholds=[
        {"perturbation": "pay_swap", "metric": "flip_rate@0.5", "max": 0.01},
        {"perturbation": "evening", "metric": "auc", "max_regression": 0.5,
         "slices": [["day"]]},
        {"perturbation": "evening", "metric": "mean_absolute_prediction_change", "max": 1}])
    result = assay.evaluate(cfg, data["csv"], None, model=score, engine="local")
    flips = result.metrics({}, "perturbed_diff:pay_swap")["flip_rate@0.5"]
    assert flips > 0.01
    assert result.validation["reasons"] == [
        f"flip_rate@0.5 under perturbation pay_swap on slice overall is {flips:.4g}, above "
        f"max 0.01"]
    checks = result.validation["checks"]
    assert [c["status"] for c in checks] == ["fail"] + ["pass"] * 8
    day3 = next(c for c in checks if c["slice"] == {"day": 3})
    cand, pert = result.metrics({"day": 3}, "candidate")["auc"], \
        result.metrics({"day": 3}, "perturbed:evening")["auc"]
    assert day3["change"] == pytest.approx(cand - pert) and day3["model"] == "perturbed:evening"


@pytest.mark.parametrize("raw, match", [
    ({"perturbation": "a", "metric": "auc"}, r"takes exactly one of min, max, max_regression"),
    ({"perturbation": "a", "metric": "flip_rate@0.5", "max_regression": 0.1},
     r"flip_rate@0.5 is already a comparison"),
    ({"perturbation": "a", "metric": "mean_prediction", "max_regression": 0.1},
     r"does not know whether a higher or a lower mean_prediction is better"),
    ({"perturbation": "a", "max": 0.1}, r"needs 'metric'"),
    ({"perturbation": "a", "metric": "auc", "max": 1, "slice": []}, r"unknown key 'slice'"),
])
def test_bad_perturbation_thresholds(raw, match):
    with pytest.raises(ConfigError, match=match):
        assay.load_config(_config(thresholds=[raw]))


def test_a_result_without_the_perturbation_fails_the_check(data):
    # Validating a result again (assay.validate) with a threshold on a perturbation it lacks.
    from assay.perturb.thresholds import parse_threshold

    result = assay.evaluate(_config(), data["csv"], None, model=score, engine="local")
    t = parse_threshold({"perturbation": "nope", "metric": "auc", "min": 0.5})
    (check,) = t.checks({"records": result.records})
    assert check.status == "fail" and "the result has no perturbation named 'nope'" in \
        check.reason


def test_paired_intervals_with_confidence(data):
    cfg = _config(confidence={"replicates": 50, "seed": 1},
                  perturbations=[PERTURBATIONS[2],   # changes predictions
                                 {"name": "noop", "feature": "payment", "swap": {"Zz": "Cash"}}],
                  sensitivity={"features": ["miles"]})
    result = assay.evaluate(cfg, data["csv"], None, model=score, engine="local")
    rec = next(r for r in result.records
               if r["model"] == "perturbed_diff:noop" and not r["slice"])
    # Nothing changed: every paired replicate difference is 0, so is the interval.
    assert rec["intervals"]["auc"]["lower"] == 0 and rec["intervals"]["auc"]["upper"] == 0
    rec = next(r for r in result.records
               if r["model"] == "perturbed_diff:pay_swap" and not r["slice"])
    auc = rec["intervals"]["auc"]
    assert auc["lower"] < rec["metrics"]["auc"] < auc["upper"] < 0
    assert "flip_rate@0.5" in rec["intervals"]
    entry = result.info["sensitivity"]["slices"][0]["metrics"]["auc"][0]
    assert entry["interval"]["lower"] < entry["importance"] < entry["interval"]["upper"]


# ---- determinism ------------------------------------------------------------------------------

def _records(result):
    return [(r["slice"], r["model"], r.get("metrics")) for r in result.records]


def _assert_same(a, b):
    ra, rb = _records(a), _records(b)
    assert [r[:2] for r in ra] == [r[:2] for r in rb]
    for (s, m, x), (_, _, y) in zip(ra, rb):
        for k, v in (x or {}).items():
            if isinstance(v, float) and not math.isnan(v):
                assert y[k] == pytest.approx(v, rel=1e-9, abs=1e-12), (s, m, k)


@pytest.fixture(scope="module")
def two_files(data, tmp_path_factory):
    root = tmp_path_factory.mktemp("perturb-two")
    os.makedirs(root / "data")
    df = data["df"]
    write_csv(df.iloc[:400], root / "data" / "a.csv")
    write_csv(df.iloc[400:], root / "data" / "b.csv")
    model = make_sklearn_model(root / "model.joblib")
    cfg = _config(models={"candidate": {"path": model}}, perturbations=PERTURBATIONS,
                  sensitivity={"features": ["hour", "miles"]})
    return root, cfg


def test_one_worker_two_workers_and_beam_agree(two_files):
    root, cfg = two_files
    runs = [assay.evaluate(cfg, str(root / "data"), None, engine="local", workers=w,
                           allow_pickle=True) for w in (1, 2)]
    runs.append(assay.evaluate(cfg, str(root / "data"), str(root / "beam"), engine="beam",
                               allow_pickle=True, write_report=False))
    _assert_same(runs[0], runs[1])
    _assert_same(runs[0], runs[2])
    assert runs[0].info["sensitivity"] == runs[2].info["sensitivity"]
    # And the sklearn model scored on the permuted rows of file b, by hand.
    p = Perturbation("hour_perm", "hour", "permute")
    files = [_permuted(root, name, p) for name in ("a.csv", "b.csv")]
    q_all = np.concatenate([reference_sklearn(root / "model.joblib", df) for df in files])
    w_all = np.concatenate([df["weight"].to_numpy() for df in files])
    got = runs[0].metrics({}, "perturbed:hour_perm")
    assert got["mean_prediction"] == pytest.approx(np.sum(q_all * w_all) / w_all.sum())


def _permuted(root, name, p):
    """File `name` with `hour` permuted by hand as the pass does: within each batch, rows
    sorted by the perturbation's keyed draw of their row keys, each taking the next's value."""
    df = pd.read_csv(root / "data" / name)
    keys = row_keys(name, np.arange(len(df)))
    source = np.arange(len(df))
    for start in range(0, len(df), BATCH):
        rows = np.arange(start, min(start + BATCH, len(df)))
        order = rows[np.argsort(draw_keys(p, keys[rows]), kind="stable")]
        source[order] = np.roll(order, -1)
    return df.assign(hour=df["hour"].to_numpy()[source])


# ---- the format -------------------------------------------------------------------------------

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "sensitivity.json")


def _rounded(value):
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def test_the_sensitivity_section_and_paired_record_match_the_golden_file(data):
    import json

    cfg = _config(slices=[[], ["payment"]], perturbations=PERTURBATIONS[2:3],
                  sensitivity={"features": ["hour", "miles"], "metrics": ["auc", "log_loss"]})
    result = assay.evaluate(cfg, data["csv"], None, model=score, engine="local")
    paired = next(r for r in result.records
                  if r["model"] == "perturbed_diff:pay_swap" and not r["slice"])
    doc = _rounded({"sensitivity": result.info["sensitivity"],
                    "models": [r["model"] for r in result.records if not r["slice"]],
                    "perturbed_diff:pay_swap": {k: paired["metrics"][k] for k in sorted(
                        paired["metrics"]) if "flip" in k or "change" in k or k == "auc"}})
    if os.environ.get("ASSAY_UPDATE_GOLDEN") == "1":
        with open(GOLDEN, "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
            f.write("\n")
    with open(GOLDEN) as f:
        assert json.load(f) == doc


def test_the_report_section_ranks_and_escapes(data):
    from assay.report.sensitivity import section_html

    df = data["df"].assign(payment=data["df"]["payment"].replace("Cash", "Cash<b>"))
    cfg = _config(slices=[[], ["payment"]], perturbations=PERTURBATIONS[3:4],
                  sensitivity={"features": ["hour", "miles"]})
    result = assay.evaluate(cfg, df, None, model=score)
    html = section_html(result)
    assert html.startswith('<section class="ar-sensitivity"><h2>Perturbations and feature '
                           'importance</h2>')
    assert "payment=Cash&lt;b&gt;" in html and "Cash<b>" not in html
    ranked = result.info["sensitivity"]["slices"][0]["metrics"]["auc"]
    svg = html[html.index("<svg"):html.index("</svg>")]
    assert svg.index(">miles<") < svg.index(">hour<") if ranked[0]["feature"] == "miles" else \
        svg.index(">hour<") < svg.index(">miles<")
    assert f"{ranked[0]['importance']:.4g}" in svg
    evening = result.metrics({}, "perturbed:evening")["auc"]
    assert f"<td>evening</td><td class=\"ar-num\">{evening:.4g} (" in html
    assert section_html(assay.evaluate(_config(), df, None, model=score)) == ""


def test_regression_and_multiclass_get_the_mean_absolute_change(data, tmp_path):
    df = data["df"]

    def fare(batch):
        return 2.5 + 2.0 * batch["miles"].astype(float) + 0.3 * (batch["payment"] == "Cash")

    def classes(batch):
        z = np.stack([batch["miles"].astype(float) * k / 10 for k in range(3)], axis=1)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    noise = PERTURBATIONS[1]   # miles + 1.5 z
    moved = perturbed_frame(df, noise)
    cfg = _config(label="fare", task="regression", perturbations=[noise])
    got = assay.evaluate(cfg, data["csv"], None, model=fare).metrics({}, "perturbed_diff:"
                                                                          "miles_shift")
    w = df["weight"].to_numpy()
    change = np.abs(fare(moved) - fare(df)).to_numpy()
    assert got["mean_absolute_prediction_change"] == pytest.approx(np.sum(w * change) / w.sum())
    assert not any("flip" in k for k in got)
    cfg = _config(label="day", task="multiclass", label_vocabulary=None, weight=None,
                  perturbations=[noise])
    df3 = df.assign(day=df["day"] % 3)
    path = write_csv(df3, tmp_path / "data.csv")   # the same name: the same row keys
    got = assay.evaluate(cfg, path, None, model=classes).metrics({}, "perturbed_diff:"
                                                                      "miles_shift")
    tv = 0.5 * np.abs(classes(moved.assign(day=df3["day"])) - classes(df3)).sum(axis=1)
    assert got["mean_absolute_prediction_change"] == pytest.approx(tv.mean())


def test_the_kfp_executor_runs_perturbations_and_importance(data, two_files, tmp_path):
    import yaml

    from assay.kfp import executor
    from test_kfp import hand_built_executor_input

    root, cfg = two_files
    cfg = dict(cfg, perturbations=PERTURBATIONS[2:3], sensitivity={"features": ["miles"]},
               thresholds=[{"perturbation": "pay_swap", "metric": "flip_rate@0.5", "max": 1}])
    task = hand_built_executor_input(
        tmp_path / "task", {"examples": ("system.Dataset", str(root / "data"))},
        {"config": yaml.safe_dump(cfg), "beam_pipeline_args": [], "allow_pickle": True,
         "force_bless": ""})
    executor.run(task)
    assert (tmp_path / "task" / "parameters" / "blessed").read_text() == "true"
    result = assay.load_result(str(tmp_path / "task" / "evaluation"))
    direct = assay.evaluate(cfg, str(root / "data"), None, engine="local", allow_pickle=True)
    assert result.info["sensitivity"] == direct.info["sensitivity"]
    assert result.metrics({}, "perturbed_diff:pay_swap") == \
        pytest.approx(direct.metrics({}, "perturbed_diff:pay_swap"))


def test_label_free_evaluations_get_flip_rates(data):
    df = data["df"].drop(columns=["label"])
    cfg = {"slices": [[]], "task": "binary", "models": {"candidate": {"path": "fn"}},
           "perturbations": PERTURBATIONS[2:3]}
    got = assay.evaluate(cfg, df, None, model=score).metrics({}, "perturbed_diff:pay_swap")
    p, q = score(df), score(perturbed_frame(df, PERTURBATIONS[2]))
    assert got["flip_rate@0.5"] == pytest.approx(np.mean((p > 0.5) != (q > 0.5)))
    assert got["mean_absolute_prediction_change"] == pytest.approx(np.mean(np.abs(p - q)))


def test_a_model_that_refuses_the_perturbed_examples_is_named_before_the_pass(two_files):
    root, cfg = two_files
    cfg = dict(cfg, perturbations=[{"name": "no_miles", "feature": "miles", "set": None}])
    cfg.pop("sensitivity")
    with pytest.raises(assay.errors.DataError,
                       match=r"perturbation 'no_miles' \(feature miles, set: None\) in .*a.csv: "
                             r"the candidate cannot score the perturbed examples: column 'miles'"):
        assay.evaluate(cfg, str(root / "data"), None, engine="local", allow_pickle=True)


@pytest.mark.parametrize("threshold, match", [
    ({"perturbation": "nope", "metric": "auc", "min": 0.5},
     r"thresholds\[0\] names perturbation 'nope', which the config does not define "
     r"\(perturbations: pay_swap, permute:hour\)"),
    ({"perturbation": "pay_swap", "metric": "flip_rate@0.3", "max": 0.1},
     r"bounds flip_rate@0.3 under perturbation 'pay_swap', which is not computed .*"
     r"flip_rate@0.5, neg_to_pos_flip_rate@0.5"),
    ({"perturbation": "pay_swap", "metric": "aucc", "max": 0.1}, r"bounds aucc"),
])
def test_thresholds_on_undefined_perturbations_or_metrics_are_refused(data, threshold, match):
    cfg = _config(perturbations=PERTURBATIONS[2:3], sensitivity={"features": ["hour"]},
                  thresholds=[threshold])
    with pytest.raises(ConfigError, match=match):
        assay.evaluate(cfg, data["csv"], None, model=score, engine="local")


def test_nan_predictions_on_perturbed_examples_name_the_example(data, tmp_path):
    def fragile(batch):   # NaN once an hour is past 23
        return np.where(batch["hour"] > 23, np.nan, score(batch))

    df = data["df"]
    cfg = _config(perturbations=[{"name": "late", "feature": "hour", "noise": {"absolute": 3}}])
    moved = perturbed_frame(df, cfg["perturbations"][0])
    first = int(np.flatnonzero(moved["hour"].to_numpy() > 23)[0])
    with pytest.raises(assay.errors.DataError,
                       match=rf"perturbation 'late' \(feature hour, noise: {{'absolute': 3.0}}\): "
                             rf"prediction of model 'candidate' is NaN or infinite on \d+ "
                             rf"perturbed examples \(first: example {first} of .*data.csv"):
        assay.evaluate(cfg, data["csv"], None, model=fragile, engine="local", workers=1)
