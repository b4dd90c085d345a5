"""Label-free evaluation: a config without `label` (assay.metrics.label_free).

References: plain numpy on the rows of each slice (weighted means, weighted inverted-CDF
quantiles written out here, counts above each threshold, a histogram), and the engines and
entry points against each other.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import assay
from assay import cli
from assay.config.schema import EvalConfig
from assay.errors import ConfigError
from assay.metrics.batch import ModelBatch
from assay.metrics.label_free import LabelFreeMetrics, infer_label_free_task
from assay.metrics.label_free_names import label_free_metric_info

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(7)
    n = 600
    group = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    # Group c is scored higher: its positive rate differs from the others'.
    p = np.clip(rng.beta(2, 3, n) + (group == "c") * 0.2, 0, 1)
    return pd.DataFrame({"p": p, "g": group, "w": rng.uniform(0.5, 2.0, n),
                         "amount": rng.normal(50, 20, n)})


def slow_quantile(values, weights, q):
    """The smallest v with weight(values <= v) >= q * total, one value at a time."""
    total = float(np.sum(weights))
    for v in sorted(values):
        if float(np.sum(weights[values <= v])) >= q * total - 1e-12:
            return v
    return float("nan")


def _binary_config(**extra):
    cfg = {"models": {"candidate": {"prediction": "p"}}, "slices": [[], ["g"]], "weight": "w",
           "decision_thresholds": [0.3, 0.5], "exact": True}
    cfg.update(extra)
    return cfg


@pytest.fixture(scope="module")
def binary_result(frame):
    return assay.evaluate(_binary_config(), frame)


def test_binary_metrics_per_slice_equal_numpy(frame, binary_result):
    assert binary_result.task == "binary"
    for key in (None, "a", "b", "c"):
        rows = frame if key is None else frame[frame.g == key]
        p, w = rows.p.to_numpy(), rows.w.to_numpy()
        m = binary_result.metrics({} if key is None else {"g": key})
        assert m["example_count"] == len(rows)
        assert m["weighted_example_count"] == pytest.approx(w.sum())
        assert m["mean_prediction"] == pytest.approx(np.sum(w * p) / w.sum())
        for t in (0.3, 0.5):
            assert m[f"positive_rate@{t}"] == pytest.approx(w[p > t].sum() / w.sum())
        for q in QUANTILES:
            name = f"prediction_p{int(round(q * 100)):02d}"
            assert m[name] == pytest.approx(slow_quantile(p, w, q))
        assert "auc" not in m and "log_loss" not in m


def test_binary_histogram_and_quantile_plots(frame, binary_result):
    plots = binary_result.plots({"g": "b"})
    rows = frame[frame.g == "b"]
    hist, edges = np.histogram(rows.p, bins=20, range=(0, 1), weights=rows.w)
    assert plots["prediction_histogram"]["edges"] == pytest.approx(list(edges))
    assert plots["prediction_histogram"]["weights"] == pytest.approx(list(hist))
    quant = plots["prediction_quantiles"]
    assert quant["values"][50] == pytest.approx(slow_quantile(rows.p.to_numpy(),
                                                              rows.w.to_numpy(), 0.5))


def test_sketched_quantiles_are_close_to_exact(frame):
    res = assay.evaluate(_binary_config(exact=False, weight=None), frame)
    p = np.sort(frame.p.to_numpy())
    for q in QUANTILES:
        # The sketch's rank error is about 1%: the value lies within 2% of ranks of the truth.
        got = res.metrics()[f"prediction_p{int(round(q * 100)):02d}"]
        rank = np.searchsorted(p, got, side="right") / len(p)
        assert abs(rank - q) <= 0.02


def test_regression_is_inferred_and_has_quantiles(frame):
    cfg = {"models": {"candidate": {"prediction": "amount"}}, "slices": [[], ["g"]],
           "exact": True}
    res = assay.evaluate(cfg, frame)
    assert res.task == "regression"
    rows = frame[frame.g == "a"]
    m = res.metrics({"g": "a"})
    assert m["mean_prediction"] == pytest.approx(rows.amount.mean())
    assert m["prediction_p50"] == pytest.approx(np.quantile(rows.amount, 0.5,
                                                            method="inverted_cdf"))
    assert not any(k.startswith("positive_rate") for k in m)


def test_multiclass_predicted_class_rates():
    rng = np.random.default_rng(3)
    probs = rng.dirichlet([1, 2, 3], 300)
    df = pd.DataFrame({"p0": probs[:, 0], "p1": probs[:, 1], "p2": probs[:, 2]})
    cfg = {"models": {"candidate": {"prediction": ["p0", "p1", "p2"]}}}
    res = assay.evaluate(cfg, df)
    assert res.task == "multiclass"
    m = res.metrics()
    top = probs.argmax(axis=1)
    for c in range(3):
        assert m[f"predicted_rate/{c}"] == pytest.approx(np.mean(top == c))
        assert m[f"mean_prediction/{c}"] == pytest.approx(probs[:, c].mean())


def test_family_merge_equals_one_pass(frame):
    """Shards accumulated apart and merged equal one pass (the accumulator contract)."""
    fam = LabelFreeMetrics("binary", (0.5,), QUANTILES, exact=True)
    p, w = frame.p.to_numpy(), frame.w.to_numpy()

    def acc(rows):
        return fam.add(fam.create(), ModelBatch(np.zeros(len(rows)), p[rows], w[rows]))

    whole = fam.result(acc(np.arange(len(p))))
    parts = fam.result(fam.merge([acc(np.arange(0, 200)), acc(np.arange(200, len(p)))]))
    assert parts == pytest.approx(whole)


def test_task_inference_without_a_label():
    cfg = EvalConfig.from_dict({"models": {"candidate": {"prediction": "p"}}})
    assert infer_label_free_task(cfg, np.array([0.1, 0.9])) == "binary"
    assert infer_label_free_task(cfg, np.array([3.0, 40.0])) == "regression"
    assert infer_label_free_task(cfg, np.ones((2, 4)) / 4) == "multiclass"


@pytest.mark.parametrize("raw, match", [
    ({"thresholds": [{"metric": "auc", "min": 0.7}]},
     r"thresholds\[0\]: auc needs a label; this config has none"),
    ({"metrics": ["log_loss"]}, r"metrics: log_loss needs a label; this config has none"),
    ({"task": "multilabel"}, r"task multilabel needs a label"),
    ({"thresholds": [{"metric": "precision@0.5", "max_gap": {"across": ["g"], "value": 0.1}}],
      "slices": [[], ["g"]]}, r"precision@0.5 needs a label"),
])
def test_metrics_that_need_a_label_are_refused_when_the_config_is_read(raw, match):
    cfg = {"models": {"candidate": {"prediction": "p"}}}
    cfg.update(raw)
    with pytest.raises(ConfigError, match=match):
        EvalConfig.from_dict(cfg)


def test_label_free_names():
    assert label_free_metric_info("prediction_p99.9") == (True, None)
    assert label_free_metric_info("fairness_indicators_metrics/positive_rate@0.5")[0]
    assert not label_free_metric_info("fairness_indicators_metrics/true_positive_rate@0.5")[0]
    assert not label_free_metric_info("positive_rate@1.5")[0]


def test_label_free_thresholds_gate(frame):
    rate = float(np.sum(frame.w[frame.p > 0.5]) / frame.w.sum())
    ok = assay.evaluate(_binary_config(thresholds=[
        {"metric": "positive_rate@0.5", "max": rate + 0.01}]), frame)
    bad = assay.evaluate(_binary_config(thresholds=[
        {"metric": "positive_rate@0.5", "max": rate - 0.01}]), frame)
    assert ok.blessed is True and bad.blessed is False
    assert "positive_rate@0.5" in bad.validation["reasons"][0]


def test_beam_engine_equals_local(frame, binary_result, tmp_path):
    frame.to_parquet(tmp_path / "eval.parquet")
    beam = assay.evaluate(_binary_config(), str(tmp_path / "eval.parquet"), engine="beam")
    for key in ({}, {"g": "a"}, {"g": "c"}):
        assert beam.metrics(key) == pytest.approx(binary_result.metrics(key))


def test_cli_and_written_files_without_a_label(frame, tmp_path, capsys):
    frame.to_csv(tmp_path / "data.csv", index=False)
    cfg = _binary_config(thresholds=[{"metric": "mean_prediction", "max": 0.99}])
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    out = tmp_path / "out"
    code = cli.main(["evaluate", "--config", str(tmp_path / "config.json"), "--examples",
                     str(tmp_path / "data.csv"), "--output", str(out)])
    assert code == 0, capsys.readouterr()
    loaded = assay.load_result(str(out))
    assert "label" not in loaded.config
    ref = assay.evaluate(_binary_config(), frame)
    assert loaded.metrics({"g": "b"}) == pytest.approx(ref.metrics({"g": "b"}), rel=1e-6)
    # TFMA's readers read the label-free metrics under their names.
    import tensorflow_model_analysis as tfma

    overall = [m for m in tfma.load_metrics(str(out)) if not m.slice_key.single_slice_keys]
    names = {kv.key.name: kv.value.double_value.value for kv in overall[0].metric_keys_and_values}
    assert names["mean_prediction"] == pytest.approx(ref.metrics()["mean_prediction"])
    assert "positive_rate@0.5" in names


def test_kfp_executor_without_a_label(tmp_path):
    from assay.kfp import executor
    from model_fixtures import make_sklearn_model, make_tabular_data, write_csv
    from test_kfp import hand_built_executor_input

    (tmp_path / "data").mkdir()
    (tmp_path / "model").mkdir()
    df = make_tabular_data(300, seed=5)
    write_csv(df.drop(columns=["label"]), tmp_path / "data" / "eval.csv")
    make_sklearn_model(tmp_path / "model" / "model.joblib", "logistic")
    config = "slices: [[], [payment]]\nthresholds:\n  - {metric: positive_rate@0.5, max: 1.0}\n"
    task = hand_built_executor_input(
        tmp_path / "task", {"examples": ("system.Dataset", str(tmp_path / "data")),
                            "model": ("system.Model", str(tmp_path / "model"))},
        {"config": config, "beam_pipeline_args": [], "allow_pickle": True, "force_bless": ""})
    executor.run(task)
    doc = json.loads((tmp_path / "task" / "evaluation" / "assay_metrics.json").read_text())
    overall = next(r for r in doc["records"] if r["slice"] == {} and r["model"] == "candidate")
    assert overall["metrics"]["example_count"] == 300
    assert 0.0 <= overall["metrics"]["positive_rate@0.5"] <= 1.0
    assert "auc" not in overall["metrics"]


# ---------------------------------------------------------------- the reviewed format

GOLDEN = __import__("os").path.join(__import__("os").path.dirname(__file__), "golden",
                                     "label_free.json")


def _rounded(value):
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def test_label_free_fairness_document_matches_the_golden_file(tmp_path):
    """assay_metrics.json of a label-free run with fairness groups and intervals: the label-free
    records, the fairness section (groups, demographic parity, intervals), spread_intervals."""
    import os

    n = 240
    df = pd.DataFrame({"p": [(i * 37 % 100) / 100 for i in range(n)],
                       "g": [("a", "b", "c")[i % 3] for i in range(n)]})
    cfg = {"models": {"candidate": {"prediction": "p"}}, "exact": True,
           "decision_thresholds": [0.5], "residual_quantiles": [0.5],
           "fairness": {"groups": [["g"]], "thresholds": [0.5]},
           "confidence": {"replicates": 50, "seed": 1},
           "thresholds": [{"metric": "positive_rate@0.5",
                           "min_ratio": {"across": ["g"], "value": 0.8}}]}
    assay.evaluate(cfg, df, output=str(tmp_path / "out"))
    doc = json.loads((tmp_path / "out" / "assay_metrics.json").read_text())
    got = _rounded({"records": [{k: r[k] for k in ("slice", "model", "metrics")}
                                for r in doc["records"]],
                    "fairness": doc["fairness"], "spread_intervals": doc["spread_intervals"]})
    if os.environ.get("ASSAY_UPDATE_GOLDEN") == "1":
        with open(GOLDEN, "w") as f:
            json.dump(got, f, indent=1, sort_keys=True)
            f.write("\n")
    with open(GOLDEN) as f:
        assert got == json.load(f), ("the label-free format changed: rewrite tests/golden/"
                                     "label_free.json with ASSAY_UPDATE_GOLDEN=1 and review it")
