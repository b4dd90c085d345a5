"""Perturbations of serialized tf.Examples that a TF SavedModel parses: equal to scoring the
perturbed TFRecord file directly, flip rates equal to TFMA's, and the feature through the CLI
and the TFX executor."""

import json
import math
import os

import numpy as np
import pytest
import yaml

import assay
from assay import cli
from model_fixtures import (make_tabular_data, make_tfx_saved_model, reference_saved_model,
                            write_tfrecord)
from test_perturb import perturbed_frame

N = 500
PERTURBATIONS = [
    {"name": "pay_swap", "feature": "payment",
     "swap": {"Cash": "Credit Card", "Credit Card": "Cash"}},
    {"name": "miles_noise", "feature": "miles", "noise": {"relative": 0.1}},
    {"name": "hour_perm", "feature": "hour", "permute": True},
    {"name": "noop", "feature": "payment", "swap": {"Zz": "Cash"}},   # no row has Zz
]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("perturb-tf")
    df = make_tabular_data(N, seed=21)
    os.makedirs(root / "Split-eval")
    return {"root": root, "df": df,
            "tfrecord": write_tfrecord(df, root / "Split-eval" / "data.tfrecord"),
            "model": make_tfx_saved_model(root / "trainer")}


def _config(model, **extra):
    cfg = {"label": "label", "slices": [[], ["day"]], "exact": True, "batch_size": 128,
           "models": {"candidate": {"path": model}}}
    cfg.update(extra)
    return cfg


@pytest.fixture(scope="module")
def perturbed(data):
    return assay.evaluate(_config(data["model"], perturbations=PERTURBATIONS), data["tfrecord"],
                          None, engine="local", workers=1)


def _hand(df, raw):
    # Row keys are the file's name and row: the hand-made edits use "data.csv"'s; give the
    # same rows the keys of this file.
    import test_perturb

    old, test_perturb.BATCH = test_perturb.BATCH, 128
    real = test_perturb._keys
    test_perturb._keys = lambda n: test_perturb.row_keys("data.tfrecord", np.arange(n))
    try:
        return perturbed_frame(df, raw)
    finally:
        test_perturb.BATCH, test_perturb._keys = old, real


@pytest.mark.parametrize("raw", PERTURBATIONS[:3], ids=[p["name"] for p in PERTURBATIONS[:3]])
def test_perturbed_examples_equal_scoring_the_perturbed_file(data, perturbed, raw, tmp_path):
    df2 = _hand(data["df"], raw)
    direct = assay.evaluate(_config(data["model"]), write_tfrecord(df2, tmp_path / "p.tfrecord"),
                            None, engine="local")
    for s in direct.slices():
        want = direct.metrics(s, "candidate")
        got = perturbed.metrics(s, "perturbed:" + raw["name"])
        for name, value in want.items():
            if isinstance(value, float) and math.isnan(value):
                assert math.isnan(got[name])
            else:
                assert got[name] == pytest.approx(value, rel=1e-9, abs=1e-12), (s, name)
    # The model called in TF on the perturbed rows: the same mean prediction.
    q = reference_saved_model(data["model"], df2)
    assert perturbed.metrics({}, "perturbed:" + raw["name"])["mean_prediction"] == \
        pytest.approx(q.mean(), rel=1e-9)


def test_re_serialized_examples_score_exactly_as_the_originals(perturbed):
    diff = perturbed.metrics({}, "perturbed_diff:noop")
    assert diff["flip_rate@0.5"] == 0 and diff["mean_absolute_prediction_change"] == 0
    assert diff["auc"] == 0 and diff["log_loss"] == 0


@pytest.fixture(scope="module")
def tfma_flips(data):
    import tensorflow_model_analysis as tfma
    from google.protobuf import json_format

    df = data["df"].copy()
    df["p"] = reference_saved_model(data["model"], df)            # the candidate
    df["q"] = reference_saved_model(data["model"], _hand(data["df"], PERTURBATIONS[0]))
    path = write_tfrecord(df, data["root"] / "pq.tfrecord")
    raw = {"model_specs": [
        {"name": "candidate", "label_key": "label", "prediction_key": "q"},
        {"name": "baseline", "label_key": "label", "prediction_key": "p", "is_baseline": True}],
        "slicing_specs": [{}, {"feature_keys": ["day"]}],
        "metrics_specs": [{"metrics": [{"class_name": "BooleanFlipRates"}]}]}
    out = str(data["root"] / "tfma")
    tfma.run_model_analysis(eval_config=json_format.ParseDict(raw, tfma.EvalConfig()),
                            data_location=path, output_path=out)
    values = {}
    for m in tfma.load_metrics(out):
        key = tuple((k.column, k.int64_value) for k in m.slice_key.single_slice_keys)
        for kv in m.metric_keys_and_values:
            if kv.key.is_diff and kv.value.HasField("double_value"):
                values[(key, kv.key.name)] = kv.value.double_value.value
    return values


def test_counterfactual_flip_rates_equal_tfma(perturbed, tfma_flips):
    compared = 0
    for s in perturbed.slices():
        got = perturbed.metrics(s, "perturbed_diff:pay_swap")
        key = tuple(s.items())
        for ours, theirs in (("flip_rate@0.5", "flip_rate"),
                             ("neg_to_pos_flip_rate@0.5", "neg_to_pos_flip_rate"),
                             ("pos_to_neg_flip_rate@0.5", "pos_to_neg_flip_rate")):
            assert got[ours] == pytest.approx(tfma_flips[(key, theirs)], rel=1e-6), (s, ours)
            compared += 1
    assert compared == 8 * 3


def test_the_cli_evaluates_and_gates_perturbations(data, tmp_path, capsys):
    cfg = _config(data["model"], perturbations=PERTURBATIONS[:1],
                  sensitivity={"features": ["payment", "day"]},
                  thresholds=[{"perturbation": "pay_swap", "metric": "flip_rate@0.5",
                               "max": 0.001}])
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    code = cli.main(["evaluate", "--config", str(tmp_path / "config.yaml"), "--examples",
                     data["tfrecord"], "--output", str(out), "--fail-on-not-blessed"])
    capsys.readouterr()
    verdict = json.loads((out / "validation.json").read_text())
    assert code != 0 and verdict["blessed"] is False
    assert verdict["reasons"][0].startswith("flip_rate@0.5 under perturbation pay_swap on slice "
                                            "overall is ")
    doc = json.loads((out / "assay_metrics.json").read_text())
    ranked = doc["sensitivity"]["slices"][0]["metrics"]["auc"]
    assert [e["rank"] for e in ranked] == [1, 2]
    assert ranked[0]["importance"] >= ranked[1]["importance"]
    for e in ranked:   # importance: the candidate's auc minus the permuted model's
        cand, perm = (next(r["metrics"]["auc"] for r in doc["records"]
                           if r["model"] == m and not r["slice"])
                      for m in ("candidate", "perturbed:permute:" + e["feature"]))
        assert e["importance"] == pytest.approx(cand - perm)
    assert "Perturbations and feature importance" in (out / "report.html").read_text()


def test_the_tfx_executor_runs_perturbations(data, tmp_path):
    from tfx.dsl.components.base import base_beam_executor
    from tfx.types import artifact_utils, standard_artifacts

    from assay.tfx.executor import Executor
    from tfx_artifacts import artifact, executor_outputs

    examples = artifact(standard_artifacts.Examples, tmp_path, "examples")
    examples.split_names = artifact_utils.encode_split_names(["eval"])
    os.makedirs(os.path.join(examples.uri, "Split-eval"))
    write_tfrecord(data["df"], os.path.join(examples.uri, "Split-eval", "data.tfrecord"))
    model = standard_artifacts.Model()
    model.uri = data["model"]
    outputs = executor_outputs(tmp_path)
    config = {"label": "label", "slices": [[]], "perturbations": PERTURBATIONS[:1],
              "thresholds": [{"perturbation": "pay_swap", "metric": "flip_rate@0.5",
                              "max": 0.9}]}
    Executor(base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=None)).Do(
        {"examples": [examples], "model": [model]}, outputs,
        {"config": json.dumps(config), "eval_config": None,
         "example_splits": json.dumps(["eval"])})
    assert os.listdir(outputs["blessing"][0].uri) == ["BLESSED"]
    result = assay.load_result(outputs["evaluation"][0].uri)
    flips = result.metrics({}, "perturbed_diff:pay_swap")["flip_rate@0.5"]
    df = data["df"]
    p = reference_saved_model(data["model"], df)
    q = reference_saved_model(data["model"], _hand(df, PERTURBATIONS[0]))
    assert flips == pytest.approx(np.mean((p > 0.5) != (q > 0.5)))
