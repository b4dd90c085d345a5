"""assay.integrations.mlflow: what log_result logs, read back from a local file-store tracking
URI (file:// in tmp_path) and compared with the result's own values."""

import math

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

import assay
from assay.integrations.mlflow import log_result, metric_key


@pytest.fixture()
def tracking(tmp_path, monkeypatch):
    """A file-store tracking URI of its own; MLflow 3 refuses file stores without the opt-in."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    mlflow.set_tracking_uri((tmp_path / "mlruns").as_uri())
    mlflow.set_experiment("assay-tests")
    yield MlflowClient()
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


@pytest.fixture(scope="module")
def result():
    rng = np.random.default_rng(2)
    n = 400
    y = rng.integers(0, 2, n)
    df = pd.DataFrame({"y": y, "p": np.clip(0.4 * y + 0.6 * rng.random(n), 0, 1),
                       "q": rng.random(n), "hour": rng.integers(0, 3, n)})
    config = {"label": "y", "models": {"candidate": {"prediction": "p"},
                                       "baseline": {"prediction": "q"}},
              "slices": [["hour"]],
              "thresholds": [{"metric": "auc", "min": 0.99}, {"metric": "auc", "min": 0.0}]}
    return assay.evaluate(config, df)


def test_the_overall_metrics_verdict_and_report_go_to_the_active_run(tracking, result):
    with mlflow.start_run() as run:
        assert log_result(result) == run.info.run_id
    data = tracking.get_run(run.info.run_id).data
    expected = {}
    for model, prefix in (("candidate", ""), ("baseline", "baseline/"), ("diff", "diff/")):
        for metric, value in result.metrics(model=model).items():
            expected[prefix + metric.replace("@", "_at_")] = value
    expected["assay/blessed"] = 0.0
    assert set(data.metrics) == set(expected)
    for key, value in expected.items():
        assert data.metrics[key] == pytest.approx(value, rel=1e-12) or \
            (math.isnan(value) and math.isnan(data.metrics[key])), key
    assert data.metrics["recall_at_0.5"] == result.metrics()["recall@0.5"]
    assert data.tags["assay.verdict"] == "NOT_BLESSED" and result.blessed is False
    assert data.tags["assay.reasons"] == "\n".join(result.validation["reasons"])
    assert "below the minimum 0.99" in data.tags["assay.reasons"]
    assert data.tags["assay.task"] == "binary"
    artifacts = [a.path for a in tracking.list_artifacts(run.info.run_id, "assay")]
    assert artifacts == ["assay/report.html"]
    local = tracking.download_artifacts(run.info.run_id, "assay/report.html")
    with open(local, encoding="utf-8") as f:
        assert "auc" in f.read()


def test_a_given_run_a_directory_and_no_run_at_all(tracking, result, tmp_path):
    result.save(str(tmp_path / "out"))
    other = tracking.create_run(tracking.get_experiment_by_name("assay-tests").experiment_id)
    assert log_result(str(tmp_path / "out"), run_id=other.info.run_id,
                      log_report=False) == other.info.run_id
    data = tracking.get_run(other.info.run_id).data
    assert data.metrics["auc"] == result.metrics()["auc"]
    assert tracking.list_artifacts(other.info.run_id) == []
    assert mlflow.active_run() is None
    started = log_result(result, log_report=False)  # as mlflow.log_metric: a new active run
    assert mlflow.active_run().info.run_id == started != other.info.run_id


def test_metric_names_are_what_mlflow_accepts():
    assert metric_key("candidate", "precision@0.7") == "precision_at_0.7"
    assert metric_key("baseline", "auc") == "baseline/auc"
    assert metric_key("diff:bench", "ndcg@k=3") == "diff_bench/ndcg_at_k_3"


def test_without_mlflow_the_error_names_the_extra(result, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "mlflow", None)  # as if not installed
    with pytest.raises(ImportError, match=r"assay.integrations.mlflow needs mlflow .*"
                                          r"pip install 'assay\[mlflow\]'"):
        log_result(result)


def test_importing_the_hook_imports_neither_mlflow_nor_pandas():
    import subprocess
    import sys

    code = ("import sys, assay.api, assay.integrations.mlflow, assay.results.frame\n"
            "print(sorted(m for m in ('mlflow', 'pandas', 'tensorflow', 'apache_beam') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
