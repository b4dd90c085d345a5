"""ML Metadata outside TFX: record an evaluation, find the latest blessed model.

A standalone `assay evaluate --mlmd STORE` records what a TFX Evaluator run would (see
`assay.mlmd.record`), and `--baseline latest-blessed` picks the baseline as TFX's
LatestBlessedModelStrategy would (see `assay.mlmd.query`).

    from assay import mlmd
    store = mlmd.connect("sqlite:metadata.db")             # or "mysql://user:pass@host:3306/db"
    baseline = mlmd.latest_blessed_model(store, pipeline="taxi")   # a BlessedModel, or None
    result = assay.evaluate(config, examples, "out/", baseline=baseline and baseline.uri)
    recorded = mlmd.record_evaluation(store, result, examples=[examples], pipeline="taxi",
                                      baseline_id=baseline and baseline.model_id)
    recorded.blessing_id, recorded.execution_id

Modules: `connection` (store URIs, connecting, retries, MetadataError), `types` (TFX's type
definitions, contexts, events), `record` (record_evaluation), `query` (get_artifact,
latest_blessed_model, evaluations). A bad store URI or artifact id raises ConfigError; a store
that cannot be reached, read or written raises MetadataError (exit status 5).

Importing `assay.mlmd` does not import ml-metadata: the names below load it on first use.
"""

_LAZY = {
    "connect": "assay.mlmd.connection", "connection_config": "assay.mlmd.connection",
    "redact": "assay.mlmd.uri",
    "artifact_types": "assay.mlmd.types", "DEFAULT_PIPELINE": "assay.mlmd.types",
    "EXAMPLES": "assay.mlmd.types", "MODEL": "assay.mlmd.types",
    "MODEL_BLESSING": "assay.mlmd.types", "MODEL_EVALUATION": "assay.mlmd.types",
    "Recorded": "assay.mlmd.record", "artifact_uri": "assay.mlmd.record",
    "examples_uri": "assay.mlmd.record", "record_evaluation": "assay.mlmd.record",
    "BlessedModel": "assay.mlmd.query", "evaluations": "assay.mlmd.query",
    "get_artifact": "assay.mlmd.query", "latest_blessed_model": "assay.mlmd.query",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        import importlib

        if _LAZY[name] != "assay.mlmd.uri":
            from assay.extras import require

            require("ml_metadata", "mlmd", "ML Metadata (--mlmd, assay.mlmd)")
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'assay.mlmd' has no attribute '{name}'")
