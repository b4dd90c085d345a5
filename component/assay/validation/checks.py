"""The checks of one threshold: its bounds on each slice it names, or its gap across a spec.

Semantics (each is tested in tests/test_validation.py):
  - `min` / `max` bound the candidate's value, inclusive.
  - `max_regression` bounds the change against the baseline, measured in the metric's own
    direction: a drop for auc (higher is better), a rise for log_loss (lower is better). A number
    is absolute (candidate - baseline); `{relative: r}` is relative, (candidate - baseline) /
    |baseline|; `{absolute: a, relative: r}` requires both. A negative bound demands an
    improvement of at least that much.
  - Relative change against a zero baseline: 0 when the candidate is also 0 (passes a
    non-negative bound), otherwise infinite in the direction of the change, so it passes only
    when the change is an improvement.
  - Bounds are compared with a tolerance of 1e-9 * max(1, |bound|), so a drop printed as
    exactly the allowed 0.01 is not failed by floating-point rounding (0.79 - 0.80 is
    -0.010000000000000009), and verdicts do not flip with summation order.
  - `slices` entries: a list of feature names is every slice of that spec (withheld slices are
    skipped and said so; a spec with no slices, or only withheld ones, fails); a mapping of
    feature -> value is that one slice, which fails when it is missing or withheld. `[]` and
    `{}` are the overall slice, the default.
  - Slice values match as assay.results.slices.values_match says: 3, 3.0 and "3" match, "03"
    and "3.0" do not match 3, and booleans match only booleans.
  - `max_gap: {across: [f...], value: v}`: the largest minus the smallest value of the metric
    over the slices of spec [f...] (candidate model, withheld slices left out) must be <= v;
    fewer than two slices with data is a failure, since there is no gap to bound.
  - No baseline: change checks are skipped, value checks still apply (assay.validation.verdict
    decides when every check is skipped). `baseline_error`: change checks fail with that
    reason, unless `baseline_failure: ignore`, which judges the candidate as a first model.
  - A NaN value, a missing metric, slice or baseline value is a failure with its reason.
  - `model: NAME` checks that model's records instead of the candidate's (its change against
    the baseline for max_regression); its reasons begin "model NAME: ". A cross-model metric
    (flip rates, ...) is read from the model's diff record ("diff", "diff:NAME"); without a
    baseline its checks are skipped like change checks.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from assay.config.model_names import diff_name
from assay.config.thresholds import SliceSelector, Threshold
from assay.metrics.cross_names import is_cross_name
from assay.metrics.registry import LOWER
from assay.results.slices import values_match
from assay.validation.records import (RecordIndex, SliceRecord, lookup, subject_of,
                                      withheld_reason)

_TOLERANCE = 1e-9


PASS, FAIL, SKIPPED = "pass", "fail", "skipped"
GATE_FIELDS = ("outcome", "interval", "p_value", "p_adjusted", "family")


@dataclasses.dataclass(frozen=True)
class Check:
    """One bound checked on one slice (or, for max_gap, across one spec).

    Attributes:
      metric, kind: the metric and the bound: min, max, max_regression_absolute,
        max_regression_relative or max_gap.
      slice: {feature: value} of the slice checked; {} for the overall slice and for checks
        about a whole spec.
      spec: the spec's features for checks about a whole spec (max_gap, or a spec with no slice
        to check); None otherwise.
      threshold: the bound.
      status: "pass", "fail" or "skipped".
      reason: what was found, in words.
      candidate, baseline: the values compared (None when missing); for max_gap, candidate is
        the gap.
      change: in the unit of the kind: candidate - baseline for min / max /
        max_regression_absolute, (candidate - baseline) / |baseline| for
        max_regression_relative, the gap for max_gap.
      model: the model checked (the threshold's `model`); written to validation.json only when
        it is not the candidate, so two-model verdicts keep their format.
      outcome, interval, p_value, p_adjusted, family: set only with `confidence` on (see
        assay.validation.gate, which fills them in); written to validation.json only then.
    """

    metric: str
    kind: str
    slice: Dict[str, Any]
    threshold: float
    status: str
    reason: str
    candidate: Optional[float] = None
    baseline: Optional[float] = None
    change: Optional[float] = None
    spec: Optional[Tuple[str, ...]] = None
    model: str = "candidate"
    outcome: Optional[str] = None
    interval: Optional[Dict[str, Optional[float]]] = None
    p_value: Optional[float] = None
    p_adjusted: Optional[float] = None
    family: Optional[Dict[str, Any]] = None

    def to_dict(self) -> Dict[str, Any]:
        out = dataclasses.asdict(self)
        out["spec"] = None if self.spec is None else list(self.spec)
        if self.model == "candidate":
            del out["model"]
        if self.outcome is None:   # no `confidence`: validation.json keeps its format
            for key in GATE_FIELDS:
                del out[key]
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Check":
        d = dict(d)
        d["spec"] = None if d.get("spec") is None else tuple(d["spec"])
        return cls(**d)


# --------------------------------------------------------------------------------------------
# Formatting numbers for reasons

def _fmt(x: float, digits: int = 4) -> str:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.{digits}g}"


def _fmt_pair(x: float, bound: float, digits: int = 4) -> Tuple[str, str]:
    """x and bound with enough digits that numbers judged different do not print the same."""
    same = abs(x - bound) <= _TOLERANCE * max(1.0, abs(bound))
    for digits in range(digits, 18):
        a, b = _fmt(x, digits), _fmt(bound, digits)
        if a != b or same:
            return a, b
    return _fmt(x, 17), _fmt(bound, 17)


def _pct_pair(x: float, bound: float) -> Tuple[str, str]:
    a, b = _fmt_pair(x * 100, bound * 100, digits=3)
    return a + "%", b + "%"


def _at_most(x: float, bound: float) -> bool:
    return x <= bound + _TOLERANCE * max(1.0, abs(bound))


def _at_least(x: float, bound: float) -> bool:
    return x >= bound - _TOLERANCE * max(1.0, abs(bound))


# --------------------------------------------------------------------------------------------
# Checks

def _value_check(t: Threshold, kind: str, bound: float, s: SliceRecord, value: float,
                 baseline: Optional[float]) -> Check:
    subject = subject_of(t.metric, s)
    change = None if baseline is None else value - baseline
    if math.isnan(value):
        reason = (f"{subject} is NaN (it could not be computed), so the "
                  f"{'minimum' if kind == 'min' else 'maximum'} {_fmt(bound)} cannot be confirmed")
        return Check(t.metric, kind, s.as_dict, bound, FAIL, reason, value, baseline, change)
    v, b = _fmt_pair(value, bound)
    if kind == "min":
        ok = _at_least(value, bound)
        reason = f"{subject} is {v}, {'at or above' if ok else 'below'} the minimum {b}"
    else:
        ok = _at_most(value, bound)
        reason = f"{subject} is {v}, {'at or below' if ok else 'above'} the maximum {b}"
    return Check(t.metric, kind, s.as_dict, bound, PASS if ok else FAIL, reason, value,
                 baseline, change)


def _change_check(t: Threshold, kind: str, bound: float, s: SliceRecord, value: float,
                  baseline: float) -> Check:
    subject = subject_of(t.metric, s)
    relative = kind == "max_regression_relative"
    change = value - baseline
    if relative:
        change = (0.0 if change == 0 else math.copysign(math.inf, change) if baseline == 0
                  else change / abs(baseline))
    both = f"({_fmt(baseline)} -> {_fmt(value)})"
    if math.isnan(value) or math.isnan(baseline) or math.isnan(change):
        what = ("the candidate's value is NaN" if math.isnan(value)
                else "the baseline's value is NaN" if math.isnan(baseline)
                else "the change is undefined")
        reason = (f"{subject}: {what} {both}, so the change against the baseline cannot be "
                  f"checked")
        return Check(t.metric, kind, s.as_dict, bound, FAIL, reason, value, baseline, change)
    regression = change if t.direction == LOWER else -change
    ok = _at_most(regression, bound)
    amount, allowed = (_pct_pair if relative else _fmt_pair)(abs(change), abs(bound))
    verb = "rose" if change > 0 else "fell"
    if change == 0:
        said = f"{subject} is unchanged against the baseline ({_fmt(baseline)})"
    elif relative and math.isinf(change):
        said = (f"{subject} {verb} from a baseline of 0 to {_fmt(value)}, an infinite relative "
                f"change")
    else:
        said = f"{subject} {verb} {'' if relative else 'by '}{amount} against the baseline {both}"
    if bound >= 0:
        if not ok:
            tail = f", more than the {allowed} allowed"
        elif regression > 0:
            tail = f", within the {allowed} allowed"
        else:
            tail = ", an improvement" if regression < 0 else ""
    else:
        tail = (f", {'meeting' if ok else 'short of'} the required improvement of "
                f"{'at least ' if ok else ''}{allowed}")
    return Check(t.metric, kind, s.as_dict, bound, PASS if ok else FAIL, said + tail, value,
                 baseline, change)


def _checks_on_slice(t: Threshold, s: SliceRecord, ctx: RecordIndex) -> List[Check]:
    value, problem = lookup(t.metric, s, "")
    baseline, baseline_problem = None, None
    if ctx.baseline_available:
        base_slice = ctx.baseline_of(s)
        if base_slice is None:
            baseline_problem = f"the baseline has no results for {s.label}"
        else:
            baseline, baseline_problem = lookup(t.metric, base_slice, "the baseline's ")
    checks = []
    for kind, bound in t.bounds():
        is_change = kind.startswith("max_regression")
        if problem is not None:
            checks.append(Check(t.metric, kind, s.as_dict, bound, FAIL, problem))
        elif not is_change:
            checks.append(_value_check(t, kind, bound, s, value, baseline))
        elif ctx.baseline_failed:
            reason = (f"the baseline model could not be evaluated ({ctx.baseline_error}), so the "
                      f"change in {subject_of(t.metric, s)} cannot be checked; fix the baseline, "
                      f"or set baseline_failure: ignore to judge this model as a first model")
            checks.append(Check(t.metric, kind, s.as_dict, bound, FAIL, reason, value))
        elif not ctx.baseline_available:
            checks.append(Check(t.metric, kind, s.as_dict, bound, SKIPPED,
                                f"{subject_of(t.metric, s)}: {ctx.no_baseline_note}", value))
        elif baseline_problem is not None:
            checks.append(Check(t.metric, kind, s.as_dict, bound, FAIL, baseline_problem, value))
        else:
            checks.append(_change_check(t, kind, bound, s, value, baseline))
    return checks


def _spec_failure(t: Threshold, features: Tuple[str, ...], reason: str) -> List[Check]:
    return [Check(t.metric, kind, {}, bound, FAIL, reason, spec=features)
            for kind, bound in t.bounds()]


def _no_slice_reason(features: Sequence[str]) -> str:
    return (f"no slice of [{', '.join(features)}] is in the results; is [{', '.join(features)}] "
            f"among the slicing specs, and does the data have these features?")


def _records_of(t: Threshold) -> str:
    """The record model a threshold reads: the model's own, or for a cross-model metric the
    model's diff record."""
    return diff_name(t.model) if is_cross_name(t.metric) else t.model


def _checks_on_selector(t: Threshold, sel: SliceSelector, ctx: RecordIndex) -> List[Check]:
    candidates = ctx.slices(_records_of(t), sel.features)
    if sel.values is not None:
        matches = [s for s in candidates
                   if all(values_match(w, v) for w, v in zip(sel.values, s.values))]
        if not matches:
            values = ", ".join(f"{f}={v}" for f, v in zip(sel.features, sel.values))
            where = (f"no example has {values}, or [{', '.join(sel.features)}] is not among the "
                     f"slicing specs" if sel.features else "there are no candidate results")
            reason = f"{t.metric}: {sel.label} is not in the results ({where})"
            return [Check(t.metric, kind, dict(zip(sel.features, sel.values)), bound, FAIL,
                          reason) for kind, bound in t.bounds()]
        return [c for s in matches for c in _checks_on_slice(t, s, ctx)]
    if not candidates:
        return _spec_failure(t, sel.features, f"{t.metric}: {_no_slice_reason(sel.features)}")
    with_data = [s for s in candidates if "withheld" not in s.record]
    if not with_data:
        return _spec_failure(t, sel.features, (
            f"{t.metric}: every slice of [{', '.join(sel.features)}] was withheld "
            f"({len(candidates)} slices, e.g. {candidates[0].label}: "
            f"{withheld_reason(candidates[0].record)}), so none could be checked"))
    checks = []
    for s in candidates:
        if s in with_data:
            checks.extend(_checks_on_slice(t, s, ctx))
        else:
            reason = f"{s.label} was withheld ({withheld_reason(s.record)}); not checked"
            checks.extend(Check(t.metric, kind, s.as_dict, bound, SKIPPED, reason)
                          for kind, bound in t.bounds())
    return checks


def _gap_check(t: Threshold, ctx: RecordIndex, kind: str = "max_gap") -> Check:
    """The max_gap check (largest minus smallest value across a spec's slices), or kind
    "min_ratio": smallest over largest value, which must be at least the bound."""
    gap = getattr(t, kind)
    spec = f"[{', '.join(gap.across)}]"

    def fail(reason: str, value: Optional[float] = None) -> Check:
        return Check(t.metric, kind, {}, gap.value, FAIL, reason, value, spec=gap.across)

    slices = ctx.slices(t.model, gap.across)
    if not slices:
        return fail(f"{t.metric} {kind}: {_no_slice_reason(gap.across)}")
    with_data = [s for s in slices if "withheld" not in s.record]
    values = []
    for s in with_data:
        value, problem = lookup(t.metric, s, "")
        if problem is not None:
            return fail(f"{problem}, so the gap across {spec} cannot be measured")
        if math.isnan(value):
            return fail(f"{t.metric} on {s.label} is NaN (it could not be computed), so the "
                        f"{'gap' if kind == 'max_gap' else 'ratio'} across {spec} cannot be "
                        f"measured")
        values.append((value, s))
    withheld = len(slices) - len(with_data)
    note = f" ({withheld} withheld slice{'s' * (withheld != 1)} left out)" if withheld else ""
    if len(values) < 2:
        found = f" ({values[0][1].label})" if values else ""
        return fail(f"{t.metric} {kind} across {spec} needs at least two slices with data; "
                    f"found {len(values)}{found}{note}")
    low, low_s = min(values, key=lambda p: p[0])
    high, high_s = max(values, key=lambda p: p[0])
    if kind == "min_ratio":
        return _ratio_check(t, (low, low_s), (high, high_s), note)
    spread = high - low
    ok = _at_most(spread, gap.value)
    amount, allowed = _fmt_pair(spread, gap.value)
    reason = (f"{t.metric} varies by {amount} across {spec} (lowest {_fmt(low)} on "
              f"{low_s.label}, highest {_fmt(high)} on {high_s.label}), "
              f"{'within' if ok else 'more than'} the {allowed} allowed{note}")
    return Check(t.metric, "max_gap", {}, gap.value, PASS if ok else FAIL, reason, spread,
                 change=spread, spec=gap.across)


def _ratio_check(t: Threshold, low: Tuple[float, Any], high: Tuple[float, Any], note: str
                 ) -> Check:
    """min_ratio's verdict from the lowest and highest values across the spec: their ratio
    (1 when both are 0, as Fairlearn's ratios) must be at least the bound."""
    bound, across = t.min_ratio.value, t.min_ratio.across
    if low[0] < 0:
        return Check(t.metric, "min_ratio", {}, bound, FAIL,
                     f"{t.metric} is negative on {low[1].label} ({_fmt(low[0])}); min_ratio "
                     f"compares non-negative values such as rates", None, spec=across)
    ratio = 1.0 if high[0] == 0 else low[0] / high[0]
    ok = _at_least(ratio, bound)
    amount, allowed = _fmt_pair(ratio, bound)
    reason = (f"{t.metric} ratio across [{', '.join(across)}] is {amount} (lowest "
              f"{_fmt(low[0])} on {low[1].label}, highest {_fmt(high[0])} on {high[1].label}), "
              f"{'at least' if ok else 'below'} the {allowed} required{note}")
    return Check(t.metric, "min_ratio", {}, bound, PASS if ok else FAIL, reason, ratio,
                 change=ratio, spec=across)


def checks_for(t: Threshold, ctx: RecordIndex) -> List[Check]:
    """Every check of one threshold: each bound on each slice it names (a slice named twice is
    checked once), then its max_gap."""
    checks: List[Check] = []
    if is_cross_name(t.metric) and not ctx.baseline_available:
        status = FAIL if ctx.baseline_failed else SKIPPED
        note = (f"the baseline model could not be evaluated ({ctx.baseline_error})"
                if ctx.baseline_failed else ctx.no_baseline_note)
        checks = [Check(t.metric, kind, sel.to_config() if sel.values else {}, bound, status,
                        f"{t.metric} compares with the baseline, and {note}")
                  for sel in t.slices for kind, bound in t.bounds()]
    elif t.bounds():
        seen = set()
        for sel in t.slices:
            for c in _checks_on_selector(t, sel, ctx):
                key = (c.kind, tuple(sorted(c.slice.items())), c.spec)
                if key not in seen:
                    seen.add(key)
                    checks.append(c)
    if t.max_gap is not None:
        checks.append(_gap_check(t, ctx))
    if getattr(t, "min_ratio", None) is not None:
        checks.append(_gap_check(t, ctx, "min_ratio"))
    if t.model != "candidate":
        checks = [dataclasses.replace(c, model=t.model, reason=f"model {t.model}: {c.reason}")
                  for c in checks]
    return checks
