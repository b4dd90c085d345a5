"""Model binding: the one rule by which a model path given from outside the config joins it.

Every entry point calls `bind_models`: `assay.evaluate(model=, baseline=)` and the CLI's
`--model` / `--baseline`, the TFX executor (the `model` and `baseline_model` artifacts' URIs)
and the KFP executor (the wired Model artifacts' paths). The config says HOW each model is
evaluated (run a model, or read its predictions from a column); the entry point says WHERE the
model is.

Other named models (benchmarks, see assay.config.model_names) get their paths from the config,
or from `others` ({name: path}: the CLI's `--model NAME=PATH`, `assay.evaluate(models=...)`), by
the same rule as the candidate, except that a model the config does not name is run like the
candidate (rule 3, as a baseline is).

The rule, for `candidate` and for `baseline`:

1. A path given for a spec that runs a model (it has `path`, or neither `path` nor
   `prediction`) becomes its `path`; every other key (kind, signature, output, features,
   transform, batch_size) is kept. (allow_pickle is never in a config: it is the caller's
   opt-in, applied by `assay.api.apply_overrides` after binding.)
2. A path given for a spec that reads a `prediction` column: the column wins, the spec is
   kept as it is and the path is not run (a warning says so). The column is the config's
   explicit statement that the predictions are already in the data (a BulkInferrer or a
   batch-scoring job wrote them); pipelines still wire the Model artifact so that the blessing
   names the model it is about (`current_model`, `current_model_id`, which TFX's Pusher and
   LatestBlessedModelStrategy key on). Running the artifact instead would evaluate something
   other than what the config describes.
3. A path given for a model the config does not name: the candidate gets {path: PATH}; the
   baseline gets a copy of the candidate's spec (without its path or prediction) with the
   path, because a baseline is the previous version of the same model (the latest blessed one)
   and takes the same signature, output, features and transform. TFMA copies the candidate's
   ModelSpec the same way.
4. No path given: a spec with `path` or `prediction` is kept. A baseline spec with neither is
   dropped (the first run of a pipeline has no blessed model yet; the verdict then states that
   there is no baseline). A candidate spec with neither is a ConfigError.

Example:
    >>> raw = {"label": "y", "models": {"candidate": {"output": "probabilities"}}}
    >>> models = bind_models(raw, model="/models/7", baseline="/models/6")["models"]
    >>> models["candidate"]
    {'output': 'probabilities', 'path': '/models/7'}
    >>> models["baseline"]                        # run like the candidate (rule 3)
    {'output': 'probabilities', 'path': '/models/6'}
    >>> bind_models({"label": "y", "models": {"candidate": {"prediction": "p"}}},
    ...             model="/models/7")["models"]   # the column wins (rule 2)
    {'candidate': {'prediction': 'p'}}
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any, Dict, Mapping, Optional, Union

from assay.config.model_names import check_model_name, ordered
from assay.config.parse import read_config_file
from assay.config.schema import EvalConfig, config_from
from assay.errors import ConfigError, ConfigTypeError, InputNotFound

_LOG = logging.getLogger(__name__)

ConfigLike = Union[EvalConfig, Mapping[str, Any], str, os.PathLike]


def _bind_one(name: str, spec: Optional[Dict[str, Any]], path: Optional[str],
              candidate: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The bound spec of model `name` (None: no such model), by the rule of the module doc."""
    if spec is not None and spec.get("prediction") is not None:
        if path is not None:
            _LOG.warning("models.%s reads predictions from the column %r; the model given for it "
                         "(%s) is not run", name, spec["prediction"], path)
        return spec
    if path is None:
        if spec is None or spec.get("path") is not None:
            return spec
        if name == "baseline":
            return None  # a template for a baseline that this run does not have
        if name != "candidate":
            raise ConfigError(
                f"models.{name} reads no prediction column, so it needs a 'path' in the config, "
                f"--model {name}=PATH on the command line or models={{'{name}': PATH}} in "
                f"assay.evaluate")
        raise ConfigError(
            f"models.{name} reads no prediction column, so it needs the 'model' input of the "
            f"TFX/KFP component (e.g. model=trainer.outputs['model']), model=... in "
            f"assay.evaluate or --model on the command line; or give it a 'path' in the config")
    if spec is None:
        spec = {k: v for k, v in candidate.items() if k not in ("path", "prediction")}
    return {**spec, "path": os.fspath(path)}


def bind_models(raw: Mapping[str, Any], model: Optional[str] = None,
                baseline: Optional[str] = None,
                others: Optional[Mapping[str, str]] = None) -> Dict[str, Any]:
    """The config (its YAML/JSON form) with the given model paths bound by the module's rule.

    Args:
      raw: the config's YAML/JSON form; not modified.
      model: the candidate model's path, or None.
      baseline: the baseline model's path, or None.
      others: {name: path} of other named models (benchmarks); None or {} for none.

    Returns:
      A new dict; `models` holds plain dicts (a spec written as a string becomes {path: ...}).
      A `models` that is not a mapping is left for EvalConfig.from_dict to report.

    Raises:
      ConfigError: a candidate spec with neither path nor prediction, and no model given.
    """
    config = dict(raw)
    models = config.get("models")
    if models is not None and not isinstance(models, Mapping):
        return config
    for n, s in (models or {}).items():
        if s is not None and not isinstance(s, (str, os.PathLike, Mapping)):
            raise ConfigTypeError(f"'models.{n}' must be a model spec ({{path: ...}} or "
                                  f"{{prediction: COLUMN}}) or a path (got {s!r}, a "
                                  f"{type(s).__name__})")
    specs = {n: ({"path": s} if isinstance(s, (str, os.PathLike)) else dict(s))
             for n, s in (models or {}).items() if s is not None}
    others = dict(others or {})
    for name in others:
        if name in ("candidate", "baseline"):
            raise ConfigError(f"the {name}'s path is given as {name} (model=, baseline=, "
                              f"--model PATH, --baseline PATH), not among the other models")
        check_model_name(name, ("candidate", "baseline"))
    if models is None and model is None and baseline is None and not others:
        return config  # nothing to bind; from_dict says that 'models' is missing
    candidate = specs.get("candidate", {})
    named = [(n, others.get(n)) for n in ordered(list(specs) + list(others))
             if n not in ("candidate", "baseline")]
    for name, path in [("candidate", model), ("baseline", baseline)] + named:
        bound = _bind_one(name, specs.get(name), path, candidate)
        specs.pop(name, None)
        if bound is not None:
            specs[name] = bound
    # Candidate first, as configs are written; names that are not models are kept for
    # from_dict to report with a suggestion.
    config["models"] = {n: specs[n] for n in ordered(specs)}
    return config


def bound_config(config: ConfigLike, model: Optional[str] = None,
                 baseline: Optional[str] = None,
                 others: Optional[Mapping[str, str]] = None) -> EvalConfig:
    """An EvalConfig from an EvalConfig, its YAML/JSON form or a file, with models bound.

    Raises:
      FileNotFoundError: a config path that does not exist.
      ConfigError: an invalid config (a file's errors name the file).
    """
    pickled: Dict[str, bool] = {}
    if isinstance(config, EvalConfig):
        if model is None and baseline is None and not others:
            return config
        raw, source = config.to_dict(), None
        # to_dict leaves out allow_pickle (the caller's opt-in, not config); a spec built in
        # Python with it keeps it, and a baseline copied from the candidate (rule 3) inherits it.
        pickled = {n: s.allow_pickle for n, s in config.models}
    elif isinstance(config, Mapping):
        raw, source = config, None
    elif isinstance(config, (str, os.PathLike)):
        source = os.fspath(config)
        from assay.data.files import exists  # local paths and remote stores alike
        if not exists(source):
            raise InputNotFound(f"config file {source} does not exist")
        raw = read_config_file(source)
    else:
        raise ConfigTypeError(f"config must be an EvalConfig, a mapping or a file path "
                              f"(got {type(config).__name__})")
    try:
        bound = bind_models(raw, model, baseline, others)
    except ConfigError as e:
        if source is None:
            raise
        raise type(e)(f"{source}: {e}") from None
    cfg = config_from(bound, source)
    if any(pickled.values()):
        cfg = cfg.replace(models=tuple(
            (n, dataclasses.replace(s, allow_pickle=True)
             if s.path and pickled.get(n, pickled.get("candidate")) else s)
            for n, s in cfg.models))
    return cfg


__all__ = ["bind_models", "bound_config"]
