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
import difflib
import json
import math
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from assay.errors import ConfigError
from assay.models.load import ModelSpec

TASKS = ("binary", "multiclass", "regression")
MODEL_NAMES = ("candidate", "baseline")


def _type_name(value: Any) -> str:
    return type(value).__name__


def _suggest(key: str, valid: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.5)
    return f"; did you mean '{close[0]}'?" if close else f"; valid keys are: {', '.join(sorted(valid))}"


def check_keys(where: str, mapping: Mapping[str, Any], valid: Sequence[str]) -> None:
    """Raises ConfigError for the first key of `mapping` not in `valid`, suggesting the closest."""
    for key in mapping:
        if key not in valid:
            raise ConfigError(f"unknown key '{key}' in {where}{_suggest(str(key), valid)}")


def _expect(where: str, value: Any, types: Tuple[type, ...], what: str) -> Any:
    if isinstance(value, bool) and bool not in types:
        raise TypeError(f"'{where}' must be {what} (got {value!r}, a bool)")
    if not isinstance(value, types):
        raise TypeError(f"'{where}' must be {what} (got {value!r}, a {_type_name(value)})")
    return value


def _number(where: str, value: Any) -> float:
    _expect(where, value, (int, float), "a number")
    if not math.isfinite(value):
        raise ConfigError(f"'{where}' must be a finite number (got {value!r})")
    return float(value)


def _str_list(where: str, value: Any) -> Tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    _expect(where, value, (list, tuple), "a list of column names")
    for item in value:
        _expect(f"{where}[]", item, (str,), "a column name (a string)")
    return tuple(value)


# ---------------------------------------------------------------------------------------------
# Slicing specs


@dataclasses.dataclass(frozen=True)
class SliceColumn:
    """A feature to slice by: its values as they are, or bucketed by boundaries or quantiles.

    Buckets are half-open intervals [lower, upper); a value below the first boundary falls in
    (-inf, b0), one at or above the last in [bn, inf). `quantiles: q` computes q-1 boundaries
    that split the weighted data into q buckets of equal size, in a first stage of the pass.
    """

    feature: str
    boundaries: Optional[Tuple[float, ...]] = None
    quantiles: Optional[int] = None

    @property
    def bucketed(self) -> bool:
        return self.boundaries is not None or self.quantiles is not None

    def describe(self) -> str:
        if self.boundaries is not None:
            return f"{self.feature} by boundaries {list(self.boundaries)}"
        if self.quantiles is not None:
            return f"{self.feature} by {self.quantiles} quantiles"
        return self.feature


@dataclasses.dataclass(frozen=True)
class SliceSpec:
    """Slices of the data: crossed `columns`, restricted to examples holding the fixed `values`.

    `SliceSpec()` is the overall slice. A slice key is a tuple of (feature, value) pairs: the
    fixed values first, then one value per column.
    """

    columns: Tuple[SliceColumn, ...] = ()
    values: Tuple[Tuple[str, Any], ...] = ()

    @property
    def is_overall(self) -> bool:
        return not self.columns and not self.values

    @property
    def features(self) -> Tuple[str, ...]:
        """The feature names of this spec's slice keys, in key order."""
        return tuple(k for k, _ in self.values) + tuple(c.feature for c in self.columns)

    @property
    def name(self) -> str:
        if self.is_overall:
            return "overall"
        parts = [f"{k}={v}" for k, v in self.values] + [c.describe() for c in self.columns]
        return " x ".join(parts)

    def to_config(self) -> Any:
        cols = [
            c.feature if not c.bucketed else {
                k: v for k, v in (("feature", c.feature),
                                  ("boundaries", list(c.boundaries) if c.boundaries else None),
                                  ("quantiles", c.quantiles)) if v is not None}
            for c in self.columns
        ]
        if not self.values:
            return cols
        if not cols:
            return dict(self.values)
        return {"keys": cols, "values": dict(self.values)}


_BUCKET_KEYS = ("feature", "boundaries", "quantiles")
_GENERAL_KEYS = ("keys", "values")


def _slice_column(where: str, item: Any) -> SliceColumn:
    if isinstance(item, str):
        if not item:
            raise ConfigError(f"{where}: a feature name must not be empty")
        return SliceColumn(item)
    if isinstance(item, Mapping):
        check_keys(where, item, _BUCKET_KEYS)
        if "feature" not in item:
            raise ConfigError(f"{where}: a bucketed column needs 'feature' (got {dict(item)})")
        feature = _expect(f"{where}.feature", item["feature"], (str,), "a feature name")
        has_b, has_q = "boundaries" in item, "quantiles" in item
        if has_b == has_q:
            raise ConfigError(
                f"{where}: give exactly one of 'boundaries' (a sorted list of numbers) or "
                f"'quantiles' (a number of buckets) for feature '{feature}'")
        if has_b:
            raw = _expect(f"{where}.boundaries", item["boundaries"], (list, tuple),
                          "a list of numbers")
            bounds = tuple(_number(f"{where}.boundaries[]", b) for b in raw)
            if not bounds:
                raise ConfigError(f"{where}.boundaries: give at least one boundary for '{feature}'")
            if any(b >= a for a, b in zip(bounds[1:], bounds)):
                raise ConfigError(
                    f"{where}.boundaries must be strictly increasing (got {list(raw)})")
            return SliceColumn(feature, boundaries=bounds)
        q = _expect(f"{where}.quantiles", item["quantiles"], (int,), "an integer")
        if q < 2:
            raise ConfigError(f"{where}.quantiles must be at least 2 (got {q})")
        return SliceColumn(feature, quantiles=q)
    raise TypeError(
        f"{where} must be a feature name or a bucketing like {{feature: miles, boundaries: [0, 1]}}"
        f" (got {item!r}, a {_type_name(item)})")


def _slice_value(where: str, value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    _expect(where, value, (str, int, float, bool), "a feature value (string or number)")
    return value


def parse_slice_spec(item: Any, index: int = 0) -> SliceSpec:
    """Builds a SliceSpec from its config form (see the module docstring)."""
    where = f"slices[{index}]"
    if isinstance(item, (list, tuple)):
        cols = tuple(_slice_column(f"{where}[{i}]", c) for i, c in enumerate(item))
        spec = SliceSpec(columns=cols)
    elif isinstance(item, str):
        spec = SliceSpec(columns=(_slice_column(where, item),))
    elif isinstance(item, Mapping):
        if not item:
            raise ConfigError(
                f"{where} is an empty mapping: write [] for the overall slice, [feature] to slice "
                f"by a feature, or {{feature: value}} for one slice")
        if "feature" in item:
            spec = SliceSpec(columns=(_slice_column(where, item),))
        elif set(item) & set(_GENERAL_KEYS):
            check_keys(where, item, _GENERAL_KEYS)
            keys = item.get("keys", [])
            _expect(f"{where}.keys", keys, (list, tuple), "a list of features")
            cols = tuple(_slice_column(f"{where}.keys[{i}]", c) for i, c in enumerate(keys))
            values = item.get("values", {})
            _expect(f"{where}.values", values, (Mapping,), "a mapping of feature: value")
            spec = SliceSpec(columns=cols, values=tuple(
                (str(k), _slice_value(f"{where}.values.{k}", v)) for k, v in values.items()))
            if spec.is_overall:
                raise ConfigError(f"{where}: 'keys' and 'values' are both empty; write [] for the "
                                  f"overall slice")
        else:
            spec = SliceSpec(values=tuple(
                (str(k), _slice_value(f"{where}.{k}", v)) for k, v in item.items()))
    elif item is None:
        raise ConfigError(f"{where} is empty: write [] for the overall slice")
    else:
        raise TypeError(f"{where} must be a list of features, a mapping or a bucketing "
                        f"(got {item!r}, a {_type_name(item)})")
    names = spec.features
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"{where} names feature '{dup[0]}' twice")
    return spec


# ---------------------------------------------------------------------------------------------
# Models

_MODEL_KEYS = ("path", "prediction", "kind", "signature", "output", "features", "allow_pickle",
               "batch_size", "transform")
_MODEL_KINDS = ("auto", "saved_model", "keras", "joblib")
TRANSFORMS = ("none", "sigmoid", "softmax")


def parse_model(name: str, item: Any) -> ModelSpec:
    where = f"models.{name}"
    if isinstance(item, str):
        item = {"path": item}
    _expect(where, item, (Mapping,), "a mapping like {path: DIR} or {prediction: COLUMN}")
    check_keys(where, item, _MODEL_KEYS)
    has_path, has_pred = item.get("path") is not None, item.get("prediction") is not None
    if has_path == has_pred:
        raise ConfigError(f"{where} needs exactly one of 'path' (a model to run) or 'prediction' "
                          f"(a column holding its predictions) (got {dict(item)})")
    kw: Dict[str, Any] = {}
    if has_path:
        kw["path"] = os.fspath(_expect(f"{where}.path", item["path"], (str, os.PathLike), "a path"))
    else:
        pred = item["prediction"]
        kw["prediction"] = pred if isinstance(pred, str) else list(_str_list(f"{where}.prediction",
                                                                             pred))
    kind = item.get("kind", "auto")
    if kind not in _MODEL_KINDS:
        raise ConfigError(f"{where}.kind must be one of {', '.join(_MODEL_KINDS)} (got {kind!r})")
    kw["kind"] = kind
    for key in ("signature", "output"):
        if item.get(key) is not None:
            kw[key] = _expect(f"{where}.{key}", item[key], (str,), "a string")
    if item.get("features") is not None:
        kw["features"] = _str_list(f"{where}.features", item["features"])
    if "allow_pickle" in item:
        kw["allow_pickle"] = _expect(f"{where}.allow_pickle", item["allow_pickle"], (bool,),
                                     "true or false")
    if "batch_size" in item:
        bs = _expect(f"{where}.batch_size", item["batch_size"], (int,), "a positive integer")
        if bs < 1:
            raise ConfigError(f"'{where}.batch_size' must be a positive integer (got {bs})")
        kw["batch_size"] = bs
    transform = item.get("transform", "none")
    if transform not in TRANSFORMS:
        raise ConfigError(f"{where}.transform must be one of {', '.join(TRANSFORMS)} "
                          f"(got {transform!r})")
    kw["transform"] = transform
    return ModelSpec(**kw)


# ---------------------------------------------------------------------------------------------
# The config


@dataclasses.dataclass(frozen=True)
class CustomMetricSpec:
    """A user's metric class, `module.path:ClassName`, built with `args` on every worker."""

    cls: str
    args: Tuple[Tuple[str, Any], ...] = ()


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """A validated evaluation config. Build it with `from_dict`, `from_file` or directly."""

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
    validation: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
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
        _expect("config", raw, (Mapping,), "a mapping")
        check_keys("the config", raw, _TOP_KEYS)
        if "label" not in raw:
            raise ConfigError("the config needs 'label': the column that holds the true label")
        kw: Dict[str, Any] = {"label": _expect("label", raw["label"], (str,), "a column name")}
        models = raw.get("models")
        if models is None:
            raise ConfigError("the config needs 'models', e.g. "
                              "models: {candidate: {prediction: pred}}")
        _expect("models", models, (Mapping,), "a mapping of candidate/baseline to model specs")
        check_keys("models", models, MODEL_NAMES)
        kw["models"] = tuple((n, parse_model(n, models[n])) for n in MODEL_NAMES if n in models
                             and models[n] is not None)
        if raw.get("weight") is not None:
            kw["weight"] = _expect("weight", raw["weight"], (str,), "a column name")
        if raw.get("task") is not None:
            kw["task"] = _expect("task", raw["task"], (str,), "a string")
        if raw.get("label_vocabulary") is not None:
            vocab = _expect("label_vocabulary", raw["label_vocabulary"], (list, tuple),
                            "a list of class names")
            kw["label_vocabulary"] = tuple(str(v) for v in vocab)
        slices = raw.get("slices", [])
        _expect("slices", slices, (list, tuple), "a list of slicing specs")
        specs = [SliceSpec()] + [parse_slice_spec(s, i) for i, s in enumerate(slices)]
        unique: List[SliceSpec] = []
        for s in specs:
            if s not in unique:
                unique.append(s)
        kw["slices"] = tuple(unique)
        if raw.get("metrics") is not None:
            kw["metrics"] = _str_list("metrics", raw["metrics"])
        for key in ("min_slice_size", "num_buckets", "calibration_bins", "batch_size"):
            if key in raw:
                kw[key] = _expect(key, raw[key], (int,), "an integer")
        if "exact" in raw:
            kw["exact"] = _expect("exact", raw["exact"], (bool,), "true or false")
        if "decision_thresholds" in raw:
            v = raw["decision_thresholds"]
            v = [v] if isinstance(v, (int, float)) and not isinstance(v, bool) else v
            _expect("decision_thresholds", v, (list, tuple), "a list of numbers")
            if not v:
                raise ConfigError("'decision_thresholds' needs at least one threshold")
            kw["decision_thresholds"] = tuple(_number("decision_thresholds[]", t) for t in v)
        if "top_k" in raw:
            v = raw["top_k"]
            v = [v] if isinstance(v, int) and not isinstance(v, bool) else v
            _expect("top_k", v, (list, tuple), "a list of integers")
            kw["top_k"] = tuple(_expect("top_k[]", k, (int,), "an integer") for k in v)
        if "residual_quantiles" in raw:
            v = _expect("residual_quantiles", raw["residual_quantiles"], (list, tuple),
                        "a list of numbers")
            kw["residual_quantiles"] = tuple(_number("residual_quantiles[]", q) for q in v)
        for key in ("format", "split", "invalid_values"):
            if key in raw:
                kw[key] = _expect(key, raw[key], (str,), "a string")
        if raw.get("custom_metrics"):
            items = _expect("custom_metrics", raw["custom_metrics"], (list, tuple),
                            "a list of {class: module:Class, ...args}")
            customs = []
            for i, item in enumerate(items):
                if isinstance(item, str):
                    item = {"class": item}
                _expect(f"custom_metrics[{i}]", item, (Mapping,), "a mapping")
                if "class" not in item or ":" not in str(item["class"]):
                    raise ConfigError(f"custom_metrics[{i}] needs 'class: module.path:ClassName' "
                                      f"(got {dict(item)})")
                args = tuple(sorted((k, v) for k, v in item.items() if k != "class"))
                customs.append(CustomMetricSpec(str(item["class"]), args))
            kw["custom_metrics"] = tuple(customs)
        validation = {k: raw[k] for k in _VALIDATION_KEYS if k in raw}
        if validation:
            from assay.validation import checks as validation_lib
            validation_lib.parse_validation(validation)
            kw["validation"] = validation
        return cls(**kw)

    @classmethod
    def from_file(cls, path: str) -> "EvalConfig":
        """Reads a YAML or JSON config file."""
        import yaml

        with open(path, encoding="utf-8") as f:
            text = f.read()
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ConfigError(f"config file {path} is not valid YAML/JSON: {e}") from None
        if raw is None:
            raise ConfigError(f"config file {path} is empty")
        try:
            return cls.from_dict(raw)
        except (ConfigError, TypeError) as e:
            raise type(e)(f"{path}: {e}") from None

    def to_dict(self) -> Dict[str, Any]:
        """The config in its YAML/JSON form; from_dict(to_dict()) gives an equal config."""
        models = {}
        for name, spec in self.models:
            d = {k: v for k, v in dataclasses.asdict(spec).items()
                 if v is not None and v != _MODEL_DEFAULTS.get(k)}
            if "features" in d:
                d["features"] = list(d["features"])
            models[name] = d
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
            out["custom_metrics"] = [dict(c.args, **{"class": c.cls}) for c in self.custom_metrics]
        out.update(self.validation)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


_MODEL_DEFAULTS = {f.name: f.default for f in dataclasses.fields(ModelSpec)}
_VALIDATION_KEYS = ("thresholds", "on_no_thresholds", "first_model", "force_bless",
                    "baseline_failure")
_TOP_KEYS = tuple(f.name for f in dataclasses.fields(EvalConfig) if f.name != "validation") + \
    _VALIDATION_KEYS
