"""The core, as `pip install 'assay[sklearn]'` gives it: Parquet and CSV files, prediction columns
and a scikit-learn model, on the local engine; every value checked against scikit-learn.

These tests run in the full suite (Python 3.10, everything installed) and, through
tests/core/run.sh (`make test`), in fresh Python 3.12 and 3.13 environments holding only the
core, scikit-learn and pytest: there check_core_env.py also proves that TensorFlow, Beam, TFX and
KFP are absent. They use numpy and pyarrow to make their data (pandas is not needed).
"""

import json
import os
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
import yaml

import assay

# (Not pandas: pyarrow's Parquet reader imports it whenever it is installed.)
HEAVY = ("tensorflow", "apache_beam", "tfx", "tfx_bsl", "kfp", "ml_metadata", "sklearn")


def _table(n, seed):
    """Features a, b; a 0/1 label; a probability column `old_score` (the baseline); a slice
    column `region` with three values; a regression target `amount` and its prediction."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    label = (rng.random(n) < 1 / (1 + np.exp(-(1.5 * a - b)))).astype(np.int64)
    old_score = np.round(1 / (1 + np.exp(-(0.5 * a + rng.normal(size=n)))), 6)
    amount = 3 * a + rng.normal(size=n)
    return pa.table({"a": a, "b": b, "label": label, "old_score": old_score,
                     "region": rng.choice(["north", "south", "east"], n),
                     "amount": amount, "amount_pred": 3 * a + 0.3 * rng.normal(size=n)})


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """The data as Parquet and CSV, a LogisticRegression saved with joblib, two configs."""
    import joblib
    from sklearn.linear_model import LogisticRegression

    root = tmp_path_factory.mktemp("core")
    table = _table(1500, seed=7)
    pq.write_table(table, root / "eval.parquet")
    pa_csv.write_csv(table, root / "eval.csv")
    x = np.stack([table["a"].to_numpy(), table["b"].to_numpy()], axis=1)
    y = table["label"].to_numpy()
    model = LogisticRegression().fit(x[:500], y[:500])
    joblib.dump(model, root / "model.joblib")
    binary = {"label": "label",
              "models": {"candidate": {"path": str(root / "model.joblib"), "features": ["a", "b"]},
                         "baseline": {"prediction": "old_score"}},
              "slices": [["region"]],
              "thresholds": [{"metric": "auc", "min": 0.6}]}
    regression = {"label": "amount", "task": "regression",
                  "models": {"candidate": {"prediction": "amount_pred"}},
                  "slices": [["region"]]}
    for name, config in (("binary", binary), ("regression", regression)):
        with open(root / f"{name}.yaml", "w") as f:
            yaml.safe_dump(config, f)
    return {"root": root, "table": table, "y": y,
            "candidate": model.predict_proba(x)[:, 1],
            "baseline": table["old_score"].to_numpy()}


def _binary_reference(y, p):
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

    return {"example_count": len(y), "auc": roc_auc_score(y, p),
            "accuracy": accuracy_score(y, p > 0.5),   # positive when greater than 0.5
            "log_loss": log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1]),
            "mean_label": float(np.mean(y)), "mean_prediction": float(np.mean(p))}


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_binary_with_a_sklearn_model_and_a_prediction_column(case, fmt, tmp_path):
    root = case["root"]
    result = assay.evaluate(str(root / "binary.yaml"), examples=str(root / f"eval.{fmt}"),
                            output=str(tmp_path / "out"), allow_pickle=True)
    region = np.asarray(case["table"]["region"].to_pylist())
    slices = [None] + [{"region": r} for r in ("north", "south", "east")]
    for model in ("candidate", "baseline"):
        for key in slices:
            mask = np.ones(len(region), bool) if key is None else region == key["region"]
            expected = _binary_reference(case["y"][mask], case[model][mask])
            ours = result.metrics(key, model=model)
            for name, value in expected.items():
                assert ours[name] == pytest.approx(value, rel=1e-6, abs=1e-9), (model, key, name)
    assert result.metrics(model="diff")["auc"] == pytest.approx(
        result.metrics()["auc"] - result.metrics(model="baseline")["auc"], abs=1e-12)
    validation = json.loads((tmp_path / "out" / "validation.json").read_text())
    assert validation["outcome"] == "BLESSED" and validation["blessed"] is True
    assert os.listdir(tmp_path / "out" / "blessing") == ["BLESSED"]


def test_regression_on_a_prediction_column(case, tmp_path):
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    result = assay.evaluate(str(case["root"] / "regression.yaml"),
                            examples=str(case["root"] / "eval.parquet"),
                            output=str(tmp_path / "out"))
    y, p = case["table"]["amount"].to_numpy(), case["table"]["amount_pred"].to_numpy()
    ours = result.metrics()
    assert ours["mse"] == pytest.approx(mean_squared_error(y, p), rel=1e-9)
    assert ours["mae"] == pytest.approx(mean_absolute_error(y, p), rel=1e-9)
    assert ours["r2"] == pytest.approx(r2_score(y, p), rel=1e-9)
    # Exact here without tfx-bsl, sketched with it (rank error 0.01): judged by rank.
    residual = y - p
    for q, name in ((0.05, "residual_p05"), (0.5, "residual_p50"), (0.95, "residual_p95")):
        assert np.mean(residual <= ours[name]) == pytest.approx(q, abs=0.015), name


def test_cli_on_parquet(case, tmp_path):
    root = case["root"]
    proc = subprocess.run([sys.executable, "-m", "assay.cli", "evaluate",
                           "--config", str(root / "binary.yaml"),
                           "--examples", str(root / "eval.parquet"),
                           "--output", str(tmp_path / "out"), "--allow-pickle"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "BLESSED" in proc.stdout
    loaded = assay.load_result(str(tmp_path / "out"))
    assert loaded.metrics()["auc"] == pytest.approx(
        _binary_reference(case["y"], case["candidate"])["auc"], rel=1e-9)


def test_prediction_columns_import_nothing_heavy(case, tmp_path):
    """Evaluating prediction columns imports none of TensorFlow, Beam, TFX, tfx-bsl, KFP, ML
    Metadata or scikit-learn, wherever they are installed (a fresh interpreter)."""
    config = {"label": "label", "models": {"candidate": {"prediction": "old_score"}},
              "slices": [["region"]]}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    code = ("import sys, assay\n"
            f"r = assay.evaluate({str(tmp_path / 'c.yaml')!r}, "
            f"examples={str(case['root'] / 'eval.parquet')!r}, output={str(tmp_path / 'o')!r})\n"
            "print(r.metrics()['auc'])\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    auc, imported = proc.stdout.strip().splitlines()[-2:]
    from sklearn.metrics import roc_auc_score

    assert float(auc) == pytest.approx(roc_auc_score(case["y"], case["baseline"]), rel=1e-9)
    assert imported == "[]", f"the core imported {imported}"
