"""The verdict: from the metrics records and the thresholds, whether the candidate may ship, and
why, in words a person can act on.

Rules (the checks themselves: assay.validation.checks):
  - No thresholds: `on_no_thresholds` decides (reject by default).
  - Any failed check: NOT_BLESSED, with every failed check's reason.
  - Otherwise, some check passed: BLESSED (skipped checks are listed in the reasons).
  - Every check skipped because there is no baseline (first model): `first_model` decides
    (bless by default, like TFMA's rubber stamp). Skipped for other reasons: NOT_BLESSED.
  - `force_bless: REASON` blesses whatever the checks say, records REASON and the outcome the
    checks gave, and still lists every check.

Differences from TFMA 0.47.1 (evaluators/metrics_validator.py), on purpose:
  - TFMA's `thresholds` apply to every slice; here a threshold without `slices` applies to the
    overall slice only (use `slices: [[f]]` for every slice of a spec).
  - TFMA divides the change by the signed baseline; here by |baseline|, so a negative baseline
    (r2 < 0) getting worse is a regression. TFMA fails a relative threshold on any zero
    baseline (ratio NaN); here see assay.validation.checks.
  - TFMA compares without tolerance; here with a 1e-9 tolerance.
  - TFMA's cross-slice thresholds bound (baseline slice - comparison slice) per pair; `max_gap`
    bounds the largest difference between any two slices.
  - TFMA's change threshold is signed: HIGHER_IS_BETTER passes when diff >= absolute, so
    `max_regression: a` is TFMA `absolute: -a` for higher-is-better and `absolute: a` for
    lower-is-better (likewise for relative).

Example:
    >>> from assay.config.thresholds import parse_thresholds
    >>> ts = parse_thresholds([{"metric": "auc", "min": 0.7, "max_regression": 0.01}])
    >>> records = [
    ...     {"slice": {}, "model": "candidate", "metrics": {"auc": 0.80}},
    ...     {"slice": {}, "model": "baseline", "metrics": {"auc": 0.82}},
    ... ]
    >>> result = validate(records, ts, ValidationOptions(), has_baseline=True)
    >>> result.blessed, result.reasons
    (False, ['auc fell by 0.02 against the baseline (0.82 -> 0.8), more than the 0.01 allowed'])
"""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from assay.config.section_thresholds import SectionThreshold
from assay.config.thresholds import Threshold
from assay.config.validation import ValidationOptions
from assay.config.values import type_name
from assay.errors import ConfigError
from assay.validation.checks import FAIL, SKIPPED, Check, checks_for
from assay.validation.gate import apply_gate, gate_from, inconclusive_note
from assay.validation.records import RecordIndex

FORMAT_VERSION = 1


class Outcome(str, enum.Enum):
    """Why the verdict is what it is."""

    BLESSED = "BLESSED"                                  # checks ran and all passed
    NOT_BLESSED = "NOT_BLESSED"                          # a check failed
    NO_THRESHOLDS_BLESSED = "NO_THRESHOLDS_BLESSED"      # none configured, on_no_thresholds=bless
    NO_THRESHOLDS_NOT_BLESSED = "NO_THRESHOLDS_NOT_BLESSED"
    FIRST_MODEL_BLESSED = "FIRST_MODEL_BLESSED"          # no baseline, only change thresholds
    FIRST_MODEL_NOT_BLESSED = "FIRST_MODEL_NOT_BLESSED"
    FORCED_BLESSED = "FORCED_BLESSED"                    # force_bless


@dataclasses.dataclass(frozen=True)
class ValidationResult:
    """The verdict, every check and the reasons.

    Attributes:
      blessed: whether the candidate may ship.
      outcome: an Outcome code.
      reasons: the failed checks' reasons, or why the outcome was reached.
      checks: every check, in threshold order.
      forced: the force_bless reason when the verdict was forced.
      unforced_outcome: the outcome the checks gave, when forced.
      confidence: with `confidence` on, what the outcomes and p-values mean (level,
        on_inconclusive, multiplicity: assay.validation.gate.Gate.describe); else None.
    """

    blessed: bool
    outcome: Outcome
    reasons: List[str]
    checks: List[Check]
    forced: Optional[str] = None
    unforced_outcome: Optional[Outcome] = None
    confidence: Optional[Dict[str, Any]] = None

    def to_dict(self) -> Dict[str, Any]:
        out = {"version": FORMAT_VERSION, "blessed": self.blessed, "outcome": self.outcome.value,
               "reasons": list(self.reasons), "forced": self.forced,
               "unforced_outcome": self.unforced_outcome and self.unforced_outcome.value,
               "checks": [c.to_dict() for c in self.checks]}
        if self.confidence is not None:   # without `confidence` the format is unchanged
            out["confidence"] = dict(self.confidence)
        return out

    def to_json(self) -> str:
        """JSON text; NaN and infinities are written as JSON's NaN / Infinity (as results.py)."""
        return json.dumps(self.to_dict(), indent=1, allow_nan=True)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ValidationResult":
        unforced = d.get("unforced_outcome")
        return cls(blessed=bool(d["blessed"]), outcome=Outcome(d["outcome"]),
                   reasons=list(d["reasons"]), checks=[Check.from_dict(c) for c in d["checks"]],
                   forced=d.get("forced"), unforced_outcome=unforced and Outcome(unforced),
                   confidence=d.get("confidence"))

    @classmethod
    def from_json(cls, text: str) -> "ValidationResult":
        return cls.from_dict(json.loads(text))


def _verdict(thresholds: Sequence[Threshold], checks: List[Check], ctx: RecordIndex,
             options: ValidationOptions) -> Tuple[bool, Outcome, List[str]]:
    if not thresholds:
        if options.on_no_thresholds == "bless":
            return True, Outcome.NO_THRESHOLDS_BLESSED, [
                "no thresholds are configured; blessed because on_no_thresholds is bless"]
        return False, Outcome.NO_THRESHOLDS_NOT_BLESSED, [
            "no thresholds are configured, so nothing shows that the model may ship; add "
            "thresholds, or set on_no_thresholds: bless to bless without checks"]
    failed = [c.reason for c in checks if c.status == FAIL]
    if failed:
        return False, Outcome.NOT_BLESSED, list(dict.fromkeys(failed))
    skipped = [c for c in checks if c.status == SKIPPED]
    passed = len(checks) - len(skipped)
    if passed:
        reasons = [f"all {passed} checks passed" if passed > 1 else "the 1 check passed"]
        if skipped:
            reasons.append(f"{len(skipped)} skipped: " + "; ".join(
                dict.fromkeys(c.reason for c in skipped)))
        return True, Outcome.BLESSED, reasons
    if not ctx.baseline_available:
        why = ctx.no_baseline_note
        if options.first_model == "bless":
            return True, Outcome.FIRST_MODEL_BLESSED, [
                f"first model: every threshold compares against a baseline and {why}; blessed "
                f"because first_model is bless"]
        return False, Outcome.FIRST_MODEL_NOT_BLESSED, [
            f"first model: every threshold compares against a baseline and {why}; not blessed "
            f"because first_model is reject"]
    return False, Outcome.NOT_BLESSED, ["no check could be made: " + "; ".join(
        dict.fromkeys(c.reason for c in skipped))]


def validate(records: Sequence[Mapping[str, Any]], thresholds: Sequence[Threshold],
             options: Optional[ValidationOptions], has_baseline: bool,
             baseline_error: Optional[str] = None, confidence: Any = None,
             sections: Optional[Mapping[str, Any]] = None) -> ValidationResult:
    """Checks every threshold against the metrics records and decides the blessing.

    Args:
      records: metrics records, one per (slice, model): {"slice": {feature: value}, "model":
        "candidate" | "baseline" | "diff", "metrics": {name: value}} or, for a slice below
        min_slice_size, "withheld": reason instead of "metrics". "diff" records are not read;
        changes are computed from the candidate and baseline records.
      thresholds: from `parse_thresholds`.
      options: ValidationOptions; the defaults when None.
      has_baseline: whether a baseline model was evaluated (required: defaulting it to False
        would quietly skip every change check).
      baseline_error: why the baseline model could not be evaluated, if it could not.
      confidence: the level of the records' `intervals` (0.95, or the config's `confidence`
        with a `level`): each check is then decided on its interval, and `on_inconclusive`
        decides what straddles its bound (assay.validation.gate). None: on point values.
      sections: the metrics document (assay_metrics.json's content) that SectionThresholds
        (discovered slices, drift...: assay.config.section_thresholds) read; None: only the
        records.

    Returns:
      ValidationResult; never raises for missing data, which becomes a failed check.

    Raises:
      ConfigError: a max_regression on a metric whose direction is still unknown (see
        assay.config.validation.with_declared_directions).

    Example:
        >>> from assay.config.thresholds import parse_thresholds
        >>> ts = parse_thresholds([{"metric": "auc", "slices": [{"region": "north"}], "min": 0.65}])
        >>> recs = [{"slice": {"region": "north"}, "model": "candidate", "metrics": {"auc": 0.612}}]
        >>> validate(recs, ts, ValidationOptions(), has_baseline=False).reasons
        ['auc on slice region=north is 0.612, below the minimum 0.65']
    """
    options = options or ValidationOptions()
    for t in thresholds:
        if isinstance(t, SectionThreshold):
            continue
        if not isinstance(t, Threshold):
            raise TypeError(f"thresholds must be Threshold objects; build them with "
                            f"parse_thresholds (got {t!r}, a {type_name(t)})")
        if t.has_change_bound and t.direction is None:
            raise ConfigError(f"{t.direction_needed()}; with_declared_directions fills in the "
                              f"directions that custom metrics declare")
    ctx = RecordIndex(records, has_baseline, baseline_error, options)
    gate = gate_from(confidence, options.on_inconclusive)
    doc = dict(sections or {})
    doc.setdefault("records", records)
    # The gate reads spread_intervals (assay.metrics.fairness_spread); section thresholds, the gate.
    ctx.sections, ctx.gate = doc, gate
    checks = [c for t in thresholds
              for c in (t.checks(doc, ctx) if isinstance(t, SectionThreshold)
                        else checks_for(t, ctx) if gate is None
                        else apply_gate(t, checks_for(t, ctx), ctx, gate))]
    blessed, outcome, reasons = _verdict(thresholds, checks, ctx, options)
    note = gate and inconclusive_note(checks, gate)
    if note:
        if outcome == Outcome.BLESSED:   # "all 4 checks passed" would hide the inconclusive
            n = sum(1 for c in checks if c.outcome == "inconclusive")
            reasons = [f"{reasons[0]}, {n} of them inconclusive"] + reasons[1:]
        reasons = reasons + [note]
    described = gate and gate.describe()
    if options.force_bless is not None:
        overridden = [] if blessed else [f"overridden: {r}" for r in reasons]
        return ValidationResult(True, Outcome.FORCED_BLESSED,
                                [f"blessed by force_bless: {options.force_bless}"] + overridden,
                                checks, forced=options.force_bless, unforced_outcome=outcome,
                                confidence=described)
    return ValidationResult(blessed, outcome, reasons, checks, confidence=described)


__all__ = ["FORMAT_VERSION", "Outcome", "ValidationResult", "validate"]
