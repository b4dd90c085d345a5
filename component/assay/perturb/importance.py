"""Permutation feature importance per slice: the `sensitivity` section of assay_metrics.json.

`sensitivity: {features: [...]}` adds one perturbation per feature, "permute:FEATURE", scored
in the pass like any other (assay.perturb.scoring). After the pass the section is read off
the records: for each slice and each metric, the importance of a feature is how much the
metric gets worse when the feature is permuted,

    importance = candidate - permuted    (a metric where higher is better: auc, accuracy...)
    importance = permuted - candidate    (lower is better: log_loss, rmse...)
    importance = |candidate - permuted|  (no better direction)

and the features are ranked by it, largest first (undefined values last). With `confidence:`
each entry has the paired interval of the importance (the same resamples for both models).

    "sensitivity": {
      "method": "permute", "features": ["amount", "region"], "metrics": ["auc"], "seed": 0,
      "slices": [
        {"slice": {}, "metrics": {"auc": [
            {"feature": "amount", "rank": 1, "importance": 0.071, "candidate": 0.84,
             "permuted": 0.769, "interval": {"lower": 0.05, "upper": 0.09}}, ...]}},
        ...]}

A slice withheld by min_slice_size has no entry.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional

from assay.perturb.config import SENSITIVITY_PREFIX, SensitivityConfig
from assay.perturb.scoring import PAIRED_PREFIX, PERTURBED_PREFIX


def sensitivity_metrics(cfg: SensitivityConfig, task: str) -> List[str]:
    """The metrics ranked: `sensitivity.metrics`, or the task's headline metric."""
    from assay.metrics.registry import headline_metrics

    return list(cfg.metrics) or list(headline_metrics(task)[:1])


def importance(candidate: Any, permuted: Any, direction: Optional[str]) -> float:
    """The metric's loss when the feature is permuted (see the module docstring); NaN when
    either value is missing or not finite."""
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
               for v in (candidate, permuted)):
        return float("nan")
    if direction == "higher":
        return float(candidate - permuted)
    if direction == "lower":
        return float(permuted - candidate)
    return abs(float(candidate - permuted))


def _interval(record: Mapping[str, Any], metric: str, direction: Optional[str]
              ) -> Optional[Dict[str, float]]:
    """The paired interval of the importance from a perturbed_diff record (permuted -
    candidate), turned to the importance's sign; None without intervals."""
    found = (record.get("intervals") or {}).get(metric)
    if not found or direction not in ("higher", "lower"):
        return None
    lower, upper = found.get("lower"), found.get("upper")
    if lower is None or upper is None:
        return {"lower": None, "upper": None}
    if direction == "higher":
        return {"lower": -upper, "upper": -lower}
    return {"lower": lower, "upper": upper}


def _rank_key(entry: Dict[str, Any]):
    value = entry["importance"]
    return (0, -value) if isinstance(value, float) and math.isfinite(value) else (1, 0.0)


def _slice_entry(by_model: Mapping[str, Mapping[str, Any]], features: List[str],
                 metrics: List[str]) -> Dict[str, List[Dict[str, Any]]]:
    from assay.metrics.registry import metric_direction

    cand = by_model["candidate"].get("metrics") or {}
    out = {}
    for metric in metrics:
        direction = metric_direction(metric)
        entries = []
        for feature in features:
            name = SENSITIVITY_PREFIX + feature
            permuted = (by_model.get(PERTURBED_PREFIX + name) or {}).get("metrics") or {}
            entry: Dict[str, Any] = {
                "feature": feature,
                "importance": importance(cand.get(metric), permuted.get(metric), direction),
                "candidate": cand.get(metric), "permuted": permuted.get(metric)}
            interval = _interval(by_model.get(PAIRED_PREFIX + name) or {}, metric, direction)
            if interval is not None:
                entry["interval"] = interval
            entries.append(entry)
        entries.sort(key=_rank_key)
        for rank, entry in enumerate(entries, 1):
            entry["rank"] = rank
        out[metric] = [{"feature": e["feature"], "rank": e["rank"],
                        **{k: v for k, v in e.items() if k not in ("feature", "rank")}}
                       for e in entries]
    return out


def sensitivity_section(records: List[Mapping[str, Any]], cfg: SensitivityConfig,
                        task: str) -> Dict[str, Any]:
    """The `sensitivity` section (see the module docstring) from the metrics records."""
    metrics = sensitivity_metrics(cfg, task)
    by_slice: Dict[Any, Dict[str, Any]] = {}
    slices: List[Dict[str, Any]] = []
    for record in records:
        key = tuple(sorted(record["slice"].items()))
        if key not in by_slice:
            by_slice[key] = {}
            slices.append(record["slice"])
        by_slice[key][record["model"]] = record
    out = []
    for slice_json in slices:
        by_model = by_slice[tuple(sorted(slice_json.items()))]
        if "candidate" not in by_model or "withheld" in by_model["candidate"]:
            continue
        out.append({"slice": slice_json,
                    "metrics": _slice_entry(by_model, list(cfg.features), metrics)})
    return {"method": cfg.method, "features": list(cfg.features), "metrics": metrics,
            "seed": cfg.seed, "slices": out}


__all__ = ["importance", "sensitivity_metrics", "sensitivity_section"]
