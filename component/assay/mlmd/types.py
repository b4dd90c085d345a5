"""The types, contexts, events and property values assay writes to ML Metadata, named and
defined exactly as TFX 1.16 names and defines them, so TFX's resolvers and lineage tools read
assay's records as their own."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Dict, List, Mapping, Optional

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb

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
OUTPUT_EVENTS = (pb.Event.OUTPUT, pb.Event.INTERNAL_OUTPUT, pb.Event.DECLARED_OUTPUT)


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


@dataclasses.dataclass(frozen=True)
class TypeIds:
    """The store's ids of the types assay writes: artifacts and contexts by type name."""

    artifacts: Mapping[str, int]
    execution: int
    importer: int
    contexts: Mapping[str, int]


def register_types(store: metadata_store.MetadataStore) -> TypeIds:
    """Registers (or finds) every type assay writes; returns their ids."""
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
    return TypeIds(artifacts, execution, importer, contexts)


def _set_value(target: pb.Value, value: Any) -> None:
    # bool before int: bool is an int, and TFX stores flags such as `blessed` as ints.
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


def set_properties(message: Any, values: Mapping[str, Any]) -> None:
    """Sets the custom properties of an artifact or execution; None values are left out."""
    for key, value in values.items():
        if value is not None:
            _set_value(message.custom_properties[key], value)


def contexts(types: TypeIds, pipeline: str, run_id: str) -> List[pb.Context]:
    """The pipeline, pipeline_run and node contexts of one run, as TFX names them."""
    return [
        pb.Context(type_id=types.contexts[PIPELINE_CONTEXT], name=pipeline),
        pb.Context(type_id=types.contexts[PIPELINE_RUN_CONTEXT], name=run_id),
        pb.Context(type_id=types.contexts[NODE_CONTEXT], name=f"{pipeline}.{NODE_ID}"),
    ]


def event(kind: int, key: str, index: int, artifact_id: Optional[int] = None) -> pb.Event:
    """An event with TFX's path: [key, index] (the channel name and the artifact's position)."""
    out = pb.Event(type=kind)
    if artifact_id is not None:
        out.artifact_id = artifact_id
    out.path.steps.add().key = key
    out.path.steps.add().index = index
    return out
