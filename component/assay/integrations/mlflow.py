"""Log an evaluation to MLflow: the overall metrics, the verdict, the HTML report (extra `[mlflow]`).

    import mlflow
    import assay
    from assay.integrations.mlflow import log_result

    with mlflow.start_run():
        result = assay.evaluate(config, df, model=clf)
        log_result(result)          # or log_result("out/"), or log_result(result, run_id=...)

What is logged, to the given run, else the active run, else a new run (MLflow's own rule for
`mlflow.log_metric`; the new run is left active, as MLflow leaves it):

- metrics, the overall slice of every model: the candidate's under their own names ("auc"),
  every other model's prefixed with its name and a slash ("baseline/auc", "diff/auc",
  "bench/auc", "diff_bench/auc" for "diff:bench"); names keep what MLflow accepts on every
  platform (letters, digits, _ - . / and spaces): "@" becomes "_at_" ("recall@0.5" ->
  "recall_at_0.5"), any other character "_". A value that is not finite (null in the file) is
  logged as NaN, which MLflow stores as NaN.
- the verdict: the metric "assay/blessed" (1 or 0) and the tags "assay.verdict" (BLESSED,
  NOT_BLESSED, or NONE when no validation ran), "assay.reasons" (one reason a line, cut to
  MLflow's tag length) and "assay.task";
- the report: report.html under the artifact directory "assay" (rendered from the result, so
  a result kept in memory has one too).

mlflow (or mlflow-skinny) is imported when a function here is called, never by `import assay`.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from typing import Any, Dict, List, Optional, Tuple

ARTIFACT_DIR = "assay"
BLESSED_METRIC = "assay/blessed"
TAG_VERDICT, TAG_REASONS, TAG_TASK = "assay.verdict", "assay.reasons", "assay.task"
_TAG_MAX = 8000     # MLflow's longest tag value
_BATCH_MAX = 1000   # MLflow's most metrics (and most entities) in one log_batch
_NOT_ALLOWED = re.compile(r"[^\w.\-/ ]")


def metric_key(model: str, metric: str) -> str:
    """The MLflow name of a model's metric (see the module doc).

    Example:
        >>> metric_key("candidate", "recall@0.5"), metric_key("diff:bench", "auc")
        ('recall_at_0.5', 'diff_bench/auc')
    """
    name = _NOT_ALLOWED.sub("_", metric.replace("@", "_at_"))
    if model == "candidate":
        return name
    return f"{_NOT_ALLOWED.sub('_', model)}/{name}"


def overall_metrics(result: Any) -> Dict[str, float]:
    """{MLflow name: value} of every model's overall metrics, candidate first."""
    out: Dict[str, float] = {}
    for record in result.records:
        if record["slice"] or "metrics" not in record:
            continue
        for metric, value in record["metrics"].items():
            if value is None:
                value = float("nan")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue  # only numbers are metrics to MLflow
            out[metric_key(record["model"], metric)] = float(value)
    return out


def verdict_tags(result: Any) -> Tuple[Dict[str, str], Optional[float]]:
    """(tags, the assay/blessed metric or None when no validation ran)."""
    tags = {TAG_TASK: str(result.task)}
    if result.validation is None:
        tags[TAG_VERDICT] = "NONE"
        return tags, None
    tags[TAG_VERDICT] = "BLESSED" if result.blessed else "NOT_BLESSED"
    reasons = "\n".join(str(r) for r in result.validation.get("reasons") or [])
    if len(reasons) > _TAG_MAX:
        reasons = reasons[:_TAG_MAX - 4] + " ..."
    tags[TAG_REASONS] = reasons
    return tags, 1.0 if result.blessed else 0.0


def log_result(result: Any, run_id: Optional[str] = None, *, log_report: bool = True) -> str:
    """Logs an evaluation's overall metrics, verdict and report to an MLflow run.

    Args:
      result: an EvalResult (from assay.evaluate, kept in memory or written), or the directory
        an evaluation was written to.
      run_id: the run to log to; by default the active run, or a new run when none is active.
      log_report: also log the HTML report as the artifact assay/report.html.

    Returns:
      The id of the run logged to.

    Raises:
      MissingExtra: (an ImportError) mlflow is not installed: pip install 'assay[mlflow]'.

    Example:
        >>> with mlflow.start_run():                                   # doctest: +SKIP
        ...     log_result(assay.evaluate(config, df, model=clf))
    """
    from assay.extras import require
    from assay.results.result import EvalResult, load_result

    mlflow = require("mlflow", "mlflow", "assay.integrations.mlflow")
    if not isinstance(result, EvalResult):
        result = load_result(os.fspath(result))
    if run_id is None:
        active = mlflow.active_run()
        run_id = (active or mlflow.start_run()).info.run_id
    client = mlflow.tracking.MlflowClient()
    tags, blessed = verdict_tags(result)
    metrics = overall_metrics(result)
    if blessed is not None:
        metrics[BLESSED_METRIC] = blessed
    _log_batches(mlflow, client, run_id, metrics, tags)
    if log_report:
        from assay.report import html as report

        with tempfile.TemporaryDirectory(prefix="assay-mlflow-") as tmp:
            path = os.path.join(tmp, report.REPORT_FILE)
            with open(path, "w", encoding="utf-8") as f:
                f.write(report.render_report(result))
            client.log_artifact(run_id, path, artifact_path=ARTIFACT_DIR)
    return run_id


def _log_batches(mlflow: Any, client: Any, run_id: str, metrics: Dict[str, float],
                 tags: Dict[str, str]) -> None:
    """Logs metrics and tags in as few calls as MLflow's batch limits allow."""
    from mlflow.entities import Metric, RunTag

    now = int(time.time() * 1000)
    entities: List[Any] = [Metric(k, v, now, 0) for k, v in metrics.items()]
    for start in range(0, len(entities), _BATCH_MAX):
        client.log_batch(run_id, metrics=entities[start:start + _BATCH_MAX])
    client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])


__all__ = ["ARTIFACT_DIR", "BLESSED_METRIC", "TAG_REASONS", "TAG_TASK", "TAG_VERDICT",
           "log_result", "metric_key", "overall_metrics", "verdict_tags"]
