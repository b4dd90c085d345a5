"""Gates on perturbations: a bound on what a perturbation does to the candidate.

    thresholds:
      - {perturbation: gender_swap, metric: flip_rate@0.5, max: 0.01}
      - {perturbation: amount_noise, metric: auc, max_regression: 0.01}
      - {perturbation: amount_noise, metric: auc, min: 0.7, slices: [[region]]}

`metric` is either a paired metric of the perturbation against the unperturbed candidate
(flip_rate@t, neg_to_pos_flip_rate@t, pos_to_neg_flip_rate@t, mean_absolute_prediction_change:
read from the "perturbed_diff:NAME" record) bounded by `min` / `max`, or a metric of the
candidate on the perturbed examples (read from "perturbed:NAME"), bounded by `min` / `max` or
by `max_regression`: how much worse it is than the unperturbed candidate's on the same slice
(candidate - perturbed for a metric where higher is better, perturbed - candidate where lower
is), in the metric's unit. `slices` (default: the overall slice) takes the selectors metric
thresholds take: [feature, ...] for every slice of a spec, {feature: value} for one slice.
"""

from __future__ import annotations

import dataclasses
from typing import Any, List, Mapping, Optional, Tuple

from assay.config import values
from assay.config.section_thresholds import SectionThreshold
from assay.config.thresholds import OVERALL_SLICE, SliceSelector
from assay.errors import ConfigError
from assay.metrics.cross_names import is_cross_name, parse_cross_name
from assay.validation.checks import FAIL, PASS, Check, _fmt

KEYS = ("perturbation", "metric", "min", "max", "max_regression", "slices")
MEAN_ABSOLUTE_CHANGE = "mean_absolute_prediction_change"  # assay.perturb.scoring's name


def is_paired_metric(metric: str) -> bool:
    """Whether `metric` is read from the paired record (flip rates, prediction change)."""
    return metric == MEAN_ABSOLUTE_CHANGE or is_cross_name(metric)


@dataclasses.dataclass(frozen=True)
class PerturbationThreshold(SectionThreshold):
    """A bound on a perturbation (module docstring).

    Attributes:
      perturbation: the perturbation's name.
      kind: "min", "max" or "max_regression".
      bound: the bound.
      better: "higher" or "lower", the better direction (max_regression only).
      slices: the slices checked.
    """

    perturbation: str = ""
    kind: str = "max"
    bound: float = 0.0
    better: Optional[str] = None
    slices: Tuple[SliceSelector, ...] = (OVERALL_SLICE,)

    def checks(self, doc: Mapping[str, Any], ctx: Any = None) -> List[Check]:
        model = "perturbed:" + self.perturbation
        paired = "perturbed_diff:" + self.perturbation
        records = doc.get("records") or []
        if not any(r.get("model") == model for r in records):
            return [self._check({}, FAIL, f"{self._what()}: the result has no perturbation "
                                          f"named '{self.perturbation}'; add it to "
                                          f"`perturbations:`")]
        index = {(r.get("model"), tuple(sorted(r["slice"].items()))): r for r in records}
        out = []
        for selector in self.slices:
            keys = _matching(index, selector, model)
            if not keys:
                out.append(self._check(selector.to_config() if selector.values is not None
                                       else {}, FAIL, f"{self._what()}: no {selector.label} "
                                       f"in the result"))
            for key in keys:
                out.append(self._slice(index, key, model, paired))
        return out

    def _slice(self, index, key, model: str, paired: str) -> Check:
        where = dict(key)
        label = ", ".join(f"{k}={v}" for k, v in key) or "overall"
        own = index.get((model, key), {})
        if "withheld" in own:
            return self._check(where, FAIL, f"{self._what()} on slice {label}: {own['withheld']}")
        source = index.get((paired, key), {}) if is_paired_metric(self.metric) else own
        value = (source.get("metrics") or {}).get(self.metric)
        base = ((index.get(("candidate", key), {}).get("metrics") or {}).get(self.metric)
                if not is_paired_metric(self.metric) else None)
        if not isinstance(value, (int, float)) or (self.kind == "max_regression"
                                                   and not isinstance(base, (int, float))):
            return self._check(where, FAIL, f"{self._what()} on slice {label}: the value is "
                                            f"undefined", None, base)
        if self.kind == "max_regression":
            change = base - value if self.better == "higher" else value - base
            ok = change <= self.bound
            said = (f"{self._what()} on slice {label}: {_fmt(value)} against the candidate's "
                    f"{_fmt(base)}, a regression of {_fmt(change)}, "
                    f"{'within' if ok else 'above'} max_regression {_fmt(self.bound)}")
            return self._check(where, PASS if ok else FAIL, said, value, base, change)
        ok = value <= self.bound if self.kind == "max" else value >= self.bound
        rule = ("within" if ok else "above") if self.kind == "max" else \
            ("within" if ok else "below")
        said = f"{self._what()} on slice {label} is {_fmt(value)}, {rule} {self.kind} " \
               f"{_fmt(self.bound)}"
        return self._check(where, PASS if ok else FAIL, said, value, base)

    def _what(self) -> str:
        return f"{self.metric} under perturbation {self.perturbation}"

    def _check(self, where, status, reason, value=None, base=None, change=None) -> Check:
        return Check(f"{self.metric} (perturbation {self.perturbation})", self.kind, where,
                     self.bound, status, reason, value, base, change,
                     model="perturbed:" + self.perturbation)


def _matching(index, selector: SliceSelector, model: str) -> List[Tuple[Tuple[str, Any], ...]]:
    """The slice keys of `model`'s records that the selector picks, in record order."""
    out = []
    for (m, key) in index:
        if m != model:
            continue
        features = tuple(k for k, _ in key)
        if features != selector.features:
            continue
        if selector.values is None or tuple(v for _, v in key) == selector.values:
            out.append(key)
    return out


def parse_threshold(raw: Mapping[str, Any]) -> PerturbationThreshold:
    """The threshold of a `{perturbation: NAME, metric: M, max | min | max_regression: x}`.

    Raises:
      ConfigError: a missing or unknown key, two bounds, a bound that is not a number, or
        max_regression on a metric with no better direction.
    """
    from assay.metrics.registry import metric_direction

    values.check_keys(raw, KEYS, "a perturbation threshold")
    name = values.expect(raw.get("perturbation"), (str,), "a perturbation's name",
                         "thresholds[].perturbation")
    if "metric" not in raw:
        raise ConfigError(f"threshold {{perturbation: {name}}} needs 'metric', e.g. "
                          f"flip_rate@0.5 or auc")
    metric = values.expect(raw["metric"], (str,), "a metric name", "thresholds[].metric")
    if is_cross_name(metric):
        parse_cross_name(metric)
    bounds = [k for k in ("min", "max", "max_regression") if k in raw]
    if len(bounds) != 1:
        raise ConfigError(f"threshold {{perturbation: {name}, metric: {metric}}} takes exactly "
                          f"one of min, max, max_regression (got {', '.join(bounds) or 'none'})")
    kind = bounds[0]
    bound = values.number(raw[kind], f"thresholds[].{kind}")
    direction = None
    if kind == "max_regression":
        if is_paired_metric(metric):
            raise ConfigError(f"max_regression compares a metric with the unperturbed "
                              f"candidate's; {metric} is already a comparison: bound it with "
                              f"max (e.g. {{perturbation: {name}, metric: {metric}, max: 0.01}})")
        direction = metric_direction(metric)
        if direction is None:
            raise ConfigError(f"max_regression on {metric}: assay does not know whether a "
                              f"higher or a lower {metric} is better; bound it with min or max")
        if bound < 0:
            raise ConfigError(f"'thresholds[].max_regression' must be >= 0 (got {bound!r})")
    slices = (OVERALL_SLICE,)
    if raw.get("slices") is not None:
        values.expect(raw["slices"], (list, tuple), "a list of slice selectors",
                      "thresholds[].slices")
        slices = tuple(SliceSelector.parse(s) for s in raw["slices"]) or (OVERALL_SLICE,)
    return PerturbationThreshold(metric=metric, config=dict(raw), perturbation=name, kind=kind,
                                 bound=bound, better=direction, slices=slices)


__all__ = ["PerturbationThreshold", "is_paired_metric", "parse_threshold"]


parse_threshold.json_schema = {  # type: ignore[attr-defined]
    "type": "object", "required": ["perturbation", "metric"], "additionalProperties": False,
    "properties": {
        "perturbation": {"type": "string"}, "metric": {"type": "string"},
        "min": {"type": "number"}, "max": {"type": "number"},
        "max_regression": {"type": "number", "minimum": 0},
        "slices": {"type": "array", "items": {"anyOf": [
            {"type": "array", "items": {"type": "string"}}, {"type": "object"}]}}},
    "oneOf": [{"required": [k]} for k in ("min", "max", "max_regression")],
}
