"""The names of the TFMA-semantics metrics (assay.metrics.tfma_family), and which is better.

These metrics are computed only when asked for: by name in `metrics:`, by a threshold, or by a
translated tfma.EvalConfig (its `tfma_names`). Their names follow one grammar:

    {formula}@{t}            a confusion-matrix formula at decision threshold t (predicted
                             positive iff prediction > t, as TFMA): matthews_correlation_coefficient@0.5
    {curve}@{v}[;n={N}]      a constrained curve point read at N interpolated thresholds (TFMA's
                             default N = 10000): precision_at_recall@0.8, recall_at_precision@0.9;n=200
    auc_tfma[;n={N}], auc_pr_tfma[;n={N}]   TFMA's ROC and PR areas at N thresholds (default 10000)
    binary_crossentropy, max_recall, coefficient_of_discrimination, ...   plain names

`t` and `v` are written as assay.metrics.binary.format_threshold writes them (0.5, not 0.50).
This module imports no numpy: the config asks it while it is parsed.

Example:
    >>> tfma_metric_info("matthews_correlation_coefficient@0.5", "binary")
    (True, 'higher')
    >>> parse_tfma_name("precision_at_recall@0.8;n=200")
    ParsedName(base='precision_at_recall', value=0.8, num_thresholds=200)
"""

from __future__ import annotations

from typing import Dict, NamedTuple, Optional, Tuple

HIGHER, LOWER = "higher", "lower"  # as assay.metrics.registry (which imports this module)

# Formulas of one confusion matrix (TFMA's ConfusionMatrixMetric classes), named {formula}@{t}.
THRESHOLD_DIRECTIONS: Dict[str, Optional[str]] = {
    "specificity": HIGHER, "false_positive_rate": LOWER, "false_negative_rate": LOWER,
    "negative_predictive_value": HIGHER, "false_discovery_rate": LOWER,
    "false_omission_rate": LOWER, "prevalence": None, "prevalence_threshold": None,
    "threat_score": HIGHER, "balanced_accuracy": HIGHER,
    "matthews_correlation_coefficient": HIGHER, "fowlkes_mallows_index": HIGHER,
    "informedness": HIGHER, "markedness": HIGHER, "positive_likelihood_ratio": HIGHER,
    "negative_likelihood_ratio": LOWER, "diagnostic_odds_ratio": HIGHER,
    "predicted_positive_rate": None,
    # Fairness Indicators' names of rates at a threshold, so that a threshold can bound them
    # on any slice as the fairness literature writes them (positive_rate@0.5: the 80% rule).
    "positive_rate": None, "negative_rate": None, "true_positive_rate": HIGHER,
    "true_negative_rate": HIGHER,
}
# Curve points under a constraint ({curve}@{v}), read off TFMA's interpolated thresholds.
CONSTRAINED_DIRECTIONS: Dict[str, Optional[str]] = {
    "precision_at_recall": HIGHER, "recall_at_precision": HIGHER,
    "sensitivity_at_specificity": HIGHER, "specificity_at_sensitivity": HIGHER,
    "recall_at_false_positive_rate": HIGHER,
}
# Areas at interpolated thresholds (optionally ;n=N).
AREA_DIRECTIONS: Dict[str, Optional[str]] = {"auc_tfma": HIGHER, "auc_pr_tfma": HIGHER}
# Plain names, and the tasks that have them.
PLAIN_DIRECTIONS: Dict[str, Optional[str]] = {
    "max_recall": HIGHER, "binary_crossentropy": LOWER,
    "coefficient_of_discrimination": HIGHER, "relative_coefficient_of_discrimination": HIGHER,
    "squared_pearson_correlation": HIGHER, "mean_squared_logarithmic_error": LOWER,
}
SCALAR_PREDICTION_NAMES = ("squared_pearson_correlation", "mean_squared_logarithmic_error")
# TFMA's default numbers of interpolated thresholds (its docstrings say 1000 for the curve
# points; its code uses binary_confusion_matrices.DEFAULT_NUM_THRESHOLDS, 10000, for all).
DEFAULT_AREA_THRESHOLDS = 10000
DEFAULT_CONSTRAINED_THRESHOLDS = 10000
# TFMA's MaxRecall: recall at this threshold.
MAX_RECALL_THRESHOLD = 1.0e-12


class ParsedName(NamedTuple):
    """A TFMA-semantics metric name, parsed: its base, its @ value, its ;n= thresholds."""

    base: str
    value: Optional[float] = None
    num_thresholds: Optional[int] = None


def _format(value: float) -> str:
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def parse_tfma_name(name: str) -> Optional[ParsedName]:
    """The parsed name, or None when `name` is not a TFMA-semantics metric name."""
    if not isinstance(name, str):
        return None
    head, semi, tail = name.partition(";")
    n = None
    if semi:
        digits = tail[2:] if tail.startswith("n=") else ""
        if not (digits.isdigit() and digits.isascii() and not digits.startswith("0")):
            return None
        n = int(digits)
        if n < 2:
            return None
    base, at, value_text = head.partition("@")
    if base in PLAIN_DIRECTIONS:
        return ParsedName(base) if not at and n is None else None
    if base in AREA_DIRECTIONS:
        return ParsedName(base, None, n) if not at else None
    if base not in THRESHOLD_DIRECTIONS and base not in CONSTRAINED_DIRECTIONS:
        return None
    if not at or (n is not None and base in THRESHOLD_DIRECTIONS):
        return None
    try:
        value = float(value_text)
    except ValueError:
        return None
    if not 0.0 <= value <= 1.0 or _format(value) != value_text:
        return None
    return ParsedName(base, value, n)


def tfma_name(base: str, value: Optional[float] = None,
              num_thresholds: Optional[int] = None) -> str:
    """The metric name of (base, value, num_thresholds), as parse_tfma_name reads it."""
    name = base if value is None else f"{base}@{_format(value)}"
    return name if num_thresholds is None else f"{name};n={int(num_thresholds)}"


def tfma_metric_info(name: str, task: Optional[str] = None) -> Tuple[bool, Optional[str]]:
    """(whether the TFMA-semantics family produces `name` for `task` (None: for any task),
    its direction)."""
    parsed = parse_tfma_name(name)
    if parsed is None:
        return False, None
    if task not in (None, "binary") and not (task == "regression"
                                             and parsed.base in SCALAR_PREDICTION_NAMES):
        return False, None
    for table in (THRESHOLD_DIRECTIONS, CONSTRAINED_DIRECTIONS, AREA_DIRECTIONS,
                  PLAIN_DIRECTIONS):
        if parsed.base in table:
            return True, table[parsed.base]
    return False, None  # pragma: no cover - parse_tfma_name knows only the bases above


__all__ = ["AREA_DIRECTIONS", "CONSTRAINED_DIRECTIONS", "DEFAULT_AREA_THRESHOLDS",
           "DEFAULT_CONSTRAINED_THRESHOLDS", "MAX_RECALL_THRESHOLD", "PLAIN_DIRECTIONS",
           "ParsedName", "THRESHOLD_DIRECTIONS", "parse_tfma_name", "tfma_metric_info",
           "tfma_name"]
