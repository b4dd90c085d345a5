"""TFX's own example pipelines, as shipped in the tfx wheel, with TFX's Evaluator and assay's.

Each example's pipeline is built by its own function (`_create_pipeline` of
chicago_taxi_pipeline/taxi_pipeline_native_keras.py, `create_pipeline` of
penguin/penguin_pipeline_local.py, with their module files taxi_utils_native_keras.py and
penguin_utils_keras.py), so its components, Trainer module and `tfma.EvalConfig` are TFX's,
unchanged. One component is added: `assay.tfx.Evaluator` with id `AssayEvaluator`, fed by the
very channels TFX's Evaluator reads (ExampleGen's examples, the Trainer's model, the
LatestBlessedModel resolver's baseline) and given the `eval_config` object taken from TFX's
Evaluator. The pipeline then runs once with LocalDagRunner and a SQLite ML Metadata store, and
the tests compare the two evaluations: the verdicts (the blessing each wrote in ML Metadata and
on disk, and which thresholds fail) and every metric value of every slice (TFMA's through
`tfma.load_eval_result`, assay's through `assay.load_result`).

What differs from the examples as shipped, and why (nothing that either evaluator sees):
  - data: the taxi pipeline reads the first TAXI_ROWS rows of the wheel's data/simple/data.csv
    (a copy; the whole file takes minutes through Transform); the penguin data is not in the
    wheel, so `penguin_csv` writes PENGUIN_ROWS rows in its schema (species 0..2 and four
    features scaled to [0, 1], like the example's penguins_processed.csv) with a fixed seed.
  - beam_pipeline_args (an argument of both): the in-memory DirectRunner with one worker, not
    the examples' multi_processing runner, which starts a process per core.
  - penguin's create_pipeline options: no tuning, bulk inference, example diff or Transform
    cache (arguments the example turns on in its __main__; they add components the Evaluator
    does not read); accuracy_threshold (its __main__ passes 0.6) is 0.99, which the model
    fails, so one example is blessed and the other not, and both verdicts are compared.

The examples' eval_configs: one model spec (signature serving_default, label `tips_xf` /
`species_xf` produced by the model's `transform_features` signature), the overall slice only,
and one metric with a value threshold (taxi BinaryAccuracy >= 0.6, penguin
SparseCategoricalAccuracy >= accuracy_threshold) and a change threshold (absolute -1e-10,
higher is better) that TFX ignores on a first run, with no blessed baseline yet.

Tolerances (`_tolerance`): the metrics compared are counts and ratios of counts on the same
predictions. example_count must be equal. Accuracies agree to EXACT_TOLERANCE = 1e-6: TFMA's
binary_accuracy is computed in float64 (equal to the last bit here), while
sparse_categorical_accuracy is a Keras metric that TFMA reads back as float32 (0.92 is written
as 0.9200000166893005, an error below 6e-8). A metric with no declared tolerance fails the
test, naming it.
"""

from __future__ import annotations

import collections
import csv
import itertools
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # the examples' models are tf.keras (Keras 2)

import numpy as np  # noqa: E402
import pytest  # noqa: E402

TAXI_ROWS = 2000
PENGUIN_ROWS = 300
PENGUIN_ACCURACY_THRESHOLD = 0.99
BEAM_ARGS = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
TFX_EVALUATOR = "Evaluator"          # the examples' own component id
ASSAY_EVALUATOR = "AssayEvaluator"
EXACT_TOLERANCE = 1e-6


def _examples_dir():
    import tfx.examples

    return os.path.dirname(tfx.examples.__file__)


# ------------------------------------------------------------------------------------------
# Data


def taxi_data(directory, rows=TAXI_ROWS):
    """Copies the header and the first `rows` rows of the wheel's taxi data.csv into directory."""
    source = os.path.join(_examples_dir(), "chicago_taxi_pipeline", "data", "simple",
                          "data.csv")
    os.makedirs(directory, exist_ok=True)
    with open(source, newline="") as f, open(os.path.join(directory, "data.csv"), "w",
                                             newline="") as out:
        for line in itertools.islice(f, rows + 1):
            out.write(line)
    return directory


PENGUIN_FEATURES = ["culmen_length_mm", "culmen_depth_mm", "flipper_length_mm", "body_mass_g"]


def penguin_csv(directory, rows=PENGUIN_ROWS, seed=0):
    """Writes directory/penguins_processed.csv in the penguin example's schema.

    Columns: species (int 0..2) then the four features (floats in [0, 1], as the example's
    penguins_processed.csv scales them). Each species is a Gaussian cloud around its own centre,
    overlapping enough that the example's model is good but not perfect.
    """
    rng = np.random.default_rng(seed)
    centres = np.array([[0.25, 0.65, 0.25, 0.3], [0.6, 0.6, 0.35, 0.3], [0.55, 0.25, 0.7, 0.7]])
    species = rng.integers(0, 3, size=rows)
    features = np.clip(centres[species] + rng.normal(0, 0.12, size=(rows, 4)), 0.0, 1.0)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "penguins_processed.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["species"] + PENGUIN_FEATURES)
        for label, row in zip(species, features):
            writer.writerow([int(label)] + [f"{v:.6f}" for v in row])
    return directory


# ------------------------------------------------------------------------------------------
# The pipelines: the example's own, plus assay's Evaluator


def taxi_pipeline(work_dir):
    """The chicago taxi example's pipeline (taxi_pipeline_native_keras._create_pipeline)."""
    from tfx.examples.chicago_taxi_pipeline import taxi_pipeline_native_keras as example

    return example._create_pipeline(
        pipeline_name="chicago_taxi_native_keras",
        pipeline_root=os.path.join(work_dir, "pipeline_root"),
        data_root=taxi_data(os.path.join(work_dir, "data")),
        module_file=os.path.join(_examples_dir(), "chicago_taxi_pipeline",
                                 "taxi_utils_native_keras.py"),
        serving_model_dir=os.path.join(work_dir, "serving"),
        metadata_path=os.path.join(work_dir, "metadata.sqlite"),
        beam_pipeline_args=BEAM_ARGS)


def penguin_pipeline(work_dir):
    """The penguin example's pipeline (penguin_pipeline_local.create_pipeline), Keras model."""
    from tfx.examples.penguin import penguin_pipeline_local as example

    data_root = os.path.join(work_dir, "data")
    penguin_csv(os.path.join(data_root, "labelled"))
    return example.create_pipeline(
        pipeline_name="penguin_local_keras",
        pipeline_root=os.path.join(work_dir, "pipeline_root"),
        data_root=data_root,
        module_file=os.path.join(_examples_dir(), "penguin", "penguin_utils_keras.py"),
        accuracy_threshold=PENGUIN_ACCURACY_THRESHOLD,
        serving_model_dir=os.path.join(work_dir, "serving"),
        metadata_path=os.path.join(work_dir, "metadata.sqlite"),
        user_provided_schema_path=None,
        enable_tuning=False,
        enable_bulk_inferrer=False,
        enable_example_diff=False,
        examplegen_input_config=None,
        examplegen_range_config_date=None,
        resolver_range_config=None,
        beam_pipeline_args=BEAM_ARGS,
        enable_transform_input_cache=False)


def _component(pipeline, component_id):
    found = [c for c in pipeline.components if c.id == component_id]
    assert len(found) == 1, (component_id, [c.id for c in pipeline.components])
    return found[0]


def with_assay_evaluator(example_pipeline):
    """The example's pipeline with assay's Evaluator added, reading what TFX's Evaluator reads.

    `AssayEvaluator` is added beside `Evaluator` with the same input channels and the same
    eval_config; it is defined in the pipeline's own DSL registry (where the example's
    components and the penguin Pusher's Cond live), as if written in the example.
    """
    from tfx.dsl.context_managers import dsl_context_registry

    from assay.tfx import Evaluator

    tfx_evaluator = _component(example_pipeline, TFX_EVALUATOR)
    with dsl_context_registry.use_registry(example_pipeline.dsl_context_registry):
        assay_evaluator = Evaluator(
            examples=tfx_evaluator.inputs["examples"],
            model=tfx_evaluator.inputs["model"],
            baseline_model=tfx_evaluator.inputs["baseline_model"],
            eval_config=tfx_evaluator.exec_properties["eval_config"]).with_id(ASSAY_EVALUATOR)
    example_pipeline.components = list(example_pipeline.components) + [assay_evaluator]
    return example_pipeline


# ------------------------------------------------------------------------------------------
# Reading the run back from ML Metadata


class Run:
    """One pipeline run, read back from its ML Metadata: each node's output artifacts."""

    def __init__(self, name, pipeline, work_dir):
        import ml_metadata as mlmd
        from ml_metadata.proto import metadata_store_pb2

        self.name, self.pipeline, self.work_dir = name, pipeline, work_dir
        config = metadata_store_pb2.ConnectionConfig()
        config.sqlite.filename_uri = os.path.join(work_dir, "metadata.sqlite")
        config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
        self.store = mlmd.MetadataStore(config)

    def artifacts(self, node_id, kind):
        """{channel key: [artifact]} of the node's one execution (kind: "INPUT" or "OUTPUT"),
        which must have completed."""
        from ml_metadata.proto import metadata_store_pb2

        pipeline_name = self.pipeline.pipeline_info.pipeline_name
        context = self.store.get_context_by_type_and_name("node", f"{pipeline_name}.{node_id}")
        assert context is not None, f"{node_id} never ran"
        executions = self.store.get_executions_by_context(context.id)
        assert [e.last_known_state for e in executions] == [
            metadata_store_pb2.Execution.COMPLETE], (node_id, executions)
        event_type = getattr(metadata_store_pb2.Event, kind)
        events = [e for e in self.store.get_events_by_execution_ids([executions[0].id])
                  if e.type == event_type]
        artifacts = {a.id: a for a in self.store.get_artifacts_by_id(
            [e.artifact_id for e in events])}
        out = collections.defaultdict(list)
        for e in events:
            out[e.path.steps[0].key].append(artifacts[e.artifact_id])
        return out

    def outputs(self, node_id):
        return self.artifacts(node_id, "OUTPUT")

    def uri(self, node_id, key):
        (artifact,) = self.outputs(node_id)[key]
        return artifact.uri

    def blessing(self, node_id):
        """(int custom property `blessed` or None when unset, marker files at the URI)."""
        (artifact,) = self.outputs(node_id)["blessing"]
        blessed = artifact.custom_properties.get("blessed")
        return (None if blessed is None else blessed.int_value,
                sorted(os.listdir(artifact.uri)))


# Whether TFX's Evaluator blesses each example's model: the taxi model passes its
# BinaryAccuracy >= 0.6; the penguin pipeline is built with accuracy_threshold 0.99, which its
# model fails on overlapping classes. Both outcomes are thus compared.
TFX_BLESSES = {"taxi": True, "penguin": False}


@pytest.fixture(scope="module", params=["taxi", "penguin"])
def run(request, tmp_path_factory):
    """Each example's pipeline, run once (module scope: all of one example's tests, then the
    other's)."""
    import subprocess
    import sys

    build = {"taxi": taxi_pipeline, "penguin": penguin_pipeline}[request.param]
    work_dir = str(tmp_path_factory.mktemp(request.param))
    # The pipeline runs in a process of its own: the examples' Trainer modules build tf.keras
    # (Keras 2) models, which needs TF_USE_LEGACY_KERAS set before TensorFlow is first imported,
    # and earlier tests in this worker may have imported it already.
    script = (f"import sys; sys.path.insert(0, {os.path.dirname(__file__)!r})\n"
              f"import test_tfx_examples as t\n"
              f"from tfx.orchestration.local.local_dag_runner import LocalDagRunner\n"
              f"LocalDagRunner().run(t.with_assay_evaluator(t.{build.__name__}({work_dir!r})))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=dict(os.environ, TF_USE_LEGACY_KERAS="1"), timeout=1200)
    assert proc.returncode == 0, proc.stderr[-6000:]
    # The same pipeline, defined again here (nothing runs): its names find the run in MLMD.
    return Run(request.param, with_assay_evaluator(build(work_dir)), work_dir)


# ------------------------------------------------------------------------------------------
# Reading both evaluations


def _eval_config(run, node_id=TFX_EVALUATOR):
    """The tfma.EvalConfig the node was given."""
    import tensorflow_model_analysis as tfma
    from google.protobuf import json_format

    stored = _component(run.pipeline, node_id).exec_properties["eval_config"]
    return json_format.Parse(stored, tfma.EvalConfig())


def _tfma_slice(slice_key):
    """TFMA's slice key (a tuple of (feature, value) pairs) as assay's slice dict."""
    return {feature: value for feature, value in slice_key}


def tfma_metrics(uri):
    """{(slice key, output name, sub key, metric name): value} read by tfma.load_eval_result;
    a value is TFMA's dict form ({"doubleValue": x}, {"confusionMatrixAtThresholds": ...})."""
    import tensorflow_model_analysis as tfma

    values = {}
    for slice_key, outputs in tfma.load_eval_result(uri).slicing_metrics:
        for output, sub_keys in outputs.items():
            for sub_key, metrics in sub_keys.items():
                for name, value in metrics.items():
                    values[(slice_key, output, sub_key, name)] = value
    return values


def tfma_doubles(uri):
    """tfma_metrics(uri) as floats; every metric must be a plain double."""
    values = tfma_metrics(uri)
    for key, value in values.items():
        assert set(value) == {"doubleValue"}, (key, value)
    return {key: value["doubleValue"] for key, value in values.items()}


def metric_names(eval_config):
    """{TFMA's metric name: assay's metric name} for every metric the eval_config configures.

    TFMA's name is the one TFMA's own metric_specs gives the configured metric; assay's is the
    one its translation table gives the metric's class.
    """
    from tensorflow_model_analysis.metrics import metric_specs

    from assay.config.tfma_metrics import METRIC_NAMES

    names = {"example_count": "example_count"}   # TFMA's name for assay's example_count
    for key, config, _ in metric_specs.keys_and_metrics_from_specs(
            eval_config, eval_config.metrics_specs):
        names[key.name] = METRIC_NAMES[config.class_name]
    return names


def _tolerance(tfma_name):
    """How close assay's value must be to TFMA's (see the module docstring)."""
    if tfma_name in ("example_count", "weighted_example_count"):
        return 0.0
    if tfma_name in ("binary_accuracy", "sparse_categorical_accuracy", "accuracy",
                     "categorical_accuracy"):
        return EXACT_TOLERANCE
    raise AssertionError(f"no tolerance is declared for TFMA metric {tfma_name!r}")


def tfma_failures(uri):
    """{(slice, TFMA metric name, bound): (value, threshold)} of the failed thresholds that
    tfma.load_validation_result reads from an evaluation."""
    import tensorflow_model_analysis as tfma

    validation = tfma.load_validation_result(uri)
    failures = {}
    for per_slice in validation.metric_validations_per_slice:
        slice_key = tuple(sorted(
            (sk.column, getattr(sk, sk.WhichOneof("kind")))
            for sk in per_slice.slice_key.single_slice_keys))
        for failure in per_slice.failures:
            threshold = failure.metric_threshold
            if threshold.HasField("value_threshold"):
                bounds = threshold.value_threshold
                lower = bounds.lower_bound.value if bounds.HasField("lower_bound") else None
                upper = bounds.upper_bound.value if bounds.HasField("upper_bound") else None
                value = failure.metric_value.double_value.value
                bound, limit = (("min", lower) if lower is not None and value < lower
                                else ("max", upper))
            else:
                bound, limit = "max_regression", None
            failures[(slice_key, failure.metric_key.name, bound)] = (
                failure.metric_value.double_value.value, limit)
    return validation.validation_ok, failures


# ------------------------------------------------------------------------------------------
# The comparisons


def test_both_evaluators_read_the_same_artifacts_and_eval_config(run):
    ours, theirs = (run.artifacts(node, "INPUT") for node in (ASSAY_EVALUATOR, TFX_EVALUATOR))
    for key in ("examples", "model"):
        assert [a.id for a in ours[key]] == [a.id for a in theirs[key]], key
        assert len(theirs[key]) == 1, key
    # One run: the resolver found no blessed model, so neither had a baseline.
    assert not ours.get("baseline_model") and not theirs.get("baseline_model")
    # TFX stores the proto's JSON, assay its sorted JSON: the same EvalConfig.
    assert _eval_config(run, ASSAY_EVALUATOR) == _eval_config(run)
    # The examples' eval_configs as shipped: the label comes through the Transform graph.
    (spec,) = _eval_config(run).model_specs
    assert list(spec.preprocessing_function_names) == ["transform_features"]


def test_the_verdicts_agree(run):
    tfx_blessed, tfx_markers = run.blessing(TFX_EVALUATOR)
    assay_blessed, assay_markers = run.blessing(ASSAY_EVALUATOR)
    assert tfx_blessed == int(TFX_BLESSES[run.name])
    assert tfx_markers == ["BLESSED" if TFX_BLESSES[run.name] else "NOT_BLESSED"]
    assert (assay_blessed, assay_markers) == (tfx_blessed, tfx_markers)
    import assay

    result = assay.load_result(run.uri(ASSAY_EVALUATOR, "evaluation"))
    assert result.blessed is TFX_BLESSES[run.name]


def test_the_same_thresholds_fail(run):
    import assay

    names = metric_names(_eval_config(run))
    ok, failures = tfma_failures(run.uri(TFX_EVALUATOR, "evaluation"))
    assert ok is TFX_BLESSES[run.name]
    validation = assay.load_result(run.uri(ASSAY_EVALUATOR, "evaluation")).validation
    ours = {}
    for check in validation["checks"]:
        if check["status"] == "fail":
            kind = check["kind"].replace("_absolute", "").replace("_relative", "")
            ours[(tuple(sorted(check["slice"].items())), check["metric"], kind)] = (
                check["candidate"], check["threshold"])
    theirs = {(slice_key, names[name], bound): limits
              for (slice_key, name, bound), limits in failures.items()}
    assert set(ours) == set(theirs)
    for key, (value, limit) in theirs.items():
        assert ours[key][0] == pytest.approx(value, abs=_tolerance(key[1]) or 1e-12), key
        assert ours[key][1] == pytest.approx(limit), key


def test_every_metric_of_every_slice_agrees(run):
    import assay

    names = metric_names(_eval_config(run))
    theirs = tfma_doubles(run.uri(TFX_EVALUATOR, "evaluation"))
    assert theirs, "TFX's Evaluator wrote no metrics"
    result = assay.load_result(run.uri(ASSAY_EVALUATOR, "evaluation"))
    assert sorted(map(str, result.slices())) == sorted(
        {str(_tfma_slice(k[0])) for k in theirs})
    for (slice_key, output, sub_key, name), value in theirs.items():
        # The examples' models have one output and no class sub-keys.
        assert (output, sub_key) == ("", ""), (slice_key, output, sub_key, name)
        ours = result.metrics(_tfma_slice(slice_key))[names[name]]
        assert ours == pytest.approx(value, abs=_tolerance(name) or 1e-12), (slice_key, name)


def test_tfma_reads_the_assay_evaluation_as_the_tfx_one(run):
    import tensorflow_model_analysis as tfma

    theirs = tfma_doubles(run.uri(TFX_EVALUATOR, "evaluation"))
    ours = tfma_metrics(run.uri(ASSAY_EVALUATOR, "evaluation"))
    missing = set(theirs) - set(ours)
    assert not missing, f"TFMA metrics assay did not write: {sorted(missing)}"
    for key, value in theirs.items():
        assert ours[key]["doubleValue"] == pytest.approx(
            value, abs=_tolerance(key[3]) or 1e-12), key
    assert tfma_failures(run.uri(ASSAY_EVALUATOR, "evaluation"))[1].keys() == tfma_failures(
        run.uri(TFX_EVALUATOR, "evaluation"))[1].keys()
    assert tfma.load_validation_result(
        run.uri(ASSAY_EVALUATOR, "evaluation")).validation_ok is TFX_BLESSES[run.name]


def _eval_split_size(run):
    """Records in the Examples artifact's eval split, counted with tf.data."""
    import tensorflow as tf

    (examples,) = run.outputs("CsvExampleGen")["examples"]
    files = tf.io.gfile.glob(os.path.join(examples.uri, "Split-eval", "*"))
    return sum(1 for _ in tf.data.TFRecordDataset(files, compression_type="GZIP"))


def test_assay_counted_every_eval_example(run):
    import assay

    result = assay.load_result(run.uri(ASSAY_EVALUATOR, "evaluation"))
    assert result.metrics({})["example_count"] == _eval_split_size(run)
