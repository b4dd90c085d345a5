"""Models run by the engine, end to end, from TFRecord, CSV and Parquet.

Each evaluation's per-slice metrics are checked against scikit-learn on the model's own
predictions, computed directly in TF / Keras / scikit-learn without assay.
"""

import numpy as np
import pytest
from sklearn import metrics as skm

import assay

import model_fixtures as mf

N = 600
FORMATS = ("tfrecord", "csv", "parquet")


@pytest.fixture(scope="module")
def df():
    return mf.make_tabular_data(N, seed=21)


@pytest.fixture(scope="module")
def files(tmp_path_factory, df):
    root = tmp_path_factory.mktemp("e2e-data")
    (root / "Split-eval").mkdir()
    return {
        "tfrecord": mf.write_tfrecord(df, root / "Split-eval" / "data_tfrecord-00000-of-00001.gz",
                                      gzip=True),
        "csv": mf.write_csv(df, root / "eval.csv"),
        "parquet": mf.write_parquet(df, root / "eval.parquet"),
    }


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e-models")
    return {
        "saved_model": mf.make_tfx_saved_model(root / "trainer"),
        "keras": mf.make_keras_model_file(root / "model.keras"),
        "sklearn": mf.make_sklearn_model(root / "lr.joblib"),
        "xgboost": mf.make_xgboost_model(root / "xgb.joblib"),
        "lightgbm": mf.make_lightgbm_model(root / "lgbm.joblib"),
        "multiclass": mf.make_sklearn_multiclass_model(root / "mc.joblib"),
        "regression": mf.make_sklearn_regression_model(root / "reg.joblib"),
    }


def _binary_config(model_spec, baseline=None):
    models = {"candidate": model_spec}
    if baseline:
        models["baseline"] = baseline
    return {"label": "label", "weight": "weight", "models": models, "exact": True,
            "slices": [["payment"]], "on_no_thresholds": "bless"}


def _check_binary(result, df, preds, rel=1e-6):
    y, w = df["label"].to_numpy(), df["weight"].to_numpy()
    for s in result.slices():
        mask = np.ones(len(df), bool) if not s else (df["payment"] == s["payment"]).to_numpy()
        got = result.metrics(s)
        assert got["example_count"] == mask.sum()
        assert got["accuracy"] == pytest.approx(
            skm.accuracy_score(y[mask], preds[mask] > 0.5, sample_weight=w[mask]), rel=1e-9)
        assert got["log_loss"] == pytest.approx(
            skm.log_loss(y[mask], preds[mask], sample_weight=w[mask], labels=[0, 1]), rel=rel)
        if 0 < y[mask].sum() < mask.sum():
            assert got["auc"] == pytest.approx(
                skm.roc_auc_score(y[mask], preds[mask], sample_weight=w[mask]), rel=rel)


@pytest.mark.parametrize("fmt", FORMATS)
def test_tfx_saved_model_serialized_examples(fmt, files, models, df, tmp_path):
    result = assay.evaluate(_binary_config({"path": models["saved_model"]}), files[fmt],
                            str(tmp_path / "out"))
    _check_binary(result, df, mf.reference_saved_model(models["saved_model"], df))


def test_tfx_saved_model_named_features_signature(files, models, df, tmp_path):
    spec = {"path": models["saved_model"], "signature": "serving_features"}
    result = assay.evaluate(_binary_config(spec), files["parquet"], str(tmp_path / "out"))
    _check_binary(result, df, mf.reference_saved_model(models["saved_model"], df,
                                                       "serving_features"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_keras_model_file(fmt, files, models, df, tmp_path):
    spec = {"path": models["keras"], "features": list(mf.KERAS_FEATURES), "batch_size": 64}
    result = assay.evaluate(_binary_config(spec), files[fmt], str(tmp_path / "out"))
    _check_binary(result, df, mf.reference_keras(models["keras"], df))


@pytest.mark.parametrize("fmt", FORMATS)
def test_sklearn_candidate_against_xgboost_baseline(fmt, files, models, df, tmp_path):
    cfg = _binary_config({"path": models["sklearn"]}, baseline={"path": models["xgboost"]})
    result = assay.evaluate(cfg, files[fmt], str(tmp_path / "out"), allow_pickle=True)
    cand = mf.reference_sklearn(models["sklearn"], df)
    base = mf.reference_sklearn(models["xgboost"], df)
    _check_binary(result, df, cand)
    y, w = df["label"].to_numpy(), df["weight"].to_numpy()
    assert result.metrics({}, "baseline")["auc"] == pytest.approx(
        skm.roc_auc_score(y, base, sample_weight=w), rel=1e-6)
    assert result.metrics({}, "diff")["auc"] == pytest.approx(
        skm.roc_auc_score(y, cand, sample_weight=w) - skm.roc_auc_score(y, base, sample_weight=w),
        abs=1e-6)


def test_lightgbm_model(files, models, df, tmp_path):
    result = assay.evaluate(_binary_config({"path": models["lightgbm"]}),
                            files["csv"], str(tmp_path / "out"), allow_pickle=True)
    _check_binary(result, df, mf.reference_sklearn(models["lightgbm"], df))


def test_pickled_models_need_the_opt_in(files, models, tmp_path):
    with pytest.raises(Exception, match=r"refusing to load .*lr.joblib.*allow_pickle"):
        assay.evaluate(_binary_config({"path": models["sklearn"]}), files["csv"],
                       str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_multiclass_model_with_string_labels(files, models, df, tmp_path):
    cfg = {"label": "payment", "label_vocabulary": list(mf.MULTICLASS_CLASSES),
           "models": {"candidate": {"path": models["multiclass"]}},
           "slices": [["day"]], "exact": True, "on_no_thresholds": "bless"}
    result = assay.evaluate(cfg, files["tfrecord"], str(tmp_path / "out"), allow_pickle=True)
    assert result.task == "multiclass"
    proba = mf.reference_sklearn(models["multiclass"], df)
    y = df["payment"].map({c: i for i, c in enumerate(mf.MULTICLASS_CLASSES)}).to_numpy()
    for s in result.slices():
        m = np.ones(len(df), bool) if not s else (df["day"] == s["day"]).to_numpy()
        got = result.metrics(s)
        assert got["accuracy"] == pytest.approx(skm.accuracy_score(y[m], proba[m].argmax(1)))
        assert got["log_loss"] == pytest.approx(
            skm.log_loss(y[m], proba[m], labels=range(5)), rel=1e-6)


def test_regression_model(files, models, df, tmp_path):
    cfg = {"label": "fare", "models": {"candidate": {"path": models["regression"]}},
           "slices": [["payment"]], "on_no_thresholds": "bless"}
    result = assay.evaluate(cfg, files["parquet"], str(tmp_path / "out"), allow_pickle=True)
    assert result.task == "regression"
    pred = mf.reference_sklearn(models["regression"], df)
    fare = df["fare"].to_numpy()
    for s in result.slices():
        m = np.ones(len(df), bool) if not s else (df["payment"] == s["payment"]).to_numpy()
        got = result.metrics(s)
        assert got["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(fare[m], pred[m])),
                                            rel=1e-9)
        assert got["r2"] == pytest.approx(skm.r2_score(fare[m], pred[m]), rel=1e-9)


def test_signature_that_does_not_fit_names_its_inputs(files, models, tmp_path):
    data = mf.make_tabular_data(50, seed=2).drop(columns=["miles"])
    path = mf.write_parquet(data, tmp_path / "no-miles.parquet")
    spec = {"path": models["saved_model"], "signature": "serving_features"}
    with pytest.raises(Exception, match=r"serving_features.*miles"):
        assay.evaluate(_binary_config(spec), path, str(tmp_path / "out"))


def test_baseline_that_cannot_run_is_a_stated_reason(files, models, df, tmp_path):
    cfg = _binary_config({"path": models["sklearn"]},
                         baseline={"path": models["saved_model"], "signature": "no_such_sig"})
    cfg["thresholds"] = [{"metric": "auc", "max_regression": 0.01}]
    result = assay.evaluate(cfg, files["parquet"], str(tmp_path / "out"), allow_pickle=True)
    assert "no_such_sig" in result.info["baseline_error"]
    assert result.blessed is False
    assert any("baseline" in r for r in result.validation["reasons"])
    cfg["baseline_failure"] = "ignore"
    result = assay.evaluate(cfg, files["parquet"], str(tmp_path / "out"), allow_pickle=True)
    assert result.blessed is True
