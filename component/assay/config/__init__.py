"""assay's config: EvalConfig and its parts, typed and frozen, validated when built.

    schema.py        EvalConfig (from_dict / from_file / to_dict), config_from
    models.py        ModelSpec, parse_model
    slices.py        SliceColumn, SliceSpec, parse_slice_spec
    parse.py         the parts of from_dict; CustomMetricSpec; read_config_file
    binding.py       bind_models: the one rule that binds model paths given from outside
    thresholds.py, validation.py   the typed thresholds and validation options
    values.py        the checks of single values and the one YAML/JSON loader
    tfma.py, tfma_metrics.py   translation of a tfma.EvalConfig

Nothing here imports numpy, pyarrow, TensorFlow or Beam. The names below are loaded on first
use, so importing one submodule does not import the others.

Example:
    >>> from assay.config import EvalConfig
    >>> EvalConfig.from_dict({"label": "y", "models": {"candidate": {"prediction": "p"}}}).label
    'y'
"""

from assay.lazy import module_getattr

_LAZY = {
    "EvalConfig": "assay.config.schema",
    "config_from": "assay.config.schema",
    "ModelSpec": "assay.config.models",
    "SliceColumn": "assay.config.slices",
    "SliceSpec": "assay.config.slices",
    "parse_slice_spec": "assay.config.slices",
    "CustomMetricSpec": "assay.config.parse",
    "read_config_file": "assay.config.parse",
    "bind_models": "assay.config.binding",
    "bound_config": "assay.config.binding",
    "load_mapping": "assay.config.values",
    "ConfigError": "assay.errors",
    "ConfigTypeError": "assay.errors",
}

__all__ = sorted(_LAZY)


__getattr__ = module_getattr(__name__, _LAZY)
