"""The executor of `assay.tfx.Evaluator`: decode the artifacts, build the config, run assay,
write the blessing where TFX's Pusher and LatestBlessedModelStrategy look for it.

What it writes, matching TFX 1.16's Evaluator (tfx/components/evaluator/executor.py):
  - `evaluation` URI: assay's results directory (assay_metrics.json, assay_plots.json, config.json,
    validation.json, blessing/). On a cloud pipeline root (gs://, s3://, any Beam scheme) it
    is published as assay publishes on any object store: the commit object
    `_ASSAY_COMMIT.json` names the generation `.runs/RUN/` holding those files
    (assay.results.publish); `assay.load_result(evaluation.uri)` reads either.
  - `blessing` URI: an empty `BLESSED` or `NOT_BLESSED` file at its root, and the custom
    properties int `blessed` (1/0), `current_model`, `current_model_id`, and when a baseline
    was given `baseline_model`, `baseline_model_id`; plus `assay_outcome`, `assay_reasons`
    (JSON list) and `assay_forced`. Unlike TFX, the blessing is written even when no threshold
    is configured (NOT_BLESSED, with that reason, unless the config says on_no_thresholds:
    bless): TFX leaves the artifact empty then, which its Pusher also treats as not blessed.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional

from absl import logging
from tfx import types
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils

from assay.errors import ConfigError, DataError

EXAMPLES_KEY = "examples"
MODEL_KEY = "model"
BASELINE_MODEL_KEY = "baseline_model"
SCHEMA_KEY = "schema"
EVALUATION_KEY = "evaluation"
BLESSING_KEY = "blessing"
CONFIG_KEY = "config"
EVAL_CONFIG_KEY = "eval_config"
EXAMPLE_SPLITS_KEY = "example_splits"
FORCE_BLESS_KEY = "force_bless"
ALLOW_CUSTOM_CODE_KEY = "allow_custom_code"  # JSON list of the modules custom metrics may load
ALLOW_PICKLE_KEY = "allow_pickle"  # bool (stored as int): allow loading joblib/pickle models


def _bind_models(raw: Mapping[str, Any], model: Optional[str], baseline: Optional[str]
                 ) -> Dict[str, Any]:
    """assay's config with the Model artifacts' URIs bound by assay.config.binding's rule."""
    from assay.config.binding import bind_models
    from assay.config.schema import ConfigError

    if "split" in raw:
        raise ConfigError("the config's 'split' is set by the component's 'example_splits' in "
                          "TFX; leave 'split' out of the config")
    return bind_models(raw, model, baseline)


def resolve_config(config_json: Optional[str], eval_config_json: Optional[str],
                   model: Optional[str], baseline: Optional[str]) -> Dict[str, Any]:
    """The config assay runs with, from the component's parameters and the artifacts' URIs.

    Validates it (raising the config's own ConfigError/TypeError/ValueError), so the component
    can call this at definition time with placeholder URIs.
    """
    from assay.config.schema import EvalConfig

    if eval_config_json is not None:
        from assay.config.tfma import from_tfma

        paths = None if model is None else {"candidate": model}
        if paths is not None and baseline is not None:
            paths["baseline"] = baseline
        config = from_tfma(eval_config_json, model_paths=paths)
    else:
        config = _bind_models(json.loads(config_json), model, baseline)
    EvalConfig.from_dict(config)
    return config


def _optional_single(input_dict: Mapping[str, List[types.Artifact]], key: str
                     ) -> Optional[types.Artifact]:
    artifacts = input_dict.get(key) or []
    if len(artifacts) > 1:
        raise ConfigError(f"'{key}' must hold at most one artifact (got {len(artifacts)})")
    return artifacts[0] if artifacts else None


def example_uris(examples: List[types.Artifact], splits: List[str]) -> List[str]:
    """The directories of the given splits of the Examples artifact(s), all read as one input."""
    uris = []
    for split in splits:
        for artifact in examples:
            names = artifact_utils.decode_split_names(artifact.split_names)
            if split not in names:
                raise DataError(f"Examples artifact {artifact.uri} has no split '{split}' "
                                f"(its splits: {', '.join(names) or 'none'})")
        uris += artifact_utils.get_split_uris(examples, split)
    return uris


class Executor(base_beam_executor.BaseBeamExecutor):
    """Runs assay on the examples, writes the evaluation and the blessing."""

    def __init__(self, context: Optional[base_beam_executor.BaseBeamExecutor.Context] = None):
        import copy

        from assay.engine.runner_args import direct_runner_only

        args = list(getattr(context, "beam_pipeline_args", None) or [])
        if not (args and direct_runner_only(args)):
            super().__init__(context)
            return
        # For any Beam arguments TFX's BaseBeamExecutor packages TFX as an sdist for remote
        # workers (about 1 s, on every run); the DirectRunner's arguments run on this machine,
        # on assay's local engine (assay.engine.runner_args), and need none.
        bare = copy.copy(context)
        bare.beam_pipeline_args = None
        super().__init__(bare)
        self._beam_pipeline_args = args

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        import assay
        from assay import validation

        self._log_startup(input_dict, output_dict, exec_properties)
        model = _optional_single(input_dict, MODEL_KEY)
        baseline = _optional_single(input_dict, BASELINE_MODEL_KEY)
        config = resolve_config(exec_properties.get(CONFIG_KEY),
                                exec_properties.get(EVAL_CONFIG_KEY),
                                model.uri if model else None, baseline.uri if baseline else None)
        splits = json.loads(exec_properties.get(EXAMPLE_SPLITS_KEY) or "null") or ["eval"]
        examples = example_uris(input_dict[EXAMPLES_KEY], splits)
        evaluation = artifact_utils.get_single_instance(output_dict[EVALUATION_KEY])
        blessing = artifact_utils.get_single_instance(output_dict[BLESSING_KEY])

        result = assay.evaluate(config, examples, evaluation.uri,
                                beam_pipeline_args=list(self._beam_pipeline_args),
                                force_bless=exec_properties.get(FORCE_BLESS_KEY) or None,
                                allow_pickle=bool(exec_properties.get(ALLOW_PICKLE_KEY)),
                                allow_custom_code=json.loads(
                                    exec_properties.get(ALLOW_CUSTOM_CODE_KEY) or "[]"))

        verdict = validation.ValidationResult.from_dict(result.validation)
        validation.write_blessing(blessing.uri, verdict)
        properties = validation.blessing_properties(
            verdict,
            current_model=model.uri if model else None,
            current_model_id=model.id if model else None,
            baseline_model=baseline.uri if baseline else None,
            baseline_model_id=baseline.id if baseline else None)
        for key, value in properties.items():
            if isinstance(value, int):
                blessing.set_int_custom_property(key, value)
            else:
                blessing.set_string_custom_property(key, value)
        logging.info("assay: %s, written to %s; reasons: %s", verdict.outcome.value,
                     blessing.uri, "; ".join(verdict.reasons) or "none")


__all__ = ["Executor", "resolve_config", "example_uris"]
