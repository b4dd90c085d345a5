"""Transformed features: the outputs of the models' preprocessing functions (a ModelSpec's
`preprocessing`, TFMA's `preprocessing_function_names`), added to each batch as columns.

    # Input: pa.RecordBatch of n raw examples.
    # Output: the same rows, with one column per preprocessing output (replacing a raw column
    #   of the same name); the label, the weight, the slices and custom metrics read these.

This is what TFMA 0.47 does (extractors/transformed_features_extractor.py, then
utils/model_util.get_feature_values_for_model_spec_field and extractors/slice_key_extractor.py):
the named signatures run once per batch on the raw examples, and a label, weight or slice
feature is looked up first among the transformed features, then among the raw ones. The model's
predictions are still computed from the raw examples, as TFMA's PredictionsExtractor does.

One difference, on purpose: TFMA looks a model's label and weight up in that model's own
transformed features, and slices on the values of every model's. assay computes one label,
weight and slice key per example, so when several models' preprocessing produce the same name,
the first model's value is used (the candidate's, then the other models' in config order). With
the same Transform graph in every model (the TFX case: a baseline is an earlier run of the same
Trainer) the values are the same.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping

import numpy as np
import pyarrow as pa

from assay.errors import ModelError


def has_preprocessing(adapters: Mapping[str, Any]) -> bool:
    """Whether any model adapter runs preprocessing functions."""
    return any(getattr(a, "preprocessing", ()) for a in adapters.values())


def transformed_batch(adapters: Mapping[str, Any], batch: pa.RecordBatch) -> pa.RecordBatch:
    """`batch` with the models' transformed features as columns (see the module docstring).

    Args:
      adapters: {model name: ModelAdapter}, the candidate first.
      batch: the raw examples, shape [n] rows.

    Returns:
      The batch itself when no model has preprocessing; else a batch of the same n rows: the
      raw columns, each replaced by the transformed feature of the same name if there is one,
      then the other transformed features in the order the models gave them.

    Raises:
      ModelError: a preprocessing signature failed or gave an output of another length.
    """
    if not has_preprocessing(adapters):
        return batch
    columns: Dict[str, pa.Array] = {}
    for name, adapter in adapters.items():
        for key, value in adapter.transformed_features(batch).items():
            if key not in columns:  # the first model's value wins (see the module docstring)
                columns[key] = _as_column(value, key, name)
    names = list(batch.schema.names)
    arrays = [columns.pop(n) if n in columns else batch.column(i) for i, n in enumerate(names)]
    names += list(columns)
    arrays += list(columns.values())
    return pa.RecordBatch.from_arrays(arrays, names)


def _as_column(value: np.ndarray, key: str, model: str) -> pa.Array:
    """A preprocessing output as an Arrow column: [n] and [n, 1] give one value per example
    (as a CSV column), [n, k, ...] a list of its k * ... values (as a tf.Example feature)."""
    value = np.asarray(value)
    n = value.shape[0]
    if value.ndim > 1 and int(np.prod(value.shape[1:])) == 1:
        value = value.reshape(n)
    flat = value.reshape(-1)
    if flat.dtype.kind in "OSU":
        values = _strings(flat)
    elif flat.dtype.kind in "biuf":
        values = pa.array(flat)
    else:
        raise ModelError(f"preprocessing output '{key}' of model '{model}' holds "
                         f"{flat.dtype} values; transformed features must be numbers or strings")
    if value.ndim == 1:
        return values
    width = flat.size // n if n else 0
    offsets = pa.array(np.arange(n + 1, dtype=np.int32) * width)
    return pa.ListArray.from_arrays(offsets, values)


def _strings(values: np.ndarray) -> pa.Array:
    """Bytes as UTF-8 strings, as the data layer reads tf.Example bytes features (bytes that
    are not UTF-8 stay bytes)."""
    array = pa.array(values, type=pa.binary() if values.dtype.kind != "U" else pa.string())
    try:
        return array.cast(pa.string())
    except pa.ArrowInvalid:
        return array


def first_batch_transformed(config: Any, first: pa.RecordBatch,
                            raw_record_column: Any) -> pa.RecordBatch:
    """The plan's first batch with the transformed features, so that the label, weight and
    slice columns the preprocessing produces are found when the config is checked.

    Raises:
      ConfigError: a quantile-bucketed slice on a transformed feature (bucket boundaries are
        sketched from the raw examples, before any model runs).
      ModelError, BaselineError: a model cannot be loaded or lacks a preprocessing signature.
    """
    from assay.engine.prepare import load_adapter
    from assay.errors import BaselineError, ConfigError

    adapters = {name: load_adapter(spec, raw_record_column, name)
                for name, spec in config.models if getattr(spec, "preprocessing", ())}
    if not adapters:
        return first
    for name, adapter in adapters.items():
        try:
            adapter.transformed_features(first)
        except ModelError as e:
            if name != "baseline":
                raise
            raise BaselineError(f"the baseline model's preprocessing failed: {e}") from e
    out = transformed_batch(adapters, first)
    produced = set(out.schema.names) - set(first.schema.names)
    for spec in config.slices:
        for column in spec.columns:
            if column.quantiles and column.feature in produced:
                raise ConfigError(f"slice {spec.name} buckets '{column.feature}' by quantiles, "
                                  f"but '{column.feature}' is a transformed feature (made by a "
                                  f"model's preprocessing) and quantile boundaries are computed "
                                  f"from the raw examples; give boundaries: [...] instead")
    return out

