"""The report: one self-contained HTML page of a result (or of several), and the notebook view.

    assay report out/                                  # writes out/report.html
    assay report --compare runs/1 runs/2 runs/3 -o compare.html

The page holds everything it needs: the data as one JSON document (`assay.report.data`), the
CSS, and a small hand-written script (assets/report.js) that draws the slice tables and the SVG
charts from that document. Nothing is fetched, so it opens offline, from disk, inside the KFP
UI's sandboxed frame and in a notebook. Without the script (an untrusted notebook, a mail
client) the verdict, every check and the first rows of each slice table are still there as
plain HTML.

The report takes EvalResult objects; reading a results directory is the caller's job
(`assay.load_result`).

Example:
    >>> from assay.report import html as report
    >>> result = assay.load_result("out/")                         # doctest: +SKIP
    >>> path = report.write_report(result)                         # doctest: +SKIP
    >>> page = report.render_report(result)                        # doctest: +SKIP
"""

from __future__ import annotations

import decimal
import html
import json
import math
import os
import re
import uuid
from importlib import resources
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence, Union

from assay import fastjson
from assay.data.files import join, write_text
from assay.report.data import (NOTEBOOK_PLOT_BUDGET, PAGE_PLOT_BUDGET, as_number,
                               check_result, report_data, run_labels)
from assay.report.models_table import model_table_html
from assay.results.slices import OVERALL, slice_label
from assay.errors import ConfigError

if TYPE_CHECKING:  # for annotations only: the report imports nothing from the results format
    from assay.results.result import EvalResult

REPORT_FILE = "report.html"
STATIC_ROWS = 50
STATIC_CHECKS = 100
_KIND_TEXT = {"min": "min", "max": "max", "max_regression_absolute": "max regression",
              "max_regression_relative": "max regression (relative)", "max_gap": "max gap"}

Results = Union["EvalResult", Sequence["EvalResult"]]


# ---------------------------------------------------------------------------------------------
# Numbers

def _round_half_up(v: float, digits: int) -> decimal.Decimal:
    """`v` to `digits` significant digits, ties away from zero as JavaScript's toPrecision."""
    d = decimal.Decimal(v)  # the exact value of the double, so ties are real ties
    exponent = d.adjusted() - digits + 1
    return d.quantize(decimal.Decimal(1).scaleb(exponent), rounding=decimal.ROUND_HALF_UP)


def fmt(value: Any, signed: bool = False) -> str:
    """A number as the report shows it, the same text as `fmt` in assets/report.js.

    Integers (1 <= |v| < 1e15) with thousands separators; other values below 1e-4 or from 1e6
    on in exponent form with 4 significant digits ("1.235e+6"); the rest with 4 significant
    digits in plain form ("12350", "0.1235"). NaN (and what is not a number) is "NaN".

    Example:
        >>> fmt(12345.6), fmt(12345), fmt(0.00001234), fmt(0.5, signed=True)
        ('12350', '12,345', '1.234e-5', '+0.5')
    """
    v = as_number(value)
    if v is None or math.isnan(v):
        return "NaN"
    sign = "+" if signed and v > 0 else ""
    if math.isinf(v):
        return sign + ("∞" if v > 0 else "-∞")
    a = abs(v)
    if v.is_integer() and 1 <= a < 1e15:
        return sign + f"{int(v):,}"
    if a != 0 and (a < 1e-4 or a >= 1e6):
        # toExponential(3), then the mantissa's trailing zeros dropped: "1.200e+6" -> "1.2e+6".
        d = _round_half_up(v, 4)
        digits = f"{abs(d.scaleb(-d.adjusted())):.3f}"
        text = f"{'-' if v < 0 else ''}{digits}e{d.adjusted():+d}"
        return sign + re.sub(r"\.?0+e", "e", text, count=1)
    # String(Number(v.toPrecision(4))): rounded, then written as the shortest plain number.
    rounded = float(_round_half_up(v, 4)) if a != 0 else 0.0
    return sign + (str(int(rounded)) if rounded.is_integer() else repr(rounded))


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
        # With `confidence:`, an inconclusive check passed or failed by on_inconclusive.
        unsure = sum(1 for c in checks if c.get("outcome") == "inconclusive")
        parts.append(f'<details class="ar-allchecks"><summary>All {len(checks):,} checks: '
                     f'{counts["pass"]:,} passed, {counts["fail"]:,} failed, '
                     f'{counts["skipped"]:,} skipped'
                     f'{f" ({unsure:,} inconclusive)" if unsure else ""}</summary>'
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
                       as_number(change) is not None else fmt(change, signed=True))
        threshold = c.get("threshold")
        threshold_text = fmt(threshold * 100) + "%" if relative and as_number(threshold) \
            is not None else fmt(threshold)
        rows.append(
            f'<tr class="ar-{_e(c.get("status"))}"><td>{_e(c.get("status"))}'
            f'{" (inconclusive)" if c.get("outcome") == "inconclusive" else ""}</td>'
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
    for name in models:  # candidate, baseline, then any benchmark models
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
                    base = as_number(s["b"][m]) if s["b"] else None
                    cand = as_number(s["c"][m])
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
    overall = next((s for s in timeline["slices"] if s["k"] == OVERALL), None)
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
    text = fastjson.compact(data, lambda v: json.dumps(
        v, separators=(",", ":"), allow_nan=False, ensure_ascii=False, default=fastjson.json_value))
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
    parts.append(model_table_html(result.get("model_table"), fmt))
    if result["plots_left_out"]:
        parts.append(f'<p class="ar-more">Plots of {result["plots_left_out"]:,} smaller slices '
                     f'are left out to keep the page small; they are in assay_plots.json.</p>')
    parts += result.get("sections") or []   # assay.report.sections: static HTML
    parts += [_spec_html(result, i, spec) for i, spec in enumerate(result["specs"])]
    # The checks and sections are plain HTML above; the script needs only what is folded into
    # the slices.
    embedded = dict(data, result={k: v for k, v in result.items()
                                  if k not in ("checks", "sections")})
    parts.append(f'<script type="application/json" class="ar-data">'
                 f'{_json_for_script(embedded)}</script>')
    parts.append(f'<script>{_asset("report.js")}\nassayReport.boot(document.currentScript, '
                 f'"{root_id}");</script></div>')
    return "".join(parts)



# ---------------------------------------------------------------------------------------------
# Public API

def _data(result: Results, labels: Optional[Sequence[str]], plot_budget: int):
    if isinstance(result, (list, tuple)):
        return report_data(list(result), labels, plot_budget)
    return report_data(result, None, plot_budget)


def render_report(result: Results, labels: Optional[Sequence[str]] = None,
                  plot_budget: int = PAGE_PLOT_BUDGET) -> str:
    """The report as one self-contained HTML page.

    Args:
      result: an EvalResult; or a list of them, oldest first, for a comparison (metrics over
        time, and the full report of the last).
      labels: names of the results in a comparison (default: the shortest distinct path tails).
      plot_budget: the most bytes of plot data to embed (see `assay.report.data`).

    Raises:
      TypeError: `result` is not an EvalResult (a path: read it with assay.load_result).

    Example:
        >>> html = render_report(load_result("out/"))                 # doctest: +SKIP
        >>> html = render_report([old, new], labels=["v1", "v2"])     # doctest: +SKIP
    """
    data = _data(result, labels, plot_budget)
    title = "assay: " + ("comparison" if data["kind"] == "compare" else
                         f"{data['result']['task']} evaluation")
    verdict = data["result"]["verdict"]
    if verdict is not None:
        title += " — " + ("BLESSED" if verdict["blessed"] else "NOT_BLESSED")
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{_e(title)}</title><style>body{{margin:0;background:#f6f7f9}}</style>'
            f'</head><body>{_fragment(data, "assay-report")}</body></html>\n')


def render_notebook(result: Results) -> str:
    """The report as an HTML fragment for a notebook output cell (`EvalResult._repr_html_`).

    The same content as `render_report`, with its CSS scoped to the fragment, a fresh element
    id, and a smaller plot budget (notebooks store their outputs).

    Example:
        >>> from IPython.display import HTML                          # doctest: +SKIP
        >>> HTML(render_notebook(load_result("out/")))                 # doctest: +SKIP
    """
    return _fragment(_data(result, None, NOTEBOOK_PLOT_BUDGET), f"assay-{uuid.uuid4().hex[:12]}")


def write_report(result: Results, output: Optional[str] = None,
                 labels: Optional[Sequence[str]] = None) -> str:
    """Writes the report and returns its path.

    Args:
      result: an EvalResult; or a list of them for a comparison.
      output: the file to write, local or remote (gs://, s3://, ...); default `report.html`
        beside the result's files (`result.location`: the directory, or on an object store the
        published generation; a comparison needs `output`).
      labels: names of the results in a comparison.

    The file is written with `assay.data.files.write_text`: never seen half-written (a rename
    locally, one object upload remotely).

    Example:
        >>> write_report(load_result("out/"))                          # doctest: +SKIP
        'out/report.html'
    """
    compare = isinstance(result, (list, tuple))
    if output is None:
        if compare:
            raise ConfigError("a comparison report needs an output file (-o compare.html)")
        check_result(result)
        if result.path is None:
            raise ConfigError("this EvalResult was not read from a directory; give output")
        where = os.fspath(getattr(result, "location", None) or result.path)
        output = join(where, REPORT_FILE)
    return write_text(os.fspath(output), render_report(result, labels))


__all__ = ["REPORT_FILE", "fmt", "render_notebook", "render_report", "report_data",
           "run_labels", "slice_label", "write_report"]
