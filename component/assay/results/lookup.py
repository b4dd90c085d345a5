"""Finding a record by slice and model, and saying what is there when it is not.

Slices match by `assay.results.slices`' rule (3, 3.0 and "3" name the same slice). A miss raises
SliceNotFound, a KeyError whose message lists the nearest slices (most features and values in
common, then the closest label) and the models there are.

    >>> records = [{"slice": {}, "model": "candidate"},
    ...            {"slice": {"hour": 3}, "model": "candidate"}]
    >>> find_record(records, {"hour": "3"}, "candidate")["slice"]
    {'hour': 3}
    >>> find_record(records, {"hour": 4}, "candidate")
    Traceback (most recent call last):
    ...
    assay.results.lookup.SliceNotFound: no record for slice {'hour': 4} and model 'candidate'; nearest slices: hour=3; overall
"""

from __future__ import annotations

import difflib
from typing import Any, Dict, List, Mapping, Optional, Sequence

from assay.results.slices import slice_key, slice_label, values_match

NEAREST = 5  # slices listed in a miss's message


class SliceNotFound(KeyError):
    """No record for a slice and model. A KeyError (so `except KeyError` still catches it)
    whose message reads as a sentence, and which holds the nearest slices."""

    def __init__(self, message: str, nearest: Sequence[Mapping[str, Any]] = ()):
        super().__init__(message)
        self.message = message
        self.nearest = [dict(s) for s in nearest]

    def __str__(self) -> str:  # KeyError's own str() quotes the message like a key
        return self.message


def find_record(records: Sequence[Dict[str, Any]], slice_: Optional[Mapping[str, Any]],
                model: str, what: str = "record") -> Dict[str, Any]:
    """The record of `slice_` ({} or None: overall) and `model`.

    Raises:
      SliceNotFound: no such record; the message names the nearest slices of that model (or
        the models there are, when the model has no record at all).
    """
    wanted = slice_key(slice_ or {})
    for r in records:
        if r["model"] == model and slice_key(r["slice"]) == wanted:
            return r
    models = list(dict.fromkeys(r["model"] for r in records))
    if model not in models:
        raise SliceNotFound(f"no {what} for model '{model}' (models: "
                            f"{', '.join(models) or 'none'})")
    near = nearest_slices(dict(slice_ or {}), [r["slice"] for r in records
                                               if r["model"] == model])
    raise SliceNotFound(f"no {what} for slice {dict(slice_ or {})} and model '{model}'; nearest slices: "
                        f"{'; '.join(slice_label(s) for s in near) or 'none'}", near)


def nearest_slices(wanted: Mapping[str, Any], slices: Sequence[Mapping[str, Any]],
                   n: int = NEAREST) -> List[Mapping[str, Any]]:
    """The `n` slices of `slices` most like `wanted`: most (feature, value) pairs in common,
    then most features in common, then the most similar label."""
    def score(candidate: Mapping[str, Any]):
        same_values = sum(1 for k, v in wanted.items()
                          if k in candidate and values_match(v, candidate[k]))
        same_features = len(set(wanted) & set(candidate)) - abs(len(candidate) - len(wanted))
        ratio = difflib.SequenceMatcher(None, slice_label(dict(wanted)),
                                        slice_label(dict(candidate))).ratio()
        return (same_values, same_features, ratio)

    unique = {slice_key(s): s for s in slices}
    return sorted(unique.values(), key=score, reverse=True)[:n]


__all__ = ["NEAREST", "SliceNotFound", "find_record", "nearest_slices"]
