"""`confidence:`: bootstrap confidence intervals for every metric, computed in the same pass.

    confidence:
      level: 0.95        # two-sided coverage of each interval, in (0, 1); default 0.95
      replicates: 200    # Poisson bootstrap replicates, at least 20; default 200
      unit: user_id      # optional column: resample whole units (all rows of one user
                         # together); default: each example on its own
      seed: 0            # integer >= 0; the same seed gives the same intervals

`confidence: {}` (or `confidence: true`) turns intervals on with the defaults. How the
replicates are drawn and the intervals computed: `assay.metrics.bootstrap`.

Example:
    >>> ConfidenceConfig.parse({"level": 0.9}).replicates
    200
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Mapping, Optional

from assay.config import values
from assay.errors import ConfigError, ConfigTypeError

CONFIDENCE_KEYS = ("level", "replicates", "unit", "seed")
MIN_REPLICATES = 20
MAX_REPLICATES = 10_000


@dataclasses.dataclass(frozen=True)
class ConfidenceConfig:
    """Validated `confidence:` settings (frozen, hashable).

    Attributes:
      level: the coverage of each two-sided interval, in (0, 1).
      replicates: the number of bootstrap replicates R.
      unit: the column whose value identifies a resampling unit, or None (each example).
      seed: the seed of the counter-based generator of the replicate weights.
    """

    level: float = 0.95
    replicates: int = 200
    unit: Optional[str] = None
    seed: int = 0

    def __post_init__(self):
        for key, kind in (("level", "a number"), ("replicates", "an integer"),
                          ("seed", "an integer")):
            v = getattr(self, key)
            if not values.is_number(v) or (kind == "an integer" and int(v) != v) or \
                    isinstance(v, float) and kind == "an integer":
                raise ConfigTypeError(f"'confidence.{key}' must be {kind} (got {v!r}, a "
                                      f"{type(v).__name__})")
        if not 0.0 < float(self.level) < 1.0:
            raise ConfigError(f"'confidence.level' must be a number in (0, 1), e.g. 0.95 "
                              f"(got {self.level!r})")
        object.__setattr__(self, "level", float(self.level))
        if isinstance(self.replicates, bool) or not isinstance(self.replicates, int) or \
                not MIN_REPLICATES <= self.replicates <= MAX_REPLICATES:
            raise ConfigError(f"'confidence.replicates' must be an integer from "
                              f"{MIN_REPLICATES} to {MAX_REPLICATES} (got {self.replicates!r}); "
                              f"200 gives stable 95% bounds")
        if self.unit is not None and (not isinstance(self.unit, str) or not self.unit.strip()):
            raise ConfigError(f"'confidence.unit' must name a column, or be left out to "
                              f"resample single examples (got {self.unit!r})")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"'confidence.seed' must be an integer >= 0 (got {self.seed!r})")

    @classmethod
    def parse(cls, raw: Any) -> Optional["ConfidenceConfig"]:
        """From the config's `confidence:` value: a mapping, true / {} (the defaults), or
        false / null (no intervals, returns None)."""
        if raw is None or raw is False:
            return None
        if raw is True:
            return cls()
        values.expect(raw, (Mapping,), "a mapping such as {level: 0.95, replicates: 200}",
                      "confidence")
        values.check_keys(raw, CONFIDENCE_KEYS, "'confidence'")
        return cls(**{k: raw[k] for k in CONFIDENCE_KEYS if k in raw})

    def to_config(self) -> Dict[str, Any]:
        """The YAML/JSON form; parse(to_config()) == self."""
        out: Dict[str, Any] = {"level": self.level, "replicates": self.replicates,
                               "seed": self.seed}
        if self.unit is not None:
            out["unit"] = self.unit
        return out


def parse_confidence(raw: Mapping[str, Any]) -> Dict[str, Any]:
    """{"confidence": ConfidenceConfig} from the config's top level, or {} when absent/off."""
    parsed = ConfidenceConfig.parse(raw.get("confidence"))
    return {} if parsed is None else {"confidence": parsed}


__all__ = ["CONFIDENCE_KEYS", "ConfidenceConfig", "parse_confidence"]
