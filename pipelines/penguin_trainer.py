"""TFX Trainer module file: a small tf_keras classifier of penguin species.

The Trainer calls `run_fn(fn_args)`. It reads the CsvExampleGen tf.Examples, trains a
4-feature softmax network and exports a SavedModel to `fn_args.serving_model_dir` whose
`serving_default` signature takes serialized tf.Examples (`examples`, shape [n]) and returns
`probabilities` (shape [n, 3], in the order of `SPECIES`), the form assay (and TFMA) evaluate.

It trains for `fn_args.train_steps` batches of 32 (TrainArgs.num_steps). `fn_args.custom_config`
(optional): `degrade: true` trains on shuffled labels, a deliberately bad model (the demo's
second run, with num_steps 1); `seed` (default 0).
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


def _read(files, shuffle_labels, seed):
    """(features [n, 4] float32, label [n] int64) batches from gzipped tf.Example files."""
    spec = {f: tf.io.FixedLenFeature([], tf.float32) for f in FEATURES}
    spec[LABEL] = tf.io.FixedLenFeature([], tf.string)
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(SPECIES),
                                            tf.range(len(SPECIES), dtype=tf.int64)), -1)
    records = list(tf.data.TFRecordDataset(files, compression_type="GZIP"))  # a few hundred
    parsed = tf.io.parse_example(tf.stack(records), spec)
    x = tf.stack([parsed[f] for f in FEATURES], axis=1)
    y = table.lookup(parsed[LABEL])
    if shuffle_labels:
        y = tf.random.shuffle(y, seed=seed)
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    return ds.shuffle(len(records), seed=seed).repeat().batch(_BATCH)


def _model():
    inputs = tf_keras.Input(shape=(len(FEATURES),), name="features")
    x = (inputs - tf.constant(_MEANS)) / tf.constant(_STDS)
    x = tf_keras.layers.Dense(16, activation="relu")(x)
    outputs = tf_keras.layers.Dense(len(SPECIES), activation="softmax")(x)
    return tf_keras.Model(inputs, outputs)


def _train(model, dataset, steps):
    """Adam on the cross-entropy for `steps` batches.

    A plain loop whose step is traced without autograph: converting Keras's training code
    with autograph (what model.fit does) takes longer than training this small model.
    """
    optimizer = tf_keras.optimizers.Adam(0.05, jit_compile=False)
    loss_fn = tf_keras.losses.SparseCategoricalCrossentropy()

    @tf.function(autograph=False)
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    for x, y in dataset.take(steps):
        step(x, y)


def _serving_fn(model):
    spec = {f: tf.io.FixedLenFeature([], tf.float32) for f in FEATURES}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")],
                 autograph=False)
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
    # train_files are file patterns (.../Split-train/*).
    files = [f for pattern in fn_args.train_files for f in tf.io.gfile.glob(pattern)]
    train = _read(files, degrade, seed)
    model = _model()
    _train(model, train, max(1, fn_args.train_steps))
    # Only the weights and the signature are saved: Keras's own SavedModel export would trace
    # every layer's functions, slow and not needed for serving.
    serving = tf.Module()
    serving.weights = list(model.variables)
    serving.serve = _serving_fn(model)
    tf.saved_model.save(serving, fn_args.serving_model_dir,
                        signatures={"serving_default": serving.serve})
