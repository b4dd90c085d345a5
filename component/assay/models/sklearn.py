"""Estimators with the scikit-learn API (scikit-learn, XGBoost, LightGBM) in joblib/pickle files.

    adapter = JoblibAdapter("model.joblib", allow_pickle=True)   # features from feature_names_in_
    preds = adapter.predict(batch)     # the positive class's probability, shape [n], for 2 classes

Loading a pickle runs code, so it needs `allow_pickle` (DESIGN principle 6).
"""

from __future__ import annotations

import tempfile
from typing import Any, Optional, Sequence

import numpy as np
import pyarrow as pa

from assay.config.models import PICKLE_OPT_INS
from assay.data.columns import text_array
from assay.data.files import local_copy
from assay.errors import ModelError
from assay.models.base import ModelAdapter, cast_values, fixed_width_values, require_columns


def _as_text(values: np.ndarray) -> np.ndarray:
    """Bytes decoded as utf-8 (tf.Example strings are bytes; sklearn encoders were fit on str)."""
    if not (values.dtype.kind == "O" and values.size and isinstance(values.flat[0], bytes)):
        return values
    return text_array(values).to_numpy(zero_copy_only=False)


class JoblibAdapter(ModelAdapter):
    """Calls an estimator with the scikit-learn API: sklearn, XGBoost, LightGBM.

    Classifiers give predict_proba (the positive class's column, shape [n], when there are two
    classes; [n, k] otherwise), other estimators predict. An estimator fit on a DataFrame
    (it has feature_names_in_) is fed a DataFrame, columns named as it was fit; others a float64
    matrix of the `features` columns.
    """

    def __init__(self, path: str, features: Optional[Sequence[str]] = None,
                 allow_pickle: bool = False, batch_size: int = 1024, model: Any = None):
        super().__init__(batch_size)
        self.path = path
        if model is not None:  # an estimator already in memory (assay.models.memory): no load
            self._model = model
        else:
            if not allow_pickle:
                raise ModelError(f"refusing to load '{path}': joblib/pickle files run code when "
                                 f"loaded; if you trust it, pass {PICKLE_OPT_INS}")
            import joblib

            with tempfile.TemporaryDirectory() as tmp:
                self._model = joblib.load(local_copy(path, tmp))
        fit_names = getattr(self._model, "feature_names_in_", None)
        self._fit_names = None if fit_names is None else [str(n) for n in fit_names]
        if features:
            self.features = tuple(features)
            if self._fit_names is not None and len(self._fit_names) != len(self.features):
                raise ModelError(f"'features' lists {len(self.features)} columns "
                                 f"({', '.join(self.features)}) but the model at '{path}' was "
                                 f"fit on {len(self._fit_names)} ({', '.join(self._fit_names)})")
        elif self._fit_names is not None:
            self.features = tuple(self._fit_names)
        else:
            raise ModelError(f"the model at '{path}' ({type(self._model).__name__}) does not "
                             f"record its feature names (no feature_names_in_: it was not fit "
                             f"on a DataFrame); set features: [COLUMN, ...] in the model's "
                             f"config, in the order it was fit")
        self.probabilities = hasattr(self._model, "predict_proba")
        call = "predict_proba" if self.probabilities else "predict"
        self.description = (f"joblib model at {path} ({type(self._model).__name__}, {call}), "
                            f"features {', '.join(self.features)}")

    def _inputs(self, batch: pa.RecordBatch) -> Any:
        require_columns(batch, self.features, f"the {self.description}")
        what = "the model"
        columns = [fixed_width_values(batch.column(f), 1, f, what)[:, 0] for f in self.features]
        if self._fit_names is None:
            return np.stack([cast_values(c, np.dtype(np.float64), f, what)
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
