"""EvalConfig: what to evaluate, how to slice it and which metrics to compute.

A config is a flat YAML or JSON document, validated when it is built:

    label: label
    weight: weight                      # optional
    models:
      candidate: {path: serving_model_dir}        # or {prediction: pred_column}
      baseline: {prediction: old_prediction}      # optional
      previous: {prediction: score_v6}            # optional benchmark models: any other name
    slices:
      - []                              # overall; always computed even if not listed
      - [hour]
      - [hour, day]
      - {day: 3}
      - {feature: miles, boundaries: [0, 1, 5, 10]}
    metrics: [auc, accuracy, log_loss]  # optional; defaults per task
    cross_model_metrics: [symmetric_flip_rate]  # optional; each model vs the baseline
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
from assay.config.model_names import check_model_name, ordered
from assay.config.confidence import ConfidenceConfig
from assay.config.fairness import FairnessConfig, with_group_slices
from assay.config.features import FEATURES
from assay.config.models import ModelSpec, model_to_config
from assay.config.parse import CustomMetricSpec
from assay.config.slices import SliceSpec
from assay.config.tfma_names import check_tfma_names
from assay.config.validation import VALIDATION_KEYS, ValidationConfig
from assay.metrics.cross_names import CROSS_MODEL_METRICS, parse_cross_name
from assay.errors import ConfigError

TASKS = ("binary", "multiclass", "regression", "multilabel")


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """A validated evaluation config: immutable and hashable (tuples and frozen parts all the
    way down). Build it with `from_dict`, `from_file` or directly."""

    label: Optional[str]  # None: a label-free evaluation (assay.metrics.label_free)
    models: Tuple[Tuple[str, ModelSpec], ...]
    weight: Optional[str] = None
    task: Optional[str] = None
    label_vocabulary: Optional[Tuple[str, ...]] = None
    slices: Tuple[SliceSpec, ...] = (SliceSpec(),)
    metrics: Optional[Tuple[str, ...]] = None
    # Cross-model metrics (assay.metrics.cross_names) to compute beside `metrics`, which they
    # do not filter; naming them in `metrics` or in a threshold computes them too.
    cross_model_metrics: Tuple[str, ...] = ()
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
    query_key: Optional[str] = None  # ranking (assay.metrics.ranking): the query column
    gain_key: Optional[str] = None  # NDCG's gain column; None: the label
    ranking_top_k: Tuple[int, ...] = (1, 3, 5)  # the k of each ndcg@k
    validation: ValidationConfig = ValidationConfig()  # thresholds and options, parsed once
    tfma_names: Any = ()  # {assay metric: TFMA key name}, checked: assay.config.tfma_names
    confidence: Optional[ConfidenceConfig] = None  # bootstrap intervals: config.confidence
    fairness: Optional[FairnessConfig] = None  # groups compared: assay.config.fairness
    # discover, perturbations, drift, history...: ((key, parsed), ...), assay.config.features
    feature_configs: Tuple[Tuple[str, Any], ...] = ()

    def __post_init__(self):
        for f in dataclasses.fields(self):
            # A config built directly may pass lists; store tuples so it stays immutable.
            if isinstance(getattr(self, f.name), list):
                object.__setattr__(self, f.name, tuple(getattr(self, f.name)))
        object.__setattr__(self, "tfma_names", check_tfma_names(self.tfma_names))
        object.__setattr__(self, "slices", with_group_slices(self.slices, self.fairness))
        names = [n for n, _ in self.models]
        if "candidate" not in names:
            raise ConfigError("models needs a 'candidate' entry, e.g. "
                              "models: {candidate: {prediction: pred}}")
        if len(set(names)) != len(names):
            raise ConfigError(f"'models' names a model twice (got {names})")
        for name in names:
            check_model_name(name, names)
        for i, t in enumerate(self.validation.thresholds):
            if t.model not in names:
                raise ConfigError(f"thresholds[{i}] ({t.metric}) names model '{t.model}', which "
                                  f"is not in 'models' (models: {', '.join(names)})")
        if self.label is None:  # a label-free evaluation: refuse what needs a label now
            from assay.metrics.label_free_config import label_free_problems
            problems = label_free_problems(self)
            if problems:
                raise ConfigError(problems[0] if len(problems) == 1 else
                                  f"{len(problems)} problems in the config:\n" +
                                  "\n".join(f"  - {p}" for p in problems))
        if self.validation.options.on_inconclusive != "fail" and self.confidence is None:
            raise ConfigError("'on_inconclusive' decides checks whose confidence interval "
                              "straddles the bound, so it needs 'confidence:' (e.g. "
                              "confidence: {level: 0.95}); without it checks compare point values")
        if self.query_key is not None or self.gain_key is not None:
            from assay.metrics.ranking_names import check_ranking_config
            check_ranking_config(self.query_key, self.gain_key, self.ranking_top_k)
        if self.task is not None and self.task not in TASKS:
            raise ConfigError(f"'task' must be one of {', '.join(TASKS)} (got {self.task!r})")
        for name in self.cross_model_metrics:
            if not isinstance(name, str) or parse_cross_name(name) is None:
                raise ConfigError(f"'cross_model_metrics' lists cross-model metrics ("
                                  f"{', '.join(CROSS_MODEL_METRICS)}, flip rates with @t) "
                                  f"(got {name!r})")
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

    @property
    def compared_models(self) -> Tuple[str, ...]:
        """The models compared with the baseline (each gets a diff record): every model but
        the baseline, candidate first; () without a baseline."""
        if not self.has_baseline:
            return ()
        return tuple(n for n, _ in self.models if n != "baseline")

    def replace(self, **changes) -> "EvalConfig":
        return dataclasses.replace(self, **changes)

    def with_model(self, name: str, spec: Optional[ModelSpec]) -> "EvalConfig":
        """A copy with model `name` set to `spec` (or removed when spec is None)."""
        models = {n: s for n, s in self.models if n != name}
        if spec is not None:
            models[name] = spec
        return self.replace(models=tuple((n, models[n]) for n in ordered(models)))

    # -- I/O ----------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "EvalConfig":
        """Validates and builds a config from its YAML/JSON form; raises ConfigError/TypeError."""
        values.expect(raw, (Mapping,), "a mapping", "config")
        raw = parse.aliased(raw)  # TFMA's spellings (metric: AUC) name assay's metrics
        kw = parse.config_fields(raw, _TOP_KEYS)  # every problem at once, unknown keys too
        if raw.get("tfma_names") is not None:
            kw["tfma_names"] = raw["tfma_names"]  # checked in __post_init__
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
        out: Dict[str, Any] = {"models": models} if self.label is None else \
            {"label": self.label, "models": models}
        if self.weight:
            out["weight"] = self.weight
        for f in dataclasses.fields(self):
            if f.name in ("label", "models", "weight", "slices", "validation", "custom_metrics",
                          "tfma_names", "confidence", "fairness", "feature_configs"):
                continue
            v = getattr(self, f.name)
            if v != f.default:
                out[f.name] = list(v) if isinstance(v, tuple) else v
        out["slices"] = [s.to_config() for s in self.slices]
        if self.custom_metrics:
            out["custom_metrics"] = [c.to_config() for c in self.custom_metrics]
        out.update(self.validation.to_config())
        if self.tfma_names:
            out["tfma_names"] = dict(self.tfma_names)
        if self.confidence is not None:
            out["confidence"] = self.confidence.to_config()
        if self.fairness is not None:
            out["fairness"] = self.fairness.to_config()
        for key, parsed in self.feature_configs:
            out[key] = parsed.to_config()
        return out

    def feature(self, key: str) -> Any:
        """The parsed value of a feature's config key (assay.config.features: "discover",
        "drift"...), or None when the config does not give it."""
        return dict(self.feature_configs).get(key)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


_TOP_KEYS = tuple(f.name for f in dataclasses.fields(EvalConfig)
                  if f.name not in ("validation", "feature_configs")) + VALIDATION_KEYS + \
    tuple(FEATURES)


def config_from(raw: Mapping[str, Any], source: Optional[str] = None) -> EvalConfig:
    """EvalConfig.from_dict(raw); when `source` names the file it came from, errors name it."""
    try:
        return EvalConfig.from_dict(raw)
    except (ConfigError, TypeError) as e:
        if source is None:
            raise
        raise type(e)(f"{source}: {e}") from None
