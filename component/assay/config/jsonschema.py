"""A JSON Schema (draft 2020-12) of the config's YAML/JSON form, for editors and CI checks.

`assay schema` prints it. It is generated from the config's dataclasses (EvalConfig, ModelSpec,
ValidationOptions, ConfidenceConfig): their fields give the keys, the type hints the types and
the defaults the defaults, so a new field appears here with no second edit. Where the YAML form
is not the dataclass's (a model is `{path: ...}` or a bare path; a threshold's max_regression is
a number or {absolute, relative}; a number list may be one number), the form is stated once
below. The schema checks the form (keys, types, choices); `EvalConfig.from_dict` checks the
rest (ranges, what the thresholds name), so a config may pass the schema and still be refused.

Example:
    >>> schema = config_schema()
    >>> schema["required"], schema["properties"]["task"]["enum"][:2]
    (['models'], ['binary', 'multiclass'])
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, Dict

_NUMBER_OR_LIST = ("decision_thresholds", "top_k", "ranking_top_k")  # one number: a list of one
_STR_OR_LIST = ("metrics", "cross_model_metrics", "features", "preprocessing")
_NULLABLE = ("weight", "task", "label_vocabulary", "metrics", "cross_model_metrics", "signature",
             "output", "features", "preprocessing")


def _type_schema(hint: Any) -> Dict[str, Any]:
    """The schema of a value of type `hint` (str, int, float, bool, Optional, Union, Tuple)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is str:
        return {"type": "string"}
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        return {"type": "integer"}
    if hint is float:
        return {"type": "number"}
    if origin is typing.Union:
        options = [_type_schema(a) for a in args if a is not type(None)]
        return options[0] if len(options) == 1 else {"anyOf": options}
    if origin is tuple:
        return {"type": "array", "items": _type_schema(args[0]) if args else {}}
    if dataclasses.is_dataclass(hint):
        return dataclass_schema(hint)
    return {}  # Any: checked by from_dict


def _field_schema(name: str, hint: Any, default: Any) -> Dict[str, Any]:
    schema = _type_schema(hint)
    if name in _NUMBER_OR_LIST:
        schema = {"anyOf": [schema["items"], schema]}
    elif name in _STR_OR_LIST:
        schema = {"anyOf": [{"type": "string"}, schema]}
    if name in _NULLABLE:
        schema = {"anyOf": [schema, {"type": "null"}]}
    if default is not dataclasses.MISSING and default is not None:
        schema["default"] = list(default) if isinstance(default, tuple) else default
    return schema


def dataclass_schema(cls: Any, skip=()) -> Dict[str, Any]:
    """An object schema of a config dataclass: one property per field (not those in `skip`),
    no other keys; fields without a default are required."""
    hints = typing.get_type_hints(cls)
    props, required = {}, []
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        props[f.name] = _field_schema(f.name, hints[f.name], f.default)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            required.append(f.name)
    out: Dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        out["required"] = required
    return out


def _model_schema() -> Dict[str, Any]:
    from assay.config.models import KINDS, OUTPUTS, TRANSFORMS, ModelSpec

    spec = dataclass_schema(ModelSpec, skip=("allow_pickle",))  # the caller's opt-in only
    props = spec["properties"]
    for key, choices in (("kind", KINDS), ("transform", TRANSFORMS), ("outputs", OUTPUTS)):
        props[key]["enum"] = list(choices)
    props["batch_size"]["minimum"] = 1
    spec["oneOf"] = [{"required": ["path"]}, {"required": ["prediction"]}]
    return {"anyOf": [{"type": "string", "description": "the model's path"}, spec]}


_SELECTOR = {"anyOf": [{"type": "array", "items": {"type": "string"}},
                       {"type": "object", "additionalProperties": {
                           "type": ["string", "number", "boolean"]}}]}


def _threshold_schema() -> Dict[str, Any]:
    """A threshold's YAML form (assay.config.thresholds), its keys from the parser's list."""
    from assay.config.thresholds import _THRESHOLD_KEYS
    from assay.metrics.registry import DIRECTION_CHOICES

    forms = {
        "metric": {"type": "string", "minLength": 1},
        "min": {"type": "number"}, "max": {"type": "number"},
        "max_regression": {"anyOf": [{"type": "number"}, {
            "type": "object", "minProperties": 1, "additionalProperties": False,
            "properties": {"absolute": {"type": "number"}, "relative": {"type": "number"}}}]},
        "slices": {"type": "array", "minItems": 1, "items": _SELECTOR},
        "max_gap": {"type": "object", "required": ["across", "value"],
                    "additionalProperties": False,
                    "properties": {"across": {"type": "array", "minItems": 1,
                                              "items": {"type": "string"}},
                                   "value": {"type": "number", "minimum": 0}}},
        "direction": {"enum": list(DIRECTION_CHOICES)},
        "model": {"type": "string"},
        "min_ratio": {"type": "object", "required": ["across", "value"],
                      "additionalProperties": False,
                      "properties": {"across": {"type": "array", "minItems": 1,
                                                "items": {"type": "string"}},
                                     "value": {"type": "number", "minimum": 0, "maximum": 1}}},
    }
    metric = {"type": "object", "required": ["metric"], "additionalProperties": False,
              "properties": {k: forms.get(k, {}) for k in _THRESHOLD_KEYS}}
    # Thresholds on sections (assay.config.section_thresholds), told apart by their key: the
    # parser's json_schema where it states one, else any mapping holding the key.
    import importlib

    from assay.config.section_thresholds import SECTION_KINDS

    sections = []
    for key, where in SECTION_KINDS.items():
        module, function = where.split(":")
        try:
            stated = getattr(getattr(importlib.import_module(module), function), "json_schema",
                             None)
        except (ImportError, AttributeError):
            stated = None
        sections.append(stated or {"type": "object", "required": [key]})
    return {"anyOf": [metric] + sections}


_SLICE = {"anyOf": [
    {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "object"}]}},
    {"type": "string"},
    {"type": "object", "minProperties": 1}]}
_CUSTOM = {"anyOf": [{"type": "string", "pattern": ":"},
                     {"type": "object", "required": ["class"],
                      "properties": {"class": {"type": "string", "pattern": ":"}}}]}


def config_schema() -> Dict[str, Any]:
    """The JSON Schema of a config (see the module docstring)."""
    from assay.config.schema import TASKS, EvalConfig
    from assay.config.validation import ValidationOptions

    from assay.config.features import schemas

    top = dataclass_schema(EvalConfig, skip=("validation", "feature_configs"))
    props = top["properties"]
    props["models"] = {"type": "object", "required": ["candidate"],
                       "propertyNames": {"pattern": "^[A-Za-z][A-Za-z0-9_.-]{0,63}$"},
                       "additionalProperties": {"anyOf": [_model_schema(), {"type": "null"}]}}
    props["task"]["anyOf"][0]["enum"] = list(TASKS)
    props["format"]["enum"] = ["auto", "tfrecord", "csv", "parquet"]
    props["invalid_values"]["enum"] = ["error", "skip"]
    props["label_vocabulary"]["anyOf"][0]["items"] = {"type": ["string", "number", "boolean"]}
    props["slices"] = {"type": "array", "items": _SLICE}
    props["custom_metrics"] = {"anyOf": [{"type": "array", "items": _CUSTOM}, {"type": "null"}]}
    props["tfma_names"] = {"anyOf": [{"type": "object", "additionalProperties": {
        "type": "string"}}, {"type": "null"}]}
    if "confidence" in props:  # a mapping, or true / false / null
        props["confidence"] = {"anyOf": [props["confidence"], {"type": ["boolean", "null"]}]}
    if "fairness" in props:  # groups are slicing specs (assay.config.fairness)
        props["fairness"] = {"anyOf": [{"type": "object", "required": ["groups"],
                                        "additionalProperties": False, "properties": {
            "groups": {"type": "array", "minItems": 1, "items": _SLICE},
            "thresholds": {"anyOf": [{"type": "number"}, {"type": "array", "items": {
                "type": "number", "minimum": 0, "maximum": 1}}]},
            "reference": {"anyOf": [{"enum": ["overall", "largest"]},
                                    {"type": "object", "minProperties": 1}]}}},
            {"type": "null"}]}
    for key, schema in schemas().items():  # discover, drift...: assay.config.features
        props[key] = {"anyOf": [schema, {"type": "null"}]} if schema else {}
    options = dataclass_schema(ValidationOptions)["properties"]
    for key, schema in options.items():  # None leaves an option at its default
        props[key] = {"anyOf": [schema, {"type": "null"}]}
    props["thresholds"] = {"anyOf": [{"type": "array", "items": _threshold_schema()},
                                     {"type": "null"}]}
    top["required"] = ["models"]  # no label: a label-free evaluation
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://assay.dev/schemas/config.json", "title": "assay evaluation config",
            **top}


__all__ = ["config_schema", "dataclass_schema"]
