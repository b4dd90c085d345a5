"""The names of the label-free metrics (assay.metrics.label_free): what a config without `label`
can compute and gate on.

    example_count, weighted_example_count   every task
    mean_prediction                         binary, regression (the weighted mean)
    prediction_p{percent}                   binary, regression: weighted quantiles of the
                                            prediction (prediction_p05, prediction_p50, ...)
    positive_rate@{t}                       binary: weight of predictions > t over all weight
    predicted_rate/{class}                  multiclass: weight of rows whose top class it is
    mean_prediction/{class}                 multiclass: the class's mean probability

This module imports no numpy: the config asks it while it is parsed (a threshold on a metric
that needs a label is refused when the config is read).

Example:
    >>> label_free_metric_info("positive_rate@0.5"), label_free_metric_info("auc")
    ((True, None), (False, None))
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

from assay.metrics.fairness_names import PREFIX, format_threshold

# None of them has a better direction: a prediction's distribution is neither good nor bad.
SCALARS = ("example_count", "weighted_example_count", "mean_prediction")
QUANTILE_PREFIX = "prediction_p"
# The Fairness Indicators rates that need no label (the label-free fairness family's names).
LABEL_FREE_RATES = ("positive_rate", "negative_rate")


def quantile_name(q: float) -> str:
    """prediction_p05 for 0.05, prediction_p50 for 0.5, prediction_p99.9 for 0.999 (the residual
    quantiles' rule, assay.metrics.regression.quantile_name)."""
    percent = round(q * 100, 10)
    if percent == int(percent):
        return f"{QUANTILE_PREFIX}{int(percent):02d}"
    return f"{QUANTILE_PREFIX}{percent:g}" if percent >= 10 else f"{QUANTILE_PREFIX}0{percent:g}"


def label_free_directions(task: str, thresholds: Sequence[float] = (0.5,),
                          quantiles: Sequence[float] = (), class_names: Sequence[str] = ()
                          ) -> Dict[str, Optional[str]]:
    """{name: None} of every name LabelFreeMetrics produces for `task`, in result order."""
    if task == "multiclass":
        names = ["example_count", "weighted_example_count"]
        names += [f"predicted_rate/{c}" for c in class_names]
        names += [f"mean_prediction/{c}" for c in class_names]
    else:
        names = list(SCALARS) + [quantile_name(q) for q in quantiles]
        if task == "binary":
            names += [f"positive_rate@{format_threshold(t)}" for t in thresholds]
    return dict.fromkeys(names)


def _threshold_ok(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    return 0.0 <= value <= 1.0 and format_threshold(value) == text


def label_free_metric_info(name: str) -> Tuple[bool, Optional[str]]:
    """(whether a label-free family can produce `name` with some options, its direction: None)."""
    if not isinstance(name, str):
        return False, None
    base, sep, rest = name.partition("@")
    if name in SCALARS or (sep and base == "positive_rate" and _threshold_ok(rest)):
        return True, None
    if name.startswith(QUANTILE_PREFIX):
        try:
            percent = float(name[len(QUANTILE_PREFIX):])
        except ValueError:
            return False, None
        return 0.0 <= percent <= 100.0 and quantile_name(percent / 100) == name, None
    head, slash, cls = name.partition("/")
    if slash and cls and head in ("predicted_rate", "mean_prediction"):
        return True, None
    if head == PREFIX and slash:  # fairness_indicators_metrics/positive_rate@t
        rate, at, t = cls.partition("@")
        return (rate in LABEL_FREE_RATES and bool(at) and _threshold_ok(t)), None
    return False, None


def needs_label_message(name: str) -> str:
    """The sentence that refuses a metric needing a label in a config without one."""
    return (f"{name} needs a label; this config has none (without 'label' assay computes "
            f"example_count, weighted_example_count, mean_prediction, prediction_p50 and the "
            f"other prediction quantiles, positive_rate@t; predicted_rate/CLASS for multiclass)")


__all__ = ["LABEL_FREE_RATES", "QUANTILE_PREFIX", "SCALARS", "label_free_directions",
           "label_free_metric_info", "needs_label_message", "quantile_name"]
