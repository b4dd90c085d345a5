"""The report's "Perturbations and feature importance" section.

Two parts, each shown when the result has it:
- perturbations (the "perturbed:NAME" and "perturbed_diff:NAME" records, overall slice): the
  candidate's headline metrics on the perturbed examples, their change from the unperturbed
  candidate, the flip rates and the mean absolute prediction change;
- permutation feature importance (the `sensitivity` section): ranked bars (inline SVG) for the
  overall slice, and a table of the ranking on every other slice.

Static HTML: readable without JavaScript.
"""

from __future__ import annotations

import html
import math
from typing import Any, Dict, List, Mapping, Optional

_W, _BAR_H, _LABEL_W, _PAD = 420, 18, 140, 4
_COLOR, _NEG = "#2563eb", "#9ca3af"
PAIRED_SHOWN = ("flip_rate@", "mean_absolute_prediction_change")


def _num(value: Any) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "—"
    return f"{value:.4g}" if math.isfinite(value) else "—"


def _slice_text(slice_: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in slice_.items()) or "overall"


def importance_svg(entries: List[Mapping[str, Any]], metric: str) -> str:
    """Horizontal bars of the importances, largest first (negative ones grey, to the left of
    nothing: a bar's length is the magnitude)."""
    values = [e.get("importance") for e in entries]
    finite = [abs(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    top = max(finite) if finite and max(finite) > 0 else 1.0
    height = _PAD * 2 + _BAR_H * len(entries)
    label = html.escape(f"permutation importance ({metric})")
    parts = [f'<svg class="ar-importance" viewBox="0 0 {_W} {height}" width="{_W}" '
             f'height="{height}" role="img" aria-label="{label}">']
    for i, entry in enumerate(entries):
        y = _PAD + i * _BAR_H
        value = entry.get("importance")
        ok = isinstance(value, (int, float)) and math.isfinite(value)
        width = (_W - _LABEL_W - 60) * abs(value) / top if ok else 0.0
        name = html.escape(str(entry["feature"]))
        parts.append(f'<text x="{_LABEL_W - 6}" y="{y + _BAR_H * 0.7:.1f}" text-anchor="end" '
                     f'font-size="12">{name}</text>')
        parts.append(f'<rect x="{_LABEL_W}" y="{y + 2}" width="{width:.1f}" '
                     f'height="{_BAR_H - 4}" fill="{_COLOR if ok and value >= 0 else _NEG}">'
                     f'<title>{name}: {html.escape(metric)} importance {_num(value)}</title>'
                     f'</rect>')
        parts.append(f'<text x="{_LABEL_W + width + 4:.1f}" y="{y + _BAR_H * 0.7:.1f}" '
                     f'font-size="11">{_num(value)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _records(result: Any) -> Dict[str, Mapping[str, Any]]:
    """{model: record} of the overall slice."""
    return {r["model"]: r for r in getattr(result, "records", []) or []
            if not r.get("slice") and "metrics" in r}


def _perturbations_html(result: Any) -> Optional[str]:
    from assay.metrics.registry import headline_metrics

    overall = _records(result)
    names = [m[len("perturbed:"):] for m in overall if m.startswith("perturbed:")
             and not m.startswith("perturbed:permute:")]
    if not names or "candidate" not in overall:
        return None
    cand = overall["candidate"]["metrics"]
    shown = [m for m in headline_metrics((result.info or {}).get("task"))[:3] if m in cand]
    paired = [k for k in overall[f"perturbed_diff:{names[0]}"]["metrics"]
              if k.startswith(PAIRED_SHOWN)] if f"perturbed_diff:{names[0]}" in overall else []
    head = "".join(f"<th>{html.escape(m)} (change)</th>" for m in shown) + \
        "".join(f"<th>{html.escape(k)}</th>" for k in paired)
    out = ['<h3>Perturbations (overall slice)</h3><div class="ar-tablewrap"><table class="ar-t">'
           f'<thead><tr><th>perturbation</th>{head}</tr></thead><tbody>',
           "<tr><td>none (the candidate)</td>" +
           "".join(f'<td class="ar-num">{_num(cand.get(m))}</td>' for m in shown) +
           "<td></td>" * len(paired) + "</tr>"]
    for name in names:
        own = overall[f"perturbed:{name}"]["metrics"]
        diff = (overall.get(f"perturbed_diff:{name}") or {}).get("metrics") or {}
        cells = "".join(f'<td class="ar-num">{_num(own.get(m))} ({_num(diff.get(m))})</td>'
                        for m in shown)
        cells += "".join(f'<td class="ar-num">{_num(diff.get(k))}</td>' for k in paired)
        out.append(f"<tr><td>{html.escape(name)}</td>{cells}</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _importance_html(section: Mapping[str, Any]) -> str:
    out = [f'<h3>Permutation feature importance</h3><p>Each feature permuted in turn '
           f'(seed {html.escape(str(section.get("seed")))}); importance is how much the metric '
           f'gets worse.</p>']
    slices = section.get("slices") or []
    overall = next((s for s in slices if not s["slice"]), None)
    for metric in section.get("metrics", []):
        if overall is not None and overall["metrics"].get(metric):
            out.append(f'<div class="ar-chart"><h4>{html.escape(metric)}, overall</h4>'
                       f'{importance_svg(overall["metrics"][metric], metric)}</div>')
        others = [s for s in slices if s["slice"] and s["metrics"].get(metric)]
        if others:
            out.append(f'<div class="ar-tablewrap"><table class="ar-t"><thead><tr>'
                       f'<th>slice</th><th>{html.escape(metric)}: features, most important '
                       f'first (importance)</th></tr></thead><tbody>')
            for s in others:
                ranked = ", ".join(f"{html.escape(str(e['feature']))} ({_num(e['importance'])})"
                                   for e in s["metrics"][metric])
                out.append(f"<tr><td>{html.escape(_slice_text(s['slice']))}</td>"
                           f"<td>{ranked}</td></tr>")
            out.append("</tbody></table></div>")
    return "".join(out)


def section_html(result: Any) -> str:
    """The section's HTML, or "" when the result has neither perturbations nor importance."""
    parts = []
    perturbations = _perturbations_html(result)
    if perturbations:
        parts.append(perturbations)
    section = (getattr(result, "info", None) or {}).get("sensitivity")
    if isinstance(section, Mapping) and section.get("slices"):
        parts.append(_importance_html(section))
    if not parts:
        return ""
    return ('<section class="ar-sensitivity"><h2>Perturbations and feature importance</h2>' +
            "".join(parts) + "</section>")


__all__ = ["importance_svg", "section_html"]
