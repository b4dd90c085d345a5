"""Sections of the report that features add beside the per-slice tables: fairness, discovered
weak slices, perturbations and feature importance, drift, history.

SECTIONS lists "module:function" entries, in page order. Each function takes the EvalResult
and returns the section's HTML (static: plain HTML and inline SVG, readable without
JavaScript), or None when the result has nothing for it. A function reads what it needs from
`result.info` (the sections of assay_metrics.json: "fairness", "discovered", "drift"...),
`result.records` and `result.validation`, and escapes every value it writes with html.escape.
"""

from __future__ import annotations

from typing import Any, List

from assay.lazy import load

SECTIONS = (
    "assay.report.fairness:section_html",
    "assay.report.discovered:section_html",
    "assay.report.sensitivity:section_html",
    "assay.report.drift:section_html",
    "assay.report.history:section_html",
)


def sections_html(result: Any) -> List[str]:
    """The HTML of each section that has something to show, in SECTIONS order."""
    out = []
    for where in SECTIONS:
        render = load(where, absent=None)
        if render is None:  # a section not built into this assay
            continue
        html = render(result)
        if html:
            out.append(html)
    return out


__all__ = ["SECTIONS", "sections_html"]
