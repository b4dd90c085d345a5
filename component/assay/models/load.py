"""Model adapters: a pyarrow RecordBatch in, the model's raw predictions out.

    adapter = load_model(ModelSpec(path="/pipeline/Trainer/model/7"))   # TFX artifact, SavedModel
    preds = adapter.predict(batch)          # float64, shape [n] or [n, k]

Batches come from `assay.data.files`: tf.Examples decoded without a schema (every feature a list column)
or CSV/Parquet (scalar columns). Four adapters share one interface (`ModelAdapter`):

- `SavedModelAdapter`: a TF SavedModel signature fed either serialized tf.Examples (the engine's
  raw record column, or the batch encoded back to tf.Examples) or named feature tensors.
- `KerasAdapter`: a .keras / .h5 file, loaded with tf_keras or Keras 3.
- `JoblibAdapter`: a scikit-learn-API estimator (sklearn, XGBoost, LightGBM) in a joblib/pickle
  file; loading one runs code, so it needs `allow_pickle`.
- `PredictionColumn`: predictions already in the data.

Outputs are returned as the model gives them (no sigmoid or softmax is added; the engine applies
`ModelSpec.transform`). Importing this module does not import TensorFlow: that happens when a TF
model is loaded.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import posixpath
import tempfile
import threading
import zipfile
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assay.data.files import DataError

KINDS = ("auto", "saved_model", "keras", "joblib")
KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
JOBLIB_SUFFIXES = (".joblib", ".pkl", ".pickle")
# When a signature or model has several outputs and none is named, the first of these present.
PREFERRED_OUTPUTS = ("probabilities", "probs", "scores", "predictions", "outputs", "logistic",
                     "output_0")
DEFAULT_SIGNATURE = "serving_default"
TFX_SERVING_DIR = "Format-Serving"


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One model of the evaluation, as the user's config describes it.

    Attributes:
      path: where the model is: a SavedModel directory, a TFX Trainer model artifact (its
        Format-Serving/ subdirectory is used), a .keras/.h5 file or a .joblib/.pkl file.
      prediction: instead of `path`, the column (or columns, one per class) holding
        precomputed predictions.
      kind: auto | saved_model | keras | joblib; auto decides from the path.
      signature: the SavedModel signature to call (default serving_default).
      output: the output key, when the model has several outputs.
      features: the input columns, in order, for joblib models and single-input Keras models.
      allow_pickle: opt-in to load joblib/pickle files, which run code when loaded.
      batch_size: the most rows given to the model at once (larger batches are split).
      transform: none | sigmoid | softmax, applied by the engine to the adapter's output.

    Example:
      >>> ModelSpec(path="model.joblib", allow_pickle=True, features=("hour", "miles"))
      ... # doctest: +ELLIPSIS
      ModelSpec(path='model.joblib', ...)
    """

    path: Optional[str] = None
    prediction: Optional[Union[str, List[str]]] = None
    kind: str = "auto"
    signature: Optional[str] = None
    output: Optional[str] = None
    features: Optional[Tuple[str, ...]] = None
    allow_pickle: bool = False
    batch_size: int = 1024
    transform: str = "none"


# ------------------------------------------------------------------------------------------------
# The adapter interface


class ModelAdapter:
    """Turns RecordBatches into predictions, `batch_size` rows at a time.

    Subclasses set `description` and implement `_predict_chunk`.
    """

    description: str = ""
    needs_raw_records: bool = False  # True when the model takes serialized tf.Examples

    def __init__(self, batch_size: int = 1024):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or \
                batch_size < 1:
            raise ValueError(f"'batch_size' must be a positive integer (got {batch_size!r})")
        self.batch_size = int(batch_size)
        self._tail: Tuple[int, ...] = ()  # the shape of one row's output, once seen

    def predict(self, batch: pa.RecordBatch) -> np.ndarray:
        """The model's predictions for every row of `batch`.

        Returns:
          float64 array, shape [n] for one value per example ([n, 1] outputs are flattened) or
          [n, k] for k values per example.

        Example:
          >>> batch = pa.record_batch([pa.array([0.2, 0.9])], names=["p"])
          >>> PredictionColumn(ModelSpec(prediction="p")).predict(batch)
          array([0.2, 0.9])
        """
        n = batch.num_rows
        if n == 0:
            return np.empty((0,) + self._tail, dtype=np.float64)
        parts = [self._as_output(self._predict_chunk(batch.slice(start, self.batch_size)),
                                 min(self.batch_size, n - start))
                 for start in range(0, n, self.batch_size)]
        out = parts[0] if len(parts) == 1 else np.concatenate(parts)
        self._tail = out.shape[1:]
        return out

    def _predict_chunk(self, batch: pa.RecordBatch) -> Any:
        raise NotImplementedError

    def _as_output(self, values: Any, rows: int) -> np.ndarray:
        out = np.asarray(values, dtype=np.float64)
        if out.ndim == 2 and out.shape[1] == 1:
            out = out[:, 0]
        if out.ndim not in (1, 2) or out.shape[0] != rows:
            raise ValueError(f"{self.description} gave an output of shape {out.shape} for {rows} "
                             f"examples; expected [{rows}] or [{rows}, k]")
        return out

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.description}>"


# ------------------------------------------------------------------------------------------------
# Reading columns


def _require_columns(batch: pa.RecordBatch, names: Sequence[str], what: str,
                     hidden: Sequence[Optional[str]] = ()) -> None:
    missing = [n for n in names if n not in batch.schema.names]
    if missing:
        have = [n for n in batch.schema.names if n not in hidden]
        raise ValueError(f"{what} needs the column{'s' if len(missing) > 1 else ''} "
                         f"{', '.join(repr(m) for m in missing)}, which the data lacks "
                         f"(columns: {', '.join(have) or 'none'})")


def _is_list(kind: pa.DataType) -> bool:
    return pa.types.is_list(kind) or pa.types.is_large_list(kind) or \
        pa.types.is_fixed_size_list(kind)


def _to_numpy(values: pa.Array) -> np.ndarray:
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    return values.to_numpy(zero_copy_only=False)


def fixed_width_values(column: pa.Array, width: Optional[int], name: str, what: str,
                       allow_missing: bool = False) -> np.ndarray:
    """The values of a scalar or list column as a [n, width] array, exactly `width` per row.

    Args:
      column: a scalar column (one value per row) or a list column.
      width: the number of values each row must hold; None for "as many as the first row that
        has any".
      name: the column, for error messages.
      what: what reads it ("input 'hour' of ...", "prediction"), for error messages.
      allow_missing: rows with no value (null, empty list) become NaN instead of an error; the
        values are then float64.

    Returns:
      shape [n, width]; numbers as stored, strings and bytes as an object array.

    Raises:
      ValueError: a row holds another number of values (or none, unless allow_missing).

    Example:
      >>> fixed_width_values(pa.array([[1, 2], [3, 4]]), 2, "x", "test")
      array([[1, 2],
             [3, 4]])
    """
    n = len(column)
    if _is_list(column.type):
        counts = pc.fill_null(pc.list_value_length(column), 0).to_numpy(zero_copy_only=False)
        values = column.flatten()
    else:
        counts = column.is_valid().to_numpy(zero_copy_only=False).astype(np.int64)
        values = column.drop_null()
    if width is None:
        nonzero = counts[counts > 0]
        width = int(nonzero[0]) if len(nonzero) else 1
    bad = (counts != width) & ~((counts == 0) & allow_missing)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        got = int(counts[row])
        raise ValueError(f"column '{name}' holds {got} value{'' if got == 1 else 's'} in row "
                         f"{row} (and {int(bad.sum()) - 1} other rows differ), but {what} needs "
                         f"exactly {width} per example")
    if values.null_count:
        raise ValueError(f"column '{name}' holds a null value inside a list; {what} needs "
                         f"{width} value{'' if width == 1 else 's'} per example")
    flat = _to_numpy(values)
    present = counts == width
    if present.all():
        return flat.reshape(n, width)
    out = np.full((n, width), np.nan, dtype=np.float64 if flat.dtype.kind in "biuf" else object)
    out[present] = flat.reshape(-1, width)
    return out


def _cast(values: np.ndarray, dtype: np.dtype, name: str, what: str) -> np.ndarray:
    """`values` as `dtype`; strings and numbers are not converted into each other."""
    source_is_text = values.dtype.kind in "OSU"
    if dtype.kind in "OSU":
        if not source_is_text:
            raise ValueError(f"column '{name}' holds numbers ({values.dtype}) but {what} takes "
                             f"strings")
        return values.astype(object)
    if source_is_text:
        example = values.flat[0] if values.size else ""
        raise ValueError(f"column '{name}' holds strings (e.g. {example!r}) but {what} takes "
                         f"{dtype.name} numbers")
    if dtype.kind in "iu" and values.dtype.kind == "f" and \
            not np.all(values == np.round(values)):
        raise ValueError(f"column '{name}' holds non-integral values but {what} takes {dtype.name}")
    return values.astype(dtype, copy=False)


def _as_text(values: np.ndarray) -> np.ndarray:
    """Bytes decoded as utf-8 (tf.Example strings are bytes; sklearn encoders were fit on str)."""
    if not (values.dtype.kind == "O" and values.size and isinstance(values.flat[0], bytes)):
        return values
    try:
        return pa.array(values, pa.large_binary()).cast(pa.large_string()) \
            .to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # not utf-8, or a mix of bytes and str
        return np.array([v.decode("utf-8", "replace") if isinstance(v, bytes) else v
                         for v in values], dtype=object)


def _choose_output(names: Sequence[str], wanted: Optional[str], what: str) -> str:
    if wanted is not None:
        if wanted not in names:
            raise ValueError(f"{what} has no output '{wanted}' (outputs: {', '.join(names)})")
        return wanted
    if len(names) == 1:
        return names[0]
    for name in PREFERRED_OUTPUTS:
        if name in names:
            return name
    raise ValueError(f"{what} has several outputs ({', '.join(names)}) and none is one of "
                     f"{', '.join(PREFERRED_OUTPUTS)}; set output: NAME in the model's config")


# ------------------------------------------------------------------------------------------------
# Precomputed predictions


class PredictionColumn(ModelAdapter):
    """Predictions read from the data: one column (scalar or list), or one column per class.

    A row with no value (null, or an empty list) gives NaN, which the engine counts as an
    invalid prediction. A list column gives [n] when each row holds one value and [n, k] when
    each holds k; a row holding another number is an error.

    Example:
      >>> batch = pa.record_batch([pa.array([[0.1, 0.9], [0.7, 0.3]])], names=["probs"])
      >>> PredictionColumn(ModelSpec(prediction="probs")).predict(batch)
      array([[0.1, 0.9],
             [0.7, 0.3]])
    """

    def __init__(self, spec: ModelSpec):
        super().__init__(spec.batch_size)
        if spec.prediction is None:
            raise ValueError("PredictionColumn needs a spec with 'prediction' set")
        if isinstance(spec.prediction, str):
            self.columns: Tuple[str, ...] = (spec.prediction,)
            self._stacked = False
        else:
            self.columns = tuple(spec.prediction)
            self._stacked = True
            if not self.columns:
                raise ValueError("'prediction' must name at least one column (got [])")
        self.description = (f"prediction column '{self.columns[0]}'" if not self._stacked else
                             f"prediction columns {', '.join(repr(c) for c in self.columns)}")

    def predict(self, batch: pa.RecordBatch) -> np.ndarray:
        _require_columns(batch, self.columns, f"the {self.description}")
        if not self._stacked:
            column = batch.column(self.columns[0])
            out = fixed_width_values(column, None, self.columns[0], "a prediction column",
                                     allow_missing=True)
        else:
            out = np.concatenate([fixed_width_values(batch.column(c), 1, c,
                                                     "a stacked prediction column",
                                                     allow_missing=True)
                                  for c in self.columns], axis=1)
        if out.dtype.kind in "OSU":
            raise ValueError(f"the {self.description} holds strings (e.g. {out.flat[0]!r}); "
                             f"predictions must be numbers")
        return self._as_output(out, batch.num_rows)


# ------------------------------------------------------------------------------------------------
# Paths: local, or any filesystem TensorFlow knows (gs://, s3://, ...)


def _is_remote(path: str) -> bool:
    return "://" in path


def _exists(path: str) -> bool:
    if _is_remote(path):
        import tensorflow as tf
        return tf.io.gfile.exists(path)
    return os.path.exists(path)


def _isdir(path: str) -> bool:
    if _is_remote(path):
        import tensorflow as tf
        return tf.io.gfile.isdir(path)
    return os.path.isdir(path)


def _join(path: str, *parts: str) -> str:
    return posixpath.join(path, *parts) if _is_remote(path) else os.path.join(path, *parts)


def _listdir(path: str) -> List[str]:
    if _is_remote(path):
        import tensorflow as tf
        return sorted(tf.io.gfile.listdir(path))
    return sorted(os.listdir(path))


def _local_copy(path: str, tmpdir: str) -> str:
    """A local path to the file: itself, or a copy of a remote file in `tmpdir`."""
    if not _is_remote(path):
        return path
    import tensorflow as tf
    local = os.path.join(tmpdir, posixpath.basename(path.rstrip("/")))
    tf.io.gfile.copy(path, local, overwrite=True)
    return local


def resolve_model(path: str, kind: str = "auto") -> Tuple[str, str]:
    """Which kind of model is at `path`, and the path to load it from.

    Returns:
      (kind, model_path): kind one of saved_model, keras, joblib; for a TFX Trainer model
      artifact, model_path is its Format-Serving subdirectory.

    Raises:
      FileNotFoundError: nothing at `path`.
      ValueError: an unknown kind, or a path that is none of the known kinds.

    Example:
      >>> resolve_model("/pipeline/Trainer/model/7")  # doctest: +SKIP
      ('saved_model', '/pipeline/Trainer/model/7/Format-Serving')
    """
    if kind not in KINDS:
        raise ValueError(f"'kind' must be one of {', '.join(KINDS)} (got {kind!r})")
    path = os.fspath(path)
    if not _exists(path):
        raise FileNotFoundError(f"model path '{path}' does not exist")
    is_dir = _isdir(path)
    if kind in ("auto", "saved_model") and is_dir:
        for candidate in (path, _join(path, TFX_SERVING_DIR)):
            if _exists(_join(candidate, "saved_model.pb")):
                return "saved_model", candidate
    lower = path.lower()
    if kind == "keras" or (kind == "auto" and lower.endswith(KERAS_SUFFIXES) and not is_dir):
        return "keras", path
    if kind == "joblib" or (kind == "auto" and lower.endswith(JOBLIB_SUFFIXES) and not is_dir):
        return "joblib", path
    looked = (f"{_join(path, 'saved_model.pb')} (a TF SavedModel), "
              f"{_join(path, TFX_SERVING_DIR, 'saved_model.pb')} (a TFX Trainer model)")
    if kind == "saved_model":
        raise ValueError(f"no SavedModel at '{path}': looked for {looked}")
    held = ""
    if is_dir:
        entries = _listdir(path)
        held = f"; the directory holds: {', '.join(entries[:10]) or 'nothing'}" + \
            (" ..." if len(entries) > 10 else "")
    raise ValueError(f"cannot tell what kind of model '{path}' is: looked for {looked}, a "
                     f"{' / '.join(KERAS_SUFFIXES)} file (Keras) and a "
                     f"{' / '.join(JOBLIB_SUFFIXES)} file (joblib){held}; or set kind: "
                     f"saved_model | keras | joblib")


# ------------------------------------------------------------------------------------------------
# TF SavedModel


def _tf_numpy_dtype(dtype: Any) -> np.dtype:
    """The numpy dtype for a tf.DType or a Keras 3 dtype name; strings give object."""
    name = getattr(dtype, "name", None) or str(dtype)
    if name == "string":
        return np.dtype(object)
    return np.dtype(getattr(dtype, "as_numpy_dtype", name))


class SavedModelAdapter(ModelAdapter):
    """Calls one signature of a TF SavedModel.

    A signature whose single input is a string tensor is fed serialized tf.Examples: the raw
    record column when the batch has it, else the batch's rows encoded as tf.Examples. Any other
    signature is fed one tensor per input, from the column of the same name, cast to the
    input's dtype and shaped [n] or [n, k] as the input's shape says.
    """

    def __init__(self, path: str, signature: Optional[str] = None, output: Optional[str] = None,
                 raw_record_column: Optional[str] = None, batch_size: int = 1024):
        super().__init__(batch_size)
        import tensorflow as tf

        self._tf = tf
        self.path = path
        self.signature_name = signature or DEFAULT_SIGNATURE
        self.raw_record_column = raw_record_column
        self._model = tf.saved_model.load(path)  # keeps the signature's variables alive
        signatures = dict(self._model.signatures)
        if self.signature_name not in signatures:
            raise ValueError(f"the SavedModel at '{path}' has no signature "
                             f"'{self.signature_name}' (signatures: "
                             f"{', '.join(sorted(signatures)) or 'none'})")
        self._fn = signatures[self.signature_name]
        _, kwargs = self._fn.structured_input_signature
        self.inputs: Dict[str, Any] = dict(sorted(kwargs.items()))  # name -> tf.TensorSpec
        what = f"signature '{self.signature_name}' of the SavedModel at '{path}'"
        if not self.inputs:
            raise ValueError(f"{what} takes no named inputs")
        self.output = _choose_output(sorted(self._fn.structured_outputs), output, what)
        out_spec = self._fn.structured_outputs[self.output]
        if not (out_spec.dtype.is_floating or out_spec.dtype.is_integer or out_spec.dtype.is_bool):
            raise ValueError(f"output '{self.output}' of {what} holds {out_spec.dtype.name} "
                             f"values; predictions must be numbers (set output: to a numeric "
                             f"output)")
        only = next(iter(self.inputs.values())) if len(self.inputs) == 1 else None
        self.needs_raw_records = only is not None and only.dtype == tf.string
        if self.needs_raw_records:
            taken = "serialized tf.Example"
        else:
            taken = "features " + ", ".join(self._describe_input(n) for n in self.inputs)
        self.description = (f"TF SavedModel at {path}, signature '{self.signature_name}' "
                            f"({taken}), output '{self.output}'")

    def _describe_input(self, name: str) -> str:
        spec = self.inputs[name]
        shape = [None if d is None else int(d) for d in spec.shape.as_list()] \
            if spec.shape.rank is not None else "unknown shape"
        return f"{name} {spec.dtype.name} {shape}"

    def _predict_chunk(self, batch: pa.RecordBatch) -> np.ndarray:
        tf = self._tf
        if self.needs_raw_records:
            name = next(iter(self.inputs))
            feed = {name: tf.constant(self._serialized(batch), dtype=tf.string)}
        else:
            feed = self._features(batch)
        return self._fn(**feed)[self.output].numpy()

    def _serialized(self, batch: pa.RecordBatch) -> np.ndarray:
        raw = self.raw_record_column
        if raw is not None and raw in batch.schema.names:
            return _to_numpy(batch.column(raw))
        from assay.data.files import encode_examples

        if raw is not None:
            keep = [i for i, n in enumerate(batch.schema.names) if n != raw]
            batch = pa.RecordBatch.from_arrays([batch.column(i) for i in keep],
                                               names=[batch.schema.names[i] for i in keep])
        return np.array(encode_examples(batch), dtype=object)

    def _features(self, batch: pa.RecordBatch) -> Dict[str, Any]:
        missing = [n for n in self.inputs if n not in batch.schema.names]
        if missing:
            have = [n for n in batch.schema.names if n != self.raw_record_column]
            expected = "; ".join(self._describe_input(n) for n in self.inputs)
            raise ValueError(f"signature '{self.signature_name}' of the SavedModel at "
                             f"'{self.path}' takes the inputs {expected}, but the data has no "
                             f"column {', '.join(repr(m) for m in missing)} (columns: "
                             f"{', '.join(have) or 'none'})")
        feed = {}
        for name, spec in self.inputs.items():
            dims = spec.shape.as_list() if spec.shape.rank is not None else [None]
            if len(dims) not in (1, 2):
                raise ValueError(f"input '{name}' of signature '{self.signature_name}' has "
                                 f"shape {dims}; only [None] and [None, k] inputs are supported")
            width = dims[1] if len(dims) == 2 else 1
            what = f"input {self._describe_input(name)} of signature '{self.signature_name}'"
            values = fixed_width_values(batch.column(name), width, name, what)
            values = _cast(values, _tf_numpy_dtype(spec.dtype), name, what)
            if len(dims) == 1:
                values = values[:, 0]
            feed[name] = self._tf.constant(values, dtype=spec.dtype)
        return feed


# ------------------------------------------------------------------------------------------------
# Keras files


def _keras_version(path: str) -> Optional[str]:
    """The keras_version written in a .keras file's metadata.json, if it has one."""
    import json

    try:
        with zipfile.ZipFile(path) as z:
            return json.loads(z.read("metadata.json")).get("keras_version")
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        return None


def _load_keras(path: str) -> Tuple[Any, str]:
    """(model, library): tf_keras for Keras 2 files, keras for Keras 3 files; tried in turn."""
    version = _keras_version(path) if path.lower().endswith(".keras") else None
    order = ["keras", "tf_keras"] if version and version.startswith("3") else ["tf_keras", "keras"]
    errors = []
    for library in order:
        try:
            module = __import__(library)
        except ImportError as e:
            errors.append(f"{library}: not installed ({e})")
            continue
        try:
            return module.models.load_model(path, compile=False), library
        except Exception as e:  # each library fails in its own way on the other's files
            errors.append(f"{library}: {type(e).__name__}: {str(e)[:300]}")
    raise ValueError(f"cannot load the Keras model at '{path}'" +
                     (f" (saved by Keras {version})" if version else "") + ": " +
                     "; ".join(errors))


class KerasAdapter(ModelAdapter):
    """Calls a Keras model loaded from a .keras or .h5 file.

    When `features` is not given and every model input is named after a column, each input is
    fed from its column; otherwise the model must have one input, fed the `features` columns
    stacked into an [n, len(features)] float32 matrix.
    """

    def __init__(self, path: str, features: Optional[Sequence[str]] = None,
                 output: Optional[str] = None, batch_size: int = 1024):
        super().__init__(batch_size)
        import tensorflow  # noqa: F401  (both Keras libraries need the TF backend loaded)

        self.path = path
        with tempfile.TemporaryDirectory() as tmp:
            self._model, self.library = _load_keras(_local_copy(path, tmp))
        self.input_names = [i.name.split(":")[0] for i in self._model.inputs]
        self._input_dtypes = {n: _tf_numpy_dtype(i.dtype)
                              for n, i in zip(self.input_names, self._model.inputs)}
        self._input_shapes = {n: tuple(i.shape) for n, i in zip(self.input_names,
                                                                 self._model.inputs)}
        self.features = tuple(features) if features else None
        self.output_names = list(getattr(self._model, "output_names", None) or [])
        self.output = output
        if output is not None or len(self._model.outputs) > 1:
            names = self.output_names or [str(i) for i in range(len(self._model.outputs))]
            self.output = _choose_output(names, output, f"the Keras model at '{path}'")
        if self.features is not None and len(self.input_names) != 1:
            raise ValueError(f"the Keras model at '{path}' has {len(self.input_names)} inputs "
                             f"({', '.join(self.input_names)}); 'features' stacks columns into "
                             f"one input, so leave it out and name the columns as the inputs")
        if self.features is not None:
            taken = f"features {', '.join(self.features)} as one [n, {len(self.features)}] matrix"
        else:
            taken = f"inputs {', '.join(self.input_names)} by name"
        self.description = f"Keras model at {path} ({self.library}), {taken}"

    def _inputs(self, batch: pa.RecordBatch) -> Any:
        if self.features is not None:
            _require_columns(batch, self.features, f"the {self.description}")
            what = f"the Keras model's input (features: {', '.join(self.features)})"
            dtype = self._input_dtypes[self.input_names[0]]
            dtype = np.dtype(np.float32) if dtype.kind not in "biuf" else dtype
            return np.concatenate([_cast(fixed_width_values(batch.column(f), 1, f, what), dtype,
                                         f, what) for f in self.features], axis=1)
        missing = [n for n in self.input_names if n not in batch.schema.names]
        if missing:
            have = ", ".join(batch.schema.names)
            raise ValueError(f"the Keras model at '{self.path}' has the inputs "
                             f"{', '.join(self.input_names)}, but the data has no column "
                             f"{', '.join(repr(m) for m in missing)} (columns: {have}); for a "
                             f"model with one input set features: [COLUMN, ...] to stack columns "
                             f"into it")
        feed = {}
        for name in self.input_names:
            shape = self._input_shapes[name]
            width = int(np.prod([d for d in shape[1:]])) if len(shape) > 1 and \
                None not in shape[1:] else 1
            what = f"input '{name}' of the Keras model"
            values = _cast(fixed_width_values(batch.column(name), width, name, what),
                           self._input_dtypes[name], name, what)
            feed[name] = values.reshape((len(values),) + tuple(shape[1:])) if len(shape) > 1 \
                else values[:, 0]
        # One input is fed bare: Keras 3 rejects a dict for a model built on a single Input.
        return feed if len(feed) > 1 else feed[self.input_names[0]]

    def _predict_chunk(self, batch: pa.RecordBatch) -> np.ndarray:
        out = self._model(self._inputs(batch), training=False)
        if isinstance(out, dict):
            out = out[_choose_output(sorted(out), self.output,
                                     f"the Keras model at '{self.path}'")]
        elif isinstance(out, (list, tuple)):
            out = out[self.output_names.index(self.output) if self.output in self.output_names
                      else 0]
        return np.asarray(out)


# ------------------------------------------------------------------------------------------------
# joblib / pickle files (scikit-learn API)


class JoblibAdapter(ModelAdapter):
    """Calls an estimator with the scikit-learn API: sklearn, XGBoost, LightGBM.

    Classifiers give predict_proba (the positive class's column, shape [n], when there are two
    classes; [n, k] otherwise), other estimators predict. An estimator fit on a DataFrame
    (it has feature_names_in_) is fed a DataFrame, columns named as it was fit; others a float64
    matrix of the `features` columns.
    """

    def __init__(self, path: str, features: Optional[Sequence[str]] = None,
                 allow_pickle: bool = False, batch_size: int = 1024):
        super().__init__(batch_size)
        if not allow_pickle:
            raise ValueError(f"refusing to load '{path}': joblib/pickle files run code when "
                             f"loaded; set allow_pickle: true in the model's config (or "
                             f"--allow-pickle) if you trust it")
        import joblib

        self.path = path
        with tempfile.TemporaryDirectory() as tmp:
            self._model = joblib.load(_local_copy(path, tmp))
        fit_names = getattr(self._model, "feature_names_in_", None)
        self._fit_names = None if fit_names is None else [str(n) for n in fit_names]
        if features:
            self.features = tuple(features)
            if self._fit_names is not None and len(self._fit_names) != len(self.features):
                raise ValueError(f"'features' lists {len(self.features)} columns "
                                 f"({', '.join(self.features)}) but the model at '{path}' was "
                                 f"fit on {len(self._fit_names)} ({', '.join(self._fit_names)})")
        elif self._fit_names is not None:
            self.features = tuple(self._fit_names)
        else:
            raise ValueError(f"the model at '{path}' ({type(self._model).__name__}) does not "
                             f"record its feature names (no feature_names_in_: it was not fit "
                             f"on a DataFrame); set features: [COLUMN, ...] in the model's "
                             f"config, in the order it was fit")
        self.probabilities = hasattr(self._model, "predict_proba")
        call = "predict_proba" if self.probabilities else "predict"
        self.description = (f"joblib model at {path} ({type(self._model).__name__}, {call}), "
                            f"features {', '.join(self.features)}")

    def _inputs(self, batch: pa.RecordBatch) -> Any:
        _require_columns(batch, self.features, f"the {self.description}")
        what = "the model"
        columns = [fixed_width_values(batch.column(f), 1, f, what)[:, 0] for f in self.features]
        if self._fit_names is None:
            return np.stack([_cast(c, np.dtype(np.float64), f, what)
                             for c, f in zip(columns, self.features)], axis=1)
        import pandas as pd

        data = {}
        for name, values in zip(self._fit_names, columns):
            if values.dtype.kind == "f":
                values = values.astype(np.float64)  # tf.Example floats are float32
            data[name] = _as_text(values)
        return pd.DataFrame(data, columns=self._fit_names)

    def _predict_chunk(self, batch: pa.RecordBatch) -> np.ndarray:
        x = self._inputs(batch)
        if not self.probabilities:
            return np.asarray(self._model.predict(x))
        proba = np.asarray(self._model.predict_proba(x))
        return proba[:, 1] if proba.ndim == 2 and proba.shape[1] == 2 else proba


# ------------------------------------------------------------------------------------------------
# Loading


def load_model(spec: ModelSpec, raw_record_column: Optional[str] = None) -> ModelAdapter:
    """Loads the model `spec.path` points to and wraps it in an adapter.

    Args:
      spec: the model's spec; `path` must be set (use PredictionColumn for `prediction`).
      raw_record_column: the column in which the engine puts each example serialized as a
        tf.Example (TFRecord input), for signatures that take serialized examples.

    Returns:
      A ModelAdapter: predict(batch) -> float64 array [n] or [n, k].

    Raises:
      FileNotFoundError: nothing at the path.
      ValueError: an unknown kind, a signature or output the model lacks, a pickle without
        allow_pickle, options that do not apply to the kind of model.

    Example:
      >>> adapter = load_model(ModelSpec(path="model.joblib", allow_pickle=True))
      ... # doctest: +SKIP
      >>> adapter.predict(batch)  # doctest: +SKIP
      array([0.12, 0.93, ...])
    """
    if spec.path is None:
        raise ValueError("load_model needs a spec with 'path' set; for precomputed predictions "
                         "use PredictionColumn(spec)")
    kind, path = resolve_model(spec.path, spec.kind)
    if kind != "saved_model" and spec.signature is not None:
        raise ValueError(f"'signature' applies to TF SavedModels, but '{spec.path}' is a {kind} "
                         f"model (got signature {spec.signature!r})")
    if kind == "saved_model":
        return SavedModelAdapter(path, spec.signature, spec.output, raw_record_column,
                                 spec.batch_size)
    if kind == "keras":
        return KerasAdapter(path, spec.features, spec.output, spec.batch_size)
    if spec.output is not None:
        raise ValueError(f"'output' applies to TF and Keras models, but '{spec.path}' is a "
                         f"joblib model (got output {spec.output!r})")
    return JoblibAdapter(path, spec.features, spec.allow_pickle, spec.batch_size)


_SHARED: Dict[Any, ModelAdapter] = {}
_SHARED_LOCK = threading.Lock()


def _spec_key(spec: ModelSpec, raw_record_column: Optional[str]) -> Tuple:
    def frozen(v):
        return tuple(v) if isinstance(v, list) else v

    return tuple(frozen(getattr(spec, f.name)) for f in dataclasses.fields(spec)) + \
        (raw_record_column,)


def shared_model(spec: ModelSpec, raw_record_column: Optional[str] = None) -> ModelAdapter:
    """`load_model`, loading each model once per process (for Beam's DoFn.setup).

    Adapters are safe to call from several threads, so every DoFn instance in a worker process
    shares one.

    Example:
      >>> a = shared_model(ModelSpec(path="model.joblib", allow_pickle=True))  # doctest: +SKIP
      >>> a is shared_model(ModelSpec(path="model.joblib", allow_pickle=True))  # doctest: +SKIP
      True
    """
    key = _spec_key(spec, raw_record_column)
    with _SHARED_LOCK:  # held while loading, so two threads never load the same model twice
        adapter = _SHARED.get(key)
        if adapter is None:
            adapter = load_model(spec, raw_record_column)
            _SHARED[key] = adapter
        return adapter


def clear_shared_models() -> None:
    """Forgets the models `shared_model` loaded (for tests, and to free memory)."""
    with _SHARED_LOCK:
        _SHARED.clear()


# Freed before interpreter teardown: TF functions deleted after TF's own modules are gone print
# "Exception ignored in AtomicFunction.__del__" noise at exit.
atexit.register(clear_shared_models)
