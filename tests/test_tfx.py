"""Tests for assay.tfx: the Evaluator component's definition-time checks, its executor, and the
penguin TFX pipeline (pipelines/penguin_tfx.py) run twice with LocalDagRunner and SQLite ML
Metadata: a good model blessed and pushed, then a worse one judged against it, not blessed and
not pushed. Everything is asserted from ML Metadata and from disk.

The two pipeline runs take about 2 minutes on 2 cores (TFX and TFMA imports included).
"""

from __future__ import annotations

import collections
import csv
import json
import os
import sys

import pytest

import tfx.types as tfx_types

from tfx.dsl.components.base import base_beam_executor  # noqa: E402
from tfx.types import artifact_utils, channel, standard_artifacts  # noqa: E402

import assay.api  # noqa: E402
from assay.config.schema import ConfigError, EvalConfig  # noqa: E402
from assay.config.tfma import TfmaConfigError  # noqa: E402
from assay.errors import ConfigTypeError, DataError  # noqa: E402
from assay.tfx import Evaluator  # noqa: E402
from assay.tfx import component as component_lib  # noqa: E402
from assay.tfx.executor import Executor  # noqa: E402

PIPELINES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                         "pipelines")
sys.path.insert(0, PIPELINES)
import penguin_tfx  # noqa: E402

EXAMPLES = channel.Channel(type=standard_artifacts.Examples)
MODEL = channel.Channel(type=standard_artifacts.Model)
COLUMN_CONFIG = {"label": "label", "models": {"candidate": {"prediction": "p"}},
                 "thresholds": [{"metric": "accuracy", "min": 0.5}]}


# ------------------------------------------------------------------------------------------
# The component: declared interface and definition-time errors


def test_spec_declares_the_tfx_evaluator_interface():
    from tfx.types import standard_component_specs as tfx_specs

    spec = component_lib.EvaluatorSpec
    assert set(spec.INPUTS) == {tfx_specs.EXAMPLES_KEY, tfx_specs.MODEL_KEY,
                                tfx_specs.BASELINE_MODEL_KEY, tfx_specs.SCHEMA_KEY}
    assert set(spec.OUTPUTS) == {tfx_specs.EVALUATION_KEY, tfx_specs.BLESSING_KEY}
    assert spec.OUTPUTS["blessing"].type is standard_artifacts.ModelBlessing
    assert spec.OUTPUTS["evaluation"].type is standard_artifacts.ModelEvaluation
    assert {k for k, p in spec.INPUTS.items() if p.optional} == {"model", "baseline_model",
                                                                 "schema"}


def test_parameters_are_stored_as_json_and_beam_args_the_tfx_way():
    evaluator = Evaluator(examples=EXAMPLES, model=MODEL, config={
        "label": "y", "models": {"candidate": {"output": "probabilities"}}},
        example_splits=["test", "eval"], force_bless="INC-1: approved")
    props = evaluator.exec_properties
    assert json.loads(props["config"]) == {"label": "y", "models": {
        "candidate": {"output": "probabilities"}}}
    assert props["eval_config"] is None
    assert json.loads(props["example_splits"]) == ["test", "eval"]
    assert props["force_bless"] == "INC-1: approved"
    assert json.loads(Evaluator(examples=EXAMPLES, config=COLUMN_CONFIG)
                      .exec_properties["example_splits"]) == ["eval"]
    evaluator.with_beam_pipeline_args(["--direct_num_workers=2"])
    assert evaluator.executor_spec.beam_pipeline_args == ["--direct_num_workers=2"]


def test_config_from_a_yaml_file_and_an_assay_eval_config(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("label: label\nmodels: {candidate: {prediction: p}}\n")
    from_file = Evaluator(examples=EXAMPLES, config=str(path))
    assert json.loads(from_file.exec_properties["config"])["models"] == {
        "candidate": {"prediction": "p"}}
    from_object = Evaluator(examples=EXAMPLES, config=EvalConfig.from_dict(COLUMN_CONFIG))
    assert json.loads(from_object.exec_properties["config"])["label"] == "label"


def test_a_tfma_eval_config_is_translated_when_defined():
    import tensorflow_model_analysis as tfma

    eval_config = tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(label_key="species", prediction_key="probabilities")],
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=["island"])],
        metrics_specs=[tfma.MetricsSpec(metrics=[tfma.MetricConfig(
            class_name="SparseCategoricalAccuracy",
            threshold=tfma.MetricThreshold(value_threshold=tfma.GenericValueThreshold(
                lower_bound={"value": 0.8})))])])
    evaluator = Evaluator(examples=EXAMPLES, model=MODEL, eval_config=eval_config)
    stored = json.loads(evaluator.exec_properties["eval_config"])
    assert stored["model_specs"] == [{"label_key": "species",
                                      "prediction_key": "probabilities"}]
    assert evaluator.exec_properties["config"] is None
    unsupported = tfma.EvalConfig(model_specs=[tfma.ModelSpec(label_key="y")],
                                  cross_slicing_specs=[tfma.CrossSlicingSpec()])
    with pytest.raises(TfmaConfigError, match="cross_slicing_specs: not supported"):
        Evaluator(examples=EXAMPLES, model=MODEL, eval_config=unsupported)


@pytest.mark.parametrize("kwargs, error, match", [
    ({}, ConfigError, r"exactly one of 'config' .* or 'eval_config' .* \(got neither\)"),
    ({"config": COLUMN_CONFIG, "eval_config": {"model_specs": []}}, ConfigError,
     r"exactly one of .* \(got both\)"),
    ({"config": COLUMN_CONFIG, "example_splits": []}, ConfigError,
     r"'example_splits' must name at least one split \(got \[\]\)"),
    ({"config": COLUMN_CONFIG, "example_splits": "eval"}, ConfigTypeError,
     r"'example_splits' must be a list of split names \(got 'eval', a str\)"),
    ({"config": COLUMN_CONFIG, "example_splits": ["eval", "eval"]}, ConfigError,
     "names a split twice"),
    ({"config": COLUMN_CONFIG, "force_bless": " "}, ConfigError,
     "'force_bless' must be a non-empty reason"),
    ({"config": COLUMN_CONFIG, "feature_slicing_spec": object()}, ConfigTypeError,
     r"'feature_slicing_spec' must be an evaluator_pb2.FeatureSlicingSpec, its JSON string or "
     r"dict \(got <object object at .*>, a object\)"),
    ({"config": dict(COLUMN_CONFIG, slices=[["a"]]),
      "feature_slicing_spec": {"specs": [{"column_for_slicing": ["b"]}]}}, ConfigError,
     r"both 'feature_slicing_spec' and the config's slices \(\[\['a'\]\]\) say what to slice "
     r"by; give one"),
    ({"eval_config": {"model_specs": [{"label_key": "y", "prediction_key": "p"}]},
      "feature_slicing_spec": {"specs": []}}, ConfigError,
     "exactly one of 'eval_config' or 'feature_slicing_spec'"),
    ({"config": COLUMN_CONFIG, "feature_slicing_spec": {"specs": [{"columns": ["a"]}]}},
     ConfigError, r"specs\[0\] must be a SingleSlicingSpec \{column_for_slicing: \[...\]\} "
                  r"\(got \{'columns': \['a'\]\}\)"),
    ({"config": COLUMN_CONFIG, "module_file": "m.py"}, ConfigError,
     r"does not support 'module_file' \(got 'm.py'\): TFX's Evaluator calls a module_file's "
     r"custom_eval_shared_model .* and custom_extractors .*; assay runs neither"),
    ({"config": COLUMN_CONFIG, "module_path": "my.extractors"}, ConfigError,
     r"does not support 'module_path' \(got 'my.extractors'\).*allow_custom_code"),
    ({"config": COLUMN_CONFIG, "module_file": "m.py", "module_path": "m"}, ConfigError,
     "at most one of 'module_file' and 'module_path'"),
    ({"config": COLUMN_CONFIG, "fairness_indicator_thresholds": [0.3, 1.5]}, ConfigError,
     r"'fairness_indicator_thresholds' must list numbers in \[0, 1\].*\(got \[0.3, 1.5\]\)"),
    ({"config": {"label": "y", "models": {"candidate": {"output": "probabilities"}}}},
     ConfigError, "models.candidate reads no prediction column, so it needs the 'model' input"),
    ({"config": dict(COLUMN_CONFIG, split="test")}, ConfigError,
     "'split' is set by the component's 'example_splits'"),
    ({"config": "{not json"}, ConfigError, "'config' is not valid JSON"),
    ({"config": "missing.yaml"}, ConfigError, "neither a JSON object nor an existing"),
    ({"config": 3}, ConfigTypeError, r"'config' must be an assay EvalConfig.*\(got 3, a int\)"),
])
def test_bad_parameters_are_rejected_when_defined(kwargs, error, match):
    with pytest.raises(error, match=match):
        Evaluator(examples=EXAMPLES, **kwargs)


@pytest.mark.parametrize("config", [
    dict(COLUMN_CONFIG, lable="y"),
    dict(COLUMN_CONFIG, thresholds=[{"metric": "accuracy", "min": "0.7"}]),
    dict(COLUMN_CONFIG, thresholds=[{"metric": "my_score", "max_regression": 0.1}]),
    dict(COLUMN_CONFIG, slices=[{"feature": "x"}]),
])
def test_an_invalid_config_raises_the_configs_own_error(config):
    with pytest.raises((ConfigError, TypeError, ValueError)) as own:
        EvalConfig.from_dict(config)
    with pytest.raises(type(own.value)) as raised:
        Evaluator(examples=EXAMPLES, model=MODEL, config=config)
    assert str(raised.value) == str(own.value)


# ------------------------------------------------------------------------------------------
# The executor, on prediction columns (no model to train)


def _artifact(cls, uri, id_=None, split_names=None):
    a = cls()
    a.uri = str(uri)
    os.makedirs(a.uri, exist_ok=True)
    if id_ is not None:
        a.id = id_
    if split_names is not None:
        a.split_names = artifact_utils.encode_split_names(split_names)
    return a


def _write_csv(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["label", "p", "q", "group"])
        writer.writerows(rows)


@pytest.fixture
def column_artifacts(tmp_path):
    """An Examples artifact with CSV splits holding labels and two models' predictions."""
    examples = _artifact(standard_artifacts.Examples, tmp_path / "examples",
                         split_names=["train", "eval"])
    # p is right on 5 of 6 examples per split, q on 2 of 6.
    rows = [(1, 0.9, 0.8, "a"), (0, 0.2, 0.7, "a"), (1, 0.7, 0.3, "b"), (0, 0.1, 0.2, "b"),
            (1, 0.4, 0.4, "b"), (0, 0.3, 0.6, "a")]
    _write_csv(os.path.join(examples.uri, "Split-train", "data.csv"), rows)
    _write_csv(os.path.join(examples.uri, "Split-eval", "data.csv"), rows)
    model = _artifact(standard_artifacts.Model, tmp_path / "model", id_=7)
    baseline = _artifact(standard_artifacts.Model, tmp_path / "baseline", id_=3)
    evaluation = _artifact(standard_artifacts.ModelEvaluation, tmp_path / "evaluation")
    blessing = _artifact(standard_artifacts.ModelBlessing, tmp_path / "blessing")
    return ({"examples": [examples], "model": [model], "baseline_model": [baseline]},
            {"evaluation": [evaluation], "blessing": [blessing]})


def _properties(artifact):
    return {k: (v.int_value if v.HasField("int_value") else v.string_value)
            for k, v in artifact.mlmd_artifact.custom_properties.items()}


def _run_executor(inputs, outputs, config, beam_args=(), **exec_properties):
    context = base_beam_executor.BaseBeamExecutor.Context(
        # sdk_container_image keeps TFX from building its ephemeral sdist (it is unused here).
        beam_pipeline_args=list(beam_args) + ["--sdk_container_image=unused"] if beam_args
        else None)
    props = {"config": None if config is None else json.dumps(config), "eval_config": None,
             "example_splits": json.dumps(["eval"]), **exec_properties}
    Executor(context).Do(inputs, outputs, props)
    return _properties(outputs["blessing"][0])


def test_executor_writes_results_marker_and_tfx_blessing_properties(column_artifacts,
                                                                    monkeypatch):
    inputs, outputs = column_artifacts
    seen = {}
    evaluate = assay.api.evaluate

    def spy(config, examples, output, **kwargs):
        seen.update(kwargs, examples=examples)
        return evaluate(config, examples, output, **kwargs)

    monkeypatch.setattr(assay.api, "evaluate", spy)
    config = {"label": "label", "models": {"baseline": {"prediction": "q"},
                                           "candidate": {"prediction": "p"}},
              "slices": [["group"]],
              "thresholds": [{"metric": "accuracy", "min": 0.8, "max_regression": 0.0}]}
    props = _run_executor(inputs, outputs, config, beam_args=["--direct_num_workers=1"],
                          example_splits=json.dumps(["train", "eval"]))
    # Beam options reach assay through TFX's BaseBeamExecutor.
    assert "--direct_num_workers=1" in seen["beam_pipeline_args"]
    examples = inputs["examples"][0].uri
    assert seen["examples"] == [os.path.join(examples, "Split-train"),
                                os.path.join(examples, "Split-eval")]
    blessing = outputs["blessing"][0].uri
    assert sorted(os.listdir(blessing)) == ["BLESSED"]
    assert os.path.getsize(os.path.join(blessing, "BLESSED")) == 0
    assert props["blessed"] == 1
    assert props["current_model"] == inputs["model"][0].uri
    assert props["current_model_id"] == 7
    assert props["baseline_model"] == inputs["baseline_model"][0].uri
    assert props["baseline_model_id"] == 3
    assert props["assay_outcome"] == "BLESSED"
    assert json.loads(props["assay_reasons"])[0].startswith("all ")
    result = assay.load_result(outputs["evaluation"][0].uri)
    # Both splits are read as one input: the rows above, twice.
    assert result.metrics()["example_count"] == 12
    assert result.metrics({"group": "a"})["example_count"] == 6
    assert result.metrics()["accuracy"] == pytest.approx(10 / 12)
    assert result.validation["blessed"] is True


def test_executor_not_blessed_then_forced(column_artifacts):
    inputs, outputs = column_artifacts
    config = {"label": "label", "models": {"candidate": {"prediction": "q"}},
              "thresholds": [{"metric": "accuracy", "min": 0.8}]}
    del inputs["baseline_model"]
    props = _run_executor(inputs, outputs, config)
    blessing = outputs["blessing"][0].uri
    assert sorted(os.listdir(blessing)) == ["NOT_BLESSED"]
    assert props["blessed"] == 0
    assert "baseline_model_id" not in props and "baseline_model" not in props
    assert json.loads(props["assay_reasons"]) == ["accuracy is 0.3333, below the minimum 0.8"]

    outputs["blessing"] = [_artifact(standard_artifacts.ModelBlessing, blessing + "-forced")]
    props = _run_executor(inputs, outputs, config, force_bless="INC-7: known label shift")
    assert sorted(os.listdir(outputs["blessing"][0].uri)) == ["BLESSED"]
    assert props["blessed"] == 1
    assert props["assay_forced"] == "INC-7: known label shift"
    assert props["assay_outcome"] == "FORCED_BLESSED"


def test_executor_with_a_tfma_eval_config_and_no_model(column_artifacts):
    inputs, outputs = column_artifacts
    del inputs["model"], inputs["baseline_model"]
    eval_config = {"model_specs": [{"label_key": "label", "prediction_key": "p"}],
                   "slicing_specs": [{}, {"feature_keys": ["group"]}],
                   "metrics_specs": [{"metrics": [{"class_name": "BinaryAccuracy", "threshold": {
                       "value_threshold": {"lower_bound": 0.6}}}]}]}
    props = _run_executor(inputs, outputs, None, eval_config=json.dumps(eval_config))
    # TFMA checks a metric threshold on every slice: overall, group=a and group=b.
    assert props["blessed"] == 1 and "current_model" not in props
    result = assay.load_result(outputs["evaluation"][0].uri)
    assert [(c["slice"], c["status"]) for c in result.validation["checks"]] == [
        ({}, "pass"), ({"group": "a"}, "pass"), ({"group": "b"}, "pass")]


def test_model_channels_come_first_then_keywords_only():
    with pytest.raises(TypeError):
        Evaluator(EXAMPLES, MODEL, None, COLUMN_CONFIG)


def test_executor_names_a_missing_split(column_artifacts):
    inputs, outputs = column_artifacts
    with pytest.raises(DataError, match=r"has no split 'test' \(its splits: train, eval\)"):
        _run_executor(inputs, outputs, COLUMN_CONFIG, example_splits=json.dumps(["test"]))


# ------------------------------------------------------------------------------------------
# The penguin pipeline, run twice


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    work_dir = str(tmp_path_factory.mktemp("penguins"))
    penguin_tfx.run(work_dir, train_steps=100)
    penguin_tfx.run(work_dir, degrade=True)
    return work_dir


class Metadata:
    """The pipeline's ML Metadata, read back: executions per component, their artifacts."""

    def __init__(self, work_dir):
        import ml_metadata as mlmd
        from ml_metadata.proto import metadata_store_pb2

        config = metadata_store_pb2.ConnectionConfig()
        config.sqlite.filename_uri = os.path.join(work_dir, "metadata.sqlite")
        config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
        self.store = mlmd.MetadataStore(config)
        types = {t.id: t.name for t in self.store.get_execution_types()}
        self.executions = collections.defaultdict(list)
        for e in sorted(self.store.get_executions(), key=lambda e: e.id):
            self.executions[types[e.type_id].rsplit(".", 1)[-1]].append(e)

    def io(self, execution):
        """{(INPUT|OUTPUT, channel key): [artifact]}."""
        from ml_metadata.proto import metadata_store_pb2

        events = self.store.get_events_by_execution_ids([execution.id])
        artifacts = {a.id: a for a in self.store.get_artifacts_by_id(
            [e.artifact_id for e in events])}
        out = collections.defaultdict(list)
        for e in events:
            kind = "INPUT" if e.type == metadata_store_pb2.Event.INPUT else "OUTPUT"
            out[(kind, e.path.steps[0].key)].append(artifacts[e.artifact_id])
        return out

    def component_io(self, component):
        return [self.io(e) for e in self.executions[component]]


def props(artifact):
    return {k: (v.int_value if v.HasField("int_value") else v.string_value)
            for k, v in artifact.custom_properties.items()}


def test_every_component_ran_twice_and_completed(two_runs):
    md = Metadata(two_runs)
    for component in ("CsvExampleGen", "Trainer", "Resolver", "Evaluator", "Pusher"):
        runs = md.executions[component]
        assert len(runs) == 2, component
        assert all(e.last_known_state == e.COMPLETE for e in runs), component


def test_blessing_properties_and_marker_files(two_runs):
    md = Metadata(two_runs)
    models = [io[("OUTPUT", "model")][0] for io in md.component_io("Trainer")]
    evaluations = md.component_io("Evaluator")
    first, second = (props(io[("OUTPUT", "blessing")][0]) for io in evaluations)
    assert first["blessed"] == 1 and second["blessed"] == 0
    assert first["current_model_id"] == models[0].id
    assert first["current_model"] == models[0].uri
    assert "baseline_model_id" not in first and "baseline_model" not in first
    assert second["current_model_id"] == models[1].id
    assert second["baseline_model_id"] == models[0].id
    assert second["baseline_model"] == models[0].uri
    assert first["assay_outcome"] == "BLESSED"
    assert second["assay_outcome"] == "NOT_BLESSED"
    reasons = json.loads(second["assay_reasons"])
    assert any(r.startswith("accuracy is ") and "below the minimum 0.85" in r for r in reasons)
    assert any(r.startswith("accuracy fell by ") for r in reasons)
    for io, marker in zip(evaluations, ("BLESSED", "NOT_BLESSED")):
        blessing = io[("OUTPUT", "blessing")][0].uri
        assert sorted(os.listdir(blessing)) == [marker]
        evaluation = io[("OUTPUT", "evaluation")][0].uri
        assert os.listdir(os.path.join(evaluation, "blessing")) == [marker]
        with open(os.path.join(evaluation, "validation.json")) as f:
            assert json.load(f)["outcome"] == marker


def test_second_run_resolved_the_first_model_as_baseline(two_runs):
    md = Metadata(two_runs)
    models = [io[("OUTPUT", "model")][0] for io in md.component_io("Trainer")]
    first, second = md.component_io("Evaluator")
    assert ("INPUT", "baseline_model") not in first
    assert [a.id for a in second[("INPUT", "baseline_model")]] == [models[0].id]
    assert [a.id for a in second[("INPUT", "model")]] == [models[1].id]
    # The evaluation ran the artifacts: the config it recorded names their URIs.
    with open(os.path.join(second[("OUTPUT", "evaluation")][0].uri, "config.json")) as f:
        recorded = json.load(f)["models"]
    assert recorded["candidate"]["path"] == models[1].uri
    assert recorded["baseline"]["path"] == models[0].uri
    assert recorded["candidate"]["output"] == "probabilities"


def test_pusher_pushed_exactly_once(two_runs):
    md = Metadata(two_runs)
    models = [io[("OUTPUT", "model")][0] for io in md.component_io("Trainer")]
    pushed = [props(io[("OUTPUT", "pushed_model")][0]) for io in md.component_io("Pusher")]
    assert [p["pushed"] for p in pushed] == [1, 0]
    serving = os.path.join(two_runs, "serving")
    assert os.listdir(serving) == [pushed[0]["pushed_version"]]
    destination = pushed[0]["pushed_destination"]
    assert os.path.dirname(destination) == serving
    assert os.path.exists(os.path.join(destination, "saved_model.pb"))
    with open(os.path.join(models[0].uri, "Format-Serving", "saved_model.pb"), "rb") as a, \
            open(os.path.join(destination, "saved_model.pb"), "rb") as b:
        assert a.read() == b.read()   # the first, blessed model is the one pushed


def _split_counts(examples_uri, split):
    """{(feature, value): count} of species and island in one split, read with tf.data."""
    import tensorflow as tf

    files = tf.io.gfile.glob(os.path.join(examples_uri, f"Split-{split}", "*"))
    counts = collections.Counter()
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        example = tf.train.Example.FromString(record.numpy())
        for feature in ("species", "island"):
            value = example.features.feature[feature].bytes_list.value[0].decode()
            counts[(feature, value)] += 1
    return counts


def test_evaluation_metrics_per_slice_match_the_data(two_runs):
    md = Metadata(two_runs)
    for gen, evaluation in zip(md.component_io("CsvExampleGen"), md.component_io("Evaluator")):
        examples = gen[("OUTPUT", "examples")][0].uri
        eval_counts = _split_counts(examples, "eval")
        # The splits together are the CSV, row for row.
        with open(os.path.join(two_runs, "data", "penguins.csv")) as f:
            rows = list(csv.DictReader(f))
        total = eval_counts + _split_counts(examples, "train")
        assert total == collections.Counter(
            [(k, r[k]) for r in rows for k in ("species", "island")])
        assert total[("species", "Adelie")] == 146 and len(rows) == 333

        result = assay.load_result(evaluation[("OUTPUT", "evaluation")][0].uri)
        assert result.metrics()["example_count"] == sum(
            n for (k, _), n in eval_counts.items() if k == "species")
        for (feature, value), n in eval_counts.items():
            assert result.metrics({feature: value})["example_count"] == n, (feature, value)
        # Slicing by the label: accuracy on species=X is the share of X predicted as X.
        assert 0 <= result.metrics({"species": "Gentoo"})["accuracy"] <= 1
    first = assay.load_result(md.component_io("Evaluator")[0][("OUTPUT", "evaluation")][0].uri)
    second = assay.load_result(md.component_io("Evaluator")[1][("OUTPUT", "evaluation")][0].uri)
    assert first.metrics()["accuracy"] >= 0.85 > second.metrics()["accuracy"]
    # The second evaluation holds the baseline (the first model) and the difference.
    assert second.metrics(model="baseline")["accuracy"] == pytest.approx(
        first.metrics()["accuracy"])
    assert second.metrics(model="diff")["accuracy"] == pytest.approx(
        second.metrics()["accuracy"] - first.metrics()["accuracy"])


# ------------------------------------------------------------------------------------------
# TFX Evaluator parameters assay's config has no field for


def test_feature_slicing_spec_becomes_the_slices_with_the_overall_one():
    from tfx.proto import evaluator_pb2

    spec = evaluator_pb2.FeatureSlicingSpec(specs=[
        evaluator_pb2.SingleSlicingSpec(column_for_slicing=["island"]),
        evaluator_pb2.SingleSlicingSpec(column_for_slicing=["island", "sex"]),
        evaluator_pb2.SingleSlicingSpec(column_for_slicing=["island"])])
    evaluator = Evaluator(examples=EXAMPLES, config=COLUMN_CONFIG, feature_slicing_spec=spec)
    config = json.loads(evaluator.exec_properties["config"])
    # TFX's executor (_get_slice_spec_from_feature_slicing_spec) always adds the overall slice.
    assert config["slices"] == [["island"], ["island", "sex"], []]
    assert {k: v for k, v in config.items() if k != "slices"} == COLUMN_CONFIG
    assert {s.features for s in EvalConfig.from_dict(config).slices} == {
        (), ("island",), ("island", "sex")}
    # The JSON form, as TFX stores it in an execution property, gives the same.
    from google.protobuf import json_format

    again = Evaluator(examples=EXAMPLES, config=COLUMN_CONFIG,
                      feature_slicing_spec=json_format.MessageToJson(
                          spec, preserving_proto_field_name=True))
    assert json.loads(again.exec_properties["config"])["slices"] == config["slices"]


def test_feature_slicing_spec_slices_are_evaluated(tmp_path):
    """The translated slices run: each slice's accuracy is that of its rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = {"label": [1, 0, 1, 1, 0, 0], "p": [0.9, 0.2, 0.4, 0.8, 0.7, 0.1],
            "island": ["a", "a", "a", "b", "b", "b"]}
    data = tmp_path / "data.parquet"
    pq.write_table(pa.table(rows), str(data))
    evaluator = Evaluator(examples=EXAMPLES, config=COLUMN_CONFIG,
                          feature_slicing_spec={"specs": [{"column_for_slicing": ["island"]}]})
    result = assay.api.evaluate(json.loads(evaluator.exec_properties["config"]), str(data),
                                str(tmp_path / "out"))
    assert result.metrics({"island": "a"})["accuracy"] == pytest.approx(2 / 3)
    assert result.metrics({"island": "b"})["accuracy"] == pytest.approx(2 / 3)
    assert result.metrics()["example_count"] == 6


def test_preprocessing_function_names_are_accepted_when_defined():
    """TFX's penguin and taxi examples read their label through the Transform graph: the
    eval_config translates (once per model, the baseline copying the candidate's spec)."""
    import tensorflow_model_analysis as tfma

    eval_config = tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name="serving_default", label_key="species_xf",
                                    preprocessing_function_names=["transform_features"])],
        metrics_specs=[tfma.MetricsSpec(metrics=[tfma.MetricConfig(
            class_name="SparseCategoricalAccuracy")])])
    Evaluator(examples=EXAMPLES, model=MODEL, baseline_model=channel.Channel(
        type=standard_artifacts.Model), eval_config=eval_config)
    resolved = component_lib.executor.resolve_config(
        None, json.dumps(json.loads(json_format_dumps(eval_config))), "/m/2", "/m/1")
    for name in ("candidate", "baseline"):
        assert resolved["models"][name]["preprocessing"] == ["transform_features"]
        assert resolved["models"][name]["outputs"] == "scores"
    assert resolved["models"]["baseline"]["path"] == "/m/1"


def json_format_dumps(message):
    from google.protobuf import json_format

    return json_format.MessageToJson(message, preserving_proto_field_name=True)
