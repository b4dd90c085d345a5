"""Preparing the pass: loading the model adapters and custom metrics, checking metric names
and deciding the task from a first batch of data.

These run on the driver (in `assay.engine.plan.make_plan`) and, for the adapters and metric
families, once on every worker.
"""

from __future__ import annotations

import difflib
import importlib
import re
from typing import TYPE_CHECKING, Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np

from assay.config.section_thresholds import SectionThreshold
from assay.config.schema import ConfigError, EvalConfig
from assay.metrics import DEFAULT_METRIC_NAMES, Metric
from assay.metrics.base import PASS_METHODS, check_metric_contract
from assay.metrics.cross_names import COSINE_SIMILARITY, is_cross_name
from assay.metrics.registry import declared_directions
from assay.models import load as assay_models

_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")

if TYPE_CHECKING:  # annotations only: the plan imports this module
    from assay.engine.plan import EvalPlan


def load_adapter(spec: assay_models.ModelSpec, raw_record_column: Optional[str],
                 role: str = "model"):
    """The model adapter of a spec: its prediction column, or the model (loaded once per
    process). `role` ("candidate", "baseline") names the model in a ModelError."""
    if spec.prediction is not None:
        return assay_models.PredictionColumn(spec)
    return assay_models.shared_model(spec, raw_record_column, role)


def parse_allowed_modules(allowed: Union[None, str, Sequence[str]]) -> Tuple[str, ...]:
    """The modules an `allow_custom_code` opt-in names: "a,b.c" or ["a", "b.c"] -> ("a", "b.c").

    Raises:
      ConfigError: a name that is not a dotted Python module name.
    """
    if allowed is None:
        return ()
    items = allowed.split(",") if isinstance(allowed, str) else list(allowed)
    names = []
    for item in items:
        if not isinstance(item, str):
            raise ConfigError(f"'allow_custom_code' lists module names (got {item!r}, a "
                              f"{type(item).__name__})")
        for name in item.split(","):
            name = name.strip()
            if name and not _MODULE_NAME.match(name):
                raise ConfigError(f"'allow_custom_code' lists Python module names such as "
                                  f"mypkg.metrics (got {name!r})")
            if name:
                names.append(name)
    return tuple(dict.fromkeys(names))


def check_custom_code(cfg: EvalConfig, allowed: Union[None, str, Sequence[str]]) -> None:
    """Refuses custom metrics whose modules the caller did not allow (DESIGN principle 6).

    A config is data, often from a pipeline parameter or a form; a custom metric's module is
    code that importing runs. So the opt-in comes from whoever runs assay (the CLI's
    --allow-custom-code, evaluate's allow_custom_code, the components' parameter), never from
    the config, and names the modules: `mypkg` allows `mypkg` and `mypkg.metrics`.

    Raises:
      ConfigError: a custom metric's module is not allowed; the message says how to opt in.
    """
    modules = parse_allowed_modules(allowed)
    for i, custom in enumerate(cfg.custom_metrics):
        module_name = custom.cls.partition(":")[0]
        if any(module_name == m or module_name.startswith(m + ".") for m in modules):
            continue
        given = f"(allowed now: {', '.join(modules)})" if modules else "(none is allowed now)"
        raise ConfigError(
            f"custom_metrics[{i}] names '{custom.cls}': loading it imports and runs code from "
            f"module '{module_name}', which needs an explicit opt-in {given}; if you trust it, "
            f"pass --allow-custom-code {module_name} (CLI), allow_custom_code=['{module_name}'] "
            f"(assay.evaluate) or the allow_custom_code parameter of the TFX or KFP component")


def load_custom_metric(path: str, args: Dict[str, Any]) -> Metric:
    """Imports `module.path:ClassName` and, if it is an assay.Metric subclass, builds it with
    `args` (nothing else is called: a config must not be able to run, say, subprocess:Popen)."""
    module_name, _, class_name = path.partition(":")
    where = f"custom metric '{path}'"
    if not _MODULE_NAME.match(module_name) or not class_name.isidentifier():
        raise ConfigError(f"{where} must be 'module.path:ClassName'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(f"{where}: cannot import module '{module_name}' ({e}); "
                          f"it must be importable on every worker") from None
    cls = getattr(module, class_name, None)
    if cls is None:
        raise ConfigError(f"{where}: module '{module_name}' has no '{class_name}'")
    if not (isinstance(cls, type) and issubclass(cls, Metric)):
        missing = [m for m in PASS_METHODS if not callable(getattr(cls, m, None))]
        lacks = f" and lacks {', '.join(missing)}" if missing else ""
        raise ConfigError(f"{where} is not an assay.Metric{lacks}; subclass assay.Metric "
                          f"(which gives add_grouped and plots their defaults) and implement "
                          f"create / add / merge / result (got {_describe(cls)})")
    try:
        metric = cls(**args)
    except TypeError as e:
        raise ConfigError(f"{where} cannot be built with the arguments {sorted(args)}: {e}") \
            from None
    check_metric_contract(metric, where)  # the whole contract, up front
    declared_directions([metric])  # its `directions`, if any, must be well formed
    return metric


def _describe(obj: Any) -> str:
    if isinstance(obj, type):
        return f"the class {obj.__module__}.{obj.__qualname__}"
    return f"a {type(obj).__name__}"


def _known_names(plan: "EvalPlan") -> set:
    """The metric names the plan's families produce (custom metrics' declared names too)."""
    families = plan.metric_families()
    known = set(families[0].metric_names())
    known |= {getattr(f, "name", "") for f in families[1:]}
    known |= {n for f in families[1:] if hasattr(f, "metric_names") for n in f.metric_names()}
    known |= {n for f in families[1:] for n in (getattr(f, "directions", None) or {})}
    known |= {n for f in families if f.name == "tfma" for n in getattr(f, "names", ())}
    return known


def check_threshold_metrics(plan: "EvalPlan") -> None:
    """Refuses thresholds on metrics the evaluation will not compute, now that the task is
    known and the custom metrics are loaded: what the config alone could not tell
    (assay.config.references checks the rest when the config is read).

    A custom metric may return names it does not declare, so with custom metrics only names
    of built-in metrics are checked.
    """
    from assay.metrics.registry import metric_info

    known = _known_names(plan)
    problems = []
    for i, t in enumerate(plan.config.validation.thresholds):
        if isinstance(t, SectionThreshold):  # checked by its own module
            continue
        if is_cross_name(t.metric) or (plan.config.custom_metrics
                                       and not metric_info(t.metric)[0]):
            continue
        if t.metric not in known and not any(t.metric.startswith(k + "/") for k in known) \
                and not _per_class(t.metric, plan.class_names):
            close = difflib.get_close_matches(t.metric, sorted(known), n=3)
            hint = f"; nearest: {', '.join(close)}" if close else ""
            problems.append(f"thresholds[{i}] ({t.metric}): metric '{t.metric}' is not "
                            f"computed for this {plan.task} task{hint}")
    if problems:
        raise ConfigError(problems[0] if len(problems) == 1 else
                          f"{len(problems)} problems in the config:\n" +
                          "\n".join(f"  - {p}" for p in problems))


def _per_class(name: str, class_names: Optional[Sequence[str]]) -> bool:
    """Whether `name` is a per-class metric (recall/cat) of one of the task's classes."""
    base, slash, cls = name.partition("/")
    return bool(slash) and cls in (class_names or ())


def check_metric_names(plan: "EvalPlan") -> None:
    """Rejects names in `metrics:`, and thresholds on metrics, that the task's families do not
    produce (see check_threshold_metrics)."""
    check_threshold_metrics(plan)
    if not plan.config.metrics:
        return
    known = _known_names(plan)
    for name in plan.config.metrics:
        if is_cross_name(name):
            check_cross_metric(plan.task, name)
            continue
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ConfigError(f"unknown metric '{name}' for a {plan.task} task{hint} "
                              f"(known: {', '.join(sorted(DEFAULT_METRIC_NAMES[plan.task]))})")


def check_cross_metric(task: str, name: str) -> None:
    """Refuses a cross-model metric that the task's predictions do not allow: the flip rates
    and the prediction difference compare one score per example, which a multiclass task has
    not (TFMA would read its first class alone)."""
    if task == "multiclass" and not name.startswith(COSINE_SIMILARITY):
        raise ConfigError(f"{name} compares one score per example, but the task is multiclass "
                          f"(class probabilities); use {COSINE_SIMILARITY} to compare them")


def infer_task(cfg: EvalConfig, labels: np.ndarray, preds: np.ndarray) -> str:
    """The task ("binary", "multiclass" or "regression") that labels and predictions suggest.

    Args:
      cfg: the config (its label_vocabulary and the candidate's transform decide first).
      labels: the labels of a first batch, shape [n].
      preds: the candidate's predictions on it, shape [n] or [n, k].
    """
    if cfg.label_vocabulary is not None:
        return "binary" if len(cfg.label_vocabulary) == 2 else "multiclass"
    width = 1 if preds.ndim == 1 or preds.shape[1] == 1 else preds.shape[1]
    if labels.dtype.kind in "OSU":
        raise ConfigError(f"label column '{cfg.label}' holds strings (e.g. {labels[0]!r}); give "
                          f"label_vocabulary: [...] listing the classes in the order of the "
                          f"model's outputs")
    numeric = labels.astype(np.float64)
    numeric = numeric[np.isfinite(numeric)]
    integral = bool(np.all(numeric == np.round(numeric)))
    if width > 2:
        return "multiclass"
    if integral and set(np.unique(numeric).tolist()) <= {0.0, 1.0}:
        p = preds if preds.ndim == 1 else preds[:, -1]
        p = p[np.isfinite(p)]
        # Predictions that are (nearly all) probabilities: a few stray values outside [0, 1]
        # are reported as invalid later rather than turning the task into a regression.
        in_unit = float(np.mean((p >= 0) & (p <= 1))) if len(p) else 0.0
        spec = cfg.model_specs["candidate"]
        # Scores (outputs: scores, e.g. logits taken as TFMA takes them) on 0/1 labels: binary.
        if width == 2 or in_unit >= 0.99 or getattr(spec, "transform", "none") == "sigmoid" \
                or getattr(spec, "outputs", "probabilities") == "scores":
            return "binary"
        outside = p[(p < 0) | (p > 1)]
        if not len(outside):  # no finite prediction at all: reported as invalid values later
            return "regression"
        # 0/1 labels with scores that are not probabilities (logits, mostly) used to become a
        # regression without a word; guessing either way would be a silent surprise.
        raise ConfigError(
            f"label column '{cfg.label}' holds 0/1 labels, but {1 - in_unit:.0%} of the "
            f"candidate's predictions on the first {len(p)} examples lie outside [0, 1] (e.g. "
            f"{outside[0]:.4g}), so the task cannot be inferred. If they are "
            f"logits, add 'transform: sigmoid' to models.candidate (binary metrics on "
            f"probabilities) or 'outputs: scores' (TFMA's way: the scores as they are); if "
            f"the label is a number to predict, set 'task: regression'")
    return "regression"


def describe_task(cfg: EvalConfig, task: str, class_names: Optional[Sequence[str]] = None
                  ) -> str:
    """How the task was decided, for a person: "set in the config", or what `infer_task`
    read it from (the rule above, told from the config and the result)."""
    if cfg.task is not None:
        return "set in the config (task)"
    if cfg.label is None:  # assay.metrics.label_free.infer_label_free_task
        return "inferred from the candidate's predictions (the config has no label)"
    if cfg.label_vocabulary is not None:
        return f"inferred from label_vocabulary ({len(cfg.label_vocabulary)} classes)"
    spec = cfg.model_specs["candidate"]
    if task == "multiclass":
        return (f"inferred from the candidate's predictions: one probability per class "
                f"({len(class_names or ())} classes)")
    if task == "binary":
        how = ("transform: sigmoid" if getattr(spec, "transform", "none") == "sigmoid" else
               "outputs: scores" if getattr(spec, "outputs", "") == "scores" else
               "predictions in [0, 1]")
        return f"inferred from the data: 0/1 labels and {how}"
    return "inferred from the data: labels that are not all 0 or 1"


# Files that people pass as examples by mistake, by their extension: never example data.
_NOT_DATA = {".yaml": "a YAML file", ".yml": "a YAML file", ".json": "a JSON file",
             ".pbtxt": "a text protobuf", ".pb": "a protobuf (a SavedModel's graph?)",
             ".py": "a Python file", ".ipynb": "a notebook", ".html": "an HTML file",
             ".md": "a Markdown file", ".joblib": "a joblib model", ".pkl": "a pickle",
             ".h5": "an HDF5 (Keras) model", ".keras": "a Keras model"}


def check_example_files(files: Sequence[str], fmt: str = "auto") -> None:
    """Refuses a file that is plainly not example data (a config, a model) given as examples,
    naming it: without this a YAML config was read as a one-column CSV and failed far from
    the cause. An explicit `format:` is trusted."""
    if fmt != "auto":
        return
    for path in files:
        name = str(path).lower()
        for ext, what in _NOT_DATA.items():
            if name.endswith(ext):
                raise ConfigError(f"{path} is {what}, not examples (expected TFRecord, CSV or "
                                  f"Parquet files); check --examples (examples=)")
