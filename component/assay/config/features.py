"""Top-level config keys of features that parse themselves: weak-slice discovery, perturbations,
drift, history...

    discover: {...}        # assay.discovery.config
    perturbations: [...]   # assay.perturb.config
    sensitivity: {...}     # assay.perturb.config
    drift: {...}           # assay.drift.config
    reference: ...         # assay.drift.config (an earlier result drift is measured against)
    history: {...}         # assay.history.config

FEATURES maps each key to "module:function"; the function takes the key's value (not None) and
returns a frozen, hashable object with `to_config()` (the value as the config writes it), or
raises ConfigError naming what was wrong. A function may carry a `json_schema` attribute (the
key's JSON Schema for `assay schema`). EvalConfig holds the parsed objects in
`feature_configs`; `config.feature("discover")` returns one, or None when the key is absent.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Tuple

from assay.errors import ConfigError
from assay.lazy import load

FEATURES: Dict[str, str] = {
    "discover": "assay.discovery.config:parse_discover",
    "perturbations": "assay.perturb.config:parse_perturbations",
    "sensitivity": "assay.perturb.config:parse_sensitivity",
    "drift": "assay.drift.config:parse_drift",
    "reference": "assay.drift.config:parse_reference",
    "history": "assay.history.config:parse_history",
}


def parser(key: str) -> Callable[[Any], Any]:
    """The parsing function of a FEATURES key."""
    try:
        return load(FEATURES[key])
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"'{key}' is not available in this installation ({e})") from None


def parse_features(raw: Mapping[str, Any]) -> Tuple[Tuple[str, Any], ...]:
    """((key, parsed), ...) for each FEATURES key the config gives (a None value is absent),
    in FEATURES order. Errors are prefixed with the key."""
    out = []
    for key in FEATURES:
        if raw.get(key) is None:
            continue
        try:
            out.append((key, parser(key)(raw[key])))
        except ConfigError as e:
            message = str(e)
            if not message.startswith(f"'{key}"):
                message = f"'{key}': {message}"
            raise type(e)(message) from None
    return tuple(out)


def schemas() -> Dict[str, Any]:
    """{key: JSON Schema} of every FEATURES key whose parser states one (else any value)."""
    out = {}
    for key in FEATURES:
        try:
            out[key] = getattr(parser(key), "json_schema", {})
        except ConfigError:
            continue
    return out


__all__ = ["FEATURES", "parse_features", "parser", "schemas"]
