"""Loading models: which kind is at a path, its adapter, and one shared copy per process.

    adapter = load_model(ModelSpec(path="/pipeline/Trainer/model/7"))   # TFX artifact, SavedModel
    preds = adapter.predict(batch)          # float64, shape [n] or [n, k]

Batches come from `assay.data`: tf.Examples decoded without a schema (every feature a list
column) or CSV/Parquet (scalar columns). Four adapters share one interface
(`assay.models.base.ModelAdapter`):

- `SavedModelAdapter` (assay.models.tensorflow): a TF SavedModel signature fed either
  serialized tf.Examples (the engine's raw record column, or the batch encoded back to
  tf.Examples) or named feature tensors.
- `KerasAdapter` (assay.models.tensorflow): a .keras / .h5 file, loaded with tf_keras or Keras 3.
- `JoblibAdapter` (assay.models.sklearn): a scikit-learn-API estimator (sklearn, XGBoost,
  LightGBM) in a joblib/pickle file; loading one runs code, so it needs `allow_pickle`.
- `PredictionColumn` (assay.models.base): predictions already in the data.

Outputs are returned as the model gives them (no sigmoid or softmax is added; the engine applies
`ModelSpec.transform`). Paths may be local or on any filesystem Beam knows (`assay.data.files`);
remote models are copied to a local temporary directory to be loaded. Importing this module does
not import TensorFlow: that happens when a TF model is loaded.
"""

from __future__ import annotations

import atexit
import stat
import threading
from typing import Dict, Optional, Tuple

from assay.config.models import KINDS, ModelSpec
from assay.data import files
from assay.errors import BaselineError, ConfigError, ModelError, StorageError
from assay.models.base import ModelAdapter, PredictionColumn
from assay.models.sklearn import JoblibAdapter
from assay.models.tensorflow import KerasAdapter, SavedModelAdapter

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
JOBLIB_SUFFIXES = (".joblib", ".pkl", ".pickle")
TFX_SERVING_DIR = "Format-Serving"


def resolve_model(path: str, kind: str = "auto") -> Tuple[str, str]:
    """Which kind of model is at `path`, and the path to load it from.

    Returns:
      (kind, model_path): kind one of saved_model, keras, joblib; for a TFX Trainer model
      artifact, model_path is its Format-Serving subdirectory.

    Raises:
      ConfigError: an unknown kind.
      ModelError: nothing at `path`, or a path that is none of the known kinds.

    Example:
      >>> resolve_model("/pipeline/Trainer/model/7")  # doctest: +SKIP
      ('saved_model', '/pipeline/Trainer/model/7/Format-Serving')
    """
    if kind not in KINDS:
        raise ConfigError(f"'kind' must be one of {', '.join(KINDS)} (got {kind!r})")
    path = str(path)
    if not files.exists(path):  # a symlink loop or a denied directory: StorageError, named
        raise ModelError(f"model path '{path}' does not exist")
    if not files.is_remote(path):
        found = files.local_stat(path)
        if found is not None and not (stat.S_ISREG(found.st_mode) or stat.S_ISDIR(found.st_mode)):
            # Loading from a FIFO would wait for a writer forever.
            raise ModelError(f"model path '{path}' is not a regular file or a directory (a "
                             f"FIFO, a socket or a device)")
    is_dir = files.is_dir(path)
    if kind in ("auto", "saved_model") and is_dir:
        for candidate in (path, files.join(path, TFX_SERVING_DIR)):
            if files.exists(files.join(candidate, "saved_model.pb")):
                return "saved_model", candidate
    lower = path.lower()
    if kind == "keras" or (kind == "auto" and lower.endswith(KERAS_SUFFIXES) and not is_dir):
        return "keras", path
    if kind == "joblib" or (kind == "auto" and lower.endswith(JOBLIB_SUFFIXES) and not is_dir):
        return "joblib", path
    looked = (f"{files.join(path, 'saved_model.pb')} (a TF SavedModel), "
              f"{files.join(path, TFX_SERVING_DIR, 'saved_model.pb')} (a TFX Trainer model)")
    if kind == "saved_model":
        raise ModelError(f"no SavedModel at '{path}': looked for {looked}")
    held = ""
    if is_dir:
        paths, subdirs = files.list_dir(path, hidden=True)
        entries = sorted([files.basename(p) for p in paths] + subdirs)
        held = f"; the directory holds: {', '.join(entries[:10]) or 'nothing'}" + \
            (" ..." if len(entries) > 10 else "")
    raise ModelError(f"cannot tell what kind of model '{path}' is: looked for {looked}, a "
                     f"{' / '.join(KERAS_SUFFIXES)} file (Keras) and a "
                     f"{' / '.join(JOBLIB_SUFFIXES)} file (joblib){held}; or set kind: "
                     f"saved_model | keras | joblib")


def load_model(spec: ModelSpec, raw_record_column: Optional[str] = None,
               role: str = "model") -> ModelAdapter:
    """Loads the model `spec.path` points to and wraps it in an adapter.

    Args:
      spec: the model's spec; `path` must be set (use PredictionColumn for `prediction`).
      raw_record_column: the column in which the engine puts each example serialized as a
        tf.Example (TFRecord input), for signatures that take serialized examples.
      role: "candidate" or "baseline": names the model in errors. A baseline's ModelError is a
        BaselineError (`baseline_failure` decides what it does to the evaluation).

    Returns:
      A ModelAdapter: predict(batch) -> float64 array [n] or [n, k].

    Raises:
      ConfigError: no path, an unknown kind, options that do not apply to the kind of model.
      ModelError: (a ValueError) nothing at the path, a model that cannot be loaded (a corrupt
        or truncated file: the message names the model, its path and the loader's reason), a
        signature or output the model lacks, a pickle without allow_pickle.

    Example:
      >>> adapter = load_model(ModelSpec(path="model.joblib", allow_pickle=True))
      ... # doctest: +SKIP
      >>> adapter.predict(batch)  # doctest: +SKIP
      array([0.12, 0.93, ...])
    """
    if spec.path is None:
        raise ConfigError("load_model needs a spec with 'path' set; for precomputed predictions "
                          "use PredictionColumn(spec)")
    error = BaselineError if role == "baseline" else ModelError
    try:
        return _load(spec, raw_record_column)
    except (ConfigError, StorageError):
        raise
    except ModelError as e:
        if role == "model":
            raise
        raise error(f"{role} model: {e}") from e
    except Exception as e:  # noqa: BLE001 - every loader fails in its own way on a bad file
        raise error(f"cannot load the {role} model at '{spec.path}': {_reason(e)}") from e


def _reason(error: BaseException) -> str:
    """A loader's exception as one line: its type and its message's first line."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else 'no message'}" + \
        (" ..." if len(text) > 1 else "")


def _load(spec: ModelSpec, raw_record_column: Optional[str]) -> ModelAdapter:
    from assay.models.memory import held_adapter  # a model object given to assay.evaluate

    held = held_adapter(spec)
    if held is not None:
        return held
    kind, path = resolve_model(spec.path, spec.kind)
    if kind != "saved_model" and spec.signature is not None:
        raise ConfigError(f"'signature' applies to TF SavedModels, but '{spec.path}' is a {kind} "
                          f"model (got signature {spec.signature!r})")
    if kind != "saved_model" and spec.preprocessing:
        raise ConfigError(f"'preprocessing' runs signatures of a TF SavedModel, but "
                          f"'{spec.path}' is a {kind} model (got preprocessing "
                          f"{list(spec.preprocessing)})")
    if kind == "saved_model":
        return SavedModelAdapter(path, spec.signature, spec.output, raw_record_column,
                                 spec.batch_size, spec.preprocessing)
    if kind == "keras":
        return KerasAdapter(path, spec.features, spec.output, spec.batch_size)
    if spec.output is not None:
        raise ConfigError(f"'output' applies to TF and Keras models, but '{spec.path}' is a "
                          f"joblib model (got output {spec.output!r})")
    return JoblibAdapter(path, spec.features, spec.allow_pickle, spec.batch_size)


_SHARED: Dict[Tuple[ModelSpec, Optional[str]], ModelAdapter] = {}
_SHARED_LOCK = threading.Lock()


def shared_model(spec: ModelSpec, raw_record_column: Optional[str] = None,
                 role: str = "model") -> ModelAdapter:
    """`load_model`, loading each model once per process (for Beam's DoFn.setup).

    Adapters are safe to call from several threads, so every DoFn instance in a worker process
    shares one.

    Example:
      >>> a = shared_model(ModelSpec(path="model.joblib", allow_pickle=True))  # doctest: +SKIP
      >>> a is shared_model(ModelSpec(path="model.joblib", allow_pickle=True))  # doctest: +SKIP
      True
    """
    key = (spec, raw_record_column)  # ModelSpec is frozen and holds tuples: hashable
    with _SHARED_LOCK:  # held while loading, so two threads never load the same model twice
        adapter = _SHARED.get(key)
        if adapter is None:
            adapter = load_model(spec, raw_record_column, role)
            _SHARED[key] = adapter
        return adapter


def clear_shared_models() -> None:
    """Forgets the models `shared_model` loaded (for tests, and to free memory)."""
    with _SHARED_LOCK:
        _SHARED.clear()


# Freed before interpreter teardown: TF functions deleted after TF's own modules are gone print
# "Exception ignored in AtomicFunction.__del__" noise at exit.
atexit.register(clear_shared_models)

__all__ = ["JOBLIB_SUFFIXES", "KERAS_SUFFIXES", "KINDS", "TFX_SERVING_DIR", "JoblibAdapter",
           "KerasAdapter", "ModelAdapter", "ModelSpec", "PredictionColumn", "SavedModelAdapter",
           "clear_shared_models", "load_model", "resolve_model", "shared_model"]
