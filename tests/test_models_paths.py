"""Tests of assay.models: models on any filesystem Beam knows, and which error each failure is.

Remote models are served by an in-memory Beam filesystem (tests/object_store.py, scheme
memobj://), which TensorFlow's own file functions do not know: a model found or copied through
anything but assay's filesystem layer fails here.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import model_fixtures as mf
from object_store import ObjectStore, upload

from assay.config.models import ModelSpec
from assay.data.columns import select
from assay.errors import EXIT_DATA, ConfigError, DataError, ModelError, exit_code
from assay.models.base import ModelAdapter
from assay.models.load import load_model, resolve_model

N = 120


@pytest.fixture(scope="module")
def df():
    return mf.make_tabular_data(N, seed=5)


@pytest.fixture(scope="module")
def local_models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    return {"gbm": mf.make_sklearn_model(d / "gbm.joblib", kind="gbm"),
            "tfx": mf.make_tfx_saved_model(d / "trainer_model")}


@pytest.fixture
def store():
    ObjectStore.objects.clear()
    yield ObjectStore.objects
    ObjectStore.objects.clear()


def csv_batch(df, tmp_path):
    from assay.data import read_batches

    return next(read_batches(mf.write_csv(df, tmp_path / "eval.csv"), 1000))


def test_a_joblib_model_on_an_object_store_is_copied_and_loaded(local_models, df, store,
                                                                 tmp_path):
    remote = upload(local_models["gbm"], "memobj://bucket/models/gbm.joblib")
    assert resolve_model(remote) == ("joblib", remote)
    adapter = load_model(ModelSpec(path=remote, allow_pickle=True))
    np.testing.assert_allclose(adapter.predict(csv_batch(df, tmp_path)),
                               mf.reference_sklearn(local_models["gbm"], df), rtol=0, atol=1e-12)


def test_a_tfx_model_artifact_on_an_object_store_is_copied_and_loaded(local_models, df, store,
                                                                      tmp_path):
    remote = upload(local_models["tfx"], "memobj://bucket/Trainer/model/7")
    assert resolve_model(remote) == ("saved_model", remote + "/Format-Serving")
    adapter = load_model(ModelSpec(path=remote, signature="serving_features"))
    np.testing.assert_allclose(adapter.predict(csv_batch(df, tmp_path)),
                               mf.reference_saved_model(local_models["tfx"], df,
                                                        "serving_features"), rtol=0, atol=1e-6)


def test_a_missing_remote_model_is_a_model_error(store):
    with pytest.raises(ModelError, match=r"model path 'memobj://bucket/none' does not exist"):
        load_model(ModelSpec(path="memobj://bucket/none"))
    store["memobj://bucket/dir/notes.txt"] = b"hi"
    with pytest.raises(ModelError, match=r"cannot tell what kind of model 'memobj://bucket/dir' "
                                         r"is: .* the directory holds: notes.txt"):
        resolve_model("memobj://bucket/dir")


class Failing(ModelAdapter):
    """Predicts zeros for rows 0..1, then fails as a model library does."""

    description = "test model"

    def _predict_chunk(self, batch):
        if batch.column(0)[0].as_py() >= 2:
            raise RuntimeError("shapes (3,4) and (5,) not aligned")
        return np.zeros(batch.num_rows)


def test_a_model_that_fails_when_called_is_a_model_error_naming_it_and_the_rows():
    batch = pa.record_batch([pa.array(range(5))], names=["x"])
    with pytest.raises(ModelError, match=r"the test model failed on rows 2\.\.\.3 of a batch: "
                                         r"RuntimeError: shapes \(3,4\) and \(5,\) not aligned"
                       ) as caught:
        Failing(batch_size=2).predict(batch)
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert exit_code(caught.value) == EXIT_DATA


def test_model_output_of_the_wrong_shape_is_a_model_error():
    adapter = Failing()
    adapter._predict_chunk = lambda b: np.zeros((b.num_rows + 1, 2))
    with pytest.raises(ModelError, match=r"test model gave an output of shape \(4, 2\) for 3 "
                                         r"examples; expected \[3\] or \[3, k\]"):
        adapter.predict(pa.record_batch([pa.array([1, 2, 3])], names=["x"]))


def test_each_failure_is_the_error_of_its_cause(local_models, df, tmp_path):
    batch = csv_batch(df, tmp_path)
    with pytest.raises(ModelError, match=r"refusing to load .*gbm.joblib"):
        load_model(ModelSpec(path=local_models["gbm"]))
    gbm = load_model(ModelSpec(path=local_models["gbm"], allow_pickle=True))
    with pytest.raises(DataError, match=r"needs the column 'hour', which the data lacks"):
        gbm.predict(select(batch, [n for n in batch.schema.names if n != "hour"]))
    with pytest.raises(ConfigError, match=r"'output' applies to TF and Keras models"):
        load_model(ModelSpec(path=local_models["gbm"], allow_pickle=True, output="p"))
    with pytest.raises(ConfigError, match=r"'kind' must be one of auto, saved_model, keras, "
                                          r"joblib \(got 'onnx'\)"):
        resolve_model(local_models["gbm"], kind="onnx")
    with pytest.raises(ModelError, match=r"has no output 'nope' \(outputs: .*probabilities"):
        load_model(ModelSpec(path=local_models["tfx"], output="nope"))
