"""The KFP v2 container component: its typed signature, and the YAML shipped beside it.

The signature is the interface (as in google-cloud-pipeline-components' model evaluation
components); the body only names the image and the entrypoint, which reads the executor input
(`{{$}}`) and maps it onto `assay.evaluate` (assay.kfp.executor).

    python -m assay.kfp.component            # rewrites component.yaml from this factory
    python -m assay.kfp.component my.yaml REGISTRY/assay:0.1.0   # a copy for another image

Artifact types. `evaluation` and `blessing` are `system.Artifact`: TFX's own titles
(`tfx.ModelEvaluation`, `tfx.ModelBlessing`, which TFX's KFP v2 runner writes into the IR)
cannot be declared with the KFP SDK, which accepts only the `system` and `google` namespaces
(kfp 2.13, type_utils.validate_schema_title; tests/test_kfp.py keeps the check), and no
`system.` or `google.` type means either. What TFX users look for is in the blessing's metadata:
`blessed` (1 / 0), `current_model` / `baseline_model` (URIs) and `current_model_id` /
`baseline_model_id` (the ML Metadata ids KFP's driver names input artifacts by), as TFX's
Evaluator writes them; and in its files (the empty BLESSED / NOT_BLESSED marker).

Example:
    >>> from assay.kfp import evaluator_component                     # doctest: +SKIP
    >>> evaluate = evaluator_component(image="ghcr.io/me/assay:0.1.0")  # doctest: +SKIP
"""

# No `from __future__ import annotations`: KFP reads the component's annotations as objects.
import os
import sys
from typing import Any, Optional

from assay import __version__
from assay.errors import ConfigError, ConfigTypeError

IMAGE_REPOSITORY = "ghcr.io/assay-ml/assay"
DEFAULT_IMAGE = f"{IMAGE_REPOSITORY}:{__version__}"
"""Where the release workflow publishes the image built from the Dockerfile, tagged with the
package's version; a fully qualified name, so a cluster can pull it once it is published. Build
your own (`docker build -t REGISTRY/assay:0.1.0 .`) and pass its name as `image`."""
COMPONENT_YAML = os.path.join(os.path.dirname(os.path.abspath(__file__)), "component.yaml")
# The image holds the repository's container/ at /opt/assay/container/ (see Dockerfile).
ENTRYPOINT = "/opt/assay/container/entrypoint.py"
COMMAND = ("python", ENTRYPOINT, "kfp")
EXECUTOR_INPUT = "{{$}}"   # kfp.dsl.PIPELINE_TASK_EXECUTOR_INPUT_PLACEHOLDER

_DESCRIPTION = """Evaluates a candidate model against a baseline on example data, overall and
slice by slice, and decides whether it may ship (assay).

Args:
    examples: Example data: TFRecord (tf.Example), CSV or Parquet; a file, or a directory (a TFX
        Examples directory with Split-* subdirectories is read at the config's split).
    model: The candidate model (SavedModel or TFX model directory, Keras file, joblib file, or
        a directory holding one model file). Leave out when the config reads predictions from
        a column.
    baseline_model: The model to compare against (same forms); leave out for a first model.
    config: The assay config as a dict (label, models, slices, thresholds, ...); YAML/JSON
        text is still read, as component specs compiled before 0.2 send it.
    config_file: The assay config as a YAML/JSON artifact, instead of `config`.
    label: The label column; replaces the config's `label` when set.
    task: binary, multiclass, regression or multilabel; replaces the config's `task` when set.
    slices: The slices, e.g. [[], ["payment"], {"hour": 3}]; replace the config's when set.
    thresholds: The checks, e.g. [{"metric": "auc", "min": 0.7, "max_regression": 0.01}];
        replace the config's when set.
    fairness: The fairness groups, e.g. {"groups": [["gender"]], "thresholds": [0.5]};
        replaces the config's `fairness` when set.
    beam_pipeline_args: Arguments for Beam's PipelineOptions, e.g.
        ["--direct_num_workers=2", "--direct_running_mode=multi_processing"].
    allow_pickle: Allow loading joblib/pickle models (they run code when loaded).
    allow_custom_code: The modules whose classes the config's custom_metrics may load (they
        run code when imported), e.g. ["mypkg.metrics"]; none by default.
    force_bless: Bless whatever the checks say, recording this reason; empty: off.

Returns:
    evaluation: The assay results directory (assay_metrics.json, assay_plots.json,
        validation.json, the TFMA files, ...).
    metrics: The overall candidate metrics as scalars.
    classification_metrics: ROC curve and confusion matrix of the overall slice (classification).
    sliced_classification_metrics: ROC curve and confusion matrix of every slice.
    report: The HTML report.
    blessing: A TFX-compatible blessing: a BLESSED or NOT_BLESSED file; metadata blessed = 1/0,
        current_model(_id), baseline_model(_id) and the reasons.
    blessed: Whether the candidate was blessed, for dsl.If.
"""


def evaluator_component(image: str = DEFAULT_IMAGE) -> Any:
    """The assay KFP component, running `image`.

    Args:
      image: the container image built from this repository's Dockerfile.

    Returns:
      A kfp ContainerComponent; call it in a pipeline, or compile it with kfp.compiler.
    """
    if not isinstance(image, str):
        raise ConfigTypeError(f"'image' must be a non-empty string (got {image!r}, a "
                              f"{type(image).__name__})")
    if not image:
        raise ConfigError(f"'image' must be a non-empty string (got {image!r})")
    from typing import List

    from kfp import dsl
    from kfp.dsl import HTML, Artifact, ClassificationMetrics, Dataset, Input, Metrics, Model, \
        Output, SlicedClassificationMetrics

    def assay_evaluate(
        examples: Input[Dataset],
        evaluation: Output[Artifact],
        metrics: Output[Metrics],
        classification_metrics: Output[ClassificationMetrics],
        sliced_classification_metrics: Output[SlicedClassificationMetrics],
        report: Output[HTML],
        blessing: Output[Artifact],
        blessed: dsl.OutputPath(bool),
        model: Optional[Input[Model]] = None,
        baseline_model: Optional[Input[Model]] = None,
        config_file: Optional[Input[Artifact]] = None,
        config: dict = {},  # noqa: B006 (KFP records it as the default)
        label: str = "",
        task: str = "",
        slices: list = [],  # noqa: B006
        thresholds: list = [],  # noqa: B006
        fairness: dict = {},  # noqa: B006
        beam_pipeline_args: List[str] = [],  # noqa: B006 (KFP records it as the default)
        allow_pickle: bool = False,
        force_bless: str = "",
        allow_custom_code: List[str] = [],  # noqa: B006 (KFP records it as the default)
    ):
        return dsl.ContainerSpec(image=image, command=list(COMMAND),
                                 args=["--executor-input", EXECUTOR_INPUT])

    assay_evaluate.__doc__ = _DESCRIPTION
    return dsl.container_component(assay_evaluate)


def write_component_yaml(path: str = COMPONENT_YAML, image: str = DEFAULT_IMAGE) -> str:
    """Compiles the component to `path` (by default the YAML shipped in this package)."""
    from kfp import compiler

    compiler.Compiler().compile(evaluator_component(image), path)
    return path


def load_component(path: str = COMPONENT_YAML) -> Any:
    """The component from its compiled YAML (by default the one shipped in this package)."""
    from kfp import components

    return components.load_component_from_file(path)


if __name__ == "__main__":
    print(write_component_yaml(*sys.argv[1:3]))
