"""assay's verdict as TFMA 0.47's ValidationResult, and its config as TFMA's EvalRun
(eval_config.json).

ValidationResult:
- `validation_ok` is the verdict (`blessed`: what TFX's ModelBlessing records, force_bless
  included); `missing_thresholds` is set when no thresholds are configured; `rubber_stamp` when
  a first model was judged without a baseline (outcome FIRST_MODEL_*), as TFMA marks a run whose
  change thresholds it skipped for want of a baseline.
- Each failed check is a ValidationFailure under its slice's key: the metric's key (the
  model's, `is_diff` for a max_regression, named as in the metrics file), the threshold as a
  TFMA MetricThreshold (min / max -> value_threshold lower / upper bound; max_regression r ->
  change_threshold with the metric's direction: absolute or relative -r when higher is better,
  +r when lower is), the value checked (the candidate's; candidate - baseline for a change) and
  assay's reason as `message`. A verdict that is NOT_BLESSED for a reason no check holds (a
  baseline that could not be loaded, ...) gets that reason as a failure on the overall slice.

EvalRun: the config as a tfma.EvalConfig (model specs, slicing specs, the thresholds on single
slices, min_slice_size), TFMA's version, the data location and format, and the model locations
keyed by model name (a prediction column is "<prediction column NAME>").

Example:
    >>> validation_result({"blessed": True, "outcome": "BLESSED", "checks": []}).validation_ok
    True
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence

from google.protobuf import json_format

from assay.results.tfma_keys import metric_key, metric_value, slice_key
from assay.results.tfma_proto import config_pb2, validation_result_pb2 as vpb

# The TFMA version whose formats these are (EvalRun.version; TFMA only checks it is set).
TFMA_VERSION = "0.47.1"
_DIRECTIONS = {"higher": config_pb2.HIGHER_IS_BETTER, "lower": config_pb2.LOWER_IS_BETTER}


def metric_threshold(kind: str, bound: float, direction: Optional[str]
                     ) -> Optional[config_pb2.MetricThreshold]:
    """TFMA's MetricThreshold for one assay bound; None for a kind TFMA has no form of."""
    out = config_pb2.MetricThreshold()
    if kind == "min":
        out.value_threshold.lower_bound.value = bound
    elif kind == "max":
        out.value_threshold.upper_bound.value = bound
    elif kind in ("max_regression_absolute", "max_regression_relative"):
        sign = -1.0 if direction == "higher" else 1.0
        change = out.change_threshold
        which = change.absolute if kind.endswith("absolute") else change.relative
        which.value = sign * bound
        change.direction = _DIRECTIONS.get(direction, config_pb2.UNKNOWN)
    else:
        return None
    return out


def _failure(check: Mapping[str, Any], directions: Mapping[str, Optional[str]],
             tfma_names: Mapping[str, str]) -> vpb.ValidationFailure:
    kind = check["kind"]
    is_change = kind.startswith("max_regression")
    model = check.get("model") or "candidate"
    out = vpb.ValidationFailure(message=check.get("reason") or "",
                                metric_key=metric_key(check["metric"], model, is_change,
                                                      tfma_names))
    threshold = metric_threshold(kind, check["threshold"], directions.get(check["metric"]))
    if threshold is not None:
        out.metric_threshold.CopyFrom(threshold)
    candidate, baseline = check.get("candidate"), check.get("baseline")
    value = (candidate - baseline if is_change and None not in (candidate, baseline)
             else None if is_change else candidate)
    if value is not None:
        out.metric_value.CopyFrom(metric_value(value))
    return out


def validation_result(verdict: Mapping[str, Any],
                      directions: Optional[Mapping[str, Optional[str]]] = None,
                      tfma_names: Optional[Mapping[str, str]] = None) -> vpb.ValidationResult:
    """The ValidationResult of a verdict (validation.json's form: ValidationResult.to_dict())."""
    outcome = str(verdict.get("outcome") or "")
    out = vpb.ValidationResult(validation_ok=bool(verdict["blessed"]),
                               missing_thresholds=outcome.startswith("NO_THRESHOLDS"),
                               rubber_stamp=outcome.startswith("FIRST_MODEL"))
    per_slice: Dict[Any, vpb.MetricsValidationForSlice] = {}
    for check in verdict.get("checks") or []:
        if check.get("status") != "fail":
            continue
        key = repr(sorted(check["slice"].items()))
        if key not in per_slice:
            per_slice[key] = out.metric_validations_per_slice.add(
                slice_key=slice_key(check["slice"]))
        per_slice[key].failures.append(_failure(check, directions or {}, tfma_names or {}))
    if not verdict["blessed"] and not per_slice and not out.missing_thresholds:
        overall = out.metric_validations_per_slice.add(slice_key=slice_key({}))
        for reason in verdict.get("reasons") or []:
            overall.failures.add(message=reason)
    return out


def _slicing_spec(spec: Any) -> config_pb2.SlicingSpec:
    """TFMA's SlicingSpec of an assay SliceSpec (a bucketed column by its feature name)."""
    return config_pb2.SlicingSpec(feature_keys=[c.feature for c in spec.columns],
                                  feature_values={k: str(v) for k, v in spec.values})


def _selector_spec(selector: Any) -> config_pb2.SlicingSpec:
    if selector.values is None:
        return config_pb2.SlicingSpec(feature_keys=list(selector.features))
    return config_pb2.SlicingSpec(feature_values={f: str(v) for f, v in
                                                  zip(selector.features, selector.values)})


def _add_thresholds(config: config_pb2.EvalConfig, thresholds: Sequence[Any],
                    tfma_names: Mapping[str, str]) -> None:
    """The thresholds as MetricsSpecs, one per model; a max_gap has no TFMA form."""
    specs: Dict[str, config_pb2.MetricsSpec] = {}
    for t in thresholds:
        model = getattr(t, "model", "candidate")
        spec = specs.setdefault(model, config_pb2.MetricsSpec(model_names=[model]))
        name = tfma_names.get(t.metric, t.metric)
        for kind, bound in t.bounds():
            threshold = metric_threshold(kind, bound, t.direction)
            if threshold is None:
                continue
            for sel in t.slices:
                if not sel.features:
                    spec.thresholds[name].MergeFrom(threshold)
                else:
                    spec.per_slice_thresholds[name].thresholds.add(
                        slicing_specs=[_selector_spec(sel)], threshold=threshold)
    config.metrics_specs.extend(specs.values())


def _location(spec: Any) -> str:
    if spec.path:
        return str(spec.path)
    column = spec.prediction if isinstance(spec.prediction, str) else ", ".join(spec.prediction)
    return f"<prediction column {column}>"


def eval_run_json(cfg: Any, thresholds: Sequence[Any], data_location: str,
                  file_format: str) -> str:
    """eval_config.json: TFMA's EvalRun of an assay EvalConfig, as TFMA writes it (JSON)."""
    names = dict(cfg.tfma_names)
    config = config_pb2.EvalConfig()
    for name, spec in cfg.models:
        m = config.model_specs.add(name=name, label_key=cfg.label,
                                   is_baseline=name == "baseline")
        if spec.prediction is not None and isinstance(spec.prediction, str):
            m.prediction_key = spec.prediction
        if cfg.weight:
            m.example_weight_key = cfg.weight
    config.slicing_specs.extend(_slicing_spec(s) for s in cfg.slices)
    _add_thresholds(config, thresholds, names)
    config.options.min_slice_size.value = cfg.min_slice_size
    run = config_pb2.EvalRun(eval_config=config, version=TFMA_VERSION,
                             data_location=data_location, file_format=file_format,
                             model_locations={n: _location(s) for n, s in cfg.models})
    return json_format.MessageToJson(run)


__all__ = ["TFMA_VERSION", "eval_run_json", "metric_threshold", "validation_result"]
