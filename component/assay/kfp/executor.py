"""The KFP adapter: KFP's executor input in, `assay.evaluate`, KFP's executor output out.

KFP's launcher starts the container with the executor input (the `{{$}}` placeholder) as one
argument, a JSON document of this shape (kfp 2.13, pipeline_spec ExecutorInput):

    {"inputs": {
       "parameterValues": {"config": {...}, "label": "...", "slices": [...],
                           "beam_pipeline_args": [], "allow_pickle": false, ...},
       "artifacts": {"examples": {"artifacts": [{"name": "17", "uri": "minio://.../eval_data",
                                                 "type": {"schemaTitle": "system.Dataset"},
                                                 "metadata": {}}]},
                     "model": {...}, "baseline_model": {...}, "config_file": {...}}},
     "outputs": {
       "artifacts": {"evaluation": {"artifacts": [{"name": "...", "uri": "...",
                                                   "type": {...}, "metadata": {}}]},
                     "metrics": ..., "classification_metrics": ..., "report": ...,
                     "blessing": ...},
       "parameters": {"blessed": {"outputFile": "/tmp/kfp/outputs/blessed"}},
       "outputFile": "/tmp/kfp_outputs/output_metadata.json"}}

Optional input artifacts that were not wired in are absent; an input artifact's name is its ML
Metadata id under KFP (the blessing records the models' ids). The parameters become the config
as assay.kfp.parameters says. A remote URI is read and written at the local path where the
launcher mounts or stages it (gs://b/x at /gcs/b/x, minio://b/x at /minio/b/x, s3://b/x at
/s3/b/x, oci://reg/m:1 at /oci/reg_m:1/models: assay.kfp.paths), when this machine has that mount;
otherwise at the URI itself, through assay's filesystem layer (Beam's FileSystems; minio:// is
read as s3://, with Beam's S3 options in `beam_pipeline_args` pointing at the MinIO server). A
local URI is its own path. On a URI, the evaluation is published as on any object store (see
assay.results.publish: OUTPUT/_ASSAY_COMMIT.json names the generation OUTPUT/.runs/RUN/).

What this writes (the launcher reads the executor output file, records each artifact's metadata
as its ML Metadata custom properties, and uploads each artifact's local path):

    evaluation               the assay results directory (assay_metrics.json, assay_plots.json, ...)
    metrics                  system.Metrics: metadata {metric: value}, the overall candidate
                             metrics with finite values; the same JSON in the file
    classification_metrics   system.ClassificationMetrics: metadata `confidenceMetrics` (ROC:
                             [{confidenceThreshold, recall, falsePositiveRate}], binary) and
                             `confusionMatrix` ({annotationSpecs: [{displayName}], rows:
                             [{row: [...]}]}, rows are true classes; binary at the first
                             decision threshold); empty for regression
    sliced_classification_metrics   system.SlicedClassificationMetrics: the same per slice
                             ({evaluationSlices: [{slice, sliceClassificationMetrics}]}), when
                             the executor input declares it
    report                   system.HTML: the HTML report (assay.report.html), or a summary page
    blessing                 a directory holding the BLESSED or NOT_BLESSED file; metadata as
                             the TFX ModelBlessing's custom properties (blessed = 1 / 0, ...)
    blessed                  output parameter, true / false, for dsl.If

plus `parameterValues: {"blessed": true|false}` in the executor output file, which the launcher
prefers to the parameter file.

The image needs no KFP SDK: this module imports nothing from kfp. The outputs' layouts are in
`assay.kfp.outputs`. Exit status as the CLI's (assay.errors): 2 a bad executor input or config,
3 bad data or model, 6 storage, 70 a bug in assay (its traceback in a crash report file).

Example:
    >>> import json                                                           # doctest: +SKIP
    >>> run(json.load(open("executor_input.json")))["parameterValues"]        # doctest: +SKIP
    {'blessed': True}
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import tempfile
from typing import Any, Dict, Mapping, Optional, Sequence

from assay.errors import EXIT_DATA, EXIT_USAGE  # noqa: F401 (re-exported)
from assay.kfp.outputs import (OUTPUT_ARTIFACTS, classification_metrics, scalar_metrics,
                               sliced_classification_metrics, to_json, write_executor_output)
from assay.kfp.parameters import (PARAMETER_DEFAULTS, ExecutorInputError, beam_args, flag,
                                  task_config)
from assay.kfp.paths import artifact_path, local_path, model_path, model_id

@dataclasses.dataclass(frozen=True)
class RuntimeArtifact:
    """One artifact of the executor input."""

    name: str
    uri: str
    schema_title: str
    metadata: Mapping[str, Any]

    @property
    def path(self) -> str:
        return artifact_path(self.uri)


@dataclasses.dataclass(frozen=True)
class ExecutorInput:
    """The executor input, read: artifacts by name, parameters with defaults filled in."""

    inputs: Mapping[str, RuntimeArtifact]
    parameters: Mapping[str, Any]
    outputs: Mapping[str, RuntimeArtifact]
    parameter_files: Mapping[str, str]
    output_file: str

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> "ExecutorInput":
        if not isinstance(doc, Mapping):
            raise ExecutorInputError(f"the executor input must be a JSON object (got a "
                                     f"{type(doc).__name__})")
        inputs, outputs = doc.get("inputs") or {}, doc.get("outputs")
        if not isinstance(outputs, Mapping) or not outputs.get("outputFile"):
            raise ExecutorInputError("the executor input has no outputs.outputFile; is this "
                                     "KFP's {{$}}?")
        parameters = dict(PARAMETER_DEFAULTS)
        parameters.update(inputs.get("parameterValues") or {})
        input_artifacts = _artifacts(inputs.get("artifacts") or {}, "inputs")
        output_artifacts = _artifacts(outputs.get("artifacts") or {}, "outputs")
        missing = [n for n in OUTPUT_ARTIFACTS if n not in output_artifacts]
        if missing:
            raise ExecutorInputError(f"the executor input has no output artifact "
                                     f"{', '.join(missing)} (outputs.artifacts has: "
                                     f"{', '.join(sorted(output_artifacts)) or 'nothing'}); "
                                     f"was it built from assay's component?")
        files = {}
        for name, spec in (outputs.get("parameters") or {}).items():
            if isinstance(spec, Mapping) and spec.get("outputFile"):
                files[name] = spec["outputFile"]
        return cls(input_artifacts, parameters, output_artifacts, files, outputs["outputFile"])


def _artifacts(section: Mapping[str, Any], where: str) -> Dict[str, RuntimeArtifact]:
    out = {}
    for name, listed in section.items():
        items = (listed or {}).get("artifacts") or []
        if not items:
            continue        # an optional input that was not wired in
        if len(items) > 1:
            raise ExecutorInputError(f"{where}.artifacts.{name} holds {len(items)} artifacts; "
                                     f"assay takes one")
        item = items[0]
        if not item.get("uri"):
            raise ExecutorInputError(f"{where}.artifacts.{name} has no uri")
        out[name] = RuntimeArtifact(item.get("name", ""), item["uri"],
                                    (item.get("type") or {}).get("schemaTitle", ""),
                                    dict(item.get("metadata") or {}))
    return out


# --------------------------------------------------------------------------------------------
# Inputs -> assay.evaluate arguments

def _config(task: ExecutorInput, model: Optional[str], baseline: Optional[str]
            ) -> Dict[str, Any]:
    """The task's config as a dict (assay.kfp.parameters.task_config)."""
    return task_config(task.parameters, task.inputs.get("config_file"), model, baseline)


def write_report(result: Any, path: str) -> None:
    """The HTML report (assay.report.html's self-contained page) into `path`."""
    from assay.report import html as report

    report.write_report(result, output=path)


def run(executor_input: Mapping[str, Any]) -> Dict[str, Any]:
    """Runs the evaluation that the executor input describes; returns the executor output
    (also written to outputs.outputFile).

    Raises:
      ExecutorInputError: the executor input lacks what assay needs (a ConfigError).
      AssayError: as assay.evaluate.
    """
    import assay
    from assay.data import files
    from assay.data.options import set_options

    task = ExecutorInput.from_dict(executor_input)
    if "examples" not in task.inputs:
        raise ExecutorInputError("the executor input has no `examples` artifact")
    pipeline_args = beam_args(task.parameters.get("beam_pipeline_args"))
    # Before the first read: finding the model file in a Model artifact and reading a
    # config_file artifact on s3:// need the S3 endpoint and keys these arguments carry.
    set_options(pipeline_args)
    model = task.inputs.get("model")
    baseline = task.inputs.get("baseline_model")
    model_file = model_path(model.path) if model else None
    baseline_file = model_path(baseline.path) if baseline else None
    evaluation = task.outputs["evaluation"].path
    with tempfile.TemporaryDirectory(prefix="assay-kfp-") as scratch:
        # On a local path, evaluate on local disk, then copy: assay replaces its output
        # directory by renaming, which a bucket mount (gcsfuse on /gcs/) may not support for
        # directories. On a URI, publish there directly (assay.results.publish).
        remote = files.is_remote(evaluation)
        result = assay.evaluate(
            _config(task, model_file, baseline_file), task.inputs["examples"].path,
            evaluation if remote else os.path.join(scratch, "evaluation"),
            beam_pipeline_args=pipeline_args,
            allow_pickle=flag(task.parameters.get("allow_pickle"), "allow_pickle"),
            allow_custom_code=task.parameters.get("allow_custom_code") or None,
            force_bless=task.parameters.get("force_bless") or None)
        metadata = _write_outputs(task, result, copy_evaluation=not remote)
    return write_executor_output(task, metadata, bool(result.blessed))


def _write_outputs(task: ExecutorInput, result: Any, copy_evaluation: bool = True
                   ) -> Dict[str, Dict[str, Any]]:
    """Writes every output artifact from the finished evaluation; returns their metadata.

    `copy_evaluation`: the evaluation was written to a scratch directory and is copied to the
    evaluation artifact's path (False: it was published there already).
    """
    from assay.data.files import write_text
    from assay import validation

    out = task.outputs
    model, baseline = task.inputs.get("model"), task.inputs.get("baseline_model")
    verdict = validation.ValidationResult.from_dict(result.validation)
    validation.write_blessing(out["blessing"].path, verdict)
    has_baseline = "baseline" in result.info.get("models", {})
    baseline = baseline if has_baseline else None
    blessing_meta = validation.blessing_properties(
        verdict, current_model=model.uri if model else None,
        current_model_id=model_id(model) if model else None,
        baseline_model=baseline.uri if baseline else None,
        baseline_model_id=model_id(baseline) if baseline else None)
    metrics = scalar_metrics(result)
    write_text(out["metrics"].path, to_json(metrics))
    classification = classification_metrics(result)
    write_text(out["classification_metrics"].path, to_json(classification))
    sliced = {}
    # Optional: a spec compiled before this output existed does not declare it.
    if "sliced_classification_metrics" in out:
        sliced = {"sliced_classification_metrics": sliced_classification_metrics(result)}
        write_text(out["sliced_classification_metrics"].path,
                   to_json(sliced["sliced_classification_metrics"]))
    if copy_evaluation:
        shutil.copytree(result.path, out["evaluation"].path, dirs_exist_ok=True)
        result.path = result.location = out["evaluation"].path  # the report's named source
    write_report(result, out["report"].path)
    return {"evaluation": {"task": result.task,
                           "examples_read": result.info.get("examples_read"),
                           "blessed": bool(result.blessed),
                           "outcome": result.validation.get("outcome"),
                           "slices": len(result.slices())},
            "metrics": metrics, "classification_metrics": classification, "report": {},
            "blessing": blessing_meta, **sliced}


def _read_executor_input(value: str) -> Any:
    """The --executor-input value: the JSON itself (as KFP passes it) or @FILE."""
    if value.startswith("@"):
        with open(value[1:], encoding="utf-8") as f:
            value = f.read()
    try:
        return json.loads(value)
    except json.JSONDecodeError as e:
        raise ExecutorInputError(f"--executor-input is not JSON ({e}); KFP passes it with the "
                                 f"{{{{$}}}} placeholder") from None


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`entrypoint.py kfp --executor-input JSON`: the container's KFP mode."""
    parser = argparse.ArgumentParser(prog="assay kfp", description=(
        "Run assay as a KFP v2 component: read KFP's executor input, write its outputs."))
    parser.add_argument("--executor-input", required=True, metavar="JSON",
                        help="KFP's executor input ({{$}}), or @FILE")
    args = parser.parse_args(argv)
    from assay.cli import run_command

    return run_command(_run_and_say, args.executor_input)


def _run_and_say(executor_input: str) -> int:
    """Runs the task and prints the verdict, its reasons and where the results are."""
    output = run(_read_executor_input(executor_input))
    blessed = output["parameterValues"]["blessed"]
    meta = output["artifacts"]["blessing"]["artifacts"][0]["metadata"]
    print(f"assay: {'BLESSED' if blessed else 'NOT_BLESSED'}")
    for reason in json.loads(meta.get("assay_reasons", "[]")):
        print(f"  - {reason}")
    print(f"assay: results in {output['artifacts']['evaluation']['artifacts'][0]['uri']}")
    return 0


__all__ = ["ExecutorInput", "ExecutorInputError", "PARAMETER_DEFAULTS", "RuntimeArtifact",
           "artifact_path", "local_path", "main", "model_path", "run", "write_report"]
