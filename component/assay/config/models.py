"""ModelSpec: one model of the evaluation, as the config's `models:` section describes it.

    models:
      candidate: {path: serving_model_dir, output: probabilities}
      baseline: {prediction: old_prediction}      # a column already in the data

The spec is data only: loading the model is `assay.models.load`'s job, which imports this module
(never the other way round, so reading a config never imports numpy, pyarrow or TensorFlow).

Example:
    >>> spec = parse_model("candidate", {"prediction": ["p_no", "p_yes"], "transform": "softmax"})
    >>> spec.prediction, spec.transform
    (('p_no', 'p_yes'), 'softmax')
    >>> model_to_config(spec)
    {'prediction': ['p_no', 'p_yes'], 'transform': 'softmax'}
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Dict, Mapping, Optional, Tuple, Union

from assay.config import values
from assay.errors import ConfigError

MODEL_NAMES = ("candidate", "baseline")
MODEL_KEYS = ("path", "prediction", "kind", "signature", "output", "features", "batch_size",
              "transform", "outputs", "preprocessing")
# Loading a joblib/pickle file runs code, so only whoever runs assay may allow it, never a
# config (DESIGN principle 6): a config is data and often comes from a pipeline parameter.
PICKLE_OPT_INS = ("--allow-pickle (CLI), allow_pickle=True (assay.evaluate) or the allow_pickle "
                  "parameter of the TFX or KFP component")
KINDS = ("auto", "saved_model", "keras", "joblib")
TRANSFORMS = ("none", "sigmoid", "softmax")
# What the model's output values are (see ModelSpec.outputs): probabilities are checked to lie
# in [0, 1]; scores are taken as TFMA takes them, any finite number.
OUTPUTS = ("probabilities", "scores")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One model of the evaluation, as the user's config describes it. Immutable and hashable.

    Attributes:
      path: where the model is: a SavedModel directory, a TFX Trainer model artifact (its
        Format-Serving/ subdirectory is used), a .keras/.h5 file or a .joblib/.pkl file.
      prediction: instead of `path`, the column (a str) or columns (a tuple, one per class)
        holding precomputed predictions. A list given here is stored as a tuple.
      kind: auto | saved_model | keras | joblib; auto decides from the path.
      signature: the SavedModel signature to call (default serving_default).
      output: the output key, when the model has several outputs.
      features: the input columns, in order, for joblib models and single-input Keras models.
      allow_pickle: opt-in to load joblib/pickle files, which run code when loaded. Set only
        by the caller (`assay.api.apply_overrides`: --allow-pickle, allow_pickle=True, the TFX
        and KFP components' allow_pickle parameter), never read from nor written to a config.
      batch_size: the most rows given to the model at once (larger batches are split).
      transform: none | sigmoid | softmax, applied by the engine to the adapter's output.
      outputs: probabilities (default: a binary prediction or a class probability outside
        [0, 1] is an invalid value) or scores (any finite number is valid, as in TFMA, which
        never checks a model's outputs: see assay.engine.scores for what each metric does
        with them). A tfma.EvalConfig translates to scores.
      preprocessing: names of SavedModel signatures run on each batch before the metrics, as
        TFMA's ModelSpec.preprocessing_function_names (e.g. the Transform graph's
        transform_features): their outputs are features that the label, the weight and the
        slices may name, and they take precedence over raw features of the same name.

    Example:
      >>> ModelSpec(path="model.joblib", allow_pickle=True, features=["hour", "miles"])
      ... # doctest: +ELLIPSIS
      ModelSpec(path='model.joblib', ..., features=('hour', 'miles'), allow_pickle=True, ...)
    """

    path: Optional[str] = None
    prediction: Optional[Union[str, Tuple[str, ...]]] = None
    kind: str = "auto"
    signature: Optional[str] = None
    output: Optional[str] = None
    features: Optional[Tuple[str, ...]] = None
    allow_pickle: bool = False
    batch_size: int = 1024
    transform: str = "none"
    outputs: str = "probabilities"
    preprocessing: Tuple[str, ...] = ()

    def __post_init__(self):
        # Lists would make the spec unhashable (shared_model keys adapters by spec) and mutable
        # behind a frozen facade; store every sequence as a tuple.
        for name in ("prediction", "features", "preprocessing"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))


_DEFAULTS = {f.name: f.default for f in dataclasses.fields(ModelSpec)}


def parse_model(name: str, item: Any) -> ModelSpec:
    """Builds the ModelSpec of `models.<name>` from its config form; raises ConfigError.

    A string is short for {path: STRING}. Exactly one of `path` and `prediction` must be set.
    """
    where = f"models.{name}"
    if isinstance(item, str):
        item = {"path": item}
    values.expect(item, (Mapping,), "a mapping like {path: DIR} or {prediction: COLUMN}", where)
    if "allow_pickle" in item:
        raise ConfigError(
            f"{where}.allow_pickle cannot be set in a config: loading a joblib/pickle model runs "
            f"code, and a config is data (it may come from a pipeline parameter or a form), so "
            f"only whoever runs assay can allow it; if you trust the model, remove allow_pickle "
            f"from the config and pass {PICKLE_OPT_INS}")
    values.check_keys(item, MODEL_KEYS, where)
    has_path, has_pred = item.get("path") is not None, item.get("prediction") is not None
    if has_path == has_pred:
        raise ConfigError(f"{where} needs exactly one of 'path' (a model to run) or 'prediction' "
                          f"(a column holding its predictions) (got {dict(item)})")
    kw: Dict[str, Any] = {}
    if has_path:
        kw["path"] = os.fspath(values.expect(item["path"], (str, os.PathLike), "a path",
                                             f"{where}.path"))
    else:
        pred = item["prediction"]
        kw["prediction"] = pred if isinstance(pred, str) else values.str_list(
            pred, f"{where}.prediction")
    kw["kind"] = values.choice(item.get("kind", "auto"), KINDS, f"{where}.kind")
    for key in ("signature", "output"):
        if item.get(key) is not None:
            kw[key] = values.expect(item[key], (str,), "a string", f"{where}.{key}")
    if item.get("features") is not None:
        kw["features"] = values.str_list(item["features"], f"{where}.features")
    if "batch_size" in item:
        kw["batch_size"] = values.positive_int(item["batch_size"], f"{where}.batch_size")
    kw["transform"] = values.choice(item.get("transform", "none"), TRANSFORMS,
                                    f"{where}.transform")
    kw["outputs"] = values.choice(item.get("outputs", "probabilities"), OUTPUTS,
                                  f"{where}.outputs")
    if item.get("preprocessing") is not None:
        kw["preprocessing"] = _preprocessing(item["preprocessing"], has_path, where)
    return ModelSpec(**kw)


def _preprocessing(value: Any, has_path: bool, where: str) -> Tuple[str, ...]:
    """The signature names of `preprocessing` (a name or a list of distinct names)."""
    names = values.str_list(value, f"{where}.preprocessing",
                            "a list of SavedModel signature names, e.g. [transform_features]")
    if not has_path:
        raise ConfigError(f"{where}.preprocessing runs signatures of the model, but the model "
                          f"is a prediction column (got preprocessing {list(names)}); give "
                          f"path: MODEL_DIR instead of prediction:")
    if any(not n for n in names) or len(set(names)) != len(names):
        raise ConfigError(f"{where}.preprocessing must name distinct signatures "
                          f"(got {list(names)})")
    return names


def model_to_config(spec: ModelSpec) -> Dict[str, Any]:
    """The spec's config form (keys at their default left out); parse_model reads it back.

    `allow_pickle` is left out: it is the caller's opt-in, not config (see PICKLE_OPT_INS).
    """
    out = {}
    for field in dataclasses.fields(spec):
        if field.name == "allow_pickle":
            continue
        value = getattr(spec, field.name)
        if value is None or value == _DEFAULTS[field.name]:
            continue
        out[field.name] = list(value) if isinstance(value, tuple) else value
    return out


__all__ = ["KINDS", "MODEL_KEYS", "MODEL_NAMES", "ModelSpec", "OUTPUTS", "PICKLE_OPT_INS",
           "TRANSFORMS", "model_to_config", "parse_model"]
