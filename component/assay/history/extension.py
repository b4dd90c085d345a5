"""The `history` section of assay_metrics.json: the earlier evaluations, the anchors of the
`max_regression_from` thresholds with their values, and the series of the charted metrics
(overall slice) with this evaluation appended, their bands and alerts.

It is a pass extension (assay.engine.extensions) that reads nothing from the batches: its
accumulator is empty, and `extract` runs once on the driver after the pass, when the records
of this evaluation are known. It is active when the config has `history:` or a
`max_regression_from` threshold.

    "history": {
      "rule": {"rule": "sd", "window": 5, "k": 3.0},
      "evaluations": [{"label": "evaluation 4", "path": ..., "blessed": true, ...}, ...],
      "anchors": {"first-blessed": {"label": ..., "path": ..., "values": {"auc": 0.85}}},
      "series": [{"slice": {}, "metric": "auc", "points": [...], "band": {...}}],
      "alerts": [{"slice": {}, "metric": "auc", "value": ..., "side": "below", ...}]
    }

The last point of each series (evaluation index len(evaluations)) is this evaluation.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from assay.history.config import HistoryConfig
from assay.history.series import Evaluation, Series, load_evaluations, series_of
from assay.history.thresholds import RegressionFrom, anchor_key

THIS = "this evaluation"


class _Empty:
    """The accumulator: nothing is read from the batches."""

    def merge(self, others):
        return self


class HistoryExtension:
    def __init__(self, config: Optional[HistoryConfig], thresholds: Sequence[RegressionFrom],
                 metrics: Sequence[str]):
        self.config = config
        self.thresholds = tuple(thresholds)
        self.metrics = tuple(metrics)

    def create(self):
        return _Empty()

    def add(self, acc, view):
        return acc

    def extract(self, acc, doc: Mapping[str, Any]) -> Dict[str, Any]:
        cfg = self.config
        loaded = load_evaluations(cfg.mlmd, cfg.pipeline, cfg.results) if cfg else []
        anchors = {anchor_key(t.anchor): None for t in self.thresholds}
        for key in anchors:
            wanted = sorted({t.metric for t in self.thresholds if anchor_key(t.anchor) == key})
            anchors[key] = resolve_anchor(next(t.anchor for t in self.thresholds
                                               if anchor_key(t.anchor) == key),
                                          loaded, wanted, cfg is not None)
        current = _Current(doc.get("records") or [])
        window, k, rule = (cfg.window, cfg.k, cfg.rule) if cfg else (5, 3.0, "sd")
        series: Series = series_of(list(loaded) + [(Evaluation(THIS, ""), current)],
                                   self.metrics, True, window, k, rule)
        out = series.to_dict()
        del out["version"]
        out["evaluations"] = out["evaluations"][:-1]   # the last point is this evaluation
        out["anchors"] = anchors
        return out


class _Current:
    def __init__(self, records):
        self.records = records


def resolve_anchor(anchor: Any, loaded: List[Tuple[Evaluation, Any]], metrics: Sequence[str],
                   has_history: bool) -> Dict[str, Any]:
    """{label, path, model_id, blessed, values: {metric: overall value}}, or {error: why}, or
    {first_model: why} (a blessed anchor before any blessed evaluation)."""
    from assay.errors import AssayError

    chosen: Optional[Tuple[Evaluation, Any]] = None
    if isinstance(anchor, str) and anchor in ("first-blessed", "latest-blessed"):
        if not has_history:
            return {"error": f"anchor {anchor} needs the config's `history:` (where the "
                             f"evaluations are recorded)"}
        blessed = [item for item in loaded if item[0].blessed]
        if not blessed:
            return {"first_model": f"no earlier evaluation is blessed, so there is no "
                                   f"{anchor} anchor yet (a first model: nothing to regress "
                                   f"from)"}
        chosen = blessed[0] if anchor == "first-blessed" else blessed[-1]
    elif isinstance(anchor, int):
        matches = [item for item in loaded if item[0].model_id == anchor]
        if not matches:
            return {"error": f"no evaluation in the history has Model artifact {anchor} as "
                             f"its candidate (the anchor of max_regression_from)"}
        chosen = matches[-1]
    else:
        from assay.results.result import load_result

        try:
            result = load_result(anchor)
        except AssayError as e:
            return {"error": f"the anchor {anchor!r} of max_regression_from cannot be read: {e}"}
        chosen = (Evaluation(str(anchor), str(anchor), result.blessed), result)
    evaluation, result = chosen
    overall = next((r.get("metrics") or {} for r in result.records
                    if r.get("model") == "candidate" and not r.get("slice")), {})
    return {"label": evaluation.label, "path": evaluation.path, "model_id": evaluation.model_id,
            "blessed": evaluation.blessed,
            "values": {m: overall.get(m) for m in metrics}}


def extension(plan: Any) -> Optional[HistoryExtension]:
    """The history extension of a plan, or None when the config asks for no history."""
    cfg = plan.config.feature("history")
    thresholds = [t for t in plan.config.validation.thresholds if isinstance(t, RegressionFrom)]
    if cfg is None and not thresholds:
        return None
    metrics = (cfg.metrics if cfg is not None and cfg.metrics else
               tuple(dict.fromkeys(t.metric for t in plan.config.validation.thresholds
                                   if isinstance(getattr(t, "metric", None), str))))
    return HistoryExtension(cfg, thresholds, metrics)


__all__ = ["HistoryExtension", "THIS", "extension", "resolve_anchor"]
