"""Discovery as a combiner, the shape a pass needs: create, add batches, merge shards, extract.

SliceLine's crosses of two or more features need each example's feature values, so the
accumulator keeps, per example, the searched features, the per-example error and the id that
decides its half (about 8 bytes per feature and example, plus the error and id). Shards merge
by concatenation, in the order given, so the result does not depend on how the data was split
as long as the ids are stable.

Example:
    >>> acc = DiscoveryAccumulator(["group"])
    >>> acc.add({"group": [0, 1]}, [1.0, 0.0], ids=["a", "b"])
    >>> len(acc.merge([DiscoveryAccumulator(["group"])]).errors)
    2
"""

from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Sequence

import numpy as np

from assay.discovery.discover import DiscoveredSlice, discover


class DiscoveryAccumulator:
    """The examples one shard of a pass contributes to discovery."""

    def __init__(self, features: Sequence[str]):
        self.features = list(features)
        self.columns: Dict[str, list] = {f: [] for f in self.features}
        self.errors: list = []
        self.ids: list = []

    def add(self, columns: Mapping[str, Any], errors, ids) -> None:
        """Adds a batch: {feature: values of shape (b,)}, errors and stable ids, shape (b,)."""
        errors = np.asarray(errors, dtype=float).reshape(-1)
        if len(ids) != len(errors):
            raise ValueError(f"discovery: {len(ids)} ids for {len(errors)} errors")
        for f in self.features:
            if f not in columns:
                raise ValueError(f"discovery: feature {f!r} is not in the batch; it has "
                                 f"{sorted(columns)}")
            self.columns[f].extend(np.asarray(columns[f], dtype=object).tolist())
        self.errors.extend(errors.tolist())
        self.ids.extend(ids)

    def merge(self, others: Sequence["DiscoveryAccumulator"]) -> "DiscoveryAccumulator":
        """This accumulator with the others' examples appended (only this one is changed)."""
        for other in others:
            for f in self.features:
                self.columns[f].extend(other.columns[f])
            self.errors.extend(other.errors)
            self.ids.extend(other.ids)
        return self

    def extract(self, **settings) -> list[DiscoveredSlice]:
        """``discover`` over every example added (settings: max_features, min_size, top...)."""
        return discover(np.asarray(self.errors, dtype=float),
                        {f: self.columns[f] for f in self.features}, ids=self.ids, **settings)


def discovered_section(found: Sequence[DiscoveredSlice], settings: Mapping[str, Any]) -> dict:
    """The JSON form of a discovery: strict JSON (a non-finite number becomes null).

    Returns:
        {"settings": {...}, "slices": [{"slice": {feature: value}, "score", "size", "error",
        "rest_error", "effect", "p_value", "q_value", "confirmed"}, ...]}, best score first.
    """
    def number(v):
        return float(v) if v is not None and math.isfinite(v) else None

    slices = [{"slice": dict(s.slice), "score": number(s.score), "size": int(s.size),
               "error": number(s.error), "rest_error": number(s.rest_error),
               "effect": number(s.effect), "p_value": number(s.p_value),
               "q_value": number(s.q_value), "confirmed": bool(s.confirmed)} for s in found]
    return {"settings": dict(settings), "slices": slices}
