"""Noise-aware gates: with `confidence` on, each check is decided on its confidence interval.

Without `confidence`, a check compares a point value with its bound (assay.validation.checks).
With it, assay_metrics.json holds an interval for every metric of every record
(`"intervals": {metric: {"lower", "upper", "stderr"}}`), and a check compares the interval of
what it bounds with the bound: the model's value for min / max, the change against the baseline
for max_regression (the PAIRED interval of the diff record: candidate and baseline resampled
on the same examples). Every such check has one of three outcomes:
  - pass: the whole interval is on the allowed side of the bound (bounds are inclusive, with
    the checks' 1e-9 tolerance);
  - fail: the whole interval is on the wrong side;
  - inconclusive: the interval straddles the bound; `on_inconclusive` decides: "fail" (the
    default: non-inferiority, bless only what the data show to be within the bounds) or "pass"
    (refuse only what the data show to be beyond them).

p-values are one-sided, from the normal approximation. The standard error is the one the interval
implies on the side of the bound, (estimate - lower) / z or (upper - estimate) / z with z the
normal quantile of the level (this is the record's stderr when the interval is estimate +-
z * stderr); the record's stderr when the interval does not hold the estimate. So a p-value at
most (1 - level) / 2 says exactly what the interval says. `p_value` tests what the policy
tests: with on_inconclusive fail, H0 "the bound is not met" (a small p shows it is met); with
pass, H0 "the bound is met" (a small p shows it is not).

A threshold on every slice of a spec (`slices: [[region]]`) makes one family of checks per spec
and bound:
  - on_inconclusive fail: intersection-union. Every slice must pass on its own, at the level;
    the chance of blessing a candidate that is beyond the bound on any slice is then at most
    (1 - level) / 2 with no adjustment.
  - on_inconclusive pass: Holm's step-down procedure over the family's p-values at the one-sided
    level (1 - level) / 2: a slice fails only when its Holm-adjusted p-value (`p_adjusted`) is at
    most that, so the chance of refusing a candidate that meets the bound on every slice stays
    at most (1 - level) / 2 however many slices there are.
Relative change: the interval of the absolute change divided by |baseline| (the baseline in the
denominator taken as known). max_gap and min_ratio are decided on the interval of the gap or
ratio (assay.metrics.fairness_spread) where the results have one. A check whose metric has no
interval is decided on
the point value as without `confidence`, and say so.

Example:
    >>> from assay.config.thresholds import parse_thresholds
    >>> from assay.validation.verdict import validate, ValidationOptions
    >>> recs = [{"slice": {}, "model": "candidate", "metrics": {"auc": 0.816}},
    ...         {"slice": {}, "model": "baseline", "metrics": {"auc": 0.82}},
    ...         {"slice": {}, "model": "diff", "metrics": {"auc": -0.004}, "intervals":
    ...          {"auc": {"lower": -0.011, "upper": 0.003, "stderr": 0.0036}}}]
    >>> ts = parse_thresholds([{"metric": "auc", "max_regression": 0.002}])
    >>> r = validate(recs, ts, ValidationOptions(), has_baseline=True, confidence=0.95)
    >>> r.blessed, r.checks[0].outcome
    (False, 'inconclusive')
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from assay.config.model_names import diff_name
from assay.config.thresholds import Threshold
from assay.config.values import is_number, type_name
from assay.errors import ConfigError
from assay.metrics.cross_names import is_cross_name
from assay.metrics.registry import LOWER
from assay.validation.checks import FAIL, PASS, SKIPPED, Check, _at_most
from assay.validation.gate_words import Judged, no_interval_reason, sentence
from assay.validation.records import RecordIndex

INCONCLUSIVE = "inconclusive"
HOLM, INTERSECTION_UNION = "holm", "intersection-union"
_NORMAL = statistics.NormalDist()


@dataclasses.dataclass(frozen=True)
class Gate:
    """The level of the intervals and the policy for inconclusive checks.

    Example:
        >>> g = Gate(0.95, "pass")
        >>> round(g.alpha, 3), g.method
        (0.025, 'holm')
    """

    level: float
    on_inconclusive: str = "fail"

    @property
    def alpha(self) -> float:
        """The one-sided level: an interval at `level` leaves (1 - level) / 2 on each side."""
        return (1.0 - self.level) / 2.0

    @property
    def method(self) -> str:
        """How a family of slices is tested: Holm with pass, intersection-union with fail."""
        return HOLM if self.on_inconclusive == "pass" else INTERSECTION_UNION

    def describe(self) -> Dict[str, Any]:
        """The "confidence" member of validation.json: what the outcomes and p-values mean."""
        if self.on_inconclusive == "pass":
            tested = "H0: the bound is met; a small p-value shows it is not"
            family = ("holm: a threshold on every slice of a spec fails a slice only when its "
                      "Holm-adjusted p-value is at most alpha, which keeps the chance of any "
                      "false refusal across the slices at most alpha")
        else:
            tested = "H0: the bound is not met; a small p-value shows it is met"
            family = ("intersection-union: a threshold on every slice of a spec passes only "
                      "when every slice passes on its own at the level")
        return {"level": self.level, "on_inconclusive": self.on_inconclusive,
                "alpha": round(self.alpha, 12), "multiplicity": self.method, "families": family,
                "p_value": f"one-sided, normal approximation with the standard error the "
                           f"interval implies on the bound's side; {tested}"}


def gate_from(confidence: Any, on_inconclusive: str) -> Optional[Gate]:
    """The Gate for `validate`'s `confidence`: None (no gate), a level such as 0.95, a mapping
    with "level", or a config object with a `level` attribute.

    Raises:
      ConfigError: a level that is not a number strictly between 0 and 1.
    """
    if confidence is None:
        return None
    level = confidence
    if isinstance(confidence, Mapping):
        level = confidence.get("level", 0.95)
    elif hasattr(confidence, "level"):
        level = confidence.level
    if not is_number(level) or not 0.0 < float(level) < 1.0:
        raise ConfigError(f"'confidence.level' must be a number between 0 and 1, e.g. 0.95 "
                          f"(got {level!r}, a {type_name(level)})")
    return Gate(float(level), on_inconclusive)


def holm(p_values: Sequence[float]) -> List[float]:
    """Holm's step-down adjusted p-values, in the order given (NaN counts as 1).

    Example:
        >>> holm([0.01, 0.04, 0.03])
        [0.03, 0.06, 0.06]
    """
    p = [1.0 if math.isnan(x) else min(1.0, max(0.0, x)) for x in p_values]
    m, running, out = len(p), 0.0, [1.0] * len(p)
    for rank, i in enumerate(sorted(range(m), key=lambda j: p[j])):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def _float(value: Any) -> float:
    if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
        return float(value)
    return float(value) if is_number(value) else math.nan


def interval_of(record: Mapping[str, Any], metric: str) -> Optional[Tuple[float, float, float]]:
    """(lower, upper, stderr) of a metric in a record, NaN where unknown; None when the record
    has no interval for it. Reads {"lower", "upper", "stderr"} and [lower, upper]."""
    intervals = record.get("intervals")
    if not isinstance(intervals, Mapping) or metric not in intervals:
        return None
    iv = intervals[metric]
    if isinstance(iv, Mapping):
        return _float(iv.get("lower")), _float(iv.get("upper")), _float(iv.get("stderr"))
    if isinstance(iv, (list, tuple)) and len(iv) == 2:
        return _float(iv[0]), _float(iv[1]), math.nan
    return None


def one_sided_p(distance: float, se: float, fallback_se: float) -> float:
    """P(Z >= distance / se): small when the estimate is `distance` beyond the bound on the side
    the test looks for. `fallback_se` (the stderr) when `se` is not a positive number."""
    if not (se > 0 and math.isfinite(se)):
        se = fallback_se
    if math.isnan(distance) or math.isnan(se) or se < 0:
        return math.nan
    if se == 0:                    # no spread at all: the estimate is the value
        return 0.0 if distance > 0 else 1.0
    return _NORMAL.cdf(-distance / se)


def _natural_interval(c: Check, t: Threshold, ctx: RecordIndex) -> Optional[Tuple[float, ...]]:
    """(lower, upper, stderr) of what the check compares, in the check's unit, or None."""
    if c.kind in SPREAD_KINDS:  # a gap or ratio across slices: its bootstrap interval
        from assay.metrics.fairness_spread import spread_interval
        return spread_interval(getattr(ctx, "sections", None) or {}, c.model, t.metric, c.kind,
                               c.spec or ())
    change = c.kind.startswith("max_regression")
    model = diff_name(c.model) if change or is_cross_name(t.metric) else c.model
    s = ctx.find(model, c.slice)
    found = None if s is None or "withheld" in s.record else interval_of(s.record, t.metric)
    if found is None or c.kind != "max_regression_relative":
        return found
    if not c.baseline:             # a zero baseline: the relative change has no interval
        return None
    return tuple(x / abs(c.baseline) for x in found)


# Checks across a spec's slices: decided on their own interval (assay.metrics.fairness_spread).
SPREAD_KINDS = ("max_gap", "min_ratio")


def _has_values(c: Check) -> bool:
    """Whether the check compared values (not skipped, nothing missing)."""
    change = c.kind.startswith("max_regression")
    estimate = c.change if change else c.candidate
    return (c.status != SKIPPED and estimate is not None
            and not math.isnan(estimate) and not (change and c.baseline is None))


def judge(c: Check, t: Threshold, ctx: RecordIndex, gate: Gate) -> Optional[Judged]:
    """The check's quantity, interval and p-values, oriented so that it passes when q <= bound;
    None when the check has no statistical decision (skipped, missing data, max_gap, no
    interval)."""
    change = c.kind.startswith("max_regression")
    estimate = c.change if change else c.candidate
    if not _has_values(c) or math.isinf(estimate):
        return None
    natural = _natural_interval(c, t, ctx)
    if natural is None:
        return None
    lo, hi, stderr = natural
    at_least = c.kind in ("min", "min_ratio")
    sign = -1.0 if at_least or (change and t.direction != LOWER) else 1.0
    # Oriented so that the check passes when q <= bound: q is the value for max and max_gap,
    # minus the value for min and min_ratio (against minus the bound), the regression for
    # max_regression.
    q, bound = sign * estimate, -c.threshold if at_least else c.threshold
    q_lo, q_hi = sorted((sign * lo, sign * hi)) if not (math.isnan(lo) or math.isnan(hi)) \
        else (math.nan, math.nan)
    z = _NORMAL.inv_cdf(0.5 + gate.level / 2)
    p_met = one_sided_p(bound - q, (q_hi - q) / z, stderr)      # H0: the bound is not met
    p_not_met = one_sided_p(q - bound, (q - q_lo) / z, stderr)  # H0: the bound is met
    if math.isnan(q_lo):
        outcome = INCONCLUSIVE
    elif _at_most(q_hi, bound):
        outcome = PASS
    elif not _at_most(q_lo, bound):
        outcome = FAIL
    else:
        outcome = INCONCLUSIVE
    return Judged(c, t, gate, {"lower": lo, "upper": hi, "stderr": stderr}, outcome,
                  p_met, p_not_met)


def _families(t: Threshold, checks: Sequence[Check]) -> Dict[int, Tuple[str, Tuple[str, ...]]]:
    """{check index: (kind, spec features)} for the checks of a threshold on every slice of a
    spec: each (kind, spec) is one family."""
    specs = {sel.features for sel in t.slices if sel.every_slice}
    return {i: (c.kind, tuple(sorted(c.slice))) for i, c in enumerate(checks)
            if c.spec is None and c.kind not in SPREAD_KINDS and c.status != SKIPPED
            and tuple(sorted(c.slice)) in specs}


def _apply_holm(judged: List[Optional[Judged]],
                families: Mapping[int, Tuple[str, Tuple[str, ...]]], gate: Gate) -> None:
    """Sets each family member's adjusted p-value and, with Holm, its outcome."""
    groups: Dict[Tuple[str, Tuple[str, ...]], List[int]] = {}
    for i, key in families.items():
        groups.setdefault(key, []).append(i)
    for (_, spec), members in groups.items():
        family = {"method": gate.method, "spec": list(spec), "size": len(members)}
        p = [judged[i].p_not_met if judged[i] is not None else math.nan for i in members]
        adjusted = holm(p) if gate.method == HOLM else [None] * len(members)
        for i, p_adj in zip(members, adjusted):
            if judged[i] is None:
                continue
            judged[i].family, judged[i].p_adjusted = family, p_adj
            if gate.method == HOLM and judged[i].outcome == FAIL and p_adj > gate.alpha:
                judged[i].outcome, judged[i].holm_kept = INCONCLUSIVE, True


def _finite(x: Optional[float]) -> Optional[float]:
    """None for what is not a finite number: validation.json writes null, not NaN."""
    return x if x is not None and math.isfinite(x) else None


def _status(outcome: str, gate: Gate) -> str:
    if outcome == INCONCLUSIVE:
        return PASS if gate.on_inconclusive == "pass" else FAIL
    return outcome


def apply_gate(t: Threshold, checks: List[Check], ctx: RecordIndex, gate: Gate) -> List[Check]:
    """The checks of one threshold decided on their intervals (see the module docstring)."""
    judged = [judge(c, t, ctx, gate) for c in checks]
    _apply_holm(judged, _families(t, checks), gate)
    out = []
    for c, j in zip(checks, judged):
        if j is None:
            reason = no_interval_reason(c, gate) if _has_values(c) else c.reason
            out.append(dataclasses.replace(c, outcome=c.status, reason=reason))
            continue
        out.append(dataclasses.replace(
            c, status=_status(j.outcome, gate), outcome=j.outcome, reason=sentence(j),
            interval={k: _finite(v) for k, v in j.interval.items()}, family=j.family,
            p_adjusted=_finite(j.p_adjusted),
            p_value=_finite(j.p_not_met if gate.on_inconclusive == "pass" else j.p_met)))
    return out


def inconclusive_note(checks: Sequence[Check], gate: Gate) -> Optional[str]:
    """With on_inconclusive pass, the reason that lists the inconclusive checks it passed."""
    passed = [c.reason for c in checks if c.outcome == INCONCLUSIVE and c.status == PASS]
    if not passed:
        return None
    n = len(passed)
    return (f"{n} inconclusive check{'s' * (n != 1)} passed because on_inconclusive is pass: "
            + "; ".join(dict.fromkeys(passed)))


__all__ = ["Gate", "HOLM", "INCONCLUSIVE", "INTERSECTION_UNION", "apply_gate", "gate_from",
           "holm", "inconclusive_note", "interval_of", "judge", "one_sided_p"]
