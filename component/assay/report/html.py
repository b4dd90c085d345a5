"""The report: one self-contained HTML page of a result (or of several), and the notebook view.

    assay report out/                                  # writes out/report.html
    assay report --compare runs/1 runs/2 runs/3 -o compare.html

The page holds everything it needs: the data as one JSON document, the CSS, and a small
hand-written script (assets/report.js) that draws the slice tables and the SVG charts
from that document. Nothing is fetched, so it opens offline, from disk, inside the KFP UI's
sandboxed frame and in a notebook. Without the script (an untrusted notebook, a mail client) the
verdict, every check and the first rows of each slice table are still there as plain HTML.

The embedded document (`report_data`), with short keys because a report may hold thousands of
slices:

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
                          "f": {metric index: failed-check reason}, "p": plot index or null}],
              "specs": [{"name", "rows": [slice index...], "gaps": [failed max_gap reasons]}],
              "plots": [{"candidate": PLOTS, "baseline": PLOTS}], "plots_left_out": n}

    PLOTS = {"roc": {"x": fpr, "y": tpr, "t": thresholds}, "pr": {"x": recall, "y": precision,
             "t": thresholds}, "cal": {"bins", "p": mean prediction, "l": mean label,
             "w": weight}, "cm": {"labels", "m": matrix}, "res": {"q": quantiles, "v": values}}

`report_data` also gives each RESULT "checks" (every check of validation.json, with its slice's
label): the page shows them as HTML and leaves them out of the embedded JSON.

Metric values are exact; plot values are rounded (curves to 4 decimals; the exact values are
in plots.json). NaN is null, infinities are the strings "Infinity" / "-Infinity".
Curves are thinned to at most 81 points, and when the plots of every slice would pass
`plot_budget` bytes, the plots of the overall slice, of slices that fail a check and of the
largest slices are kept and the page says how many were left out.

Example:
    >>> from assay import report
    >>> path = report.write_report("out/")                    # doctest: +SKIP
    >>> html = report.render_report(assay.load_result("out/"))  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import html
import json
import math
import os
import re
import tempfile
import uuid
from importlib import resources
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from assay.results.result import EvalResult, load_result
from assay.validation.checks import metric_direction

REPORT_FILE = "report.html"
PAGE_PLOT_BUDGET = 3_000_000
NOTEBOOK_PLOT_BUDGET = 1_000_000
STATIC_ROWS = 50
STATIC_CHECKS = 100
MAX_CURVE_POINTS = 81
MAX_TIMELINE_SLICES = 500
_COUNTS = ("example_count", "weighted_example_count")
_DEFAULT_METRICS = {
    "binary": ("auc", "auc_pr", "log_loss", "accuracy", "precision", "recall", "calibration"),
    "multiclass": ("accuracy", "top_3_accuracy", "log_loss", "f1_macro", "auc_macro"),
    "regression": ("rmse", "mae", "mape", "r2", "mean_prediction"),
}
_KIND_TEXT = {"min": "min", "max": "max", "max_regression_absolute": "max regression",
              "max_regression_relative": "max regression (relative)", "max_gap": "max gap"}
_WITHHELD_COUNT = re.compile(r"(\d+) examples?")

ResultLike = Union[EvalResult, str, os.PathLike]


# ---------------------------------------------------------------------------------------------
# Numbers and names

def slice_label(slice_: Mapping[str, Any]) -> str:
    """'Overall' for {}, else 'payment=cash, day=3'."""
    if not slice_:
        return "Overall"
    return ", ".join(f"{k}={v}" for k, v in slice_.items())


SliceId = Tuple[Tuple[str, Any], ...]


def _slice_id(slice_: Mapping[str, Any]) -> SliceId:
    """A hashable key of a slice; values match as validation matches them (3, 3.0 and "3")."""
    def norm(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return v
        return str(int(v)) if float(v).is_integer() else repr(float(v))

    return tuple(sorted((k, norm(v)) for k, v in slice_.items()))


def _number(value: Any) -> Optional[float]:
    """value as a float when it is a number (numpy scalars included), else None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def fmt(value: Any, signed: bool = False) -> str:
    """A number as the report shows it: 4 significant digits, integers with separators."""
    v = _number(value)
    if v is None or math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return ("+" if signed and v > 0 else "") + ("∞" if v > 0 else "-∞")
    if v.is_integer() and 1 <= abs(v) < 1e15:
        text = f"{int(v):,}"
    else:
        text = f"{v:.4g}"
    return ("+" if signed and v > 0 else "") + text


def small_slice_size(min_slice_size: Optional[int]) -> int:
    """Slices with fewer examples are marked small: their metrics are noisy."""
    return max(2 * (min_slice_size or 1), 100)


def _exact(value: Any) -> Any:
    """A metric value for the embedded JSON, unrounded (so that the page shows the same digits
    as the checks' reasons): NaN -> null, infinities -> "Infinity" / "-Infinity", integral
    floats -> ints (shorter)."""
    if value.__class__ is not float:  # the common case first: reports may have many slices
        value = _number(value)
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
    a = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    if idx is not None:
        a = a[np.asarray(idx, dtype=np.int64)]
    a = np.round(a, decimals)
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


def _directions(result: EvalResult, metrics: Sequence[str]) -> Dict[str, str]:
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
    chosen += [m for m in _DEFAULT_METRICS.get(task, ()) if m in available]
    if not chosen:
        chosen = available[:6]
    return list(dict.fromkeys(chosen))[:6]


def _spec_slices(result: EvalResult, slices: Sequence[Mapping]) -> List[Dict[str, Any]]:
    """The slices of each slicing spec of the result, as indices into `slices`."""
    from assay.config.schema import parse_slice_spec

    specs = []
    for i, entry in enumerate(result.info.get("slicing_specs") or [{"name": "overall",
                                                                       "spec": []}]):
        try:
            spec = parse_slice_spec(entry.get("spec"), i)
            features, fixed = list(spec.features), dict(spec.values)
        except (ValueError, TypeError):
            continue
        rows = [j for j, s in enumerate(slices)
                if list(s) == features and all(_same(s[k], v) for k, v in fixed.items())]
        specs.append({"name": entry.get("name") or ", ".join(features) or "overall",
                      "features": features, "rows": rows})
    claimed = {j for spec in specs for j in spec["rows"]}
    others = [j for j in range(len(slices)) if j not in claimed]
    overall = next((j for j in others if not slices[j]), None)
    if overall is not None:
        specs.insert(0, {"name": "overall", "features": [], "rows": [overall]})
        others.remove(overall)
    if others:
        specs.append({"name": "other slices", "features": [], "rows": others})
    return specs


def _same(a: Any, b: Any) -> bool:
    return a == b or str(a) == str(b)


def _failing_cells(checks: Sequence[Mapping[str, Any]], metrics: Sequence[str]
                   ) -> Dict[SliceId, Dict[int, str]]:
    """{slice: {metric index: reason}} of the failed per-slice checks."""
    failing: Dict[SliceId, Dict[int, str]] = {}
    for c in checks:
        if c.get("status") == "fail" and c.get("kind") != "max_gap" and c["metric"] in metrics:
            failing.setdefault(_slice_id(c.get("slice") or {}), {}).setdefault(
                metrics.index(c["metric"]), c.get("reason", ""))
    return failing


def _slice_row(sid: SliceId, slice_: Mapping[str, Any], by_model: Mapping[str, Mapping],
               metrics: Sequence[str], failing: Mapping[int, str]) -> Dict[str, Any]:
    """One slice of the embedded document (keys in the module docstring)."""
    cand = by_model["candidate"].get(sid, {})
    withheld = cand.get("withheld")
    row: Dict[str, Any] = {"k": slice_label(slice_), "s": slice_, "n": None, "h": withheld,
                           "c": None, "b": None, "f": dict(failing), "p": None}
    if withheld:
        m = _WITHHELD_COUNT.search(withheld)
        row["n"] = int(m.group(1)) if m else None
        return row
    values = cand.get("metrics", {})
    row["n"] = _exact(values.get("example_count"))
    row["c"] = [_exact(values.get(m)) for m in metrics]
    # The diff is not embedded: candidate - baseline in the page gives the same doubles.
    baseline = by_model["baseline"].get(sid, {}).get("metrics")
    if baseline is not None:
        row["b"] = [_exact(baseline.get(m)) for m in metrics]
    return row


def _attach_plots(result: EvalResult, order: Sequence[SliceId], slices: List[Dict[str, Any]],
                  plot_budget: int) -> Tuple[List[Dict[str, Any]], int]:
    """The compact plots of as many slices as `plot_budget` bytes allow: the overall slice,
    then slices that fail a check, then the largest. Sets each slice's "p"; returns
    (plots, how many slices with plots were left out)."""
    plots_of = {(_slice_id(p["slice"]), p["model"]): p["plots"] for p in result.plot_records}
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


def _result_data(result: EvalResult, plot_budget: int) -> Dict[str, Any]:
    """The embedded document of one result (RESULT in the module docstring)."""
    by_model: Dict[str, Dict[SliceId, Mapping]] = {"candidate": {}, "baseline": {}, "diff": {}}
    slice_of: Dict[SliceId, Mapping[str, Any]] = {}
    for r in result.records:
        sid = _slice_id(r["slice"])
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
    }


# ---------------------------------------------------------------------------------------------
# Several results: metrics over time

def run_labels(results: Sequence[EvalResult]) -> List[str]:
    """Short distinct names for results: the shortest path tails that tell them apart, after
    the trailing parts that all share ("runs/v1/evaluation", "runs/v2/evaluation" -> "v1",
    "v2").

    Example:
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


def _timeline(results: Sequence[EvalResult], labels: Sequence[str]) -> Dict[str, Any]:
    metrics: List[str] = []
    order: List[str] = []
    values: List[Dict[str, Dict[str, Mapping]]] = []
    names: Dict[str, str] = {}
    for result in results:
        per: Dict[str, Dict[str, Mapping]] = {}
        for r in result.records:
            sid = _slice_id(r["slice"])
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


def report_data(results: Union[EvalResult, Sequence[EvalResult]],
                labels: Optional[Sequence[str]] = None,
                plot_budget: int = PAGE_PLOT_BUDGET) -> Dict[str, Any]:
    """The document the page embeds (layout in the module docstring)."""
    if isinstance(results, EvalResult):
        return {"kind": "single", "result": _result_data(results, plot_budget)}
    results = list(results)
    if not results:
        raise ValueError("report_data needs at least one result (got an empty list)")
    labels = list(labels) if labels is not None else run_labels(results)
    if len(labels) != len(results):
        raise ValueError(f"give one label per result ({len(results)} results, "
                         f"{len(labels)} labels)")
    runs = []
    for label, r in zip(labels, results):
        v = r.validation or {}
        runs.append({"label": label, "path": r.path, "task": r.task, "blessed": r.blessed,
                     "outcome": v.get("outcome"), "reasons": v.get("reasons") or [],
                     "examples_read": r.info.get("examples_read")})
    return {"kind": "compare", "runs": runs, "timeline": _timeline(results, labels),
            "result": _result_data(results[-1], plot_budget)}


# ---------------------------------------------------------------------------------------------
# Plain HTML: what is readable without the script

def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _verdict_html(data: Mapping[str, Any]) -> str:
    verdict = data["verdict"]
    if verdict is None:
        return ('<section class="ar-verdict ar-none"><div class="ar-badge">NO VERDICT</div>'
                '<p>Validation did not run for this result (no validation.json).</p></section>')
    blessed = bool(verdict["blessed"])
    word = "BLESSED" if blessed else "NOT_BLESSED"
    parts = [f'<section class="ar-verdict {"ar-ok" if blessed else "ar-bad"}" '
             f'data-blessed="{str(blessed).lower()}">',
             # Inline style too: notebooks that do not trust the output drop <style>.
             f'<div class="ar-badge" style="font-size:22px;font-weight:800;color:'
             f'{"#1b7f3b" if blessed else "#c62828"}">{word}</div>',
             (f'<div class="ar-outcome">{_e(verdict.get("outcome") or "")}</div>'
              if verdict.get("outcome") != word else ""),
             '<ul class="ar-reasons">']
    parts += [f"<li>{_e(r)}</li>" for r in verdict.get("reasons") or []]
    parts.append("</ul>")
    if verdict.get("forced"):
        parts.append(f'<p class="ar-forced">Forced: {_e(verdict["forced"])} (the checks gave '
                     f'{_e(verdict.get("unforced_outcome") or "")})</p>')
    if data.get("baseline_error"):
        parts.append(f'<p class="ar-forced">Baseline error: {_e(data["baseline_error"])}</p>')
    checks = data["checks"]
    failed = [c for c in checks if c.get("status") == "fail"]
    if failed:
        parts.append(f'<h3>Failed checks ({len(failed):,})</h3>')
        parts.append(_checks_table(failed, "ar-failed"))
    if checks:
        counts = {s: sum(1 for c in checks if c.get("status") == s)
                  for s in ("pass", "fail", "skipped")}
        parts.append(f'<details class="ar-allchecks"><summary>All {len(checks):,} checks: '
                     f'{counts["pass"]:,} passed, {counts["fail"]:,} failed, '
                     f'{counts["skipped"]:,} skipped</summary>'
                     f'{_checks_table(checks, "ar-checks")}</details>')
    parts.append("</section>")
    return "".join(parts)


def _checks_table(checks: Sequence[Mapping[str, Any]], cls: str) -> str:
    head = ("<tr><th>Status</th><th>Slice</th><th>Metric</th><th>Check</th><th>Threshold</th>"
            "<th>Candidate</th><th>Baseline</th><th>Change</th><th>Reason</th></tr>")
    rows = []
    for c in checks[:STATIC_CHECKS]:
        where = c["label"] if not c.get("spec") else f"across [{', '.join(c['spec'])}]"
        relative = c.get("kind") == "max_regression_relative"
        change = c.get("change")
        change_text = (fmt(change * 100, signed=True) + "%" if relative and
                       _number(change) is not None else fmt(change, signed=True))
        threshold = c.get("threshold")
        threshold_text = fmt(threshold * 100) + "%" if relative and _number(threshold) \
            is not None else fmt(threshold)
        rows.append(
            f'<tr class="ar-{_e(c.get("status"))}"><td>{_e(c.get("status"))}</td>'
            f'<td>{_e(where)}</td><td>{_e(c.get("metric"))}</td>'
            f'<td>{_e(_KIND_TEXT.get(c.get("kind"), c.get("kind")))}</td>'
            f'<td class="ar-num">{_e(threshold_text)}</td>'
            f'<td class="ar-num">{_e(fmt(c.get("candidate")))}</td>'
            f'<td class="ar-num">{_e(fmt(c.get("baseline")))}</td>'
            f'<td class="ar-num">{_e(change_text)}</td><td>{_e(c.get("reason", ""))}</td></tr>')
    more = (f'<p class="ar-more">and {len(checks) - STATIC_CHECKS:,} more; every check is in '
            f'validation.json.</p>' if len(checks) > STATIC_CHECKS else "")
    return (f'<table class="ar-t {cls}"><thead>{head}</thead><tbody>{"".join(rows)}</tbody>'
            f'</table>{more}')


def _summary_html(data: Mapping[str, Any]) -> str:
    models = data.get("models") or {}

    def describe(spec):
        if isinstance(spec, Mapping) and "prediction" in spec:
            return f"prediction column {spec['prediction']}"
        return str(spec)

    n_slices = len(data["slices"])
    withheld = sum(1 for s in data["slices"] if s["h"])
    items = [f"task <b>{_e(data['task'])}</b>",
             f"<b>{_e(fmt(data.get('examples_read')))}</b> examples read",
             f"<b>{n_slices:,}</b> slices ({withheld:,} withheld below min_slice_size "
             f"{_e(data.get('min_slice_size'))})"]
    for name in ("candidate", "baseline"):
        if name in models:
            items.append(f'<span class="ar-key ar-{name}"></span>{name}: '
                         f'{_e(describe(models[name]))}')
    skipped = data.get("skipped_examples") or {}
    if skipped:
        items.append("skipped: " + _e(", ".join(f"{n} {what}" for what, n in skipped.items())))
    if not data["has_baseline"]:
        items.append("no baseline: changes are not shown")
    return '<p class="ar-summary">' + " · ".join(items) + "</p>"


def _spec_html(data: Mapping[str, Any], i: int, spec: Mapping[str, Any]) -> str:
    slices = data["slices"]
    rows = spec["rows"]
    withheld = sum(1 for j in rows if slices[j]["h"])
    failing = sum(1 for j in rows if slices[j]["f"])
    notes = [f"{len(rows):,} slice{'s' * (len(rows) != 1)}"]
    if withheld:
        notes.append(f"{withheld:,} withheld")
    if failing:
        notes.append(f'<span class="ar-failtext">{failing:,} failing</span>')
    out = [f'<section class="ar-spec" data-spec="{i}">',
           f'<h2>{_e(spec["name"])} <small>{" · ".join(notes)}</small></h2>']
    out += [f'<p class="ar-gap">{_e(g)}</p>' for g in spec.get("gaps", [])]
    out.append('<div class="ar-bars"></div><div class="ar-table">')
    out.append(_static_table(data, rows[:STATIC_ROWS]))
    if len(rows) > STATIC_ROWS:
        out.append(f'<p class="ar-more">The first {STATIC_ROWS} of {len(rows):,} slices; the '
                   f'whole table, sortable and filterable, needs JavaScript.</p>')
    out.append('</div><div class="ar-plots"></div></section>')
    return "".join(out)


def _static_table(data: Mapping[str, Any], rows: Sequence[int]) -> str:
    metrics = data["metrics"]
    shown = [metrics.index(m) for m in data["default_metrics"]]
    has_b = data["has_baseline"]
    sub = 3 if has_b else 1
    head1 = ['<th rowspan="2">Slice</th><th rowspan="2">Examples</th>']
    head2 = []
    for m in shown:
        head1.append(f'<th colspan="{sub}">{_e(metrics[m])}</th>' if has_b else
                     f'<th rowspan="2">{_e(metrics[m])}</th>')
        if has_b:
            head2.append("<th>cand</th><th>base</th><th>Δ</th>")
    body = []
    small = data["small_slice_size"]
    for j in rows:
        s = data["slices"][j]
        is_small = s["n"] is not None and not s["h"] and s["n"] < small
        cls = " ".join(c for c, on in (("ar-fail", s["f"]), ("ar-withheld", s["h"]),
                                       ("ar-small", is_small)) if on)
        cells = [f'<td class="ar-sl">{_e(s["k"])}</td>',
                 f'<td class="ar-num">{_e(fmt(s["n"]))}</td>']
        if s["h"]:
            cells.append(f'<td class="ar-why" colspan="{sub * len(shown)}">{_e(s["h"])}</td>')
        else:
            for m in shown:
                bad = ' class="ar-num ar-bad" title="' + _e(s["f"][m]) + '"' if m in s["f"] \
                    else ' class="ar-num"'
                cells.append(f"<td{bad}>{_e(fmt(s['c'][m]))}</td>")
                if has_b:
                    base = _number(s["b"][m]) if s["b"] else None
                    cand = _number(s["c"][m])
                    diff = cand - base if cand is not None and base is not None else None
                    cells.append(f'<td class="ar-num">{_e(fmt(base))}</td>'
                                 f'<td class="ar-num">{_e(fmt(diff, signed=True))}</td>')
        body.append(f'<tr class="{cls}" data-slice="{j}">{"".join(cells)}</tr>')
    head = f'<tr>{"".join(head1)}</tr>' + (f'<tr>{"".join(head2)}</tr>' if head2 else "")
    return (f'<table class="ar-t ar-slices"><thead>{head}</thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def _compare_html(data: Mapping[str, Any]) -> str:
    runs, timeline = data["runs"], data["timeline"]
    metrics = timeline["metrics"]
    shown = [m for m in data["result"]["default_metrics"] if m in metrics]
    overall = next((s for s in timeline["slices"] if s["k"] == "Overall"), None)
    head = "".join(f"<th>{_e(m)}</th>" for m in shown)
    rows = []
    for i, run in enumerate(runs):
        verdict = ("BLESSED" if run["blessed"] else "NOT_BLESSED") if run["blessed"] is not None \
            else "no verdict"
        values = overall["c"][i] if overall and overall["c"][i] else None
        cells = "".join(
            f'<td class="ar-num">{_e(fmt(values[metrics.index(m)]) if values else "")}</td>'
            for m in shown)
        reason = "; ".join(run["reasons"])
        rows.append(f'<tr><td>{_e(run["label"])}</td><td class="ar-v-{verdict.lower()}" '
                    f'title="{_e(reason)}">{verdict}</td>'
                    f'<td class="ar-num">{_e(fmt(run["examples_read"]))}</td>{cells}</tr>')
    return ('<section class="ar-compare"><h2>Metrics over time <small>overall slice, candidate, '
            f'{len(runs)} results in the order given</small></h2>'
            f'<table class="ar-t ar-runs"><thead><tr><th>Result</th><th>Verdict</th>'
            f'<th>Examples</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
            '<div class="ar-timeline"></div></section>')


def _asset(name: str) -> str:
    return (resources.files("assay.report") / "assets" / name).read_text(encoding="utf-8")


def _json_for_script(data: Any) -> str:
    text = json.dumps(data, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    # Inside <script>, "</script>" or "<!--" in a slice value would end the element early.
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _fragment(data: Mapping[str, Any], root_id: str) -> str:
    result = data["result"]
    title = "Comparison of results" if data["kind"] == "compare" else "Evaluation report"
    where = ""
    if data["kind"] == "single" and result.get("path"):
        where = f' <span class="ar-path">{_e(result["path"])}</span>'
    elif data["kind"] == "compare":
        where = f' <span class="ar-path">{len(data["runs"])} results</span>'

    parts = [f'<div class="assay-report" id="{root_id}"><style>{_asset("report.css")}</style>',
             f'<header class="ar-head"><span class="ar-logo">assay</span> {title}{where}</header>',
             '<p class="ar-nojs">The charts, the sorting and the filtering need JavaScript (in '
             'Jupyter, trust the notebook); the verdict and the tables below are plain HTML.</p>']
    if data["kind"] == "compare":
        parts.append(_compare_html(data))
        parts.append(f'<h2 class="ar-latest">Latest result: {_e(data["runs"][-1]["label"])}</h2>')
    parts.append(_verdict_html(result))
    parts.append(_summary_html(result))
    if result["plots_left_out"]:
        parts.append(f'<p class="ar-more">Plots of {result["plots_left_out"]:,} smaller slices '
                     f'are left out to keep the page small; they are in plots.json.</p>')
    parts += [_spec_html(result, i, spec) for i, spec in enumerate(result["specs"])]
    # The checks are plain HTML above; the script needs only what is folded into the slices.
    embedded = dict(data, result={k: v for k, v in result.items() if k != "checks"})
    parts.append(f'<script type="application/json" class="ar-data">'
                 f'{_json_for_script(embedded)}</script>')
    parts.append(f'<script>{_asset("report.js")}\nassayReport.boot(document.currentScript, '
                 f'"{root_id}");</script></div>')
    return "".join(parts)


# ---------------------------------------------------------------------------------------------
# Public API

def _as_result(item: ResultLike) -> EvalResult:
    if isinstance(item, EvalResult):
        return item
    if isinstance(item, (str, os.PathLike)):
        return load_result(os.fspath(item))
    raise TypeError(f"a result must be an EvalResult or a results directory "
                    f"(got {item!r}, a {type(item).__name__})")


def render_report(result: Union[ResultLike, Sequence[ResultLike]],
                  labels: Optional[Sequence[str]] = None,
                  plot_budget: int = PAGE_PLOT_BUDGET) -> str:
    """The report as one self-contained HTML page.

    Args:
      result: an EvalResult or a results directory; or a list of them, oldest first, for a
        comparison (metrics over time, and the full report of the last).
      labels: names of the results in a comparison (default: the shortest distinct path tails).
      plot_budget: the most bytes of plot data to embed (see the module docstring).

    Example:
        >>> html = render_report(load_result("out/"))                 # doctest: +SKIP
        >>> html = render_report(["runs/1", "runs/2"], labels=["v1", "v2"])  # doctest: +SKIP
    """
    if isinstance(result, (list, tuple)):
        data = report_data([_as_result(r) for r in result], labels, plot_budget)
    else:
        data = report_data(_as_result(result), None, plot_budget)
    title = "assay: " + ("comparison" if data["kind"] == "compare" else
                         f"{data['result']['task']} evaluation")
    verdict = data["result"]["verdict"]
    if verdict is not None:
        title += " — " + ("BLESSED" if verdict["blessed"] else "NOT_BLESSED")
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{_e(title)}</title><style>body{{margin:0;background:#f6f7f9}}</style>'
            f'</head><body>{_fragment(data, "assay-report")}</body></html>\n')


def render_notebook(result: Union[ResultLike, Sequence[ResultLike]]) -> str:
    """The report as an HTML fragment for a notebook output cell (`EvalResult._repr_html_`).

    The same content as `render_report`, with its CSS scoped to the fragment, a fresh element
    id, and a smaller plot budget (notebooks store their outputs).

    Example:
        >>> from IPython.display import HTML                          # doctest: +SKIP
        >>> HTML(render_notebook(load_result("out/")))                 # doctest: +SKIP
    """
    if isinstance(result, (list, tuple)):
        data = report_data([_as_result(r) for r in result], None, NOTEBOOK_PLOT_BUDGET)
    else:
        data = report_data(_as_result(result), None, NOTEBOOK_PLOT_BUDGET)
    return _fragment(data, f"assay-{uuid.uuid4().hex[:12]}")


def write_report(results_dir: Union[ResultLike, Sequence[ResultLike]],
                 output: Optional[str] = None, labels: Optional[Sequence[str]] = None) -> str:
    """Writes the report and returns its path.

    Args:
      results_dir: a results directory (or EvalResult); or a list of them for a comparison.
      output: the file to write; default `report.html` inside the results directory (a
        comparison needs `output`).
      labels: names of the results in a comparison.

    The file is written to a temporary name beside `output` and renamed into place.

    Example:
        >>> write_report("out/")                                       # doctest: +SKIP
        'out/report.html'
    """
    compare = isinstance(results_dir, (list, tuple))
    if output is None:
        if compare:
            raise ValueError("a comparison report needs an output file (-o compare.html)")
        base = results_dir.path if isinstance(results_dir, EvalResult) else results_dir
        if base is None:
            raise ValueError("this EvalResult was not read from a directory; give output")
        output = os.path.join(os.fspath(base), REPORT_FILE)
    page = render_report(list(results_dir) if compare else results_dir, labels)
    output = os.fspath(output)
    parent = os.path.dirname(os.path.abspath(output))
    os.makedirs(parent, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=".report.", suffix=".html.tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(page)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a report is for reading
        os.replace(tmp, output)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return output


__all__ = ["REPORT_FILE", "fmt", "render_notebook", "render_report", "report_data",
           "run_labels", "slice_label", "write_report"]
