"""`assay.tfx.Evaluator`: a drop-in for `tfx.components.Evaluator` that gates the standard Pusher.

    from assay.tfx import Evaluator

    evaluator = Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=model_resolver.outputs["model"],
        config={"label": "species", "label_vocabulary": ["Adelie", "Chinstrap", "Gentoo"],
                "models": {"candidate": {"output": "probabilities"}},
                "slices": [["species"], ["island"]],
                "thresholds": [{"metric": "accuracy", "min": 0.8, "max_regression": 0.05}]})
    pusher = tfx.components.Pusher(model=trainer.outputs["model"],
                                   model_blessing=evaluator.outputs["blessing"], ...)

Inputs, outputs and parameters are declared once in `EvaluatorSpec`, keyed by the constants
below (the same names as TFX's Evaluator). Parameter combinations are checked when the
pipeline is defined: the config is translated, bound to the wired channels and validated then,
so a bad config fails `Evaluator(...)`, not the run.
"""

from __future__ import annotations

import json
import os
from typing import Any, List, Mapping, Optional, Sequence, Union

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import standard_artifacts, system_executions
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from assay.errors import ConfigError, ConfigTypeError
from assay.tfx import executor, params

# Keys of the component's inputs, outputs and parameters (those TFX's Evaluator also has keep
# its names, so pipelines and tools that read `outputs["blessing"]` work unchanged).
EXAMPLES_KEY = executor.EXAMPLES_KEY                    # "examples": Examples
MODEL_KEY = executor.MODEL_KEY                          # "model": Model (optional)
BASELINE_MODEL_KEY = executor.BASELINE_MODEL_KEY        # "baseline_model": Model (optional)
SCHEMA_KEY = executor.SCHEMA_KEY                        # "schema": Schema (optional)
EVALUATION_KEY = executor.EVALUATION_KEY                # "evaluation": ModelEvaluation
BLESSING_KEY = executor.BLESSING_KEY                    # "blessing": ModelBlessing
CONFIG_KEY = executor.CONFIG_KEY                        # "config": assay config, JSON
EVAL_CONFIG_KEY = executor.EVAL_CONFIG_KEY              # "eval_config": tfma.EvalConfig, JSON
EXAMPLE_SPLITS_KEY = executor.EXAMPLE_SPLITS_KEY        # "example_splits": JSON list
FORCE_BLESS_KEY = executor.FORCE_BLESS_KEY              # "force_bless": reason
ALLOW_CUSTOM_CODE_KEY = executor.ALLOW_CUSTOM_CODE_KEY  # "allow_custom_code": JSON list
ALLOW_PICKLE_KEY = executor.ALLOW_PICKLE_KEY            # "allow_pickle": bool


class EvaluatorSpec(ComponentSpec):
    """assay Evaluator component spec."""

    PARAMETERS = {
        CONFIG_KEY: ExecutionParameter(type=str, optional=True),
        EVAL_CONFIG_KEY: ExecutionParameter(type=str, optional=True),
        EXAMPLE_SPLITS_KEY: ExecutionParameter(type=str, optional=True),
        FORCE_BLESS_KEY: ExecutionParameter(type=str, optional=True),
        ALLOW_CUSTOM_CODE_KEY: ExecutionParameter(type=str, optional=True),
        ALLOW_PICKLE_KEY: ExecutionParameter(type=bool, optional=True),
    }
    INPUTS = {
        EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
        MODEL_KEY: ChannelParameter(type=standard_artifacts.Model, optional=True),
        BASELINE_MODEL_KEY: ChannelParameter(type=standard_artifacts.Model, optional=True),
        SCHEMA_KEY: ChannelParameter(type=standard_artifacts.Schema, optional=True),
    }
    OUTPUTS = {
        EVALUATION_KEY: ChannelParameter(type=standard_artifacts.ModelEvaluation),
        BLESSING_KEY: ChannelParameter(type=standard_artifacts.ModelBlessing),
    }
    TYPE_ANNOTATION = system_executions.Evaluate


# Stand-ins for the artifact URIs while the config is checked at definition time.
_MODEL_PLACEHOLDER = "<the model artifact>"
_BASELINE_PLACEHOLDER = "<the baseline_model artifact>"


def _config_json(config: Any) -> str:
    """assay's config (EvalConfig, mapping, JSON string or YAML/JSON file) as a JSON string."""
    from assay.config.schema import EvalConfig

    if isinstance(config, EvalConfig):
        return config.to_json()
    if isinstance(config, Mapping):
        return json.dumps(config, sort_keys=True)
    if isinstance(config, (str, os.PathLike)):
        text = os.fspath(config)
        if text.lstrip().startswith("{"):
            try:
                json.loads(text)
            except ValueError as e:
                raise ConfigError(f"'config' is not valid JSON ({e})") from None
            return text
        if not os.path.exists(text):
            raise ConfigError(f"'config' is neither a JSON object nor an existing YAML/JSON "
                              f"file (got {text!r})")
        from assay.config.parse import read_config_file

        return json.dumps(read_config_file(text), sort_keys=True)
    raise ConfigTypeError(f"'config' must be an assay EvalConfig, a dict, a JSON string or a "
                          f"file path (got {config!r}, a {type(config).__name__})")


def _splits_json(example_splits: Optional[Sequence[str]]) -> str:
    if example_splits is None:
        return json.dumps(["eval"])
    if isinstance(example_splits, str) or not isinstance(example_splits, (list, tuple)):
        raise ConfigTypeError(f"'example_splits' must be a list of split names "
                              f"(got {example_splits!r}, a {type(example_splits).__name__})")
    if not example_splits:
        raise ConfigError("'example_splits' must name at least one split (got []); leave it out "
                          "to evaluate the 'eval' split")
    for split in example_splits:
        if not isinstance(split, str) or not split:
            raise ConfigError(f"'example_splits' must hold non-empty split names "
                              f"(got {list(example_splits)!r})")
    if len(set(example_splits)) != len(example_splits):
        raise ConfigError(f"'example_splits' names a split twice (got {list(example_splits)!r})")
    return json.dumps(list(example_splits))


class Evaluator(base_beam_component.BaseBeamComponent):
    """Evaluates a candidate Model against a baseline with assay; blesses it or not.

    Component `outputs`:
      - `evaluation`: ModelEvaluation, assay's results directory
        (assay_metrics.json, assay_plots.json, validation.json, config.json; see the README).
      - `blessing`: ModelBlessing, with an empty BLESSED or NOT_BLESSED file at its root and the
        custom properties TFX's Evaluator sets (int `blessed`, `current_model`,
        `current_model_id`, `baseline_model`, `baseline_model_id`) plus `assay_outcome`,
        `assay_reasons` (a JSON list) and, when forced, `assay_forced`.

    Beam options come the TFX way: the pipeline's `beam_pipeline_args`, or
    `Evaluator(...).with_beam_pipeline_args([...])`.
    """

    SPEC_CLASS = EvaluatorSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(self,
                 examples: types.BaseChannel,
                 model: Optional[types.BaseChannel] = None,
                 baseline_model: Optional[types.BaseChannel] = None,
                 *,
                 config: Optional[Union[Mapping[str, Any], str, os.PathLike, Any]] = None,
                 eval_config: Optional[Any] = None,
                 example_splits: Optional[List[str]] = None,
                 schema: Optional[types.BaseChannel] = None,
                 force_bless: Optional[str] = None,
                 allow_custom_code: Optional[Sequence[str]] = None,
                 allow_pickle: bool = False,
                 feature_slicing_spec: Optional[Any] = None,
                 fairness_indicator_thresholds: Optional[Any] = None,
                 module_file: Optional[str] = None,
                 module_path: Optional[str] = None):
        """Defines the component; raises at once on a bad parameter combination.

        Args:
          examples: Examples channel (e.g. ExampleGen's `examples`).
          model: the candidate Model channel (e.g. Trainer's `model`). Its URI becomes the
            candidate's path; leave it out only when the config reads predictions from a column.
          baseline_model: the baseline Model channel, usually a Resolver with
            LatestBlessedModelStrategy; empty on the first run (then change thresholds are
            skipped, as TFX rubber-stamps).
          config: assay's config (see the README): an assay EvalConfig, a dict, a JSON string or
            a YAML/JSON file (read now). Model specs say which signature/output/transform to
            use; their paths come from the channels. Exactly one of config and eval_config.
          eval_config: a tfma.EvalConfig (or its JSON form), translated with
            `assay.config.tfma.from_tfma`.
          example_splits: the splits to evaluate (default ['eval']); several splits are read
            together as one input, as TFX's Evaluator does.
          schema: accepted for drop-in compatibility and passed to the executor, which does
            not use it: assay reads feature types from the data (`params.SCHEMA_NOTE` says why
            that loses nothing).
          force_bless: bless whatever the checks say, recording this reason.
          allow_custom_code: the modules whose classes the config's custom_metrics may load
            (they run code when imported), e.g. ["mypkg.metrics"]; none by default.
          allow_pickle: allow loading joblib/pickle models (scikit-learn, XGBoost, LightGBM),
            which run code when loaded; False by default. The config cannot allow it.
          feature_slicing_spec: TFX's deprecated evaluator_pb2.FeatureSlicingSpec (or its JSON
            form), with `config`: its column_for_slicing lists become the config's slices, plus
            the overall slice (refused with eval_config, as TFX does, and with a config that
            has slices).
          fairness_indicator_thresholds: TFMA's Fairness Indicators at these thresholds on
            every slice (`assay.tfx.params.with_fairness_thresholds`).
          module_file, module_path: refused with ConfigError saying why (`assay.tfx.params`):
            a module provides TFMA extractors, which assay does not run.

        Raises:
          ConfigError (ConfigTypeError for a wrong type; both are also ValueError / TypeError):
            a bad combination or value, with the parameter named; a config error is the
            config's own message.
        """
        params.refuse_unsupported(module_file, module_path, fairness_indicator_thresholds)
        if (config is None) == (eval_config is None):
            raise ConfigError("give exactly one of 'config' (assay's config) or 'eval_config' (a "
                              "tfma.EvalConfig) (got " + ("both" if config is not None else
                                                          "neither") + ")")
        if force_bless is not None and (not isinstance(force_bless, str)
                                        or not force_bless.strip()):
            raise ConfigError(f"'force_bless' must be a non-empty reason (got {force_bless!r})")
        if not isinstance(allow_pickle, bool):
            raise ConfigTypeError(f"'allow_pickle' must be True or False (got {allow_pickle!r}, "
                                  f"a {type(allow_pickle).__name__})")
        config_json = eval_json = None
        if config is not None:
            config_json = _config_json(config)
        else:
            from assay.config.tfma import eval_config_json

            eval_json = eval_config_json(eval_config)
        config_json = params.with_feature_slicing_spec(config_json, eval_json,
                                                       feature_slicing_spec)
        config_json, eval_json = params.with_fairness_thresholds(
            config_json, eval_json, fairness_indicator_thresholds)
        splits_json = _splits_json(example_splits)
        # Bind and validate now, with placeholders for the artifacts' URIs.
        resolved = executor.resolve_config(
            config_json, eval_json, _MODEL_PLACEHOLDER if model is not None else None,
            _BASELINE_PLACEHOLDER if baseline_model is not None else None)
        from assay.config.schema import EvalConfig
        from assay.engine.prepare import check_custom_code, parse_allowed_modules

        allowed = parse_allowed_modules(allow_custom_code)
        check_custom_code(EvalConfig.from_dict(resolved), allowed)  # refused when defined
        spec = EvaluatorSpec(
            examples=examples,
            model=model,
            baseline_model=baseline_model,
            schema=schema,
            config=config_json,
            eval_config=eval_json,
            example_splits=splits_json,
            force_bless=force_bless,
            allow_custom_code=json.dumps(list(allowed)) if allowed else None,
            allow_pickle=allow_pickle,
            evaluation=types.Channel(type=standard_artifacts.ModelEvaluation),
            blessing=types.Channel(type=standard_artifacts.ModelBlessing))
        super().__init__(spec=spec)
