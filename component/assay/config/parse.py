"""The parts of `EvalConfig.from_dict`: each reads some keys of the config's YAML/JSON form and
returns typed, immutable values (tuples, never lists or dicts) for EvalConfig's fields.

Value ranges that hold however a config is built (directly or from a dict) are checked in
`EvalConfig.__post_init__`; what is checked here is the form: types, keys, shapes.

Example:
    >>> fields = config_fields({"label": "y", "models": {"candidate": {"prediction": "p"}},
    ...                         "top_k": 5, "slices": [["hour"]]})
    >>> fields["top_k"], [s.name for s in fields["slices"]]
    ((5,), ['overall', 'hour'])
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Dict, List, Mapping, Tuple

from assay.config import values
from assay.config.model_names import check_model_name, ordered
from assay.config.models import ModelSpec, parse_model
from assay.config.slices import SliceSpec, parse_slice_spec
from assay.errors import ConfigError

_INT_KEYS = ("min_slice_size", "num_buckets", "calibration_bins", "batch_size")
_STR_KEYS = ("format", "split", "invalid_values", "query_key", "gain_key")


class FrozenMapping(tuple):
    """A mapping stored as a hashable tuple of (key, value) pairs, in its original order.

    A subclass of tuple so that `thaw` can tell a frozen mapping from a frozen list.
    """

    __slots__ = ()


def freeze(value: Any) -> Any:
    """`value` with every list turned into a tuple and every mapping into a FrozenMapping."""
    if isinstance(value, Mapping):
        return FrozenMapping((k, freeze(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """The inverse of `freeze`: lists and dicts again, as YAML/JSON gave them."""
    if isinstance(value, FrozenMapping):
        return {k: thaw(v) for k, v in value}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


@dataclasses.dataclass(frozen=True)
class CustomMetricSpec:
    """A user's metric class, `module.path:ClassName`, built with `kwargs` on every worker.

    `args` holds the keyword arguments frozen (sorted (name, value) pairs; lists as tuples) so
    that the spec, and the config holding it, stay hashable.
    """

    cls: str
    args: Tuple[Tuple[str, Any], ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "args", tuple((str(k), freeze(v)) for k, v in self.args))

    @property
    def kwargs(self) -> Dict[str, Any]:
        """The arguments as the config wrote them (lists and dicts), for the class."""
        return {k: thaw(v) for k, v in self.args}

    def to_config(self) -> Dict[str, Any]:
        return dict(self.kwargs, **{"class": self.cls})


def parse_models(raw: Mapping[str, Any]) -> Tuple[Tuple[str, ModelSpec], ...]:
    """The `models` section as (name, ModelSpec) pairs: candidate, baseline, then the other
    (benchmark) models in the config's order (see assay.config.model_names)."""
    models = raw.get("models")
    if models is None:
        raise ConfigError("the config needs 'models', e.g. "
                          "models: {candidate: {prediction: pred}}")
    values.expect(models, (Mapping,), "a mapping of model names (candidate, baseline, others) "
                  "to model specs", "models")
    for name in models:
        check_model_name(name, models)
    return tuple((n, parse_model(n, models[n])) for n in ordered(models)
                 if models[n] is not None)


def parse_slices(raw: Mapping[str, Any]) -> Tuple[SliceSpec, ...]:
    """The overall slice first, then each slicing spec once, in the config's order."""
    slices = values.expect(raw.get("slices", []), (list, tuple), "a list of slicing specs",
                           "slices")
    unique: List[SliceSpec] = [SliceSpec()]
    for i, item in enumerate(slices):
        spec = parse_slice_spec(item, i)
        if spec not in unique:
            unique.append(spec)
    return tuple(unique)


def _numbers(value: Any, key: str, kind: type, single: bool = True) -> Tuple[Any, ...]:
    """A list of numbers as a tuple; with `single`, one number stands for a list of one."""
    if single and values.is_number(value):
        value = [value]
    values.expect(value, (list, tuple), f"a list of {'integers' if kind is int else 'numbers'}",
                  key)
    if kind is int:
        return tuple(values.expect(v, (int,), "an integer", f"{key}[]") for v in value)
    return tuple(values.number(v, f"{key}[]") for v in value)


def parse_label(raw: Mapping[str, Any]) -> str:
    """`label`, the one key every config needs."""
    if "label" not in raw:
        raise ConfigError("the config needs 'label': the column that holds the true label")
    label = values.expect(raw["label"], (str,), "a column name", "label")
    if not label.strip():
        raise ConfigError(f"'label' must name a column (got {label!r})")
    return label


def parse_settings(raw: Mapping[str, Any]) -> Dict[str, Any]:
    """The scalar and list settings: weight, task, metrics, numbers and options."""
    kw: Dict[str, Any] = {}
    if raw.get("weight") is not None:
        kw["weight"] = values.expect(raw["weight"], (str,), "a column name", "weight")
        if not kw["weight"].strip():
            raise ConfigError(f"'weight' must name a column (got {kw['weight']!r}); leave it "
                              f"out for unweighted metrics")
    if raw.get("task") is not None:
        kw["task"] = values.expect(raw["task"], (str,), "a string", "task")
    if raw.get("label_vocabulary") is not None:
        vocab = values.expect(raw["label_vocabulary"], (list, tuple), "a list of class names",
                              "label_vocabulary")
        kw["label_vocabulary"] = tuple(str(v) for v in vocab)
    if raw.get("metrics") is not None:
        kw["metrics"] = values.str_list(raw["metrics"], "metrics", "a list of metric names")
    if raw.get("cross_model_metrics") is not None:
        kw["cross_model_metrics"] = values.str_list(raw["cross_model_metrics"],
                                                    "cross_model_metrics",
                                                    "a list of cross-model metric names")
    for key in _INT_KEYS:
        if key in raw:
            kw[key] = values.expect(raw[key], (int,), "an integer", key)
    if "exact" in raw:
        kw["exact"] = values.expect(raw["exact"], (bool,), "true or false", "exact")
    if "decision_thresholds" in raw:
        kw["decision_thresholds"] = _numbers(raw["decision_thresholds"], "decision_thresholds",
                                             float)
        if not kw["decision_thresholds"]:
            raise ConfigError("'decision_thresholds' needs at least one threshold")
    if "ranking_top_k" in raw:
        kw["ranking_top_k"] = _numbers(raw["ranking_top_k"], "ranking_top_k", int)
    if "top_k" in raw:
        kw["top_k"] = _numbers(raw["top_k"], "top_k", int)
    if "residual_quantiles" in raw:
        kw["residual_quantiles"] = _numbers(raw["residual_quantiles"], "residual_quantiles",
                                            float, single=False)
    for key in _STR_KEYS:
        if key in raw:
            kw[key] = values.expect(raw[key], (str,), "a string", key)
    return kw


def parse_custom_metrics(raw: Mapping[str, Any]) -> Tuple[CustomMetricSpec, ...]:
    """`custom_metrics`: each `module.path:ClassName` or {class: ..., **keyword arguments}."""
    if not raw.get("custom_metrics"):
        return ()
    items = values.expect(raw["custom_metrics"], (list, tuple),
                          "a list of {class: module:Class, ...args}", "custom_metrics")
    customs = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            item = {"class": item}
        values.expect(item, (Mapping,), "a mapping", f"custom_metrics[{i}]")
        if "class" not in item or ":" not in str(item["class"]):
            raise ConfigError(f"custom_metrics[{i}] needs 'class: module.path:ClassName' "
                              f"(got {dict(item)})")
        args = tuple(sorted((k, v) for k, v in item.items() if k != "class"))
        customs.append(CustomMetricSpec(str(item["class"]), args))
    return tuple(customs)


def config_fields(raw: Mapping[str, Any]) -> Dict[str, Any]:
    """EvalConfig's fields, except `validation`, from the config's YAML/JSON form."""
    kw = {"label": parse_label(raw), "models": parse_models(raw)}
    kw.update(parse_settings(raw))
    kw["slices"] = parse_slices(raw)
    customs = parse_custom_metrics(raw)
    if customs:
        kw["custom_metrics"] = customs
    return kw


def read_config_file(path: str) -> Dict[str, Any]:
    """The mapping a YAML or JSON config file holds; ConfigError names the file."""
    from assay.data.files import open_read  # local paths and remote stores (gs://, s3://) alike

    with open_read(os.fspath(path)) as f:
        text = f.read().decode("utf-8")
    return values.load_mapping(text, f"config file {path}")


__all__ = ["CustomMetricSpec", "FrozenMapping", "config_fields", "freeze", "parse_custom_metrics",
           "parse_label", "parse_models", "parse_settings", "parse_slices", "read_config_file",
           "thaw"]
