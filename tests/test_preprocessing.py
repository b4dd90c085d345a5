"""Preprocessing functions (TFMA's preprocessing_function_names) and model outputs taken as
scores (logits), each checked against TFMA 0.47 run on the same model and data.

The fixture SavedModel is built here like the Trainer modules of TFX's penguin and chicago taxi
examples export theirs: `serving_default` parses serialized tf.Examples and returns 3 logits
(a Dense(3) without softmax), and `transform_features` parses the same examples and returns
transformed features: the label (species_xf, a class id looked up in a vocabulary), a weight,
a bucketed feature to slice on, and `island` upper-cased (a transformed feature with the name
of a raw one: TFMA uses the transformed value). A second signature `serving_binary` returns one
logit (is the penguin a Gentoo), for the binary case.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

import assay
from assay.config.tfma import from_tfma
from assay.errors import ConfigError, ModelError

SPECIES = ("Adelie", "Chinstrap", "Gentoo")
ISLANDS = ("Biscoe", "Dream", "Torgersen")
N = 400


def _tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    return tf


def penguins(n: int = N, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    species = rng.integers(0, 3, n)
    mass = 3700 + 700 * species + rng.normal(0, 600, n)
    flipper = 190 + 12 * species + rng.normal(0, 12, n)
    return pd.DataFrame({
        "species": np.array(SPECIES)[species], "island": np.array(ISLANDS)[rng.integers(0, 3, n)],
        "mass": mass.astype(np.float32), "flipper": flipper.astype(np.float32),
        "w": rng.uniform(0.5, 2.0, n).astype(np.float32)})


def _serialized(df: pd.DataFrame) -> list:
    tf = _tf()
    out = []
    for row in df.itertuples(index=False):
        text = lambda s: tf.train.Feature(bytes_list=tf.train.BytesList(value=[s.encode()]))  # noqa
        f = {"species": text(row.species), "island": text(row.island),
             "mass": tf.train.Feature(float_list=tf.train.FloatList(value=[row.mass])),
             "flipper": tf.train.Feature(float_list=tf.train.FloatList(value=[row.flipper])),
             "w": tf.train.Feature(float_list=tf.train.FloatList(value=[row.w]))}
        out.append(tf.train.Example(features=tf.train.Features(feature=f)).SerializeToString())
    return out


def make_transform_model(directory) -> str:
    """A TFX-style Trainer model artifact (Format-Serving/) with transform_features."""
    tf = _tf()
    spec = {"species": tf.io.FixedLenFeature([], tf.string),
            "island": tf.io.FixedLenFeature([], tf.string),
            "mass": tf.io.FixedLenFeature([], tf.float32),
            "flipper": tf.io.FixedLenFeature([], tf.float32),
            "w": tf.io.FixedLenFeature([], tf.float32)}
    module = tf.Module()
    module.table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
        tf.constant(SPECIES), tf.constant([0, 1, 2], tf.int64)), -1)
    module.w = tf.Variable([[-2.0, 0.3, 2.5], [-1.0, 0.5, 1.2], [0.4, 0.1, -0.6]])
    module.w_bin = tf.Variable([[2.5], [1.0], [-0.8]])
    examples = tf.TensorSpec([None], tf.string, name="examples")

    def inputs(f):
        return tf.stack([(f["mass"] - 4400) / 800, (f["flipper"] - 202) / 15,
                         tf.ones_like(f["mass"])], axis=1)

    @tf.function(input_signature=[examples])
    def transform_features(serialized):
        f = tf.io.parse_example(serialized, spec)
        return {"species_xf": module.table.lookup(f["species"]),
                "size_xf": tf.cast(f["mass"] > 4200, tf.int64) + tf.cast(f["mass"] > 5000,
                                                                         tf.int64),
                "weight_xf": 2.0 * f["w"],
                "island": tf.strings.upper(f["island"])}

    @tf.function(input_signature=[examples])
    def serve(serialized):
        return {"outputs": tf.matmul(inputs(tf.io.parse_example(serialized, spec)), module.w)}

    @tf.function(input_signature=[examples])
    def serve_binary(serialized):
        return {"logit": tf.matmul(inputs(tf.io.parse_example(serialized, spec)), module.w_bin)}

    path = os.path.join(os.fspath(directory), "Format-Serving")
    tf.saved_model.save(module, path, signatures={
        "serving_default": serve, "serving_binary": serve_binary,
        "transform_features": transform_features})
    return os.fspath(directory)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("preprocessing")
    df = penguins()
    data = root / "data"
    data.mkdir()
    tf = _tf()
    with tf.io.TFRecordWriter(str(data / "penguins.tfrecord")) as writer:
        for record in _serialized(df):
            writer.write(record)
    model = make_transform_model(root / "model")
    return {"root": root, "df": df, "data": str(data), "model": model,
            "tfrecord": str(data / "penguins.tfrecord")}


def _eval_config(signature: str, metrics, label="species_xf", slicing=(None, "size_xf", "island")):
    import tensorflow_model_analysis as tfma

    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name=signature, label_key=label,
                                    example_weight_key="weight_xf",
                                    preprocessing_function_names=["transform_features"])],
        slicing_specs=[tfma.SlicingSpec(feature_keys=[f] if f else None) for f in slicing],
        metrics_specs=[tfma.MetricsSpec(metrics=[tfma.MetricConfig(class_name=m)
                                                 for m in metrics])])


def _tfma_values(setup, eval_config, name):
    """{slice key as assay names it: {metric: value}} from tfma.run_model_analysis."""
    import tensorflow_model_analysis as tfma

    shared = tfma.default_eval_shared_model(
        eval_saved_model_path=os.path.join(setup["model"], "Format-Serving"),
        eval_config=eval_config)
    result = tfma.run_model_analysis(eval_shared_model=shared, eval_config=eval_config,
                                     data_location=setup["tfrecord"],
                                     output_path=str(setup["root"] / f"tfma-{name}"))
    out = {}
    for key, metrics in result.slicing_metrics:
        values = metrics[""][""]
        key = tuple((k, v.decode() if isinstance(v, bytes) else v) for k, v in key)
        out[key] = {k: v.get("doubleValue") for k, v in values.items()}
    return out


@pytest.fixture(scope="module")
def multiclass(setup):
    """(TFMA's values, assay's result) of the penguin-like multiclass evaluation on logits."""
    eval_config = _eval_config("serving_default", ["ExampleCount", "SparseCategoricalAccuracy"])
    theirs = _tfma_values(setup, eval_config, "multiclass")
    config = from_tfma(eval_config, model_paths={"candidate": setup["model"]})
    ours = assay.evaluate(config, setup["data"], str(setup["root"] / "assay-multiclass"))
    return theirs, ours, config


def test_translation_runs_the_transform_signature(multiclass):
    _, _, config = multiclass
    assert config["models"]["candidate"]["preprocessing"] == ["transform_features"]
    assert config["models"]["candidate"]["outputs"] == "scores"
    assert config["label"] == "species_xf" and config["weight"] == "weight_xf"


def test_transformed_label_weight_and_slices_give_tfmas_values(multiclass, setup):
    theirs, ours, _ = multiclass
    assert ours.task == "multiclass"
    # Every slice TFMA computed, and no other: size_xf exists only as a transformed feature,
    # and island is sliced on its transformed (upper-cased) values, as in TFMA.
    ours_keys = {tuple(sorted(s.items())) for s in ours.slices()}
    assert ours_keys == {tuple(sorted(k)) for k in theirs}
    assert ("island", "DREAM") in {kv for k in theirs for kv in k}
    for key, values in theirs.items():
        got = ours.metrics(dict(key))
        # With an example_weight_key, TFMA's ExampleCount is weighted (the weights are the
        # transformed weight_xf here): so it checks the weights were found.
        assert got["weighted_example_count"] == pytest.approx(values["example_count"], rel=1e-6)
        assert got["accuracy"] == pytest.approx(values["sparse_categorical_accuracy"], abs=1e-6)
    # And against a hand computation: weighted argmax accuracy of the logits on the label the
    # transform makes, over the raw examples.
    df = setup["df"]
    logits = _reference_logits(setup, "serving_default", "outputs")
    label = df.species.map(SPECIES.index).to_numpy()
    w = 2.0 * df.w.to_numpy(np.float64)
    hit = logits.argmax(axis=1) == label
    assert ours.metrics()["accuracy"] == pytest.approx(np.sum(w * hit) / np.sum(w), abs=1e-6)


def _reference_logits(setup, signature, output):
    tf = _tf()
    fn = tf.saved_model.load(os.path.join(setup["model"], "Format-Serving")).signatures[signature]
    return fn(examples=tf.constant(_serialized(setup["df"])))[output].numpy()


def test_binary_logits_taken_as_scores_give_tfmas_values(setup):
    """One logit per example: TFMA's confusion matrices count logits below 0 / above 1 at the
    ends, so AUC and accuracy at 0.5 are those of the logits clipped to [0, 1]."""
    from assay.config.tfma_metrics import METRIC_NAMES

    eval_config = _eval_config("serving_binary", ["ExampleCount", "BinaryAccuracy", "AUC"],
                               label="is_gentoo", slicing=(None, "size_xf"))
    # The label is a raw feature here (not made by the transform): looked up among raw ones.
    df = setup["df"].assign(is_gentoo=(setup["df"].species == "Gentoo").astype(np.int64))
    data = setup["root"] / "binary"
    data.mkdir()
    tf = _tf()
    records = _serialized(df)
    with tf.io.TFRecordWriter(str(data / "penguins.tfrecord")) as writer:
        for record, y in zip(records, df.is_gentoo):
            example = tf.train.Example.FromString(record)
            example.features.feature["is_gentoo"].int64_list.value.append(int(y))
            writer.write(example.SerializeToString())
    binary_setup = dict(setup, tfrecord=str(data / "penguins.tfrecord"))
    theirs = _tfma_values(binary_setup, eval_config, "binary")
    config = from_tfma(eval_config, model_paths={"candidate": setup["model"]})
    ours = assay.evaluate(config, str(data), str(setup["root"] / "assay-binary"))
    assert ours.task == "binary"
    logits = _reference_logits(setup, "serving_binary", "logit")[:, 0]
    assert (logits < 0).mean() > 0.2 and (logits > 1).mean() > 0.2  # really logits
    assert ours.info.get("skipped_examples") in (None, {})
    for key, values in theirs.items():
        got = ours.metrics(dict(key))
        assert got["weighted_example_count"] == pytest.approx(values["example_count"], rel=1e-6)
        assert got["accuracy"] == pytest.approx(values["binary_accuracy"], abs=1e-6)
        assert got[METRIC_NAMES["AUC"]] == pytest.approx(values["auc"], abs=1e-3)


def test_a_missing_preprocessing_signature_names_the_model_and_its_signatures(setup, tmp_path):
    config = {"label": "species_xf",
              "models": {"candidate": {"path": setup["model"], "outputs": "scores",
                                       "preprocessing": ["transform_featurez"]}}}
    with pytest.raises(ModelError, match=r"candidate model: the SavedModel at '.*Format-Serving' "
                                         r"has no preprocessing signature 'transform_featurez' "
                                         r"\(signatures: serving_binary, serving_default, "
                                         r"transform_features\)"):
        assay.evaluate(config, setup["data"], str(tmp_path / "out"))


def test_preprocessing_config_is_checked(setup):
    from assay.config.models import model_to_config, parse_model

    spec = parse_model("candidate", {"path": "m", "preprocessing": "transform_features"})
    assert spec.preprocessing == ("transform_features",)
    assert model_to_config(spec) == {"path": "m", "preprocessing": ["transform_features"]}
    with pytest.raises(ConfigError, match=r"models.candidate.preprocessing runs signatures of "
                                          r"the model, but the model is a prediction column"):
        parse_model("candidate", {"prediction": "p", "preprocessing": ["t"]})
    with pytest.raises(ConfigError, match=r"must name distinct signatures \(got \['t', 't'\]\)"):
        parse_model("candidate", {"path": "m", "preprocessing": ["t", "t"]})
    with pytest.raises(ConfigError, match=r"'models.candidate.outputs' must be one of "
                                          r"probabilities, scores \(got 'logits'\)"):
        parse_model("candidate", {"path": "m", "outputs": "logits"})
    from assay.config.tfma import TfmaConfigError

    with pytest.raises(TfmaConfigError, match=r"preprocessing_function_names \['t'\]: they are "
                                              r"signatures of the model, and a model-agnostic"):
        from_tfma({"model_specs": [{"label_key": "y", "prediction_key": "p",
                                    "preprocessing_function_names": ["t"]}]})


def test_logits_without_outputs_scores_are_invalid_with_a_hint(setup, tmp_path):
    config = {"label": "species_xf", "weight": "weight_xf",
              "models": {"candidate": {"path": setup["model"],
                                       "preprocessing": ["transform_features"]}}}
    with pytest.raises(Exception, match=r"has a class probability outside \[0, 1\]; if the model "
                                        r"outputs logits, set transform: softmax, or outputs: "
                                        r"scores to take them as TFMA does"):
        assay.evaluate(config, setup["data"], str(tmp_path / "out"))


def test_beam_engine_and_cli_with_a_yaml_config_give_the_same_values(multiclass, setup, tmp_path):
    """Every entry point: the Beam engine, and the CLI reading `preprocessing` and `outputs`
    from an assay YAML config, with the model given by --model."""
    from assay import cli

    theirs, local, _ = multiclass
    config = tmp_path / "config.yaml"
    config.write_text("label: species_xf\nweight: weight_xf\nslices: [[], [size_xf], [island]]\n"
                      "models:\n  candidate:\n    preprocessing: [transform_features]\n"
                      "    outputs: scores\n")
    out = tmp_path / "cli"
    assert cli.main(["evaluate", "--config", str(config), "--examples", setup["data"],
                     "--output", str(out), "--model", setup["model"], "--engine", "beam"]) == 0
    beam = assay.load_result(str(out))
    for key, values in theirs.items():
        assert beam.metrics(dict(key))["accuracy"] == pytest.approx(
            values["sparse_categorical_accuracy"], abs=1e-6)
        assert beam.metrics(dict(key))["accuracy"] == pytest.approx(
            local.metrics(dict(key))["accuracy"], abs=1e-12)


def test_quantile_buckets_of_a_transformed_feature_are_refused(setup, tmp_path):
    config = {"label": "species_xf", "slices": [{"feature": "weight_xf", "quantiles": 2}],
              "models": {"candidate": {"path": setup["model"], "outputs": "scores",
                                       "preprocessing": ["transform_features"]}}}
    with pytest.raises(ConfigError, match=r"buckets 'weight_xf' by quantiles, but 'weight_xf' "
                                          r"is a transformed feature .*; give boundaries"):
        assay.evaluate(config, setup["data"], str(tmp_path / "out"))
    config["slices"] = [{"feature": "weight_xf", "boundaries": [2.0]}]  # boundaries work
    result = assay.evaluate(config, setup["data"], str(tmp_path / "out"))
    w = 2.0 * setup["df"].w.to_numpy(np.float64)
    assert result.metrics({"weight_xf": "[2, inf)"})["example_count"] == int(np.sum(w >= 2.0))


class _FakeAdapter:
    """A model adapter whose preprocessing returns fixed outputs (no TensorFlow)."""

    def __init__(self, outputs, preprocessing=("t",)):
        self.outputs, self.preprocessing = outputs, preprocessing

    def transformed_features(self, batch):
        return self.outputs if self.preprocessing else {}


def test_transformed_batch_columns_precedence_and_shapes():
    import pyarrow as pa

    from assay.engine.transformed import transformed_batch

    raw = pa.record_batch([pa.array([1, 2, 3]), pa.array(["a", "b", "c"])], names=["x", "s"])
    candidate = _FakeAdapter({
        "x": np.array([10, 20, 30]),                          # replaces the raw column
        "pair": np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]),  # [n, 2]: a list column
        "one": np.array([[7], [8], [9]]),                     # [n, 1]: one value per example
        "text": np.array([b"p", b"q", b"r"], dtype=object),   # bytes read as strings
        "blob": np.array([b"\xff", b"\xfe", b"ok"], dtype=object)})  # not UTF-8: kept as bytes
    baseline = _FakeAdapter({"x": np.array([0, 0, 0]), "extra": np.array([1.5, 2.5, 3.5])})
    out = transformed_batch({"candidate": candidate, "baseline": baseline}, raw)
    assert out.schema.names == ["x", "s", "pair", "one", "text", "blob", "extra"]
    assert out.column("x").to_pylist() == [10, 20, 30]  # the candidate's value, not the raw one
    assert out.column("s").to_pylist() == ["a", "b", "c"]
    assert out.column("pair").to_pylist() == [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    assert out.column("one").to_pylist() == [7, 8, 9]
    assert out.column("text").type == pa.string() and out.column("text")[1].as_py() == "q"
    assert out.column("blob").type == pa.binary()
    assert out.column("extra").to_pylist() == [1.5, 2.5, 3.5]  # only the baseline makes it
    # No model with preprocessing: the very same batch.
    assert transformed_batch({"candidate": _FakeAdapter({}, ())}, raw) is raw
    with pytest.raises(ModelError, match=r"preprocessing output 'bad' of model 'candidate' "
                                         r"holds complex128 values"):
        transformed_batch({"candidate": _FakeAdapter({"bad": np.ones(3) * 1j})}, raw)
