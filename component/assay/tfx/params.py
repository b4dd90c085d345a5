"""The TFX Evaluator parameters that assay's config has no field for, as `assay.tfx.Evaluator`
takes them (TFX 1.16, tfx/components/evaluator/component.py and executor.py).

    feature_slicing_spec            translated: each SingleSlicingSpec's column_for_slicing is a
                                    slice of the config (plus the overall slice, as TFX adds it)
    schema                          accepted and passed on; not used to decode (see SCHEMA_NOTE)
    module_file, module_path        refused: they provide TFMA objects (see MODULE_NOTE)
    fairness_indicator_thresholds   the config's `fairness: {thresholds: ...}` (every slicing
                                    spec a group), or a FairnessIndicators metric in eval_config
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

from assay.errors import ConfigError, ConfigTypeError

# Why the schema is accepted but not used to type features.
SCHEMA_NOTE = (
    "assay reads each tf.Example feature with the type the record itself carries (int64_list, "
    "float_list, bytes_list), which is the type a TFX Schema declares for it, and it feeds "
    "SavedModels serialized tf.Examples (their own parsing spec applies) or columns cast to "
    "the signature's input types; TFX uses the Schema to build TFXIO's RecordBatches for TFMA, "
    "whose decoded form assay does not need")

MODULE_NOTE = (
    "TFX's Evaluator calls a module_file's custom_eval_shared_model (a tfma.EvalSharedModel) "
    "and custom_extractors (tfma Extractors: Beam PTransforms over TFMA's extracts); assay "
    "runs neither TFMA's model loading nor its extractors, so no such module can be used. "
    "Custom metrics are assay Metric classes named by the config's custom_metrics "
    "('module.path:ClassName') and allowed with the allow_custom_code parameter; a model's "
    "own preprocessing signatures run with the config's models.candidate.preprocessing "
    "(TFMA's preprocessing_function_names)")


def refuse_unsupported(module_file: Optional[str], module_path: Optional[str],
                       fairness_indicator_thresholds: Any) -> None:
    """Raises ConfigError for a TFX Evaluator parameter that assay cannot honour, saying why."""
    if module_file is not None and module_path is not None:
        raise ConfigError("give at most one of 'module_file' and 'module_path' (as TFX's "
                          "Evaluator)")
    for name, value in (("module_file", module_file), ("module_path", module_path)):
        if value is not None:
            raise ConfigError(f"assay.tfx.Evaluator does not support '{name}' (got {value!r}): "
                              f"{MODULE_NOTE}")
    del fairness_indicator_thresholds  # supported: see with_fairness_thresholds


def with_fairness_thresholds(config_json: Optional[str], eval_json: Optional[str],
                             thresholds: Any) -> "tuple[Optional[str], Optional[str]]":
    """(config_json, eval_json) asking for TFMA's Fairness Indicators at `thresholds` on every
    slice, as TFX's Evaluator does: `fairness: {thresholds}` in assay's config, or a
    FairnessIndicators metric added to the tfma.EvalConfig; unchanged when thresholds is None.

    Raises:
      ConfigError: thresholds not a list of numbers in [0, 1]; or a config whose `fairness:`
        already sets other thresholds (one place says what they are).
    """
    if thresholds is None:
        return config_json, eval_json
    ts = list(thresholds) if isinstance(thresholds, (list, tuple)) else [thresholds]
    if not ts or not all(isinstance(t, (int, float)) and not isinstance(t, bool) and
                         0 <= t <= 1 for t in ts):
        raise ConfigError(f"'fairness_indicator_thresholds' must list numbers in [0, 1], e.g. "
                          f"[0.25, 0.5, 0.75] (got {thresholds!r})")
    ts = sorted({float(t) for t in ts})
    if eval_json is not None:
        raw = json.loads(eval_json)
        raw.setdefault("metrics_specs", []).append({"metrics": [{
            "class_name": "FairnessIndicators", "config": json.dumps({"thresholds": ts})}]})
        return config_json, json.dumps(raw, sort_keys=True)
    config = json.loads(config_json)
    fairness = dict(config.get("fairness") or {})
    if fairness.get("thresholds") is not None and \
            sorted(float(t) for t in fairness["thresholds"]) != ts:
        raise ConfigError(f"both 'fairness_indicator_thresholds' ({ts}) and the config's "
                          f"fairness.thresholds ({fairness['thresholds']!r}) set the fairness "
                          f"thresholds; give one")
    fairness["thresholds"] = ts
    config["fairness"] = fairness
    return json.dumps(config, sort_keys=True), eval_json


def slicing_spec_slices(spec: Any) -> List[List[str]]:
    """The config's `slices` for a TFX evaluator_pb2.FeatureSlicingSpec: each
    SingleSlicingSpec's column_for_slicing, and the overall slice ([]) as TFX always adds it.

    Args:
      spec: the proto, its JSON string or its dict form (proto field names).

    Raises:
      ConfigTypeError: not a FeatureSlicingSpec or its JSON form.
      ConfigError: a field other than specs / column_for_slicing.

    Example:
      >>> slicing_spec_slices({"specs": [{"column_for_slicing": ["hour"]}, {}]})
      [['hour'], []]
    """
    raw = _as_dict(spec)
    unknown = sorted(set(raw) - {"specs"})
    if unknown:
        raise ConfigError(f"'feature_slicing_spec' has unknown field(s) {unknown}; a "
                          f"FeatureSlicingSpec holds specs: [{{column_for_slicing: [...]}}]")
    slices: List[List[str]] = []
    for i, single in enumerate(raw.get("specs") or []):
        if not isinstance(single, dict) or set(single) - {"column_for_slicing"}:
            raise ConfigError(f"'feature_slicing_spec'.specs[{i}] must be a SingleSlicingSpec "
                              f"{{column_for_slicing: [...]}} (got {single!r})")
        columns = single.get("column_for_slicing") or []
        if not all(isinstance(c, str) and c for c in columns):
            raise ConfigError(f"'feature_slicing_spec'.specs[{i}].column_for_slicing must list "
                              f"feature names (got {columns!r})")
        if list(columns) not in slices:
            slices.append(list(columns))
    if [] not in slices:
        slices.append([])
    return slices


def _as_dict(spec: Any) -> Dict[str, Any]:
    if hasattr(spec, "DESCRIPTOR") and hasattr(spec, "ListFields"):
        if spec.DESCRIPTOR.full_name != "tfx.components.evaluator.FeatureSlicingSpec":
            raise ConfigTypeError(f"'feature_slicing_spec' must be an evaluator_pb2."
                                  f"FeatureSlicingSpec (got a {spec.DESCRIPTOR.full_name} proto)")
        from google.protobuf import json_format

        return json_format.MessageToDict(spec, preserving_proto_field_name=True)
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except ValueError as e:
            raise ConfigError(f"'feature_slicing_spec' is not valid JSON ({e})") from None
    if not isinstance(spec, dict):
        raise ConfigTypeError(f"'feature_slicing_spec' must be an evaluator_pb2."
                              f"FeatureSlicingSpec, its JSON string or dict (got {spec!r}, a "
                              f"{type(spec).__name__})")
    return spec


def with_feature_slicing_spec(config_json: Optional[str], eval_json: Optional[str],
                              feature_slicing_spec: Any) -> Optional[str]:
    """assay's config (JSON) with the feature_slicing_spec's slices; unchanged without one.

    Raises:
      ConfigError: given with eval_config (TFX refuses that too), or with a config that has
        slices of its own (one place says what the slices are).
    """
    if feature_slicing_spec is None:
        return config_json
    if eval_json is not None:
        raise ConfigError("give exactly one of 'eval_config' or 'feature_slicing_spec' (as "
                          "TFX's Evaluator): put the slices in eval_config.slicing_specs")
    config = json.loads(config_json)
    if config.get("slices"):
        raise ConfigError(f"both 'feature_slicing_spec' and the config's slices "
                          f"({config['slices']!r}) say what to slice by; give one")
    config["slices"] = slicing_spec_slices(feature_slicing_spec)
    return json.dumps(config, sort_keys=True)


__all__ = ["MODULE_NOTE", "SCHEMA_NOTE", "refuse_unsupported", "slicing_spec_slices",
           "with_fairness_thresholds", "with_feature_slicing_spec"]
