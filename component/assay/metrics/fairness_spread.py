"""Intervals of gaps and ratios across slices, from the same-pass bootstrap replicates.

The largest-minus-smallest gap of a rate across groups is biased upward when groups are small
(each group's noise pushes the max up and the min down), so a point gap is no proof of a real
one. With `confidence:` on, every slice's rates have R bootstrap replicates drawn from the same
per-example Poisson weights (assay.metrics.bootstrap: keyed by the example, so replicate r is
one resample of the whole data, coherent across slices). Replicate r of a gap is the gap of the
slices' replicate-r values; the percentile interval over r is the gap's interval.

    engine.passes.compute_slice keeps the replicates of the rates (spread_replicates) beside a
    slice's results (in memory only); after the pass, add_spread_intervals writes
      fairness.intervals[model][group][method][metric] = {lower, upper, stderr}
      spread_intervals = [{model, metric, kind, across, value, lower, upper, stderr}, ...]
    (max_gap and min_ratio thresholds on those rates), which the gate decides on
    (assay.validation.gate).
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from assay.metrics.fairness_names import PREFIX

# The metrics whose replicates are kept: the Fairness Indicators rates, and the label-free
# positive rates and mean prediction (assay.metrics.label_free).
KEPT_PREFIXES = (PREFIX + "/", "positive_rate@")
KEPT_NAMES = ("mean_prediction",)

Key = Tuple[Tuple[str, str], ...]


def spread_replicates(reps: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """The replicate vectors (shape [R]) that gaps and ratios need, out of a slice's."""
    return {n: v for n, v in reps.items() if n.startswith(KEPT_PREFIXES) or n in KEPT_NAMES}


def _key(key: Sequence[Tuple[str, Any]]) -> Key:
    from assay.results.slices import slice_key

    return slice_key(dict(key))


def replicate_table(slice_results: Sequence[tuple], min_slice_size: int
                    ) -> Dict[str, Dict[Key, Tuple[Dict[str, Any], Dict[str, np.ndarray]]]]:
    """{model: {slice key: (point metrics, {name: replicates})}} of the slices with
    replicates (withheld slices left out, as the checks leave them out)."""
    out: Dict[str, Dict[Key, Any]] = {}
    for key, per_model in slice_results:
        if isinstance(per_model, int):
            continue
        count = per_model.get("candidate", {}).get("metrics", {}).get("example_count", 0)
        if key and count < min_slice_size:
            continue
        for model, res in per_model.items():
            if res.get("spread_replicates"):
                out.setdefault(model, {})[_key(key)] = (res["metrics"], res["spread_replicates"])
    return out


def gap_interval(point: Any, reps: np.ndarray, level: float, name: str = ""
                 ) -> Dict[str, Optional[float]]:
    """The interval of a gap or ratio: the union of the basic bootstrap interval
    [2 point - q_hi, 2 point - q_lo] and the percentile interval [q_lo, q_hi].

    A gap's replicates sit above the point gap by about as much as the point gap sits above
    the true one (max - min of noisier values), so the percentile interval alone misses a true
    gap of 0 nearly always; the basic interval reflects that shift away but covers a little
    less than it says when the groups are well apart. Their union covers the true gap in at
    least about 88% (true gap 0, small groups) and 94-97% otherwise of simulated 95% intervals
    (tests/test_fairness_intervals.py). Gaps are clipped at 0, ratios to [0, 1]."""
    from assay.metrics.bootstrap import percentile_interval

    if point is None or not isinstance(point, (int, float)):
        point = math.nan
    iv = percentile_interval(float(point), reps, level)
    lower = min(2 * float(point) - iv["upper"], iv["lower"])
    upper = max(2 * float(point) - iv["lower"], iv["upper"])
    top = 1.0 if ("ratio" in name) else math.inf
    iv["lower"], iv["upper"] = min(max(lower, 0.0), top), min(max(upper, 0.0), top)
    return {k: (float(v) if math.isfinite(v) else None) for k, v in iv.items()}


def spread_values(matrix: np.ndarray, kind: str) -> np.ndarray:
    """Per column (replicate), max - min ("max_gap") or min / max ("min_ratio", 1 when the max
    is 0) over the rows (slices) with a finite value; NaN where fewer than two rows have one.

    Args:
      matrix: shape [slices, R].
    """
    finite = np.isfinite(matrix)
    enough = finite.sum(axis=0) >= 2
    hi = np.where(finite, matrix, -np.inf).max(axis=0)
    lo = np.where(finite, matrix, np.inf).min(axis=0)
    if kind == "max_gap":
        out = hi - lo
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(hi == 0, 1.0, lo / np.where(hi == 0, 1.0, hi))
    return np.where(enough, out, np.nan)


def threshold_intervals(table: Mapping[str, Mapping[Key, Any]], thresholds: Sequence[Any],
                        level: float) -> List[Dict[str, Any]]:
    """The interval of each max_gap / min_ratio threshold on a metric with kept replicates."""
    out = []
    for t in thresholds:
        for kind in ("max_gap", "min_ratio"):
            spec = getattr(t, kind, None)
            if spec is None:
                continue
            slices = [v for k, v in table.get(t.model, {}).items()
                      if k and sorted(f for f, _ in k) == sorted(spec.across)]
            if len(slices) < 2 or any(t.metric not in reps for _, reps in slices):
                continue
            points = np.array([float(m.get(t.metric, math.nan) if m.get(t.metric) is not None
                                     else math.nan) for m, _ in slices])
            point = float(spread_values(points[:, None], kind)[0])
            reps = spread_values(np.stack([r[t.metric] for _, r in slices]), kind)
            out.append({"model": t.model, "metric": t.metric, "kind": kind,
                        "across": list(spec.across), "value": point if math.isfinite(point)
                        else None, **gap_interval(point, reps, level,
                                               "ratio" if kind == "min_ratio" else "")})
    return out


def fairness_intervals(table: Mapping[str, Mapping[Key, Any]], fairness: Any,
                       section: Mapping[str, Any], level: float) -> Dict[str, Any]:
    """{model: {group: {method: {metric: interval}}}} of the fairness section's group metrics:
    each replicate's group metrics computed as the point ones are (group_metrics)."""
    from assay.metrics.group_fairness import group_metrics

    out: Dict[str, Any] = {}
    for model, groups in (section.get("group_metrics") or {}).items():
        by_slice = table.get(model, {})
        if not by_slice:
            continue
        some = next(iter(by_slice.values()))[1]
        n_reps = len(next(iter(some.values()))) if some else 0
        for group, values in groups.items():
            features = sorted(group.split(" x "))
            slices = {k: v for k, v in by_slice.items()
                      if k and sorted(f for f, _ in k) == features}
            if not slices or not n_reps:
                continue
            ref_key = _reference_key(fairness.reference, features)
            reference = "largest" if ref_key is None else None
            sizes = {k: m.get("weighted_example_count", m.get("example_count", 0.0)) or 0.0
                     for k, (m, _) in slices.items()}
            label_free = "equalized_odds_difference@" not in " ".join(
                values.get("between_groups", {}))
            rows: Dict[str, Dict[str, List[float]]] = {}
            for r in range(n_reps):
                rep = {k: {n: float(v[r]) for n, v in reps.items()}
                       for k, (_, reps) in slices.items()}
                ref = reference if ref_key is None else (
                    rep.get(ref_key) if ref_key in rep else
                    {n: float(v[r]) for n, v in by_slice.get(ref_key, ({}, {}))[1].items()})
                got = group_metrics(rep, ref, fairness.thresholds, sizes, label_free)
                for method, metrics in got.items():
                    for name, v in metrics.items():
                        rows.setdefault(method, {}).setdefault(name, []).append(v)
            out.setdefault(model, {})[group] = {
                method: {name: gap_interval(values.get(method, {}).get(name), np.array(v),
                                              level, name)
                         for name, v in metrics.items()}
                for method, metrics in rows.items()}
    return out


def _reference_key(reference: Any, features: Sequence[str]) -> Optional[Key]:
    """The slice key the group's reference is: () for the overall slice, the named slice of
    this group, or None for "largest"."""
    if reference == "largest":
        return None
    if isinstance(reference, tuple) and sorted(k for k, _ in reference) == list(features):
        return _key(reference)
    return ()


def add_spread_intervals(doc: Dict[str, Any], slice_results: Sequence[tuple], config: Any
                         ) -> None:
    """Writes the intervals into the metrics document (see the module doc); nothing without
    `confidence:` or without kept replicates."""
    if config.confidence is None:
        return
    table = replicate_table(slice_results, config.min_slice_size)
    if not table:
        return
    level = config.confidence.level
    if config.fairness is not None and doc.get("fairness"):
        doc["fairness"]["intervals"] = fairness_intervals(table, config.fairness,
                                                          doc["fairness"], level)
    spreads = threshold_intervals(table, config.validation.thresholds, level)
    if spreads:
        doc["spread_intervals"] = spreads


def spread_interval(doc: Mapping[str, Any], model: str, metric: str, kind: str,
                    across: Sequence[str]) -> Optional[Tuple[float, float, float]]:
    """(lower, upper, stderr) of a max_gap / min_ratio check from the document's
    spread_intervals (NaN where unknown), or None when it has none."""
    for s in doc.get("spread_intervals") or ():
        if (s["model"], s["metric"], s["kind"], sorted(s["across"])) == \
                (model, metric, kind, sorted(across)):
            return tuple(math.nan if s.get(k) is None else float(s[k])
                         for k in ("lower", "upper", "stderr"))
    return None


__all__ = ["KEPT_PREFIXES", "add_spread_intervals", "gap_interval", "fairness_intervals",
           "replicate_table", "spread_interval", "spread_replicates", "spread_values",
           "threshold_intervals"]
