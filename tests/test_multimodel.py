"""Any number of named models, thresholds naming a model, and the cross-model metrics.

Four models in one pass (three prediction columns and a Keras file): every model's metrics equal
evaluating it alone, every diff equals the difference, and the Keras model's AUC equals
scikit-learn's on the model's own predictions. The cross-model metrics (flip rates, prediction
difference, cosine similarity) are checked against TFMA 0.47 run model-agnostic on the same
tf.Examples with three ModelSpecs (one is_baseline), per slice, and against hand-computed cases.
The CLI, the TFX executor and the KFP executor each run three models.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import yaml

import assay
from assay.config.schema import EvalConfig
from assay.config.tfma import from_tfma
from assay.errors import ConfigError
from assay.metrics.batch import ModelBatch
from assay.metrics.cross_model import CrossModelMetrics
from model_fixtures import (make_keras_model_file, make_tabular_data, reference_keras,
                            write_csv, write_tfrecord)

N = 600
CROSS = ["flip_rate", "neg_to_neg_flip_rate", "neg_to_pos_flip_rate", "pos_to_neg_flip_rate",
         "pos_to_pos_flip_rate", "symmetric_flip_rate@0.3", "symmetric_prediction_difference",
         "model_cosine_similarity"]


def _grid(x):
    # Multiples of 1/64 in [1/64, 1]: exact in a tf.Example's float32, and never 0 (TFMA's
    # cosine similarity of a zero prediction is NaN).
    return np.clip(np.round(np.asarray(x) * 64), 1, 64) / 64


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("multimodel")
    df = make_tabular_data(N, seed=3)
    rng = np.random.default_rng(5)
    y = df["label"].to_numpy()
    df["p"] = _grid(0.55 * y + 0.45 * rng.random(N))      # the candidate: good
    df["b"] = _grid(0.3 * y + 0.7 * rng.random(N))        # the baseline: weaker
    df["q"] = _grid(0.2 * y + 0.8 * rng.random(N))        # "previous": weaker still
    keras = make_keras_model_file(root / "model.keras")
    return {"root": root, "df": df, "csv": write_csv(df, root / "data.csv"),
            "tfrecord": write_tfrecord(df, root / "data.tfrecord"), "keras": keras}


def _config(**extra):
    cfg = {"label": "label", "slices": [["day"]],
           "models": {"candidate": {"prediction": "p"}, "baseline": {"prediction": "b"},
                      "previous": {"prediction": "q"}},
           "metrics": ["auc", "accuracy", "log_loss", "mean_prediction"]}
    cfg.update(extra)
    return cfg


@pytest.fixture(scope="module")
def four(data):
    cfg = _config(cross_model_metrics=CROSS)
    cfg["models"]["keras"] = {"path": data["keras"], "features": ["hour", "day", "miles"]}
    return assay.evaluate(cfg, data["csv"], str(data["root"] / "four"), engine="local")


def _alone(data, spec, name):
    cfg = {"label": "label", "slices": [["day"]], "models": {"candidate": spec},
           "metrics": ["auc", "accuracy", "log_loss", "mean_prediction"]}
    return assay.evaluate(cfg, data["csv"], str(data["root"] / f"alone-{name}"), engine="local",
                          write_report=False)


def test_each_model_equals_evaluating_it_alone_and_diffs_are_differences(data, four):
    specs = {"candidate": {"prediction": "p"}, "baseline": {"prediction": "b"},
             "previous": {"prediction": "q"},
             "keras": {"path": data["keras"], "features": ["hour", "day", "miles"]}}
    slices = four.slices()
    assert len(slices) == 8  # overall and days 1..7
    for name, spec in specs.items():
        alone = _alone(data, spec, name)
        for s in slices:
            assert four.metrics(s, name) == pytest.approx(alone.metrics(s), rel=1e-12), (name, s)
    for name, diff in (("candidate", "diff"), ("previous", "diff:previous"),
                       ("keras", "diff:keras")):
        for s in slices:
            own, base = four.metrics(s, name), four.metrics(s, "baseline")
            got = four.metrics(s, diff)
            for metric in ("auc", "accuracy", "log_loss", "mean_prediction"):
                assert got[metric] == pytest.approx(own[metric] - base[metric], abs=1e-12)
    # The records of one slice: every model, then every diff against the baseline.
    assert [r["model"] for r in four.records[:7]] == [
        "candidate", "baseline", "previous", "keras", "diff", "diff:previous", "diff:keras"]
    assert "flip_rate" not in four.metrics({}, "previous")  # cross-model: in the diff record


def test_the_beam_engine_gives_the_same_records(data):
    cfg = _config(cross_model_metrics=CROSS)
    local = assay.evaluate(cfg, data["csv"], str(data["root"] / "local3"), engine="local",
                           write_report=False)
    beam = assay.evaluate(cfg, data["csv"], str(data["root"] / "beam3"), engine="beam",
                          write_report=False)
    assert [(r["slice"], r["model"]) for r in beam.records] == \
        [(r["slice"], r["model"]) for r in local.records]
    for a, b in zip(local.records, beam.records):
        assert b["metrics"] == pytest.approx(a["metrics"], rel=1e-9, nan_ok=True)


def test_the_keras_model_matches_scikit_learn_on_its_own_predictions(data, four):
    from sklearn.metrics import log_loss, roc_auc_score

    df = data["df"]
    pred = reference_keras(data["keras"], df)
    got = four.metrics({}, "keras")
    assert got["auc"] == pytest.approx(roc_auc_score(df["label"], pred), abs=1e-9)
    assert got["log_loss"] == pytest.approx(log_loss(df["label"], pred), rel=1e-5)
    assert four.info["models"]["keras"] == data["keras"]


# -------------------------------------------------------------------------------------------
# Cross-model metrics: TFMA's own computation, and hand-computed cases


@pytest.fixture(scope="module")
def tfma_run(data):
    import tensorflow_model_analysis as tfma
    from google.protobuf import json_format

    raw = {"model_specs": [
        {"name": "candidate", "label_key": "label", "prediction_key": "p"},
        {"name": "baseline", "label_key": "label", "prediction_key": "b", "is_baseline": True},
        {"name": "previous", "label_key": "label", "prediction_key": "q"}],
        "slicing_specs": [{}, {"feature_keys": ["day"]}],
        "metrics_specs": [{"metrics": [
            {"class_name": "ExampleCount"}, {"class_name": "MeanPrediction"},
            {"class_name": "BooleanFlipRates"},
            {"class_name": "SymmetricFlipRate", "config": '"threshold": 0.3'},
            {"class_name": "SymmetricPredictionDifference"},
            {"class_name": "ModelCosineSimilarity"}]}]}
    out = str(data["root"] / "tfma")
    tfma.run_model_analysis(eval_config=json_format.ParseDict(raw, tfma.EvalConfig()),
                            data_location=data["tfrecord"], output_path=out)
    values = {}
    for m in tfma.load_metrics(out):
        key = tuple((k.column, k.int64_value) for k in m.slice_key.single_slice_keys)
        for kv in m.metric_keys_and_values:
            if kv.value.HasField("double_value"):
                values[(key, kv.key.model_name, kv.key.is_diff, kv.key.name)] = \
                    kv.value.double_value.value
    return raw, values


def test_cross_model_metrics_equal_tfma_per_slice(data, tfma_run):
    raw, tfma_values = tfma_run
    cfg = from_tfma(raw)   # the same EvalConfig, translated
    assert set(cfg["models"]) == {"candidate", "baseline", "previous"}
    result = assay.evaluate(cfg, data["csv"], str(data["root"] / "from-tfma"), engine="local",
                            write_report=False)
    names = {"flip_rate": "flip_rate", "neg_to_neg_flip_rate": "neg_to_neg_flip_rate",
             "neg_to_pos_flip_rate": "neg_to_pos_flip_rate",
             "pos_to_neg_flip_rate": "pos_to_neg_flip_rate",
             "pos_to_pos_flip_rate": "pos_to_pos_flip_rate",
             "symmetric_flip_rate": "symmetric_flip_rate@0.3",
             "symmetric_prediction_difference": "symmetric_prediction_difference",
             "model_cosine_similarity": "model_cosine_similarity"}
    compared = 0
    for s in result.slices():
        key = tuple(s.items())
        for model, diff in (("candidate", "diff"), ("previous", "diff:previous")):
            got = result.metrics(s, diff)
            for tfma_name, ours in names.items():
                # TFMA divides float32 predictions in float32: agreement to ~1e-8.
                assert got[ours] == pytest.approx(
                    tfma_values[(key, model, True, tfma_name)], rel=1e-6), (s, model, ours)
                compared += 1
            assert result.metrics(s, model)["mean_prediction"] == pytest.approx(
                tfma_values[(key, model, False, "mean_prediction")], rel=1e-6)
    assert compared == 8 * 2 * len(names)


def test_cross_model_metrics_by_hand_and_their_merge_algebra():
    base = np.array([0.9, 0.2, 0.6, 0.4, 0.0])
    cand = np.array([0.8, 0.7, 0.3, 0.4, 0.0])
    w = np.array([1.0, 2.0, 1.0, 1.0, 4.0])
    fam = CrossModelMetrics(["symmetric_flip_rate", "neg_to_pos_flip_rate", "pos_to_pos_flip_rate",
                             "symmetric_flip_rate@0.35", "symmetric_prediction_difference",
                             "model_cosine_similarity"])
    batch = ModelBatch(np.zeros(5), cand, w, None, baseline_predictions=base)
    got = fam.result(fam.add(fam.create(), batch))
    # At 0.5: base pos,neg,pos,neg,neg; cand pos,pos,neg,neg,neg -> flips on rows 1 (w 2), 2.
    assert got["symmetric_flip_rate"] == pytest.approx(3 / 9)
    assert got["neg_to_pos_flip_rate"] == pytest.approx(2 / 9)
    assert got["pos_to_pos_flip_rate"] == pytest.approx(1 / 9)
    # At 0.35: base pos,neg,pos,pos,neg; cand pos,pos,neg,pos,neg -> rows 1 and 2 flip.
    assert got["symmetric_flip_rate@0.35"] == pytest.approx(3 / 9)
    sym = [2 * 0.1 / 1.7, 2 * 0.5 / 0.9, 2 * 0.3 / 0.9, 0.0, 0.0]  # 0 and 0 do not differ
    assert got["symmetric_prediction_difference"] == pytest.approx(np.dot(sym, w) / 9)
    # One score per example: the cosine is the sign of the product, 0/0 is NaN (as in TFMA).
    assert math.isnan(got["model_cosine_similarity"])
    shards = [fam.add(fam.create(), batch.take(np.array(rows))) for rows in ([0, 3], [1, 2, 4])]
    merged = fam.result(fam.merge(shards))
    assert merged == pytest.approx(got, nan_ok=True)
    # Per slice in one vectorised pass, as the engine calls it.
    groups = fam.add_grouped(batch, np.array([0, 1, 1, 0, 1]), 2)
    assert fam.result(groups[0]) == pytest.approx(fam.result(shards[0]), nan_ok=True)
    # The baseline itself (no baseline predictions): nothing.
    assert fam.result(fam.add(fam.create(), ModelBatch(np.zeros(2), cand[:2], w[:2]))) == {}


def test_cosine_similarity_of_class_probabilities():
    cand = np.array([[0.2, 0.8], [0.6, 0.4]])
    base = np.array([[0.5, 0.5], [0.6, 0.4]])
    fam = CrossModelMetrics(["model_cosine_similarity"])
    got = fam.result(fam.add(fam.create(), ModelBatch(np.zeros(2), cand, np.ones(2), None,
                                                      baseline_predictions=base)))
    first = (0.1 + 0.4) / (math.hypot(0.2, 0.8) * math.hypot(0.5, 0.5))
    assert got["model_cosine_similarity"] == pytest.approx((first + 1.0) / 2)


def test_flip_rates_need_one_score_per_example(data):
    df = data["df"].head(60).copy()
    df["k"] = (df["hour"] % 3).astype(int)
    for c, col in enumerate(("a", "b2", "c")):
        df[f"p_{col}"], df[f"b_{col}"] = 1 / 3, 1 / 3
    path = write_csv(df, data["root"] / "mc.csv")
    cfg = {"label": "k", "models": {"candidate": {"prediction": ["p_a", "p_b2", "p_c"]},
                                    "baseline": {"prediction": ["b_a", "b_b2", "b_c"]}},
           "cross_model_metrics": ["symmetric_flip_rate"]}
    with pytest.raises(ConfigError, match=r"symmetric_flip_rate compares one score per example, "
                                          r"but the task is multiclass"):
        assay.evaluate(cfg, path, str(data["root"] / "mc-out"), engine="local")


# -------------------------------------------------------------------------------------------
# Thresholds naming a model, and the verdict


def test_thresholds_on_named_models_decide_the_verdict(four):
    auc_prev = four.metrics({}, "previous")["auc"]
    assert four.metrics({}, "candidate")["auc"] > 0.9 > auc_prev + 0.01
    cfg = _config(thresholds=[
        {"metric": "auc", "min": 0.9},                                       # candidate: pass
        {"metric": "auc", "model": "previous", "min": 0.9},                  # fails
        {"metric": "auc", "model": "keras", "max_regression": 0.5},          # vs the baseline
        {"metric": "symmetric_flip_rate@0.3", "max": 0.01},                  # cross: fails
        {"metric": "model_cosine_similarity", "model": "previous", "min": 0.5}])
    cfg["models"]["keras"] = {"path": "unused.keras"}
    verdict = assay.validate(four, cfg)
    flips = four.metrics({}, "diff")["symmetric_flip_rate@0.3"]
    assert verdict.blessed is False
    assert verdict.reasons == [
        f"model previous: auc is {auc_prev:.4g}, below the minimum 0.9",
        f"symmetric_flip_rate@0.3 is {flips:.4g}, above the maximum 0.01"]
    by_model = [(c.model, c.metric, c.status) for c in verdict.checks]
    assert by_model == [("candidate", "auc", "pass"), ("previous", "auc", "fail"),
                        ("keras", "auc", "pass"), ("candidate", "symmetric_flip_rate@0.3", "fail"),
                        ("previous", "model_cosine_similarity", "pass")]
    keras_check = verdict.checks[2].to_dict()
    assert keras_check["model"] == "keras" and keras_check["change"] == pytest.approx(
        four.metrics({}, "diff:keras")["auc"])
    assert "model" not in verdict.checks[0].to_dict()   # two-model format unchanged
    del cfg["thresholds"][1], cfg["thresholds"][2]
    assert assay.validate(four, cfg).blessed is True


def test_cross_model_thresholds_without_a_baseline_are_skipped():
    records = [{"slice": {}, "model": "candidate", "metrics": {"auc": 0.8}}]
    from assay.config.thresholds import parse_thresholds
    from assay.validation import validate

    ts = parse_thresholds([{"metric": "symmetric_flip_rate", "max": 0.1}])
    result = validate(records, ts, None, has_baseline=False)
    assert result.checks[0].status == "skipped"
    assert result.outcome.value == "FIRST_MODEL_BLESSED"


@pytest.mark.parametrize("raw, match", [
    ({"models": {"candidate": {"prediction": "p"}, "diff": {"prediction": "q"}}},
     r"'diff' cannot name a model"),
    ({"models": {"candidate": {"prediction": "p"}, "baselin": {"prediction": "q"}}},
     r"unknown key 'baselin' in models; did you mean 'baseline'"),
    ({"models": {"candidate": {"prediction": "p"}, "my model": {"prediction": "q"}}},
     r"model names must start with a letter .* \(got 'my model' in 'models'\)"),
    ({"thresholds": [{"metric": "auc", "model": "previous", "min": 0.5}]},
     r"thresholds\[0\] \(auc\) names model 'previous', which is not in 'models' "
     r"\(models: candidate\)"),
    ({"thresholds": [{"metric": "symmetric_flip_rate", "max_regression": 0.1}]},
     r"symmetric_flip_rate already compares the model with the baseline"),
    ({"thresholds": [{"metric": "auc", "model": "baseline", "max_regression": 0.1}]},
     r"a threshold on model 'baseline' can only bound its value"),
    ({"cross_model_metrics": ["auc"]}, r"'cross_model_metrics' lists cross-model metrics"),
    ({"cross_model_metrics": ["model_cosine_similarity@0.3"]},
     r"model_cosine_similarity takes no threshold"),
])
def test_bad_model_configs_name_the_problem(raw, match):
    full = {"label": "y", "models": {"candidate": {"prediction": "p"}}, **raw}
    with pytest.raises(ConfigError, match=match):
        EvalConfig.from_dict(full)


def test_threshold_model_round_trips_through_the_config():
    cfg = EvalConfig.from_dict(_config(thresholds=[{"metric": "auc", "model": "previous",
                                                    "min": 0.6}],
                                       cross_model_metrics=["flip_rate@0.3"]))
    again = EvalConfig.from_dict(cfg.to_dict())
    assert again == cfg
    assert cfg.to_dict()["thresholds"] == [{"metric": "auc", "model": "previous", "min": 0.6}]
    assert [n for n, _ in cfg.models] == ["candidate", "baseline", "previous"]
    assert cfg.compared_models == ("candidate", "previous")


def test_tfma_model_names_pick_the_models_a_threshold_checks():
    raw = {"model_specs": [{"name": "new", "label_key": "y", "prediction_key": "p"},
                           {"name": "old", "prediction_key": "b", "is_baseline": True},
                           {"name": "heuristic", "prediction_key": "h"}],
           "metrics_specs": [
               {"metrics": [{"class_name": "AUC", "threshold": {
                   "value_threshold": {"lower_bound": 0.6}}}]},
               {"model_names": ["heuristic"], "metrics": [{"class_name": "SymmetricFlipRate",
                "threshold": {"value_threshold": {"upper_bound": 0.2}}}]}]}
    cfg = from_tfma(raw)
    assert {n: s["prediction"] for n, s in cfg["models"].items()} == {
        "candidate": "p", "baseline": "b", "heuristic": "h"}
    assert cfg["cross_model_metrics"] == ["symmetric_flip_rate"]
    picked = [(t["metric"], t.get("model", "candidate"), t.get("min"), t.get("max"))
              for t in cfg["thresholds"]]
    # No model_names: every model but the baseline, as TFMA checks them.
    auc = picked[0][0]  # assay's name for TFMA's AUC (assay.config.tfma_metrics)
    assert picked == [(auc, "candidate", 0.6, None), (auc, "heuristic", 0.6, None),
                      ("symmetric_flip_rate", "heuristic", None, 0.2)]
    EvalConfig.from_dict(cfg)  # a valid assay config


# -------------------------------------------------------------------------------------------
# Entry points: CLI, TFX, KFP, the report


def test_cli_with_named_models(data, tmp_path, capsys):
    from assay.cli import main

    cfg = {"label": "label", "slices": [["day"]],
           "models": {"candidate": {"prediction": "p"}, "baseline": {"prediction": "b"},
                      "heuristic": {"features": ["hour", "day", "miles"]}},
           "cross_model_metrics": ["symmetric_flip_rate"],
           "thresholds": [{"metric": "auc", "min": 0.6},
                          {"metric": "auc", "model": "heuristic", "min": 0.2}]}
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    code = main(["evaluate", "--config", str(tmp_path / "cfg.yaml"), "--examples", data["csv"],
                 "--output", str(tmp_path / "out"), "--model", f"heuristic={data['keras']}",
                 "--engine", "local"])
    assert code == 0, capsys.readouterr()
    result = assay.load_result(str(tmp_path / "out"))
    assert result.blessed is True
    assert result.info["models"]["heuristic"] == data["keras"]
    assert result.metrics({}, "heuristic")["auc"] == pytest.approx(
        _keras_auc(data), abs=1e-9)
    assert "symmetric_flip_rate" in result.metrics({"day": 3}, "diff:heuristic")
    with pytest.raises(SystemExit):
        main(["evaluate", "--config", str(tmp_path / "cfg.yaml"), "--examples", data["csv"],
              "--output", str(tmp_path / "o2"), "--model", "x=1", "--model", "x=2"])
    assert "--model x=... is given twice" in capsys.readouterr().err


def _keras_auc(data):
    from sklearn.metrics import roc_auc_score

    return roc_auc_score(data["df"]["label"], reference_keras(data["keras"], data["df"]))


def test_tfx_executor_with_three_models(data, tmp_path):
    import tfx.types  # noqa: F401
    from tfx.dsl.components.base import base_beam_executor
    from tfx.types import artifact_utils, standard_artifacts

    from assay.tfx.executor import Executor

    def artifact(cls, uri, id_=None):
        a = cls()
        a.uri = str(uri)
        os.makedirs(a.uri, exist_ok=True)
        if id_ is not None:
            a.id = id_
        return a

    examples = artifact(standard_artifacts.Examples, tmp_path / "examples")
    examples.split_names = artifact_utils.encode_split_names(["eval"])
    os.makedirs(tmp_path / "examples" / "Split-eval")
    write_csv(data["df"], tmp_path / "examples" / "Split-eval" / "data.csv")
    outputs = {"evaluation": [artifact(standard_artifacts.ModelEvaluation, tmp_path / "eval")],
               "blessing": [artifact(standard_artifacts.ModelBlessing, tmp_path / "blessing")]}
    inputs = {"examples": [examples],
              "model": [artifact(standard_artifacts.Model, tmp_path / "m", 7)],
              "baseline_model": [artifact(standard_artifacts.Model, tmp_path / "bm", 3)]}
    config = _config(thresholds=[{"metric": "auc", "model": "previous", "min": 0.9}],
                     cross_model_metrics=["symmetric_prediction_difference"])
    Executor(base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=None)).Do(
        inputs, outputs, {"config": json.dumps(config), "eval_config": None,
                          "example_splits": json.dumps(["eval"])})
    blessing = outputs["blessing"][0]
    assert sorted(os.listdir(blessing.uri)) == ["NOT_BLESSED"]
    props = blessing.mlmd_artifact.custom_properties
    assert props["current_model_id"].int_value == 7 and props["baseline_model_id"].int_value == 3
    result = assay.load_result(outputs["evaluation"][0].uri)
    prev = result.metrics({}, "previous")["auc"]
    assert json.loads(props["assay_reasons"].string_value) == [
        f"model previous: auc is {prev:.4g}, below the minimum 0.9"]
    assert result.metrics({}, "diff:previous")["symmetric_prediction_difference"] > 0


def test_kfp_executor_with_three_models(data, tmp_path):
    from assay.kfp import executor
    from test_kfp import hand_built_executor_input

    config = yaml.safe_dump(_config(cross_model_metrics=["symmetric_flip_rate"],
                                    thresholds=[{"metric": "auc", "model": "previous",
                                                 "min": 0.5}]))
    os.makedirs(tmp_path / "data")
    write_csv(data["df"], tmp_path / "data" / "eval.csv")
    task = hand_built_executor_input(
        tmp_path / "task", {"examples": ("system.Dataset", str(tmp_path / "data"))},
        {"config": config, "beam_pipeline_args": [], "allow_pickle": False, "force_bless": ""})
    executor.run(task)
    assert (tmp_path / "task" / "parameters" / "blessed").read_text() == "true"
    result = assay.load_result(str(tmp_path / "task" / "evaluation"))
    assert [r["model"] for r in result.records[:5]] == [
        "candidate", "baseline", "previous", "diff", "diff:previous"]
    assert result.validation["checks"][0]["model"] == "previous"


def test_the_report_shows_every_model(four):
    from assay.report.html import render_report

    page = render_report(four)
    assert "Every model, overall" in page
    table = page[page.index("Every model, overall"):page.index("</table>",
                                                              page.index("Every model"))]
    for label in ("candidate", "baseline", "previous", "keras", "previous vs baseline",
                  "keras vs baseline", "candidate vs baseline", "symmetric_flip_rate@0.3"):
        assert f">{label}<" in table, label
    from assay.report.html import fmt

    assert f">{fmt(four.metrics({}, 'previous')['auc'])}<" in table
