"""The "drift" section of assay_metrics.json: per slice and column, the drift statistics of
this evaluation's sketches against the reference's (assay.drift.stats).

    "drift": {
      "reference": {"source": "runs/prev", "results": "runs/prev", "artifact_id": null},
      "error": null,                     # or why there is no reference to compare with
      "columns": [
        {"slice": {}, "column": "feature", "name": "amount", "kind": "numeric",
         "count": 1000, "reference_count": 980,        # rows, missing values included
         "psi": 0.03, "js": 0.05, "test": "ks", "statistic": 0.04, "p_value": 0.3,
         "ks_error_bound": 0.008,        # |statistic - KS on the raw values| <= this
         "edges": [...],                 # numeric: the PSI / JS bins' upper edges
         "categories": [...],            # categorical: the bins' values
         "bins": [[current counts], [reference counts]]},   # the last bin: missing
        ...],
      "unmatched": [{"slice": {...}, "column": "feature", "name": "zip",
                     "why": "not in the reference"}]}

column is "feature", "prediction" (name: the model) or "label" (name: "label"). A statistic
that cannot be computed (an empty side) is null, with the reason in "undefined".
"""

from __future__ import annotations

import math
from typing import Any, Dict, Mapping

from assay.drift.config import ReferenceConfig
from assay.drift.files import sketch_index


def _finite(value: Any) -> Any:
    return value if not isinstance(value, float) or math.isfinite(value) else None


def drift_section(sketches: Mapping[str, Any], ref: ReferenceConfig) -> Dict[str, Any]:
    """The section of this evaluation's sketches document against `ref`'s."""
    from assay.drift.reference import read_reference
    from assay.drift.stats import compare

    section: Dict[str, Any] = {
        "reference": {"source": ref.source, "results": ref.directory,
                      "artifact_id": ref.artifact_id},
        "error": None, "columns": [], "unmatched": []}
    doc, why = read_reference(ref)
    if doc is None:
        section["error"] = why
        return section
    current, reference = sketch_index(sketches), sketch_index(doc)
    for (key, kind, name), sketch in current.items():
        where = {"slice": {k: v for k, v in key}, "column": kind, "name": name}
        if (key, kind, name) not in reference:
            section["unmatched"].append(dict(where, why="not in the reference"))
            continue
        try:
            stats = compare(sketch, reference[(key, kind, name)])
        except ValueError as e:
            section["unmatched"].append(dict(where, why=str(e)))
            continue
        undefined = {k: "no values on one side" for k in ("psi", "js", "statistic", "p_value")
                     if _finite(stats.get(k)) is None}
        row = dict(where, **{k: _finite(v) for k, v in stats.items()})
        if undefined:
            row["undefined"] = undefined
        section["columns"].append(row)
    return section


__all__ = ["drift_section"]
