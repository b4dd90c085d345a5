"""Small data sets and models built on the fly for tests (no binary fixtures in the repo).

    df = make_tabular_data(500, seed=0)
    write_tfrecord(df, tmp / "eval.tfrecord.gz", gzip=True)
    model_dir = make_tfx_saved_model(tmp / "trainer")          # TFX artifact layout
    path = make_sklearn_model(tmp / "lr.joblib")                # allow_pickle needed to load it

Every builder takes the place to write to and returns it; each runs in a few seconds. TensorFlow,
Keras and the boosting libraries are imported inside the builders that need them.

Reference predictions, computed without assay (each builder's docstring says which to use):
  - TFX SavedModel: `reference_saved_model(artifact, df, signature)`, the signature called on
    tf.Examples built with tf.train.Example (serving_default) or on tensors (serving_features).
  - Keras file: `reference_keras(path, df)`, the model loaded with tf_keras / keras and called.
  - joblib estimators: `reference_sklearn(path, df)`: predict_proba (column 1 when binary) or
    predict on df[feature_names_in_].
"""

from __future__ import annotations

import os
import warnings
from typing import Optional, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from assay import demo

PAYMENTS = ("Cash", "Credit Card", "Dispute", "Mobile", "No Charge")
FEATURES = ("hour", "day", "payment", "miles")
NUMERIC_FEATURES = ("hour", "day", "miles")
# The Keras file fixtures take these columns, in this order (stacked, or as named inputs).
KERAS_FEATURES = NUMERIC_FEATURES
# make_sklearn_multiclass_model predicts `payment` (classes in this order) from the other features.
MULTICLASS_FEATURES = ("hour", "day", "miles")
MULTICLASS_CLASSES = PAYMENTS
# make_sklearn_regression_model predicts `fare`.
REGRESSION_FEATURES = FEATURES


def make_tabular_data(n: int = 500, seed: int = 0) -> pd.DataFrame:
    """Taxi-like rows: features that drive a binary label, a fare, and a weight.

    Columns: hour int64 0-23, day int64 1-7, payment str (one of PAYMENTS; more often
    "Credit Card" on long trips), miles float64, label int64 0/1 (likelier in the evening, on long
    trips and for card payments), fare float64 (about 2.5 + 2 * miles), weight float64 in
    [0.5, 2]. Floats are multiples of 1/16, so they survive a tf.Example's float32 exactly.

    Example:
      >>> make_tabular_data(3, seed=1).columns.tolist()
      ['hour', 'day', 'payment', 'miles', 'label', 'fare', 'weight']
    """
    rng = np.random.default_rng(seed)
    hour = rng.integers(0, 24, n)
    day = rng.integers(1, 8, n)
    miles = np.round(rng.gamma(2.0, 2.5, n) * 16) / 16
    card = rng.random(n) < 0.3 + 0.5 * (miles > 5)
    other = rng.choice(np.array(PAYMENTS)[[0, 2, 3, 4]], n, p=[0.6, 0.1, 0.2, 0.1])
    payment = np.where(card, "Credit Card", other).astype(object)
    logit = (-1.5 + 0.2 * miles + 1.2 * ((hour >= 17) & (hour <= 22)) + 0.8 * card
             - 0.1 * (day - 4))
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    fare = np.round((2.5 + 2.0 * miles + 0.3 * (payment == "Cash") + rng.normal(0, 1, n)) * 16) / 16
    weight = np.round(rng.uniform(0.5, 2.0, n) * 16) / 16
    return pd.DataFrame({"hour": hour.astype(np.int64), "day": day.astype(np.int64),
                         "payment": payment, "miles": miles, "label": label, "fare": fare,
                         "weight": weight})


# ------------------------------------------------------------------------------------------------
# Writing data


def serialize_examples(df: pd.DataFrame) -> list:
    """Each row as a serialized tf.Example (int64_list / float_list / bytes_list), with tfx-bsl."""
    from assay.data.tfrecord import encode_examples

    return encode_examples(pa.RecordBatch.from_pandas(df, preserve_index=False))


def write_tfrecord(df: pd.DataFrame, path, gzip: bool = False) -> str:
    """Writes the rows as tf.Examples in a TFRecord file (gzipped if `gzip`); returns the path."""
    path = os.fspath(path)
    demo.write_tfrecord(path, serialize_examples(df), compress=gzip)
    return path


def write_csv(df: pd.DataFrame, path) -> str:
    """Writes the rows as CSV with a header line; returns the path."""
    path = os.fspath(path)
    df.to_csv(path, index=False)
    return path


def write_parquet(df: pd.DataFrame, path) -> str:
    """Writes the rows as a Parquet file; returns the path."""
    path = os.fspath(path)
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)
    return path


# ------------------------------------------------------------------------------------------------
# TensorFlow models


def _quiet_tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    return tf


def _keras_numeric_model(keras, named_inputs: bool):
    """hour, day, miles -> Dense(8, relu) -> Dense(1, sigmoid): a probability."""
    if named_inputs:
        inputs = [keras.Input(shape=(1,), name=n, dtype="float32") for n in KERAS_FEATURES]
        x = keras.layers.Concatenate()(inputs)
    else:
        inputs = keras.Input(shape=(len(KERAS_FEATURES),), name="features", dtype="float32")
        x = inputs
    x = keras.layers.Rescaling([1 / 24, 1 / 7, 1 / 10])(x)
    x = keras.layers.Dense(8, activation="relu")(x)
    out = keras.layers.Dense(1, activation="sigmoid", name="probability")(x)
    return keras.Model(inputs, out)


def _fit(keras, model, x, y, steps: int = 30):
    """A few full-batch Adam steps in eager mode (Model.fit spends seconds tracing)."""
    import tensorflow as tf

    y = tf.constant(np.asarray(y, np.float32).reshape(-1, 1))
    optimizer = keras.optimizers.Adam(0.05)
    for _ in range(steps):
        with tf.GradientTape() as tape:
            p = tf.clip_by_value(model(x, training=True), 1e-6, 1 - 1e-6)
            loss = -tf.reduce_mean(y * tf.math.log(p) + (1 - y) * tf.math.log(1 - p))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))


def make_tfx_saved_model(artifact_dir, df: Optional[pd.DataFrame] = None) -> str:
    """A tf_keras binary classifier exported as a TFX Trainer model artifact; returns the dir.

    Layout: `<artifact_dir>/Format-Serving/saved_model.pb`. Signatures:
      - serving_default: `examples` (string [None], serialized tf.Examples parsed with the
        feature spec hour int64, day int64, payment string, miles float32) -> {"logits" [n, 1],
        "probabilities" [n, 1]}.
      - serving_features: hour float32 [None], day int64 [None, 1], payment string [None],
        miles float32 [None, 1] -> {"scores": [n, 1]}.

    Reference predictions: `reference_saved_model(artifact_dir, df, signature, output)`.
    """
    tf = _quiet_tf()
    import tf_keras

    df = make_tabular_data(400, seed=1) if df is None else df
    inputs = {
        "hour": tf_keras.Input(shape=(1,), name="hour", dtype=tf.float32),
        "day": tf_keras.Input(shape=(1,), name="day", dtype=tf.float32),
        "miles": tf_keras.Input(shape=(1,), name="miles", dtype=tf.float32),
        "payment": tf_keras.Input(shape=(1,), name="payment", dtype=tf.string),
    }
    numeric = tf_keras.layers.Concatenate()([inputs["hour"], inputs["day"], inputs["miles"]])
    numeric = tf_keras.layers.Rescaling([1 / 24, 1 / 7, 1 / 10])(numeric)
    payment = tf_keras.layers.StringLookup(vocabulary=list(PAYMENTS),
                                           output_mode="one_hot")(inputs["payment"])
    x = tf_keras.layers.Concatenate()([numeric, payment])
    # Seeded: the weights must not depend on what else ran in this process before (tests rely
    # on the model using every feature, e.g. that swapping payments flips predictions).
    x = tf_keras.layers.Dense(8, activation="relu",
                              kernel_initializer=tf_keras.initializers.GlorotUniform(seed=7))(x)
    logits = tf_keras.layers.Dense(
        1, name="logits", kernel_initializer=tf_keras.initializers.GlorotUniform(seed=8))(x)
    model = tf_keras.Model(inputs, logits)
    # A few full-batch steps in eager mode: Model.fit would spend most of the time tracing.
    train = {n: tf.constant(df[n].to_numpy(np.float32).reshape(-1, 1)) for n in NUMERIC_FEATURES}
    train["payment"] = tf.constant(df["payment"].to_numpy().astype(str).reshape(-1, 1))
    labels = tf.constant(df["label"].to_numpy(np.float32).reshape(-1, 1))
    optimizer = tf_keras.optimizers.Adam(0.05)
    for _ in range(30):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
                labels, model(train, training=True)))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))

    def call(hour, day, payment, miles):
        as_column = lambda t: tf.reshape(tf.cast(t, tf.float32), [-1, 1])  # noqa: E731
        return model({"hour": as_column(hour), "day": as_column(day), "miles": as_column(miles),
                      "payment": tf.reshape(payment, [-1, 1])}, training=False)

    feature_spec = {"hour": tf.io.FixedLenFeature([], tf.int64),
                    "day": tf.io.FixedLenFeature([], tf.int64),
                    "payment": tf.io.FixedLenFeature([], tf.string),
                    "miles": tf.io.FixedLenFeature([], tf.float32)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")],
                 autograph=False)  # autograph would rewrite all of Keras: seconds per trace
    def serve_examples(examples):
        f = tf.io.parse_example(examples, feature_spec)
        logit = call(f["hour"], f["day"], f["payment"], f["miles"])
        return {"logits": logit, "probabilities": tf.sigmoid(logit)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="hour"),
                                  tf.TensorSpec([None, 1], tf.int64, name="day"),
                                  tf.TensorSpec([None], tf.string, name="payment"),
                                  tf.TensorSpec([None, 1], tf.float32, name="miles")],
                 autograph=False)
    def serve_features(hour, day, payment, miles):
        return {"scores": tf.sigmoid(call(hour, day, payment, miles))}

    # Saving a tf.Module that holds the model's state, not the Keras model itself: Keras would
    # trace every layer for its own loader, which takes many seconds and nothing here needs.
    export = tf.Module()
    export.weights = list(model.variables)
    export.tables = [layer.lookup_table for layer in model.layers
                     if isinstance(layer, tf_keras.layers.StringLookup)]
    artifact_dir = os.fspath(artifact_dir)
    tf.saved_model.save(export, os.path.join(artifact_dir, "Format-Serving"),
                        signatures={"serving_default": serve_examples,
                                    "serving_features": serve_features})
    return artifact_dir


def tf_examples(df: pd.DataFrame) -> list:
    """Each row serialized with tf.train.Example (independently of assay and tfx-bsl)."""
    tf = _quiet_tf()
    out = []
    for row in df.itertuples(index=False):
        feature = {}
        for name, value in zip(df.columns, row):
            if isinstance(value, str):
                feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(
                    value=[value.encode()]))
            elif isinstance(value, (int, np.integer)):
                feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
            else:
                feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
        out.append(tf.train.Example(features=tf.train.Features(feature=feature))
                   .SerializeToString())
    return out


def reference_saved_model(artifact_dir, df: pd.DataFrame, signature: str = "serving_default",
                          output: Optional[str] = None) -> np.ndarray:
    """The fixture SavedModel's output called directly in TF; shape [n]."""
    tf = _quiet_tf()
    fn = tf.saved_model.load(os.path.join(os.fspath(artifact_dir), "Format-Serving")) \
        .signatures[signature]
    if signature == "serving_default":
        out = fn(examples=tf.constant(tf_examples(df)))[output or "probabilities"]
    else:
        out = fn(hour=tf.constant(df["hour"].to_numpy(np.float32)),
                 day=tf.constant(df["day"].to_numpy(np.int64).reshape(-1, 1)),
                 payment=tf.constant(df["payment"].to_numpy().astype(str)),
                 miles=tf.constant(df["miles"].to_numpy(np.float32).reshape(-1, 1)))[
            output or "scores"]
    return out.numpy()[:, 0].astype(np.float64)


def make_keras_model_file(path, named_inputs: bool = False,
                          df: Optional[pd.DataFrame] = None) -> str:
    """A tf_keras binary classifier saved as .keras or .h5 (by the suffix of `path`).

    One input of shape [None, 3] (the KERAS_FEATURES columns stacked; load it with
    features: [hour, day, miles]), or with `named_inputs` three float32 inputs [None, 1] named
    hour, day, miles. Reference predictions: `reference_keras(path, df)`.
    """
    _quiet_tf()
    import tf_keras

    return _save_keras(tf_keras, path, named_inputs, df)


def make_keras3_model_file(path, df: Optional[pd.DataFrame] = None) -> str:
    """As make_keras_model_file (stacked input), written by Keras 3 in its .keras format."""
    _quiet_tf()
    import keras

    return _save_keras(keras, path, False, df)


def _save_keras(keras, path, named_inputs: bool, df: Optional[pd.DataFrame]) -> str:
    df = make_tabular_data(300, seed=2) if df is None else df
    model = _keras_numeric_model(keras, named_inputs)
    _fit(keras, model, _keras_input(df, named_inputs), df["label"].to_numpy())
    path = os.fspath(path)
    with warnings.catch_warnings():  # tf_keras calls .h5 legacy; it is what some users have
        warnings.simplefilter("ignore", UserWarning)
        model.save(path)
    return path


def _keras_input(df: pd.DataFrame, named_inputs: bool):
    x = df[list(KERAS_FEATURES)].to_numpy(np.float32)
    return [x[:, i:i + 1] for i in range(x.shape[1])] if named_inputs else x


def reference_keras(path, df: pd.DataFrame, keras_3: bool = False) -> np.ndarray:
    """The Keras file's model called on df's KERAS_FEATURES (float32); shape [n]."""
    _quiet_tf()
    if keras_3:
        import keras
    else:
        import tf_keras as keras
    model = keras.models.load_model(os.fspath(path), compile=False)
    named = len(model.inputs) > 1
    return np.asarray(model(_keras_input(df, named), training=False))[:, 0].astype(np.float64)


# ------------------------------------------------------------------------------------------------
# scikit-learn API models (joblib files)


def _dump(model, path) -> str:
    import joblib

    path = os.fspath(path)
    joblib.dump(model, path)
    return path


def _tabular_pipeline(estimator, features: Sequence[str]):
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [f for f in features if f != "payment"]
    steps = [("numeric", StandardScaler(), numeric)]
    if "payment" in features:
        steps.append(("payment", OneHotEncoder(handle_unknown="ignore"), ["payment"]))
    return Pipeline([("prepare", ColumnTransformer(steps)), ("model", estimator)])


def make_sklearn_model(path, kind: str = "logistic", df: Optional[pd.DataFrame] = None) -> str:
    """A binary classifier of `label` from FEATURES: a Pipeline (scaling, one-hot payment) ending
    in LogisticRegression (kind "logistic") or GradientBoostingClassifier (kind "gbm"), fit on a
    DataFrame (so it has feature_names_in_), written with joblib.

    Reference predictions: `reference_sklearn(path, df)` (predict_proba column 1).
    """
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    if kind not in ("logistic", "gbm"):
        raise ValueError(f"'kind' must be logistic or gbm (got {kind!r})")
    df = make_tabular_data(400, seed=3) if df is None else df
    estimator = LogisticRegression() if kind == "logistic" else \
        GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0)
    model = _tabular_pipeline(estimator, FEATURES).fit(df[list(FEATURES)], df["label"])
    return _dump(model, path)


def make_sklearn_multiclass_model(path, df: Optional[pd.DataFrame] = None) -> str:
    """A LogisticRegression predicting `payment` (5 classes, MULTICLASS_CLASSES order) from
    MULTICLASS_FEATURES; reference: `reference_sklearn` (predict_proba, shape [n, 5])."""
    from sklearn.linear_model import LogisticRegression

    df = make_tabular_data(400, seed=4) if df is None else df
    model = _tabular_pipeline(LogisticRegression(max_iter=500), MULTICLASS_FEATURES)
    return _dump(model.fit(df[list(MULTICLASS_FEATURES)], df["payment"]), path)


def make_sklearn_regression_model(path, df: Optional[pd.DataFrame] = None) -> str:
    """A GradientBoostingRegressor of `fare` from FEATURES (predict, shape [n])."""
    from sklearn.ensemble import GradientBoostingRegressor

    df = make_tabular_data(400, seed=5) if df is None else df
    model = _tabular_pipeline(GradientBoostingRegressor(n_estimators=30, random_state=0),
                              REGRESSION_FEATURES)
    return _dump(model.fit(df[list(REGRESSION_FEATURES)], df["fare"]), path)


def make_sklearn_array_model(path, df: Optional[pd.DataFrame] = None) -> str:
    """A LogisticRegression fit on a bare numpy matrix of NUMERIC_FEATURES: it has no
    feature_names_in_, so loading it needs features: [hour, day, miles]."""
    from sklearn.linear_model import LogisticRegression

    df = make_tabular_data(400, seed=6) if df is None else df
    x = df[list(NUMERIC_FEATURES)].to_numpy(np.float64)
    return _dump(LogisticRegression(max_iter=500).fit(x, df["label"].to_numpy()), path)


def make_xgboost_model(path, df: Optional[pd.DataFrame] = None) -> str:
    """An xgboost.XGBClassifier (sklearn API) of `label` from NUMERIC_FEATURES, fit on a
    DataFrame; reference: `reference_sklearn` (predict_proba column 1)."""
    import xgboost

    df = make_tabular_data(400, seed=7) if df is None else df
    model = xgboost.XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1, random_state=0)
    return _dump(model.fit(df[list(NUMERIC_FEATURES)], df["label"]), path)


def make_lightgbm_model(path, df: Optional[pd.DataFrame] = None) -> str:
    """A lightgbm.LGBMClassifier (sklearn API) of `label` from NUMERIC_FEATURES, fit on a
    DataFrame; reference: `reference_sklearn` (predict_proba column 1)."""
    import lightgbm

    df = make_tabular_data(400, seed=8) if df is None else df
    model = lightgbm.LGBMClassifier(n_estimators=20, num_leaves=7, n_jobs=1, verbose=-1,
                                    random_state=0)
    return _dump(model.fit(df[list(NUMERIC_FEATURES)], df["label"]), path)


def reference_sklearn(path, df: pd.DataFrame, features: Optional[Sequence[str]] = None
                      ) -> np.ndarray:
    """The joblib model called directly: predict_proba (column 1 when binary) or predict.

    The model gets df[feature_names_in_], or a float matrix of df[features] if it has none.
    """
    import joblib

    model = joblib.load(os.fspath(path))
    names = getattr(model, "feature_names_in_", None)
    x = df[list(names)] if names is not None else df[list(features)].to_numpy(np.float64)
    if not hasattr(model, "predict_proba"):
        return np.asarray(model.predict(x), dtype=np.float64)
    proba = np.asarray(model.predict_proba(x), dtype=np.float64)
    return proba[:, 1] if proba.shape[1] == 2 else proba
