"""ML Metadata outside TFX: record an evaluation, find the latest blessed model.

A standalone `assay evaluate --mlmd STORE` records what a TFX Evaluator run would: a
ModelEvaluation and a ModelBlessing artifact (TFX's type names and type definitions), one
execution, INPUT events from the Model, baseline Model and Examples artifacts and OUTPUT events to
the two new artifacts, all in a `pipeline` context (plus `pipeline_run` and `node` contexts, as
TFX does). Input artifacts are looked up by URI (or given by id); one that is not in the store yet
is registered as the output of an `assay.Importer` execution in the same pipeline, the way TFX's
Importer registers external artifacts, so that lineage reaches it and TFX's resolvers see it.

    store = connect("sqlite:metadata.db")             # or "mysql://user:pass@host:3306/db"
    baseline = latest_blessed_model(store, pipeline="taxi")   # a BlessedModel, or None
    result = assay.evaluate(config, examples, "out/", baseline=baseline and baseline.uri)
    recorded = record_evaluation(store, result, examples=[examples], pipeline="taxi",
                                 baseline_id=baseline and baseline.model_id)
    recorded.blessing_id, recorded.execution_id

`latest_blessed_model` is TFX's LatestBlessedModelStrategy run over what a TFX Resolver in
pipeline `pipeline` would be handed: the LIVE Model and ModelBlessing artifacts that are outputs
of executions in the pipeline's context. The latest (highest id) Model that a ModelBlessing with
`blessed` = 1 names in `current_model_id` wins.

Writes are atomic (one `put_lineage_subgraph` per step) and retried on the conflicts that
concurrent writers to one MySQL/MariaDB store can meet (two runs registering the same type,
context or input artifact at once), so simultaneous evaluations all land.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import random
import time
import urllib.parse
import uuid
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, TypeVar

from ml_metadata import errors
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb

_log = logging.getLogger(__name__)

EXAMPLES = "Examples"
MODEL = "Model"
MODEL_EVALUATION = "ModelEvaluation"
MODEL_BLESSING = "ModelBlessing"
EXECUTION_TYPE = "assay.Evaluator"
IMPORTER_TYPE = "assay.Importer"
PIPELINE_CONTEXT = "pipeline"          # TFX's context type names (tfx/dsl/compiler/constants.py)
PIPELINE_RUN_CONTEXT = "pipeline_run"
NODE_CONTEXT = "node"
DEFAULT_PIPELINE = "assay"
NODE_ID = "assay"
# Event path keys: the TFX Evaluator's channel names.
MODEL_KEY, BASELINE_KEY, EXAMPLES_KEY = "model", "baseline_model", "examples"
EVALUATION_KEY, BLESSING_KEY = "evaluation", "blessing"
IMPORTER_KEY = "result"                # TFX's Importer output key

_OUTPUT_EVENTS = (pb.Event.OUTPUT, pb.Event.INTERNAL_OUTPUT, pb.Event.DECLARED_OUTPUT)
_RETRIED = (errors.AlreadyExistsError, errors.AbortedError, errors.InternalError,
            errors.UnavailableError, errors.DeadlineExceededError)
_ATTEMPTS = 8


def artifact_types() -> Dict[str, pb.ArtifactType]:
    """The artifact types assay writes, defined exactly as TFX 1.16 defines them.

    Example:
        >>> artifact_types()["Examples"].base_type == pb.ArtifactType.DATASET
        True
    """
    examples = pb.ArtifactType(name=EXAMPLES, base_type=pb.ArtifactType.DATASET)
    examples.properties["span"] = pb.INT
    examples.properties["version"] = pb.INT
    examples.properties["split_names"] = pb.STRING
    return {
        EXAMPLES: examples,
        MODEL: pb.ArtifactType(name=MODEL, base_type=pb.ArtifactType.MODEL),
        MODEL_EVALUATION: pb.ArtifactType(name=MODEL_EVALUATION),
        MODEL_BLESSING: pb.ArtifactType(name=MODEL_BLESSING),
    }


# --------------------------------------------------------------------------------------------
# Connecting

def connection_config(uri: str) -> pb.ConnectionConfig:
    """The ml-metadata ConnectionConfig for `sqlite:PATH` or `mysql://user:pass@host:port/db`.

    `mariadb://` is accepted as a synonym of `mysql://`; `?socket=/path/to/socket` connects
    through a Unix socket. The password may be percent-encoded (`p%40ss` for `p@ss`).

    Example:
        >>> connection_config("mysql://ml:secret@db.local:3306/metadata").mysql.database
        'metadata'
        >>> connection_config("sqlite:/tmp/metadata.db").sqlite.filename_uri
        '/tmp/metadata.db'
    """
    if not isinstance(uri, str):
        raise TypeError(f"'--mlmd' must be a string (got {uri!r}, a {type(uri).__name__})")
    config = pb.ConnectionConfig()
    if uri.startswith("sqlite:"):
        path = uri[len("sqlite:"):]
        if path.startswith("//"):      # sqlite:///abs/path, as SQLAlchemy writes it
            path = path[2:]
        if not path:
            raise ValueError(f"'--mlmd' {uri!r} names no file; write sqlite:PATH, e.g. "
                             f"sqlite:metadata.db")
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            raise ValueError(f"'--mlmd' {uri!r}: the directory {parent} does not exist")
        config.sqlite.filename_uri = path
        config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
        return config
    parsed = urllib.parse.urlsplit(uri)
    if parsed.scheme in ("mysql", "mariadb"):
        database = parsed.path.lstrip("/")
        if not database or "/" in database:
            raise ValueError(f"'--mlmd' {_redact(uri)!r} names no database; write "
                             f"mysql://user:password@host:port/database")
        query = urllib.parse.parse_qs(parsed.query)
        unknown = sorted(set(query) - {"socket"})
        if unknown:
            raise ValueError(f"'--mlmd' {_redact(uri)!r}: unknown option {unknown[0]!r}; the "
                             f"only option is ?socket=/path/to/mysqld.sock")
        config.mysql.database = database
        if parsed.hostname:
            config.mysql.host = parsed.hostname
        try:
            port = parsed.port
        except ValueError:
            raise ValueError(f"'--mlmd' {_redact(uri)!r}: the port must be a number") from None
        config.mysql.port = port or 3306
        if "socket" in query:
            config.mysql.socket = query["socket"][-1]
        if parsed.username:
            config.mysql.user = urllib.parse.unquote(parsed.username)
        if parsed.password:
            config.mysql.password = urllib.parse.unquote(parsed.password)
        if not parsed.hostname and "socket" not in query:
            raise ValueError(f"'--mlmd' {_redact(uri)!r} names no host; write "
                             f"mysql://user:password@host:port/database")
        return config
    raise ValueError(f"'--mlmd' must be sqlite:PATH or mysql://user:password@host:port/database "
                     f"(got {_redact(uri)!r})")


def _redact(uri: str) -> str:
    parsed = urllib.parse.urlsplit(uri)
    if parsed.password:
        return uri.replace(f":{parsed.password}@", ":***@", 1)
    return uri


def connect(uri: str) -> metadata_store.MetadataStore:
    """A MetadataStore for `sqlite:PATH` or `mysql://user:pass@host:port/db` (see
    connection_config). The schema is created on first use.

    Raises:
      ValueError: the URI is malformed.
      ml_metadata.errors.StatusError: the store cannot be reached (after retries).
    """
    config = connection_config(uri)
    return _with_retries(lambda: metadata_store.MetadataStore(config),
                         f"connecting to {_redact(uri)}")


T = TypeVar("T")


def _with_retries(step: Callable[[], T], what: str) -> T:
    """Runs `step`, again after a short random pause when a concurrent writer got in the way."""
    for attempt in range(_ATTEMPTS):
        try:
            return step()
        except _RETRIED as e:
            if attempt == _ATTEMPTS - 1:
                raise
            _log.info("%s: %s (%s); retrying", what, type(e).__name__,
                      str(e).splitlines()[0][:200])
            time.sleep(random.uniform(0.05, 0.2) * (attempt + 1))
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------------------------
# Types, contexts, values

@dataclasses.dataclass(frozen=True)
class _TypeIds:
    artifacts: Mapping[str, int]
    execution: int
    importer: int
    contexts: Mapping[str, int]


def _register_types(store: metadata_store.MetadataStore) -> _TypeIds:
    # can_add_fields/can_omit_fields: accept a stored type that TFX (or a newer TFX) registered
    # with more properties, and never fail because of an older one.
    artifacts = {name: store.put_artifact_type(t, can_add_fields=True, can_omit_fields=True)
                 for name, t in artifact_types().items()}
    execution = store.put_execution_type(pb.ExecutionType(name=EXECUTION_TYPE),
                                         can_add_fields=True, can_omit_fields=True)
    importer = store.put_execution_type(pb.ExecutionType(name=IMPORTER_TYPE),
                                        can_add_fields=True, can_omit_fields=True)
    contexts = {name: store.put_context_type(pb.ContextType(name=name), can_add_fields=True,
                                             can_omit_fields=True)
                for name in (PIPELINE_CONTEXT, PIPELINE_RUN_CONTEXT, NODE_CONTEXT)}
    return _TypeIds(artifacts, execution, importer, contexts)


def _set_value(target: pb.Value, value: Any) -> None:
    if isinstance(value, bool):
        target.int_value = int(value)
    elif isinstance(value, int):
        target.int_value = value
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, str):
        target.string_value = value
    else:
        target.string_value = json.dumps(value, sort_keys=True, default=str)


def _properties(message: Any, values: Mapping[str, Any]) -> None:
    for key, value in values.items():
        if value is not None:
            _set_value(message.custom_properties[key], value)


def _contexts(types: _TypeIds, pipeline: str, run_id: str) -> List[pb.Context]:
    return [
        pb.Context(type_id=types.contexts[PIPELINE_CONTEXT], name=pipeline),
        pb.Context(type_id=types.contexts[PIPELINE_RUN_CONTEXT], name=run_id),
        pb.Context(type_id=types.contexts[NODE_CONTEXT], name=f"{pipeline}.{NODE_ID}"),
    ]


def _event(kind: int, key: str, index: int, artifact_id: Optional[int] = None) -> pb.Event:
    event = pb.Event(type=kind)
    if artifact_id is not None:
        event.artifact_id = artifact_id
    event.path.steps.add().key = key
    event.path.steps.add().index = index
    return event


# --------------------------------------------------------------------------------------------
# Input artifacts: found by URI or id, or registered

def artifact_uri(path: str) -> str:
    """The URI an artifact at `path` is recorded under: remote URIs as given, local paths made
    absolute; no trailing slash.

    Example:
        >>> artifact_uri("gs://bucket/model/7/")
        'gs://bucket/model/7'
    """
    path = os.fspath(path)
    if "://" in path:
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


def get_artifact(store: metadata_store.MetadataStore, artifact_id: int, type_name: str
                 ) -> pb.Artifact:
    """The artifact with this id, checked to be of TFX type `type_name`.

    Raises:
      ValueError: no such artifact, or one of another type.
    """
    if isinstance(artifact_id, bool) or not isinstance(artifact_id, int):
        raise TypeError(f"an artifact id must be an int (got {artifact_id!r}, a "
                        f"{type(artifact_id).__name__})")
    found = store.get_artifacts_by_id([artifact_id])
    if not found:
        raise ValueError(f"ML Metadata holds no artifact with id {artifact_id}")
    artifact = found[0]
    actual = store.get_artifact_types_by_id([artifact.type_id])[0].name
    if actual != type_name:
        raise ValueError(f"artifact {artifact_id} is a {actual}, not a {type_name} "
                         f"(its URI: {artifact.uri})")
    return artifact


@dataclasses.dataclass
class _Input:
    key: str
    type_name: str
    uri: str
    artifact_id: Optional[int] = None


def _resolve_inputs(store: metadata_store.MetadataStore, types: _TypeIds,
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
        _properties(artifact, {"state": "published", "is_external": 1})
        artifacts.append(artifact)
    execution = pb.Execution(type_id=types.importer, last_known_state=pb.Execution.COMPLETE)
    _properties(execution, {"artifact_uris": json.dumps([a.uri for a in artifacts])})
    edges = [(0, i, _event(pb.Event.OUTPUT, IMPORTER_KEY, i)) for i in range(len(artifacts))]
    _, ids, _ = store.put_lineage_subgraph(
        [execution], artifacts, contexts, edges, reuse_context_if_already_exist=True,
        reuse_artifact_if_already_exist_by_external_id=True)
    for item in missing:
        item.artifact_id = ids[unique[(item.type_name, item.uri)]]


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


def record_evaluation(store: metadata_store.MetadataStore, result: Any, *,
                      examples: Sequence[str] = (), model: Optional[str] = None,
                      baseline: Optional[str] = None, model_id: Optional[int] = None,
                      baseline_id: Optional[int] = None,
                      examples_ids: Sequence[int] = (), pipeline: str = DEFAULT_PIPELINE,
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
      ValueError: an artifact id that does not exist or has the wrong type; a result without
        a verdict.
    """
    from assay import __version__
    from assay.validation import checks as validation

    if result.validation is None:
        raise ValueError(f"the results at {result.path} hold no verdict (validation.json), so "
                         f"there is no ModelBlessing to record")
    if not isinstance(pipeline, str) or not pipeline:
        raise ValueError(f"'pipeline' must be a non-empty string (got {pipeline!r})")
    run_id = run_id or f"assay-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    model = model if model is not None else _model_path(result, "candidate")
    baseline_ran = "baseline" in (result.info.get("models") or {})
    baseline = baseline if baseline is not None else _model_path(result, "baseline")
    if not baseline_ran:            # the baseline failed to load, or none was configured
        baseline, baseline_id = None, None

    def step() -> Recorded:
        types = _register_types(store)
        contexts = _contexts(types, pipeline, run_id)
        inputs: List[_Input] = []
        if model is not None or model_id is not None:
            known = get_artifact(store, model_id, MODEL) if model_id is not None else None
            inputs.append(_Input(MODEL_KEY, MODEL, known.uri if known else artifact_uri(model),
                                 model_id))
        if baseline is not None or baseline_id is not None:
            known = get_artifact(store, baseline_id, MODEL) if baseline_id is not None else None
            inputs.append(_Input(BASELINE_KEY, MODEL,
                                 known.uri if known else artifact_uri(baseline), baseline_id))
        for i in examples_ids:
            inputs.append(_Input(EXAMPLES_KEY, EXAMPLES, get_artifact(store, i, EXAMPLES).uri, i))
        if not examples_ids:
            for uri in dict.fromkeys(examples_uri(p) for p in examples):
                inputs.append(_Input(EXAMPLES_KEY, EXAMPLES, uri))
        _resolve_inputs(store, types, inputs, contexts)
        ids = {item.key: item for item in inputs}
        current, base = ids.get(MODEL_KEY), ids.get(BASELINE_KEY)

        verdict = validation.ValidationResult.from_dict(result.validation)
        blessing = pb.Artifact(type_id=types.artifacts[MODEL_BLESSING], state=pb.Artifact.LIVE,
                               uri=artifact_uri(os.path.join(result.path, "blessing")))
        _properties(blessing, validation.blessing_properties(
            verdict, current_model=current and current.uri,
            current_model_id=current and current.artifact_id,
            baseline_model=base and base.uri, baseline_model_id=base and base.artifact_id))
        _properties(blessing, {"state": "published"})
        evaluation = pb.Artifact(type_id=types.artifacts[MODEL_EVALUATION],
                                 state=pb.Artifact.LIVE, uri=artifact_uri(result.path))
        _properties(evaluation, {"state": "published", "assay_task": result.task,
                                 "assay_examples_read": result.info.get("examples_read")})
        execution = pb.Execution(type_id=types.execution, last_known_state=pb.Execution.COMPLETE)
        _properties(execution, {
            "assay_version": __version__, "blessed": int(bool(result.blessed)),
            "outcome": result.validation.get("outcome"),
            "config": json.dumps(result.config, sort_keys=True) if result.config else None,
            "output": artifact_uri(result.path),
        })
        counters: Dict[str, int] = {}
        edges = []
        for item in inputs:
            index = counters.get(item.key, 0)
            counters[item.key] = index + 1
            edges.append((0, None, _event(pb.Event.INPUT, item.key, index, item.artifact_id)))
        edges.append((0, 0, _event(pb.Event.OUTPUT, EVALUATION_KEY, 0)))
        edges.append((0, 1, _event(pb.Event.OUTPUT, BLESSING_KEY, 0)))
        (execution_id,), (evaluation_id, blessing_id), _ = store.put_lineage_subgraph(
            [execution], [evaluation, blessing], contexts, edges,
            reuse_context_if_already_exist=True)
        return Recorded(
            execution_id=execution_id, evaluation_id=evaluation_id, blessing_id=blessing_id,
            model_id=current.artifact_id if current else None,
            baseline_id=base.artifact_id if base else None,
            examples_ids=tuple(i.artifact_id for i in inputs if i.key == EXAMPLES_KEY),
            pipeline=pipeline, run_id=run_id)

    return _with_retries(step, "recording the evaluation in ML Metadata")


# --------------------------------------------------------------------------------------------
# The latest blessed model

@dataclasses.dataclass(frozen=True)
class BlessedModel:
    """A Model artifact and the ModelBlessing that blessed it."""

    model_id: int
    uri: str
    blessing_id: int


def _pipeline_outputs(store: metadata_store.MetadataStore, pipeline: str,
                      type_name: str) -> List[pb.Artifact]:
    """LIVE artifacts of a type that are outputs of executions in the pipeline's context: what
    TFX hands a Resolver's `Channel(type=...)` (tfx/orchestration/portable/input_resolution/
    channel_resolver.py)."""
    context = store.get_context_by_type_and_name(PIPELINE_CONTEXT, pipeline)
    if context is None:
        return []
    executions = store.get_executions_by_context(context.id)
    if not executions:
        return []
    events = store.get_events_by_execution_ids([e.id for e in executions])
    ids = sorted({e.artifact_id for e in events if e.type in _OUTPUT_EVENTS})
    if not ids:
        return []
    try:
        wanted = store.get_artifact_type(type_name).id
    except errors.NotFoundError:
        return []
    return [a for a in store.get_artifacts_by_id(ids)
            if a.type_id == wanted and a.state == pb.Artifact.LIVE]


def _int_property(artifact: pb.Artifact, key: str) -> int:
    # As tfx.types.Artifact.get_int_custom_property: 0 when absent.
    value = artifact.custom_properties.get(key)
    return value.int_value if value is not None else 0


def latest_blessed_model(store: metadata_store.MetadataStore,
                         pipeline: str = DEFAULT_PIPELINE) -> Optional[BlessedModel]:
    """The latest blessed Model of a pipeline, as TFX's LatestBlessedModelStrategy picks it.

    Returns None when the pipeline has no blessed model (the first model): TFX's resolver then
    hands the Evaluator no baseline, and so does `--baseline latest-blessed`.

    Example:
        >>> found = latest_blessed_model(connect("sqlite:metadata.db"), "taxi")  # doctest: +SKIP
        >>> found.uri, found.model_id                                            # doctest: +SKIP
        ('/pipelines/taxi/Trainer/model/7', 7)
    """
    def step() -> Optional[BlessedModel]:
        models = _pipeline_outputs(store, pipeline, MODEL)
        blessings = _pipeline_outputs(store, pipeline, MODEL_BLESSING)
        if not models or not blessings:
            return None
        blessed = {_int_property(b, "current_model_id"): b for b in blessings
                   if _int_property(b, "blessed") == 1}
        for model in sorted(models, key=lambda a: a.id, reverse=True):
            if model.id in blessed:
                return BlessedModel(model.id, model.uri, blessed[model.id].id)
        return None

    return _with_retries(step, "looking up the latest blessed model")


__all__ = ["BlessedModel", "DEFAULT_PIPELINE", "Recorded", "artifact_types", "artifact_uri",
           "connect", "connection_config", "examples_uri", "get_artifact", "latest_blessed_model",
           "record_evaluation"]


def evaluations(store: metadata_store.MetadataStore,
                pipeline: str = DEFAULT_PIPELINE) -> List[pb.Artifact]:
    """The LIVE ModelEvaluation artifacts of a pipeline, oldest first (by artifact id).

    Their URIs are results directories (assay's CLI with --mlmd, or assay.tfx.Evaluator), which
    `assay report --mlmd STORE --mlmd-pipeline NAME` charts over model versions.
    """
    return _with_retries(
        lambda: sorted(_pipeline_outputs(store, pipeline, MODEL_EVALUATION), key=lambda a: a.id),
        "listing the evaluations")
