"""The report's "Quality over time" section: the `history` section of assay_metrics.json.

For each charted metric (overall slice): an inline-SVG line of its value across the earlier
evaluations and this one, the shaded interval band where the evaluations computed intervals,
the trailing window's band (dashed) and the anchor's value of `max_regression_from` (a solid
line), then the alerts. Static HTML: readable without JavaScript.
"""

from __future__ import annotations

import html
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence

_W, _H, _PAD = 560, 160, 36
_CAND, _BAD, _REF = "#2563eb", "#c62828", "#6b7280"


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _scale(lo: float, hi: float):
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5 * max(abs(lo), 1e-3) * 0.1, hi + 0.5 * max(abs(hi), 1e-3) * 0.1
    return lambda v: _PAD / 2 + (_H - _PAD) * (hi - v) / (hi - lo)


def chart_svg(points: Sequence[Mapping[str, Any]], count: int, band: Optional[Mapping] = None,
              anchor: Optional[float] = None, metric: str = "") -> str:
    """An inline SVG line chart of one series: points {evaluation, value, lower, upper} over
    `count` evaluations, the band {lower, upper} of the trailing window, the anchor value."""
    ys = [p[k] for p in points for k in ("value", "lower", "upper") if _finite(p.get(k))]
    ys += [v for v in ((band or {}).get("lower"), (band or {}).get("upper"), anchor)
           if _finite(v)]
    if not ys:
        return ""
    y = _scale(min(ys), max(ys))
    step = (_W - 2 * _PAD) / max(count - 1, 1)

    def x(i):
        return _PAD + i * step

    parts = [f'<svg class="ar-history-chart" viewBox="0 0 {_W} {_H}" width="{_W}" '
             f'height="{_H}" role="img" aria-label="{html.escape(metric)} over time">']
    bounded = [p for p in points if _finite(p.get("lower")) and _finite(p.get("upper"))]
    if len(bounded) > 1:
        ring = ([f"{x(p['evaluation']):.1f},{y(p['upper']):.1f}" for p in bounded] +
                [f"{x(p['evaluation']):.1f},{y(p['lower']):.1f}" for p in reversed(bounded)])
        parts.append(f'<polygon points="{" ".join(ring)}" fill="{_CAND}" fill-opacity="0.15">'
                     f'<title>intervals</title></polygon>')
    for p in bounded:
        parts.append(f'<line x1="{x(p["evaluation"]):.1f}" x2="{x(p["evaluation"]):.1f}" '
                     f'y1="{y(p["lower"]):.1f}" y2="{y(p["upper"]):.1f}" stroke="{_CAND}" '
                     f'stroke-opacity="0.5"/>')
    if band and _finite(band.get("lower")) and _finite(band.get("upper")):
        for edge in ("lower", "upper"):
            parts.append(f'<line class="ar-history-band" x1="{_PAD}" x2="{_W - _PAD}" '
                         f'y1="{y(band[edge]):.1f}" y2="{y(band[edge]):.1f}" stroke="{_REF}" '
                         f'stroke-dasharray="4 3"><title>band {edge}: {band[edge]:.4g}'
                         f'</title></line>')
    if _finite(anchor):
        parts.append(f'<line class="ar-history-anchor" x1="{_PAD}" x2="{_W - _PAD}" '
                     f'y1="{y(anchor):.1f}" y2="{y(anchor):.1f}" stroke="{_BAD}">'
                     f'<title>anchor: {anchor:.4g}</title></line>')
    valued = [p for p in points if _finite(p.get("value"))]
    if len(valued) > 1:
        path = " ".join(f"{x(p['evaluation']):.1f},{y(p['value']):.1f}" for p in valued)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{_CAND}" '
                     f'stroke-width="2"/>')
    for p in valued:
        parts.append(f'<circle cx="{x(p["evaluation"]):.1f}" cy="{y(p["value"]):.1f}" r="3" '
                     f'fill="{_CAND}"><title>{p["value"]:.6g}</title></circle>')
    parts.append(f'<text x="4" y="{_PAD / 2 + 4:.0f}" font-size="11">{max(ys):.4g}</text>'
                 f'<text x="4" y="{_H - _PAD / 2:.0f}" font-size="11">{min(ys):.4g}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _anchor_values(section: Mapping[str, Any]) -> Dict[str, float]:
    out: Dict[str, float] = {}
    for found in (section.get("anchors") or {}).values():
        for metric, value in ((found or {}).get("values") or {}).items():
            if _finite(value):
                out.setdefault(metric, value)
    return out


def section_html(result: Any) -> Optional[str]:
    """The "Quality over time" section, or None when the result has no history section."""
    section = (getattr(result, "info", None) or {}).get("history")
    if not section:
        return None
    count = len(section.get("evaluations") or []) + 1
    labels = [e.get("label", "") for e in section.get("evaluations") or []] + ["this evaluation"]
    anchors = _anchor_values(section)
    parts: List[str] = ['<section class="ar-history"><h2>Quality over time <small>overall '
                        'slice, candidate, oldest first</small></h2>']
    rule = section.get("rule") or {}
    parts.append(f'<p class="ar-small">Evaluations: {html.escape(", ".join(labels))}. Alert '
                 f'rule: the newest value outside {_rule_text(rule)}.</p>')
    for key, found in (section.get("anchors") or {}).items():
        found = found or {}
        said = (found.get("error") or found.get("first_model") or
                f"{found.get('label')} ({found.get('path')})")
        parts.append(f"<p>Anchor <b>{html.escape(str(key))}</b>: {html.escape(str(said))}</p>")
    for line in section.get("series") or []:
        metric = str(line.get("metric"))
        svg = chart_svg(line.get("points") or [], count, line.get("band"), anchors.get(metric),
                        metric)
        if svg:
            parts.append(f"<h3>{html.escape(metric)}</h3>{svg}")
    alerts = section.get("alerts") or []
    if alerts:
        parts.append('<ul class="ar-history-alerts">' + "".join(
            f'<li class="ar-failtext">ALERT: {html.escape(str(a.get("message")))}</li>'
            for a in alerts) + "</ul>")
    else:
        parts.append("<p>No alerts.</p>")
    parts.append("</section>")
    return "".join(parts)


def _rule_text(rule: Mapping[str, Any]) -> str:
    window, k = rule.get("window", 5), rule.get("k", 3)
    if rule.get("rule") == "interval":
        return f"the mean interval of the last {window} evaluations"
    return f"mean ± {k} sd of the last {window} evaluations"


__all__ = ["chart_svg", "section_html"]
