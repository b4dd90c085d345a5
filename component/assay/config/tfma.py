"""Translate a `tfma.EvalConfig` into assay's config, so a TFMA/TFX user keeps their config.

    import tensorflow_model_analysis as tfma
    from assay.config.tfma import from_tfma

    eval_config = tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(label_key="label", prediction_key="score")],
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=["region"])],
        metrics_specs=[tfma.MetricsSpec(metrics=[tfma.MetricConfig(
            class_name="AUC",
            threshold=tfma.MetricThreshold(
                value_threshold=tfma.GenericValueThreshold(lower_bound={"value": 0.7}),
                change_threshold=tfma.GenericChangeThreshold(
                    direction=tfma.MetricDirection.HIGHER_IS_BETTER,
                    absolute={"value": -0.01})))])])
    from_tfma(eval_config)
    # {'label': 'label', 'models': {'candidate': {'outputs': 'scores', 'prediction': 'score'}},
    #  'slices': [[], ['region']],
    #  'thresholds': [{'metric': 'auc', 'min': 0.7, 'max_regression': {'absolute': 0.01},
    #                  'slices': [[], ['region']]}]}

What is translated (TFMA 0.47 semantics, evaluators/metrics_validator.py):
  - model_specs: label_key -> label, example_weight_key -> weight, is_baseline -> the baseline,
    inference_batch_size -> batch_size. Without `model_paths` the evaluation is model-agnostic
    and prediction_key names the prediction column (models.*.prediction). With `model_paths`
    (what the TFX component passes: the Model artifacts' URIs) each model is run from its path,
    signature_name -> signature, prediction_key -> output (the model's output key); a baseline
    spec with no baseline path is dropped (TFX's first run), and a baseline path with no baseline
    spec copies the candidate's spec (as TFMA's update_eval_config_with_defaults does).
    preprocessing_function_names -> preprocessing (signatures run on each batch; their outputs
    are features the label, weight and slices may name: assay.engine.transformed). Every
    model gets outputs: scores, since TFMA takes a model's outputs as they are (logits too).
  - slicing_specs: feature_keys -> [keys], feature_values -> {feature: value} (numeric strings
    become numbers, as TFMA's slicer does), both -> {keys: [...], values: {...}}. No slicing
    specs means the overall slice only.
  - metrics_specs: metric classes -> assay metric names (see `METRIC_NAMES`); thresholds given
    with a metric (`threshold`) or by name (`thresholds`) apply, as in TFMA, to every slice the
    evaluation computes: they become `slices:` listing every slicing spec. `per_slice_thresholds`
    apply to their own slicing specs.
  - value_threshold lower_bound / upper_bound -> min / max (both inclusive, as in TFMA).
  - change_threshold -> max_regression. TFMA's change bound is signed in the metric's
    direction: HIGHER_IS_BETTER passes when candidate - baseline >= absolute, so assay's
    max_regression is -absolute; LOWER_IS_BETTER passes when the change <= absolute, so it is
    +absolute. Relative bounds likewise; TFMA divides by the signed baseline and assay by
    |baseline|, the same when the baseline is positive.
  - options.min_slice_size -> min_slice_size.
  - options.compute_confidence_intervals -> `confidence: {}`: assay's paired Poisson bootstrap
    (200 replicates, level 0.95) whatever options.confidence_intervals.method says; the
    thresholds are then decided on the intervals (assay.validation.gate, on_inconclusive
    fail), where TFMA's validator compares the point values.

Known differences of the translated config from TFMA (all on purpose, see assay.validation.checks):
  - A first model with only change thresholds: TFX writes no blessing at all (the Pusher then
    refuses); assay blesses it (first_model: bless) unless the config says `first_model: reject`.
  - A slicing spec whose every slice is withheld by min_slice_size fails an every-slice
    threshold in assay (there was nothing to check); TFMA skips it silently.
  - Relative change against a zero baseline (TFMA fails any relative bound; see
    assay.validation.checks), and bounds are compared with a 1e-9 tolerance.

query_key, binarize class_ids and aggregate: see assay.config.tfma_spec_options.
Anything else (cross-slice thresholds, multi-output models, binarize k_list / top_k_list,
custom metric modules, ...) raises `TfmaConfigError`, naming every
unsupported part at once.

Importing this module does not import TFMA or TensorFlow: a proto is read through its JSON form.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional, Tuple

from assay.config.tfma_metrics import (FIRST_DECISION_THRESHOLD, METRIC_NAMES, Translation,
                                       default_metric_name)
from assay.config import tfma_models, tfma_spec_options
from assay.config.tfma_metrics import unwrapped as _wrapped
from assay.errors import ConfigError, ConfigTypeError

__all__ = ["METRIC_NAMES", "TfmaConfigError", "default_metric_name", "eval_config_json",
           "from_tfma"]


class TfmaConfigError(ConfigError):
    """A tfma.EvalConfig that assay cannot translate; the message names every unsupported part."""


_MODEL_TYPES = ("", "tf_keras", "tf_generic")


def eval_config_json(eval_config: Any) -> str:
    """The JSON form of a tfma.EvalConfig (proto field names, as TFX stores it), sorted.

    Accepts the proto, its JSON string or its dict form.
    """
    return json.dumps(_as_dict(eval_config), sort_keys=True)


def _as_dict(eval_config: Any) -> Dict[str, Any]:
    if hasattr(eval_config, "DESCRIPTOR") and hasattr(eval_config, "ListFields"):
        from google.protobuf import json_format

        if eval_config.DESCRIPTOR.full_name != "tensorflow_model_analysis.EvalConfig":
            raise ConfigTypeError(f"eval_config must be a tfma.EvalConfig "
                                  f"(got a {eval_config.DESCRIPTOR.full_name} proto)")
        return json_format.MessageToDict(eval_config, preserving_proto_field_name=True)
    if isinstance(eval_config, (str, bytes)):
        try:
            eval_config = json.loads(eval_config)
        except ValueError as e:
            raise TfmaConfigError(f"eval_config is not valid JSON ({e})") from None
    if not isinstance(eval_config, Mapping):
        raise ConfigTypeError(f"eval_config must be a tfma.EvalConfig, its JSON string or dict "
                              f"(got {eval_config!r}, a {type(eval_config).__name__})")
    return dict(eval_config)


def _to_type(value: Any) -> Any:
    """TFMA's slicer conversion: numeric strings become int or float."""
    if isinstance(value, (int, float)):
        return value
    text = str(value)
    try:
        return float(text) if "." in text else int(text)
    except ValueError:
        return text


class _Translation(Translation):
    """Translates models, slices and metrics specs; collects every unsupported part."""

    # -- models -------------------------------------------------------------------------------

    def model(self, where: str, spec: Mapping[str, Any], path: Optional[str]) -> Dict[str, Any]:
        for key in ("label_keys", "prediction_keys", "example_weight_keys", "padding_options"):
            if spec.get(key):
                self.unsupported(where, f"'{key}' (multi-output models are not supported)")
        if spec.get("model_type", "") not in _MODEL_TYPES:
            self.unsupported(where, f"model_type '{spec['model_type']}' (assay runs TF "
                                    f"SavedModel signatures: leave model_type empty, or use "
                                    f"tf_keras or tf_generic)")
        # TFMA takes a model's outputs as they are (logits, scores): no range is checked.
        out: Dict[str, Any] = {"outputs": "scores"}
        prediction_key = spec.get("prediction_key") or None
        preprocessing = list(spec.get("preprocessing_function_names") or [])
        if path is None:
            if prediction_key is None:
                self.unsupported(where, "no prediction_key: a model-agnostic evaluation (no "
                                        "model path given) reads predictions from the column "
                                        "named by prediction_key")
            else:
                out["prediction"] = prediction_key
            if preprocessing:
                self.unsupported(where, f"preprocessing_function_names {preprocessing}: they "
                                        f"are signatures of the model, and a model-agnostic "
                                        f"evaluation (no model path given) runs no model")
            return out
        out["path"] = path
        if preprocessing:
            out["preprocessing"] = preprocessing
        if spec.get("signature_name"):
            out["signature"] = spec["signature_name"]
        if prediction_key:
            out["output"] = prediction_key
        if spec.get("inference_batch_size"):
            out["batch_size"] = int(_wrapped(spec["inference_batch_size"]))
        return out

    def models(self, specs: List[Mapping[str, Any]], model_paths: Optional[Mapping[str, str]]
               ) -> Tuple[Dict[str, Any], Optional[str], Optional[str], Dict[str, str]]:
        """(models, label, weight, {assay model name: TFMA model name})."""
        specs = specs or [{}]
        candidates = [(i, s) for i, s in enumerate(specs) if not s.get("is_baseline")]
        baselines = [(i, s) for i, s in enumerate(specs) if s.get("is_baseline")]
        if not candidates or len(baselines) > 1:
            raise TfmaConfigError(
                f"model_specs: assay evaluates a candidate, at most one baseline and other "
                f"named models (the first spec without is_baseline is the candidate) "
                f"(is_baseline: true) (got {len(candidates)} candidate(s) and "
                f"{len(baselines)} baseline(s))")
        if model_paths is not None and "candidate" not in model_paths:
            raise TfmaConfigError(f"model_paths needs 'candidate' (got {sorted(model_paths)})")
        (ci, cand), others = candidates[0], candidates[1:]
        names = {"candidate": cand.get("name") or "candidate"}
        models = {"candidate": self.model(f"model_specs[{ci}]", cand,
                                          model_paths and model_paths["candidate"])}
        label = cand.get("label_key") or None
        weight = cand.get("example_weight_key") or None
        if label is None:
            self.unsupported(f"model_specs[{ci}]", "no label_key: assay needs the label column")
        if baselines:
            (bi, base), = baselines
            names["baseline"] = base.get("name") or "baseline"
            for key, ours in (("label_key", label), ("example_weight_key", weight)):
                if base.get(key) and base[key] != ours:
                    self.unsupported(f"model_specs[{bi}]", f"{key} '{base[key]}' differs from "
                                     f"the candidate's ('{ours}'); assay uses one {key}")
        if model_paths is None:
            if baselines:
                models["baseline"] = self.model(f"model_specs[{bi}]", base, None)
        elif model_paths.get("baseline"):
            where, spec = (f"model_specs[{bi}]", base) if baselines else (f"model_specs[{ci}]",
                                                                          cand)
            models["baseline"] = self.model(where, spec, model_paths["baseline"])
        tfma_models.benchmark_models(self, others, models, names, model_paths)
        return models, label, weight, names

    # -- slices -------------------------------------------------------------------------------

    def slicing_spec(self, where: str, spec: Mapping[str, Any]) -> Any:
        """An assay slicing spec: [] overall, [keys], {feature: value} or {keys, values}."""
        if spec.get("slice_keys_sql"):
            self.unsupported(where, "slice_keys_sql (SQL slices are not supported)")
        keys = list(spec.get("feature_keys") or [])
        values = {str(k): _to_type(v) for k, v in (spec.get("feature_values") or {}).items()}
        if keys and values:
            return {"keys": keys, "values": values}
        return values if values else keys

    def selector(self, where: str, spec: Mapping[str, Any]) -> Any:
        """The assay threshold `slices` entry for a TFMA per-slice threshold's slicing spec."""
        sliced = self.slicing_spec(where, spec)
        if isinstance(sliced, Mapping) and "keys" in sliced:
            self.unsupported(where, "a per-slice threshold on a slicing spec with both "
                                    "feature_keys and feature_values (assay thresholds name "
                                    "every slice of [features] or one slice {feature: value})")
            return []
        return sliced

    def metrics_spec_applies(self, where: str, spec: Mapping[str, Any], candidate_name: str,
                             model_names: Mapping[str, str]) -> List[str]:
        """Notes the metrics spec's untranslatable options; returns the assay models its
        thresholds apply to (assay.config.tfma_models.threshold_models)."""
        for key, what in (("output_names", "multi-output models"),
                          ("output_weights", "multi-output models"),
                          ("cross_slice_thresholds", "use assay's max_gap")):
            value = spec.get(key)
            if value and not (key == "output_names" and value == [""]):
                self.unsupported(f"{where}.{key}", f"not supported: {what}")
        weights = spec.get("example_weights") or {}
        self.unweighted = bool(weights.get("unweighted") and not weights.get("weighted"))
        counts_only = all(m.get("class_name") == "ExampleCount" for m in spec.get("metrics", []))
        if (self.weight and weights.get("unweighted") and not weights.get("weighted")
                and not counts_only):
            self.unsupported(f"{where}.example_weights", "unweighted metrics only (assay "
                                                         "weights every metric by `weight`)")
        if spec.get("model_names"):
            known = set(model_names.values())
            for n in spec["model_names"]:
                if n and n not in known:
                    self.unsupported(f"{where}.model_names", f"'{n}' names no model_spec "
                                     f"(model names: {sorted(known)})")
        # "" is TFMA's name for the one model of a config without a baseline.
        return tfma_models.threshold_models(spec.get("model_names"), model_names)

    def metrics_spec(self, where: str, spec: Mapping[str, Any], every_slice: List[Any],
                     candidate_name: str, model_names: Mapping[str, str]
                     ) -> List[Dict[str, Any]]:
        """The assay thresholds of one tfma.MetricsSpec: those given with a metric, per slice,
        or by metric name."""
        applies = self.metrics_spec_applies(where, spec, candidate_name, model_names)
        options = tfma_spec_options.read_options(self, where, spec)  # query_key, binarize, ...
        thresholds: List[Dict[str, Any]] = []
        by_name: Dict[str, Tuple[Optional[str], float]] = {}

        def add(w: str, metric: Optional[str], scale: float, t: Mapping[str, Any],
                slices: List[Any]) -> None:
            for one in metric if isinstance(metric, list) else [metric]:  # binarized: several
                translated = self.threshold(w, one, scale, t, slices)
                if translated is not None:
                    thresholds.extend(tfma_models.for_models(translated, applies))

        def per_slice(w: str, metric: Optional[str], scale: float,
                      items: List[Mapping[str, Any]]) -> None:
            for k, item in enumerate(items):
                specs = item.get("slicing_specs") or [{}]
                slices = [self.selector(f"{w}[{k}].slicing_specs[{m}]", s)
                          for m, s in enumerate(specs)]
                add(f"{w}[{k}]", metric, scale, item.get("threshold") or {}, slices)

        for j, metric in enumerate(spec.get("metrics") or []):
            w = f"{where}.metrics[{j}] ({metric.get('class_name', '')})"
            if metric.get("class_name") in tfma_models.CROSS_MODEL_CLASSES:
                cross = tfma_models.cross_model_spec(self, w, metric, by_name)
                if metric.get("threshold") and cross:
                    add(f"{w}.threshold", cross, 1.0, metric["threshold"], every_slice)
                continue
            tfma_name, name, scale = tfma_spec_options.translate(self, w, metric, options)
            by_name[tfma_name] = (name, scale)
            if metric.get("cross_slice_thresholds"):
                self.unsupported(f"{w}.cross_slice_thresholds", "not supported (use assay's "
                                                                "max_gap)")
            if metric.get("threshold"):
                add(f"{w}.threshold", name, scale, metric["threshold"], every_slice)
            per_slice(f"{w}.per_slice_thresholds", name, scale,
                      metric.get("per_slice_thresholds") or [])

        def named(w: str, tfma_name: str) -> Tuple[Optional[str], float]:
            if tfma_name in by_name:
                return by_name[tfma_name]
            for class_name in METRIC_NAMES:
                if default_metric_name(class_name) == tfma_name:
                    return self.metric(w, {"class_name": class_name})[1:]
            self.unsupported(w, f"threshold on '{tfma_name}', which no metric of this "
                                f"metrics_spec computes (metrics: {sorted(by_name)})")
            return None, 1.0

        for tfma_name, t in sorted((spec.get("thresholds") or {}).items()):
            w = f"{where}.thresholds[{tfma_name}]"
            name, scale = named(w, tfma_name)
            if name is not None:
                add(w, name, scale, t, every_slice)
        for tfma_name, ts in sorted((spec.get("per_slice_thresholds") or {}).items()):
            w = f"{where}.per_slice_thresholds[{tfma_name}]"
            name, scale = named(w, tfma_name)
            if name is not None:
                per_slice(w + ".thresholds", name, scale, (ts or {}).get("thresholds") or [])
        return thresholds


_TOP_KEYS = ("model_specs", "slicing_specs", "cross_slicing_specs", "metrics_specs", "options")
_OPTION_KEYS = ("include_default_metrics", "compute_confidence_intervals",
                "confidence_intervals", "min_slice_size", "disabled_outputs")


def _every_slice(slices: List[Any]) -> List[List[str]]:
    """The threshold `slices` meaning every slice computed: each slicing spec's features once.

    TFMA checks a threshold without slicing specs on every slice it computes."""
    every_slice: List[List[str]] = []
    for s in slices:
        if isinstance(s, Mapping) and "keys" in s:
            features = list(s["keys"]) + list(s["values"])
        else:
            features = list(s)  # the keys, or the features of a {feature: value} spec
        if sorted(features) not in [sorted(f) for f in every_slice]:
            every_slice.append(features)
    return every_slice


def _check_options(tr: _Translation, options: Mapping[str, Any]) -> None:
    for key in options:
        if key not in _OPTION_KEYS:
            tr.unsupported("options", f"unknown option '{key}'")
    if options.get("disabled_outputs"):
        tr.unsupported("options.disabled_outputs", "not supported (assay writes all outputs)")


def from_tfma(eval_config: Any, model_paths: Optional[Mapping[str, str]] = None
              ) -> Dict[str, Any]:
    """assay's config (its YAML/JSON form) equivalent to a tfma.EvalConfig.

    Args:
      eval_config: a tfma.EvalConfig, or its JSON form (a string or dict with proto field
        names, as TFX stores it in an execution property).
      model_paths: None for a model-agnostic evaluation (prediction_key names a column); else
        {"candidate": path, "baseline": path (optional)}: run these models (prediction_key then
        names the model's output key).

    Returns:
      A dict for `assay.evaluate` / `EvalConfig.from_dict`.

    Raises:
      TfmaConfigError: parts of the config that assay cannot translate, all named.
      ConfigTypeError: eval_config is not a tfma.EvalConfig or its JSON form.

    Example:
        >>> from_tfma({"model_specs": [{"label_key": "y", "prediction_key": "p"}],
        ...            "options": {"min_slice_size": 20}})
        ... # doctest: +NORMALIZE_WHITESPACE
        {'label': 'y', 'models': {'candidate': {'outputs': 'scores', 'prediction': 'p'}},
         'min_slice_size': 20}
    """
    raw = _as_dict(eval_config)
    unknown = sorted(k for k in raw if k not in _TOP_KEYS)
    if unknown:
        raise TfmaConfigError(f"eval_config has unknown field(s) {unknown}; expected proto "
                              f"field names {list(_TOP_KEYS)} (camelCase JSON is not read)")
    tr = _Translation()
    models, label, weight, names = tr.models(list(raw.get("model_specs") or []), model_paths)
    tr.weight = weight
    tr.label = label
    slicing = raw.get("slicing_specs") or [{}]
    slices = [tr.slicing_spec(f"slicing_specs[{i}]", s) for i, s in enumerate(slicing)]
    every_slice = _every_slice(slices)
    if raw.get("cross_slicing_specs"):
        tr.unsupported("cross_slicing_specs", "not supported (assay bounds differences "
                                              "between slices with max_gap)")
    thresholds: List[Dict[str, Any]] = []
    for i, spec in enumerate(raw.get("metrics_specs") or []):
        thresholds += tr.metrics_spec(f"metrics_specs[{i}]", spec, every_slice,
                                      names["candidate"], names)
    options = raw.get("options") or {}
    _check_options(tr, options)
    if tr.problems:
        raise TfmaConfigError("this tfma.EvalConfig cannot be translated to assay's config:\n"
                              + "\n".join(f"  - {p}" for p in tr.problems))
    out: Dict[str, Any] = {"label": label, "models": models}
    if weight:
        out["weight"] = weight
    if slices != [[]]:
        out["slices"] = slices
    if tr.decision_thresholds:
        out["decision_thresholds"] = [FIRST_DECISION_THRESHOLD] + tr.decision_thresholds
    if tr.top_k:
        out["top_k"] = tr.top_k
    if options.get("min_slice_size") is not None:
        out["min_slice_size"] = int(_wrapped(options["min_slice_size"]))
    if _wrapped(options.get("compute_confidence_intervals")):
        out["confidence"] = {}
    if getattr(tr, "fairness_thresholds", None):  # FairnessIndicators: every slicing spec
        out["fairness"] = {"thresholds": tr.fairness_thresholds}
    if getattr(tr, "cross_model", None):
        out["cross_model_metrics"] = tr.cross_model
    out.update(tfma_spec_options.settings(tr))  # query_key, gain_key, ranking_top_k, task
    if thresholds:
        out["thresholds"] = thresholds
    if tr.tfma_names:  # {assay metric: TFMA's name for it}, for TFMA's files and readers
        out["tfma_names"] = dict(sorted(tr.tfma_names.items()))
    return out
