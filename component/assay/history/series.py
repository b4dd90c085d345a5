"""The series of earlier evaluations: per slice and metric, the candidate's value in each.

    series = load_series(mlmd="sqlite:metadata.db", pipeline="taxi")   # ML Metadata
    series = load_series(results=["runs/1", "runs/2", "runs/3"])          # or directories
    series.values("auc")                 # [0.81, 0.80, 0.79]: the overall slice, oldest first
    series.alerts()                      # [Alert]: newest values outside the trailing band
    series.to_dict()                     # the JSON of `assay history --json`

The evaluations of the store's pipeline come first (by artifact id, oldest first), then the
results directories in the order given. An evaluation records its candidate's value of every
metric per slice, the interval when the evaluation computed one (`confidence:`), whether it was
blessed, its model (artifact id and path, where known) and its time (ML Metadata only).
Withheld slices and undefined (null) values are gaps in a series, not zeros.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from assay.history.alerts import Alert, alert_for, band_dict, band_of
from assay.history.config import DEFAULT_PIPELINE, HistoryConfig
from assay.results.slices import slice_key, slice_label

FORMAT_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """One earlier evaluation.

    Attributes:
      label: how tables and charts name it ("evaluation 12" from ML Metadata, else the
        directory's name); path: its results directory; blessed: its verdict (None: none);
      model_id, model: its candidate's Model artifact id and path (None where unknown);
      time: ISO 8601 UTC when ML Metadata recorded it, else None; evaluation_id: the
        ModelEvaluation artifact id (ML Metadata only).
    """

    label: str
    path: str
    blessed: Optional[bool] = None
    model_id: Optional[int] = None
    model: Optional[str] = None
    time: Optional[str] = None
    evaluation_id: Optional[int] = None

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Point:
    """A metric's value in one evaluation; lower/upper: its interval (None without one)."""

    evaluation: int
    value: Optional[float]
    lower: Optional[float] = None
    upper: Optional[float] = None


def _number(x: Any) -> Optional[float]:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or math.isnan(x):
        return None
    return float(x)


def _iso(ms: int) -> Optional[str]:
    import datetime

    if not ms:
        return None
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).isoformat(
        timespec="seconds")


def load_evaluations(mlmd: Optional[str] = None, pipeline: str = DEFAULT_PIPELINE,
                     results: Sequence[str] = ()) -> List[Tuple[Evaluation, Any]]:
    """[(Evaluation, EvalResult)], oldest first: the pipeline's ModelEvaluations in the store
    that hold assay results, then the results directories.

    Raises:
      InputNotFound: a results directory holds no result.
      MetadataError: the store cannot be read.
    """
    from assay.results.result import has_result, load_result

    out = []
    if mlmd is not None:
        from assay import mlmd as store_api
        from assay.mlmd.query import evaluation_history

        for entry in evaluation_history(store_api.connect(mlmd), pipeline):
            if not has_result(entry.uri):   # a TFX Evaluator's TFMA output: not assay's
                continue
            out.append((Evaluation(f"evaluation {entry.evaluation_id}", entry.uri,
                                   entry.blessed, entry.model_id, entry.model_uri,
                                   _iso(entry.time_ms), entry.evaluation_id),
                        load_result(entry.uri)))
    for path in results:
        result = load_result(path)
        model = (result.info.get("models") or {}).get("candidate")
        name = str(path).rstrip("/").rsplit("/", 1)[-1] or str(path)
        out.append((Evaluation(name, str(path), result.blessed,
                               model=model if isinstance(model, str) else None), result))
    return out


class Series:
    """Per (slice, metric), the candidate's Points across evaluations, oldest first.

    Attributes:
      evaluations: [Evaluation], oldest first; lines: {(slice key, metric): (slice, [Point])};
      window, k, rule: the alert rule (assay.history.alerts).
    """

    def __init__(self, evaluations: Sequence[Evaluation],
                 lines: Mapping[Tuple[Any, str], Tuple[Dict[str, Any], List[Point]]],
                 window: int = 5, k: float = 3.0, rule: str = "sd"):
        self.evaluations = list(evaluations)
        self.lines = dict(lines)
        self.window, self.k, self.rule = window, k, rule

    def points(self, metric: str, slice: Optional[Mapping[str, Any]] = None) -> List[Point]:
        """The metric's Points on a slice ({} or None: overall); [] when it has none."""
        return list(self.lines.get((slice_key(slice or {}), metric), ({}, []))[1])

    def values(self, metric: str, slice: Optional[Mapping[str, Any]] = None
               ) -> List[Optional[float]]:
        """The metric's value in each evaluation (None: a gap), oldest first."""
        by = {p.evaluation: p.value for p in self.points(metric, slice)}
        return [by.get(i) for i in range(len(self.evaluations))]

    def band(self, metric: str, slice: Optional[Mapping[str, Any]] = None):
        return band_of(self.points(metric, slice), self.window, self.k, self.rule)

    def alerts(self) -> List[Alert]:
        """The alerts of every series whose newest point is the newest evaluation."""
        newest = len(self.evaluations) - 1
        out = []
        for (_, metric), (slice_, points) in self.lines.items():
            if points and points[-1].evaluation == newest:
                found = alert_for(slice_, metric, points, self.window, self.k, self.rule,
                                  self.evaluations[newest].label)
                if found is not None:
                    out.append(found)
        return out

    def to_dict(self) -> Dict[str, Any]:
        """The JSON document of `assay history --json` (README "Quality over time")."""
        return {
            "version": FORMAT_VERSION,
            "rule": {"rule": self.rule, "window": self.window, "k": self.k},
            "evaluations": [e.to_dict() for e in self.evaluations],
            "series": [{"slice": dict(s), "metric": metric,
                        "points": [dataclasses.asdict(p) for p in points],
                        "band": band_dict(band_of(points, self.window, self.k, self.rule))}
                       for (_, metric), (s, points) in self.lines.items()],
            "alerts": [a.to_dict() for a in self.alerts()],
        }

    def table(self, metrics: Sequence[str] = (), overall_only: bool = True) -> str:
        """A plain-text table: one row per evaluation, one column per (slice, metric)."""
        keys = [(k, s, m) for (k, m), (s, _) in self.lines.items()
                if (not metrics or m in metrics) and (s == {} or not overall_only)]
        heads = ["evaluation", "blessed"] + [m if not s else f"{m} [{slice_label(s)}]"
                                             for _, s, m in keys]
        rows = []
        for i, e in enumerate(self.evaluations):
            row = [e.label, {True: "yes", False: "no", None: "-"}[e.blessed]]
            for _, s, m in keys:
                v = self.values(m, s)[i]
                row.append("-" if v is None else f"{v:.4f}")
            rows.append(row)
        widths = [max(len(r[c]) for r in [heads] + rows) for c in range(len(heads))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
                 for r in [heads] + rows]
        return "\n".join(lines + [f"ALERT: {a.message}" for a in self.alerts()])


def series_of(loaded: Sequence[Tuple[Evaluation, Any]], metrics: Sequence[str] = (),
              overall_only: bool = False, window: int = 5, k: float = 3.0,
              rule: str = "sd") -> Series:
    """The Series of loaded evaluations (from load_evaluations, or (Evaluation, EvalResult)
    pairs made otherwise, e.g. with the evaluation being run appended)."""
    lines: Dict[Tuple[Any, str], Tuple[Dict[str, Any], List[Point]]] = {}
    for i, (_, result) in enumerate(loaded):
        for record in result.records:
            if record.get("model") != "candidate" or "metrics" not in record:
                continue
            if overall_only and record["slice"]:
                continue
            intervals = record.get("intervals") or {}
            for metric, value in record["metrics"].items():
                if metrics and metric not in metrics:
                    continue
                bounds = intervals.get(metric) or {}
                point = Point(i, _number(value), _number(bounds.get("lower")),
                              _number(bounds.get("upper")))
                key = (slice_key(record["slice"]), metric)
                lines.setdefault(key, (dict(record["slice"]), []))[1].append(point)
    return Series([e for e, _ in loaded], lines, window, k, rule)


def load_series(mlmd: Optional[str] = None, pipeline: str = DEFAULT_PIPELINE,
                results: Sequence[str] = (), metrics: Sequence[str] = (),
                overall_only: bool = False, window: int = 5, k: float = 3.0,
                rule: str = "sd", config: Optional[HistoryConfig] = None) -> Series:
    """The Series of a pipeline's evaluations in ML Metadata and/or results directories.

    Args:
      mlmd, pipeline: an ML Metadata store URI and the pipeline to read; results: results
        directories, oldest first (after the store's). metrics: only these (default: all).
      overall_only: only the overall slice. window, k, rule: the alert rule.
      config: a HistoryConfig (the config's `history:`) instead of the arguments above.

    Example:
        >>> s = load_series(results=["runs/1", "runs/2", "runs/3"])     # doctest: +SKIP
        >>> s.values("auc"), [a.message for a in s.alerts()]            # doctest: +SKIP
        ([0.81, 0.8, 0.72], ['auc on slice overall is 0.72 in 3, below the band ...'])
    """
    if config is not None:
        mlmd, pipeline, results = config.mlmd, config.pipeline, config.results
        window, k, rule, metrics = config.window, config.k, config.rule, config.metrics
    return series_of(load_evaluations(mlmd, pipeline, results), metrics, overall_only, window,
                     k, rule)


__all__ = ["Evaluation", "FORMAT_VERSION", "Point", "Series", "load_evaluations", "load_series",
           "series_of"]
