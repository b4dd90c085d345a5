"""Tests of assay.models.load: every adapter's predictions against the model called directly.

Each model is built once per module (tests/model_fixtures.py) and fed the same 300 rows as five
kinds of batch: TFRecord read by assay.data with and without the raw record column, tf.Examples
written by TensorFlow and decoded by tfx-bsl (list columns), CSV and Parquet (scalar columns).
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

import model_fixtures as mf
from assay import data as io
from assay.config.models import ModelSpec
from assay.errors import ConfigError, DataError, ModelError
from assay.models.base import PredictionColumn, fixed_width_values
from assay.models.load import clear_shared_models, load_model, resolve_model, shared_model
from assay.models.sklearn import JoblibAdapter
from fresh import loaded_modules

import tensorflow as tf

RAW = "__raw_record__"
SOURCES = ("tfrecord_raw", "tfrecord", "tf_examples", "csv", "parquet")
N = 300


@pytest.fixture(scope="module")
def df():
    return mf.make_tabular_data(N, seed=11)


@pytest.fixture(scope="module")
def batches(df, tmp_path_factory):
    """{source: RecordBatch of the N rows}."""
    d = tmp_path_factory.mktemp("data")
    tfrecord = mf.write_tfrecord(df, d / "eval.tfrecord.gz", gzip=True)
    csv = mf.write_csv(df, d / "eval.csv")
    parquet = mf.write_parquet(df, d / "eval.parquet")
    from tfx_bsl.coders import example_coder

    out = {
        "tfrecord_raw": next(io.read_batches(tfrecord, 1000, raw_record_column=RAW)),
        "tfrecord": next(io.read_batches(tfrecord, 1000)),
        "tf_examples": example_coder.ExamplesToRecordBatchDecoder().DecodeBatch(
            mf.tf_examples(df)),
        "csv": next(io.read_batches(csv, 1000)),
        "parquet": next(io.read_batches(parquet, 1000)),
    }
    assert all(b.num_rows == N for b in out.values())
    assert pa.types.is_large_list(out["tfrecord"].schema.field("hour").type)
    assert pa.types.is_int64(out["csv"].schema.field("hour").type)
    return out


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """{name: path} of every fixture model."""
    d = tmp_path_factory.mktemp("models")
    return {
        "tfx": mf.make_tfx_saved_model(d / "trainer_model"),
        "keras_h5": mf.make_keras_model_file(d / "stacked.h5"),
        "keras_named": mf.make_keras_model_file(d / "named.keras", named_inputs=True),
        "keras3": mf.make_keras3_model_file(d / "keras3.keras"),
        "logistic": mf.make_sklearn_model(d / "logistic.joblib"),
        "gbm": mf.make_sklearn_model(d / "gbm.pkl", kind="gbm"),
        "multiclass": mf.make_sklearn_multiclass_model(d / "multiclass.joblib"),
        "regression": mf.make_sklearn_regression_model(d / "regression.joblib"),
        "array": mf.make_sklearn_array_model(d / "array.pickle"),
        "xgboost": mf.make_xgboost_model(d / "xgboost.joblib"),
        "lightgbm": mf.make_lightgbm_model(d / "lightgbm.joblib"),
    }


@pytest.fixture(scope="module")
def tfx(models, df):
    """The fixture SavedModel: an adapter per signature, and its outputs computed in TF."""
    path = models["tfx"]
    return {
        "default": load_model(ModelSpec(path=path), raw_record_column=RAW),
        "features": load_model(ModelSpec(path=path, signature="serving_features"), RAW),
        "probabilities": mf.reference_saved_model(path, df),
        "logits": mf.reference_saved_model(path, df, output="logits"),
        "scores": mf.reference_saved_model(path, df, "serving_features"),
    }


def without(batch: pa.RecordBatch, *names: str) -> pa.RecordBatch:
    keep = [n for n in batch.schema.names if n not in names]
    return pa.RecordBatch.from_arrays([batch.column(n) for n in keep], names=keep)


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def chunk_calls(adapter, monkeypatch):
    calls = []
    original = adapter._predict_chunk

    def spy(batch):
        calls.append(batch.num_rows)
        return original(batch)

    monkeypatch.setattr(adapter, "_predict_chunk", spy)
    return calls


# ------------------------------------------------------------------------------------------------
# TF SavedModel


@pytest.mark.parametrize("source", SOURCES)
def test_serialized_example_signature_matches_tf(tfx, batches, source):
    adapter = tfx["default"]
    assert adapter.needs_raw_records
    assert "signature 'serving_default' (serialized tf.Example), output 'probabilities'" in \
        adapter.description
    preds = adapter.predict(batches[source])
    assert preds.shape == (N,) and preds.dtype == np.float64
    close(preds, tfx["probabilities"])


def test_serialized_signature_feeds_the_raw_records_as_they_are(tfx, batches):
    # Only the raw record column: the predictions can only come from it.
    raw_only = pa.RecordBatch.from_arrays([batches["tfrecord_raw"].column(RAW)], names=[RAW])
    close(tfx["default"].predict(raw_only), tfx["probabilities"])


@pytest.mark.parametrize("source", SOURCES)
def test_feature_signature_matches_tf(tfx, batches, source):
    adapter = tfx["features"]
    assert not adapter.needs_raw_records
    assert ("(features day int64 [None, 1], hour float32 [None], miles float32 [None, 1], "
            "payment string [None])") in adapter.description
    close(adapter.predict(batches[source]), tfx["scores"])


def test_output_key_picks_the_output(models, tfx, batches):
    adapter = load_model(ModelSpec(path=models["tfx"], output="logits"), RAW)
    logits = adapter.predict(batches["csv"])
    close(logits, tfx["logits"])
    close(1 / (1 + np.exp(-logits)), tfx["probabilities"])


def test_unknown_output_key_lists_the_outputs(models):
    with pytest.raises(ModelError, match=r"signature 'serving_default' .* has no output 'prob' "
                                         r"\(outputs: logits, probabilities\)"):
        load_model(ModelSpec(path=models["tfx"], output="prob"))


def test_unknown_signature_lists_the_signatures(models):
    with pytest.raises(ModelError, match=r"no signature 'predict' \(signatures: serving_default, "
                                         r"serving_features\)"):
        load_model(ModelSpec(path=models["tfx"], signature="predict"))


def test_missing_input_column_names_signature_inputs_and_columns(tfx, batches):
    with pytest.raises(DataError) as e:
        tfx["features"].predict(without(batches["csv"], "miles"))
    message = str(e.value)
    assert "signature 'serving_features'" in message
    assert ("takes the inputs day int64 [None, 1]; hour float32 [None]; miles float32 [None, 1]; "
            "payment string [None]") in message
    assert "no column 'miles' (columns: hour, day, payment, label, fare, weight)" in message


def test_string_column_for_a_numeric_input_is_refused(tfx, batches):
    batch = batches["csv"]
    names = ["payment" if n == "hour" else ("hour" if n == "payment" else n)
             for n in batch.schema.names]
    swapped = pa.RecordBatch.from_arrays(batch.columns, names=names)
    with pytest.raises(DataError, match=r"column 'hour' holds strings \(e.g. '\w+'\) but input "
                                         r"hour float32 \[None\] of signature 'serving_features' "
                                         r"takes float32 numbers"):
        tfx["features"].predict(swapped)


def test_row_without_a_value_for_an_input_is_refused(tfx, batches):
    batch = batches["tfrecord"]
    hour = pa.array([[1]] * (N - 1) + [[]], pa.large_list(pa.int64()))
    holed = pa.RecordBatch.from_arrays([hour if n == "hour" else c for n, c in
                                        zip(batch.schema.names, batch.columns)],
                                       names=batch.schema.names)
    with pytest.raises(DataError, match=rf"column 'hour' holds 0 values in row {N - 1}"):
        tfx["features"].predict(holed)


# ------------------------------------------------------------------------------------------------
# Finding the model


def test_auto_kind_finds_the_saved_model(models):
    artifact = models["tfx"]
    assert resolve_model(artifact) == ("saved_model", f"{artifact}/Format-Serving")
    assert resolve_model(f"{artifact}/Format-Serving") == ("saved_model",
                                                           f"{artifact}/Format-Serving")
    assert resolve_model(models["keras_h5"])[0] == "keras"
    assert resolve_model(models["keras_named"])[0] == "keras"
    assert resolve_model(models["gbm"])[0] == "joblib"
    assert resolve_model(models["array"], kind="joblib") == ("joblib", models["array"])


def test_bad_paths_say_what_was_looked_for(tmp_path, models):
    with pytest.raises(ModelError, match="model path '.*nowhere' does not exist"):
        load_model(ModelSpec(path=str(tmp_path / "nowhere")))
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(ModelError, match=r"cannot tell what kind of model '.*notes.txt' is: "
                                         r"looked for .*saved_model.pb \(a TF SavedModel\), "
                                         r".*Format-Serving/saved_model.pb "
                                         r"\(a TFX Trainer model\), "
                                         r"a .keras / .h5 / .hdf5 file \(Keras\)"):
        load_model(ModelSpec(path=str(tmp_path / "notes.txt")))
    with pytest.raises(ModelError, match=r"the directory holds: notes.txt"):
        load_model(ModelSpec(path=str(tmp_path)))
    with pytest.raises(ModelError, match=r"no SavedModel at"):
        load_model(ModelSpec(path=str(tmp_path), kind="saved_model"))
    with pytest.raises(ConfigError, match=r"'signature' applies to TF SavedModels"):
        load_model(ModelSpec(path=models["gbm"], allow_pickle=True, signature="serving_default"))


# ------------------------------------------------------------------------------------------------
# Keras files


@pytest.mark.parametrize("source", ["tfrecord", "csv", "parquet"])
def test_keras_file_with_stacked_features(models, batches, df, source):
    spec = ModelSpec(path=models["keras_h5"], features=mf.KERAS_FEATURES)
    adapter = load_model(spec)
    assert "(tf_keras), features hour, day, miles as one [n, 3] matrix" in adapter.description
    close(adapter.predict(batches[source]), mf.reference_keras(models["keras_h5"], df))


@pytest.mark.parametrize("source", ["tfrecord", "csv"])
def test_keras_file_with_named_inputs(models, batches, df, source):
    adapter = load_model(ModelSpec(path=models["keras_named"]))
    assert "inputs " in adapter.description and "by name" in adapter.description
    close(adapter.predict(batches[source]), mf.reference_keras(models["keras_named"], df))


def test_keras_3_file(models, batches, df):
    adapter = load_model(ModelSpec(path=models["keras3"], features=mf.KERAS_FEATURES))
    assert "(keras)" in adapter.description
    close(adapter.predict(batches["parquet"]),
          mf.reference_keras(models["keras3"], df, keras_3=True))


def test_keras_input_not_in_the_data_asks_for_features(models, batches):
    adapter = load_model(ModelSpec(path=models["keras_h5"]))
    with pytest.raises(DataError, match=r"has the inputs features, but the data has no column "
                                         r"'features' .*set features: \[COLUMN, ...\]"):
        adapter.predict(batches["csv"])


# ------------------------------------------------------------------------------------------------
# joblib estimators


@pytest.mark.parametrize("name", ["logistic", "gbm", "multiclass", "regression", "xgboost",
                                  "lightgbm"])
@pytest.mark.parametrize("source", ["tfrecord", "csv", "parquet"])
def test_joblib_estimator_matches_direct_call(models, batches, df, name, source):
    adapter = load_model(ModelSpec(path=models[name], allow_pickle=True))
    preds = adapter.predict(batches[source])
    expected = mf.reference_sklearn(models[name], df)
    assert preds.shape == ((N, len(mf.MULTICLASS_CLASSES)) if name == "multiclass" else (N,))
    close(preds, expected)


def test_estimator_without_feature_names_takes_features(models, batches, df):
    path = models["array"]
    with pytest.raises(ModelError, match=r"does not record its feature names .* set features: "
                                         r"\[COLUMN, ...\]"):
        load_model(ModelSpec(path=path, allow_pickle=True))
    adapter = load_model(ModelSpec(path=path, allow_pickle=True, features=mf.NUMERIC_FEATURES))
    close(adapter.predict(batches["tfrecord"]),
          mf.reference_sklearn(path, df, features=mf.NUMERIC_FEATURES))


def test_features_map_columns_onto_the_names_the_model_was_fit_with(models, batches, df):
    batch = batches["csv"]
    renamed = pa.RecordBatch.from_arrays(batch.columns,
                                         names=[f"x_{n}" for n in batch.schema.names])
    adapter = load_model(ModelSpec(path=models["xgboost"], allow_pickle=True,
                                   features=tuple(f"x_{n}" for n in mf.NUMERIC_FEATURES)))
    close(adapter.predict(renamed), mf.reference_sklearn(models["xgboost"], df))
    with pytest.raises(ModelError, match=r"'features' lists 2 columns \(hour, day\) but the model "
                                         r"at .* was fit on 3 \(hour, day, miles\)"):
        load_model(ModelSpec(path=models["xgboost"], allow_pickle=True, features=("hour", "day")))


def test_joblib_is_refused_without_allow_pickle(models):
    path = models["logistic"]
    with pytest.raises(ModelError, match=rf"refusing to load '{path}': joblib/pickle files run "
                                         rf"code when loaded; if you trust it, pass "
                                         rf"--allow-pickle \(CLI\), allow_pickle=True "
                                         rf"\(assay.evaluate\) or the allow_pickle parameter "
                                         rf"of the TFX or KFP component"):
        load_model(ModelSpec(path=path))


def test_joblib_missing_feature_column(models, batches):
    adapter = load_model(ModelSpec(path=models["lightgbm"], allow_pickle=True))
    batch = pa.RecordBatch.from_arrays([batches["csv"].column("hour")], names=["hour"])
    with pytest.raises(DataError, match=r"needs the columns 'day', 'miles', which the data lacks "
                                         r"\(columns: hour\)"):
        adapter.predict(batch)


# ------------------------------------------------------------------------------------------------
# Chunking, caching, laziness


@pytest.mark.parametrize("spec", [
    dict(model="tfx"), dict(model="tfx", signature="serving_features"),
    dict(model="keras_named"), dict(model="gbm", allow_pickle=True),
    dict(model="multiclass", allow_pickle=True),
])
def test_chunks_of_batch_size_give_the_same_predictions(models, batches, spec, monkeypatch):
    spec = dict(spec)
    path = models[spec.pop("model")]
    whole = load_model(ModelSpec(path=path, **spec), RAW).predict(batches["tfrecord_raw"])
    chunked = load_model(ModelSpec(path=path, batch_size=7, **spec), RAW)
    calls = chunk_calls(chunked, monkeypatch)
    close(chunked.predict(batches["tfrecord_raw"]), whole)
    assert len(calls) == math.ceil(N / 7) and max(calls) == 7 and sum(calls) == N


def test_empty_batch_keeps_the_output_width(models, batches):
    adapter = load_model(ModelSpec(path=models["multiclass"], allow_pickle=True))
    assert adapter.predict(batches["csv"].slice(0, 0)).shape == (0,)
    adapter.predict(batches["csv"])
    assert adapter.predict(batches["csv"].slice(0, 0)).shape == (0, len(mf.MULTICLASS_CLASSES))


def test_shared_model_loads_once_per_process(models):
    clear_shared_models()
    spec = ModelSpec(path=models["gbm"], allow_pickle=True)
    first = shared_model(spec)
    assert isinstance(first, JoblibAdapter)
    assert shared_model(ModelSpec(path=models["gbm"], allow_pickle=True)) is first
    assert shared_model(spec, raw_record_column=RAW) is not first
    assert shared_model(ModelSpec(path=models["gbm"], allow_pickle=True, batch_size=8)) is not first
    clear_shared_models()
    assert shared_model(spec) is not first


def test_importing_models_does_not_import_tensorflow():
    assert loaded_modules("import assay.models.load", ("tensorflow",)) == []


# ------------------------------------------------------------------------------------------------
# Precomputed predictions


def test_prediction_column_scalar_and_list():
    batch = pa.record_batch([pa.array([0.25, None, 0.75]),
                             pa.array([[0.25], [], [0.75]], pa.large_list(pa.float32())),
                             pa.array([[0.1, 0.9], [0.5, 0.5], [1.0, 0.0]])],
                            names=["p", "p_list", "probs"])
    close(PredictionColumn(ModelSpec(prediction="p")).predict(batch), [0.25, np.nan, 0.75])
    close(PredictionColumn(ModelSpec(prediction="p_list")).predict(batch), [0.25, np.nan, 0.75])
    close(PredictionColumn(ModelSpec(prediction="probs")).predict(batch),
          [[0.1, 0.9], [0.5, 0.5], [1.0, 0.0]])


def test_prediction_columns_are_stacked():
    batch = pa.record_batch([pa.array([0.2, 0.6]), pa.array([[0.8], [0.4]])],
                            names=["p_no", "p_yes"])
    out = PredictionColumn(ModelSpec(prediction=["p_no", "p_yes"])).predict(batch)
    close(out, [[0.2, 0.8], [0.6, 0.4]])


def test_prediction_column_errors():
    batch = pa.record_batch([pa.array([[0.1, 0.9], [0.2, 0.3, 0.5]]),
                             pa.array([[0.1, 0.2], [0.3]])],
                            names=["probs", "two"])
    with pytest.raises(DataError, match=r"prediction column 'pred' needs the column 'pred', which "
                                         r"the data lacks \(columns: probs, two\)"):
        PredictionColumn(ModelSpec(prediction="pred")).predict(batch)
    with pytest.raises(DataError, match=r"column 'probs' holds 3 values in row 1 .* needs exactly "
                                         r"2 per example"):
        PredictionColumn(ModelSpec(prediction="probs")).predict(batch)
    with pytest.raises(DataError, match=r"column 'two' holds 2 values in row 0 .* but a stacked "
                                         r"prediction column needs exactly 1 per example"):
        PredictionColumn(ModelSpec(prediction=["two", "probs"])).predict(batch)
    strings = pa.record_batch([pa.array(["a"])], names=["p"])
    with pytest.raises(DataError, match=r"holds strings \(e.g. 'a'\); predictions must be "
                                         r"numbers"):
        PredictionColumn(ModelSpec(prediction="p")).predict(strings)


def test_fixed_width_values_reshapes_list_columns():
    column = pa.array([[1, 2], [3, 4], [5, 6]], pa.large_list(pa.int64()))
    np.testing.assert_array_equal(fixed_width_values(column.slice(1), 2, "x", "test"),
                                  [[3, 4], [5, 6]])
