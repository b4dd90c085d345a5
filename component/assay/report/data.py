"""The data a report page embeds: one JSON document built from EvalResult objects.

`report_data` builds it; `assay.report.html` renders it. The document has short keys because a
report may hold thousands of slices:

    {"kind": "single", "result": RESULT}
    {"kind": "compare", "runs": [{label, path, blessed, outcome, reasons, examples_read}],
     "timeline": {"labels": [...], "metrics": [...], "slices": [{"k": label,
                  "c": [[value per metric] or null per run], "b": [...]}], "left_out": n},
     "result": RESULT of the last run}

    RESULT = {"task", "path", "class_names", "has_baseline", "verdict": {...} or null,
              "checked": [[metric, [features]]] (what the thresholds check),
              "min_slice_size", "small_slice_size" (fewer examples: marked small),
              "metrics": [names], "default_metrics": [names],
              "directions": {name: "higher" | "lower"},
              "slices": [{"k": label, "s": {feature: value}, "n": example count,
                          "h": withheld reason or null, "c": [candidate value per metric],
                          "b": [baseline values] or null,
                          "f": {metric index: failed-check reason}, "p": plot index or null,
                          "ci": [[lower, upper] or null per metric] (the candidate's interval),
                          "di": [...] (the paired interval of its change), each only when
                          the records hold intervals (`confidence:`)}],
              "specs": [{"name", "rows": [slice index...], "gaps": [failed max_gap reasons]}],
              "plots": [{"candidate": PLOTS, "baseline": PLOTS}], "plots_left_out": n,
              "model_table": MODEL_TABLE (only with more than two models or cross-model
              metrics: assay.report.models_table)}

    PLOTS = {"roc": {"x": fpr, "y": tpr, "t": thresholds}, "pr": {"x": recall, "y": precision,
             "t": thresholds}, "cal": {"bins", "p": mean prediction, "l": mean label,
             "w": weight}, "cm": {"labels", "m": matrix}, "res": {"q": quantiles, "v": values}}

Slice labels ("k") and slice identity come from `assay.results.slices` (the overall slice is
"overall"). A withheld slice's example count ("n") is the record's "example_count".
`report_data` also gives each RESULT "checks" (every check of validation.json, with its slice's
label): the page shows them as HTML and leaves them out of the embedded JSON.

Metric values are exact; plot values are rounded (curves to 4 decimals; the exact values are
in assay_plots.json). NaN is null, infinities are the strings "Infinity" / "-Infinity".
Curves are thinned to at most 81 points, and when the plots of every slice would pass
`plot_budget` bytes, the plots of the overall slice, of slices that fail a check and of the
largest slices are kept and the page says how many were left out.

The results are taken as they are (EvalResult objects, or anything with the same attributes):
this package imports nothing from `assay.results.result`, so that EvalResult can render itself
in a notebook without an import circle.

Example:
    >>> data = report_data(assay.load_result("out/"))              # doctest: +SKIP
    >>> data["result"]["slices"][0]["k"]                            # doctest: +SKIP
    'overall'
"""

from __future__ import annotations

import functools
import math
import os
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from assay.metrics.registry import headline_metrics, metric_direction
from assay.report.models_table import model_table
from assay.report.sections import sections_html
from assay.results.slices import OVERALL, SliceKey, slice_key, slice_label, values_match
from assay.errors import ConfigError

if TYPE_CHECKING:  # for annotations only: see the module docstring
    from assay.results.result import EvalResult

PAGE_PLOT_BUDGET = 3_000_000
NOTEBOOK_PLOT_BUDGET = 1_000_000
MAX_CURVE_POINTS = 81
MAX_TIMELINE_SLICES = 500

_COUNTS = ("example_count", "weighted_example_count")


def as_number(value: Any) -> Optional[float]:
    """value as a float when it is a number (numpy scalars included), else None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def small_slice_size(min_slice_size: Optional[int]) -> int:
    """Slices with fewer examples are marked small: their metrics are noisy."""
    return max(2 * (min_slice_size or 1), 100)


def _exact(value: Any) -> Any:
    """A metric value for the embedded JSON, unrounded (so that the page shows the same digits
    as the checks' reasons): NaN -> null, infinities -> "Infinity" / "-Infinity", integral
    floats -> ints (shorter)."""
    if value.__class__ is not float:  # the common case first: reports may have many slices
        value = as_number(value)
        if value is None:
            return None
    if value - value != 0:  # NaN or infinite
        return None if value != value else ("Infinity" if value > 0 else "-Infinity")
    return int(value) if value.is_integer() and abs(value) < 1e15 else value


def _round(value: Any, digits: int) -> Any:
    """A plot value for the embedded JSON: `digits` significant digits, as _exact otherwise."""
    value = _exact(value)
    return float("%.*g" % (digits, value)) if isinstance(value, float) else value


def _round_list(values: Sequence[Any], decimals: int = 4,
                idx: Optional[Sequence[int]] = None) -> List[Any]:
    """Plot values for the embedded JSON: rounded to `decimals`, NaN and None -> null."""
    if idx is not None and len(idx) < len(values):  # thinned first: only the kept are read
        values = [values[i] for i in idx]
    a = np.round(np.array(values, dtype=np.float64), decimals)  # None -> NaN
    if np.isfinite(a).all():
        return a.tolist()
    return [v if math.isfinite(v) else None for v in a.tolist()]


@functools.lru_cache(maxsize=64)
def _thin(n: int, most: int = MAX_CURVE_POINTS) -> Tuple[int, ...]:
    """At most `most` indices of range(n), evenly spread, keeping the first and the last."""
    if n <= most:
        return tuple(range(n))
    return tuple(sorted({round(i * (n - 1) / (most - 1)) for i in range(most)}))


# ---------------------------------------------------------------------------------------------
# The embedded data of one result

def _compact_plots(plots: Mapping[str, Any]) -> Dict[str, Any]:
    """The plots of one (slice, model), thinned and rounded for the page."""
    out: Dict[str, Any] = {}
    roc = plots.get("roc_curve")
    if roc and roc.get("fpr"):
        idx = _thin(len(roc["fpr"]))
        out["roc"] = {"x": _round_list(roc["fpr"], 4, idx), "y": _round_list(roc["tpr"], 4, idx),
                      "t": _round_list(roc["thresholds"], 4, idx)}
    pr = plots.get("pr_curve")
    if pr and pr.get("recall"):
        idx = _thin(len(pr["recall"]))
        out["pr"] = {"x": _round_list(pr["recall"], 4, idx),
                     "y": _round_list(pr["precision"], 4, idx),
                     "t": _round_list(pr["thresholds"], 4, idx)}
    cal = plots.get("calibration")
    if cal and cal.get("bins"):
        out["cal"] = {"bins": _round_list(cal["bins"]), "p": _round_list(cal["mean_prediction"]),
                      "l": _round_list(cal["mean_label"]),
                      "w": [_round(w, 4) for w in cal["weight"]]}
    cm = plots.get("confusion_matrix")
    if cm and cm.get("matrix"):
        out["cm"] = {"labels": [str(x) for x in cm["labels"]],
                     "m": [[_round(v, 5) for v in row] for row in cm["matrix"]]}
    res = plots.get("residuals")
    if res and res.get("quantiles"):
        idx = _thin(len(res["quantiles"]))
        out["res"] = {"q": _round_list(res["quantiles"], 4, idx),
                      "v": [_round(res["values"][i], 5) for i in idx]}
    return out


def _approx_size(obj: Any) -> int:
    """Roughly the bytes of obj as compact JSON (9 per number; cheaper than encoding it)."""
    if isinstance(obj, dict):
        return sum(len(k) + 4 + _approx_size(v) for k, v in obj.items())
    if isinstance(obj, list):
        return sum(_approx_size(v) for v in obj) + 2 if obj and isinstance(obj[0], list) \
            else 9 * len(obj) + 2
    return 9


def _directions(result: "EvalResult", metrics: Sequence[str]) -> Dict[str, str]:
    given = {}
    for t in (result.config or {}).get("thresholds") or []:
        if isinstance(t, Mapping) and t.get("direction") in ("higher", "lower"):
            given[t.get("metric")] = t["direction"]
    out = {}
    for m in metrics:
        d = given.get(m) or metric_direction(m)
        if d:
            out[m] = d
    return out


def _default_metrics(task: str, metrics: Sequence[str], checks: Sequence[Mapping]) -> List[str]:
    available = [m for m in metrics if m not in _COUNTS]
    chosen = [c["metric"] for c in checks if c.get("metric") in available]
    chosen += [m for m in headline_metrics(task) if m in available]
    if not chosen:
        chosen = available[:6]
    return list(dict.fromkeys(chosen))[:6]


def _spec_slices(result: "EvalResult", slices: Sequence[Mapping]) -> List[Dict[str, Any]]:
    """The slices of each slicing spec of the result, as indices into `slices`."""
    from assay.config.slices import parse_slice_spec

    specs = []
    for i, entry in enumerate(result.info.get("slicing_specs") or [{"name": OVERALL,
                                                                       "spec": []}]):
        try:
            spec = parse_slice_spec(entry.get("spec"), i)
            features, fixed = list(spec.features), dict(spec.values)
        except (ValueError, TypeError):
            continue
        rows = [j for j, s in enumerate(slices)
                if list(s) == features and all(values_match(v, s[k]) for k, v in fixed.items())]
        specs.append({"name": entry.get("name") or ", ".join(features) or OVERALL,
                      "features": features, "rows": rows})
    claimed = {j for spec in specs for j in spec["rows"]}
    others = [j for j in range(len(slices)) if j not in claimed]
    overall = next((j for j in others if not slices[j]), None)
    if overall is not None:
        specs.insert(0, {"name": OVERALL, "features": [], "rows": [overall]})
        others.remove(overall)
    if others:
        specs.append({"name": "other slices", "features": [], "rows": others})
    return specs


def _failing_cells(checks: Sequence[Mapping[str, Any]], metrics: Sequence[str]
                   ) -> Dict[SliceKey, Dict[int, str]]:
    """{slice: {metric index: reason}} of the failed per-slice checks."""
    failing: Dict[SliceKey, Dict[int, str]] = {}
    for c in checks:
        if c.get("status") == "fail" and c.get("kind") != "max_gap" and c["metric"] in metrics:
            failing.setdefault(slice_key(c.get("slice") or {}), {}).setdefault(
                metrics.index(c["metric"]), c.get("reason", ""))
    return failing


def _slice_row(sid: SliceKey, slice_: Mapping[str, Any], by_model: Mapping[str, Mapping],
               metrics: Sequence[str], failing: Mapping[int, str]) -> Dict[str, Any]:
    """One slice of the embedded document (keys in the module docstring)."""
    cand = by_model["candidate"].get(sid, {})
    withheld = cand.get("withheld")
    row: Dict[str, Any] = {"k": slice_label(slice_), "s": slice_, "n": None, "h": withheld,
                           "c": None, "b": None, "f": dict(failing), "p": None}
    if withheld:
        # Results written before withheld records carried their count have none: shown blank.
        row["n"] = _exact(cand.get("example_count"))
        return row
    values = cand.get("metrics", {})
    row["n"] = _exact(values.get("example_count"))
    row["c"] = [_exact(values.get(m)) for m in metrics]
    # The diff is not embedded: candidate - baseline in the page gives the same doubles.
    baseline = by_model["baseline"].get(sid, {}).get("metrics")
    if baseline is not None:
        row["b"] = [_exact(baseline.get(m)) for m in metrics]
    for key, record in (("ci", cand), ("di", by_model["diff"].get(sid, {}))):
        bounds = _intervals(record, metrics)
        if bounds is not None:
            row[key] = bounds
    return row


def _intervals(record: Mapping[str, Any], metrics: Sequence[str]) -> Optional[List[Any]]:
    """[[lower, upper] or None per metric] of a record with `intervals`, else None."""
    intervals = record.get("intervals")
    if not isinstance(intervals, Mapping):
        return None
    bounds = [[as_number(intervals[m].get(k)) for k in ("lower", "upper")]
              if isinstance(intervals.get(m), Mapping) else [None] for m in metrics]
    return [b if None not in b and all(map(math.isfinite, b)) else None for b in bounds]


def _attach_plots(result: "EvalResult", order: Sequence[SliceKey], slices: List[Dict[str, Any]],
                  plot_budget: int) -> Tuple[List[Dict[str, Any]], int]:
    """The compact plots of as many slices as `plot_budget` bytes allow: the overall slice,
    then slices that fail a check, then the largest. Sets each slice's "p"; returns
    (plots, how many slices with plots were left out)."""
    plots_of = {(slice_key(p["slice"]), p["model"]): p["plots"] for p in result.plot_records}
    priority = sorted(range(len(slices)), key=lambda j: (
        bool(slices[j]["s"]), not slices[j]["f"], -(slices[j]["n"] or 0), j))
    with_plots = [j for j in priority if (order[j], "candidate") in plots_of or
                  (order[j], "baseline") in plots_of]
    plots: List[Dict[str, Any]] = []
    used = 0
    for pos, j in enumerate(with_plots):
        entry = {m: _compact_plots(plots_of[(order[j], m)]) for m in ("candidate", "baseline")
                 if (order[j], m) in plots_of}
        size = _approx_size(entry)
        if slices[j]["s"] and used + size > plot_budget:
            return plots, len(with_plots) - pos
        used += size
        slices[j]["p"] = len(plots)
        plots.append(entry)
    return plots, 0


def _result_data(result: "EvalResult", plot_budget: int) -> Dict[str, Any]:
    """The embedded document of one result (RESULT in the module docstring)."""
    by_model: Dict[str, Dict[SliceKey, Mapping]] = {"candidate": {}, "baseline": {}, "diff": {}}
    slice_of: Dict[SliceKey, Mapping[str, Any]] = {}
    for r in result.records:
        sid = slice_key(r["slice"])
        slice_of.setdefault(sid, r["slice"])
        by_model.setdefault(r["model"], {})[sid] = r
    order = list(slice_of)
    metrics = list(dict.fromkeys(name for r in by_model["candidate"].values()
                                 for name in r.get("metrics", {})))
    validation = result.validation
    checks = [dict(c, label=slice_label(c.get("slice") or {}))
              for c in (validation or {}).get("checks", [])]
    failing = _failing_cells(checks, metrics)
    slices = [_slice_row(sid, slice_of[sid], by_model, metrics, failing.get(sid, {}))
              for sid in order]
    plots, left_out = _attach_plots(result, order, slices, plot_budget)

    gaps: Dict[Tuple[str, ...], List[str]] = {}
    for c in checks:
        if c.get("kind") == "max_gap" and c.get("status") == "fail":
            gaps.setdefault(tuple(c.get("spec") or ()), []).append(c.get("reason", ""))
    specs = _spec_slices(result, [slice_of[s] for s in order])
    for spec in specs:
        spec["gaps"] = gaps.get(tuple(sorted(spec["features"])), []) if spec["features"] else []
    checked = list(dict.fromkeys(
        (c["metric"], tuple(sorted(c.get("spec") or c.get("slice") or {}))) for c in checks))
    verdict = None
    if validation is not None:
        verdict = {k: validation.get(k) for k in ("blessed", "outcome", "reasons", "forced",
                                                  "unforced_outcome")}
    info = result.info
    return {
        "task": result.task, "path": result.path, "class_names": info.get("class_names"),
        "models": info.get("models"), "has_baseline": bool(by_model["baseline"]),
        "examples_read": info.get("examples_read"),
        "skipped_examples": info.get("skipped_examples") or {},
        "min_slice_size": info.get("min_slice_size"),
        "small_slice_size": small_slice_size(info.get("min_slice_size")),
        "baseline_error": info.get("baseline_error"),
        "verdict": verdict, "checks": checks, "checked": checked, "metrics": metrics,
        "default_metrics": _default_metrics(result.task, metrics, checks),
        "directions": _directions(result, metrics), "slices": slices, "specs": specs,
        "plots": plots, "plots_left_out": left_out,
        "sections": sections_html(result),  # fairness, discovered slices...: report/sections.py
        **_with_model_table(result.records, _default_metrics(result.task, metrics, checks)),
    }


def _with_model_table(records: Sequence[Mapping], metrics: Sequence[str]) -> Dict[str, Any]:
    """{"model_table": MODEL_TABLE} with more than two models or cross-model metrics, else {}
    (assay.report.models_table)."""
    table = model_table(records, metrics)
    return {} if table is None else {"model_table": table}


# ---------------------------------------------------------------------------------------------
# Several results: metrics over time

def run_labels(results: Sequence["EvalResult"]) -> List[str]:
    """Short distinct names for results: the shortest path tails that tell them apart, after
    the trailing parts that all share ("runs/v1/evaluation", "runs/v2/evaluation" -> "v1",
    "v2").

    Example:
        >>> from assay.results.result import EvalResult
        >>> rs = [EvalResult({}, path=p) for p in ("runs/v1/eval", "runs/v2/eval")]
        >>> run_labels(rs)
        ['v1', 'v2']
    """
    parts = [os.path.normpath(os.path.abspath(r.path)).split(os.sep) if r.path
             else [f"result {i + 1}"] for i, r in enumerate(results)]
    if len({tuple(p) for p in parts}) < len(parts):  # the same directory twice
        return [f"{i + 1}: {'/'.join(p[-2:])}" for i, p in enumerate(parts)]
    while all(len(p) > 1 for p in parts) and len({p[-1] for p in parts}) == 1:
        parts = [p[:-1] for p in parts]
    for depth in range(1, max(len(p) for p in parts) + 1):
        labels = ["/".join(p[-depth:]) for p in parts]
        if len(set(labels)) == len(labels):
            return labels
    return ["/".join(p) for p in parts]


def _timeline(results: Sequence["EvalResult"], labels: Sequence[str]) -> Dict[str, Any]:
    metrics: List[str] = []
    order: List[str] = []
    values: List[Dict[str, Dict[str, Mapping]]] = []
    names: Dict[str, str] = {}
    for result in results:
        per: Dict[str, Dict[str, Mapping]] = {}
        for r in result.records:
            sid = slice_key(r["slice"])
            if sid not in names:
                names[sid] = slice_label(r["slice"])
                order.append(sid)
            if "metrics" in r and r["model"] in ("candidate", "baseline"):
                per.setdefault(sid, {})[r["model"]] = r["metrics"]
                if r["model"] == "candidate":
                    metrics.extend(m for m in r["metrics"] if m not in metrics)
        values.append(per)
    kept = order[:MAX_TIMELINE_SLICES]
    rows = []
    for sid in kept:
        row = {"k": names[sid]}
        for model, key in (("candidate", "c"), ("baseline", "b")):
            series = []
            for per in values:
                got = per.get(sid, {}).get(model)
                series.append(None if got is None else [_exact(got.get(m)) for m in metrics])
            row[key] = series
        rows.append(row)
    return {"labels": list(labels), "metrics": metrics, "slices": rows,
            "left_out": len(order) - len(kept)}


def check_result(item: Any) -> None:
    """Raises TypeError unless `item` is a result: an EvalResult (or an object like one)."""
    if not all(hasattr(item, name) for name in ("records", "info", "plot_records", "validation")):
        raise TypeError(f"a result must be an EvalResult (got {item!r}, a {type(item).__name__});"
                        f" read a results directory with assay.load_result(path)")


def report_data(results: Union["EvalResult", Sequence["EvalResult"]],
                labels: Optional[Sequence[str]] = None,
                plot_budget: int = PAGE_PLOT_BUDGET) -> Dict[str, Any]:
    """The document the page embeds (layout in the module docstring)."""
    if not isinstance(results, (list, tuple)):
        check_result(results)
        return {"kind": "single", "result": _result_data(results, plot_budget)}
    results = list(results)
    if not results:
        raise ConfigError("report_data needs at least one result (got an empty list)")
    for r in results:
        check_result(r)
    labels = list(labels) if labels is not None else run_labels(results)
    if len(labels) != len(results):
        raise ConfigError(f"give one label per result ({len(results)} results, "
                         f"{len(labels)} labels)")
    runs = []
    for label, r in zip(labels, results):
        v = r.validation or {}
        runs.append({"label": label, "path": r.path, "task": r.task, "blessed": r.blessed,
                     "outcome": v.get("outcome"), "reasons": v.get("reasons") or [],
                     "examples_read": r.info.get("examples_read")})
    return {"kind": "compare", "runs": runs, "timeline": _timeline(results, labels),
            "result": _result_data(results[-1], plot_budget)}



__all__ = ["MAX_CURVE_POINTS", "MAX_TIMELINE_SLICES", "NOTEBOOK_PLOT_BUDGET", "PAGE_PLOT_BUDGET",
           "as_number", "check_result", "report_data", "run_labels", "small_slice_size"]
