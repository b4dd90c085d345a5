"""Models given as Python objects: a fitted estimator, a Keras model, or a function on a batch.

`assay.evaluate(config, df, model=clf)` holds the object here under a token that stands in for
its path in the config (`hold`); the model loader (`assay.models.load`) asks `held_adapter` for
that token before it looks at the filesystem. The token is what config.json and
assay_metrics.json record as the model's path (e.g. "in-memory:LogisticRegression#5f0c2a1e"):
it says what the model was, and no later run can mistake it for a file.

Which adapter an object gets, first match wins:

- a Keras model (tf_keras or Keras 3): `assay.models.tensorflow.KerasAdapter`, inputs fed by
  name or `features` stacked, as for a .keras file;
- an object with `predict_proba` or `predict` (scikit-learn, XGBoost, LightGBM):
  `assay.models.sklearn.JoblibAdapter`, as for a joblib file (features from
  `feature_names_in_`, or the spec's `features`);
- any other callable: `FunctionAdapter`. It is called with a pandas DataFrame of the batch's
  columns (every column of the examples; at most `batch_size` rows) and returns one prediction
  per row: an array-like of shape [n] or [n, k] (a list, numpy array, pandas Series or
  DataFrame).

Objects live in this process only, so only the local engine can run them (`assay.evaluate`
refuses engine="beam" with in-memory models: Beam's workers are other processes, and pickling
a model into them is the code-loading step DESIGN principle 6 keeps behind an opt-in).

Example:
    >>> token = hold(lambda df: df["x"] * 2, "candidate")
    >>> adapter = held_adapter(ModelSpec(path=token))
    >>> adapter.predict(pa.record_batch([pa.array([1.0, 2.0])], names=["x"]))
    array([2., 4.])
    >>> release(token)
"""

from __future__ import annotations

import threading
import uuid
from typing import Any, Dict, Optional

import numpy as np
import pyarrow as pa

from assay.config.models import ModelSpec
from assay.errors import ConfigError
from assay.models.base import ModelAdapter

TOKEN_PREFIX = "in-memory:"
# Columns the engine adds to a batch for its own use; a user's function never sees them.
_ENGINE_COLUMN_PREFIX = "__assay"

_HELD: Dict[str, Any] = {}
_LOCK = threading.Lock()


def is_model_object(value: Any) -> bool:
    """True for a model given as an object (anything but a path: str, bytes, os.PathLike)."""
    import os

    return value is not None and not isinstance(value, (str, bytes, os.PathLike))


def hold(model: Any, role: str) -> str:
    """Keeps `model` for this process's evaluations; returns the token to use as its path.

    Raises:
      TypeError: `model` is neither a Keras model, an estimator, nor a callable.
    """
    if not (_is_keras(model) or _is_estimator(model) or callable(model)):
        raise TypeError(f"model '{role}' must be a path, a fitted estimator (predict_proba or "
                        f"predict), a Keras model or a function of a pandas DataFrame (got "
                        f"{model!r}, a {type(model).__name__})")
    name = getattr(model, "__name__", None) if not _is_estimator(model) else None
    token = f"{TOKEN_PREFIX}{name or type(model).__name__}#{uuid.uuid4().hex[:8]}"
    with _LOCK:
        _HELD[token] = model
    return token


def release(token: str) -> None:
    """Forgets a held model (evaluate calls it when it ends, so the object can be freed)."""
    with _LOCK:
        _HELD.pop(token, None)


def held_adapter(spec: ModelSpec) -> Optional[ModelAdapter]:
    """The adapter of the held model `spec.path` names, or None when it names none.

    Raises:
      ConfigError: the spec sets options that the object's kind does not take.
    """
    with _LOCK:
        model = _HELD.get(spec.path) if spec.path else None
    if model is None:
        return None
    if spec.signature is not None or spec.preprocessing:
        raise ConfigError(f"'signature' and 'preprocessing' apply to TF SavedModels, but the "
                          f"model {spec.path} is a {type(model).__name__} object")
    if _is_keras(model):
        from assay.models.tensorflow import KerasAdapter

        adapter: ModelAdapter = KerasAdapter(spec.path, spec.features, spec.output,
                                             spec.batch_size, model=model)
        adapter.description = adapter.description.replace("Keras model at ", "Keras model ")
        return adapter
    if spec.output is not None:
        raise ConfigError(f"'output' applies to TF and Keras models, but the model {spec.path} "
                          f"is a {type(model).__name__} object (got output {spec.output!r})")
    if _is_estimator(model):
        from assay.models.sklearn import JoblibAdapter

        adapter = JoblibAdapter(spec.path, spec.features, batch_size=spec.batch_size,
                                model=model)
        adapter.description = adapter.description.replace("joblib model at ", "estimator ")
        return adapter
    return FunctionAdapter(model, spec.path, spec.batch_size)


class FunctionAdapter(ModelAdapter):
    """Calls a Python function with a pandas DataFrame of each batch (see the module doc)."""

    def __init__(self, function: Any, token: str, batch_size: int = 1024):
        super().__init__(batch_size)
        self._function = function
        self.description = f"function {token}"

    def _predict_chunk(self, batch: pa.RecordBatch) -> np.ndarray:
        keep = [n for n in batch.schema.names if not n.startswith(_ENGINE_COLUMN_PREFIX)]
        frame = batch.select(keep).to_pandas() if len(keep) < batch.num_columns \
            else batch.to_pandas()
        out = self._function(frame)
        return np.asarray(getattr(out, "to_numpy", lambda: out)(), dtype=np.float64)


def _is_keras(model: Any) -> bool:
    """A Keras model (Keras 3 or tf_keras), recognised by its class's module, not imported."""
    module = type(model).__module__ or ""
    return module.split(".")[0] in ("keras", "tf_keras") and hasattr(model, "inputs")


def _is_estimator(model: Any) -> bool:
    return not _is_keras(model) and (hasattr(model, "predict_proba")
                                     or hasattr(model, "predict"))


__all__ = ["FunctionAdapter", "TOKEN_PREFIX", "held_adapter", "hold", "is_model_object",
           "release"]
