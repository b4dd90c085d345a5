"""Checks of single config values, shared by every part of the config (and the adapters).

One argument order everywhere: the value first, then `where` (the key path a person wrote, e.g.
"thresholds[2].max"). Wrong types raise ConfigTypeError (also a TypeError), wrong values
ConfigError (also a ValueError); every message names the key, the rule and the value seen.

    >>> number(0.7, "thresholds[0].min")
    0.7
    >>> number("0.7", "thresholds[0].min")
    Traceback (most recent call last):
    ...
    assay.errors.ConfigTypeError: 'thresholds[0].min' must be a number (got '0.7', a str)
"""

from __future__ import annotations

import difflib
import math
import numbers
from typing import Any, Mapping, Sequence, Tuple

from assay.errors import ConfigError, ConfigTypeError


def type_name(value: Any) -> str:
    return type(value).__name__


def suggest(key: Any, valid: Sequence[str]) -> str:
    """"; did you mean 'x'?" for the closest valid key, else the list of valid keys."""
    close = difflib.get_close_matches(str(key), list(valid), n=1, cutoff=0.5)
    if close:
        return f"; did you mean '{close[0]}'?"
    return f"; valid keys are: {', '.join(sorted(valid))}"


def check_keys(mapping: Mapping[str, Any], valid: Sequence[str], where: str) -> None:
    """Raises ConfigError naming every key of `mapping` not in `valid`, with the closest match."""
    unknown = [key for key in mapping if key not in valid]
    if len(unknown) == 1:
        raise ConfigError(f"unknown key '{unknown[0]}' in {where}{suggest(unknown[0], valid)}")
    if unknown:
        named = "; ".join(f"'{k}'" + _closest(k, valid) for k in unknown)
        raise ConfigError(f"unknown keys in {where}: {named}; valid keys are: "
                          f"{', '.join(sorted(valid))}")


def _closest(key: Any, valid: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(key), list(valid), n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""


def expect(value: Any, types: Tuple[type, ...], what: str, where: str) -> Any:
    """`value` when it is one of `types` (a bool only when bool is listed), else ConfigTypeError."""
    if isinstance(value, bool) and bool not in types:
        raise ConfigTypeError(f"'{where}' must be {what} (got {value!r}, a bool)")
    if not isinstance(value, types):
        raise ConfigTypeError(f"'{where}' must be {what} (got {value!r}, a {type_name(value)})")
    return value


def is_number(value: Any) -> bool:
    """A real number that is not a bool: int, float or a numpy scalar of either."""
    if isinstance(value, bool):
        return False
    if isinstance(value, numbers.Real):
        return True
    return (hasattr(value, "dtype") and getattr(value, "ndim", 1) == 0
            and getattr(value.dtype, "kind", "") in "iuf")


def number(value: Any, where: str) -> float:
    """A finite number as a float."""
    if not is_number(value):
        raise ConfigTypeError(f"'{where}' must be a number (got {value!r}, a {type_name(value)})")
    value = float(value)
    if not math.isfinite(value):
        raise ConfigError(f"'{where}' must be a finite number (got {value!r})")
    return value


def positive_int(value: Any, where: str) -> int:
    """An int of at least 1 (a bool or a float is refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigTypeError(f"'{where}' must be an int (got {value!r}, a {type_name(value)})")
    if value < 1:
        raise ConfigError(f"'{where}' must be at least 1 (got {value!r})")
    return int(value)


def choice(value: Any, allowed: Sequence[str], where: str) -> str:
    """One of `allowed`, with the closest suggested for a near miss."""
    if not isinstance(value, str):
        raise ConfigTypeError(f"'{where}' must be one of {', '.join(allowed)} "
                              f"(got {value!r}, a {type_name(value)})")
    if value not in allowed:
        close = difflib.get_close_matches(value, list(allowed), n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"'{where}' must be one of {', '.join(allowed)} (got {value!r}){hint}")
    return value


def str_list(value: Any, where: str, what: str = "a list of column names") -> Tuple[str, ...]:
    """A string or a list of strings, as a tuple."""
    if isinstance(value, str):
        return (value,)
    expect(value, (list, tuple), what, where)
    for item in value:
        expect(item, (str,), "a column name (a string)", f"{where}[]")
    return tuple(value)


def _yaml_loader():
    """PyYAML's safe loader, reading numbers as YAML 1.2 and JSON do: PyYAML follows YAML 1.1,
    where `1e-10` (no dot) is a string, so a config.json that assay wrote, or a YAML bound
    written that way, would not read back as the number it is."""
    import re

    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"),
        list("-+0123456789."))
    return Loader


def load_mapping(text: str, where: str) -> dict:
    """YAML or JSON text holding a mapping, as a dict; `where` names its source in errors."""
    import yaml

    try:
        raw = yaml.load(text, Loader=_yaml_loader())  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as e:
        raise ConfigError(f"{where} is not valid YAML/JSON: {e}") from None
    if raw is None:
        raise ConfigError(f"{where} is empty")
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be a YAML/JSON mapping (got {type_name(raw)}: "
                          f"{text.strip()[:80]!r})")
    return dict(raw)


__all__ = ["check_keys", "choice", "expect", "is_number", "load_mapping", "number",
           "positive_int", "str_list", "suggest", "type_name"]
