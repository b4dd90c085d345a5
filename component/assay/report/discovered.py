"""The report's "Discovered weak slices" section: the `discovered` section of assay_metrics.json.

One table of the slices discovery reported, confirmed ones first (each group best score
first): the slice, its size and error against the rest's on the confirmation half, the effect,
p and q. A confirmed slice links to a details row under the table holding its headline metrics
for each model (computed on all of the slice's examples) and its ROC curve (binary) or
residual quantiles (regression), an inline SVG. Static HTML: readable without
JavaScript; every value is escaped.
"""

from __future__ import annotations

import html
import math
from typing import Any, List, Mapping

_COLUMNS = ("slice", "size", "error", "rest", "effect", "p", "q", "confirmed", "")


def _num(value: Any, digits: int = 4) -> str:
    if value is None or isinstance(value, bool):
        return "–"
    if isinstance(value, int):
        return str(value)
    value = float(value)
    return "–" if not math.isfinite(value) else f"{value:.{digits}g}"


def _slice_name(slice_: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} = {v}" for k, v in slice_.items()) or "overall"


def section_html(result: Any) -> str | None:
    """The section's HTML, or None when the result has no `discovered` section."""
    section = (getattr(result, "info", None) or {}).get("discovered")
    if not section:
        return None
    slices = list(section.get("slices") or [])
    order = sorted(range(len(slices)), key=lambda i: not slices[i].get("confirmed"))
    settings = section.get("settings") or {}
    error = settings.get("error")
    what = (f"paired regression (candidate {settings.get('loss')} - baseline)"
            if error == "regression" else str(error))
    confirmed = sum(1 for s in slices if s.get("confirmed"))
    e = html.escape
    parts = ['<section class="ar-discovered">',
             f'<h2>Discovered weak slices<small>{confirmed} confirmed of {len(slices)} '
             f'reported</small></h2>',
             f'<p class="ar-summary">Error: {e(what)}; overall {e(_num(section.get("overall_error")))} '
             f'on {e(_num(section.get("examples")))} examples. Each slice was found on one half '
             f'of the examples and tested against the rest on the other half (size, errors, '
             f'effect and p are that half\'s); confirmed: q &le; {e(_num(settings.get("q")))} '
             f'(Benjamini-Hochberg).</p>']
    if section.get("unavailable"):
        parts.append(f'<p class="ar-summary">Not searched: {e(str(section["unavailable"]))}.'
                     f'</p></section>')
        return "".join(parts)
    if not slices:
        parts.append('<p class="ar-summary">No slice scored above the rest.</p></section>')
        return "".join(parts)
    parts.append('<div class="ar-tablewrap"><table class="ar-t ar-discovered-table"><thead><tr>')
    parts += [f"<th>{c}</th>" for c in _COLUMNS]
    parts.append("</tr></thead><tbody>")
    details: List[str] = []
    for rank, i in enumerate(order):
        parts.append(_row(slices[i], rank))
        if slices[i].get("confirmed"):
            details.append(_details(slices[i], rank))
    parts.append("</tbody></table></div>")
    if details:
        parts.append('<h3>Metrics of the confirmed slices</h3><div class="ar-tablewrap">'
                     '<table class="ar-t ar-discovered-metrics"><tbody>')
        parts += details
        parts.append("</tbody></table></div>")
    parts.append("</section>")
    return "".join(parts)


def _row(s: Mapping[str, Any], rank: int) -> str:
    e = html.escape
    ok = s.get("confirmed")
    name = e(_slice_name(s.get("slice") or {}))
    link = f'<a href="#ar-discovered-{rank}">metrics and plots</a>' if ok else ""
    cells = [f'<td class="ar-sl">{name}</td>']
    cells += [f'<td class="ar-num">{e(_num(s.get(k)))}</td>'
              for k in ("size", "error", "rest_error", "effect", "p_value", "q_value")]
    cells.append(f'<td class="{"ar-fail" if ok else "ar-skipped"}">{"yes" if ok else "no"}</td>')
    cells.append(f"<td>{link}</td>")
    return f'<tr class="{"ar-worse" if ok else ""}">{"".join(cells)}</tr>'


def _details(s: Mapping[str, Any], rank: int) -> str:
    """The details row of a confirmed slice: its headline metrics per model."""
    e = html.escape
    metrics = s.get("metrics") or {}
    names = list(dict.fromkeys(n for m in metrics.values() for n in m))
    head = "".join(f"<th>{e(n)}</th>" for n in names)
    rows = "".join(f"<tr><td>{e(model)}</td>"
                   + "".join(f'<td class="ar-num">{e(_num(values.get(n)))}</td>' for n in names)
                   + "</tr>" for model, values in metrics.items())
    inner = (f'<table class="ar-t"><thead><tr><th>model</th>{head}</tr></thead>'
             f'<tbody>{rows}</tbody></table>') if metrics else "no metrics"
    inner += _curve_svg(s.get("plots") or {})
    return (f'<tr id="ar-discovered-{rank}" class="ar-discovered-details"><td>'
            f'<b>{e(_slice_name(s.get("slice") or {}))}</b> ({e(_num(s.get("examples")))} '
            f'examples)</td><td>{inner}</td></tr>')


# Which curve a discovered slice shows: (plot, x field, y field, x label, y label).
_SHOWN = (("roc_curve", "fpr", "tpr", "false positive rate", "true positive rate"),
          ("residuals", "quantiles", "values", "quantile", "residual"))
_COLORS = ("#1f5fbf", "#c0392b", "#7f8c8d", "#27ae60")


def _curve_svg(plots: Mapping[str, Any]) -> str:
    """An inline SVG of the slice's ROC curve (binary) or residual quantiles (regression), one
    line per model, with a legend; "" when the section holds neither."""
    for plot, fx, fy, xl, yl in _SHOWN:
        lines = {m: p[plot] for m, p in plots.items() if isinstance(p.get(plot), Mapping)}
        if lines:
            break
    else:
        return ""
    pts = {m: [(x, y) for x, y in zip(c.get(fx) or [], c.get(fy) or [])
               if x is not None and y is not None] for m, c in lines.items()}
    xs = [x for p in pts.values() for x, _ in p] or [0.0, 1.0]
    ys = [y for p in pts.values() for _, y in p] or [0.0, 1.0]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y0, y1 = min(ys), max(ys) if max(ys) > min(ys) else min(ys) + 1
    w, h, pad = 220, 160, 24

    def xy(x, y):
        return (f"{pad + (x - x0) / (x1 - x0) * (w - 2 * pad):.1f},"
                f"{h - pad - (y - y0) / (y1 - y0) * (h - 2 * pad):.1f}")

    e = html.escape
    out = [f'<svg class="ar-discovered-plot" width="{w}" height="{h}" role="img" '
           f'aria-label="{e(plot)}"><title>{e(plot)} of the slice</title>'
           f'<rect x="{pad}" y="{pad}" width="{w - 2 * pad}" height="{h - 2 * pad}" '
           f'fill="none" stroke="#ccc"/>']
    for i, (model, p) in enumerate(pts.items()):
        color = _COLORS[i % len(_COLORS)]
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" '
                   f'points="{" ".join(xy(x, y) for x, y in p)}"><title>{e(model)}</title>'
                   f'</polyline><text x="{pad + 4}" y="{pad + 12 + 12 * i}" font-size="10" '
                   f'fill="{color}">{e(model)}</text>')
    out.append(f'<text x="{w / 2:.0f}" y="{h - 6}" font-size="10" text-anchor="middle">'
               f'{e(xl)}</text><text x="10" y="{h / 2:.0f}" font-size="10" '
               f'transform="rotate(-90 10 {h / 2:.0f})" text-anchor="middle">{e(yl)}</text>'
               f'</svg>')
    return "".join(out)


__all__ = ["section_html"]
