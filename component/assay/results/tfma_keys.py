"""Slice keys, metric keys and metric values as TFMA 0.47 serializes them (its protos, vendored).

One rule for every TFMA file assay writes (assay.results.tfma_files):

- A slice {feature: value} is a SliceKey of (column, value) pairs sorted by column, as TFMA's
  slicer yields them; the overall slice {} is the empty SliceKey. Strings (and the interval
  labels of bucketed features, "[1, 5)") are `bytes_value`, integers `int64_value`, floats
  `float_value`; booleans are `int64_value` 1 / 0, as TFMA's `serialize_slice_key` writes a
  Python bool (an int).
- A metric of model M is MetricKey(name, model_name=M, example_weighted=whether the config
  has a weight, false for example_count); model M's diff against the baseline is the same key
  with `is_diff` set (TFMA keys a diff by the model compared, not the baseline).
  The name is the config's `tfma_names` entry for it when there is one (a config translated
  from a tfma.EvalConfig: the name TFMA would write), else assay's own name.
- A number is a `double_value` (NaN and infinities included), a string a `bytes_value`,
  anything else an `unknown_type` holding its text, as TFMA's writer does.

Example:
    >>> slice_key({"payment": "cash", "hour": 3}).single_slice_keys[0].column
    'hour'
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from assay.results.tfma_proto import metrics_for_slice_pb2 as pb

# What TFMA writes for a slice with fewer than min_slice_size examples (slicer_lib.py,
# FilterOutSlices): one metric under this name, its debug_message saying why.
ERROR_METRIC = "__ERROR__"
UNWEIGHTED_COUNT = "example_count"  # TFMA's ExampleCount: example_weighted false, always


def withheld_message(min_slice_size: int) -> str:
    """TFMA 0.47's message for a withheld slice, word for word (readers such as the Fairness
    Indicators front end match it)."""
    return ("Example count for this slice key is lower than the minimum required value: %d. "
            "No data is aggregated for this slice." % min_slice_size)


def slice_key(slice_: Mapping[str, Any]) -> pb.SliceKey:
    """The SliceKey of an assay slice: its (column, value) pairs sorted by column."""
    key = pb.SliceKey()
    for column in sorted(slice_):
        value = slice_[column]
        single = key.single_slice_keys.add()
        single.column = str(column)
        if isinstance(value, bytes):
            single.bytes_value = value
        elif isinstance(value, str):
            single.bytes_value = value.encode("utf-8")
        elif isinstance(value, (bool, int)):
            single.int64_value = int(value)
        elif isinstance(value, float):
            single.float_value = value
        else:
            raise TypeError(f"slice value {value!r} of {column!r} is a {type(value).__name__}; "
                            f"expected a string or a number")
    return key


def metric_key(name: str, model: str, is_diff: bool = False,
               tfma_names: Optional[Mapping[str, str]] = None,
               weighted: Optional[bool] = None) -> pb.MetricKey:
    """The MetricKey of assay metric `name` of `model` (its diff when `is_diff`); `weighted`
    sets `example_weighted` (TFMA sets it on every key; example_count is never weighted)."""
    key = pb.MetricKey(name=(tfma_names or {}).get(name, name), model_name=model)
    if weighted is not None:
        key.example_weighted.SetInParent()
        key.example_weighted.value = bool(weighted) and name != UNWEIGHTED_COUNT
    if is_diff:
        key.is_diff = True
    return key


def metric_value(value: Any) -> pb.MetricValue:
    """A MetricValue as TFMA's writer converts a value (convert_metric_value_to_proto)."""
    out = pb.MetricValue()
    if isinstance(value, bytes):
        out.bytes_value = value
    elif isinstance(value, str):
        out.bytes_value = value.encode("utf-8")
    else:
        try:
            out.double_value.value = float(value)
        except (TypeError, ValueError) as e:
            out.unknown_type.value = str(value).encode("utf-8")
            out.unknown_type.error = str(e)
    return out


__all__ = ["ERROR_METRIC", "metric_key", "metric_value", "slice_key", "withheld_message"]
