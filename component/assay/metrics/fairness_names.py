"""The names of TFMA's Fairness Indicators (assay.metrics.group_fairness), and which is better.

    fairness_indicators_metrics/{rate}@{t}     e.g. fairness_indicators_metrics/false_positive_rate@0.5

`t` is written as assay.metrics.binary.format_threshold writes it (0.5, not 0.50). This module
imports no numpy: the config asks it while it is parsed (assay.metrics.registry).

Example:
    >>> fairness_metric_info("fairness_indicators_metrics/true_positive_rate@0.5")
    (True, 'higher')
"""

from __future__ import annotations

from typing import Optional, Tuple

PREFIX = "fairness_indicators_metrics"
# Each rate of the metric set, and which way is better (None: neither).
DIRECTIONS = {"false_positive_rate": "lower", "false_negative_rate": "lower",
              "true_positive_rate": "higher", "true_negative_rate": "higher",
              "positive_rate": None, "negative_rate": None, "false_discovery_rate": "lower",
              "false_omission_rate": "lower"}
RATES = tuple(DIRECTIONS)


def format_threshold(threshold: float) -> str:
    """As assay.metrics.binary.format_threshold: repr of the float without a trailing '.0'."""
    text = repr(float(threshold))
    return text[:-2] if text.endswith(".0") else text


def indicator_name(rate: str, threshold: float) -> str:
    """TFMA's key name of a Fairness Indicators rate at a threshold."""
    return f"{PREFIX}/{rate}@{format_threshold(threshold)}"


def fairness_metric_info(name: str) -> Tuple[bool, Optional[str]]:
    """(whether `name` is a Fairness Indicators name, its direction)."""
    if not isinstance(name, str) or not name.startswith(PREFIX + "/"):
        return False, None
    rate, at, value = name[len(PREFIX) + 1:].partition("@")
    if rate not in DIRECTIONS or not at:
        return False, None
    try:
        t = float(value)
    except ValueError:
        return False, None
    if not 0.0 <= t <= 1.0 or format_threshold(t) != value:
        return False, None
    return True, DIRECTIONS[rate]


__all__ = ["DIRECTIONS", "PREFIX", "RATES", "fairness_metric_info", "format_threshold",
           "indicator_name"]
