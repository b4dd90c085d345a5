"""Slices as results name them: one canonical value form, one matching rule, one label.

A slice is a mapping {feature: value}; {} is the overall slice. Values are compared the way a
person writes them in a config: 3, 3.0 and "3" are the same slice value (CSV, Parquet and
tf.Example data give the same feature different types), booleans match only booleans.

    >>> slice_key({"hour": 3.0}) == slice_key({"hour": "3"})
    True
    >>> slice_label({}), slice_label({"payment": "cash", "day": 3})
    ('overall', 'payment=cash, day=3')
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence, Tuple

from assay.errors import ConfigError, ConfigTypeError

OVERALL = "overall"  # the one name of the slice with no features: in labels, specs and reports

SliceKey = Tuple[Tuple[str, str], ...]


def canonical_value(value: Any, where: str = "slice value") -> Any:
    """A slice value in canonical form: bytes -> str, integral float -> int, numpy -> Python.

    Raises ConfigTypeError for a value that cannot name a slice, ConfigError for NaN/inf.
    """
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"'{where}' must be a finite number or a string (got {value!r})")
        if value.is_integer():
            value = int(value)
    if not isinstance(value, (str, int, float, bool)):
        raise ConfigTypeError(f"'{where}' must be a string, number or boolean "
                              f"(got {value!r}, a {type(value).__name__})")
    return value


def value_text(value: Any) -> str:
    """The text a value matches as: a bool as 'True'/'False' tagged apart, numbers as written."""
    if isinstance(value, bool):
        return f"bool:{value}"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def values_match(wanted: Any, seen: Any) -> bool:
    """True when two slice values name the same slice (3, 3.0 and "3" do; True and 1 do not)."""
    if isinstance(wanted, bool) or isinstance(seen, bool):
        return isinstance(wanted, bool) and isinstance(seen, bool) and wanted == seen
    return value_text(_plain(wanted)) == value_text(_plain(seen))


def _plain(value: Any) -> Any:
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return value


def slice_key(slice_: Mapping[str, Any]) -> SliceKey:
    """A hashable key of a slice under which matching values (see values_match) are equal."""
    return tuple(sorted((str(k), value_text(_plain(v))) for k, v in slice_.items()))


def slice_label(slice_: Mapping[str, Any]) -> str:
    """'overall' for {}, else 'feature=value, ...' in the slice's own order."""
    if not slice_:
        return OVERALL
    return ", ".join(f"{k}={v}" for k, v in slice_.items())


def features_label(features: Sequence[str], values: Sequence[Any]) -> str:
    """'the overall slice' or 'slice f=v, ...', as verdict reasons name a slice."""
    if not features:
        return f"the {OVERALL} slice"
    return "slice " + ", ".join(f"{f}={v}" for f, v in zip(features, values))


__all__ = ["OVERALL", "SliceKey", "canonical_value", "features_label", "slice_key",
           "slice_label", "value_text", "values_match"]
