"""Reading ML Metadata: an artifact by id, the latest blessed model, a pipeline's evaluations.

`latest_blessed_model` is TFX's LatestBlessedModelStrategy run over what a TFX Resolver in
pipeline `pipeline` would be handed: the LIVE Model and ModelBlessing artifacts that are outputs
of executions in the pipeline's context. The latest (highest id) Model that a ModelBlessing with
`blessed` = 1 names in `current_model_id` wins.
"""

from __future__ import annotations

import dataclasses
from typing import List, Optional

from ml_metadata import errors
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb

from assay.errors import ConfigError, ConfigTypeError
from assay.mlmd.connection import reported, with_retries
from assay.mlmd.types import (DEFAULT_PIPELINE, MODEL, MODEL_BLESSING, MODEL_EVALUATION,
                              OUTPUT_EVENTS, PIPELINE_CONTEXT)


def get_artifact(store: metadata_store.MetadataStore, artifact_id: int, type_name: str
                 ) -> pb.Artifact:
    """The artifact with this id, checked to be of TFX type `type_name`.

    Raises:
      ConfigError: no such artifact, or one of another type (ConfigTypeError: the id is not
        an int).
      MetadataError: the store cannot be read.
    """
    if isinstance(artifact_id, bool) or not isinstance(artifact_id, int):
        raise ConfigTypeError(f"an artifact id must be an int (got {artifact_id!r}, a "
                              f"{type(artifact_id).__name__})")
    with reported(f"reading artifact {artifact_id}"):
        found = store.get_artifacts_by_id([artifact_id])
        if not found:
            raise ConfigError(f"ML Metadata holds no artifact with id {artifact_id}")
        artifact = found[0]
        actual = store.get_artifact_types_by_id([artifact.type_id])[0].name
    if actual != type_name:
        raise ConfigError(f"artifact {artifact_id} is a {actual}, not a {type_name} "
                          f"(its URI: {artifact.uri})")
    return artifact


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
    ids = sorted({e.artifact_id for e in events if e.type in OUTPUT_EVENTS})
    if not ids:
        return []
    try:
        wanted = store.get_artifact_type(type_name).id
    except errors.NotFoundError:    # a store nobody has written this type to yet
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

    Raises:
      MetadataError: the store cannot be read.

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

    return with_retries(step, "looking up the latest blessed model")


def evaluations(store: metadata_store.MetadataStore,
                pipeline: str = DEFAULT_PIPELINE) -> List[pb.Artifact]:
    """The LIVE ModelEvaluation artifacts of a pipeline, oldest first (by artifact id).

    Their URIs are results directories (assay's CLI with --mlmd, or assay.tfx.Evaluator), which
    `assay report --mlmd STORE --mlmd-pipeline NAME` charts over model versions.

    Raises:
      MetadataError: the store cannot be read.
    """
    return with_retries(
        lambda: sorted(_pipeline_outputs(store, pipeline, MODEL_EVALUATION), key=lambda a: a.id),
        "listing the evaluations")


@dataclasses.dataclass(frozen=True)
class EvaluationEntry:
    """One ModelEvaluation of a pipeline, with what its execution blessed and evaluated.

    Attributes:
      evaluation_id, uri: the ModelEvaluation artifact (its URI is a results directory).
      blessed: the `blessed` property of the ModelBlessing the same execution wrote (None
        when it wrote none).
      model_id, model_uri: the Model artifact that was its `model` input (None: a prediction
        column, or an evaluation recorded without one).
      time_ms: when the artifact was created (milliseconds since the epoch).
    """

    evaluation_id: int
    uri: str
    blessed: Optional[bool]
    model_id: Optional[int]
    model_uri: Optional[str]
    time_ms: int


def evaluation_history(store: metadata_store.MetadataStore,
                       pipeline: str = DEFAULT_PIPELINE) -> List[EvaluationEntry]:
    """The LIVE ModelEvaluations of a pipeline, oldest first, each with its blessing and model
    (read from the events of the execution that wrote it: TFX's Evaluator or assay's).

    Raises:
      MetadataError: the store cannot be read.
    """
    def step() -> List[EvaluationEntry]:
        found = sorted(_pipeline_outputs(store, pipeline, MODEL_EVALUATION), key=lambda a: a.id)
        if not found:
            return []
        writers = {e.artifact_id: e.execution_id
                   for e in store.get_events_by_artifact_ids([a.id for a in found])
                   if e.type in OUTPUT_EVENTS}
        events = store.get_events_by_execution_ids(sorted(set(writers.values())))
        by_execution: dict = {}
        for e in events:
            by_execution.setdefault(e.execution_id, []).append(e)
        ids = sorted({e.artifact_id for e in events})
        artifacts = {a.id: a for a in store.get_artifacts_by_id(ids)} if ids else {}
        types = {t.id: t.name for t in store.get_artifact_types()}
        out = []
        for evaluation in found:
            blessed, model = None, None
            for e in by_execution.get(writers.get(evaluation.id), []):
                a = artifacts.get(e.artifact_id)
                kind = a is not None and types.get(a.type_id)
                if kind == MODEL_BLESSING and e.type in OUTPUT_EVENTS:
                    blessed = _int_property(a, "blessed") == 1
                elif kind == MODEL and e.type == pb.Event.INPUT and \
                        [s.key for s in e.path.steps if s.HasField("key")][:1] == ["model"]:
                    model = a
            out.append(EvaluationEntry(evaluation.id, evaluation.uri, blessed,
                                       model.id if model else None, model.uri if model else None,
                                       evaluation.create_time_since_epoch))
        return out

    return with_retries(step, "reading the evaluation history")


__all__ = ["BlessedModel", "EvaluationEntry", "evaluation_history", "evaluations", "get_artifact",
           "latest_blessed_model"]
