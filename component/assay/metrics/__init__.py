"""Built-in metric families and the names they produce.

    from assay.metrics import BinaryMetrics
    metric = BinaryMetrics(thresholds=(0.3, 0.5))
    values = metric.result(metric.add(metric.create(), batch))   # {"auc": ..., "f1@0.3": ...}

DEFAULT_METRIC_NAMES lists, per family, the scalar names produced with default options; the
config checks `metrics: [auc, accuracy]` against it. Multi-class per-class names
(`precision/{class}`) depend on the class names and are not listed; top_3_accuracy is produced
only with more than 3 classes.
"""

from assay.metrics.base import Metric
from assay.metrics.binary import BinaryMetrics, binary_metric_names, format_threshold
from assay.metrics.multiclass import MulticlassMetrics, aggregate_metric_names
from assay.metrics.regression import RegressionMetrics, regression_metric_names

DEFAULT_METRIC_NAMES = {
    "binary": binary_metric_names(),
    "multiclass": aggregate_metric_names(),
    "regression": regression_metric_names(),
}

__all__ = [
    "BinaryMetrics", "DEFAULT_METRIC_NAMES", "Metric", "MulticlassMetrics", "RegressionMetrics",
    "format_threshold",
]
