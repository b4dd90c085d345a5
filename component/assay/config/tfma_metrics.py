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

from assay.config.tfma_models import CROSS_MODEL_CLASSES
from assay.metrics.tfma_names import (DEFAULT_AREA_THRESHOLDS, DEFAULT_CONSTRAINED_THRESHOLDS,
                                      tfma_name as family_name)

__all__ = ["METRIC_NAMES", "Translation", "default_metric_name", "unwrapped"]


# TFMA / Keras metric class -> assay metric name (None: a plot, which assay always writes).
# Names with TFMA's own semantics (auc_tfma, binary_crossentropy, ...) are computed by
# assay.metrics.tfma_family when a config asks for them; see assay.metrics.tfma_names.
METRIC_NAMES: Dict[str, Optional[str]] = {
    "ExampleCount": "example_count",
    "WeightedExampleCount": "weighted_example_count",
    "AUC": "auc_tfma",
    "AUCPrecisionRecall": "auc_pr_tfma",
    "BinaryAccuracy": "accuracy",
    "Accuracy": "accuracy",
    "CategoricalAccuracy": "accuracy",
    "SparseCategoricalAccuracy": "accuracy",
    "Precision": "precision",
    "PPV": "precision",
    "Recall": "recall",
    "TPR": "recall",
    "F1Score": "f1",
    "Specificity": "specificity",
    "TNR": "specificity",
    "FallOut": "false_positive_rate",
    "FPR": "false_positive_rate",
    "TruePositives": "tp",
    "TP": "tp",
    "FalsePositives": "fp",
    "FP": "fp",
    "TrueNegatives": "tn",
    "TN": "tn",
    "FalseNegatives": "fn",
    "FN": "fn",
    "BinaryCrossentropy": "binary_crossentropy",  # Keras' (clipped to [1e-7, 1 - 1e-7])
    "BinaryCrossEntropy": "log_loss",  # TFMA's own, unclipped: equal unless p is 0 or 1
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
    "MeanSquaredLogarithmicError": "mean_squared_logarithmic_error",
    "SquaredPearsonCorrelation": "squared_pearson_correlation",
    "CoefficientOfDiscrimination": "coefficient_of_discrimination",
    "RelativeCoefficientOfDiscrimination": "relative_coefficient_of_discrimination",
    "MaxRecall": "max_recall",
    "TopKCategoricalAccuracy": "top_k_accuracy",
    "SparseTopKCategoricalAccuracy": "top_k_accuracy",
    "CalibrationPlot": None,
    "ConfusionMatrixPlot": None,
    "MultiClassConfusionMatrixPlot": None,
    # Matrices at thresholds: assay writes tp@t, fp@t, tn@t, fn@t for each threshold, and
    # its multi-class confusion matrix plot.
    "ConfusionMatrixAtThresholds": None,
    "MultiClassConfusionMatrixAtThresholds": None,
    "ScoreDistributionPlot": "score_distribution_plot",  # a plot, computed when asked
}
# TFMA's ConfusionMatrixMetric classes computed by assay.metrics.tfma_family as {formula}@{t}.
_FORMULAS = {
    "MissRate": "false_negative_rate", "FNR": "false_negative_rate",
    "NegativePredictiveValue": "negative_predictive_value", "NPV": "negative_predictive_value",
    "FalseDiscoveryRate": "false_discovery_rate", "FalseOmissionRate": "false_omission_rate",
    "Prevalence": "prevalence", "PrevalenceThreshold": "prevalence_threshold",
    "ThreatScore": "threat_score", "BalancedAccuracy": "balanced_accuracy",
    "MatthewsCorrelationCoefficient": "matthews_correlation_coefficient",
    "FowlkesMallowsIndex": "fowlkes_mallows_index", "Informedness": "informedness",
    "Markedness": "markedness", "PositiveLikelihoodRatio": "positive_likelihood_ratio",
    "NegativeLikelihoodRatio": "negative_likelihood_ratio",
    "DiagnosticOddsRatio": "diagnostic_odds_ratio",
    "PredictedPositiveRate": "predicted_positive_rate",
}
METRIC_NAMES.update(_FORMULAS)
# Cross-model metrics (flip rates, prediction difference, cosine similarity): translated to
# cross_model_metrics by assay.config.tfma_models, before `Translation.metric` sees them.
METRIC_NAMES.update(CROSS_MODEL_CLASSES)
# Curve points under a constraint: class -> (assay base name, the config key of the value).
_CONSTRAINED = {
    "PrecisionAtRecall": ("precision_at_recall", "recall"),
    "RecallAtPrecision": ("recall_at_precision", "precision"),
    "SensitivityAtSpecificity": ("sensitivity_at_specificity", "specificity"),
    "SpecificityAtSensitivity": ("specificity_at_sensitivity", "sensitivity"),
    "RecallAtFalsePositiveRate": ("recall_at_false_positive_rate", "false_positive_rate"),
}
METRIC_NAMES.update((c, base) for c, (base, _) in _CONSTRAINED.items())
# TFMA/Keras report MAPE in percent, assay as a fraction: bounds are scaled by this.
_SCALE = {"MeanAbsolutePercentageError": 0.01}
# Metrics with a decision threshold (Keras `thresholds` / `threshold`). assay's binary family
# has those of _BINARY_AT at any of its decision thresholds (precision@0.3, named without the
# @ at its first one, 0.5); the others are {formula}@{t} of assay.metrics.tfma_family.
_BINARY_AT = {"BinaryAccuracy", "Precision", "PPV", "Recall", "TPR", "F1Score", "TruePositives",
              "TP", "FalsePositives", "FP", "TrueNegatives", "TN", "FalseNegatives", "FN"}
_AT_THRESHOLD = _BINARY_AT | {"Specificity", "TNR", "FallOut", "FPR"} | set(_FORMULAS)
_ALWAYS_AT = {"TruePositives", "FalsePositives", "TrueNegatives", "FalseNegatives",
              "TP", "FP", "TN", "FN"}
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


# Default names that are not the class name in snake_case (tfma.metrics' *_NAME constants).
_DEFAULT_NAMES = {"BinaryCrossEntropy": "binary_crossentropy",
                  "CategoricalCrossEntropy": "categorical_crossentropy",
                  "MultiClassConfusionMatrixAtThresholds":
                      "multi_class_confusion_matrix_at_thresholds"}


def default_metric_name(class_name: str) -> str:
    """The name TFMA gives a metric with no configured name: mostly its class name in
    snake_case (tests/test_tfma_metrics.py checks every class against TFMA's own)."""
    if class_name in _DEFAULT_NAMES:
        return _DEFAULT_NAMES[class_name]
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
      tfma_names: {assay metric name: the name TFMA writes for it} of every metric translated
        (the config's `name`, else the class's default name).
    """

    def __init__(self):
        self.problems: List[str] = []
        self.decision_thresholds: List[float] = []
        self.top_k: List[int] = []
        self.weight: Optional[str] = None
        self.tfma_names: Dict[str, str] = {}
        self.unweighted = False  # the metrics spec being read asks for unweighted metrics

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
        if class_name == "FairnessIndicators":  # assay's `fairness:` (assay.config.fairness)
            self._fairness(where, cfg)
            return tfma_name, None, 1.0
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
            name = "auc_pr_tfma"
            handled.add("curve")
        if name in ("auc_tfma", "auc_pr_tfma"):
            name = self._area(where, class_name, name, cfg, handled)
        elif class_name in _CONSTRAINED:
            name = self._constrained(where, class_name, cfg, handled)
        elif class_name in _AT_THRESHOLD:
            name = self._at_threshold(where, class_name, name, cfg, handled)
        elif class_name == "ExampleCount" and self.weight and not self.unweighted:
            name = "weighted_example_count"  # TFMA weights it unless the spec says unweighted
        elif class_name == "MaxRecall" and cfg.get("thresholds") in (None, 1e-12, [1e-12]):
            handled.add("thresholds")  # MaxRecall is recall at 1e-12, written in its config
        elif class_name == "ScoreDistributionPlot":
            handled.add("num_thresholds")
            if cfg.get("num_thresholds") not in (None, 1000):
                self.unsupported(where, f"ScoreDistributionPlot num_thresholds "
                                        f"{cfg['num_thresholds']!r} (assay draws it at TFMA's "
                                        f"default, 1000)")
        elif class_name == "ConfusionMatrixAtThresholds":
            handled.add("thresholds")
            for t in cfg.get("thresholds") or []:
                self._decision_threshold(float(t))
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
        if name is not None:
            self.tfma_names.setdefault(name, tfma_name)
        return tfma_name, name, _SCALE.get(class_name, 1.0)

    def _fairness(self, where: str, cfg: Mapping[str, Any]) -> None:
        """Records a FairnessIndicators metric's thresholds (TFMA's default 0.1 ... 0.9)."""
        from assay.config.fairness import DEFAULT_THRESHOLDS

        for key in sorted(set(cfg) - {"thresholds"}):  # assay writes TFMA's default name
            if cfg[key] != "fairness_indicators_metrics" or key != "name":
                self.unsupported(where, f"FairnessIndicators config '{key}': {cfg[key]!r}")
        ts = cfg.get("thresholds")
        ts = DEFAULT_THRESHOLDS if ts is None else ts if isinstance(ts, list) else [ts]
        if not all(isinstance(t, (int, float)) and 0 <= t <= 1 for t in ts):
            self.unsupported(where, f"FairnessIndicators thresholds {ts!r} (numbers in [0, 1])")
            return
        found = getattr(self, "fairness_thresholds", None) or []
        self.fairness_thresholds = sorted(set(found) | {float(t) for t in ts})

    def _decision_threshold(self, t: float) -> None:
        if t != FIRST_DECISION_THRESHOLD and t not in self.decision_thresholds:
            self.decision_thresholds.append(t)

    def _one_value(self, where: str, class_name: str, key: str, value: Any) -> Optional[float]:
        """A threshold or constraint given as a number or a list of one; None if several."""
        if isinstance(value, list):
            if len(value) != 1:
                self.unsupported(where, f"{class_name} with several {key} {value}; give one "
                                        f"MetricConfig per value")
                return None
            value = value[0]
        return None if value is None else float(value)

    def _at_threshold(self, where: str, class_name: str, name: str, cfg: Mapping[str, Any],
                      handled: set) -> str:
        """precision, precision@0.3 (binary family) or {formula}@{t} (TFMA family)."""
        handled |= {"thresholds", "threshold"}
        t = self._one_value(where, class_name, "thresholds",
                            cfg.get("thresholds", cfg.get("threshold")))
        t = FIRST_DECISION_THRESHOLD if t is None else t
        if class_name not in _BINARY_AT:
            if t == FIRST_DECISION_THRESHOLD and name in ("specificity", "false_positive_rate"):
                return name  # the binary family's, at its first decision threshold
            return family_name(name, t)
        if t == FIRST_DECISION_THRESHOLD and class_name not in _ALWAYS_AT:
            return name
        self._decision_threshold(t)
        return f"{name}@{_format_threshold(t)}"

    def _area(self, where: str, class_name: str, name: str, cfg: Mapping[str, Any],
              handled: set) -> str:
        """auc_tfma / auc_pr_tfma, with ;n=N for a num_thresholds other than TFMA's 10000."""
        handled |= {"num_thresholds", "summation_method"}
        summation = str(cfg.get("summation_method") or "interpolation").lower()
        if summation != "interpolation":
            self.unsupported(where, f"{class_name} summation_method '{summation}' (assay "
                                    f"computes TFMA's default, 'interpolation')")
        n = cfg.get("num_thresholds")
        n = None if n in (None, DEFAULT_AREA_THRESHOLDS) else int(n)
        return family_name(name, None, n)

    def _constrained(self, where: str, class_name: str, cfg: Mapping[str, Any],
                     handled: set) -> Optional[str]:
        """precision_at_recall@0.8 and its kin, with ;n=N for a num_thresholds other than
        TFMA's 10000."""
        base, key = _CONSTRAINED[class_name]
        handled |= {key, "num_thresholds"}
        value = self._one_value(where, class_name, key, cfg.get(key))
        if value is None or not 0.0 <= value <= 1.0:
            if key in cfg and not isinstance(cfg[key], list):
                self.unsupported(where, f"{class_name} '{key}' must lie in [0, 1] "
                                        f"(got {cfg[key]!r})")
            elif key not in cfg:
                self.unsupported(where, f"{class_name} needs '{key}' (a number in [0, 1])")
            return None
        n = cfg.get("num_thresholds")
        n = None if n in (None, DEFAULT_CONSTRAINED_THRESHOLDS) else int(n)
        return family_name(base, value, n)

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
