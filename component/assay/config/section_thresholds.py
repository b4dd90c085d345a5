"""Thresholds on the sections of a result that are not per-slice metric records.

Most thresholds bound a metric on slices (assay.config.thresholds). Some features write a
section of their own into assay_metrics.json (the discovered weak slices, drift against a
reference, the history of earlier evaluations...) and gate on it with thresholds of their own
shape, told apart by one key:

    thresholds:
      - {discovered: regression, max_regression: 0.02}     # assay.discovery.thresholds
      - {drift: feature, feature: amount, max_psi: 0.2}   # assay.drift.thresholds
      - {perturbation: gender_swap, metric: flip_rate@0.5, max: 0.01}

SECTION_KINDS maps that key to the module that parses it (imported only when a config uses
it). A parser takes the threshold's mapping and returns a SectionThreshold; its `checks`
reads the evaluation's metrics document (assay_metrics.json: "records" and every section) and
returns assay.validation.checks.Check objects, which the verdict treats like any other.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Mapping, Optional

from assay.errors import ConfigError
from assay.lazy import load

# The key that marks a threshold kind -> "module:function" parsing it (a mapping -> a
# SectionThreshold). The first key of this table found in a threshold decides its kind.
SECTION_KINDS: Dict[str, str] = {
    "discovered": "assay.discovery.thresholds:parse_threshold",
    "drift": "assay.drift.thresholds:parse_threshold",
    "perturbation": "assay.perturb.thresholds:parse_threshold",
    "max_regression_from": "assay.history.thresholds:parse_threshold",
    "across": "assay.metrics.fairness_thresholds:parse_threshold",
}


@dataclasses.dataclass(frozen=True)
class SectionThreshold:
    """Base of the thresholds on a result's sections. Subclasses are frozen dataclasses too.

    Attributes:
      metric: what is bounded, in the words of the checks (e.g. "psi", "discovered regression").
      model: the model it bounds (checks of other config parts read it).
      config: the threshold as the config wrote it (written back to config.json).
    """

    metric: str
    config: Mapping[str, Any] = dataclasses.field(default_factory=dict, compare=False)
    model: str = "candidate"

    # What the rest of validation asks of any threshold (assay.config.thresholds.Threshold).
    direction = None
    undeclared_ok = False
    has_change_bound = False
    max_gap = None

    def bounds(self) -> list:
        return []

    def checks(self, doc: Mapping[str, Any], ctx: Any = None) -> List[Any]:
        """The checks of this threshold on the metrics document `doc` (assay_metrics.json's
        content: "records", and the sections). ctx: the validation's RecordIndex (records by
        model and slice). Missing data is a failed check with a reason, never an exception."""
        raise NotImplementedError

    def to_config(self) -> Dict[str, Any]:
        return dict(self.config)


def metric_thresholds(thresholds) -> list:
    """The thresholds that bound metrics on slices (not SectionThresholds)."""
    return [t for t in thresholds if not isinstance(t, SectionThreshold)]


def section_kind(item: Any) -> Optional[str]:
    """The SECTION_KINDS key of a threshold mapping, or None for a metric threshold."""
    if not isinstance(item, Mapping):
        return None
    return next((k for k in SECTION_KINDS if k in item), None)


def parse_section_threshold(item: Mapping[str, Any]) -> SectionThreshold:
    """The SectionThreshold of a mapping that section_kind recognises."""
    kind = section_kind(item)
    if kind is None:
        raise ConfigError(f"not a section threshold: {dict(item)!r}")
    try:
        parser = load(SECTION_KINDS[kind])
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"thresholds with '{kind}' are not available in this installation "
                          f"({e})") from None
    return parser(item)


__all__ = ["SECTION_KINDS", "SectionThreshold", "metric_thresholds", "parse_section_threshold", "section_kind"]
