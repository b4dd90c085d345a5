"""Preparing the pass: loading the model adapters and custom metrics, checking metric names
and deciding the task from a first batch of data.

These run on the driver (in `assay.engine.plan.make_plan`) and, for the adapters and metric
families, once on every worker.
"""

from __future__ import annotations

import difflib
import importlib
from typing import TYPE_CHECKING, Any, Dict, Optional

import numpy as np

from assay.config.schema import ConfigError, EvalConfig
from assay.metrics import DEFAULT_METRIC_NAMES, Metric
from assay.metrics.base import check_metric_contract
from assay.metrics.registry import declared_directions
from assay.models import load as assay_models

if TYPE_CHECKING:  # annotations only: the plan imports this module
    from assay.engine.plan import EvalPlan


def load_adapter(spec: assay_models.ModelSpec, raw_record_column: Optional[str]):
    """The model adapter of a spec: its prediction column, or the model (loaded once per
    process)."""
    if spec.prediction is not None:
        return assay_models.PredictionColumn(spec)
    return assay_models.shared_model(spec, raw_record_column)


def load_custom_metric(path: str, args: Dict[str, Any]) -> Metric:
    """Imports `module.path:ClassName` and builds it with `args`."""
    module_name, _, class_name = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(f"custom metric '{path}': cannot import module '{module_name}' ({e}); "
                          f"it must be importable on every worker") from None
    cls = getattr(module, class_name, None)
    if cls is None:
        raise ConfigError(f"custom metric '{path}': module '{module_name}' has no '{class_name}'")
    metric = cls(**args)
    check_metric_contract(metric, f"custom metric '{path}'")  # the whole contract, up front
    declared_directions([metric])  # its `directions`, if any, must be well formed
    return metric


def check_metric_names(plan: "EvalPlan") -> None:
    """Rejects names in `metrics:` that the task's families do not produce."""
    if not plan.config.metrics:
        return
    families = plan.metric_families()
    known = set(families[0].metric_names())
    known |= {getattr(f, "name", "") for f in families[1:]}
    for name in plan.config.metrics:
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ConfigError(f"unknown metric '{name}' for a {plan.task} task{hint} "
                              f"(known: {', '.join(sorted(DEFAULT_METRIC_NAMES[plan.task]))})")


def infer_task(cfg: EvalConfig, labels: np.ndarray, preds: np.ndarray) -> str:
    """The task ("binary", "multiclass" or "regression") that labels and predictions suggest.

    Args:
      cfg: the config (its label_vocabulary and the candidate's transform decide first).
      labels: the labels of a first batch, shape [n].
      preds: the candidate's predictions on it, shape [n] or [n, k].
    """
    if cfg.label_vocabulary is not None:
        return "binary" if len(cfg.label_vocabulary) == 2 else "multiclass"
    width = 1 if preds.ndim == 1 or preds.shape[1] == 1 else preds.shape[1]
    if labels.dtype.kind in "OSU":
        raise ConfigError(f"label column '{cfg.label}' holds strings (e.g. {labels[0]!r}); give "
                          f"label_vocabulary: [...] listing the classes in the order of the "
                          f"model's outputs")
    numeric = labels.astype(np.float64)
    numeric = numeric[np.isfinite(numeric)]
    integral = bool(np.all(numeric == np.round(numeric)))
    if width > 2:
        return "multiclass"
    if integral and set(np.unique(numeric).tolist()) <= {0.0, 1.0}:
        p = preds if preds.ndim == 1 else preds[:, -1]
        p = p[np.isfinite(p)]
        # Predictions that are (nearly all) probabilities: a few stray values outside [0, 1]
        # are reported as invalid later rather than turning the task into a regression.
        in_unit = float(np.mean((p >= 0) & (p <= 1))) if len(p) else 0.0
        if width == 2 or in_unit >= 0.99 or \
                getattr(cfg.model_specs["candidate"], "transform", "none") == "sigmoid":
            return "binary"
    return "regression"
