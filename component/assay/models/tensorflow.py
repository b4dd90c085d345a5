"""TensorFlow models: a SavedModel signature, or a Keras model from a .keras / .h5 file.

    adapter = SavedModelAdapter("/pipeline/Trainer/model/7/Format-Serving", output="probabilities")
    adapter = KerasAdapter("model.keras", features=("hour", "miles"))

TensorFlow is imported when an adapter is built, never when this module is imported. A model on
a remote filesystem (gs://, s3://, ...) is copied to a local temporary directory first, through
`assay.data.files`, so every filesystem Beam knows works without TensorFlow's own plugins.
"""

from __future__ import annotations

import tempfile
import zipfile
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np
import pyarrow as pa

from assay.data.columns import select
from assay.data.files import is_remote, local_copy
from assay.data.tfrecord import encode_examples
from assay.errors import DataError, ModelError
from assay.models.base import (ModelAdapter, arrow_values, cast_values, choose_output,
                               fixed_width_values, require_columns)

DEFAULT_SIGNATURE = "serving_default"


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

    `preprocessing` names further signatures, fed the same way, whose outputs
    `transformed_features` returns (TFMA's preprocessing_function_names, e.g. the
    `transform_features` signature TFX's Trainer modules export; see assay.engine.transformed).
    """

    def __init__(self, path: str, signature: Optional[str] = None, output: Optional[str] = None,
                 raw_record_column: Optional[str] = None, batch_size: int = 1024,
                 preprocessing: Sequence[str] = ()):
        super().__init__(batch_size)
        from assay.extras import require

        tf = require("tensorflow", "tensorflow", "a TF SavedModel")
        self._tf = tf
        self.path = path
        self.signature_name = signature or DEFAULT_SIGNATURE
        self.raw_record_column = raw_record_column
        # A remote model is copied once and the copy kept while the adapter lives: a SavedModel
        # may read its assets (vocabularies) after loading.
        self._copy = tempfile.TemporaryDirectory(prefix="assay-model-") if is_remote(path) \
            else None
        local = local_copy(path, self._copy.name) if self._copy else path
        self._model = tf.saved_model.load(local)  # keeps the signature's variables alive
        signatures = dict(self._model.signatures)
        self._fn, self.inputs = self._signature(signatures, self.signature_name)
        what = f"signature '{self.signature_name}' of the SavedModel at '{path}'"
        self.output = choose_output(sorted(self._fn.structured_outputs), output, what)
        out_spec = self._fn.structured_outputs[self.output]
        if not (out_spec.dtype.is_floating or out_spec.dtype.is_integer or out_spec.dtype.is_bool):
            raise ModelError(f"output '{self.output}' of {what} holds {out_spec.dtype.name} "
                             f"values; predictions must be numbers (set output: to a numeric "
                             f"output)")
        self.needs_raw_records = _takes_serialized(self.inputs, tf)
        if self.needs_raw_records:
            taken = "serialized tf.Example"
        else:
            taken = "features " + ", ".join(self._describe_input(n) for n in self.inputs)
        self.description = (f"TF SavedModel at {path}, signature '{self.signature_name}' "
                            f"({taken}), output '{self.output}'")
        self.preprocessing = tuple(preprocessing)
        self._preprocessing_fns = [(n,) + self._signature(signatures, n, "preprocessing ")
                                   for n in self.preprocessing]
        # A preprocessing signature that parses tf.Examples needs the raw records too.
        self.needs_raw_records |= any(_takes_serialized(inputs, tf)
                                      for _, _, inputs in self._preprocessing_fns)

    def _signature(self, signatures: Dict[str, Any], name: str, role: str = ""
                   ) -> Tuple[Any, Dict[str, Any]]:
        """(concrete function, {input name: tf.TensorSpec}) of the signature `name`."""
        if name not in signatures:
            raise ModelError(f"the SavedModel at '{self.path}' has no {role}signature '{name}' "
                             f"(signatures: {', '.join(sorted(signatures)) or 'none'})")
        fn = signatures[name]
        _, kwargs = fn.structured_input_signature
        if not kwargs:
            raise ModelError(f"{role}signature '{name}' of the SavedModel at '{self.path}' "
                             f"takes no named inputs")
        return fn, dict(sorted(kwargs.items()))

    def _describe_input(self, name: str) -> str:
        return _describe_input(name, self.inputs[name])

    def _predict_chunk(self, batch: pa.RecordBatch) -> np.ndarray:
        return self._fn(**self._feed(batch, self.inputs, self.signature_name))[self.output].numpy()

    def _feed(self, batch: pa.RecordBatch, inputs: Dict[str, Any], signature: str
              ) -> Dict[str, Any]:
        tf = self._tf
        if _takes_serialized(inputs, tf):
            return {next(iter(inputs)): tf.constant(self._serialized(batch), dtype=tf.string)}
        return self._features(batch, inputs, signature)

    def transformed_features(self, batch: pa.RecordBatch) -> Dict[str, np.ndarray]:
        """The outputs of the preprocessing signatures on `batch`, as TFMA's
        TransformedFeaturesExtractor computes them: {name: array of shape [n] or [n, ...]}.

        Signatures run in the order given, `batch_size` rows at a time; a later signature's
        output replaces an earlier one's of the same name.

        Raises:
          ModelError: a signature failed, or gave an output not shaped [n, ...].
        """
        n = batch.num_rows
        parts: Dict[str, list] = {}
        for start in range(0, max(n, 1), self.batch_size):
            chunk = batch.slice(start, self.batch_size)
            merged: Dict[str, np.ndarray] = {}
            for name, fn, inputs in self._preprocessing_fns:
                feed = self._feed(chunk, inputs, name)
                try:
                    outputs = fn(**feed)
                except Exception as e:  # TF's own errors
                    raise ModelError(f"preprocessing signature '{name}' of the SavedModel at "
                                     f"'{self.path}' failed on rows {start}..."
                                     f"{start + chunk.num_rows - 1} of a batch: "
                                     f"{type(e).__name__}: {str(e)[:1000]}") from e
                merged.update((k, np.asarray(v)) for k, v in outputs.items())
            for key, value in merged.items():
                parts.setdefault(key, []).append(value)
        out = {}
        for key, chunks in parts.items():
            value = chunks[0] if len(chunks) == 1 else np.concatenate(chunks)
            if value.ndim == 0 or value.shape[0] != n:
                raise ModelError(f"preprocessing output '{key}' of the SavedModel at "
                                 f"'{self.path}' has shape {value.shape} for {n} examples; "
                                 f"expected [{n}, ...]")
            out[key] = value
        return out

    def _serialized(self, batch: pa.RecordBatch) -> np.ndarray:
        raw = self.raw_record_column
        if raw is not None and raw in batch.schema.names:
            return arrow_values(batch.column(raw))
        if raw is not None:
            batch = select(batch, [n for n in batch.schema.names if n != raw])
        return np.array(encode_examples(batch), dtype=object)

    def _features(self, batch: pa.RecordBatch, inputs: Dict[str, Any], signature: str
                  ) -> Dict[str, Any]:
        missing = [n for n in inputs if n not in batch.schema.names]
        if missing:
            have = [n for n in batch.schema.names if n != self.raw_record_column]
            expected = "; ".join(_describe_input(n, inputs[n]) for n in inputs)
            raise DataError(f"signature '{signature}' of the SavedModel at "
                            f"'{self.path}' takes the inputs {expected}, but the data has no "
                            f"column {', '.join(repr(m) for m in missing)} (columns: "
                            f"{', '.join(have) or 'none'})")
        feed = {}
        for name, spec in inputs.items():
            dims = spec.shape.as_list() if spec.shape.rank is not None else [None]
            if len(dims) not in (1, 2):
                raise ModelError(f"input '{name}' of signature '{signature}' has "
                                 f"shape {dims}; only [None] and [None, k] inputs are supported")
            width = dims[1] if len(dims) == 2 else 1
            what = f"input {_describe_input(name, spec)} of signature '{signature}'"
            values = fixed_width_values(batch.column(name), width, name, what)
            values = cast_values(values, _tf_numpy_dtype(spec.dtype), name, what)
            if len(dims) == 1:
                values = values[:, 0]
            feed[name] = self._tf.constant(values, dtype=spec.dtype)
        return feed


def _describe_input(name: str, spec: Any) -> str:
    shape = [None if d is None else int(d) for d in spec.shape.as_list()] \
        if spec.shape.rank is not None else "unknown shape"
    return f"{name} {spec.dtype.name} {shape}"


def _takes_serialized(inputs: Dict[str, Any], tf: Any) -> bool:
    """Whether a signature takes serialized tf.Examples: a single string input."""
    return len(inputs) == 1 and next(iter(inputs.values())).dtype == tf.string


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
    raise ModelError(f"cannot load the Keras model at '{path}'" +
                     (f" (saved by Keras {version})" if version else "") + ": " +
                     "; ".join(errors))


class KerasAdapter(ModelAdapter):
    """Calls a Keras model loaded from a .keras or .h5 file.

    When `features` is not given and every model input is named after a column, each input is
    fed from its column; otherwise the model must have one input, fed the `features` columns
    stacked into an [n, len(features)] float32 matrix.
    """

    def __init__(self, path: str, features: Optional[Sequence[str]] = None,
                 output: Optional[str] = None, batch_size: int = 1024, model: Any = None):
        super().__init__(batch_size)
        from assay.extras import require  # both Keras libraries need the TF backend loaded

        require("tensorflow", "tensorflow", "a Keras model")

        self.path = path
        if model is not None:  # a Keras model already in memory (assay.models.memory)
            self._model = model
            self.library = type(model).__module__.split(".")[0]
        else:
            with tempfile.TemporaryDirectory() as tmp:
                self._model, self.library = _load_keras(local_copy(path, tmp))
        inputs = self._model.inputs
        self.input_names = [i.name.split(":")[0] for i in inputs]
        self._input_dtypes = {n: _tf_numpy_dtype(i.dtype) for n, i in zip(self.input_names, inputs)}
        self._input_shapes = {n: tuple(i.shape) for n, i in zip(self.input_names, inputs)}
        self.features = tuple(features) if features else None
        self.output_names = list(getattr(self._model, "output_names", None) or [])
        self.output = output
        if output is not None or len(self._model.outputs) > 1:
            names = self.output_names or [str(i) for i in range(len(self._model.outputs))]
            self.output = choose_output(names, output, f"the Keras model at '{path}'")
        if self.features is not None and len(self.input_names) != 1:
            raise ModelError(f"the Keras model at '{path}' has {len(self.input_names)} inputs "
                             f"({', '.join(self.input_names)}); 'features' stacks columns into "
                             f"one input, so leave it out and name the columns as the inputs")
        if self.features is not None:
            taken = f"features {', '.join(self.features)} as one [n, {len(self.features)}] matrix"
        else:
            taken = f"inputs {', '.join(self.input_names)} by name"
        self.description = f"Keras model at {path} ({self.library}), {taken}"

    def _inputs(self, batch: pa.RecordBatch) -> Any:
        if self.features is not None:
            require_columns(batch, self.features, f"the {self.description}")
            what = f"the Keras model's input (features: {', '.join(self.features)})"
            dtype = self._input_dtypes[self.input_names[0]]
            dtype = np.dtype(np.float32) if dtype.kind not in "biuf" else dtype
            return np.concatenate([cast_values(fixed_width_values(batch.column(f), 1, f, what),
                                               dtype, f, what) for f in self.features], axis=1)
        missing = [n for n in self.input_names if n not in batch.schema.names]
        if missing:
            have = ", ".join(batch.schema.names)
            raise DataError(f"the Keras model at '{self.path}' has the inputs "
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
            values = cast_values(fixed_width_values(batch.column(name), width, name, what),
                                 self._input_dtypes[name], name, what)
            feed[name] = values.reshape((len(values),) + tuple(shape[1:])) if len(shape) > 1 \
                else values[:, 0]
        # One input is fed bare: Keras 3 rejects a dict for a model built on a single Input.
        return feed if len(feed) > 1 else feed[self.input_names[0]]

    def _predict_chunk(self, batch: pa.RecordBatch) -> np.ndarray:
        out = self._model(self._inputs(batch), training=False)
        if isinstance(out, dict):
            out = out[choose_output(sorted(out), self.output,
                                    f"the Keras model at '{self.path}'")]
        elif isinstance(out, (list, tuple)):
            out = out[self.output_names.index(self.output) if self.output in self.output_names
                      else 0]
        return np.asarray(out)
