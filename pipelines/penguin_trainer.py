"""TFX Trainer module file: a small tf_keras classifier of penguin species.

The Trainer calls `run_fn(fn_args)`. It reads the CsvExampleGen tf.Examples, trains a
4-feature softmax network and exports a SavedModel to `fn_args.serving_model_dir` whose
`serving_default` signature takes serialized tf.Examples (`examples`, shape [n]) and returns
`probabilities` (shape [n, 3], in the order of `SPECIES`), the form assay (and TFMA) evaluate.

`fn_args.custom_config` (all optional):
  epochs: passes over the training split (default 20).
  degrade: true to train on shuffled labels for one step, a model that is deliberately worse
    than chance-level guessing would be (the demo's second run).
  seed: random seed (default 0).
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402

SPECIES = ["Adelie", "Chinstrap", "Gentoo"]
FEATURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
LABEL = "species"
# Feature means and spreads of the Palmer penguins data; fixed so that the model is the same
# whatever the split, and so that no statistics pass is needed.
_MEANS = [43.99, 17.16, 200.97, 4207.06]
_STDS = [5.47, 1.97, 14.02, 805.22]
_BATCH = 32


def _read(files, epochs, shuffle_labels, seed):
    """(features [n, 4] float32, label [n] int64) batches from gzipped tf.Example files."""
    spec = {f: tf.io.FixedLenFeature([], tf.float32) for f in FEATURES}
    spec[LABEL] = tf.io.FixedLenFeature([], tf.string)
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(SPECIES),
                                            tf.range(len(SPECIES), dtype=tf.int64)), -1)
    records = tf.data.TFRecordDataset(files, compression_type="GZIP")
    parsed = [tf.io.parse_single_example(r, spec) for r in records]
    x = tf.stack([tf.stack([p[f] for f in FEATURES]) for p in parsed])
    y = table.lookup(tf.stack([p[LABEL] for p in parsed]))
    if shuffle_labels:
        y = tf.random.shuffle(y, seed=seed)
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    return ds.shuffle(len(parsed), seed=seed).repeat(epochs).batch(_BATCH)


def _model():
    inputs = tf_keras.Input(shape=(len(FEATURES),), name="features")
    x = (inputs - tf.constant(_MEANS)) / tf.constant(_STDS)
    x = tf_keras.layers.Dense(16, activation="relu")(x)
    outputs = tf_keras.layers.Dense(len(SPECIES), activation="softmax")(x)
    model = tf_keras.Model(inputs, outputs)
    model.compile(optimizer=tf_keras.optimizers.Adam(0.05),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _serving_fn(model):
    spec = {f: tf.io.FixedLenFeature([], tf.float32) for f in FEATURES}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(examples):
        parsed = tf.io.parse_example(examples, spec)
        x = tf.stack([parsed[f] for f in FEATURES], axis=1)
        return {"probabilities": model(x)}

    return serve


def run_fn(fn_args):
    """Trains on the train split and exports the serving model (the TFX Trainer entry point)."""
    config = fn_args.custom_config or {}
    degrade = bool(config.get("degrade", False))
    seed = int(config.get("seed", 0))
    tf_keras.utils.set_random_seed(seed)
    epochs = 1 if degrade else int(config.get("epochs", 20))
    # train_files are file patterns (.../Split-train/*).
    files = [f for pattern in fn_args.train_files for f in tf.io.gfile.glob(pattern)]
    train = _read(files, epochs, degrade, seed)
    model = _model()
    model.fit(train.take(1) if degrade else train, epochs=1, verbose=0)
    tf.saved_model.save(model, fn_args.serving_model_dir,
                        signatures={"serving_default": _serving_fn(model)})
