"""TFMA metrics in assay's terms: metric class names, their settings, and their thresholds.

The part of `assay.config.tfma` that translates one `tfma.MetricConfig` (a Keras or TFMA metric
class with its JSON `config`) to an assay metric name, and one `tfma.MetricThreshold` to an
assay threshold. `Translation` collects everything that cannot be translated, so that one error
names every unsupported part at once.

Example:
    >>> tr = Translation()
    >>> tr.metric("metrics[0]", {"class_name": "Precision", "config": '"thresholds": 0.3'})
    ('precision', 'precision@0.3', 1.0)
    >>> tr.decision_thresholds, tr.problems
    ([0.3], [])
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple

__all__ = ["METRIC_NAMES", "Translation", "default_metric_name", "unwrapped"]


# TFMA / Keras metric class -> assay metric name (None: a plot, which assay always writes).
METRIC_NAMES: Dict[str, Optional[str]] = {
    "ExampleCount": "example_count",
    "WeightedExampleCount": "weighted_example_count",
    "AUC": "auc",
    "AUCPrecisionRecall": "auc_pr",
    "BinaryAccuracy": "accuracy",
    "Accuracy": "accuracy",
    "CategoricalAccuracy": "accuracy",
    "SparseCategoricalAccuracy": "accuracy",
    "Precision": "precision",
    "Recall": "recall",
    "F1Score": "f1",
    "Specificity": "specificity",
    "FallOut": "false_positive_rate",
    "TruePositives": "tp",
    "FalsePositives": "fp",
    "TrueNegatives": "tn",
    "FalseNegatives": "fn",
    "BinaryCrossentropy": "log_loss",
    "BinaryCrossEntropy": "log_loss",
    "CategoricalCrossentropy": "log_loss",
    "CategoricalCrossEntropy": "log_loss",
    "SparseCategoricalCrossentropy": "log_loss",
    "MeanLabel": "mean_label",
    "MeanPrediction": "mean_prediction",
    "Calibration": "calibration",
    "MeanSquaredError": "mse",
    "RootMeanSquaredError": "rmse",
    "MeanAbsoluteError": "mae",
    "MeanAbsolutePercentageError": "mape",
    "TopKCategoricalAccuracy": "top_k_accuracy",
    "SparseTopKCategoricalAccuracy": "top_k_accuracy",
    "CalibrationPlot": None,
    "ConfusionMatrixPlot": None,
    "MultiClassConfusionMatrixPlot": None,
}
# TFMA/Keras report MAPE in percent, assay as a fraction: bounds are scaled by this.
_SCALE = {"MeanAbsolutePercentageError": 0.01}
# Metrics with a decision threshold (Keras `thresholds` / `threshold`), and whether assay has
# an `@t` variant of them for thresholds other than its first decision threshold (0.5).
_AT_THRESHOLD = {"BinaryAccuracy", "Precision", "Recall", "F1Score", "TruePositives",
                 "FalsePositives", "TrueNegatives", "FalseNegatives", "Specificity", "FallOut"}
_NO_AT_VARIANT = {"Specificity", "FallOut"}
_ALWAYS_AT = {"TruePositives", "FalsePositives", "TrueNegatives", "FalseNegatives"}
# Metric config keys that change nothing when they hold these values (Keras/TFMA defaults).
_HARMLESS = {"name": None, "dtype": None, "num_thresholds": None, "summation_method": None,
             "num_buckets": None, "left": None, "right": None, "axis": -1, "fn": None,
             "reduction": None, "from_logits": False, "label_smoothing": 0.0, "top_k": None,
             "class_id": None, "multi_label": False, "num_labels": None, "label_weights": None,
             "curve": "ROC", "thresholds": None, "threshold": None, "k": None}
_KERAS_MODULES = ("", "tensorflow_model_analysis", "tensorflow_model_analysis.metrics",
                  "tf_keras.metrics", "tensorflow.keras.metrics", "keras.metrics",
                  "tf_keras.losses", "tensorflow.keras.losses", "keras.losses")
_DIRECTIONS = {"HIGHER_IS_BETTER": "higher", "LOWER_IS_BETTER": "lower", 2: "higher", 1: "lower"}
FIRST_DECISION_THRESHOLD = 0.5


def unwrapped(value: Any) -> Any:
    """A wrapper-proto value (`{'value': 0.7}` in a hand-written dict) unwrapped."""
    if isinstance(value, Mapping) and set(value) <= {"value"}:
        return value.get("value", 0)
    return value


def default_metric_name(class_name: str) -> str:
    """The name TFMA gives a metric with no configured name: its class name in snake_case."""
    intermediate = re.sub("(.)([A-Z][a-z0-9]+)", r"\1_\2", class_name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", intermediate).lower()


def _format_threshold(t: float) -> str:
    from assay.metrics.binary import format_threshold

    return format_threshold(t)


class Translation:
    """Translates metrics and thresholds; collects every unsupported part found on the way.

    Attributes:
      problems: "where: what" for each part that cannot be translated.
      decision_thresholds: decision thresholds other than 0.5 that translated metrics use.
      top_k: the k of every top-k metric seen.
      weight: the example weight column, when the config has one.
    """

    def __init__(self):
        self.problems: List[str] = []
        self.decision_thresholds: List[float] = []
        self.top_k: List[int] = []
        self.weight: Optional[str] = None

    def unsupported(self, where: str, what: str) -> None:
        self.problems.append(f"{where}: {what}")

    # -- metrics ------------------------------------------------------------------------------

    def metric(self, where: str, metric: Mapping[str, Any]) -> Tuple[str, Optional[str], float]:
        """(the TFMA metric name, the assay metric name or None for plots, bound scale)."""
        class_name = metric.get("class_name", "")
        raw = metric.get("config") or ""
        try:
            cfg = json.loads(raw if raw.startswith("{") else "{" + raw + "}") if raw else {}
        except ValueError:
            self.unsupported(where, f"config {raw!r} is not JSON")
            cfg = {}
        tfma_name = cfg.get("name") or default_metric_name(class_name)
        if metric.get("module", "") not in _KERAS_MODULES:
            self.unsupported(where, f"custom metric module '{metric['module']}' "
                                    f"(use assay's custom_metrics instead)")
            return tfma_name, None, 1.0
        if class_name not in METRIC_NAMES:
            self.unsupported(where, f"metric class '{class_name}' has no assay equivalent "
                                    f"(supported: {', '.join(sorted(METRIC_NAMES))})")
            return tfma_name, None, 1.0
        name = METRIC_NAMES[class_name]
        handled = {"name", "dtype"}
        if class_name == "AUC" and str(cfg.get("curve", "ROC")).upper() == "PR":
            name = "auc_pr"
            handled.add("curve")
        if class_name in _AT_THRESHOLD:
            t = cfg.get("thresholds", cfg.get("threshold"))
            handled |= {"thresholds", "threshold"}
            if isinstance(t, list):
                if len(t) != 1:
                    self.unsupported(where, f"{class_name} with several thresholds {t}; give "
                                            f"one MetricConfig per threshold")
                    t = None
                else:
                    t = t[0]
            t = FIRST_DECISION_THRESHOLD if t is None else float(t)
            if t != FIRST_DECISION_THRESHOLD or class_name in _ALWAYS_AT:
                if class_name in _NO_AT_VARIANT:
                    self.unsupported(where, f"{class_name} at threshold {t} (assay computes "
                                            f"{name} at its first decision threshold, 0.5)")
                else:
                    name = f"{name}@{_format_threshold(t)}"
                    if t != FIRST_DECISION_THRESHOLD and t not in self.decision_thresholds:
                        self.decision_thresholds.append(t)
        if name == "top_k_accuracy":
            k = int(cfg.get("k", 5))
            handled.add("k")
            name = f"top_{k}_accuracy"
            if k not in self.top_k:
                self.top_k.append(k)
        for key, value in cfg.items():
            if key in handled or value is None or value == _HARMLESS.get(key, object()):
                continue
            if key in ("num_thresholds", "summation_method", "num_buckets", "reduction", "fn"):
                continue  # how TFMA approximates; assay computes its own way
            self.unsupported(where, f"{class_name} config '{key}': {value!r}")
        return tfma_name, name, _SCALE.get(class_name, 1.0)

    def threshold(self, where: str, metric: Optional[str], scale: float,
                  threshold: Mapping[str, Any], slices: List[Any]) -> Optional[Dict[str, Any]]:
        """One assay threshold from a TFMA MetricThreshold (None when it bounds nothing)."""
        if metric is None:
            self.unsupported(where, "a threshold on a plot or an untranslatable metric")
            return None
        out: Dict[str, Any] = {"metric": metric}
        value = threshold.get("value_threshold") or {}
        if "lower_bound" in value:
            out["min"] = float(unwrapped(value["lower_bound"])) * scale
        if "upper_bound" in value:
            out["max"] = float(unwrapped(value["upper_bound"])) * scale
        change = threshold.get("change_threshold")
        if change is not None and ("absolute" in change or "relative" in change):
            direction = _DIRECTIONS.get(change.get("direction", "UNKNOWN"))
            if direction is None:
                self.unsupported(where, f"change_threshold on {metric} without a direction "
                                        f"(HIGHER_IS_BETTER or LOWER_IS_BETTER)")
                return None
            from assay.metrics.registry import metric_direction

            known = metric_direction(metric)
            if known is not None and known != direction:
                self.unsupported(where, f"change_threshold on {metric} says {direction} is "
                                        f"better, but {known} {metric} is better")
                return None
            if known is None:
                out["direction"] = direction
            sign = -1.0 if direction == "higher" else 1.0
            regression = {}
            if "absolute" in change:
                regression["absolute"] = sign * float(unwrapped(change["absolute"])) * scale
            if "relative" in change:
                regression["relative"] = sign * float(unwrapped(change["relative"]))
            out["max_regression"] = regression
        if len(out) == 1:
            return None
        if slices != [[]]:
            out["slices"] = slices
        return out
