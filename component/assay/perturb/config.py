"""`perturbations:` and `sensitivity:`: the candidate scored on edited copies of the examples.

    perturbations:
      - {name: amount_noise, feature: amount, noise: {relative: 0.05}}    # value * (1 + 0.05 z)
      - {name: amount_shift, feature: amount, noise: {absolute: 2.0}}     # value + 2 z
      - {name: region_missing, feature: region, set: null}                # the feature missing
      - {name: region_north, feature: region, set: north}                 # one value everywhere
      - {name: hour_shuffled, feature: hour, permute: true}               # values of other rows
      - {name: gender_swap, feature: gender, swap: {male: female, female: male}}
    sensitivity: {features: [amount, region], method: permute, metrics: [auc]}

Each perturbation takes exactly one of noise / set / permute / swap, and an optional `seed`
(default 0) for noise and permute. z is a standard normal draw keyed by the example's stable
row key and the seed (assay.perturb.apply), so the same example gets the same noise on every
worker. `sensitivity` permutes each listed feature in turn (a perturbation named
"permute:FEATURE") and ranks the features by the metric lost (assay.perturb.importance);
`metrics` left out is the task's headline metric.

Example:
    >>> p = parse_perturbations([{"name": "n", "feature": "x", "noise": {"relative": 0.1}}])
    >>> p.items[0].kind, p.items[0].value
    ('noise_relative', 0.1)
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple

from assay.config import values
from assay.errors import ConfigError, ConfigTypeError

KINDS = ("noise", "set", "permute", "swap")
ITEM_KEYS = ("name", "feature", "seed") + KINDS
SENSITIVITY_KEYS = ("features", "method", "metrics", "seed")
METHODS = ("permute",)
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
SENSITIVITY_PREFIX = "permute:"  # the perturbation name of a sensitivity feature


@dataclasses.dataclass(frozen=True)
class Perturbation:
    """One perturbation.

    Attributes:
      name: its name; the pass scores it as the model "perturbed:NAME".
      feature: the column (or tf.Example feature) edited.
      kind: "noise_relative", "noise_absolute", "set", "permute" or "swap".
      value: the noise scale (a float), the value set (None: missing), or for swap a tuple of
        (from, to) pairs; None for permute.
      seed: seeds the noise and the permutation.
    """

    name: str
    feature: str
    kind: str
    value: Any = None
    seed: int = 0

    @property
    def swap_map(self) -> Dict[Any, Any]:
        return dict(self.value) if self.kind == "swap" else {}

    def to_config(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"name": self.name, "feature": self.feature}
        if self.kind.startswith("noise_"):
            out["noise"] = {self.kind[len("noise_"):]: self.value}
        elif self.kind == "set":
            out["set"] = self.value
        elif self.kind == "permute":
            out["permute"] = True
        else:
            out["swap"] = dict(self.value)
        if self.seed:
            out["seed"] = self.seed
        return out


@dataclasses.dataclass(frozen=True)
class PerturbationsConfig:
    """The parsed `perturbations:` list (frozen, hashable)."""

    items: Tuple[Perturbation, ...]

    def to_config(self) -> List[Dict[str, Any]]:
        return [p.to_config() for p in self.items]


@dataclasses.dataclass(frozen=True)
class SensitivityConfig:
    """The parsed `sensitivity:` mapping.

    Attributes:
      features: the features permuted, one at a time.
      method: "permute" (the only method).
      metrics: the metrics whose drop ranks the features; () means the task's headline metric.
      seed: seeds the permutations.
    """

    features: Tuple[str, ...]
    method: str = "permute"
    metrics: Tuple[str, ...] = ()
    seed: int = 0

    def perturbations(self) -> Tuple[Perturbation, ...]:
        """One permutation per feature, named "permute:FEATURE"."""
        return tuple(Perturbation(SENSITIVITY_PREFIX + f, f, "permute", None, self.seed)
                     for f in self.features)

    def to_config(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"features": list(self.features), "method": self.method}
        if self.metrics:
            out["metrics"] = list(self.metrics)
        if self.seed:
            out["seed"] = self.seed
        return out


def _seed(raw: Any, where: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise ConfigTypeError(f"'{where}' must be an int >= 0 (got {raw!r}, a "
                              f"{values.type_name(raw)})")
    return int(raw)


def _scalar(raw: Any, where: str) -> Any:
    if raw is None or isinstance(raw, str) or values.is_number(raw):
        return raw.item() if hasattr(raw, "item") else raw
    raise ConfigTypeError(f"'{where}' must be a number, a string or null (got {raw!r}, a "
                          f"{values.type_name(raw)})")


def _noise(raw: Any, where: str) -> Tuple[str, float]:
    values.expect(raw, (Mapping,), "{relative: r} or {absolute: a}", where)
    values.check_keys(raw, ("relative", "absolute"), f"'{where}'")
    if len(raw) != 1:
        raise ConfigError(f"'{where}' takes exactly one of relative or absolute (got "
                          f"{dict(raw)!r})")
    (scale_kind, scale), = raw.items()
    scale = values.number(scale, f"{where}.{scale_kind}")
    if scale < 0:
        raise ConfigError(f"'{where}.{scale_kind}' must be >= 0 (got {scale!r})")
    return "noise_" + scale_kind, scale


def _swap(raw: Any, where: str) -> Tuple[Tuple[Any, Any], ...]:
    values.expect(raw, (Mapping,), "a mapping of value -> replacement, e.g. {male: female, "
                                   "female: male}", where)
    if not raw:
        raise ConfigError(f"'{where}' must map at least one value to another")
    pairs = tuple((_scalar(k, f"{where} key"), _scalar(v, f"{where}.{k}")) for k, v in raw.items())
    kinds = {isinstance(x, str) for pair in pairs for x in pair if x is not None}
    if len(kinds) > 1:
        raise ConfigError(f"'{where}' mixes strings and numbers ({dict(raw)!r}); a swap maps "
                          f"values of one feature, all strings or all numbers")
    return pairs


def parse_item(raw: Any, i: int) -> Perturbation:
    """The Perturbation of `perturbations[i]`."""
    where = f"perturbations[{i}]"
    values.expect(raw, (Mapping,), "a mapping such as {name: amount_noise, feature: amount, "
                                   "noise: {relative: 0.05}}", where)
    values.check_keys(raw, ITEM_KEYS, f"'{where}'")
    for key in ("name", "feature"):
        if key not in raw:
            raise ConfigError(f"'{where}' needs '{key}' (got {dict(raw)!r})")
    name = values.expect(raw["name"], (str,), "a name", f"{where}.name")
    if not _NAME.match(name):
        raise ConfigError(f"'{where}.name' must start with a letter and hold only letters, "
                          f"digits, '_', '.' and '-' (got {name!r})")
    feature = values.expect(raw["feature"], (str,), "a column name", f"{where}.feature")
    given = [k for k in KINDS if k in raw]
    if len(given) != 1:
        raise ConfigError(f"'{where}' ({name}) takes exactly one of {', '.join(KINDS)} (got "
                          f"{', '.join(given) if given else 'none'})")
    kind, value = given[0], raw[given[0]]
    if kind == "noise":
        kind, value = _noise(value, f"{where}.noise")
    elif kind == "set":
        value = _scalar(value, f"{where}.set")
    elif kind == "permute":
        if value is not True:
            raise ConfigError(f"'{where}.permute' must be true (got {value!r})")
        value = None
    else:
        value = _swap(value, f"{where}.swap")
    seed = _seed(raw["seed"], f"{where}.seed") if "seed" in raw else 0
    return Perturbation(name, feature, kind, value, seed)


def parse_perturbations(raw: Any) -> PerturbationsConfig:
    """The PerturbationsConfig of the config's `perturbations:` value (a list).

    Raises:
      ConfigError: naming the item, the key, the rule and the value received.
    """
    values.expect(raw, (list, tuple), "a list of {name, feature, noise | set | permute | swap}",
                  "perturbations")
    items = tuple(parse_item(item, i) for i, item in enumerate(raw))
    names = [p.name for p in items]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"'perturbations' names {', '.join(repeated)} more than once; each "
                          f"perturbation needs a name of its own")
    return PerturbationsConfig(items)


def parse_sensitivity(raw: Any) -> SensitivityConfig:
    """The SensitivityConfig of the config's `sensitivity:` value (a mapping)."""
    values.expect(raw, (Mapping,), "a mapping such as {features: [amount, region], method: "
                                   "permute}", "sensitivity")
    values.check_keys(raw, SENSITIVITY_KEYS, "'sensitivity'")
    if "features" not in raw:
        raise ConfigError("'sensitivity' needs 'features': the columns to permute, e.g. "
                          "features: [amount, region]")
    features = values.str_list(raw["features"], "sensitivity.features")
    if not features:
        raise ConfigError("'sensitivity.features' must name at least one feature")
    repeated = sorted({f for f in features if features.count(f) > 1})
    if repeated:
        raise ConfigError(f"'sensitivity.features' names {', '.join(repeated)} more than once")
    method = values.choice(raw.get("method", "permute"), METHODS, "sensitivity.method")
    metrics = values.str_list(raw["metrics"], "sensitivity.metrics", "a list of metric names") \
        if raw.get("metrics") is not None else ()
    seed = _seed(raw["seed"], "sensitivity.seed") if "seed" in raw else 0
    return SensitivityConfig(tuple(features), method, tuple(metrics), seed)


def all_perturbations(config: Any) -> Tuple[Perturbation, ...]:
    """Every perturbation an EvalConfig asks for: `perturbations:`, then `sensitivity:`'s."""
    out: List[Perturbation] = []
    listed: Optional[PerturbationsConfig] = config.feature("perturbations")
    if listed is not None:
        out += listed.items
    sensitivity: Optional[SensitivityConfig] = config.feature("sensitivity")
    if sensitivity is not None:
        out += sensitivity.perturbations()
    return tuple(out)


_SCALAR = {"type": ["string", "number", "null"]}
parse_perturbations.json_schema = {  # type: ignore[attr-defined]
    "type": "array",
    "description": "The candidate scored on edited copies of the examples, in the same pass.",
    "items": {
        "type": "object", "required": ["name", "feature"], "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "pattern": _NAME.pattern},
            "feature": {"type": "string"},
            "seed": {"type": "integer", "minimum": 0, "default": 0},
            "noise": {"type": "object", "additionalProperties": False, "minProperties": 1,
                      "maxProperties": 1,
                      "properties": {"relative": {"type": "number", "minimum": 0},
                                     "absolute": {"type": "number", "minimum": 0}}},
            "set": _SCALAR,
            "permute": {"const": True},
            "swap": {"type": "object", "minProperties": 1, "additionalProperties": _SCALAR},
        },
        "oneOf": [{"required": [k]} for k in KINDS],
    },
}
parse_sensitivity.json_schema = {  # type: ignore[attr-defined]
    "type": "object",
    "description": "Permutation feature importance per slice.",
    "required": ["features"], "additionalProperties": False,
    "properties": {
        "features": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "method": {"enum": list(METHODS), "default": "permute"},
        "metrics": {"type": "array", "items": {"type": "string"}},
        "seed": {"type": "integer", "minimum": 0, "default": 0},
    },
}

__all__ = ["Perturbation", "PerturbationsConfig", "SensitivityConfig", "all_perturbations",
           "parse_perturbations", "parse_sensitivity"]
