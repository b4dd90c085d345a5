"""The reference evaluation drift is measured against: read its sketches, or resolve
`latest-blessed` / `previous` from ML Metadata.

A results directory that cannot be read is a ConfigError before the pass (`check_reference`,
called by assay.evaluate), naming the directory and why. An ML Metadata source that finds no
evaluation (a pipeline's first run) is no error: the drift section says so, and drift
thresholds fail with that reason.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

from assay.drift.config import ReferenceConfig
from assay.errors import AssayError, ConfigError


def read_reference(ref: ReferenceConfig) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
    """(the reference's sketches document, None) or (None, why there is none).

    Raises:
      ConfigError: the reference directory holds no readable result, or no sketches.
    """
    directory = ref.directory
    if directory is None:
        return None, ref.note or (f"reference '{ref.source}' is resolved from ML Metadata: "
                                  f"give the store (assay evaluate --mlmd STORE)")
    from assay.drift.files import SKETCHES_FILE, read_sketches
    from assay.results.result import load_result

    try:
        result = load_result(directory)
        doc = read_sketches(result.location)
    except AssayError as e:
        raise ConfigError(f"reference {directory} cannot be read: {e}") from None
    if doc is None:
        raise ConfigError(f"reference {directory} holds no {SKETCHES_FILE} (it was written by "
                          f"an assay that did not store sketches); evaluate the reference data "
                          f"again, or give another reference")
    return doc, None


def check_reference(cfg: Any) -> None:
    """Raises ConfigError now, before the pass, when the config's reference cannot be read."""
    ref = cfg.feature("reference")
    if ref is not None:
        read_reference(ref)


def resolve_mlmd(store: Any, ref: ReferenceConfig, pipeline: str) -> ReferenceConfig:
    """The reference with `results` set from ML Metadata: the newest ModelEvaluation of the
    pipeline ("previous"), or the newest whose execution also output a blessed ModelBlessing
    ("latest-blessed"). None found: `note` says so."""
    if not ref.from_mlmd:
        return ref
    from assay import mlmd

    found = None
    for artifact in reversed(mlmd.evaluations(store, pipeline)):
        if ref.source == "previous" or _blessed(store, artifact.id):
            found = artifact
            break
    if found is None:
        what = "evaluation" if ref.source == "previous" else "blessed evaluation"
        return ReferenceConfig(ref.source, note=f"reference '{ref.source}': pipeline "
                                                f"'{pipeline}' has no {what} in ML Metadata")
    return ReferenceConfig(ref.source, results=found.uri, artifact_id=found.id)


def _blessed(store: Any, evaluation_id: int) -> bool:
    """Whether the execution that output the evaluation also output a blessed ModelBlessing."""
    from ml_metadata.proto import metadata_store_pb2 as pb

    events = store.get_events_by_artifact_ids([evaluation_id])
    executions = {e.execution_id for e in events if e.type == pb.Event.OUTPUT}
    if not executions:
        return False
    outputs = [e.artifact_id for e in store.get_events_by_execution_ids(sorted(executions))
               if e.type == pb.Event.OUTPUT and e.artifact_id != evaluation_id]
    for artifact in store.get_artifacts_by_id(outputs):
        blessed = artifact.custom_properties.get("blessed")
        if blessed is not None and blessed.int_value == 1:
            return True
    return False


def resolve_config(cfg: Any, store: Any, pipeline: str) -> Any:
    """The config with an ML Metadata reference resolved (the same config otherwise)."""
    ref = cfg.feature("reference")
    if ref is None or not ref.from_mlmd:
        return cfg
    resolved = resolve_mlmd(store, ref, pipeline)
    raw = cfg.to_dict()
    raw["reference"] = resolved.to_config()
    return type(cfg).from_dict(raw)


__all__ = ["check_reference", "cli_reference", "read_reference", "resolve_config", "resolve_mlmd"]


def cli_reference(config: Any, given: Optional[str], store: Any, pipeline: Optional[str]) -> Any:
    """The CLI's config with `--reference` applied and an ML Metadata reference resolved in
    `store` (when given); `config` itself when neither changes anything."""
    import assay

    cfg = assay.load_config(config)
    ref = cfg.feature("reference")
    if given is not None:
        from assay.drift.config import parse_reference

        try:
            ref = parse_reference(given)
        except ConfigError as e:
            raise ConfigError(f"--reference: {e}") from None
    if ref is None or (given is None and (store is None or not ref.from_mlmd)):
        return config
    if store is not None and ref.from_mlmd:
        from assay import mlmd

        ref = resolve_mlmd(store, ref, pipeline or mlmd.DEFAULT_PIPELINE)
        found = ref.note or f"evaluation {ref.artifact_id} at {ref.results}"
        print(f"assay: drift reference: {found}")
    features = dict(cfg.feature_configs)
    features["reference"] = ref
    return cfg.replace(feature_configs=tuple(features.items()))
