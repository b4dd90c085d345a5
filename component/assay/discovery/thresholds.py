"""Gates on the discovered weak slices (the `discovered` section).

    thresholds:
      - {discovered: regression, max_regression: 0.02}   # error: regression
      - {discovered: error, max_effect: 0.1}            # error: a loss

`max_regression` fails when a confirmed discovered slice's mean paired regression (its mean
candidate loss - baseline loss, on the confirmation half) is above the bound; it needs
`discover: {error: regression}`. `max_effect` fails when a confirmed slice's effect (its mean
error minus the rest's, on the confirmation half) is above the bound; it needs a loss as
`discover.error`. Unconfirmed slices never fail a gate (they are not evidence). A result with no
`discovered` section, or one whose error is of the other form, is a failed check saying so; with
`error: regression` and no baseline evaluated (a first model), the check is skipped and the
verdict follows `first_model`, as for change thresholds.
"""

from __future__ import annotations

import dataclasses
from typing import Any, List, Mapping

from assay.config import values
from assay.config.section_thresholds import SectionThreshold
from assay.errors import ConfigError
from assay.validation.checks import FAIL, PASS, SKIPPED, Check, _fmt as _fmt_number

KINDS = {"regression": "max_regression", "error": "max_effect"}


@dataclasses.dataclass(frozen=True)
class DiscoveredThreshold(SectionThreshold):
    """A bound on every confirmed discovered slice (module docstring).

    Attributes:
      kind: "regression" (bounds the slice's paired regression) or "error" (its effect).
      bound: the largest value allowed.
    """

    kind: str = "regression"
    bound: float = 0.0

    def checks(self, doc: Mapping[str, Any], ctx: Any = None) -> List[Check]:
        section = doc.get("discovered")
        key = KINDS[self.kind]
        if not section:
            return [self._check({}, FAIL, f"discovered {self.kind}: the result has no "
                                           f"discovered slices to check; add `discover:` to "
                                           f"the config")]
        if section.get("unavailable"):
            return [self._check({}, SKIPPED, f"discovered {self.kind}: {section['unavailable']}")]
        form = section.get("settings", {}).get("error")
        if (form == "regression") != (self.kind == "regression"):
            want = ("error: regression" if self.kind == "regression"
                    else "a loss as its error (e.g. error: log_loss)")
            return [self._check({}, FAIL, f"discovered {self.kind}: {key} needs `discover:` "
                                           f"with {want}; this result's discovery error is "
                                           f"{form!r}")]
        confirmed = [s for s in section.get("slices", []) if s.get("confirmed")]
        out = [self._slice(s) for s in confirmed]
        if not out:
            out.append(self._check({}, PASS, f"discovered {self.kind}: no confirmed weak slice "
                                             f"among {len(section.get('slices', []))} "
                                             f"discovered"))
        return out

    def _slice(self, s: Mapping[str, Any]) -> Check:
        value = s.get("error") if self.kind == "regression" else s.get("effect")
        name = ", ".join(f"{k}={v}" for k, v in s["slice"].items()) or "overall"
        what = "regression" if self.kind == "regression" else "effect"
        ok = value is not None and value <= self.bound
        said = (f"discovered slice {name} (size {s.get('size')}, effect {_fmt(s.get('effect'))}, "
                f"q {_fmt(s.get('q_value'))}): {what} {_fmt(value)}")
        rule = f"{'within' if ok else 'above'} {KINDS[self.kind]} {_fmt(self.bound)}"
        return self._check(dict(s["slice"]), PASS if ok else FAIL, f"{said}, {rule}", value)

    def _check(self, where, status, reason, value=None) -> Check:
        return Check(self.metric, KINDS[self.kind], where, self.bound, status, reason, value)


def _fmt(value: Any) -> str:
    return "none" if value is None else _fmt_number(float(value))


def parse_threshold(raw: Mapping[str, Any]) -> DiscoveredThreshold:
    """The threshold of a `{discovered: ..., max_...: x}` mapping.

    Raises:
      ConfigError: an unknown kind or key, or a bound that is not a number.
    """
    kind = values.choice(raw.get("discovered"), tuple(KINDS), "thresholds[].discovered")
    key = KINDS[kind]
    values.check_keys(raw, ("discovered", key), f"threshold {{discovered: {kind}}}")
    if key not in raw:
        raise ConfigError(f"threshold {{discovered: {kind}}} needs '{key}', e.g. "
                          f"{{discovered: {kind}, {key}: 0.02}}")
    bound = values.number(raw[key], f"thresholds[].{key}")
    if bound < 0:
        raise ConfigError(f"'thresholds[].{key}' must be >= 0 (got {raw[key]!r})")
    return DiscoveredThreshold(metric=f"discovered {kind}", config=dict(raw), kind=kind,
                               bound=bound)


__all__ = ["DiscoveredThreshold", "parse_threshold"]
