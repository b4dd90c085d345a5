"""TFMA's Fairness Indicators per slice, and Fairlearn's group metrics across a group's slices.

`FairnessIndicators` is a metric family (one weighted confusion matrix per decision threshold,
the accumulator of assay.metrics.tfma_family, an example predicted positive iff prediction > t as
TFMA) that names its values as TFMA's FairnessIndicators metric does:

    fairness_indicators_metrics/{rate}@{t}    rate: false_positive_rate, false_negative_rate,
        true_positive_rate, true_negative_rate, positive_rate, negative_rate,
        false_discovery_rate, false_omission_rate; NaN where the denominator is 0 (as TFMA).

`group_metrics` reads those values off the slices of one group spec after the pass and gives
Fairlearn's disparity metrics at each threshold:

    demographic_parity_difference@t   max - min of positive_rate over the group's slices
    demographic_parity_ratio@t         min / max of positive_rate
    equalized_odds_difference@t        max over (TPR, FPR) of (max - min)
    equalized_odds_ratio@t             min over (TPR, FPR) of (min / max)

("between groups", Fairlearn's method="between_groups"), and the same "to reference"
(method="to_overall" when the reference is the overall slice): |rate(slice) - rate(reference)|
at most, and min(rate(slice) / rate(reference), rate(reference) / rate(slice)) at least.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from assay.metrics.binary import format_threshold
from assay.metrics.fairness_names import DIRECTIONS as _DIRECTIONS
from assay.metrics.fairness_names import PREFIX, RATES, indicator_name
from assay.metrics.tfma_family import TfmaAccumulator, TfmaMetrics

GROUP_METRICS = ("demographic_parity_difference", "demographic_parity_ratio",
                 "equalized_odds_difference", "equalized_odds_ratio")


def _div(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator > 0 else float("nan")


def rates(confusion) -> Dict[str, float]:
    """The eight rates of one [label, predicted] table of weights ((tn, fp), (fn, tp))."""
    (tn, fp), (fn, tp) = (float(v) for v in confusion[0]), (float(v) for v in confusion[1])
    total = tn + fp + fn + tp
    return {"false_positive_rate": _div(fp, fp + tn), "false_negative_rate": _div(fn, fn + tp),
            "true_positive_rate": _div(tp, tp + fn), "true_negative_rate": _div(tn, tn + fp),
            "positive_rate": _div(tp + fp, total), "negative_rate": _div(tn + fn, total),
            "false_discovery_rate": _div(fp, fp + tp), "false_omission_rate": _div(fn, fn + tn)}


class FairnessIndicators(TfmaMetrics):
    """TFMA's Fairness Indicators metric set at `thresholds` (binary task).

    Reuses TfmaMetrics' accumulator (its confusion matrices at the thresholds); only the names
    and formulas of the results differ.
    """

    name = "fairness_indicators"

    def __init__(self, thresholds: Sequence[float]):
        super().__init__([f"false_positive_rate@{format_threshold(t)}" for t in thresholds],
                         "binary")

    @property
    def directions(self) -> Dict[str, Optional[str]]:
        return {indicator_name(r, t): _DIRECTIONS[r] for t in self.thresholds for r in RATES}

    def result(self, acc: TfmaAccumulator) -> Dict[str, float]:
        out: Dict[str, float] = {}
        for i, t in enumerate(self.thresholds):
            for rate, value in rates(acc.confusion[i]).items():
                out[indicator_name(rate, t)] = value
        return out


def _ratio(a: float, b: float) -> float:
    """min(a, b) / max(a, b), Fairlearn's ratio of two rates: 1 when both are 0."""
    lo, hi = min(a, b), max(a, b)
    return 1.0 if hi == 0 else lo / hi


def _between(values: List[float]) -> Tuple[float, float]:
    """(max - min, min / max) over the finite values; NaN when fewer than one."""
    vals = [v for v in values if not math.isnan(v)]
    if not vals:
        return float("nan"), float("nan")
    return max(vals) - min(vals), _ratio(min(vals), max(vals))


def _to_reference(values: List[float], ref: float) -> Tuple[float, float]:
    """(largest |v - ref|, smallest two-way ratio) over the finite values."""
    vals = [v for v in values if not math.isnan(v)]
    if not vals or math.isnan(ref):
        return float("nan"), float("nan")
    return max(abs(v - ref) for v in vals), min(_ratio(v, ref) for v in vals)


def group_metrics(slices: Mapping[Any, Mapping[str, float]], reference: Any,
                  thresholds: Sequence[float], sizes: Optional[Mapping[Any, float]] = None,
                  label_free: bool = False) -> Dict[str, Dict[str, float]]:
    """Fairlearn's group metrics of one group spec, from its slices' Fairness Indicators.

    Args:
      slices: {slice key: that slice's metrics} for every slice of the group spec.
      reference: the reference's metrics (the overall slice's, or one slice's), or "largest"
        (the slice of largest `sizes`).
      thresholds: the decision thresholds.
      sizes: {slice key: weight of examples}, needed for reference "largest".
      label_free: the slices have no label (assay.metrics.label_free): demographic parity only.

    Returns:
      {"between_groups": {metric@t: value}, "to_reference": {metric@t: value}}.
    """
    if isinstance(reference, str):
        if reference != "largest" or not sizes:
            raise ValueError(f"reference must be a slice's metrics or 'largest' with sizes "
                             f"(got {reference!r})")
        reference = slices[max(slices, key=lambda k: sizes.get(k, 0.0))]
    between: Dict[str, float] = {}
    to_ref: Dict[str, float] = {}
    for t in thresholds:
        at = format_threshold(t)

        def column(rate: str) -> List[float]:
            return [float(m.get(indicator_name(rate, t), float("nan"))) for m in slices.values()]

        def ref_of(rate: str) -> float:
            return float(reference.get(indicator_name(rate, t), float("nan")))

        for kind, out, fn in (("between", between, lambda r: _between(column(r))),
                              ("reference", to_ref, lambda r: _to_reference(column(r),
                                                                            ref_of(r)))):
            dp = fn("positive_rate")
            tpr, fpr = fn("true_positive_rate"), fn("false_positive_rate")
            out[f"demographic_parity_difference@{at}"] = dp[0]
            out[f"demographic_parity_ratio@{at}"] = dp[1]
            if label_free:  # equalized odds compares rates given the label
                continue
            # NaN when either is: Python's max/min would depend on the order.
            out[f"equalized_odds_difference@{at}"] = float("nan") if math.isnan(
                tpr[0] + fpr[0]) else max(tpr[0], fpr[0])
            out[f"equalized_odds_ratio@{at}"] = float("nan") if math.isnan(
                tpr[1] + fpr[1]) else min(tpr[1], fpr[1])
    return {"between_groups": between, "to_reference": to_ref}


def records_group_metrics(records: Sequence[Mapping[str, Any]], fairness: Any,
                          model: str = "candidate") -> Dict[str, Dict[str, Dict[str, float]]]:
    """{group name: group_metrics(...)} from the records of assay_metrics.json, for a
    FairnessConfig; withheld slices (min_slice_size) are no group.

    The reference is the overall slice's metrics, or the slice of `fairness.reference` (a
    reference of another group's features: the overall slice); for "largest", the slice of
    largest `weighted_example_count` (else `example_count`). Group names are the features
    joined by " x "; no groups in `fairness`: every slicing spec of the records.
    """
    by_slice = {tuple(sorted(r["slice"].items())): {k: _number(v) for k, v in
                                                    r["metrics"].items()}
                for r in records if r.get("model") == model and "metrics" in r
                and "withheld" not in r}
    feature_sets = [tuple(spec.features) for spec in fairness.groups] or list(dict.fromkeys(
        tuple(k for k, _ in key) for key in by_slice if key))
    # Without a label the slices have positive rates and no true positive rates.
    label_free = not any(name.startswith(f"{PREFIX}/true_positive_rate@")
                         for m in by_slice.values() for name in m)
    out = {}
    for group in feature_sets:
        slices = {key: m for key, m in by_slice.items()
                  if key and {k for k, _ in key} == set(group)}
        ref = fairness.reference
        if isinstance(ref, tuple) and {k for k, _ in ref} == set(group):
            ref = slices.get(tuple(sorted(ref)), {})
        elif ref != "largest":
            ref = by_slice.get((), {})
        sizes = {k: m.get("weighted_example_count", m.get("example_count", 0.0))
                 for k, m in slices.items()}
        out[" x ".join(group)] = group_metrics(slices, ref, fairness.thresholds, sizes,
                                               label_free)
        if label_free:
            out[" x ".join(group)]["groups"] = label_free_groups(slices, fairness.thresholds)
    return out


def label_free_groups(slices: Mapping[Any, Mapping[str, float]], thresholds: Sequence[float]
                      ) -> Dict[str, Dict[str, float]]:
    """{slice label: {positive_rate@t, mean_prediction, prediction_p*: value}} of a group's
    slices without a label: what the label-free fairness section shows per group."""
    from assay.metrics.label_free_names import QUANTILE_PREFIX
    from assay.results.slices import slice_label

    out = {}
    for key, m in sorted(slices.items(), key=lambda kv: str(kv[0])):
        row = {f"positive_rate@{format_threshold(t)}": m.get(indicator_name("positive_rate", t),
                                                              float("nan")) for t in thresholds}
        row.update((k, v) for k, v in m.items()
                   if k in ("example_count", "weighted_example_count", "mean_prediction")
                   or k.startswith(QUANTILE_PREFIX))
        out[slice_label(dict(key))] = row
    return out


def _number(value: Any) -> Any:
    """A metric's value, with null (an undefined value in a results file) as NaN."""
    return float("nan") if value is None else value


def result_group_metrics(result: Any, fairness: Any, model: str = "candidate"
                         ) -> Dict[str, Dict[str, Dict[str, float]]]:
    """records_group_metrics of an EvalResult (assay.results)."""
    return records_group_metrics(result.records, fairness, model)


def fairness_section(records: Sequence[Mapping[str, Any]], fairness: Any,
                     models: Sequence[str]) -> Dict[str, Any]:
    """assay_metrics.json's "fairness" section: the settings, then per model (those with
    Fairness Indicators: not "diff") {group: {"between_groups": {...}, "to_reference": {...}}}."""
    reference = fairness.reference if isinstance(fairness.reference, str) \
        else dict(fairness.reference)
    return {"thresholds": list(fairness.thresholds), "reference": reference,
            "group_metrics": {m: records_group_metrics(records, fairness, m) for m in models
                              if not m.startswith("diff")}}


__all__ = ["FairnessIndicators", "GROUP_METRICS", "PREFIX", "RATES", "group_metrics",
           "fairness_section", "indicator_name", "rates", "records_group_metrics",
           "result_group_metrics"]
