"""The optional parts of assay, and the error that names the one to install.

`pip install assay` brings the core: config, CSV/Parquet data, prediction columns, the local
engine, every metric family, validation, the results files and the report. The rest comes with
an extra (pyproject.toml's `[project.optional-dependencies]`):

    tfrecord    tfx-bsl: TFRecord files of tf.Examples, quantile slices, sketched quantiles
    tensorflow  TensorFlow, tf-keras: SavedModels and Keras models
    beam        Apache Beam: the Beam engine, remote paths (gs://, s3://, ...)
    tfx, kfp, mlmd   the TFX component, the KFP component, ML Metadata
    sklearn     scikit-learn, joblib, pandas: joblib models

The TFX stack's extras (tfrecord, tensorflow, beam, tfx, kfp, mlmd) install on Python 3.10 only
(TFX 1.16 requires it). A feature that needs one calls `require`, which imports the module or
raises MissingExtra naming the feature, the extra and the Python it installs on.

Example:
    >>> require("numpy", "core", "arrays").__name__
    'numpy'
    >>> available("no_such_module_anywhere")
    False
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType

from assay.errors import ConfigError

# The extras that install on Python 3.10 only (pyproject.toml's markers).
PY310_ONLY = frozenset({"tfrecord", "tensorflow", "beam", "tfx", "kfp", "mlmd"})


class MissingExtra(ConfigError, ImportError):
    """A feature whose optional dependency is not installed (exit 2, as a setup problem).

    Also an ImportError, so code that guards an optional import keeps working.
    """


def install_hint(extra: str) -> str:
    """How to get an extra: `pip install 'assay[tfrecord]'` (plus the Python it needs)."""
    hint = f"pip install 'assay[{extra}]'"
    if extra in PY310_ONLY:
        hint += " (on Python 3.10: TFX 1.16's stack installs there only"
        running = f"{sys.version_info.major}.{sys.version_info.minor}"
        hint += f"; this is Python {running})" if running != "3.10" else ")"
    return hint


def available(module: str) -> bool:
    """True when `module` (dotted) can be imported, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package is missing, or a broken install
        return False


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Imports `module`, or raises MissingExtra: "{feature} needs {module}: pip install ...".

    Args:
      module: the dotted module name to import.
      extra: the extra of assay that brings it.
      feature: what needs it, as a phrase ("reading TFRecord files of tf.Examples").

    Raises:
      MissingExtra: the module (or a package it needs) is not installed.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        top = module.split(".")[0]
        missing = e.name or top
        raise MissingExtra(f"{feature} needs {top} (no module named '{missing}'): "
                           f"{install_hint(extra)}") from e
