"""`max_regression_from`: a regression budget against an anchor evaluation.

    thresholds:
      - {metric: auc, max_regression: 0.01}                  # each step against its baseline
      - {metric: auc, max_regression_from: {anchor: first-blessed, value: 0.02}}   # in all

`max_regression` alone lets a chain of small regressions add up (0.8% per model passes 1% each
time, and is 2.4% after three models); `max_regression_from` bounds the candidate's regression
against a fixed anchor's value of the metric, read from the anchor's stored evaluation:

  anchor: first-blessed     the oldest blessed evaluation of the config's `history:`
          latest-blessed    the newest blessed one
          7 (an int)        the newest evaluation in `history: {mlmd: ...}` whose candidate was
                            Model artifact 7
          DIR (a string)    that results directory
  value: 0.02 (absolute: anchor - candidate for higher-is-better metrics), or {relative: r}
         ((anchor - candidate) / |anchor|), or {absolute: a, relative: r} (both apply).

The check reads the overall slice's candidate value (`slices` is not taken), its `baseline`
field holds the anchor's value and its reason names the anchor. With anchor first-blessed or
latest-blessed and no blessed evaluation yet, the check is skipped ("first model": the verdict
then follows `first_model`, as for change checks without a baseline); an anchor that names an
artifact id or directory that cannot be found is a failed check saying so.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, List, Mapping, Optional, Union

from assay.config import values
from assay.config.section_thresholds import SectionThreshold
from assay.errors import ConfigError
from assay.metrics.registry import HIGHER, LOWER, metric_direction
from assay.validation.checks import FAIL, PASS, SKIPPED, Check, _at_most, _fmt, _fmt_pair

BLESSED_ANCHORS = ("first-blessed", "latest-blessed")
KEY = "max_regression_from"


def anchor_key(anchor: Union[int, str]) -> str:
    """The key of an anchor in the history section's "anchors"."""
    return str(anchor)


@dataclasses.dataclass(frozen=True)
class RegressionFrom(SectionThreshold):
    """A bound on the candidate's regression against an anchor's value (module docstring).

    Attributes:
      anchor: "first-blessed", "latest-blessed", a Model artifact id (int) or a results dir.
      absolute, relative: the bounds (None: not bounded that way).
      direction: "higher" or "lower" is better.
    """

    anchor: Union[int, str] = "first-blessed"
    absolute: Optional[float] = None
    relative: Optional[float] = None
    direction: Optional[str] = None  # type: ignore[assignment]

    def checks(self, doc: Mapping[str, Any], ctx: Any = None) -> List[Check]:
        found = ((doc.get("history") or {}).get("anchors") or {}).get(anchor_key(self.anchor))
        value = _overall(doc.get("records") or [], self.metric)
        kinds = [(k, b) for k, b in (("max_regression_from_absolute", self.absolute),
                                     ("max_regression_from_relative", self.relative))
                 if b is not None]
        return [self._check(kind, bound, found, value) for kind, bound in kinds]

    def _check(self, kind: str, bound: float, found: Optional[Mapping[str, Any]],
               value: Optional[float]) -> Check:
        def done(status, reason, anchor=None, change=None):
            return Check(self.metric, kind, {}, bound, status, reason, value, anchor, change)

        subject = f"{self.metric} (overall)"
        if found is None:
            return done(FAIL, f"{subject}: the anchor {self.anchor!r} of max_regression_from was "
                              f"not looked up: the metrics hold no `history` section (evaluate "
                              f"with this threshold in the config to read the anchor)")
        if found.get("first_model"):
            return done(SKIPPED, f"{subject}: {found['first_model']}")
        if found.get("error"):
            return done(FAIL, f"{subject}: {found['error']}")
        anchor = (found.get("values") or {}).get(self.metric)
        where = f"the anchor ({self.anchor}: {found.get('label')})"
        if value is None or anchor is None:
            missing = "the candidate has" if value is None else f"{where} has"
            return done(FAIL, f"{subject}: {missing} no value, so the regression from the "
                              f"anchor cannot be checked", anchor)
        relative = kind.endswith("relative")
        change = value - anchor
        if relative:
            change = 0.0 if change == 0 else (math.copysign(math.inf, change) if anchor == 0
                                              else change / abs(anchor))
        regression = change if self.direction == LOWER else -change
        ok = _at_most(regression, bound)
        if relative:
            amount, allowed = (s + "%" for s in _fmt_pair(abs(change) * 100, bound * 100, 3))
        else:
            amount, allowed = _fmt_pair(abs(change), bound)
        verb = "regressed" if regression > 0 else "improved" if regression < 0 else "is unchanged"
        said = (f"{subject} {verb}{' by ' + amount if regression else ''} from {where} "
                f"({_fmt(anchor)} -> {_fmt(value)})")
        rule = ("within" if ok else "beyond") + f" the regression budget {allowed}"
        return done(PASS if ok else FAIL, f"{said}, {rule}", anchor, change)


def _overall(records: List[Mapping[str, Any]], metric: str) -> Optional[float]:
    for r in records:
        if r.get("model") == "candidate" and not r.get("slice") and "metrics" in r:
            v = r["metrics"].get(metric)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v):
                return float(v)
    return None


def _bound(raw: Any, where: str) -> Dict[str, float]:
    if isinstance(raw, Mapping):
        values.check_keys(raw, ("absolute", "relative"), where)
        if not raw:
            raise ConfigError(f"'{where}' must give absolute and/or relative")
        return {k: values.number(v, f"{where}.{k}") for k, v in raw.items()}
    return {"absolute": values.number(raw, where)}


def parse_threshold(item: Mapping[str, Any]) -> RegressionFrom:
    """The RegressionFrom of `{metric: M, max_regression_from: {anchor: A, value: V}}`.

    Raises:
      ConfigError: a missing or unknown key, an anchor that is neither first-blessed,
        latest-blessed, an artifact id nor a path, a metric of unknown direction without
        `direction:` (ConfigTypeError: a value of the wrong type).

    Example:
        >>> t = parse_threshold({"metric": "auc",
        ...                      "max_regression_from": {"anchor": "first-blessed", "value": 0.02}})
        >>> t.anchor, t.absolute, t.direction
        ('first-blessed', 0.02, 'higher')
    """
    where = f"threshold {dict(item)!r}"
    values.check_keys(item, ("metric", KEY, "direction"), "a max_regression_from threshold")
    metric = item.get("metric")
    values.expect(metric, (str,), "a metric name", f"{where}: 'metric'")
    raw = item[KEY]
    values.expect(raw, (dict,), "a mapping {anchor: ..., value: ...}", KEY)
    values.check_keys(raw, ("anchor", "value"), KEY)
    if "value" not in raw:
        raise ConfigError(f"'{KEY}' needs 'value': the largest regression allowed (e.g. 0.02, "
                          f"or {{relative: 0.02}})")
    anchor = raw.get("anchor", "first-blessed")
    if isinstance(anchor, bool) or not isinstance(anchor, (int, str)) or anchor == "":
        raise ConfigError(f"'{KEY}.anchor' must be first-blessed, latest-blessed, a Model "
                          f"artifact id or a results directory (got {anchor!r})")
    if isinstance(anchor, str) and anchor.isdigit():
        anchor = int(anchor)
    direction = item.get("direction") or metric_direction(metric)
    if direction not in (HIGHER, LOWER):
        raise ConfigError(f"{where}: the direction of '{metric}' is not known; add "
                          f"direction: higher or direction: lower")
    bounds = _bound(raw["value"], f"{KEY}.value")
    return RegressionFrom(metric=f"{metric}", config=dict(item), anchor=anchor,
                          absolute=bounds.get("absolute"), relative=bounds.get("relative"),
                          direction=direction)


_BOUND = {"anyOf": [{"type": "number"}, {
    "type": "object", "minProperties": 1, "additionalProperties": False,
    "properties": {"absolute": {"type": "number"}, "relative": {"type": "number"}}}]}
parse_threshold.json_schema = {
    "type": "object", "required": ["metric", KEY], "additionalProperties": False,
    "properties": {
        "metric": {"type": "string", "minLength": 1},
        "direction": {"enum": [HIGHER, LOWER]},
        KEY: {"type": "object", "required": ["value"], "additionalProperties": False,
              "properties": {"anchor": {"anyOf": [{"type": "integer", "minimum": 1},
                                                  {"type": "string", "minLength": 1}]},
                             "value": _BOUND}},
    },
}

__all__ = ["BLESSED_ANCHORS", "KEY", "RegressionFrom", "anchor_key", "parse_threshold"]
