"""EvalConfig: what to evaluate, how to slice it and which metrics to compute.

A config is a flat YAML or JSON document, validated when it is built:

    label: label
    weight: weight                      # optional
    models:
      candidate: {path: serving_model_dir}        # or {prediction: pred_column}
      baseline: {prediction: old_prediction}      # optional
    slices:
      - []                              # overall; always computed even if not listed
      - [hour]
      - [hour, day]
      - {day: 3}
      - {feature: miles, boundaries: [0, 1, 5, 10]}
    metrics: [auc, accuracy, log_loss]  # optional; defaults per task
    min_slice_size: 30

Example:
    >>> cfg = EvalConfig.from_dict({"label": "label", "models": {"candidate": {"prediction": "p"}}})
    >>> cfg.slices[0].name
    'overall'
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Dict, Mapping, Optional, Tuple

from assay.config import parse, values
from assay.config.models import MODEL_NAMES, ModelSpec, model_to_config
from assay.config.parse import CustomMetricSpec
from assay.config.slices import SliceSpec
from assay.config.validation import VALIDATION_KEYS, ValidationConfig
from assay.errors import ConfigError

TASKS = ("binary", "multiclass", "regression")


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """A validated evaluation config: immutable and hashable (tuples and frozen parts all the
    way down). Build it with `from_dict`, `from_file` or directly."""

    label: str
    models: Tuple[Tuple[str, ModelSpec], ...]
    weight: Optional[str] = None
    task: Optional[str] = None
    label_vocabulary: Optional[Tuple[str, ...]] = None
    slices: Tuple[SliceSpec, ...] = (SliceSpec(),)
    metrics: Optional[Tuple[str, ...]] = None
    min_slice_size: int = 1
    decision_thresholds: Tuple[float, ...] = (0.5,)
    top_k: Tuple[int, ...] = (3,)
    num_buckets: int = 10000
    exact: bool = False
    calibration_bins: int = 10
    residual_quantiles: Tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)
    custom_metrics: Tuple[CustomMetricSpec, ...] = ()
    batch_size: int = 8192
    format: str = "auto"
    split: str = "eval"
    invalid_values: str = "error"
    validation: ValidationConfig = ValidationConfig()  # thresholds and options, parsed once

    def __post_init__(self):
        for f in dataclasses.fields(self):
            # A config built directly may pass lists; store tuples so it stays immutable.
            if isinstance(getattr(self, f.name), list):
                object.__setattr__(self, f.name, tuple(getattr(self, f.name)))
        names = [n for n, _ in self.models]
        if "candidate" not in names:
            raise ConfigError("models needs a 'candidate' entry, e.g. "
                              "models: {candidate: {prediction: pred}}")
        if self.task is not None and self.task not in TASKS:
            raise ConfigError(f"'task' must be one of {', '.join(TASKS)} (got {self.task!r})")
        if self.min_slice_size < 1:
            raise ConfigError(f"'min_slice_size' must be at least 1 (got {self.min_slice_size})")
        if self.batch_size < 1:
            raise ConfigError(f"'batch_size' must be a positive integer (got {self.batch_size})")
        if self.num_buckets < 10:
            raise ConfigError(f"'num_buckets' must be at least 10 (got {self.num_buckets})")
        if self.format not in ("auto", "tfrecord", "csv", "parquet"):
            raise ConfigError(f"'format' must be one of auto, tfrecord, csv, parquet "
                              f"(got {self.format!r})")
        if self.invalid_values not in ("error", "skip"):
            raise ConfigError(f"'invalid_values' must be 'error' or 'skip' "
                              f"(got {self.invalid_values!r})")
        for t in self.decision_thresholds:
            if not 0.0 <= t <= 1.0:
                raise ConfigError(f"'decision_thresholds' must lie in [0, 1] (got {t})")
        for q in self.residual_quantiles:
            if not 0.0 < q < 1.0:
                raise ConfigError(f"'residual_quantiles' must lie in (0, 1) (got {q})")
        if self.label_vocabulary is not None and len(set(self.label_vocabulary)) < 2:
            raise ConfigError("'label_vocabulary' needs at least two distinct classes "
                              f"(got {list(self.label_vocabulary)})")
        if self.label_vocabulary is not None and len(set(self.label_vocabulary)) != len(
                self.label_vocabulary):
            raise ConfigError(f"'label_vocabulary' repeats a class: {list(self.label_vocabulary)}")

    @property
    def model_specs(self) -> Dict[str, ModelSpec]:
        return dict(self.models)

    @property
    def has_baseline(self) -> bool:
        return "baseline" in self.model_specs

    def replace(self, **changes) -> "EvalConfig":
        return dataclasses.replace(self, **changes)

    def with_model(self, name: str, spec: Optional[ModelSpec]) -> "EvalConfig":
        """A copy with model `name` set to `spec` (or removed when spec is None)."""
        models = {n: s for n, s in self.models if n != name}
        if spec is not None:
            models[name] = spec
        order = [n for n in MODEL_NAMES if n in models]
        return self.replace(models=tuple((n, models[n]) for n in order))

    # -- I/O ----------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "EvalConfig":
        """Validates and builds a config from its YAML/JSON form; raises ConfigError/TypeError."""
        values.expect(raw, (Mapping,), "a mapping", "config")
        values.check_keys(raw, _TOP_KEYS, "the config")
        kw = parse.config_fields(raw)
        validation = {k: raw[k] for k in VALIDATION_KEYS if k in raw}
        if validation:
            # A custom metric may declare a max_regression's direction; the plan checks that.
            kw["validation"] = ValidationConfig.parse(validation, bool(kw.get("custom_metrics")))
        return cls(**kw)

    @classmethod
    def from_file(cls, path: str) -> "EvalConfig":
        """Reads a YAML or JSON config file; every error names the file."""
        return config_from(parse.read_config_file(path), path)

    def to_dict(self) -> Dict[str, Any]:
        """The config in its YAML/JSON form; from_dict(to_dict()) gives an equal config, except
        for the models' allow_pickle, the caller's opt-in, which is never written."""
        models = {name: model_to_config(spec) for name, spec in self.models}
        out: Dict[str, Any] = {"label": self.label, "models": models}
        if self.weight:
            out["weight"] = self.weight
        for f in dataclasses.fields(self):
            if f.name in ("label", "models", "weight", "slices", "validation", "custom_metrics"):
                continue
            v = getattr(self, f.name)
            if v != f.default:
                out[f.name] = list(v) if isinstance(v, tuple) else v
        out["slices"] = [s.to_config() for s in self.slices]
        if self.custom_metrics:
            out["custom_metrics"] = [c.to_config() for c in self.custom_metrics]
        out.update(self.validation.to_config())
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


_TOP_KEYS = tuple(f.name for f in dataclasses.fields(EvalConfig) if f.name != "validation") + \
    VALIDATION_KEYS


def config_from(raw: Mapping[str, Any], source: Optional[str] = None) -> EvalConfig:
    """EvalConfig.from_dict(raw); when `source` names the file it came from, errors name it."""
    try:
        return EvalConfig.from_dict(raw)
    except (ConfigError, TypeError) as e:
        if source is None:
            raise
        raise type(e)(f"{source}: {e}") from None
