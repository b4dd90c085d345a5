"""The report's "Fairness" section: the `fairness` section of assay_metrics.json.

For each group (fairness.groups), inline-SVG bars of the rate of each of its slices at the
first fairness threshold (the section says which): the positive rate (demographic parity's
rate) and, with a label, the true and false positive rates (equalized odds' rates), with a
line at the reference's value; then the gaps and ratios (between groups and to the reference,
with intervals when `confidence:` was on) and the fairness checks that failed. Static HTML:
readable without JavaScript.
"""

from __future__ import annotations

import html
import math
from typing import Any, List, Mapping, Optional, Sequence, Tuple

from assay.metrics.fairness_names import PREFIX, format_threshold, indicator_name

_W, _BAR, _PAD, _LABEL = 320, 18, 4, 110
_FILL, _REF = "#2563eb", "#dc2626"
GROUP_METRICS = ("demographic_parity_difference", "demographic_parity_ratio",
                 "equalized_odds_difference", "equalized_odds_ratio")


def _num(value: Any) -> str:
    return "—" if not isinstance(value, (int, float)) or math.isnan(value) else f"{value:.4g}"


def _slice_text(slice_: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in slice_.items()) or "overall"


def bars_svg(title: str, rows: Sequence[Tuple[str, Optional[float]]],
             reference: Optional[float]) -> str:
    """Horizontal bars (one per slice, value in [0, 1]) with a dashed line at `reference`."""
    height = _PAD * 2 + _BAR * len(rows)
    span = _W - _LABEL - 2 * _PAD
    label = html.escape(title)
    parts = [f'<svg class="ar-fair-bars" viewBox="0 0 {_W} {height}" width="{_W}" '
             f'height="{height}" role="img" aria-label="{label}">']
    for i, (name, value) in enumerate(rows):
        y = _PAD + i * _BAR
        parts.append(f'<text x="{_LABEL - 4}" y="{y + _BAR * 0.7:.1f}" text-anchor="end" '
                     f'font-size="11">{html.escape(name)}</text>')
        if value is None or math.isnan(value):
            continue
        w = span * min(max(value, 0.0), 1.0)
        parts.append(f'<rect x="{_LABEL}" y="{y + 2}" width="{w:.1f}" height="{_BAR - 4}" '
                     f'fill="{_FILL}"><title>{html.escape(name)}: {value:.4g}</title></rect>')
    if reference is not None and not math.isnan(reference):
        x = _LABEL + span * min(max(reference, 0.0), 1.0)
        parts.append(f'<line class="ar-fair-ref" x1="{x:.1f}" x2="{x:.1f}" y1="0" '
                     f'y2="{height}" stroke="{_REF}" stroke-dasharray="3,2"><title>reference: '
                     f'{reference:.4g}</title></line>')
    parts.append("</svg>")
    return "".join(parts)


def _candidate_slices(result: Any, features: Sequence[str]) -> List[Mapping[str, Any]]:
    return [r for r in result.records if r.get("model") == "candidate" and "metrics" in r
            and sorted(r.get("slice", {})) == sorted(features)]


def _reference_value(result: Any, section: Mapping[str, Any], slices: Sequence[Mapping],
                     name: str) -> Optional[float]:
    ref = section.get("reference")
    if ref == "largest":
        def size(r):
            return r["metrics"].get("weighted_example_count", r["metrics"].get(
                "example_count", 0)) or 0
        chosen = max(slices, key=size, default=None)
    elif isinstance(ref, Mapping) and slices and sorted(ref) == sorted(slices[0]["slice"]):
        chosen = next((r for r in slices if {k: str(v) for k, v in r["slice"].items()} ==
                       {k: str(v) for k, v in ref.items()}), None)
    else:
        chosen = next((r for r in result.records if r.get("model") == "candidate"
                       and not r.get("slice") and "metrics" in r), None)
    value = chosen["metrics"].get(name) if chosen else None
    return value if isinstance(value, (int, float)) else None


def _group_html(result: Any, section: Mapping[str, Any], group: str, t: float,
                label_free: bool) -> str:
    slices = _candidate_slices(result, group.split(" x "))
    if not slices:
        return ""
    rates = ("positive_rate",) if label_free else \
        ("positive_rate", "true_positive_rate", "false_positive_rate")
    charts = []
    for rate in rates:
        name = indicator_name(rate, t)
        rows = [(_slice_text(r["slice"]), r["metrics"].get(name)) for r in slices]
        rows = [(n, v if isinstance(v, (int, float)) else None) for n, v in rows]
        ref = _reference_value(result, section, slices, name)
        charts.append(f'<figure><figcaption>{html.escape(rate)}@{format_threshold(t)} '
                      f'(line: reference {_num(ref)})</figcaption>'
                      f'{bars_svg(f"{group}: {rate}@{format_threshold(t)}", rows, ref)}'
                      f'</figure>')
    return f'<h3>{html.escape(group)}</h3><div class="ar-fair-charts">{"".join(charts)}</div>'


def _table_html(section: Mapping[str, Any]) -> str:
    groups = (section.get("group_metrics") or {}).get("candidate") or {}
    intervals = (section.get("intervals") or {}).get("candidate") or {}
    rows = []
    for group, values in groups.items():
        for method in ("between_groups", "to_reference"):
            for name, value in (values.get(method) or {}).items():
                iv = ((intervals.get(group) or {}).get(method) or {}).get(name) or {}
                ci = f"{_num(iv.get('lower'))} to {_num(iv.get('upper'))}" if iv else "—"
                rows.append(f"<tr><td>{html.escape(group)}</td><td>{html.escape(name)}</td>"
                            f"<td>{html.escape(method.replace('_', ' '))}</td>"
                            f'<td class="ar-num">{_num(value)}</td><td>{html.escape(ci)}</td>'
                            f"</tr>")
    if not rows:
        return ""
    return ('<div class="ar-tablewrap"><table class="ar-t ar-fair-table"><thead><tr>'
            '<th>group</th><th>metric</th><th>method</th><th>value</th><th>interval</th>'
            '</tr></thead><tbody>' + "".join(rows) + "</tbody></table></div>")


def is_fairness_check(check: Mapping[str, Any]) -> bool:
    """Whether a validation check is about fairness: a gap or ratio across slices, a group
    metric, or a Fairness Indicators rate."""
    metric = str(check.get("metric", ""))
    return (check.get("kind") in ("max_gap", "min_ratio") or metric.startswith(PREFIX + "/")
            or metric.partition("@")[0] in GROUP_METRICS)


def _failed_html(result: Any) -> str:
    checks = (result.validation or {}).get("checks") or []
    fair = [c for c in checks if is_fairness_check(c)]
    if not fair:
        return ""
    failed = [c for c in fair if c.get("status") == "fail"]
    if not failed:
        return f'<p class="ar-fair-ok">All {len(fair)} fairness checks passed.</p>'
    items = "".join(f'<li>{html.escape(str(c.get("reason", "")))}</li>' for c in failed)
    return (f'<p class="ar-failtext">{len(failed)} of {len(fair)} fairness checks failed:</p>'
            f'<ul class="ar-failed ar-fair-failed">{items}</ul>')


def section_html(result: Any) -> str:
    """The section's HTML, or "" when the result has no fairness section."""
    section = (result.info or {}).get("fairness")
    if not isinstance(section, Mapping) or not section.get("thresholds"):
        return ""
    t = float(section["thresholds"][0])
    groups = (section.get("group_metrics") or {}).get("candidate") or {}
    label_free = not any(k.startswith("equalized_odds") for g in groups.values()
                         for k in (g.get("between_groups") or {}))
    ref = section.get("reference")
    ref_text = _slice_text(ref) if isinstance(ref, Mapping) else str(ref)
    out = ['<section class="ar-fairness"><h2>Fairness</h2>',
           f'<p>Rates per group at the first fairness threshold, {format_threshold(t)}; the '
           f'line marks the reference ({html.escape(ref_text)}).'
           f'{" Without a label: positive rates only." if label_free else ""}</p>']
    out += [_group_html(result, section, g, t, label_free) for g in groups]
    out.append(_table_html(section))
    out.append(_failed_html(result))
    out.append("</section>")
    return "".join(out)


__all__ = ["bars_svg", "is_fairness_check", "section_html"]
