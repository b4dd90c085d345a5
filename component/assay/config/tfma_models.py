"""The model side of translating a tfma.EvalConfig: several model_specs, and the cross-model
metric classes (flip rates, prediction difference, cosine similarity).

  - model_specs: the first spec without is_baseline is the candidate, the one with is_baseline
    the baseline; every other spec is a benchmark model under its own `name` (which must be a
    valid assay model name: assay.config.model_names). Model-agnostic: its prediction_key names
    its column. With model paths: `model_paths[name]` is its path.
  - A metrics_spec's `model_names` name the models its thresholds apply to (TFMA checks the
    thresholds on every model it names but the baseline; no model_names: every model but the
    baseline). An assay threshold on a model other than the candidate carries `model: NAME`.
  - BooleanFlipRates, SymmetricFlipRate, NegToNegFlipRate, NegToPosFlipRate, PosToNegFlipRate,
    PosToPosFlipRate, SymmetricPredictionDifference and ModelCosineSimilarity become the
    config's `cross_model_metrics` (assay.metrics.cross_names), a flip rate with a `threshold`
    other than 0.5 as `name@t`. Their values are written in the diff records, as TFMA keys
    them with is_diff.

Example:
    >>> cross_model_metric("SymmetricFlipRate", {"threshold": 0.3})
    ['symmetric_flip_rate@0.3']
    >>> cross_model_metric("BooleanFlipRates", {})[:2]
    ['flip_rate', 'neg_to_neg_flip_rate']
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional, Tuple

from assay.config.model_names import BASELINE, CANDIDATE, check_model_name
from assay.errors import ConfigError
from assay.metrics.cross_names import DEFAULT_FLIP_THRESHOLD

# TFMA class -> the assay cross-model metric it computes (BooleanFlipRates: five of them).
CROSS_MODEL_CLASSES: Dict[str, str] = {
    "SymmetricFlipRate": "symmetric_flip_rate",
    "BooleanFlipRates": "flip_rate",
    "NegToNegFlipRate": "neg_to_neg_flip_rate",
    "NegToPosFlipRate": "neg_to_pos_flip_rate",
    "PosToNegFlipRate": "pos_to_neg_flip_rate",
    "PosToPosFlipRate": "pos_to_pos_flip_rate",
    "SymmetricPredictionDifference": "symmetric_prediction_difference",
    "ModelCosineSimilarity": "model_cosine_similarity",
}
# BooleanFlipRates' per-rate name settings, with the defaults TFMA writes out in full.
_DEFAULT_SUB_NAMES = {"symmetric_flip_rate_name": "flip_rate",
                      "neg_to_neg_flip_rate_name": "neg_to_neg_flip_rate",
                      "neg_to_pos_flip_rate_name": "neg_to_pos_flip_rate",
                      "pos_to_neg_flip_rate_name": "pos_to_neg_flip_rate",
                      "pos_to_pos_flip_rate_name": "pos_to_pos_flip_rate"}
_BOOLEAN_FLIP_RATES = ("flip_rate", "neg_to_neg_flip_rate", "neg_to_pos_flip_rate",
                       "pos_to_neg_flip_rate", "pos_to_pos_flip_rate")


def cross_model_metric(class_name: str, config: Mapping[str, Any]) -> List[str]:
    """The assay cross-model metric names of one TFMA metric class with its JSON config.

    Raises:
      ConfigError: a config key the class does not have in TFMA 0.47, or a renamed metric
        (assay writes TFMA's default names).
    """
    known = {"threshold"} if "Flip" in class_name else set()
    for key, value in config.items():
        if key == "name" and value in (None, "", CROSS_MODEL_CLASSES[class_name]):
            continue
        if key in _DEFAULT_SUB_NAMES and value in (None, "", _DEFAULT_SUB_NAMES[key]):
            continue  # TFMA's serialisation of its own defaults
        if key not in known:
            raise ConfigError(f"{class_name}: config key '{key}' is not supported (assay keys "
                              f"the metric by TFMA's default name; known keys: "
                              f"{sorted(known) or 'none'})")
    names = list(_BOOLEAN_FLIP_RATES) if class_name == "BooleanFlipRates" else \
        [CROSS_MODEL_CLASSES[class_name]]
    t = config.get("threshold")
    if t is None or float(t) == DEFAULT_FLIP_THRESHOLD:
        return names
    return [f"{n}@{float(t):g}" for n in names]


def model_name_of(where: str, spec: Mapping[str, Any]) -> str:
    """The assay name of a benchmark model_spec (neither the candidate nor the baseline)."""
    name = spec.get("name") or ""
    if name in (CANDIDATE, BASELINE, ""):
        raise ConfigError(f"{where}: assay evaluates one candidate and at most one baseline, "
                          f"and any other model_spec as a benchmark named by its 'name', which "
                          f"must not be empty, candidate or baseline (got {name!r})")
    try:
        return check_model_name(name, (CANDIDATE, BASELINE))
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None


def threshold_models(spec_models: Optional[List[str]], names: Mapping[str, str]) -> List[str]:
    """The assay models a metrics_spec's thresholds apply to: those its `model_names` name
    (TFMA name "" is the one model of a config without a baseline), or, with no model_names,
    every model; never the baseline (TFMA does not check thresholds on it).

    Args:
      spec_models: the metrics_spec's model_names.
      names: {assay model name: TFMA model name}.
    """
    ours = [m for m in names if m != BASELINE]
    if not spec_models:
        return ours
    wanted = set(spec_models)
    return [m for m in ours if names[m] in wanted or (m == CANDIDATE and "" in wanted)]


def for_models(threshold: Dict[str, Any], models: List[str]) -> List[Dict[str, Any]]:
    """One assay threshold per model (the candidate's without a `model` key)."""
    return [dict(threshold) if m == CANDIDATE else dict(threshold, model=m) for m in models]


def benchmark_models(tr: Any, others: List[Tuple[int, Mapping[str, Any]]],
                     models: Dict[str, Any], names: Dict[str, str],
                     model_paths: Optional[Mapping[str, str]]) -> None:
    """Adds the model_specs after the candidate to `models` ({assay name: spec}) and `names`
    ({assay name: TFMA name}); `tr` (the translation) translates each spec and collects what
    cannot be translated."""
    for i, spec in others:
        where = f"model_specs[{i}]"
        try:
            name = model_name_of(where, spec)
        except ConfigError as e:
            tr.unsupported(where, str(e).partition(": ")[2])
            continue
        path = None if model_paths is None else model_paths.get(name)
        if model_paths is not None and path is None:
            tr.unsupported(where, f"no path for model '{name}' (model_paths: "
                                  f"{sorted(model_paths)})")
            continue
        names[name] = spec["name"]
        models[name] = tr.model(where, spec, path)


def cross_model_spec(tr: Any, where: str, metric: Mapping[str, Any],
                     by_name: Dict[str, Tuple[Optional[str], float]]) -> Optional[str]:
    """Notes a cross-model metric class in `tr.cross_model` and its names in `by_name` (TFMA
    name -> (assay name, scale)) for thresholds given by name; returns the one name that a
    threshold given with the metric bounds (None: BooleanFlipRates, which has five)."""
    raw = metric.get("config") or ""
    try:
        cfg = json.loads(raw if raw.startswith("{") else "{" + raw + "}") if raw else {}
        names = cross_model_metric(metric["class_name"], cfg)
    except (ValueError, ConfigError) as e:
        tr.unsupported(where, str(e))
        return None
    tr.cross_model = list(dict.fromkeys(getattr(tr, "cross_model", []) + names))
    for name in names:
        by_name[name.partition("@")[0]] = (name, 1.0)
    if len(names) > 1:
        if metric.get("threshold"):
            tr.unsupported(where, "a threshold on BooleanFlipRates, which computes five "
                                  "metrics; give thresholds by name (flip_rate, ...)")
        return None
    return names[0]


__all__ = ["CROSS_MODEL_CLASSES", "benchmark_models", "cross_model_metric", "cross_model_spec",
           "for_models", "model_name_of", "threshold_models"]
