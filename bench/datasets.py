"""The benchmark's data and models, generated once and cached under bench/data/.

    examples = tfrecord_dataset(200_000, shards=4, seed=0)   # .../Split-eval/ (TFX layout)
    table = parquet_dataset(200_000, shards=4, seed=0)       # the same rows as Parquet
    model_dir = keras_saved_model(seed=0)                    # .../Format-Serving/ inside
    joblib_path = sklearn_model(seed=0)

The rows are `assay.demo.make_trips(n, seed)`: hour 0-23, day 1-7, payment (5 strings), miles,
label 0/1, weight, `prediction` (the candidate's score) and `old_prediction` (the baseline's).
Shard i holds rows i, i + shards, i + 2 * shards, ... as `assay.demo.write_trips` writes them;
this module writes one shard at a time so that 20 million examples fit in memory.

Every dataset and model lives in a directory named after what determines it (size, shards, seed,
compression) and is written to a temporary name and renamed when complete, so an interrupted
generation is never mistaken for a finished one.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from typing import Callable, List

# Run as `python bench/<script>.py`, bench/ comes first on sys.path and its modules would shadow
# installed ones of the same name: put the repository there instead.
_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0] or ".") == _HERE:
    sys.path[0] = os.path.dirname(_HERE)

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from assay import demo  # noqa: E402

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.path.join(BENCH_DIR, "data")
SPLIT = "Split-eval"
MODEL_FEATURES = ("hour", "day", "payment", "miles")
TRAIN_SEED_OFFSET = 1000  # models are trained on other rows than the ones they are evaluated on


def _cached(name: str, build: Callable[[str], None], root: str = DATA_DIR) -> str:
    """root/name, built by build(tmp_dir) on first use and renamed into place when complete."""
    final = os.path.join(root, name)
    if os.path.isdir(final):
        return final
    tmp = final + f".tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    start = time.perf_counter()
    build(tmp)
    try:
        os.replace(tmp, final)
    except OSError:  # another process built it meanwhile
        if not os.path.isdir(final):
            raise
        shutil.rmtree(tmp, ignore_errors=True)
        return final
    print(f"bench: built {final} in {time.perf_counter() - start:.1f} s", flush=True)
    return final


def _shard_rows(n: int, shards: int, i: int) -> np.ndarray:
    return np.arange(i, n, shards, dtype=np.int64)


def tfrecord_dataset(n: int, shards: int = 4, seed: int = 0, compress: bool = True,
                     root: str = DATA_DIR) -> str:
    """The Split-eval/ directory of make_trips(n, seed) as tf.Example TFRecord shards.

    Files are named as TFX's ExampleGen names them (`data_tfrecord-00000-of-00004.gz`) and hold
    the same records as `demo.write_trips(dir, n, shards, seed, compress)`.
    """
    name = f"trips-n{n}-s{shards}-seed{seed}-{'gz' if compress else 'raw'}"

    def build(tmp: str) -> None:
        table = demo.make_trips(n, seed)
        split = os.path.join(tmp, SPLIT)
        os.makedirs(split)
        suffix = ".gz" if compress else ""
        for i in range(shards):
            records = demo.to_examples(table.take(pa.array(_shard_rows(n, shards, i))))
            path = os.path.join(split, f"data_tfrecord-{i:05d}-of-{shards:05d}{suffix}")
            demo.write_tfrecord(path, records, compress)
            del records

    return os.path.join(_cached(name, build, root), SPLIT)


def parquet_dataset(n: int, shards: int = 4, seed: int = 0, root: str = DATA_DIR) -> str:
    """The Split-eval/ directory of make_trips(n, seed) as Parquet shards (same rows per shard).

    Columns keep make_trips's types (int64, string, float64); row groups of 128Ki rows.
    """
    name = f"trips-n{n}-s{shards}-seed{seed}-parquet"

    def build(tmp: str) -> None:
        table = demo.make_trips(n, seed)
        split = os.path.join(tmp, SPLIT)
        os.makedirs(split)
        for i in range(shards):
            path = os.path.join(split, f"data_parquet-{i:05d}-of-{shards:05d}.parquet")
            pq.write_table(table.take(pa.array(_shard_rows(n, shards, i))), path,
                           row_group_size=128 * 1024)

    return os.path.join(_cached(name, build, root), SPLIT)


def data_files(split_dir: str) -> List[str]:
    """The data files of a Split-eval/ directory, sorted."""
    return sorted(os.path.join(split_dir, f) for f in os.listdir(split_dir)
                  if not f.startswith((".", "_")))


def data_bytes(split_dir: str) -> int:
    return sum(os.path.getsize(p) for p in data_files(split_dir))


# ------------------------------------------------------------------------------------------------
# Models


def _quiet_tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    return tf


def keras_saved_model(seed: int = 0, train_rows: int = 20_000, root: str = DATA_DIR) -> str:
    """A tf_keras tip classifier exported in the TFX serving layout; returns the artifact dir.

    `<dir>/Format-Serving/` holds a SavedModel whose `serving_default` signature takes
    `examples` (string [None], serialized tf.Examples), parses hour, day (int64), payment
    (string) and miles (float32) and returns {"probabilities": float32 [None, 1]}: a sigmoid over
    Dense(16, relu) on the rescaled numbers and the one-hot payment. Trained for a few
    full-batch steps on make_trips(train_rows, seed + 1000).
    """
    name = f"keras-tips-seed{seed}"

    def build(tmp: str) -> None:
        tf = _quiet_tf()
        import tf_keras

        table = demo.make_trips(train_rows, seed + TRAIN_SEED_OFFSET)
        inputs = {f: tf_keras.Input(shape=(1,), name=f, dtype=tf.string if f == "payment"
                                    else tf.float32) for f in MODEL_FEATURES}
        numeric = tf_keras.layers.Concatenate()([inputs["hour"], inputs["day"], inputs["miles"]])
        numeric = tf_keras.layers.Rescaling([1 / 24, 1 / 7, 1 / 10])(numeric)
        payment = tf_keras.layers.StringLookup(vocabulary=list(demo.PAYMENTS),
                                               output_mode="one_hot")(inputs["payment"])
        x = tf_keras.layers.Concatenate()([numeric, payment])
        x = tf_keras.layers.Dense(16, activation="relu")(x)
        logits = tf_keras.layers.Dense(1, name="logits")(x)
        model = tf_keras.Model(inputs, logits)
        train = {f: tf.constant(table.column(f).to_numpy().astype(np.float32).reshape(-1, 1))
                 for f in ("hour", "day", "miles")}
        train["payment"] = tf.constant(
            np.array(table.column("payment").to_pylist(), dtype=object).reshape(-1, 1))
        labels = tf.constant(table.column("label").to_numpy().astype(np.float32).reshape(-1, 1))
        optimizer = tf_keras.optimizers.Adam(0.05)
        for _ in range(60):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
                    labels, model(train, training=True)))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))

        feature_spec = {"hour": tf.io.FixedLenFeature([], tf.int64),
                        "day": tf.io.FixedLenFeature([], tf.int64),
                        "payment": tf.io.FixedLenFeature([], tf.string),
                        "miles": tf.io.FixedLenFeature([], tf.float32)}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
        def serve_examples(examples):
            f = tf.io.parse_example(examples, feature_spec)
            column = lambda t: tf.reshape(tf.cast(t, tf.float32), [-1, 1])  # noqa: E731
            logit = model({"hour": column(f["hour"]), "day": column(f["day"]),
                           "miles": column(f["miles"]),
                           "payment": tf.reshape(f["payment"], [-1, 1])}, training=False)
            return {"probabilities": tf.sigmoid(logit)}

        tf.saved_model.save(model, os.path.join(tmp, "Format-Serving"),
                            signatures={"serving_default": serve_examples})

    return _cached(name, build, root)


def sklearn_model(seed: int = 0, train_rows: int = 20_000, root: str = DATA_DIR) -> str:
    """A scikit-learn tip classifier (one-hot payment + logistic regression) saved with joblib.

    Fit on a DataFrame of MODEL_FEATURES from make_trips(train_rows, seed + 1000), so it records
    its feature names; returns the .joblib path.
    """
    name = f"sklearn-tips-seed{seed}"

    def build(tmp: str) -> None:
        import joblib
        from sklearn.compose import ColumnTransformer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        frame = demo.make_trips(train_rows, seed + TRAIN_SEED_OFFSET).to_pandas()
        model = Pipeline([
            ("features", ColumnTransformer([
                ("payment", OneHotEncoder(handle_unknown="ignore"), ["payment"]),
                ("numbers", StandardScaler(), ["hour", "day", "miles"])])),
            ("classifier", LogisticRegression(max_iter=500))])
        model.fit(frame[list(MODEL_FEATURES)], frame["label"])
        joblib.dump(model, os.path.join(tmp, "model.joblib"))

    return os.path.join(_cached(name, build, root), "model.joblib")


def main(argv=None) -> int:
    """`python bench/datasets.py KIND '{"n": ..., ...}'`: builds one cached item, prints its path.

    The harness builds data in a subprocess so that its own memory stays small.
    """
    import json

    argv = sys.argv[1:] if argv is None else argv
    builders = {"tfrecord": tfrecord_dataset, "parquet": parquet_dataset,
                "keras": keras_saved_model, "sklearn": sklearn_model}
    print(builders[argv[0]](**json.loads(argv[1] if len(argv) > 1 else "{}")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
