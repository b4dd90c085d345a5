"""Recording an evaluation in ML Metadata, as a TFX Evaluator run would be recorded.

One execution (`assay.Evaluator`), a ModelEvaluation and a ModelBlessing artifact, INPUT events
from the Model, baseline Model and Examples artifacts and OUTPUT events to the two new
artifacts, all in a `pipeline` context (plus `pipeline_run` and `node` contexts, as TFX does).
Input artifacts are looked up by URI (or given by id); one that is not in the store yet is
registered as the output of an `assay.Importer` execution in the same pipeline, the way TFX's
Importer registers external artifacts, so that lineage reaches it and TFX's resolvers see it.

Each write is one atomic `put_lineage_subgraph`, retried on the conflicts that concurrent
writers to one MySQL/MariaDB store meet, so simultaneous evaluations all land.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
import uuid
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb

from assay.data.files import is_remote
from assay.errors import ConfigError
from assay.mlmd import types as t
from assay.mlmd.connection import with_retries
from assay.mlmd.query import get_artifact


def artifact_uri(path: str) -> str:
    """The URI an artifact at `path` is recorded under: remote URIs as given, local paths made
    absolute; no trailing slash.

    Example:
        >>> artifact_uri("gs://bucket/model/7/")
        'gs://bucket/model/7'
    """
    path = os.fspath(path)
    if is_remote(path):
        return path.rstrip("/")
    return os.path.abspath(path)


def examples_uri(pattern: str) -> str:
    """The URI of the Examples artifact that an --examples argument reads.

    TFX's layout is ARTIFACT/Split-NAME/files: a split directory, or a file or glob inside one,
    belongs to ARTIFACT. Anything else is its own artifact (file, directory or glob as given).

    Example:
        >>> examples_uri("/p/CsvExampleGen/examples/3/Split-eval/*.gz")
        '/p/CsvExampleGen/examples/3'
    """
    uri = artifact_uri(pattern)
    parts = uri.split("/")
    for i in range(len(parts) - 1, 0, -1):
        if parts[i].startswith("Split-"):
            return "/".join(parts[:i])
    return uri


# --------------------------------------------------------------------------------------------
# Input artifacts: found by URI or id, or registered

@dataclasses.dataclass
class _Input:
    key: str
    type_name: str
    uri: str
    artifact_id: Optional[int] = None


def _uri_variants(uri: str) -> List[str]:
    variants = [uri, uri + "/"]
    if os.path.basename(uri) == "Format-Serving":   # a TFX Model's serving export
        parent = os.path.dirname(uri)
        variants += [parent, parent + "/"]
    return variants


def _find_by_uri(store: metadata_store.MetadataStore, uri: str, type_id: int
                 ) -> Optional[pb.Artifact]:
    found = []
    for variant in _uri_variants(uri):
        found.extend(a for a in store.get_artifacts_by_uri(variant) if a.type_id == type_id)
    live = [a for a in found if a.state == pb.Artifact.LIVE]
    pool = live or found
    return max(pool, key=lambda a: a.id) if pool else None


def _resolve_inputs(store: metadata_store.MetadataStore, types: t.TypeIds,
                    inputs: Sequence[_Input], contexts: Sequence[pb.Context]) -> None:
    """Fills in every input's artifact id: given, found by URI, or newly registered."""
    missing: List[_Input] = []
    for item in inputs:
        if item.artifact_id is not None:
            continue
        found = _find_by_uri(store, item.uri, types.artifacts[item.type_name])
        if found is not None:
            item.artifact_id = found.id
        else:
            missing.append(item)
    if not missing:
        return
    # One importer execution registers them all. The external id makes a concurrent
    # registration of the same URI reuse one artifact instead of creating two.
    unique: Dict[Tuple[str, str], int] = {}
    artifacts: List[pb.Artifact] = []
    for item in missing:
        key = (item.type_name, item.uri)
        if key in unique:
            continue
        unique[key] = len(artifacts)
        artifact = pb.Artifact(type_id=types.artifacts[item.type_name], uri=item.uri,
                               state=pb.Artifact.LIVE)
        artifact.external_id = "assay:" + hashlib.sha256(
            f"{item.type_name}\n{item.uri}".encode()).hexdigest()
        t.set_properties(artifact, {"state": "published", "is_external": 1})
        artifacts.append(artifact)
    execution = pb.Execution(type_id=types.importer, last_known_state=pb.Execution.COMPLETE)
    t.set_properties(execution, {"artifact_uris": json.dumps([a.uri for a in artifacts])})
    edges = [(0, i, t.event(pb.Event.OUTPUT, t.IMPORTER_KEY, i)) for i in range(len(artifacts))]
    _, ids, _ = store.put_lineage_subgraph(
        [execution], artifacts, contexts, edges, reuse_context_if_already_exist=True,
        reuse_artifact_if_already_exist_by_external_id=True)
    for item in missing:
        item.artifact_id = ids[unique[(item.type_name, item.uri)]]


def _inputs(store: metadata_store.MetadataStore, model: Optional[str], model_id: Optional[int],
            baseline: Optional[str], baseline_id: Optional[int], examples: Sequence[str],
            examples_ids: Sequence[int]) -> List[_Input]:
    """The evaluation's input artifacts, by id where known and by URI otherwise."""
    inputs: List[_Input] = []
    for key, path, known_id in ((t.MODEL_KEY, model, model_id),
                                (t.BASELINE_KEY, baseline, baseline_id)):
        if path is not None or known_id is not None:
            known = get_artifact(store, known_id, t.MODEL) if known_id is not None else None
            inputs.append(_Input(key, t.MODEL, known.uri if known else artifact_uri(path),
                                 known_id))
    for i in examples_ids:
        inputs.append(_Input(t.EXAMPLES_KEY, t.EXAMPLES, get_artifact(store, i, t.EXAMPLES).uri,
                             i))
    if not examples_ids:
        for uri in dict.fromkeys(examples_uri(p) for p in examples):
            inputs.append(_Input(t.EXAMPLES_KEY, t.EXAMPLES, uri))
    return inputs


# --------------------------------------------------------------------------------------------
# Recording an evaluation

@dataclasses.dataclass(frozen=True)
class Recorded:
    """The ids of what record_evaluation wrote or linked."""

    execution_id: int
    evaluation_id: int
    blessing_id: int
    model_id: Optional[int]
    baseline_id: Optional[int]
    examples_ids: Tuple[int, ...]
    pipeline: str
    run_id: str


def _model_path(result: Any, name: str) -> Optional[str]:
    path = (result.info.get("models") or {}).get(name)
    return path if isinstance(path, str) else None


def _outputs(types: t.TypeIds, result: Any, current: Optional[_Input], base: Optional[_Input]
             ) -> Tuple[pb.Execution, pb.Artifact, pb.Artifact]:
    """The execution, ModelEvaluation and ModelBlessing that record `result`."""
    from assay import __version__
    from assay import validation

    verdict = validation.ValidationResult.from_dict(result.validation)
    blessing = pb.Artifact(type_id=types.artifacts[t.MODEL_BLESSING], state=pb.Artifact.LIVE,
                           uri=artifact_uri(os.path.join(result.location, "blessing")))
    t.set_properties(blessing, validation.blessing_properties(
        verdict, current_model=current and current.uri,
        current_model_id=current and current.artifact_id,
        baseline_model=base and base.uri, baseline_model_id=base and base.artifact_id))
    t.set_properties(blessing, {"state": "published"})
    evaluation = pb.Artifact(type_id=types.artifacts[t.MODEL_EVALUATION],
                             state=pb.Artifact.LIVE, uri=artifact_uri(result.path))
    t.set_properties(evaluation, {"state": "published", "assay_task": result.task,
                                  "assay_examples_read": result.info.get("examples_read")})
    execution = pb.Execution(type_id=types.execution, last_known_state=pb.Execution.COMPLETE)
    t.set_properties(execution, {
        "assay_version": __version__, "blessed": int(bool(result.blessed)),
        "outcome": result.validation.get("outcome"),
        "config": json.dumps(result.config, sort_keys=True) if result.config else None,
        "output": artifact_uri(result.path),
    })
    return execution, evaluation, blessing


def record_evaluation(store: metadata_store.MetadataStore, result: Any, *,
                      examples: Sequence[str] = (), model: Optional[str] = None,
                      baseline: Optional[str] = None, model_id: Optional[int] = None,
                      baseline_id: Optional[int] = None,
                      examples_ids: Sequence[int] = (), pipeline: str = t.DEFAULT_PIPELINE,
                      run_id: Optional[str] = None) -> Recorded:
    """Records a finished evaluation: its execution, ModelEvaluation and ModelBlessing.

    Args:
      store: from `connect`.
      result: the EvalResult that `assay.evaluate` returned (read back from its directory).
      examples: the --examples arguments; each maps to an Examples artifact URI (examples_uri).
      model, baseline: the models' paths; by default those the evaluation ran with (a
        prediction column is no model, and records none).
      model_id, baseline_id, examples_ids: MLMD ids of the input artifacts, when known; they
        win over the paths.
      pipeline: the `pipeline` context; `latest_blessed_model(store, pipeline)` looks there.
      run_id: the `pipeline_run` context's name; a new unique one by default.

    Returns:
      Recorded, with every id.

    Raises:
      ConfigError: an artifact id that does not exist or has the wrong type; a result without
        a verdict; an empty pipeline name.
      MetadataError: the store cannot be written (after retries).
    """
    if result.validation is None:
        raise ConfigError(f"the results at {result.path} hold no verdict (validation.json), so "
                          f"there is no ModelBlessing to record")
    if not isinstance(pipeline, str) or not pipeline:
        raise ConfigError(f"'pipeline' must be a non-empty string (got {pipeline!r})")
    run_id = run_id or f"assay-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    model = model if model is not None else _model_path(result, "candidate")
    baseline = baseline if baseline is not None else _model_path(result, "baseline")
    if "baseline" not in (result.info.get("models") or {}):
        # The baseline failed to load, or none was configured: it is no input of this run.
        baseline, baseline_id = None, None

    def step() -> Recorded:
        types = t.register_types(store)
        contexts = t.contexts(types, pipeline, run_id)
        inputs = _inputs(store, model, model_id, baseline, baseline_id, examples, examples_ids)
        _resolve_inputs(store, types, inputs, contexts)
        ids = {item.key: item for item in inputs}
        current, base = ids.get(t.MODEL_KEY), ids.get(t.BASELINE_KEY)
        execution, evaluation, blessing = _outputs(types, result, current, base)
        counters: Dict[str, int] = {}
        edges = []
        for item in inputs:
            index = counters.get(item.key, 0)
            counters[item.key] = index + 1
            edges.append((0, None, t.event(pb.Event.INPUT, item.key, index, item.artifact_id)))
        edges.append((0, 0, t.event(pb.Event.OUTPUT, t.EVALUATION_KEY, 0)))
        edges.append((0, 1, t.event(pb.Event.OUTPUT, t.BLESSING_KEY, 0)))
        (execution_id,), (evaluation_id, blessing_id), _ = store.put_lineage_subgraph(
            [execution], [evaluation, blessing], contexts, edges,
            reuse_context_if_already_exist=True)
        return Recorded(
            execution_id=execution_id, evaluation_id=evaluation_id, blessing_id=blessing_id,
            model_id=current.artifact_id if current else None,
            baseline_id=base.artifact_id if base else None,
            examples_ids=tuple(i.artifact_id for i in inputs if i.key == t.EXAMPLES_KEY),
            pipeline=pipeline, run_id=run_id)

    return with_retries(step, "recording the evaluation")


__all__ = ["Recorded", "artifact_uri", "examples_uri", "record_evaluation"]
