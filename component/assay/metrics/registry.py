"""The one registry of built-in metric names: which family produces a name, which value of it is
better, and which metrics headline each task.

Each family declares its names and directions in its own module (binary.DIRECTIONS,
multiclass.AVERAGED_DIRECTIONS, regression.DIRECTIONS, ...), together with the rule by which it
names parametrised metrics (precision@0.3, recall/cat, top_5_accuracy, residual_p99.9). This
module only asks them; nothing here guesses a direction from the shape of a name. Custom metrics
declare theirs in their `directions` attribute (see assay.metrics.base.Metric).

Example:
    >>> metric_direction("auc"), metric_direction("fp@0.5"), metric_direction("mean_label")
    ('higher', 'lower', None)
    >>> metric_info("my_score")
    (False, None)
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

from assay.config.values import choice, expect
from assay.errors import ConfigError
from assay.metrics.fairness_names import fairness_metric_info
from assay.metrics.ranking_names import ranking_metric_info
from assay.metrics.tfma_names import tfma_metric_info

HIGHER = "higher"
LOWER = "lower"
DIRECTION_CHOICES = (HIGHER, LOWER)

TASKS = ("binary", "multiclass", "regression", "multilabel")

# task -> (family module, its {name: direction} function, its "is this one of my names" function).
# Imported on first use: the config asks this registry while it is parsed, and a config does not
# need numpy.
_FAMILIES = {
    "binary": ("assay.metrics.binary", "binary_directions", "binary_metric_info"),
    "multiclass": ("assay.metrics.multiclass", "multiclass_directions", "multiclass_metric_info"),
    "regression": ("assay.metrics.regression", "regression_directions", "regression_metric_info"),
    "multilabel": ("assay.metrics.multilabel", "multilabel_directions", "multilabel_metric_info"),
}


def _family(task: str, which: int) -> Callable[..., Any]:
    module, *functions = _FAMILIES[task]
    return getattr(importlib.import_module(module), functions[which])


def task_directions(task: str, *options: Any) -> Dict[str, Optional[str]]:
    """{name: direction} of every name the task's family produces with `options` (the family's
    own arguments: decision thresholds; top_k and class names; residual quantiles).

    Example:
        >>> task_directions("regression", (0.5,))["residual_p50"] is None
        True
    """
    return _family(task, 0)(*options)


# The few metrics that summarise an evaluation of each task, most telling first: the report
# charts them and the CLI prints them (each only when the result has it).
HEADLINE_METRICS: Dict[str, Tuple[str, ...]] = {
    "binary": ("auc", "auc_pr", "log_loss", "accuracy", "precision", "recall", "calibration"),
    "multiclass": ("accuracy", "top_3_accuracy", "log_loss", "f1_macro", "auc_macro"),
    "regression": ("rmse", "mae", "mape", "r2", "mean_prediction"),
    "multilabel": ("f1_macro", "f1_micro", "auc_macro", "subset_accuracy", "hamming_loss"),
}


def metric_info(name: str) -> Tuple[bool, Optional[str]]:
    """(whether a built-in family produces `name` with some options, its direction or None).

    The families agree on the names they share (accuracy, log_loss, example_count, ...); a test
    checks that.
    """
    for task in TASKS:
        known, direction = _family(task, 1)(name)
        if known:
            return True, direction
    known, direction = ranking_metric_info(name)  # with a query_key, for any task
    if known:
        return known, direction
    known, direction = tfma_metric_info(name)
    if known:
        return known, direction
    from assay.metrics.label_free_names import label_free_metric_info  # a config with no label
    known, direction = fairness_metric_info(name)  # `fairness:`
    return (known, direction) if known else label_free_metric_info(name)


def metric_direction(name: str) -> Optional[str]:
    """Whether a higher or a lower value of a built-in metric is better.

    Knows `@threshold` (precision@0.3), `/class` (recall/cat), averaged (f1_macro) and top-k
    names. None for metrics with no better direction (example_count, mean_label,
    mean_prediction, calibration, residual_p*) and for names that are not built in.

    Example:
        >>> metric_direction("recall/cat"), metric_direction("top_5_accuracy")
        ('higher', 'higher')
    """
    return metric_info(name)[1]


def declared_directions(metrics: Sequence[Any]) -> Dict[str, Optional[str]]:
    """{name: direction} that custom metrics declare in their `directions` attribute.

    Raises:
      ConfigError: a declaration that is not a mapping of names to "higher", "lower" or None,
        or two metrics that declare one name differently.
    """
    out: Dict[str, Optional[str]] = {}
    for metric in metrics:
        where = f"the 'directions' of custom metric '{getattr(metric, 'name', metric)}'"
        declared = getattr(metric, "directions", None) or {}
        expect(declared, (Mapping,), "a mapping of metric name to 'higher', 'lower' or None",
               where)
        for name, direction in declared.items():
            expect(name, (str,), "keyed by metric names", where)
            if direction is not None:
                choice(direction, DIRECTION_CHOICES, f"{where}[{name!r}]")
            if out.get(name, direction) != direction:
                raise ConfigError(f"{where} says {name} is better {direction}, but another "
                                  f"custom metric says {out[name]}")
            out[name] = direction
    return out


def requested_tfma_names(task: str, names: Sequence[str]) -> Tuple[str, ...]:
    """The names among `names` that the TFMA-semantics family (assay.metrics.tfma_family)
    computes for `task` and the task's own family does not: the metrics it is built for."""
    own = _family(task, 1) if task in _FAMILIES else (lambda n: (False, None))
    return tuple(dict.fromkeys(n for n in names
                               if not own(n)[0] and tfma_metric_info(n, task)[0]))


def headline_metrics(task: Optional[str]) -> Tuple[str, ...]:
    """The headline metrics of a task (see HEADLINE_METRICS); () for an unknown task."""
    return HEADLINE_METRICS.get(task or "", ())


__all__ = ["DIRECTION_CHOICES", "HEADLINE_METRICS", "HIGHER", "LOWER", "TASKS",
           "declared_directions", "headline_metrics", "requested_tfma_names", "task_directions",
           "metric_direction", "metric_info"]
