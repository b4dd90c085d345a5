"""Slicing specs: which slices of the data to compute metrics on, as the config's `slices:` says.

    slices:
      - []                                        # overall; always computed even if not listed
      - [hour]                                    # one slice per value of hour
      - [hour, day]                               # one per (hour, day) pair
      - {day: 3}                                  # one slice: day == 3
      - {feature: miles, boundaries: [0, 1, 5]}   # miles bucketed
      - {keys: [hour], values: {day: 3}}          # per hour, among day == 3

Example:
    >>> spec = parse_slice_spec({"keys": ["hour"], "values": {"day": 3.0}})
    >>> spec.name, spec.features
    ('day=3 x hour', ('day', 'hour'))
    >>> SliceSpec().name
    'overall'
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Optional, Tuple

from assay.config import values
from assay.errors import ConfigError, ConfigTypeError
from assay.results.slices import OVERALL, canonical_value

_BUCKET_KEYS = ("feature", "boundaries", "quantiles")
_GENERAL_KEYS = ("keys", "values")


@dataclasses.dataclass(frozen=True)
class SliceColumn:
    """A feature to slice by: its values as they are, or bucketed by boundaries or quantiles.

    Buckets are half-open intervals [lower, upper); a value below the first boundary falls in
    (-inf, b0), one at or above the last in [bn, inf). `quantiles: q` computes q-1 boundaries
    that split the weighted data into q buckets of equal size, in a first stage of the pass.
    """

    feature: str
    boundaries: Optional[Tuple[float, ...]] = None
    quantiles: Optional[int] = None

    def __post_init__(self):
        if isinstance(self.boundaries, list):  # keep the frozen spec hashable
            object.__setattr__(self, "boundaries", tuple(self.boundaries))

    @property
    def bucketed(self) -> bool:
        return self.boundaries is not None or self.quantiles is not None

    def describe(self) -> str:
        if self.boundaries is not None:
            return f"{self.feature} by boundaries {list(self.boundaries)}"
        if self.quantiles is not None:
            return f"{self.feature} by {self.quantiles} quantiles"
        return self.feature

    def to_config(self) -> Any:
        """The column's config form: the feature name, or its bucketing mapping."""
        if not self.bucketed:
            return self.feature
        out: dict = {"feature": self.feature}
        if self.boundaries:
            out["boundaries"] = list(self.boundaries)
        if self.quantiles is not None:
            out["quantiles"] = self.quantiles
        return out


@dataclasses.dataclass(frozen=True)
class SliceSpec:
    """Slices of the data: crossed `columns`, restricted to examples holding the fixed `values`.

    `SliceSpec()` is the overall slice. A slice key is a tuple of (feature, value) pairs: the
    fixed values first, then one value per column.
    """

    columns: Tuple[SliceColumn, ...] = ()
    values: Tuple[Tuple[str, Any], ...] = ()

    @property
    def is_overall(self) -> bool:
        return not self.columns and not self.values

    @property
    def features(self) -> Tuple[str, ...]:
        """The feature names of this spec's slice keys, in key order."""
        return tuple(k for k, _ in self.values) + tuple(c.feature for c in self.columns)

    @property
    def name(self) -> str:
        """'overall', or e.g. 'day=3 x hour' as reports and error messages name the spec."""
        if self.is_overall:
            return OVERALL
        parts = [f"{k}={v}" for k, v in self.values] + [c.describe() for c in self.columns]
        return " x ".join(parts)

    def to_config(self) -> Any:
        """The spec's config form; parse_slice_spec reads it back to an equal spec."""
        cols = [c.to_config() for c in self.columns]
        if not self.values:
            return cols
        if not cols:
            return dict(self.values)
        return {"keys": cols, "values": dict(self.values)}


def _bucketing(item: Mapping[str, Any], where: str) -> SliceColumn:
    values.check_keys(item, _BUCKET_KEYS, where)
    if "feature" not in item:
        raise ConfigError(f"{where}: a bucketed column needs 'feature' (got {dict(item)})")
    feature = values.expect(item["feature"], (str,), "a feature name", f"{where}.feature")
    has_b, has_q = "boundaries" in item, "quantiles" in item
    if has_b == has_q:
        raise ConfigError(
            f"{where}: give exactly one of 'boundaries' (a sorted list of numbers) or "
            f"'quantiles' (a number of buckets) for feature '{feature}'")
    if has_b:
        raw = values.expect(item["boundaries"], (list, tuple), "a list of numbers",
                            f"{where}.boundaries")
        bounds = tuple(values.number(b, f"{where}.boundaries[]") for b in raw)
        if not bounds:
            raise ConfigError(f"{where}.boundaries: give at least one boundary for '{feature}'")
        if any(b >= a for a, b in zip(bounds[1:], bounds)):
            raise ConfigError(f"{where}.boundaries must be strictly increasing (got {list(raw)})")
        return SliceColumn(feature, boundaries=bounds)
    q = values.expect(item["quantiles"], (int,), "an integer", f"{where}.quantiles")
    if q < 2:
        raise ConfigError(f"{where}.quantiles must be at least 2 (got {q})")
    return SliceColumn(feature, quantiles=q)


def _slice_column(item: Any, where: str) -> SliceColumn:
    if isinstance(item, str):
        if not item:
            raise ConfigError(f"{where}: a feature name must not be empty")
        return SliceColumn(item)
    if isinstance(item, Mapping):
        return _bucketing(item, where)
    raise ConfigTypeError(
        f"{where} must be a feature name or a bucketing like {{feature: miles, boundaries: [0, 1]}}"
        f" (got {item!r}, a {values.type_name(item)})")


def _fixed_values(mapping: Any, where: str) -> Tuple[Tuple[str, Any], ...]:
    values.expect(mapping, (Mapping,), "a mapping of feature: value", where)
    # One canonical value form (results.slices): 3.0 in a config names the slice 3.
    return tuple((str(k), canonical_value(v, f"{where}.{k}")) for k, v in mapping.items())


def _general(item: Mapping[str, Any], where: str) -> SliceSpec:
    """The {keys: [...], values: {...}} form."""
    values.check_keys(item, _GENERAL_KEYS, where)
    keys = values.expect(item.get("keys", []), (list, tuple), "a list of features",
                         f"{where}.keys")
    cols = tuple(_slice_column(c, f"{where}.keys[{i}]") for i, c in enumerate(keys))
    spec = SliceSpec(columns=cols, values=_fixed_values(item.get("values", {}), f"{where}.values"))
    if spec.is_overall:
        raise ConfigError(f"{where}: 'keys' and 'values' are both empty; write [] for the "
                          f"overall slice")
    return spec


def parse_slice_spec(item: Any, index: int = 0) -> SliceSpec:
    """Builds a SliceSpec from its config form (see the module docstring).

    Raises:
      ConfigTypeError: a part of the wrong type. ConfigError: an invalid spec.
    """
    where = f"slices[{index}]"
    if isinstance(item, (list, tuple)):
        spec = SliceSpec(columns=tuple(_slice_column(c, f"{where}[{i}]")
                                       for i, c in enumerate(item)))
    elif isinstance(item, str):
        spec = SliceSpec(columns=(_slice_column(item, where),))
    elif isinstance(item, Mapping):
        if not item:
            raise ConfigError(
                f"{where} is an empty mapping: write [] for the overall slice, [feature] to slice "
                f"by a feature, or {{feature: value}} for one slice")
        if "feature" in item:
            spec = SliceSpec(columns=(_bucketing(item, where),))
        elif set(item) & set(_GENERAL_KEYS):
            spec = _general(item, where)
        else:
            spec = SliceSpec(values=_fixed_values(item, where))
    elif item is None:
        raise ConfigError(f"{where} is empty: write [] for the overall slice")
    else:
        raise ConfigTypeError(f"{where} must be a list of features, a mapping or a bucketing "
                              f"(got {item!r}, a {values.type_name(item)})")
    names = spec.features
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"{where} names feature '{dup[0]}' twice")
    return spec


__all__ = ["SliceColumn", "SliceSpec", "parse_slice_spec"]
