"""The component's input parameters -> the assay config and `assay.evaluate`'s options.

The config comes from one of two places, never both: the `config` parameter (a dict: KFP's
STRUCT, which its UI edits as JSON) or the `config_file` artifact (a YAML/JSON file, or a
directory holding one). The common settings are parameters of their own, so a pipeline can
expose them in the KFP run form one by one; each one that is set replaces the same key of the
config (the parameter wins, and the replacement is said on stderr):

    label        str    the label column                       ("" : not set)
    task         str    binary | multiclass | regression | multilabel
    slices       list   e.g. [[], ["payment"], {"hour": 3}]    ([] : not set)
    thresholds   list   e.g. [{"metric": "auc", "min": 0.7}]
    fairness     dict   e.g. {"groups": [["gender"]], "thresholds": [0.5]}   ({} : not set)

A `config` given as a string (YAML or JSON text) is still read: component specs compiled
before `config` became a dict send one, and the same image must run them.

Example:
    >>> merged_settings({"label": "y", "slices": [[]]}, {"slices": [[], ["a"]]})["slices"]
    [[], ['a']]
"""

from __future__ import annotations

import shlex
import sys
from typing import Any, Dict, List, Mapping, Optional, Tuple

from assay.errors import ConfigError, ConfigTypeError

# The typed settings and the Python types KFP delivers them as (STRING, LIST).
SETTINGS: Tuple[Tuple[str, type], ...] = (("label", str), ("task", str), ("slices", list),
                                          ("thresholds", list), ("fairness", dict))
PARAMETER_DEFAULTS: Mapping[str, Any] = {
    "config": {}, "label": "", "task": "", "slices": [], "thresholds": [], "fairness": {},
    "beam_pipeline_args": [], "allow_pickle": False, "force_bless": "", "allow_custom_code": []}
_CONFIG_SUFFIXES = (".yaml", ".yml", ".json")


class ExecutorInputError(ConfigError):
    """The executor input does not have the shape KFP gives it, or misses what assay needs."""


def _integral(value: Any) -> Any:
    """Whole floats as ints, all the way down. KFP carries STRUCT and LIST parameters as
    protobuf Values, whose numbers are doubles: `min_slice_size: 20` can arrive as 20.0
    (kfp.local sends it so), and assay's integer settings refuse a float."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53:
        return int(value)
    if isinstance(value, list):
        return [_integral(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _integral(v) for k, v in value.items()}
    return value


def settings(parameters: Mapping[str, Any]) -> Dict[str, Any]:
    """The typed settings that are set ({name: value}), each checked for its type.

    Raises:
      ConfigTypeError: a setting of the wrong type, e.g. `slices` given as a string.
    """
    out = {}
    for name, kind in SETTINGS:
        value = parameters.get(name)
        if value is None or value == kind():
            continue
        if not isinstance(value, kind):
            example = ' (e.g. [[], ["payment"]])' if name == "slices" else ""
            kind_name = {str: "string", list: "list", dict: "dict"}[kind]
            raise ConfigTypeError(f"the `{name}` parameter must be a "
                                  f"{kind_name}{example} (got "
                                  f"{value!r}, a {type(value).__name__})")
        out[name] = _integral(value)
    return out


def merged_settings(config: Mapping[str, Any], typed: Mapping[str, Any]) -> Dict[str, Any]:
    """The config with each typed setting in place of its key (the parameter wins); every
    replaced value that differs is said on stderr, so a run's log shows what the form set."""
    merged = dict(config)
    for name, value in typed.items():
        if name in merged and merged[name] != value:
            print(f"assay: the `{name}` parameter replaces the config's {name} "
                  f"({merged[name]!r} -> {value!r})", file=sys.stderr)
        merged[name] = value
    return merged


def _config_parameter(value: Any) -> Optional[Dict[str, Any]]:
    """The `config` parameter as a dict, or None when it is not set."""
    from assay.config.values import load_mapping

    if value is None or value == {} or value == "":
        return None
    if isinstance(value, str):      # a spec compiled when `config` was YAML/JSON text
        return load_mapping(value, "the `config` parameter")
    if not isinstance(value, Mapping):
        raise ConfigTypeError(f"the `config` parameter must be a dict (KFP's STRUCT) or YAML/"
                              f"JSON text (got {value!r}, a {type(value).__name__})")
    return _integral(dict(value))


def _config_file(artifact: Any) -> Dict[str, Any]:
    """The config held by the `config_file` artifact (a file, or a directory holding one)."""
    from assay.config.values import load_mapping
    from assay.data import files

    path = artifact.path
    if files.is_dir(path):
        held = files.list_dir(path)[0]
        found = [f for f in held if f.lower().endswith(_CONFIG_SUFFIXES)]
        if len(found) != 1:
            names = ", ".join(files.basename(f) for f in held) or "nothing"
            raise ExecutorInputError(f"config_file {artifact.uri} is a directory; it must "
                                     f"hold one .yaml/.yml/.json file (holds: {names})")
        path = found[0]
    with files.open_read(path) as f:
        text = f.read().decode("utf-8")
    return load_mapping(text, f"config_file {artifact.uri}")


def task_config(parameters: Mapping[str, Any], config_file: Any, model: Optional[str],
                baseline: Optional[str]) -> Dict[str, Any]:
    """The config the task evaluates, as a dict: `config` or `config_file`, the typed settings
    in place (the parameter wins), and the wired-in models bound by assay.config.binding's rule
    (one is added when the config has no entry for it; a path in the config is replaced,
    keeping its other keys; a spec reading a prediction column keeps reading it).

    Args:
      parameters: the task's parameter values, defaults filled in.
      config_file: the `config_file` RuntimeArtifact, or None.
      model, baseline: the wired models' paths, or None.

    Raises:
      ExecutorInputError: both `config` and `config_file`, or no config at all.
      ConfigError: a config that is not a YAML/JSON mapping; a setting of the wrong type.
    """
    from assay.config.binding import bind_models

    given = _config_parameter(parameters.get("config"))
    if given is not None and config_file is not None:
        raise ExecutorInputError("give the config as the `config` parameter or the "
                                 "`config_file` artifact, not both")
    typed = settings(parameters)
    if config_file is not None:
        given = _config_file(config_file)
    if given is None and not typed:
        raise ExecutorInputError("no config: set the `config` parameter (a dict, or YAML/JSON "
                                 "text) or the `label` parameter, or wire a `config_file` "
                                 "artifact")
    return bind_models(merged_settings(given or {}, typed), model, baseline)


def beam_args(value: Any) -> List[str]:
    """`beam_pipeline_args` as a flat list of arguments (each item split as a shell would)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return shlex.split(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [a for v in value for a in shlex.split(v)]
    raise ExecutorInputError(f"`beam_pipeline_args` must be a list of strings (got {value!r})")


def flag(value: Any, name: str) -> bool:
    """A BOOLEAN parameter (KFP may send "true" / "false" from an older spec)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ExecutorInputError(f"`{name}` must be a boolean (got {value!r})")


__all__ = ["ExecutorInputError", "PARAMETER_DEFAULTS", "SETTINGS", "beam_args", "flag",
           "merged_settings", "settings", "task_config"]
