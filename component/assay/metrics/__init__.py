"""Built-in metric families, the names they produce and which value of each is better.

    from assay.metrics import BinaryMetrics
    metric = BinaryMetrics(thresholds=(0.3, 0.5))
    values = metric.result(metric.add(metric.create(), batch))   # {"auc": ..., "f1@0.3": ...}

    base.py         the accumulator contract (Metric), shared helpers, the custom metric check
    binary.py, multiclass.py, regression.py   one family each, with its names and directions
    curves.py       score counts and the ROC / PR areas and curves read from them
    registry.py     directions of built-in names, headline metrics per task (imports no numpy)

DEFAULT_METRIC_NAMES lists, per family, the scalar names produced with default options; the
config checks `metrics: [auc, accuracy]` against it. Multi-class per-class names
(`precision/{class}`) depend on the class names and are not listed; top_3_accuracy is produced
only with more than 3 classes. The names below are loaded on first use, so that the registry
(which the config asks while it is parsed) does not import numpy.
"""

import importlib

_LAZY = {
    "Metric": "assay.metrics.base",
    "BinaryMetrics": "assay.metrics.binary",
    "format_threshold": "assay.metrics.binary",
    "MulticlassMetrics": "assay.metrics.multiclass",
    "RegressionMetrics": "assay.metrics.regression",
    "HEADLINE_METRICS": "assay.metrics.registry",
    "HIGHER": "assay.metrics.registry",
    "LOWER": "assay.metrics.registry",
    "metric_direction": "assay.metrics.registry",
    "metric_info": "assay.metrics.registry",
}

__all__ = sorted(_LAZY) + ["DEFAULT_METRIC_NAMES"]


def __getattr__(name):
    if name == "DEFAULT_METRIC_NAMES":
        from assay.metrics.registry import TASKS, task_directions

        return {task: list(task_directions(task)) for task in TASKS}
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'assay.metrics' has no attribute '{name}'")
