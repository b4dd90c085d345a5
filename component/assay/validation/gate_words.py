"""The sentences of noise-aware checks (assay.validation.gate): what was found, its interval,
and what the interval shows, in words a person can act on.

    auc fell by 0.004 (95% CI -0.011 to +0.003) against the baseline (0.82 -> 0.816): not shown
    to be within the allowed 0.002 (inconclusive; on_inconclusive is fail)

The interval is of what the check bounds: the value for min / max, the change against the
baseline (candidate - baseline, signed) for max_regression, in percent for a relative bound.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, Optional

from assay.config.thresholds import Threshold
from assay.results.slices import features_label
from assay.validation.checks import FAIL, PASS, Check, _fmt, _fmt_pair, _pct_pair


@dataclasses.dataclass
class Judged:
    """One check as the gate sees it (see assay.validation.gate.judge).

    Attributes:
      check, threshold, gate: what was judged, and how.
      interval: {"lower", "upper", "stderr"} of the compared quantity, in the check's unit.
      outcome: "pass", "fail" or "inconclusive".
      p_met: p-value of H0 "the bound is not met"; p_not_met: of H0 "the bound is met".
      family: {"method", "spec", "size"} for a threshold on every slice of a spec.
      p_adjusted: Holm-adjusted p_not_met (Holm families only).
      holm_kept: the interval alone would fail, but not after Holm's adjustment.
    """

    check: Check
    threshold: Threshold
    gate: Any
    interval: Dict[str, float]
    outcome: str
    p_met: float
    p_not_met: float
    family: Optional[Dict[str, Any]] = None
    p_adjusted: Optional[float] = None
    holm_kept: bool = False


def _level(gate: Any) -> str:
    return f"{_fmt(gate.level * 100, 6)}% CI"


def _signed(x: float, percent: bool) -> str:
    if math.isnan(x):
        return "NaN"
    text = _fmt(x * 100, 3) + "%" if percent else _fmt(x)
    return text if x <= 0 else "+" + text


def _subject(c: Check, t: Threshold) -> str:
    features = tuple(sorted(c.slice))
    where = f" on {features_label(features, tuple(c.slice[f] for f in features))}" \
        if features else ""
    prefix = f"model {c.model}: " if c.model != "candidate" else ""
    if c.kind in ("max_gap", "min_ratio") and c.spec:  # across a spec's slices
        what = "gap" if c.kind == "max_gap" else "ratio (min / max)"
        where = f" {what} across [{', '.join(c.spec)}]"
    return f"{prefix}{t.metric}{where}"


def _found(j: Judged) -> str:
    """What was measured, with its interval: "auc fell by 0.004 (95% CI ...) against ..."."""
    c, iv = j.check, j.interval
    subject = _subject(c, j.threshold)
    relative = c.kind == "max_regression_relative"
    if not c.kind.startswith("max_regression"):
        ci = f"{_level(j.gate)} {_fmt(iv['lower'])} to {_fmt(iv['upper'])}"
        return f"{subject} is {_fmt(c.candidate)} ({ci})"
    ci = (f"{_level(j.gate)} {_signed(iv['lower'], relative)} to "
          f"{_signed(iv['upper'], relative)}")
    if c.change == 0:
        return f"{subject} is unchanged ({ci}) against the baseline ({_fmt(c.baseline)})"
    amount = (_pct_pair if relative else _fmt_pair)(abs(c.change), abs(c.threshold))[0]
    verb = "rose" if c.change > 0 else "fell"
    return (f"{subject} {verb} {'' if relative else 'by '}{amount} ({ci}) against the baseline "
            f"({_fmt(c.baseline)} -> {_fmt(c.candidate)})")


def _sides(c: Check) -> tuple:
    """(the allowed side, the wrong side) of the bound, in words."""
    if c.kind == "min":
        b = _fmt(c.threshold)
        return f"at or above the minimum {b}", f"below the minimum {b}"
    if c.kind == "max":
        b = _fmt(c.threshold)
        return f"at or below the maximum {b}", f"above the maximum {b}"
    if c.kind == "min_ratio":
        b = _fmt(c.threshold)
        return f"at or above the required {b}", f"below the required {b}"
    relative = c.kind == "max_regression_relative"
    b = (_pct_pair if relative else _fmt_pair)(abs(c.change or 0.0), abs(c.threshold))[1]
    if c.threshold >= 0:
        return f"within the allowed {b}", f"more than the {b} allowed"
    return (f"meeting the required improvement of at least {b}",
            f"short of the required improvement of {b}")


def sentence(j: Judged) -> str:
    """The check's reason with `confidence` on: the finding, its interval, what it shows."""
    ok, bad = _sides(j.check)
    policy = f"inconclusive; on_inconclusive is {j.gate.on_inconclusive}"
    if math.isnan(j.interval["lower"]) or math.isnan(j.interval["upper"]):
        subject = _subject(j.check, j.threshold)
        return (f"{subject}: its {_level(j.gate)} could not be computed, so the data show it "
                f"neither {ok} nor {bad} ({policy})")
    found = _found(j)
    if j.outcome == PASS:
        return f"{found}: shown to be {ok}"
    family = j.family or {}
    many = (f"the {family.get('size')} slices of [{', '.join(family.get('spec', ()))}]"
            if family else "")
    if j.outcome == FAIL:
        tail = (f", also after Holm's adjustment for {many} (adjusted p = "
                f"{_fmt(j.p_adjusted, 2)})" if j.p_adjusted is not None else "")
        return f"{found}: shown to be {bad}{tail}"
    if j.holm_kept:
        return (f"{found}: not shown to be {bad} once {many} are taken together (Holm-adjusted "
                f"p = {_fmt(j.p_adjusted, 2)}; {policy})")
    shown = ok if j.gate.on_inconclusive == "fail" else bad
    return f"{found}: not shown to be {shown} ({policy})"


def no_interval_reason(c: Check, gate: Any) -> str:
    """The point-value reason of a check whose metric has no interval, saying so."""
    return (f"{c.reason} (no {_level(gate)} for it in the results, so judged on the point "
            f"value)")


__all__ = ["Judged", "no_interval_reason", "sentence"]
