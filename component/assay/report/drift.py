"""The report's "Drift" section: the `drift` section of assay_metrics.json.

For each sketched column (features, the label, each model's predictions), the drift
statistics of the overall slice against the reference, the slices that drifted most (by PSI),
and a small inline-SVG histogram of the current (blue) against the reference (grey)
proportions in the PSI bins. Static HTML: readable without JavaScript.
"""

from __future__ import annotations

import html
from typing import Any, Dict, List, Mapping, Sequence

_W, _H, _PAD = 300, 90, 4
_CUR, _REF = "#2563eb", "#9ca3af"
WORST = 3  # slices listed per column


def _num(value: Any) -> str:
    return "—" if value is None else f"{value:.4g}"


def _column_label(row: Mapping[str, Any]) -> str:
    if row["column"] == "feature":
        return row["name"]
    return f"prediction ({row['name']})" if row["column"] == "prediction" else "label"


def _slice_text(slice_: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in slice_.items()) or "overall"


def histogram_svg(row: Mapping[str, Any]) -> str:
    """Paired bars: the current and the reference proportion of each bin."""
    bins = row.get("bins") or [[], []]
    cur, ref = [float(c) for c in bins[0]], [float(c) for c in bins[1]]
    if not cur or not (sum(cur) and sum(ref)):
        return ""
    p = [c / sum(cur) for c in cur]
    q = [c / sum(ref) for c in ref]
    names = _bin_names(row, len(cur))
    top = max(p + q) or 1.0
    width = (_W - 2 * _PAD) / len(p)
    label = html.escape(f"{_column_label(row)}: current vs reference")
    parts = [f'<svg class="ar-drift-hist" viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}" '
             f'role="img" aria-label="{label}">']
    for i, (a, b) in enumerate(zip(p, q)):
        x = _PAD + i * width
        for j, (value, color) in enumerate(((a, _CUR), (b, _REF))):
            h = (_H - 2 * _PAD) * value / top
            parts.append(f'<rect x="{x + j * width / 2:.1f}" y="{_H - _PAD - h:.1f}" '
                         f'width="{max(width / 2 - 1, 0.5):.1f}" height="{h:.1f}" '
                         f'fill="{color}"><title>{html.escape(names[i])}: '
                         f'{"current" if j == 0 else "reference"} {value:.3f}</title></rect>')
    parts.append("</svg>")
    return "".join(parts)


def _bin_names(row: Mapping[str, Any], n: int) -> List[str]:
    if row.get("categories"):
        return [str(c) for c in row["categories"]][:n]
    edges = row.get("edges") or []
    names = [f"≤ {e:.4g}" for e in edges] + [f"> {edges[-1]:.4g}" if edges else "all"]
    return (names + ["missing"])[:n]


def _worst(rows: Sequence[Mapping[str, Any]]) -> str:
    ranked = sorted((r for r in rows if r["slice"] and r.get("psi") is not None),
                    key=lambda r: -r["psi"])[:WORST]
    return "; ".join(f"{html.escape(_slice_text(r['slice']))} (PSI {_num(r['psi'])})"
                     for r in ranked) or "—"


def section_html(result: Any) -> str:
    """The section's HTML, or "" when the result has no drift section."""
    section = (result.info or {}).get("drift")
    if not isinstance(section, Mapping):
        return ""
    ref = section.get("reference") or {}
    where = html.escape(str(ref.get("results") or ref.get("source") or "—"))
    out = ['<section class="ar-drift"><h2>Drift</h2>',
           f'<p>Against the reference <span class="ar-path">{where}</span>.</p>']
    if section.get("error"):
        out.append(f'<p class="ar-bad">No drift statistics: {html.escape(section["error"])}</p>')
        out.append("</section>")
        return "".join(out)
    by_column: Dict[Any, List[Mapping[str, Any]]] = {}
    for row in section.get("columns", []):
        by_column.setdefault((row["column"], row["name"]), []).append(row)
    out.append('<div class="ar-tablewrap"><table class="ar-t"><thead><tr><th>column</th>'
               '<th>PSI</th><th>JS</th><th>test</th><th>statistic</th><th>p-value</th>'
               '<th>most drifted slices</th><th>current vs reference</th></tr></thead><tbody>')
    for rows in by_column.values():
        overall = next((r for r in rows if not r["slice"]), rows[0])
        out.append(f"<tr><td>{html.escape(_column_label(overall))}</td>"
                   f"<td>{_num(overall.get('psi'))}</td><td>{_num(overall.get('js'))}</td>"
                   f"<td>{html.escape(str(overall.get('test')))}</td>"
                   f"<td>{_num(overall.get('statistic'))}</td>"
                   f"<td>{_num(overall.get('p_value'))}</td><td>{_worst(rows)}</td>"
                   f"<td>{histogram_svg(overall)}</td></tr>")
    out.append("</tbody></table></div>")
    unmatched = section.get("unmatched") or []
    if unmatched:
        out.append(f"<p>{len(unmatched)} sketch(es) not compared (first: "
                   f"{html.escape(_slice_text(unmatched[0]['slice']))}, "
                   f"{html.escape(_column_label(unmatched[0]))}: "
                   f"{html.escape(unmatched[0]['why'])}).</p>")
    out.append("</section>")
    return "".join(out)


__all__ = ["histogram_svg", "section_html"]
