"""The public API of the package: `assay.validate` re-judges a stored evaluation; the names
the package exports."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import roc_auc_score

import assay


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """A binary evaluation of a prediction column on 400 random rows, blessed by auc >= 0."""
    d = tmp_path_factory.mktemp("api")
    rng = np.random.default_rng(7)
    label = rng.integers(0, 2, 400)
    score = np.clip(0.35 * label + rng.random(400) * 0.65, 0, 1)
    region = rng.choice(["north", "south"], 400)
    pq.write_table(pa.table({"label": label, "p": score, "region": region}), d / "data.parquet")
    config = {"label": "label", "models": {"candidate": {"prediction": "p"}},
              "slices": [[], ["region"]], "thresholds": [{"metric": "auc", "min": 0.0}]}
    assay.evaluate(config, str(d / "data.parquet"), str(d / "out"), write_report=False)
    return d / "out", config, label, score, region


def test_validate_with_the_evaluations_own_config_gives_its_verdict(evaluated):
    out, _, _, _, _ = evaluated
    verdict = assay.validate(str(out))
    written = json.loads((out / "validation.json").read_text())
    assert verdict.blessed is True and written["blessed"] is True
    assert verdict.to_dict() == written


def test_validate_with_stricter_thresholds_refuses_and_names_the_slice(evaluated):
    out, config, label, score, region = evaluated
    north = region == "north"
    auc_north = roc_auc_score(label[north], score[north])
    stricter = dict(config, thresholds=[
        {"metric": "auc", "slices": [{"region": "north"}], "min": round(auc_north + 0.01, 4)}])
    verdict = assay.validate(assay.load_result(str(out)), stricter)
    assert verdict.blessed is False
    assert len(verdict.reasons) == 1
    assert "auc on slice region=north" in verdict.reasons[0]
    assert f"{auc_north:.4f}"[:5] in verdict.reasons[0]
    # Nothing was written: the stored verdict is unchanged.
    assert json.loads((out / "validation.json").read_text())["blessed"] is True
    forced = assay.validate(str(out), stricter, force_bless="hotfix")
    assert forced.blessed is True


def test_validate_refuses_a_bad_threshold_as_a_config_error(evaluated):
    out, config, _, _, _ = evaluated
    with pytest.raises(assay.ConfigError, match="unknown key 'mni'"):
        assay.validate(str(out), dict(config, thresholds=[{"metric": "auc", "mni": 0.5}]))
    with pytest.raises(assay.ConfigError, match="holds no assay results"):
        assay.validate(str(out / "nope"))


def test_the_package_exports_its_api_lazily():
    for name in ("evaluate", "validate", "load_config", "load_result", "EvalConfig",
                 "EvalResult", "ValidationResult", "Metric", "ModelBatch", "AssayError",
                 "ConfigError", "DataError", "ModelError", "SliceNotFound"):
        assert name in assay.__all__ and getattr(assay, name) is not None
    assert issubclass(assay.ModelError, assay.AssayError)
    with pytest.raises(AttributeError, match="no attribute 'evalute'"):
        assay.evalute  # noqa: B018


# ------------------------------------------------------------------------------------------------
# In-memory examples and models, results in memory (`assay.api_inputs`, `assay.models.memory`)

import gc  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import weakref  # noqa: E402

import pandas as pd  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import accuracy_score, log_loss  # noqa: E402

from assay.models import load as model_load  # noqa: E402
from assay.models import memory  # noqa: E402
from assay.results.lookup import SliceNotFound  # noqa: E402

PRED_CONFIG = {"label": "y", "models": {"candidate": {"prediction": "p"}},
               "slices": [["hour"]]}


@pytest.fixture(scope="module")
def frame():
    """600 rows: a 0/1 label, two features, an integer hour, and a prediction column."""
    rng = np.random.default_rng(11)
    n = 600
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    y = (x1 + 0.5 * x2 + rng.normal(scale=1.0, size=n) > 0).astype(int)
    p = 1 / (1 + np.exp(-(x1 + rng.normal(scale=1.5, size=n))))
    return pd.DataFrame({"y": y, "x1": x1, "x2": x2, "hour": rng.integers(0, 4, n), "p": p})


@pytest.fixture(scope="module")
def from_frame(frame):
    return assay.evaluate(PRED_CONFIG, frame)


def test_a_dataframe_is_evaluated_like_the_same_rows_in_a_parquet_file(frame, from_frame,
                                                                        tmp_path):
    frame.to_parquet(tmp_path / "d.parquet", index=False)
    from_file = assay.evaluate(PRED_CONFIG, str(tmp_path / "d.parquet"))
    assert from_frame.records == from_file.records
    overall = from_frame.metrics()
    assert overall["auc"] == pytest.approx(roc_auc_score(frame.y, frame.p), abs=1e-3)
    assert overall["accuracy"] == pytest.approx(accuracy_score(frame.y, frame.p > 0.5))
    hour1 = frame[frame.hour == 1]
    assert from_frame.metrics({"hour": 1})["auc"] == pytest.approx(
        roc_auc_score(hour1.y, hour1.p), abs=1e-3)


@pytest.mark.parametrize("kind", ["table", "record_batch"])
def test_arrow_tables_and_record_batches_are_examples_too(frame, from_frame, kind):
    table = pa.Table.from_pandas(frame, preserve_index=False)
    data = table if kind == "table" else table.to_batches()[0]
    assert assay.evaluate(PRED_CONFIG, data).records == from_frame.records


def test_without_output_nothing_is_written_until_save(frame, from_frame, tmp_path):
    assert from_frame.path is None and from_frame.location is None
    assert from_frame.validation is not None and from_frame.config["label"] == "y"
    saved = from_frame.save(str(tmp_path / "saved"))
    assert from_frame.path == str(tmp_path / "saved") == saved.path
    written = assay.evaluate(PRED_CONFIG, frame, str(tmp_path / "direct"))
    # The same files as evaluate(output=...) writes (TFMA's and the report included), with the
    # same contents but for TFMA's eval_config.json (it names where the data came from).
    names = sorted(os.listdir(tmp_path / "saved"))
    assert names == sorted(os.listdir(tmp_path / "direct"))
    assert {"report.html", "metrics-00000-of-00001.tfrecord", "blessing"} <= set(names)
    for name in ("assay_metrics.json", "validation.json", "config.json"):
        assert json.loads((tmp_path / "saved" / name).read_text()) == \
            json.loads((tmp_path / "direct" / name).read_text())
    assert assay.load_result(str(tmp_path / "saved")).records == from_frame.records
    with pytest.raises(ValueError, match="is written already"):
        assay.load_result(str(tmp_path / "saved")).save(str(tmp_path / "again"))


def test_slice_lookups_take_the_value_as_written_and_a_miss_lists_the_nearest(from_frame):
    assert from_frame.metrics({"hour": "3"}) == from_frame.metrics({"hour": 3}) == \
        from_frame.metrics({"hour": 3.0})
    with pytest.raises(SliceNotFound, match=r"\{'hour': '7'\} .*nearest slices: hour=") as e:
        from_frame.metrics({"hour": "7"})
    assert isinstance(e.value, KeyError)
    assert {"hour": 0} in e.value.nearest and len(e.value.nearest) == 5
    with pytest.raises(KeyError, match=r"nearest slices: hour=2; "):
        from_frame.metrics({"hour": 2, "region": "x"})  # the slice with hour=2 comes first
    with pytest.raises(KeyError, match=r"no record for model 'baseline' \(models: candidate\)"):
        from_frame.metrics(model="baseline")


def test_a_fitted_estimator_and_a_function_are_models(frame):
    clf = LogisticRegression().fit(frame[["x1", "x2"]], frame.y)
    seen = []

    def old_model(batch):
        seen.append(type(batch))
        return batch["p"].to_numpy()

    result = assay.evaluate({"label": "y"}, frame, model=clf, baseline=old_model)
    proba = clf.predict_proba(frame[["x1", "x2"]])[:, 1]
    assert result.metrics()["log_loss"] == pytest.approx(log_loss(frame.y, proba), rel=1e-9)
    assert result.metrics(model="baseline")["auc"] == pytest.approx(
        roc_auc_score(frame.y, frame.p), abs=1e-3)
    assert result.metrics(model="diff")["log_loss"] == pytest.approx(
        log_loss(frame.y, proba) - log_loss(frame.y, frame.p), rel=1e-6)
    assert set(seen) == {pd.DataFrame}
    assert result.info["models"]["candidate"].startswith("in-memory:LogisticRegression#")
    assert result.info["models"]["baseline"].startswith("in-memory:old_model#")


def test_an_estimator_fit_on_arrays_takes_the_configs_features(frame):
    clf = LogisticRegression().fit(frame[["x1", "x2"]].to_numpy(), frame.y)
    cfg = {"label": "y", "models": {"candidate": {"features": ["x1", "x2"]}}}
    result = assay.evaluate(cfg, frame, model=clf)
    proba = clf.predict_proba(frame[["x1", "x2"]].to_numpy())[:, 1]
    assert result.metrics()["log_loss"] == pytest.approx(log_loss(frame.y, proba), rel=1e-9)
    with pytest.raises(assay.ModelError, match="does not record its feature names"):
        assay.evaluate({"label": "y"}, frame, model=clf)


def test_a_keras_model_in_memory_is_run_like_a_keras_file(frame):
    import keras

    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1,
                                                                        activation="sigmoid")])
    cfg = {"label": "y", "models": {"candidate": {"features": ["x1", "x2"]}}}
    result = assay.evaluate(cfg, frame, model=model)
    expected = model.predict(frame[["x1", "x2"]].to_numpy("float32"), verbose=0)[:, 0]
    assert result.metrics()["auc"] == pytest.approx(roc_auc_score(frame.y, expected), abs=1e-3)
    assert result.metrics()["log_loss"] == pytest.approx(log_loss(frame.y, expected), rel=1e-5)


def test_held_models_are_released_when_the_evaluation_ends(frame):
    def model(batch):
        return batch["p"].to_numpy()

    alive = weakref.ref(model)
    assay.evaluate({"label": "y"}, frame, model=model)
    del model
    gc.collect()
    assert alive() is None
    assert not any(str(k[0].path).startswith(memory.TOKEN_PREFIX) for k in model_load._SHARED)


def test_in_memory_inputs_refuse_beam_and_name_what_to_do(frame, tmp_path):
    with pytest.raises(assay.ConfigError, match=r"engine 'beam' cannot take in-memory inputs "
                                                r"\(examples \(pandas DataFrame\)\).*to_parquet"):
        assay.evaluate(PRED_CONFIG, frame, engine="beam")
    frame.to_parquet(tmp_path / "d.parquet")
    with pytest.raises(assay.ConfigError, match=r"Beam pipeline arguments cannot take in-memory "
                                                r"inputs \(model 'candidate' \(function\)\)"):
        assay.evaluate({"label": "y"}, str(tmp_path / "d.parquet"), model=lambda b: b["p"],
                       beam_pipeline_args=["--direct_num_workers=1"])


def test_bad_in_memory_inputs_are_named(frame):
    with pytest.raises(TypeError, match=r"takes the config first and the examples second "
                                        r"\(got a pandas DataFrame as the config\)"):
        assay.evaluate(frame, PRED_CONFIG)
    with pytest.raises(TypeError, match=r"model 'candidate' must be a path, a fitted estimator "
                                        r".*\(got 42, a int\)"):
        assay.evaluate({"label": "y"}, frame, model=42)
    with pytest.raises(assay.DataError, match=r"the pandas DataFrame given as examples has no "
                                              r"rows \(columns: y, x1, x2, hour, p\)"):
        assay.evaluate(PRED_CONFIG, frame.iloc[:0])
    mixed = frame.assign(hour=[1, "two"] * (len(frame) // 2))
    with pytest.raises(assay.DataError, match=r"cannot be read as Arrow columns: .*hour"):
        assay.evaluate(PRED_CONFIG, mixed)
    with pytest.raises(assay.ModelError, match=r"function in-memory:broken#\w+ failed on rows "
                                               r"0\.\.\..*ZeroDivisionError"):
        def broken(batch):
            return 1 / 0

        assay.evaluate({"label": "y"}, frame, model=broken)


_BEAM_SCRIPT = """
import sys, warnings
import assay, assay.api
if sys.argv[2] == "unfiltered":  # the control: Beam's modules imported without the filter
    import assay.engine.beam
    sys.exit(0)
result = assay.evaluate({"label": "y", "models": {"candidate": {"prediction": "p"}}},
                        sys.argv[1], engine="beam")
warnings.warn("the user's own warning", FutureWarning)
print("engine:", result.info["engine"])
"""


@pytest.mark.parametrize("mode", ["filtered", "unfiltered"])
def test_the_beam_engine_prints_no_google_python_version_warnings(frame, tmp_path, mode):
    frame[["y", "p"]].to_csv(tmp_path / "d.csv", index=False)
    run = subprocess.run([sys.executable, "-W", "default", "-c", _BEAM_SCRIPT,
                          str(tmp_path / "d.csv"), mode], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    google = run.stderr.count("You are using a non-supported Python version")
    if mode == "unfiltered":
        assert google > 0, run.stderr[-3000:]  # so the check below can fail
        return
    assert "engine: beam" in run.stdout
    assert google == 0, run.stderr[-3000:]
    assert "FutureWarning: the user's own warning" in run.stderr  # other warnings still show
