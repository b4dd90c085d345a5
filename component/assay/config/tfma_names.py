"""`tfma_names`: the TFMA metric key names under which assay's metrics are written in TFMA's files.

A config translated from a tfma.EvalConfig (assay.config.tfma.from_tfma) records, for each
metric it translated, {assay metric name: the name TFMA would write} (e.g. {"accuracy":
"binary_accuracy"}), so that TFMA's readers find the names a TFMA run gives. A metric not named
here keeps its assay name in TFMA's files (assay.results.tfma_writer).

Example:
    >>> check_tfma_names({"accuracy": "binary_accuracy"})
    (('accuracy', 'binary_accuracy'),)
"""

from __future__ import annotations

from typing import Any, Mapping

from assay.config.parse import FrozenMapping
from assay.errors import ConfigError, ConfigTypeError


def check_tfma_names(value: Any) -> FrozenMapping:
    """`value` ({assay name: TFMA name}, or its frozen form) as a FrozenMapping sorted by name.

    Raises:
      ConfigTypeError: not a mapping, or a name that is not a string.
      ConfigError: an empty name.
    """
    if isinstance(value, FrozenMapping) or (isinstance(value, tuple) and not value):
        pairs = tuple(value)
    elif isinstance(value, Mapping):
        pairs = tuple(value.items())
    else:
        raise ConfigTypeError(f"'tfma_names' must be a mapping of assay metric names to TFMA "
                              f"metric names (got {value!r}, a {type(value).__name__})")
    for assay_name, tfma_name in pairs:
        for what, name in (("assay metric name", assay_name), ("TFMA metric name", tfma_name)):
            if not isinstance(name, str):
                raise ConfigTypeError(f"'tfma_names': each {what} must be a string (got "
                                      f"{name!r}, a {type(name).__name__}, in "
                                      f"{assay_name!r}: {tfma_name!r})")
            if not name.strip():
                raise ConfigError(f"'tfma_names': an empty {what} (in {assay_name!r}: "
                                  f"{tfma_name!r})")
    return FrozenMapping(sorted(pairs))


__all__ = ["check_tfma_names"]
