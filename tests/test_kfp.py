"""The KFP component, its container entrypoint, and the example KFP pipeline.

No Docker engine runs here, so the entrypoint runs as a process exactly as the image runs it:
the component's command and args, with KFP's executor input in place of `{{$}}` and the KFP SDK
made unimportable (the image must not need it).
"""

import json
import math
import os
import subprocess
import sys
import textwrap

import pytest
import yaml
from google.protobuf import json_format

from assay import kfp as assay_kfp
from assay.errors import EXIT_BUG, EXIT_USAGE, ConfigError, ConfigTypeError
from assay.kfp import executor
from model_fixtures import make_sklearn_model, make_tabular_data, write_csv

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "pipelines"))

CONFIG = """
label: label
slices: [[], [payment]]
min_slice_size: 20
thresholds:
  - {metric: auc, min: 0.6, max_regression: 0.01}
"""


# --------------------------------------------------------------------------------------------
# The component

def test_shipped_yaml_matches_the_factory(tmp_path):
    compiled = assay_kfp.write_component_yaml(str(tmp_path / "component.yaml"))
    with open(compiled) as fresh, open(assay_kfp.COMPONENT_YAML) as shipped:
        assert fresh.read() == shipped.read(), (
            "component/assay/kfp/component.yaml is stale: run python -m assay.kfp.component")
    loaded = assay_kfp.load_component()
    built = assay_kfp.evaluator_component()
    assert json_format.MessageToDict(loaded.pipeline_spec) == \
        json_format.MessageToDict(built.pipeline_spec)


def test_component_interface():
    spec = yaml.safe_load(open(assay_kfp.COMPONENT_YAML))
    comp = spec["components"]["comp-assay-evaluate"]
    inputs, outputs = comp["inputDefinitions"], comp["outputDefinitions"]
    artifact_inputs = {name: (d["artifactType"]["schemaTitle"], d.get("isOptional", False))
                       for name, d in inputs["artifacts"].items()}
    assert artifact_inputs == {"examples": ("system.Dataset", False),
                               "model": ("system.Model", True),
                               "baseline_model": ("system.Model", True),
                               "config_file": ("system.Artifact", True)}
    assert {n: d["parameterType"] for n, d in inputs["parameters"].items()} == {
        "config": "STRUCT", "label": "STRING", "task": "STRING", "slices": "LIST",
        "thresholds": "LIST", "beam_pipeline_args": "LIST", "allow_pickle": "BOOLEAN",
        "force_bless": "STRING", "allow_custom_code": "LIST", "fairness": "STRUCT"}
    # Every parameter has a default, so the KFP UI's form can leave any of them empty; the
    # executor fills in the same defaults for specs that do not send them.
    assert {n: d["defaultValue"] for n, d in inputs["parameters"].items()} == \
        executor.PARAMETER_DEFAULTS
    assert {n: d["artifactType"]["schemaTitle"] for n, d in outputs["artifacts"].items()} == {
        "evaluation": "system.Artifact", "metrics": "system.Metrics",
        "classification_metrics": "system.ClassificationMetrics",
        "sliced_classification_metrics": "system.SlicedClassificationMetrics",
        "report": "system.HTML", "blessing": "system.Artifact"}
    assert outputs["parameters"]["blessed"]["parameterType"] == "BOOLEAN"
    container = spec["deploymentSpec"]["executors"]["exec-assay-evaluate"]["container"]
    assert container == {"image": assay_kfp.DEFAULT_IMAGE,
                         "command": ["python", "/opt/assay/container/entrypoint.py", "kfp"],
                         "args": ["--executor-input", "{{$}}"]}


def test_factory_takes_the_image():
    component = assay_kfp.evaluator_component("registry.example.com/ml/assay:1.2")
    executors = json_format.MessageToDict(component.pipeline_spec.deployment_spec)["executors"]
    assert executors["exec-assay-evaluate"]["container"]["image"] == \
        "registry.example.com/ml/assay:1.2"
    with pytest.raises(ConfigError, match=r"'image' must be a non-empty string \(got ''\)"):
        assay_kfp.evaluator_component("")
    with pytest.raises(ConfigTypeError, match=r"'image' must be a non-empty string \(got 3, a int\)"):
        assay_kfp.evaluator_component(3)


def test_local_paths_follow_the_kfp_sdk():
    from kfp import dsl

    for uri in ("gs://b/p/eval", "minio://mlpipeline/v2/artifacts/x", "s3://b/k",
                "/tmp/local/uri"):
        assert executor.local_path(uri) == dsl.Artifact(uri=uri).path
    # oci:// (a KServe modelcar image): the SDK's Model.path and the Go launcher's
    # LocalPathForURI: '/' -> '_' under /oci/, the model files under /models.
    oci = "oci://registry.example.com/ml/candidate:1.0"
    assert executor.local_path(oci) == dsl.Model(uri=oci).path == \
        "/oci/registry.example.com_ml_candidate:1.0/models"


# --------------------------------------------------------------------------------------------
# The pipeline

def test_pipeline_compiles_with_the_condition_on_blessed(tmp_path):
    import kfp_pipeline

    path = kfp_pipeline.compile_pipeline(str(tmp_path / "pipeline.yaml"), "reg/assay:9")
    spec = yaml.safe_load(open(path))
    tasks = spec["root"]["dag"]["tasks"]
    assert set(tasks) == {"make-data", "train", "train-2", "assay-evaluate", "condition-1"}
    condition = tasks["condition-1"]
    assert condition["triggerPolicy"]["condition"] == \
        "inputs.parameter_values['pipelinechannel--assay-evaluate-blessed'] == true"
    assert condition["inputs"]["parameters"]["pipelinechannel--assay-evaluate-blessed"] == {
        "taskOutputParameter": {"outputParameterKey": "blessed", "producerTask": "assay-evaluate"}}
    inner = spec["components"]["comp-condition-1"]["dag"]["tasks"]
    assert list(inner) == ["push"]
    assert inner["push"]["inputs"]["artifacts"]["model"]["componentInputArtifact"] == \
        "pipelinechannel--train-2-model"
    assay_inputs = tasks["assay-evaluate"]["inputs"]["artifacts"]
    assert assay_inputs["examples"]["taskOutputArtifact"] == {
        "outputArtifactKey": "eval_data", "producerTask": "make-data"}
    assert assay_inputs["model"]["taskOutputArtifact"]["producerTask"] == "train-2"
    assert assay_inputs["baseline_model"]["taskOutputArtifact"]["producerTask"] == "train"
    images = {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()}
    assert images == {"reg/assay:9"}


def test_kfp_local_cannot_run_the_pipeline_here():
    """The documented reasons: kfp.local in kfp 2.13 cannot run this pipeline."""
    from kfp.local import dag_orchestrator, subprocess_task_handler
    from kfp.pipeline_spec import pipeline_spec_pb2

    # 1. dsl.If: kfp.local refuses any task with a trigger condition (supported from kfp 2.16,
    #    which needs protobuf 6, which TensorFlow 2.16 cannot take).
    task = pipeline_spec_pb2.PipelineTaskSpec()
    task.trigger_policy.condition = "inputs.parameter_values['x'] == true"
    with pytest.raises(NotImplementedError, match="'dsl.Condition' is not supported"):
        dag_orchestrator.validate_task_spec_not_loop_or_condition(task)
    # 2. Container components: SubprocessRunner runs only lightweight Python components, and
    #    DockerRunner needs a Docker engine, which does not run here.
    handler = subprocess_task_handler.SubprocessTaskHandler
    with pytest.raises(RuntimeError, match="only supports running Lightweight Python"):
        handler.validate_not_container_component(None, ["python", "entrypoint.py", "kfp"])
    # 3. kfp.local builds the executor input from every declared input artifact, so an
    #    optional one left unwired (config_file, and baseline_model in the pipeline's usual use)
    #    fails with a KeyError.
    from kfp import dsl
    from kfp.local import executor_input_utils

    spec = assay_kfp.load_component().pipeline_spec.components["comp-assay-evaluate"]
    with pytest.raises(KeyError, match="baseline_model|config_file"):
        executor_input_utils.construct_executor_input(
            spec, {"examples": dsl.Dataset(uri="/x"), "model": dsl.Model(uri="/m")}, "/tmp",
            block_input_artifact=False)


# --------------------------------------------------------------------------------------------
# The entrypoint, as the image runs it

@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Upstream artifacts: eval data (CSV), two Model directories, a config file artifact."""
    root = tmp_path_factory.mktemp("kfp-inputs")
    write_csv(make_tabular_data(1500, seed=11), root / "eval_data")
    for name, kind in (("candidate", "logistic"), ("baseline", "gbm")):
        os.makedirs(root / name)
        make_sklearn_model(root / name / "model.joblib", kind)   # as the pipeline's train step
    os.makedirs(root / "strict")
    (root / "strict" / "config.yaml").write_text(CONFIG.replace("min: 0.6", "min: 0.99"))
    return root


def _runtime_artifact(name, schema, uri):
    return {"artifacts": [{"name": name, "type": {"schemaTitle": schema,
                                                  "schemaVersion": "0.0.1"},
                           "uri": uri, "metadata": {}}]}


def hand_built_executor_input(task_root, artifacts, parameters):
    """The executor input as KFP's launcher sends it: every declared output (from the shipped
    component YAML) with a URI under the task root, parameter output files, the output file."""
    comp = yaml.safe_load(open(assay_kfp.COMPONENT_YAML))["components"]["comp-assay-evaluate"]
    outputs = comp["outputDefinitions"]
    return {
        "inputs": {"parameterValues": parameters,
                   "artifacts": {name: _runtime_artifact(name, schema, uri)
                                 for name, (schema, uri) in artifacts.items()}},
        "outputs": {
            "artifacts": {name: _runtime_artifact(name, d["artifactType"]["schemaTitle"],
                                                  f"{task_root}/{name}")
                          for name, d in outputs["artifacts"].items()},
            "parameters": {name: {"outputFile": f"{task_root}/parameters/{name}"}
                           for name in outputs["parameters"]},
            "outputFile": f"{task_root}/executor_output.json"}}


NO_KFP = textwrap.dedent("""
    import sys

    class NoKfp:
        def find_spec(self, name, path=None, target=None):
            if name == "kfp" or name.startswith("kfp."):
                raise ImportError(f"the assay image must not need the KFP SDK ({name})")

    sys.meta_path.insert(0, NoKfp())
""")


def start_entrypoint(executor_input, tmp_path):
    """Starts the component's command + args, as the image runs them, without the KFP SDK."""
    container = yaml.safe_load(open(assay_kfp.COMPONENT_YAML))["deploymentSpec"]["executors"][
        "exec-assay-evaluate"]["container"]
    argv = [a.replace("{{$}}", json.dumps(executor_input))
            for a in container["command"] + container["args"]]
    argv[0] = sys.executable                                       # the image's `python`
    argv[1] = argv[1].replace("/opt/assay/", ROOT + "/")           # the image's /opt/assay
    site = tmp_path / "no-kfp"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(NO_KFP)
    env = dict(os.environ, PYTHONPATH=str(site))
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=str(tmp_path))


def test_entrypoint_writes_what_kfp_expects(inputs, tmp_path):
    blessed_root, rejected_root = tmp_path / "blessed", tmp_path / "rejected"
    blessed_input = hand_built_executor_input(
        blessed_root,
        {"examples": ("system.Dataset", str(inputs / "eval_data")),
         "model": ("system.Model", str(inputs / "candidate"))},
        {"config": CONFIG, "beam_pipeline_args": [], "allow_pickle": True, "force_bless": ""})
    rejected_input = hand_built_executor_input(
        rejected_root,
        {"examples": ("system.Dataset", str(inputs / "eval_data")),
         "model": ("system.Model", str(inputs / "candidate")),
         "baseline_model": ("system.Model", str(inputs / "baseline")),
         "config_file": ("system.Artifact", str(inputs / "strict"))},
        {"config": "", "beam_pipeline_args": ["--direct_num_workers=1"], "allow_pickle": True,
         "force_bless": ""})
    procs = [start_entrypoint(blessed_input, tmp_path), start_entrypoint(rejected_input, tmp_path)]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
    assert "assay: BLESSED" in out or "assay: NOT_BLESSED" in out

    for root, blessed in ((blessed_root, True), (rejected_root, False)):
        check_outputs(root, blessed, inputs)

    # The rejected run compared against the baseline, and says why it failed.
    doc = json.loads((rejected_root / "executor_output.json").read_text())
    meta = doc["artifacts"]["blessing"]["artifacts"][0]["metadata"]
    assert meta["baseline_model"] == str(inputs / "baseline")
    assert any("below the minimum 0.99" in r for r in json.loads(meta["assay_reasons"]))


def check_outputs(root, blessed, inputs):
    from kfp.pipeline_spec import pipeline_spec_pb2

    text = (root / "executor_output.json").read_text()
    parsed = json_format.Parse(text, pipeline_spec_pb2.ExecutorOutput())   # KFP's own schema
    assert parsed.parameter_values["blessed"].bool_value is blessed
    assert (root / "parameters" / "blessed").read_text() == ("true" if blessed else "false")
    doc = json.loads(text)
    arts = {name: a["artifacts"][0] for name, a in doc["artifacts"].items()}
    assert set(arts) == {"evaluation", "metrics", "classification_metrics",
                         "sliced_classification_metrics", "report", "blessing"}
    for name, art in arts.items():
        assert art["uri"] == f"{root}/{name}" and art["name"] == name

    # The blessing: TFX's marker file and properties.
    marker = "BLESSED" if blessed else "NOT_BLESSED"
    assert os.listdir(root / "blessing") == [marker]
    assert arts["blessing"]["metadata"]["blessed"] == int(blessed)
    assert arts["blessing"]["metadata"]["current_model"] == str(inputs / "candidate")
    assert arts["blessing"]["metadata"]["assay_outcome"] == marker

    # The evaluation is the results directory, and the metrics are its overall candidate ones.
    metrics_doc = json.loads((root / "evaluation" / "assay_metrics.json").read_text())
    overall = next(r["metrics"] for r in metrics_doc["records"]
                   if r["slice"] == {} and r["model"] == "candidate")
    scalars = arts["metrics"]["metadata"]
    assert scalars == {k: pytest.approx(v) for k, v in overall.items() if math.isfinite(v)}
    assert scalars["example_count"] == 1500
    assert json.loads((root / "metrics").read_text()) == scalars
    assert arts["evaluation"]["metadata"]["blessed"] is blessed

    # ClassificationMetrics as KFP's SDK lays it out: ROC points and a confusion matrix.
    cls = arts["classification_metrics"]["metadata"]
    roc = cls["confidenceMetrics"]
    assert roc[0] == {"confidenceThreshold": 1.0, "recall": 0.0, "falsePositiveRate": 0.0}
    assert roc[-1]["recall"] == 1.0 and roc[-1]["falsePositiveRate"] == 1.0
    assert all(isinstance(p["confidenceThreshold"], float) for p in roc)
    thresholds = [p["confidenceThreshold"] for p in roc]
    assert thresholds == sorted(thresholds, reverse=True)
    cm = cls["confusionMatrix"]
    assert [s["displayName"] for s in cm["annotationSpecs"]] == ["0", "1"]
    (tn, fp), (fn, tp) = (r["row"] for r in cm["rows"])
    assert (tn, fp, fn, tp) == tuple(overall[f"{m}@0.5"] for m in ("tn", "fp", "fn", "tp"))
    assert tn + fp + fn + tp == 1500
    assert tn + fp == round(1500 * (1 - overall["mean_label"]))

    # Every slice's ClassificationMetrics; the overall one is the same as above.
    sliced = arts["sliced_classification_metrics"]["metadata"]["evaluationSlices"]
    assert sliced[0] == {"slice": "overall", "sliceClassificationMetrics": cls}
    assert {s["slice"] for s in sliced} == {"overall"} | {
        f"payment={s['payment']}" for s in slices_of(root / "evaluation")}

    report = (root / "report").read_text()
    assert report.lstrip().lower().startswith("<!doctype html") and marker in report


def slices_of(evaluation):
    """The payment slices that the evaluation computed (not withheld), from its own file."""
    doc = json.loads((evaluation / "assay_metrics.json").read_text())
    return [r["slice"] for r in doc["records"] if r["model"] == "candidate" and r["slice"]
            and "withheld" not in r]


def test_entrypoint_errors_are_one_line_with_status(inputs, tmp_path, capsys):
    bad = hand_built_executor_input(
        tmp_path / "task", {"examples": ("system.Dataset", str(inputs / "eval_data"))},
        {"config": "label: label\nslices: [[nope]]\n"})
    with pytest.raises(SystemExit):   # argparse: the executor input is required
        executor.main([])
    capsys.readouterr()
    assert executor.main(["--executor-input", "{not json"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("assay: error: --executor-input is not JSON") and err.count("\n") == 1
    bad["inputs"]["parameterValues"]["config"] = ""
    assert executor.main(["--executor-input", json.dumps(bad)]) == EXIT_USAGE
    assert capsys.readouterr().err == ("assay: error: no config: set the `config` parameter "
                                       "(a dict, or YAML/JSON text) or the `label` parameter, "
                                       "or wire a `config_file` artifact\n")
    del bad["outputs"]["artifacts"]["report"]
    with pytest.raises(executor.ExecutorInputError, match=r"no output artifact report"):
        executor.run(bad)
    assert not (tmp_path / "task" / "executor_output.json").exists()


def test_entrypoint_reports_an_internal_error_as_a_bug(inputs, tmp_path, capsys, monkeypatch):
    """It used to exit 3 ("bad data") for any ValueError and 2 for any TypeError, in one line."""
    def broken(*args, **kwargs):
        raise ValueError("operands could not be broadcast together with shapes (3,) (4,)")

    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr("assay.api.evaluate", broken)
    task = hand_built_executor_input(
        tmp_path / "task", {"examples": ("system.Dataset", str(inputs / "eval_data"))},
        {"config": CONFIG})
    assert executor.main(["--executor-input", json.dumps(task)]) == EXIT_BUG
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith("assay: internal error: ValueError: operands could not be broadcast")
    (crash,) = tmp_path.glob("assay-crash-*.txt")
    assert f"the traceback is in {crash}" in err
    report = crash.read_text()
    assert "Traceback (most recent call last)" in report and "in broken" in report
    assert not (tmp_path / "task" / "executor_output.json").exists()


@pytest.mark.parametrize("config, match", [
    ("", r"no config: set the `config` parameter"),
    ({}, r"no config: set the `config` parameter"),
    (["label"], r"the `config` parameter must be a dict \(KFP's STRUCT\) or YAML/JSON text "
                r"\(got \['label'\], a list\)"),
    ("- a\n- b\n", r"the `config` parameter must be a YAML/JSON mapping \(got list"),
    ("label: [unclosed\n", r"the `config` parameter is not valid YAML/JSON"),
])
def test_config_parameter_errors(config, match, tmp_path):
    task = executor.ExecutorInput.from_dict(hand_built_executor_input(
        tmp_path, {"examples": ("system.Dataset", "/x")}, {"config": config}))
    with pytest.raises(ConfigError, match=match):
        executor._config(task, None, None)


def test_config_gets_the_wired_models(tmp_path):
    task = executor.ExecutorInput.from_dict(hand_built_executor_input(
        tmp_path, {"examples": ("system.Dataset", "/x")},
        {"config": "label: y\nmodels: {candidate: {prediction: p, features: [a]}}\n"}))
    # assay.config.binding's rule (tests/test_binding.py): the column wins over the wired model;
    # the baseline, which has no spec, is run like the candidate.
    assert executor._config(task, "/m/model.joblib", "/b")["models"] == {
        "candidate": {"prediction": "p", "features": ["a"]},
        "baseline": {"features": ["a"], "path": "/b"}}


def test_model_path_inside_a_model_artifact(tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "model.joblib").write_bytes(b"")
    assert executor.model_path(str(tmp_path / "one")) == str(tmp_path / "one" / "model.joblib")
    (tmp_path / "tfx" / "Format-Serving").mkdir(parents=True)
    (tmp_path / "tfx" / "other.joblib").write_bytes(b"")
    assert executor.model_path(str(tmp_path / "tfx")) == str(tmp_path / "tfx")
    (tmp_path / "two").mkdir()
    for name in ("a.joblib", "b.keras"):
        (tmp_path / "two" / name).write_bytes(b"")
    assert executor.model_path(str(tmp_path / "two")) == str(tmp_path / "two")


# --------------------------------------------------------------------------------------------
# The pipeline's steps through kfp.local's own machinery

def test_pipeline_steps_run_with_kfp_local(tmp_path):
    """kfp.local cannot run the pipeline (see above), so it runs in three parts: the training
    steps as a pipeline of lightweight components with kfp.local's SubprocessRunner; the assay
    step on the executor input kfp.local builds for it, its outputs read back by kfp.local; and
    the push, gated by the `blessed` output that kfp.local read."""
    from typing import NamedTuple

    import kfp_pipeline
    from kfp import dsl, local
    from kfp.local import executor_input_utils, executor_output_utils

    local.init(runner=local.SubprocessRunner(use_venv=False),
               pipeline_root=str(tmp_path / "root"))
    make_data, train, push = kfp_pipeline.lightweight_components()

    @dsl.pipeline
    def training(rows: int) -> NamedTuple("Outputs", eval_data=dsl.Dataset, model=dsl.Model):
        data = make_data(rows=rows, seed=1)
        model = train(data=data.outputs["train_data"], features=kfp_pipeline.FEATURES)
        outputs = NamedTuple("Outputs", eval_data=dsl.Dataset, model=dsl.Model)
        return outputs(eval_data=data.outputs["eval_data"], model=model.outputs["model"])

    trained = training(rows=1500).outputs
    assert os.listdir(trained["model"].path) == ["model.joblib"]

    component = assay_kfp.load_component()
    spec = type(component.pipeline_spec.components["comp-assay-evaluate"])()
    spec.CopyFrom(component.pipeline_spec.components["comp-assay-evaluate"])
    for unwired in ("baseline_model", "config_file"):   # see test_kfp_local_cannot_run...
        del spec.input_definitions.artifacts[unwired]
    # The config as the pipeline passes it: a dict (STRUCT), whose whole numbers kfp.local
    # sends as floats (min_slice_size: 50.0).
    proto = executor_input_utils.construct_executor_input(
        spec, {"examples": trained["eval_data"], "model": trained["model"],
               "config": json.loads(kfp_pipeline.CONFIG), "allow_pickle": True},
        str(tmp_path / "root" / "assay-evaluate"), block_input_artifact=False)
    executor.run(executor_input_utils.executor_input_to_dict(proto, spec))
    outputs = executor_output_utils.get_outputs_for_task(proto, spec)

    assert type(outputs["metrics"]).__name__ == "Metrics"
    assert outputs["metrics"].metadata["auc"] > 0.65
    assert type(outputs["classification_metrics"]).__name__ == "ClassificationMetrics"
    assert type(outputs["sliced_classification_metrics"]).__name__ == \
        "SlicedClassificationMetrics"
    assert [s["slice"] for s in outputs["sliced_classification_metrics"].metadata[
        "evaluationSlices"]][:2] == ["overall", "payment=Cash"]
    assert outputs["blessed"] is True
    assert os.listdir(outputs["blessing"].path) == ["BLESSED"]
    assert outputs["blessing"].metadata["blessed"] == 1

    @dsl.pipeline
    def push_model(model_uri: str, serving_dir: str) -> str:
        model = dsl.importer(artifact_uri=model_uri, artifact_class=dsl.Model)
        return push(model=model.output, serving_dir=serving_dir).output

    if outputs["blessed"]:    # the pipeline's dsl.If(blessed == True)
        pushed = push_model(model_uri=trained["model"].uri,
                            serving_dir=str(tmp_path / "serving")).output
        assert os.listdir(pushed) == ["model.joblib"]




# --------------------------------------------------------------------------------------------
# Typed parameters, artifact types, SlicedClassificationMetrics, oci://

def test_compiled_pipeline_passes_typed_parameters(tmp_path):
    """A pipeline passes the config as a dict and the settings as their own parameters; the
    compiled spec carries them as STRUCT / STRING / LIST constants, as KFP's UI edits them."""
    from kfp import compiler, dsl
    from kfp.dsl.types.type_utils import InconsistentTypeException

    component = assay_kfp.evaluator_component("reg/assay:1")
    config = {"models": {"candidate": {"prediction": "score"}}, "min_slice_size": 20}

    @dsl.pipeline
    def typed(label: str = "label", slices: list = [[], ["payment"]]):  # noqa: B006
        data = dsl.importer(artifact_uri="/data/eval.csv", artifact_class=dsl.Dataset)
        component(examples=data.output, config=config, label=label, slices=slices,
                  thresholds=[{"metric": "auc", "min": 0.7}])

    path = str(tmp_path / "typed.yaml")
    compiler.Compiler().compile(typed, path)
    spec = yaml.safe_load(open(path))
    root = spec["root"]["inputDefinitions"]["parameters"]
    assert {n: (d["parameterType"], d["defaultValue"]) for n, d in root.items()} == {
        "label": ("STRING", "label"), "slices": ("LIST", [[], ["payment"]])}
    params = spec["root"]["dag"]["tasks"]["assay-evaluate"]["inputs"]["parameters"]
    assert params == {
        "config": {"runtimeValue": {"constant": config}},
        "label": {"componentInputParameter": "label"},
        "slices": {"componentInputParameter": "slices"},
        "thresholds": {"runtimeValue": {"constant": [{"metric": "auc", "min": 0.7}]}}}

    # YAML text for `config` is refused when the pipeline is defined (KFP checks the type);
    # it belongs in a config_file artifact, or parsed into a dict first.
    def text_config():
        data = dsl.importer(artifact_uri="/data/eval.csv", artifact_class=dsl.Dataset)
        component(examples=data.output, config="label: label\n")

    with pytest.raises(InconsistentTypeException,
                       match=r"input 'config'.*'STRING' is incompatible with the input type "
                             r"'STRUCT'"):
        dsl.pipeline(text_config)


def test_kfp_refuses_tfx_schema_titles():
    """Why `evaluation` and `blessing` are system.Artifact (assay.kfp.component's docstring):
    kfp 2.13 refuses TFX's titles. When a KFP release accepts them, this fails: use them."""
    from kfp import dsl

    class ModelBlessing(dsl.Artifact):
        schema_title = "tfx.ModelBlessing"
        schema_version = "0.0.1"

    def blesses(blessing: dsl.Output[ModelBlessing]):
        return dsl.ContainerSpec(image="x", command=["true"])

    with pytest.raises(TypeError, match=r"must belong to `system` or `google` namespace\. "
                                        r"Got: tfx\.ModelBlessing"):
        dsl.container_component(blesses)


def _task(tmp_path, parameters, config_file=None):
    artifacts = {"examples": ("system.Dataset", "/x")}
    if config_file:
        artifacts["config_file"] = ("system.Artifact", config_file)
    return executor.ExecutorInput.from_dict(hand_built_executor_input(
        tmp_path, artifacts, parameters))


def test_typed_parameters_merge_into_the_config(tmp_path, capsys):
    base = {"label": "y", "slices": [[]], "min_slice_size": 20.0,
            "thresholds": [{"metric": "auc", "min": 0.5}]}
    merged = executor._config(_task(tmp_path, {
        "config": base, "label": "y", "slices": [[], ["payment"]],
        "thresholds": [{"metric": "auc", "min": 0.75, "max_regression": 0.0}]}), "/m", None)
    assert merged == {
        "label": "y", "slices": [[], ["payment"]], "min_slice_size": 20,
        "thresholds": [{"metric": "auc", "min": 0.75, "max_regression": 0}],
        "models": {"candidate": {"path": "/m"}}}
    # KFP's STRUCT numbers are doubles: whole ones become ints, which assay's counts need.
    assert type(merged["min_slice_size"]) is int
    err = capsys.readouterr().err
    assert "the `slices` parameter replaces the config's slices ([[]] -> [[], ['payment']])" \
        in err and "the `thresholds` parameter replaces" in err and "`label`" not in err
    # The settings alone are a config; a config given as YAML text (an older spec) is read.
    assert executor._config(_task(tmp_path, {"label": "y", "task": "binary"}), "/m", None) == {
        "label": "y", "task": "binary", "models": {"candidate": {"path": "/m"}}}
    assert executor._config(_task(tmp_path, {"config": "label: a\nslices: [[]]\n",
                                             "label": "b"}), "/m", None)["label"] == "b"
    # A config_file takes the settings too.
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "c.yaml").write_text("label: a\nthresholds: []\n")
    assert executor._config(_task(tmp_path, {"task": "regression"}, str(tmp_path / "cfg")),
                            None, None) == {"label": "a", "thresholds": [], "task": "regression"}


@pytest.mark.parametrize("parameters, match", [
    ({"slices": "payment"}, r"the `slices` parameter must be a list \(e\.g\. \[\[\], "
                            r"\[\"payment\"\]\]\) \(got 'payment', a str\)"),
    ({"label": ["y"]}, r"the `label` parameter must be a string \(got \['y'\], a list\)"),
    ({"thresholds": {"metric": "auc"}}, r"the `thresholds` parameter must be a list \(got "),
])
def test_typed_parameter_errors(parameters, match, tmp_path):
    with pytest.raises(ConfigTypeError, match=match):
        executor._config(_task(tmp_path, dict(parameters, config={"label": "y"})), None, None)


def test_config_and_config_file_together_is_an_error(tmp_path):
    (tmp_path / "c.yaml").write_text("label: a\n")
    with pytest.raises(executor.ExecutorInputError,
                       match=r"the `config` parameter or the `config_file` artifact, not both"):
        executor._config(_task(tmp_path, {"config": {"label": "b"}}, str(tmp_path / "c.yaml")),
                         None, None)


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """One task run in-process: scores in a column (ties included: multiples of 1/32), the
    config as a dict with the settings as typed parameters. Returns (data, task root)."""
    import numpy as np

    root = tmp_path_factory.mktemp("kfp-scored")
    data = make_tabular_data(1200, seed=5)
    logit = -1.5 + 0.2 * data["miles"] + 0.8 * (data["payment"] == "Credit Card")
    data["score"] = np.round(32 / (1 + np.exp(-logit))) / 32
    write_csv(data, root / "eval.csv")
    task = hand_built_executor_input(
        root / "task", {"examples": ("system.Dataset", str(root / "eval.csv"))},
        {"config": {"models": {"candidate": {"prediction": "score"}}, "exact": True,
                    "min_slice_size": 60.0},
         "label": "label", "slices": [[], ["payment"]],
         "thresholds": [{"metric": "auc", "min": 0.5}]})
    executor.run(task)
    return data, root / "task"


def test_typed_parameters_reach_the_evaluation(scored):
    data, task = scored
    config = json.loads((task / "evaluation" / "config.json").read_text())
    assert config == {"label": "label", "models": {"candidate": {"prediction": "score"}},
                      "min_slice_size": 60, "exact": True, "slices": [[], ["payment"]],
                      "thresholds": [{"metric": "auc", "min": 0.5}]}
    doc = json.loads((task / "executor_output.json").read_text())
    assert doc["parameterValues"]["blessed"] is True


def test_sliced_classification_metrics_match_scikit_learn(scored):
    """Each slice's ROC curve and confusion matrix, recomputed from the data's rows in that
    slice with scikit-learn, and laid out as the KFP SDK's own class lays it out."""
    from kfp import dsl
    from sklearn.metrics import confusion_matrix, roc_curve

    data, task = scored
    meta = json.loads((task / "sliced_classification_metrics").read_text())
    doc = json.loads((task / "executor_output.json").read_text())
    assert doc["artifacts"]["sliced_classification_metrics"]["artifacts"][0]["metadata"] == meta
    entries = {e["slice"]: e["sliceClassificationMetrics"] for e in meta["evaluationSlices"]}
    counts = data["payment"].value_counts()
    assert list(entries)[0] == "overall"
    assert set(entries) == {"overall"} | {f"payment={p}" for p, n in counts.items() if n >= 60}
    assert any(n < 60 for n in counts), "no withheld slice: the data no longer tests one"

    for label, got in entries.items():
        rows = data if label == "overall" else data[data["payment"] == label.split("=", 1)[1]]
        y, s = rows["label"].to_numpy(), rows["score"].to_numpy()
        fpr, tpr, thresholds = roc_curve(y, s, drop_intermediate=False)
        points = got["confidenceMetrics"]
        # scikit-learn's first point (threshold inf) is assay's threshold above every score.
        assert [p["confidenceThreshold"] for p in points[1:]] == pytest.approx(thresholds[1:])
        assert [p["falsePositiveRate"] for p in points] == pytest.approx(fpr)
        assert [p["recall"] for p in points] == pytest.approx(tpr)
        assert points[0]["confidenceThreshold"] > s.max()
        # The confusion matrix at the decision threshold 0.5 (positive iff score > 0.5).
        expected = confusion_matrix(y, (s > 0.5).astype(int), labels=[0, 1])
        assert [r["row"] for r in got["confusionMatrix"]["rows"]] == expected.tolist()
        assert [a["displayName"] for a in got["confusionMatrix"]["annotationSpecs"]] == \
            ["0", "1"]

    # The layout, as the KFP SDK writes it. kfp 2.13's SlicedClassificationMetrics cannot be
    # filled through its own log methods (its constructor forgets `_sliced_metrics`, and it
    # calls ClassificationMetrics methods that do not exist), so each slice is filled through
    # ClassificationMetrics' methods and laid out by the sliced class's `_update_metadata`.
    sdk = dsl.SlicedClassificationMetrics()
    sdk._sliced_metrics = {}
    for label, got in entries.items():
        one = dsl.ClassificationMetrics()
        for p in got["confidenceMetrics"]:
            one.log_roc_data_point(fpr=p["falsePositiveRate"], tpr=p["recall"],
                                   threshold=p["confidenceThreshold"])
        one.set_confusion_matrix_categories(["0", "1"])
        for name, row in zip(["0", "1"], got["confusionMatrix"]["rows"]):
            one.log_confusion_matrix_row(name, row["row"])
        sdk._sliced_metrics[label] = one
        sdk._update_metadata(label)
    assert json.loads(json.dumps(sdk.metadata)) == meta


def test_oci_model_is_read_at_the_launchers_mount(inputs, tmp_path, monkeypatch):
    """An oci:// Model (a KServe modelcar image) is read where KFP's launcher mounts it,
    under $ARTIFACT_LOCAL_PATH (the launcher's root, here a temporary directory); the
    blessing records the URI and the MLMD id that KFP names the input artifact by."""
    import shutil

    uri = "oci://registry.example.com/ml/candidate:1.0"
    monkeypatch.setenv("ARTIFACT_LOCAL_PATH", str(tmp_path / "launcher"))
    task = hand_built_executor_input(
        tmp_path / "task", {"examples": ("system.Dataset", str(inputs / "eval_data")),
                            "model": ("system.Model", uri)},
        {"config": {"label": "label"}, "allow_pickle": True})
    task["inputs"]["artifacts"]["model"]["artifacts"][0]["name"] = "1234"
    with pytest.raises(executor.ExecutorInputError,
                       match=r"the model oci://registry\.example\.com/ml/candidate:1\.0 is an "
                             r"OCI image, which KFP's launcher mounts at .*/launcher/oci/"
                             r"registry\.example\.com_ml_candidate:1\.0/models; that "
                             r"directory does not exist here"):
        executor.run(task)
    mount = tmp_path / "launcher" / "oci" / "registry.example.com_ml_candidate:1.0" / "models"
    shutil.copytree(inputs / "candidate", mount)
    output = executor.run(task)
    meta = output["artifacts"]["blessing"]["artifacts"][0]["metadata"]
    assert meta["current_model"] == uri and meta["current_model_id"] == 1234
    assert output["artifacts"]["metrics"]["artifacts"][0]["metadata"]["example_count"] == 1500
