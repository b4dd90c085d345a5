"""Drift thresholds: bounds on the "drift" section (assay.config.section_thresholds).

    thresholds:
      - {drift: feature, feature: amount, max_psi: 0.2}
      - {drift: prediction, max_js: 0.1}                  # model: candidate by default
      - {drift: label, max_ks: 0.1, min_p: 0.01, slices: [[region]]}

Bounds: max_psi, max_js, max_ks (the two-sample statistic: KS for numeric columns,
chi-square for categorical ones) and min_p (its p-value; a p-value below it fails). `slices`:
as for metric thresholds (a list of feature names: every slice of that spec; a mapping: one
slice); the overall slice by default. A missing reference, slice or column is a failed check
whose reason says which and why.
"""

from __future__ import annotations

import dataclasses
from typing import Any, List, Mapping, Tuple

from assay.config.section_thresholds import SectionThreshold
from assay.config.thresholds import OVERALL_SLICE, SliceSelector
from assay.config.values import check_keys, choice, expect, number
from assay.errors import ConfigError
from assay.results.slices import slice_label, values_match
from assay.validation.checks import FAIL, PASS, Check

COLUMNS = ("feature", "prediction", "label")
# bound key -> (the statistic in the section, at most (True) or at least, its words)
BOUNDS = {"max_psi": ("psi", True, "PSI"), "max_js": ("js", True, "JS distance"),
          "max_ks": ("statistic", True, "two-sample statistic"),
          "min_p": ("p_value", False, "two-sample p-value")}
_TOL = 1e-9


@dataclasses.dataclass(frozen=True)
class DriftThreshold(SectionThreshold):
    """A bound on drift statistics of one column on some slices."""

    column: str = "feature"
    name: str = ""
    bounds_: Tuple[Tuple[str, float], ...] = ()
    slices: Tuple[SliceSelector, ...] = (OVERALL_SLICE,)

    def _subject(self) -> str:
        if self.column == "feature":
            return f"feature {self.name}"
        return f"{self.name}'s predictions" if self.column == "prediction" else "the label"

    def checks(self, doc: Mapping[str, Any], ctx: Any = None) -> List[Check]:
        section = doc.get("drift") or {}
        first_kind = self.bounds_[0][0]
        if not section.get("columns") and (section.get("error") or "columns" not in section):
            why = section.get("error") or ("no reference to compare with: give 'reference:' "
                                           "(an earlier results directory, latest-blessed or "
                                           "previous)")
            return [Check(f"drift {self._subject()}", first_kind, {}, self.bounds_[0][1], FAIL,
                          f"drift of {self._subject()}: {why}", model=self.model)]
        rows = [r for r in section["columns"]
                if r["column"] == self.column and r["name"] == self.name]
        out: List[Check] = []
        for selector in self.slices:
            chosen = [r for r in rows if _selected(selector, r["slice"])]
            if not chosen:
                out.append(Check(f"drift {self._subject()}", first_kind, {}, self.bounds_[0][1],
                                 FAIL, f"drift of {self._subject()} on {selector.label}: not "
                                       f"in the drift section (not sketched here or in the "
                                       f"reference)", model=self.model))
                continue
            for row in chosen:
                out += [self._check(row, kind, bound) for kind, bound in self.bounds_]
        return out

    def _check(self, row: Mapping[str, Any], kind: str, bound: float) -> Check:
        stat, at_most, words = BOUNDS[kind]
        value = row.get(stat)
        where = slice_label(row["slice"])
        metric = f"drift {self._subject()}"
        if value is None:
            why = (row.get("undefined") or {}).get(stat, "not computed")
            return Check(metric, kind, dict(row["slice"]), bound, FAIL,
                         f"{words} of {self._subject()} on {where} is undefined: {why}",
                         model=self.model)
        ok = (value <= bound + _TOL * max(1, abs(bound)) if at_most
              else value >= bound - _TOL * max(1, abs(bound)))
        relation = ("<=" if ok else ">") if at_most else (">=" if ok else "<")
        test = f" ({row.get('test')})" if stat in ("statistic", "p_value") else ""
        return Check(metric, kind, dict(row["slice"]), bound, PASS if ok else FAIL,
                     f"{words}{test} of {self._subject()} on {where}: {value:.4g} {relation} "
                     f"{bound:g}", candidate=float(value), model=self.model)


def _selected(selector: SliceSelector, slice_: Mapping[str, Any]) -> bool:
    if tuple(sorted(slice_)) != selector.features:
        return False
    if selector.values is None:
        return True
    return all(values_match(v, slice_[f]) for f, v in zip(selector.features, selector.values))


def parse_threshold(item: Mapping[str, Any]) -> DriftThreshold:
    """The DriftThreshold of a `{drift: ...}` threshold mapping; ConfigError when wrong."""
    where = f"thresholds: {{drift: {item.get('drift')!r}, ...}}"
    check_keys(item, ("drift", "feature", "model", "slices", *BOUNDS), where)
    column = choice(item["drift"], COLUMNS, "drift")
    if column == "feature":
        if item.get("feature") is None:
            raise ConfigError(f"{where}: 'feature' names the feature whose drift is bounded "
                              f"(e.g. {{drift: feature, feature: amount, max_psi: 0.2}})")
        name = expect(item["feature"], (str,), "a feature name", "feature")
    elif item.get("feature") is not None:
        raise ConfigError(f"{where}: 'feature' is for drift: feature only")
    else:
        name = "label" if column == "label" else expect(item.get("model", "candidate"), (str,),
                                                        "a model name", "model")
    bounds = tuple((k, number(item[k], k)) for k in BOUNDS if item.get(k) is not None)
    if not bounds:
        raise ConfigError(f"{where}: give at least one bound: {', '.join(BOUNDS)}")
    for k, v in bounds:
        if v < 0 or (k == "min_p" and v > 1):
            raise ConfigError(f"{where}: '{k}' must be {'in [0, 1]' if k == 'min_p' else '>= 0'}"
                              f" (got {v!r})")
    slices = item.get("slices")
    selectors = (OVERALL_SLICE,) if slices is None else tuple(
        SliceSelector.parse(s) for s in expect(slices, (list, tuple), "a list of slices",
                                               "slices"))
    return DriftThreshold(metric=f"drift {column}", config=dict(item),
                          model=name if column == "prediction" else "candidate",
                          column=column, name=name, bounds_=bounds,
                          slices=selectors or (OVERALL_SLICE,))


parse_threshold.json_schema = {"type": "object", "required": ["drift"]}

__all__ = ["BOUNDS", "COLUMNS", "DriftThreshold", "parse_threshold"]
