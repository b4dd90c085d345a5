"""Thresholds on the fairness section's group metrics (assay.metrics.group_fairness).

    thresholds:
      - {metric: equalized_odds_difference@0.5, across: [race], max: 0.1}
      - {metric: demographic_parity_ratio@0.5, across: [gender], min: 0.8}
      - {metric: demographic_parity_difference@0.5, across: [gender], max: 0.05,
         method: to_reference}                # default: between_groups

`across` names a group of `fairness.groups` (its features, in any order); the value checked is
assay_metrics.json's fairness.group_metrics[model][group][method][metric]. The reason names the
group's slices with the lowest and highest rate behind the value (positive rate for demographic
parity; for equalized odds whichever of TPR and FPR is further apart).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, List, Mapping, Optional, Tuple

from assay.config.section_thresholds import SectionThreshold
from assay.config.values import check_keys, expect, number
from assay.errors import ConfigError
from assay.metrics.fairness_names import indicator_name

GROUP_METRIC_NAMES = ("demographic_parity_difference", "demographic_parity_ratio",
                      "equalized_odds_difference", "equalized_odds_ratio")
METHODS = ("between_groups", "to_reference")
KEYS = ("metric", "across", "min", "max", "method", "model")


@dataclasses.dataclass(frozen=True)
class GroupMetricThreshold(SectionThreshold):
    """min / max on one group metric of the fairness section.

    Attributes:
      across: the group's features, sorted.
      min, max: inclusive bounds (at least one).
      method: "between_groups" or "to_reference".
      rate_metric: the metric's name before "@"; threshold: the decision threshold text.
    """

    across: Tuple[str, ...] = ()
    min: Optional[float] = None
    max: Optional[float] = None
    method: str = "between_groups"

    @property
    def base(self) -> str:
        return self.metric.partition("@")[0]

    @property
    def at(self) -> str:
        return self.metric.partition("@")[2]

    def limits(self) -> list:
        """[(kind, bound)] of min / max (bounds() stays [], as every SectionThreshold's: the
        per-slice machinery, TFMA's validation export among it, has nothing to do here)."""
        return [(k, getattr(self, k)) for k in ("min", "max") if getattr(self, k) is not None]

    def checks(self, doc: Mapping[str, Any], ctx: Any = None) -> List[Any]:
        from assay.validation.checks import FAIL, PASS, Check, _at_least, _at_most, _fmt_pair

        spec = f"[{', '.join(self.across)}]"
        value, problem = self._value(doc)
        out = []
        for kind, bound in self.limits():
            if problem is not None:
                out.append(Check(self.metric, kind, {}, bound, FAIL, problem, None,
                                 spec=self.across, model=self.model))
                continue
            ok = _at_least(value, bound) if kind == "min" else _at_most(value, bound)
            amount, allowed = _fmt_pair(value, bound)
            word = ("at least" if ok else "below") if kind == "min" else \
                ("at most" if ok else "above")
            reason = (f"{self.metric} ({self.method.replace('_', ' ')}) across {spec} is "
                      f"{amount}, {word} the {'minimum' if kind == 'min' else 'maximum'} "
                      f"{allowed}{self._extremes(doc)}")
            check = Check(self.metric, kind, {}, bound, PASS if ok else FAIL, reason, value,
                          change=value, spec=self.across, model=self.model)
            out.append(self._gated(check, doc, getattr(ctx, "gate", None)))
        return out

    def _gated(self, check: Any, doc: Mapping[str, Any], gate: Any) -> Any:
        """With `confidence:` on, the check decided on the group metric's interval (the
        fairness section's, assay.metrics.fairness_spread): pass when it lies wholly on the
        allowed side of the bound, fail when wholly beyond it, else inconclusive (decided by
        on_inconclusive); without an interval, on the point value, saying so."""
        if gate is None:
            return check
        from assay.validation.checks import _at_least, _at_most, _fmt

        iv = self._interval_of(doc)
        if iv is None:
            return dataclasses.replace(check, outcome=check.status, reason=(
                f"{check.reason} (no interval for it in the results, so judged on the point "
                f"value)"))
        lower, upper = iv
        allowed = _at_least if check.kind == "min" else _at_most
        if allowed(lower, check.threshold) and allowed(upper, check.threshold):
            outcome = "pass"
        elif not allowed(lower, check.threshold) and not allowed(upper, check.threshold):
            outcome = "fail"
        else:
            outcome = "inconclusive"
        status = outcome if outcome != "inconclusive" else (
            "pass" if gate.on_inconclusive == "pass" else "fail")
        level = f"{_fmt(gate.level * 100, 6)}% CI {_fmt(lower)} to {_fmt(upper)}"
        shown = {"pass": "shown to meet the bound", "fail": "shown not to meet the bound",
                 "inconclusive": f"inconclusive; on_inconclusive is {gate.on_inconclusive}"}
        return dataclasses.replace(check, status=status, outcome=outcome,
                                   interval={"lower": lower, "upper": upper, "stderr": None},
                                   reason=f"{check.reason} ({level}: {shown[outcome]})")

    def _interval_of(self, doc: Mapping[str, Any]) -> Optional[Tuple[float, float]]:
        intervals = ((doc.get("fairness") or {}).get("intervals") or {}).get(self.model, {})
        name = next((g for g in intervals if sorted(g.split(" x ")) == list(self.across)), None)
        iv = ((intervals.get(name) or {}).get(self.method) or {}).get(self.metric) if name \
            else None
        if not iv or iv.get("lower") is None or iv.get("upper") is None:
            return None
        return float(iv["lower"]), float(iv["upper"])

    def _value(self, doc: Mapping[str, Any]) -> Tuple[float, Optional[str]]:
        """(the group metric's value, None) or (NaN, why it cannot be checked)."""
        section = doc.get("fairness")
        if not section:
            return math.nan, (f"{self.metric}: the results have no fairness section (a "
                              f"binary task with 'fairness:' in the config writes it)")
        groups = (section.get("group_metrics") or {}).get(self.model, {})
        name = next((g for g in groups if sorted(g.split(" x ")) == list(self.across)), None)
        if name is None:
            return math.nan, (f"{self.metric}: no fairness group [{', '.join(self.across)}] "
                              f"in the results (groups: {', '.join(groups) or 'none'})")
        values = groups[name].get(self.method, {})
        if self.metric not in values:
            return math.nan, (f"{self.metric}: not among the group metrics of [{name}] (it "
                              f"has: {', '.join(values) or 'none'}); is {self.at} among "
                              f"fairness.thresholds, and does the config have a label?")
        value = values[self.metric]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return math.nan, (f"{self.metric} across [{name}] could not be computed (a rate's "
                              f"denominator is 0 in some group)")
        return float(value), None

    def _extremes(self, doc: Mapping[str, Any]) -> str:
        """' (positive_rate@0.5: lowest 0.31 on sex=F, highest 0.52 on sex=M)', or ''."""
        rates = ("positive_rate",) if self.base.startswith("demographic") else \
            ("true_positive_rate", "false_positive_rate")
        best: Optional[Tuple[float, str, Tuple[float, str], Tuple[float, str]]] = None
        for rate in rates:
            key = indicator_name(rate, float(self.at))
            found = [(float(r["metrics"][key]), r["slice"]) for r in doc.get("records", ())
                     if r.get("model") == self.model and sorted(r.get("slice", {})) ==
                     list(self.across) and isinstance(r.get("metrics", {}).get(key), float)
                     and not math.isnan(r["metrics"][key])]
            if len(found) < 2:
                continue
            low, high = min(found, key=lambda p: p[0]), max(found, key=lambda p: p[0])
            spread = high[0] - low[0]
            if best is None or spread > best[0]:
                best = (spread, rate, low, high)
        if best is None:
            return ""

        def label(s: Mapping[str, Any]) -> str:
            return ", ".join(f"{k}={v}" for k, v in s.items())

        _, rate, low, high = best
        return (f" ({rate}@{self.at}: lowest {low[0]:.4g} on {label(low[1])}, highest "
                f"{high[0]:.4g} on {label(high[1])})")


def parse_threshold(item: Mapping[str, Any]) -> GroupMetricThreshold:
    """A GroupMetricThreshold from {metric: NAME@t, across: [features], min / max, method}."""
    check_keys(item, KEYS, "this fairness threshold")
    metric = expect(item.get("metric"), (str,), "a group metric such as "
                    "equalized_odds_difference@0.5", "metric")
    base, at, t = metric.partition("@")
    if base not in GROUP_METRIC_NAMES or not at:
        raise ConfigError(f"a threshold with 'across' bounds a fairness group metric, one of "
                          f"{', '.join(n + '@t' for n in GROUP_METRIC_NAMES)} (got {metric!r}); "
                          f"for a metric's spread across slices use max_gap or min_ratio")
    threshold = number(_float(t, metric), "the threshold after '@'")
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"{metric}: the decision threshold must lie in [0, 1]")
    across = item.get("across")
    if isinstance(across, str) or not isinstance(across, (list, tuple)) or not across:
        raise ConfigError(f"'across' must be a non-empty list of features naming a fairness "
                          f"group, e.g. [race] (got {across!r})")
    kw: Dict[str, Any] = {"metric": metric, "across": tuple(sorted(str(a) for a in across)),
                          "config": dict(item)}
    for key in ("min", "max"):
        if item.get(key) is not None:
            kw[key] = number(item[key], key)
    if "min" not in kw and "max" not in kw:
        raise ConfigError(f"the threshold on {metric} has no bound; give min or max")
    if "method" in item:
        if item["method"] not in METHODS:
            raise ConfigError(f"'method' must be one of {', '.join(METHODS)} "
                              f"(got {item['method']!r})")
        kw["method"] = item["method"]
    if "model" in item:
        kw["model"] = expect(item["model"], (str,), "a model name", "model")
    return GroupMetricThreshold(**kw)


def _float(text: str, metric: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"{metric}: the text after '@' must be a decision threshold such as "
                          f"0.5") from None


__all__ = ["GROUP_METRIC_NAMES", "GroupMetricThreshold", "METHODS", "parse_threshold"]
