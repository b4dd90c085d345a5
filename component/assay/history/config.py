"""The `history:` config key: where the earlier evaluations are, and the alert rule.

    history:
      mlmd: sqlite:metadata.db      # an ML Metadata store (or mysql://...) ...
      pipeline: taxi                # ... and the pipeline whose evaluations it reads
      results: [runs/1, runs/2]     # and/or results directories, oldest first
      window: 5                     # the alert's trailing window (evaluations)
      k: 3                          # the band: mean +- k * sd of the window
      rule: sd                      # or interval: the mean of the window's interval bounds

The evaluations are read from the store's pipeline (oldest first), then the results
directories, in the order given; with neither, the history is empty (a first evaluation:
`assay monitor` starts so). `max_regression_from` thresholds take their anchor from them.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Optional, Tuple

from assay.config import values
from assay.errors import ConfigError

DEFAULT_PIPELINE = "assay"  # as assay.mlmd.types (not imported: it needs ml-metadata)
RULES = ("sd", "interval")
_KEYS = ("mlmd", "pipeline", "results", "window", "k", "rule", "metrics")


@dataclasses.dataclass(frozen=True)
class HistoryConfig:
    """Where the history is, and the alert rule (see the module docstring).

    Attributes:
      mlmd: an ML Metadata store URI, or None.
      pipeline: the pipeline context whose ModelEvaluation artifacts form the history.
      results: results directories, oldest first.
      window: how many earlier values the alert's band is computed from (>= 2).
      k: the band's half-width in standard deviations (rule sd).
      rule: "sd" or "interval".
      metrics: the metrics to chart and alert on; () means those the thresholds name.
    """

    mlmd: Optional[str] = None
    pipeline: str = DEFAULT_PIPELINE
    results: Tuple[str, ...] = ()
    window: int = 5
    k: float = 3.0
    rule: str = "sd"
    metrics: Tuple[str, ...] = ()

    def to_config(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        if self.mlmd is not None:
            out["mlmd"] = self.mlmd
            out["pipeline"] = self.pipeline
        if self.results:
            out["results"] = list(self.results)
        out.update(window=self.window, k=self.k, rule=self.rule)
        if self.metrics:
            out["metrics"] = list(self.metrics)
        return out


def parse_history(raw: Any) -> HistoryConfig:
    """The HistoryConfig of the `history:` value.

    Raises:
      ConfigError: an unknown key, a bad value, or neither `mlmd` nor `results` given
        (ConfigTypeError: a value of the wrong type).

    Example:
        >>> parse_history({"results": ["runs/1"], "window": 3}).window
        3
    """
    values.expect(raw, (dict,), "a mapping with mlmd/pipeline and/or results", "history")
    values.check_keys(raw, _KEYS, "history")
    mlmd = raw.get("mlmd")
    if mlmd is not None:
        values.expect(mlmd, (str,), "a store URI (sqlite:PATH or mysql://...)", "history.mlmd")
    pipeline = raw.get("pipeline", DEFAULT_PIPELINE)
    values.expect(pipeline, (str,), "a pipeline name", "history.pipeline")
    if not pipeline:
        raise ConfigError("'history.pipeline' must be a non-empty string")
    results = values.str_list(raw.get("results", []), "history.results",
                              "a list of results directories")
    window = values.positive_int(raw.get("window", 5), "history.window")
    if window < 2:
        raise ConfigError(f"'history.window' must be at least 2 (a band needs two values; "
                          f"got {window})")
    k = values.number(raw.get("k", 3.0), "history.k")
    if not k > 0:
        raise ConfigError(f"'history.k' must be a positive number (got {raw.get('k')!r})")
    rule = values.choice(raw.get("rule", "sd"), RULES, "history.rule")
    metrics = values.str_list(raw.get("metrics", []), "history.metrics", "a list of metric names")
    return HistoryConfig(mlmd, pipeline, results, window, float(k), rule, metrics)


parse_history.json_schema = {
    "type": "object", "additionalProperties": False,
    "description": "earlier evaluations: series, alerts, the anchor of max_regression_from",
    "properties": {
        "mlmd": {"type": "string", "description": "ML Metadata store: sqlite:PATH or mysql://"},
        "pipeline": {"type": "string", "default": DEFAULT_PIPELINE},
        "results": {"type": "array", "items": {"type": "string"},
                    "description": "results directories, oldest first"},
        "window": {"type": "integer", "minimum": 2, "default": 5},
        "k": {"type": "number", "exclusiveMinimum": 0, "default": 3},
        "rule": {"enum": list(RULES), "default": "sd"},
        "metrics": {"type": "array", "items": {"type": "string"}},
    },
}

__all__ = ["HistoryConfig", "RULES", "parse_history"]
