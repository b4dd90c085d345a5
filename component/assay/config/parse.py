"""The parts of `EvalConfig.from_dict`: each reads some keys of the config's YAML/JSON form and
returns typed, immutable values (tuples, never lists or dicts) for EvalConfig's fields.

Value ranges that hold however a config is built (directly or from a dict) are checked in
`EvalConfig.__post_init__`; what is checked here is the form: types, keys, shapes, and what the
thresholds name (assay.config.references). `config_fields` finds every such problem before it
raises, so one ConfigError lists them all.

Example:
    >>> fields = config_fields({"label": "y", "models": {"candidate": {"prediction": "p"}},
    ...                         "top_k": 5, "slices": [["hour"]]})
    >>> fields["top_k"], [s.name for s in fields["slices"]]
    ((5,), ['overall', 'hour'])
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from assay.config import values
from assay.config.references import tfma_alias, tfma_aliased, threshold_problems
from assay.config.thresholds import Threshold, parse_thresholds
from assay.config.validation import ValidationOptions
from assay.config.confidence import parse_confidence
from assay.config.fairness import parse_fairness, with_group_slices
from assay.config.features import parse_features
from assay.config.model_names import check_model_name, ordered
from assay.config.models import ModelSpec, parse_model
from assay.config.slices import SliceSpec, parse_slice_spec
from assay.errors import ConfigError
from assay.metrics.registry import TASKS

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


def parse_label(raw: Mapping[str, Any]) -> Optional[str]:
    """`label`, the column of the true label; None when left out (a label-free evaluation:
    assay.metrics.label_free)."""
    if raw.get("label") is None:
        return None
    label = values.expect(raw["label"], (str,), "a column name", "label")
    if not label.strip():
        raise ConfigError(f"'label' must name a column (got {label!r})")
    return label


def _setting(raw: Mapping[str, Any], key: str) -> Any:
    """The parsed value of one setting `key` present in `raw` (see parse_settings)."""
    value = raw[key]
    if key in ("weight", "task", *_STR_KEYS):
        what = "a column name" if key == "weight" else "a string"
        value = values.expect(value, (str,), what, key)
        if key == "weight" and not value.strip():
            raise ConfigError(f"'weight' must name a column (got {value!r}); leave it "
                              f"out for unweighted metrics")
        if key in _CHOICES:  # here too, so that a bad choice is listed with the others
            values.choice(value, _CHOICES[key], key)
        return value
    if key == "label_vocabulary":
        vocab = values.expect(value, (list, tuple), "a list of class names", key)
        return tuple(str(v) for v in vocab)
    if key == "metrics":
        return values.str_list(value, key, "a list of metric names")
    if key == "cross_model_metrics":
        return values.str_list(value, key, "a list of cross-model metric names")
    if key in _INT_KEYS:
        return values.expect(value, (int,), "an integer", key)
    if key == "exact":
        return values.expect(value, (bool,), "true or false", key)
    if key == "decision_thresholds":
        value = _numbers(value, key, float)
        if not value:
            raise ConfigError("'decision_thresholds' needs at least one threshold")
        return value
    if key in ("ranking_top_k", "top_k"):
        return _numbers(value, key, int)
    return _numbers(value, key, float, single=False)  # residual_quantiles


_CHOICES = {"task": TASKS, "format": ("auto", "tfrecord", "csv", "parquet"),
            "invalid_values": ("error", "skip")}
# The settings parse_settings reads; those marked None in YAML are left out when optional.
_SETTINGS = ("weight", "task", "label_vocabulary", "metrics", "cross_model_metrics") + \
    _INT_KEYS + ("exact", "decision_thresholds", "ranking_top_k", "top_k",
                 "residual_quantiles") + _STR_KEYS
_NONE_MEANS_UNSET = ("weight", "task", "label_vocabulary", "metrics", "cross_model_metrics")


def parse_settings(raw: Mapping[str, Any], problems: Optional[List[ConfigError]] = None
                   ) -> Dict[str, Any]:
    """The scalar and list settings: weight, task, metrics, numbers and options.

    With `problems`, every bad setting's ConfigError is appended to it (and the setting left
    out) instead of raised, so that one error can name them all.
    """
    kw: Dict[str, Any] = {}
    for key in _SETTINGS:
        if key not in raw or (key in _NONE_MEANS_UNSET and raw[key] is None):
            continue
        try:
            kw[key] = _setting(raw, key)
        except ConfigError as e:
            if problems is None:
                raise
            problems.append(e)
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


def aliased(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """`raw` with TFMA's metric spellings (AUC, BinaryAccuracy, ...) in `metrics:` and in the
    thresholds replaced by assay's names (assay.config.references.tfma_alias)."""
    out = dict(raw)
    if isinstance(raw.get("metrics"), str):
        out["metrics"] = tfma_alias(raw["metrics"])
    elif isinstance(raw.get("metrics"), (list, tuple)):
        out["metrics"] = [tfma_alias(m) for m in raw["metrics"]]
    if isinstance(raw.get("thresholds"), (list, tuple)):
        out["thresholds"] = [tfma_aliased(t) for t in raw["thresholds"]]
    return out if out != dict(raw) else raw


def _thresholds(raw: Mapping[str, Any], undeclared_ok: bool, problems: List[ConfigError]
                ) -> List[Tuple[int, Threshold]]:
    """(index, Threshold) of each threshold that parses; the others' errors go to `problems`."""
    items = raw.get("thresholds")
    if not isinstance(items, (list, tuple)):
        _attempt(problems, parse_thresholds, items, undeclared_ok)
        return []
    out = []
    for i, item in enumerate(items):
        try:
            out.append((i, parse_thresholds([item], undeclared_ok)[0]))
        except ConfigError as e:  # the message starts "thresholds[0]": give its real place
            problems.append(type(e)(f"thresholds[{i}]{str(e)[len('thresholds[0]'):]}"))
    return out


def _attempt(problems: List[ConfigError], parse, *args) -> Any:
    """parse(*args), or None with its ConfigError appended to `problems`."""
    try:
        return parse(*args)
    except ConfigError as e:
        problems.append(e)
        return None


def config_fields(raw: Mapping[str, Any], top_keys: Optional[Sequence[str]] = None
                  ) -> Dict[str, Any]:
    """EvalConfig's fields, except `validation`, from the config's YAML/JSON form.

    Every problem is found before one is raised: unknown top-level keys (when `top_keys` lists
    the valid ones), each part's form, each threshold, and what the thresholds name that the
    config does not compute (assay.config.references). One problem is raised as it is; several
    as one ConfigError listing them all, each with its place.
    """
    problems: List[ConfigError] = []
    if top_keys is not None:
        _attempt(problems, values.check_keys, raw, top_keys, "the config")
    kw = {"label": _attempt(problems, parse_label, raw),
          "models": _attempt(problems, parse_models, raw)}
    kw.update(parse_settings(raw, problems))
    kw["slices"] = _attempt(problems, parse_slices, raw)
    customs = _attempt(problems, parse_custom_metrics, raw)
    if customs:
        kw["custom_metrics"] = customs
    kw.update(_attempt(problems, parse_confidence, raw) or {})
    kw.update(_attempt(problems, parse_fairness, raw) or {})
    features = _attempt(problems, parse_features, raw)
    if features:
        kw["feature_configs"] = features
    thresholds = _thresholds(raw, bool(raw.get("custom_metrics")), problems)
    _attempt(problems, ValidationOptions.from_config, raw)
    if kw["slices"] is not None:  # `fairness:` groups are slices too (thresholds name them)
        kw["slices"] = with_group_slices(kw["slices"], kw.get("fairness"))
    if kw["slices"] is not None:  # with slices unparsed, every slice would look missing
        problems += [ConfigError(p) for p in threshold_problems(thresholds, kw)]
    if len(problems) == 1:
        raise problems[0]
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        raise ConfigError(f"{len(problems)} problems in the config:\n{listed}")
    return kw


def read_config_file(path: str) -> Dict[str, Any]:
    """The mapping a YAML or JSON config file holds; ConfigError names the file."""
    from assay.data.files import open_read  # local paths and remote stores (gs://, s3://) alike

    with open_read(os.fspath(path)) as f:
        text = f.read().decode("utf-8")
    return values.load_mapping(text, f"config file {path}")


__all__ = ["CustomMetricSpec", "FrozenMapping", "aliased", "config_fields", "freeze", "parse_custom_metrics",
           "parse_label", "parse_models", "parse_settings", "parse_slices", "read_config_file",
           "thaw"]
