"""The `drift:` and `reference:` config keys (assay.config.features).

    drift:
      features: [amount, region]     # sketched per slice (default: the slice features)
      categorical: [zip]             # counted by value even when numeric (default: by type)
      relative_accuracy: 0.01        # of the numeric sketches' bins
      max_categories: 100            # values written per categorical sketch (the rest: other)
      max_slices: 1000               # a slicing spec with more slices is not sketched
    reference: runs/2024-06-01/      # an earlier results directory (local, gs://, s3://...)
    reference: latest-blessed        # or from ML Metadata: the latest blessed evaluation
    reference: previous              # ... or the latest evaluation (CLI: --mlmd STORE)

Without `drift:`, every evaluation still sketches its slice features, label and predictions.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Optional, Tuple

from assay.config.values import check_keys, expect, number, positive_int, str_list
from assay.drift.sketches import DEFAULT_ACCURACY, DEFAULT_MAX_CATEGORIES
from assay.errors import ConfigError

# A spec with more slices than this is left out of the sketches (the overall slice and the
# other specs are kept): sketches of 100,000 slices would cost memory and time in every
# evaluation. Which specs are left out does not depend on the workers (assay.drift.extension).
DEFAULT_MAX_SLICES = 1000
FROM_MLMD = ("latest-blessed", "previous")


@dataclasses.dataclass(frozen=True)
class DriftConfig:
    """What the sketches hold (see the module docstring). features None: the slice features."""

    features: Optional[Tuple[str, ...]] = None
    categorical: Tuple[str, ...] = ()
    relative_accuracy: float = DEFAULT_ACCURACY
    max_categories: int = DEFAULT_MAX_CATEGORIES
    max_slices: int = DEFAULT_MAX_SLICES

    def to_config(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        if self.features is not None:
            out["features"] = list(self.features)
        if self.categorical:
            out["categorical"] = list(self.categorical)
        if self.relative_accuracy != DEFAULT_ACCURACY:
            out["relative_accuracy"] = self.relative_accuracy
        if self.max_categories != DEFAULT_MAX_CATEGORIES:
            out["max_categories"] = self.max_categories
        if self.max_slices != DEFAULT_MAX_SLICES:
            out["max_slices"] = self.max_slices
        return out


def parse_drift(value: Any) -> DriftConfig:
    """The DriftConfig of a `drift:` mapping; ConfigError naming what is wrong."""
    expect(value, (dict,), "a mapping (features, categorical, relative_accuracy, "
                           "max_categories, max_slices)", "drift")
    check_keys(value, ("features", "categorical", "relative_accuracy", "max_categories",
                       "max_slices"), "drift")
    features = (str_list(value["features"], "drift.features")
                if value.get("features") is not None else None)
    accuracy = DEFAULT_ACCURACY
    if value.get("relative_accuracy") is not None:
        accuracy = number(value["relative_accuracy"], "drift.relative_accuracy")
        if not 0.0001 <= accuracy <= 0.2:
            raise ConfigError(f"'drift.relative_accuracy' must be between 0.0001 and 0.2 "
                              f"(got {accuracy!r})")
    top = DEFAULT_MAX_CATEGORIES
    if value.get("max_categories") is not None:
        top = positive_int(value["max_categories"], "drift.max_categories")
    max_slices = DEFAULT_MAX_SLICES
    if value.get("max_slices") is not None:
        max_slices = positive_int(value["max_slices"], "drift.max_slices")
    return DriftConfig(features, str_list(value.get("categorical") or [], "drift.categorical"),
                       accuracy, top, max_slices)


parse_drift.json_schema = {
    "type": "object", "additionalProperties": False,
    "description": "What the per-slice drift sketches hold (assay_sketches.json).",
    "properties": {
        "features": {"type": "array", "items": {"type": "string"}},
        "categorical": {"type": "array", "items": {"type": "string"}},
        "relative_accuracy": {"type": "number", "minimum": 0.0001, "maximum": 0.2},
        "max_categories": {"type": "integer", "minimum": 1},
        "max_slices": {"type": "integer", "minimum": 1},
    },
}


@dataclasses.dataclass(frozen=True)
class ReferenceConfig:
    """The evaluation drift is measured against.

    Attributes:
      source: a results directory, or "latest-blessed" / "previous" (ML Metadata).
      results: the results directory it resolved to (for an ML Metadata source, set by the
        CLI or the TFX executor; None: not resolved, or none found).
      artifact_id: the ModelEvaluation artifact it resolved to, when from ML Metadata.
      note: why an ML Metadata source resolved to nothing (a first evaluation).
    """

    source: str
    results: Optional[str] = None
    artifact_id: Optional[int] = None
    note: Optional[str] = None

    @property
    def from_mlmd(self) -> bool:
        return self.source in FROM_MLMD

    @property
    def directory(self) -> Optional[str]:
        """The results directory to read, or None (an ML Metadata source not resolved)."""
        return self.results if self.from_mlmd else self.source

    def to_config(self) -> Any:
        if not self.from_mlmd or (self.results is None and self.note is None):
            return self.source
        out = {"source": self.source, "results": self.results, "artifact_id": self.artifact_id,
               "note": self.note}
        return {k: v for k, v in out.items() if v is not None}


def parse_reference(value: Any) -> ReferenceConfig:
    """The ReferenceConfig of `reference:` (a string, or the mapping a resolver wrote)."""
    if isinstance(value, str):
        if not value.strip():
            raise ConfigError("'reference' must name a results directory, latest-blessed or "
                              "previous (got an empty string)")
        return ReferenceConfig(value)
    expect(value, (str, dict), "a results directory, latest-blessed or previous",
           "reference")
    check_keys(value, ("source", "results", "artifact_id", "note"), "reference")
    source = expect(value.get("source"), (str,), "latest-blessed or previous",
                    "reference.source")
    if source not in FROM_MLMD:
        raise ConfigError(f"'reference.source' must be latest-blessed or previous (got "
                          f"{source!r}); give a results directory as the plain string")
    results = value.get("results")
    if results is not None:
        expect(results, (str,), "a results directory", "reference.results")
    artifact = value.get("artifact_id")
    if artifact is not None:
        artifact = positive_int(artifact, "reference.artifact_id")
    note = value.get("note")
    return ReferenceConfig(source, results, artifact, None if note is None else str(note))


parse_reference.json_schema = {
    "description": "The earlier evaluation drift is measured against: a results directory, "
                   "latest-blessed or previous (from ML Metadata).",
    "oneOf": [{"type": "string", "minLength": 1},
              {"type": "object", "additionalProperties": False, "required": ["source"],
               "properties": {"source": {"enum": list(FROM_MLMD)},
                              "results": {"type": "string"},
                              "artifact_id": {"type": "integer", "minimum": 1},
                              "note": {"type": "string"}}}],
}


__all__ = ["DriftConfig", "FROM_MLMD", "ReferenceConfig", "parse_drift", "parse_reference"]
