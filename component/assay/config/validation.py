"""The validation keys of a config, typed: the thresholds (assay.config.thresholds) and the
options that decide when the thresholds cannot.

    thresholds: [...]            # see assay.config.thresholds
    on_no_thresholds: reject     # or bless
    first_model: bless           # or reject
    baseline_failure: fail       # or ignore
    force_bless: "INC-123: approved by on-call"   # optional override
    on_inconclusive: fail        # or pass; read only with `confidence` (assay.validation.gate)

EvalConfig holds them as one ValidationConfig, parsed once when the config is built.

Example:
    >>> v = ValidationConfig.parse({"thresholds": [{"metric": "auc", "min": 0.7}],
    ...                             "first_model": "reject"})
    >>> len(v.thresholds), v.options.first_model
    (1, 'reject')
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Dict, Mapping, Optional, Tuple

from assay.config.section_thresholds import SectionThreshold
from assay.config.thresholds import Threshold, parse_thresholds
from assay.config.values import check_keys, choice, expect
from assay.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class ValidationOptions:
    """What to decide when the thresholds cannot decide.

    Attributes:
      on_no_thresholds: "reject" (default) or "bless" when no threshold is configured.
      first_model: "bless" (default) or "reject" a model with no baseline whose thresholds all
        compare against the baseline (value thresholds still apply to a first model).
      force_bless: a reason; when given the model is blessed whatever the checks say.
      baseline_failure: "fail" (default): a baseline that could not be evaluated fails the
        change checks; "ignore": judge the candidate as a first model.
      on_inconclusive: with `confidence` on, what a check whose interval straddles its bound
        counts as: "fail" (default: bless only what the data show to be within the bounds) or
        "pass" (refuse only what the data show to be beyond them). See assay.validation.gate.
    """

    on_no_thresholds: str = "reject"
    first_model: str = "bless"
    force_bless: Optional[str] = None
    baseline_failure: str = "fail"
    on_inconclusive: str = "fail"

    def __post_init__(self):
        choice(self.on_no_thresholds, ("reject", "bless"), "on_no_thresholds")
        choice(self.first_model, ("bless", "reject"), "first_model")
        choice(self.baseline_failure, ("fail", "ignore"), "baseline_failure")
        choice(self.on_inconclusive, ("fail", "pass"), "on_inconclusive")
        if self.force_bless is not None:
            expect(self.force_bless, (str,), "a string giving the reason", "force_bless")
            if not self.force_bless.strip():
                raise ConfigError("'force_bless' needs a reason, e.g. "
                                  "force_bless: 'INC-123: approved by on-call'")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "ValidationOptions":
        """From the option keys of a validation config (other keys are not read here)."""
        return cls(**{k: config[k] for k in OPTION_KEYS if config.get(k) is not None})


OPTION_KEYS = tuple(f.name for f in dataclasses.fields(ValidationOptions))
VALIDATION_KEYS = ("thresholds",) + OPTION_KEYS


@dataclasses.dataclass(frozen=True)
class ValidationConfig:
    """The validation keys of a config, parsed: the thresholds and the options.

    Attributes:
      thresholds: in config order.
      options: what decides when the thresholds cannot.
      written: the keys as the config wrote them (JSON text), so that `to_config` gives back the
        same mapping (config.json shows the config as written); not part of the value.

    Example:
        >>> v = ValidationConfig.parse({"thresholds": [{"metric": "auc", "min": 0.7}],
        ...                             "first_model": "reject"})
        >>> len(v.thresholds), v.options.first_model, hash(v) == hash(ValidationConfig.parse(
        ...     {"thresholds": [{"metric": "auc", "min": 0.7}], "first_model": "reject"}))
        (1, 'reject', True)
    """

    thresholds: Tuple[Threshold, ...] = ()
    options: ValidationOptions = ValidationOptions()
    written: Optional[str] = dataclasses.field(default=None, compare=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "thresholds", tuple(self.thresholds))

    @classmethod
    def parse(cls, raw: Mapping[str, Any], undeclared_ok: bool = False) -> "ValidationConfig":
        """From the validation keys of a config (see the module docstring and parse_thresholds)."""
        check_keys(raw, VALIDATION_KEYS, "the validation config")
        parsed = cls(parse_thresholds(raw.get("thresholds"), undeclared_ok),
                     ValidationOptions.from_config(raw))
        try:
            written = json.dumps(dict(raw), allow_nan=False)
        except (TypeError, ValueError):  # e.g. numpy scalars from Python: written canonically
            written = None
        return dataclasses.replace(parsed, written=written)

    def to_config(self) -> Dict[str, Any]:
        """The validation keys as the config wrote them, or canonically when built in Python
        (or changed since): the thresholds, and the options that differ from the defaults."""
        if self.written is not None:
            raw = json.loads(self.written)
            undeclared_ok = any(t.undeclared_ok for t in self.thresholds)
            if ValidationConfig.parse(raw, undeclared_ok) == self:
                return raw
        out: Dict[str, Any] = {}
        if self.thresholds:
            out["thresholds"] = [t.to_config() for t in self.thresholds]
        default = ValidationOptions()
        out.update((k, getattr(self.options, k)) for k in OPTION_KEYS
                   if getattr(self.options, k) != getattr(default, k))
        return out


def parse_validation(config: Mapping[str, Any]) -> Tuple[Tuple[Threshold, ...], ValidationOptions]:
    """Thresholds and options from a validation config: thresholds, on_no_thresholds, ...

    Example:
        >>> ts, opts = parse_validation({"thresholds": [{"metric": "auc", "min": 0.7}],
        ...                              "first_model": "reject"})
        >>> len(ts), opts.first_model
        (1, 'reject')
    """
    parsed = ValidationConfig.parse(config)
    return parsed.thresholds, parsed.options


def with_declared_directions(thresholds: Tuple[Threshold, ...],
                             declared: Mapping[str, Optional[str]]) -> Tuple[Threshold, ...]:
    """The thresholds with the directions custom metrics declare filled in.

    Args:
      thresholds: parsed thresholds.
      declared: {metric name: "higher" | "lower" | None} from the custom metrics' `directions`.

    Raises:
      ConfigError: a change bound whose metric's direction is still unknown, or a `direction:`
        that contradicts the custom metric's declaration.
    """
    out = []
    for i, t in enumerate(thresholds):
        if isinstance(t, SectionThreshold):
            out.append(t)
            continue
        said = declared.get(t.metric)
        if t.direction is not None and said is not None and said != t.direction:
            raise ConfigError(f"thresholds[{i}] ({t.metric}): 'direction' is {t.direction!r} "
                              f"but the custom metric declares {said!r}; leave 'direction' out")
        if t.direction is None and said is not None:
            t = dataclasses.replace(t, direction=said)
        if t.direction is None and t.has_change_bound:
            raise ConfigError(f"thresholds[{i}] ({t.metric}): {t.direction_needed()}, and no "
                              f"custom metric declares it in its 'directions'")
        out.append(t)
    return tuple(out)


__all__ = ["OPTION_KEYS", "VALIDATION_KEYS", "ValidationConfig", "ValidationOptions",
           "parse_validation", "with_declared_directions"]
