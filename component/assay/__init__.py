"""assay: evaluate a candidate model against a baseline, overall and slice by slice, on Beam.

    import assay
    result = assay.evaluate("config.yaml", examples="eval/*.tfrecord.gz", output="out/")
    result.metrics()["auc"]; result.metrics({"hour": 3}, model="diff")
    result = assay.evaluate(config, df, model=clf)  # a DataFrame, a fitted model; in memory
    result.to_dataframe(); result.save("out/")
    assay.load_result("out/")
    assay.validate("out/", "stricter.yaml").reasons     # re-judge a stored evaluation

Errors are assay.errors' tree (AssayError > ConfigError, DataError, ModelError, ...), each with
the CLI's exit code.

Heavy modules (Beam, TensorFlow) are imported on first use.
"""

__version__ = "0.1.0"

_LAZY = {
    "evaluate": ("assay.api", "evaluate"),
    "load_config": ("assay.api", "load_config"),
    "validate": ("assay.api", "validate"),
    "ValidationResult": ("assay.validation.verdict", "ValidationResult"),
    "load_result": ("assay.results.result", "load_result"),
    "EvalResult": ("assay.results.result", "EvalResult"),
    "EvalConfig": ("assay.config.schema", "EvalConfig"),
    "AssayError": ("assay.errors", "AssayError"),
    "ConfigError": ("assay.errors", "ConfigError"),
    "DataError": ("assay.errors", "DataError"),
    "ModelError": ("assay.errors", "ModelError"),
    "Metric": ("assay.metrics.base", "Metric"),
    "ModelBatch": ("assay.metrics.batch", "ModelBatch"),
    "SliceNotFound": ("assay.results.lookup", "SliceNotFound"),
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'assay' has no attribute '{name}'")
