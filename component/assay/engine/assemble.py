"""From the pass's per-slice results to the records of assay_metrics.json and assay_plots.json.

    # Input: [(slice key, {model: {"metrics": {...}, "plots": {...}}} or, for a slice the pass
    #         withheld by min_slice_size, its example count alone)], in any order.
    # Output: (metrics records, plot records), ordered by slicing spec, then slice value.

The record layout is documented in `assay.results.result` and the README ("The results
directory").
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from assay.config.model_names import diff_name
from assay.metrics.cross_names import is_cross_name
from assay.perturb.scoring import MEAN_ABSOLUTE_CHANGE, PAIRED_PREFIX, PERTURBED_PREFIX
from assay.results.undefined import finish_records

# An interval label of a bucketed feature, "[1, 5)" or "(-inf, 1)": sorted by its lower bound.
_BUCKET = re.compile(r"^[\[(](-inf|-?[0-9.e+-]+), ")


def _sort_value(value: Any) -> tuple:
    """The sort key of one slice value: numbers (bools as 0 / 1), then buckets, then strings."""
    if isinstance(value, str):
        m = _BUCKET.match(value)
        if m:
            return (1, float(m.group(1)), value)
        return (2, 0.0, value)
    return (0, float(value), "")


def diff_metrics(candidate: Mapping[str, Any], baseline: Mapping[str, Any]) -> Dict[str, float]:
    """candidate - baseline for every numeric metric the two share."""
    out = {}
    for name, value in candidate.items():
        other = baseline.get(name)
        if isinstance(value, (int, float)) and isinstance(other, (int, float)) and \
                not isinstance(value, bool):
            out[name] = value - other
    return out


def withheld_reason(count: int, min_slice_size: int) -> str:
    """The reason text of a slice withheld for having too few examples."""
    return f"withheld: {count} examples, fewer than min_slice_size {min_slice_size}"


def _filtered(metrics: Mapping[str, Any], keep: Optional[set]) -> Mapping[str, Any]:
    """The metrics named in `keep` (and their sub-metrics "name/..."); all when keep is None."""
    if keep is None:
        return metrics
    return {k: v for k, v in metrics.items()
            if k in keep or any(k.startswith(m + "/") for m in keep)}


def assemble(slice_results: Sequence[tuple], spec_features: Sequence[Sequence[str]],
             models: Sequence[str], min_slice_size: int,
             metric_filter: Optional[Sequence[str]] = None
             ) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """Builds the metrics and plot records from [(slice key, {model: {metrics, plots}})].

    Records come ordered by slicing spec (in config order), then by slice value; for each slice
    every model (candidate, baseline, the others in config order), then, with a baseline, the
    diff of each other model against it ("diff" for the candidate, "diff:NAME" for another:
    assay.config.model_names), which also holds the cross-model metrics (flip rates, ...) the
    pass computed for that model. With bootstrap replicates (`confidence:`), each record also
    holds "intervals": {metric: {"lower", "upper", "stderr"}} for its metrics (a diff record's
    paired: assay.metrics.bootstrap). A slice (not the overall one) with fewer than
    `min_slice_size` examples is withheld: its records hold "withheld" (the reason) and
    "example_count" (the candidate's count of examples) instead of "metrics". Counts are
    integers, and a record with values that are not finite names them, with the reason, in
    "undefined" (`assay.results.undefined.finish_records`).

    Args:
      slice_results: the merged results of the pass, one entry per slice key: per-model
        results, or an int, the example count of a slice the pass found below min_slice_size
        (`assay.engine.passes.slice_result`), whose metrics it did not compute.
      spec_features: the features of each slicing spec, in config order.
      models: the models evaluated (candidate first; "baseline" when there is one).
      min_slice_size: slices with fewer examples are withheld.
      metric_filter: the metrics to keep (with the example counts); None keeps all.
    """
    spec_index: Dict[Tuple[str, ...], int] = {}
    for i, feats in enumerate(spec_features):
        spec_index.setdefault(tuple(feats), i)

    def order(item):
        key = item[0]
        feats = tuple(k for k, _ in key)
        return (spec_index.get(feats, len(spec_index)), feats,
                tuple(_sort_value(v) for _, v in key))

    keep = None
    if metric_filter:
        keep = set(metric_filter) | {"example_count", "weighted_example_count"}
    compared = [m for m in models if m != "baseline"] if "baseline" in models else []
    perturbed = _perturbed_models(slice_results)  # assay.perturb: scored beside the candidate
    models = list(models) + perturbed
    names = list(models) + [diff_name(m) for m in compared] + \
        [PAIRED_PREFIX + m[len(PERTURBED_PREFIX):] for m in perturbed]
    records, plot_records = [], []
    for key, per_model in sorted(slice_results, key=order):
        slice_json = {k: v for k, v in key}
        if isinstance(per_model, int):
            count = per_model
            if not (key and count < min_slice_size):
                raise ValueError(f"slice {slice_json} came without metrics, but its {count} "
                                 f"examples are not fewer than min_slice_size {min_slice_size}")
        else:
            count = int(per_model["candidate"]["metrics"].get("example_count", 0))
        if key and count < min_slice_size:
            why = withheld_reason(count, min_slice_size)
            records += [{"slice": slice_json, "model": m, "withheld": why, "example_count": count}
                        for m in names]
            continue
        own = {m: _split_cross(per_model[m]["metrics"], m in perturbed) for m in models}
        for model in models:
            plots = per_model[model]["plots"]
            if plots:
                plot_records.append({"slice": slice_json, "model": model, "plots": plots})
            record = {"slice": slice_json, "model": model,
                      "metrics": _filtered(own[model][0], keep)}
            intervals = per_model[model].get("intervals")
            if intervals is not None:  # with `confidence:` on (assay.metrics.bootstrap)
                record["intervals"] = dict(_filtered(_split_cross(intervals, model in perturbed)[0],
                                                     keep))
            records.append(record)
        for model in compared:
            # The cross-model metrics are computed only when asked for (by `metrics:` or by a
            # threshold), so the filter does not apply to them.
            metrics = dict(_filtered(diff_metrics(own[model][0], own["baseline"][0]), keep))
            metrics.update(own[model][1])
            record = {"slice": slice_json, "model": diff_name(model), "metrics": metrics}
            paired = per_model[model].get("diff_intervals")
            if paired is not None:  # paired: the model's replicates minus the baseline's
                intervals = dict(_filtered(_split_cross(paired)[0], keep))
                intervals.update(_split_cross(per_model[model].get("intervals") or {})[1])
                record["intervals"] = intervals
            records.append(record)
        records += [_paired_record(slice_json, m, own, per_model[m], keep) for m in perturbed]
    # Last, on whole records (every member): integer counts, and the reason of each value that
    # is not finite (written as null: strict JSON).
    return finish_records(records), plot_records


def _split_cross(metrics: Mapping[str, Any], perturbed: bool = False
                 ) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """(a model's own metrics, its cross-model metrics against the baseline, or for a
    perturbed model against the candidate, with the mean absolute prediction change)."""
    own, cross = {}, {}
    for name, value in metrics.items():
        paired = is_cross_name(name) or (perturbed and name == MEAN_ABSOLUTE_CHANGE)
        (cross if paired else own)[name] = value
    return own, cross


def _perturbed_models(slice_results: Sequence[tuple]) -> List[str]:
    """The perturbed models ("perturbed:NAME", assay.perturb) in the pass's results."""
    for _, per_model in slice_results:
        if not isinstance(per_model, int):
            return [m for m in per_model if m.startswith(PERTURBED_PREFIX)]
    return []


def _paired_record(slice_json: Dict[str, Any], model: str, own: Mapping[str, Tuple[dict, dict]],
                   result: Mapping[str, Any], keep: Optional[set]) -> Dict[str, Any]:
    """The "perturbed_diff:NAME" record of a perturbed model: its metrics minus the
    candidate's, its flip rates against the candidate and the mean absolute prediction change;
    with `confidence:`, paired intervals (the same resamples for both)."""
    metrics = dict(_filtered(diff_metrics(own[model][0], own["candidate"][0]), keep))
    metrics.update(own[model][1])
    record = {"slice": slice_json, "model": PAIRED_PREFIX + model[len(PERTURBED_PREFIX):],
              "metrics": metrics}
    paired = result.get("candidate_diff_intervals")
    if paired is not None:
        intervals = dict(_filtered(_split_cross(paired, True)[0], keep))
        intervals.update(_split_cross(result.get("intervals") or {}, True)[1])
        record["intervals"] = intervals
    return record


__all__ = ["assemble", "diff_metrics", "withheld_reason"]
