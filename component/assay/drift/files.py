"""assay_sketches.json: the per-slice sketches every evaluation stores (strict JSON).

    {"version": 1,
     "relative_accuracy": 0.01,        # of the numeric sketches' bins
     "max_categories": 100,            # values written per categorical sketch
     "slices": [                       # the overall slice first, then by slice
       {"slice": {"region": "north"},
        "features": {"amount": SKETCH, ...},
        "predictions": {"candidate": SKETCH, "baseline": SKETCH},
        "label": SKETCH}]}             # absent without a label

    numeric SKETCH:     {"kind": "numeric", "relative_accuracy": a, "count": n, "missing": m,
                         "zeros": z, "negatives": k, "nonfinite": f, "min": x, "max": y,
                         "positive": [[bin, count], ...], "negative": [[bin, count], ...]}
                        bin i holds the magnitudes in (gamma^(i-1), gamma^i],
                        gamma = (1 + a) / (1 - a)
    categorical SKETCH: {"kind": "categorical", "count": n, "missing": m, "distinct": d,
                         "values": [[value, count], ...], "other": o, "approximate": false}

The pass returns the sketches inside the "drift" section (the extension's one output); the
results writer moves them to this file (`split_sketches`), so assay_metrics.json has a "drift"
section only when there is a reference to compare with.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Mapping, Optional, Tuple

from assay import fastjson
from assay.drift.sketches import sketch_from_json

SKETCHES_FILE = "assay_sketches.json"
SKETCHES_VERSION = 1
_GROUPS = {"feature": "features", "prediction": "predictions"}


def _slice_order(key: Tuple) -> Tuple:
    return (len(key), json.dumps([[k, str(v)] for k, v in key]))


def sketches_document(sketches: Mapping[Tuple[Any, Tuple[str, str]], Any],
                      drift: Any) -> Dict[str, Any]:
    """The assay_sketches.json document of {(slice key, (kind, name)): sketch}."""
    by_slice: Dict[Tuple, Dict[str, Any]] = {}
    for (key, (kind, name)), sketch in sketches.items():
        entry = by_slice.setdefault(key, {"slice": {k: v for k, v in key}, "features": {},
                                          "predictions": {}})
        if kind == "label":
            entry["label"] = sketch.to_json()
        else:
            entry[_GROUPS[kind]][name] = sketch.to_json()
    slices = []
    for key in sorted(by_slice, key=_slice_order):
        entry = by_slice[key]
        entry["features"] = dict(sorted(entry["features"].items()))
        entry["predictions"] = dict(sorted(entry["predictions"].items()))
        slices.append(entry)
    return {"version": SKETCHES_VERSION, "relative_accuracy": drift.relative_accuracy,
            "max_categories": drift.max_categories, "slices": slices}


def split_sketches(metrics_doc: Mapping[str, Any]
                   ) -> Tuple[Dict[str, Any], Optional[Dict[str, Any]]]:
    """(the metrics document without the sketches, the sketches document or None). A "drift"
    section that held only the sketches (no reference) is left out of the metrics document."""
    drift = metrics_doc.get("drift")
    if not isinstance(drift, Mapping) or "sketches" not in drift:
        return dict(metrics_doc), None
    out = dict(metrics_doc)
    rest = {k: v for k, v in drift.items() if k != "sketches"}
    if rest:
        out["drift"] = rest
    else:
        del out["drift"]
    return out, drift["sketches"]


def read_sketches(location: Optional[str]) -> Optional[Dict[str, Any]]:
    """The assay_sketches.json of a results location, or None (none written, or no location).

    Raises:
      DataError: the file is not a sketches document this assay reads.
    """
    from assay.data import files
    from assay.errors import DataError

    if not location:
        return None
    path = files.join(location, SKETCHES_FILE)
    try:
        with files.open_read(path) as f:
            doc = fastjson.loads(f.read())
    except FileNotFoundError:
        return None
    except ValueError as e:
        raise DataError(f"{path} is not valid JSON ({e})") from None
    if not isinstance(doc, dict) or doc.get("version") != SKETCHES_VERSION:
        raise DataError(f"{path} has sketches format version "
                        f"{doc.get('version') if isinstance(doc, dict) else None!r}; this "
                        f"assay reads version {SKETCHES_VERSION}")
    return doc


def sketch_index(doc: Mapping[str, Any]) -> Dict[Tuple[Tuple, str, str], Any]:
    """{(slice key, column kind, name): sketch object} of a sketches document; column kinds
    as assay.drift.extension names them ("feature", "prediction", "label")."""
    from assay.results.slices import slice_key

    out = {}
    for entry in doc.get("slices", []):
        key = slice_key(entry["slice"])
        for name, s in entry.get("features", {}).items():
            out[(key, "feature", name)] = sketch_from_json(s)
        for name, s in entry.get("predictions", {}).items():
            out[(key, "prediction", name)] = sketch_from_json(s)
        if "label" in entry:
            out[(key, "label", "label")] = sketch_from_json(entry["label"])
    return out


__all__ = ["SKETCHES_FILE", "SKETCHES_VERSION", "read_sketches", "sketch_index",
           "sketches_document", "split_sketches"]
