"""Quality over time: the series of earlier evaluations, alerts, the regression budget, and
scheduled monitoring.

    from assay import history
    series = history.load_series(results=["runs/1", "runs/2", "runs/3"])   # or mlmd=, pipeline=
    series.values("auc")            # the overall slice's auc, oldest first
    series.alerts()                 # the newest values outside the trailing window's band

Modules: `config` (the `history:` config key), `series` (evaluations and series, from ML
Metadata or results directories), `alerts` (the trailing-window rule), `thresholds`
(`max_regression_from`: the budget against an anchor), `extension` (the `history` section of
assay_metrics.json), `monitor` (`assay monitor`), `cli` (`assay history`, `assay monitor`).
Importing `assay.history` imports numpy at most; ML Metadata is read only when asked.
"""

from assay.lazy import module_getattr

_LAZY = {
    "HistoryConfig": "assay.history.config", "parse_history": "assay.history.config",
    "Evaluation": "assay.history.series", "Series": "assay.history.series",
    "Point": "assay.history.series", "load_evaluations": "assay.history.series",
    "load_series": "assay.history.series", "series_of": "assay.history.series",
    "Alert": "assay.history.alerts", "alert_for": "assay.history.alerts",
    "monitor": "assay.history.monitor",
}

__all__ = sorted(_LAZY)


__getattr__ = module_getattr(__name__, _LAZY)
