"""`fairness:`: TFMA's Fairness Indicators per group, and Fairlearn's group metrics.

    fairness:
      groups: [[gender], [race], [gender, race]]   # slicing specs treated as groups; left
                                                   # out: every slicing spec of `slices:`
      thresholds: [0.3, 0.5, 0.7]                  # decision thresholds; default 0.1 ... 0.9
      reference: overall                           # or largest, or {gender: male}

Each group spec is also computed as a slice (added to `slices:` when not there already), so
every slice of a group gets TFMA's Fairness Indicators metric set at each threshold
(assay.metrics.group_fairness.FairnessIndicators) and the group metrics are read off those
slices after the pass (assay.metrics.group_fairness.group_metrics).

Example:
    >>> FairnessConfig.parse({"groups": ["gender"]}).thresholds[:3]
    (0.1, 0.2, 0.3)
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Mapping, Optional, Tuple

from assay.config import values
from assay.config.slices import SliceSpec, parse_slice_spec
from assay.errors import ConfigError, ConfigTypeError

FAIRNESS_KEYS = ("groups", "thresholds", "reference")
# TFMA's FairnessIndicators default thresholds.
DEFAULT_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
REFERENCE_WORDS = ("overall", "largest")


@dataclasses.dataclass(frozen=True)
class FairnessConfig:
    """Validated `fairness:` settings (frozen, hashable).

    Attributes:
      groups: the slicing specs whose slices are the groups compared (none is the overall one);
        () (left out): every slicing spec of the config's `slices:`.
      thresholds: the decision thresholds, ascending, distinct, in [0, 1].
      reference: "overall", "largest", or ((feature, value), ...): the group the "to
        reference" metrics compare each group with.
    """

    groups: Tuple[SliceSpec, ...] = ()
    thresholds: Tuple[float, ...] = DEFAULT_THRESHOLDS
    reference: Any = "overall"

    def __post_init__(self):
        if not isinstance(self.groups, (list, tuple)):
            raise ConfigTypeError(f"'fairness.groups' must be a list of slicing specs (got "
                                  f"{self.groups!r})")
        for spec in self.groups:
            if spec.is_overall:
                raise ConfigError("'fairness.groups' lists the overall slice, which is one group "
                                  "only: name a feature, e.g. groups: [[gender]]")
        ts = tuple(self.thresholds)
        for t in ts:
            if not values.is_number(t) or not 0.0 <= float(t) <= 1.0:
                raise ConfigError(f"'fairness.thresholds' must hold numbers in [0, 1], e.g. "
                                  f"[0.3, 0.5] (got {t!r})")
        if not ts or len(set(float(t) for t in ts)) != len(ts):
            raise ConfigError(f"'fairness.thresholds' must be distinct and at least one "
                              f"(got {list(ts)})")
        object.__setattr__(self, "thresholds", tuple(sorted(float(t) for t in ts)))
        object.__setattr__(self, "groups", tuple(self.groups))
        ref = self.reference
        if isinstance(ref, Mapping):
            ref = tuple(sorted((str(k), v) for k, v in ref.items()))
        if isinstance(ref, tuple):
            if not ref:
                raise ConfigError("'fairness.reference' must not be an empty mapping")
            features = {k for k, _ in ref}
            if self.groups and not any(set(spec.features) == features
                                       for spec in self.groups):
                raise ConfigError(f"'fairness.reference' names the features "
                                  f"{sorted(features)}, which no group in 'fairness.groups' "
                                  f"has (groups: {', '.join(s.name for s in self.groups)})")
        elif ref not in REFERENCE_WORDS:
            raise ConfigError(f"'fairness.reference' must be 'overall', 'largest' or a mapping "
                              f"such as {{gender: male}} (got {ref!r})")
        object.__setattr__(self, "reference", ref)

    @classmethod
    def parse(cls, raw: Any) -> Optional["FairnessConfig"]:
        """From the config's `fairness:` value (a mapping), or None when absent."""
        if raw is None:
            return None
        values.expect(raw, (Mapping,), "a mapping such as {groups: [[gender]]}", "fairness")
        values.check_keys(raw, FAIRNESS_KEYS, "'fairness'")
        if "groups" in raw and not raw["groups"]:
            raise ConfigError("'fairness.groups' must list at least one slicing spec, e.g. "
                              "groups: [[gender]] (or be left out: every slicing spec)")
        groups = values.expect(raw.get("groups", []), (list, tuple),
                               "a list of slicing specs, e.g. [[gender], [race]]",
                               "fairness.groups")
        specs = []
        for i, item in enumerate(groups):
            try:
                specs.append(parse_slice_spec(item, i))
            except ConfigError as e:  # the message says "slices[i]": give its real place
                raise type(e)(str(e).replace(f"slices[{i}]", f"fairness.groups[{i}]", 1)) \
                    from None
        kw: Dict[str, Any] = {"groups": tuple(dict.fromkeys(specs))}
        if "thresholds" in raw:
            ts = raw["thresholds"]
            if values.is_number(ts):
                ts = [ts]
            kw["thresholds"] = tuple(values.expect(ts, (list, tuple), "a list of numbers",
                                                   "fairness.thresholds"))
        if "reference" in raw:
            ref = raw["reference"]
            if not isinstance(ref, (str, Mapping)):
                raise ConfigTypeError(f"'fairness.reference' must be 'overall', 'largest' or a "
                                      f"mapping such as {{gender: male}} (got {ref!r})")
            kw["reference"] = ref
        return cls(**kw)

    def to_config(self) -> Dict[str, Any]:
        """The YAML/JSON form; parse(to_config()) == self."""
        ref = self.reference if isinstance(self.reference, str) else dict(self.reference)
        out: Dict[str, Any] = {"thresholds": list(self.thresholds), "reference": ref}
        if self.groups:
            out["groups"] = [s.to_config() for s in self.groups]
        return out


def parse_fairness(raw: Mapping[str, Any]) -> Dict[str, Any]:
    """{"fairness": FairnessConfig} from the config's top level, or {} when absent."""
    parsed = FairnessConfig.parse(raw.get("fairness"))
    return {} if parsed is None else {"fairness": parsed}


def with_group_slices(slices: Tuple[SliceSpec, ...], fairness: Optional[FairnessConfig]
                      ) -> Tuple[SliceSpec, ...]:
    """`slices` and, after them, each group spec of `fairness` not among them."""
    if fairness is None:
        return slices
    return tuple(slices) + tuple(g for g in fairness.groups if g not in slices)


__all__ = ["DEFAULT_THRESHOLDS", "FAIRNESS_KEYS", "FairnessConfig", "parse_fairness",
           "with_group_slices"]
