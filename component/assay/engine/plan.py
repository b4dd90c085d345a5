"""The evaluation plan: what the driver learns before the pass, shipped to every worker.

`make_plan` resolves the input files, looks at the first batch of data (columns, label kind,
prediction shape) and decides the task, the class names and the metric families, so that a
misspelt column, an unloadable model or a signature that does not fit the data fails at once with
a clear message, before the pipeline starts.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pyarrow as pa

from assay.data import files as assay_io
from assay.models import load as assay_models
from assay.metrics.batch import ModelBatch
from assay.config.schema import ConfigError, EvalConfig
from assay.errors import BaselineError
from assay.metrics import (DEFAULT_METRIC_NAMES, BinaryMetrics, Metric, MulticlassMetrics,
                           RegressionMetrics)

RAW_RECORD_COLUMN = "__assay_raw_record__"
DataError = assay_io.DataError


@dataclasses.dataclass(frozen=True)
class EvalPlan:
    """Everything a worker needs, decided once by the driver."""

    config: EvalConfig
    files: Tuple[str, ...]
    format: str
    task: str
    class_names: Optional[Tuple[str, ...]]
    raw_record_column: Optional[str]
    quantile_features: Tuple[Tuple[str, int], ...]
    # The pieces of work, in order: (file, Parquet row groups (first, stop) or None for the
    # whole file, index of the piece's first row in the file). Workers take one at a time and
    # partials are merged in this order. Empty: one piece per file.
    units: Tuple[Tuple[str, Optional[Tuple[int, int]], int], ...] = ()

    def work_units(self) -> Tuple[Tuple[str, Optional[Tuple[int, int]], int], ...]:
        return self.units or tuple((f, None, 0) for f in self.files)

    def metric_families(self) -> List[Metric]:
        """The metric families for one model: the task's built-in family, then custom metrics."""
        cfg = self.config
        if self.task == "binary":
            builtin: Metric = BinaryMetrics(thresholds=cfg.decision_thresholds,
                                            num_buckets=cfg.num_buckets, exact=cfg.exact,
                                            calibration_bins=cfg.calibration_bins)
        elif self.task == "multiclass":
            builtin = MulticlassMetrics(class_names=self.class_names, top_k=cfg.top_k,
                                        num_buckets=cfg.num_buckets, exact=cfg.exact)
        else:
            builtin = RegressionMetrics(quantiles=cfg.residual_quantiles, exact=cfg.exact)
        return [builtin] + [load_custom_metric(c.cls, dict(c.args)) for c in cfg.custom_metrics]

    @property
    def needs_features(self) -> bool:
        return bool(self.config.custom_metrics)


def load_custom_metric(path: str, args: Dict[str, Any]) -> Metric:
    """Imports `module.path:ClassName` and builds it with `args`."""
    module_name, _, class_name = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(f"custom metric '{path}': cannot import module '{module_name}' ({e}); "
                          f"it must be importable on every worker") from None
    cls = getattr(module, class_name, None)
    if cls is None:
        raise ConfigError(f"custom metric '{path}': module '{module_name}' has no '{class_name}'")
    metric = cls(**args)
    for method in ("create", "add", "merge", "result"):
        if not callable(getattr(metric, method, None)):
            raise ConfigError(f"custom metric '{path}' lacks the method '{method}' of the "
                              f"accumulator interface (create / add / merge / result)")
    if not getattr(metric, "name", ""):
        raise ConfigError(f"custom metric '{path}' needs a 'name' attribute")
    return metric


# ---------------------------------------------------------------------------------------------
# Reading labels, weights and predictions out of a batch


def _missing_column(batch: pa.RecordBatch, column: str, role: str) -> ConfigError:
    names = [n for n in batch.schema.names if n != RAW_RECORD_COLUMN]
    close = difflib.get_close_matches(column, names, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return ConfigError(f"{role} column '{column}' is not in the data{hint} "
                       f"(columns: {', '.join(names)})")


def require_column(batch: pa.RecordBatch, column: str, role: str) -> None:
    if column not in batch.schema.names:
        raise _missing_column(batch, column, role)


class Problems:
    """Counts of invalid values found in the data, with the first example of each kind."""

    def __init__(self):
        self.counts: Dict[str, List[Any]] = {}

    def add(self, what: str, mask: np.ndarray, values: np.ndarray, where: str,
            offset: int = 0) -> None:
        """Counts the rows in `mask` (shape [n]) of a batch read from `where` at row `offset`."""
        n = int(np.count_nonzero(mask))
        if not n:
            return
        first = int(np.flatnonzero(mask)[0])
        value = values[first]
        value = value.item() if isinstance(value, np.generic) else value
        example = f"{value!r} in {where}, example {offset + first}"
        if what in self.counts:
            self.counts[what][0] += n
        else:
            self.counts[what] = [n, example]

    @staticmethod
    def merge(all_counts: Sequence[Dict[str, List[Any]]]) -> Dict[str, List[Any]]:
        out: Dict[str, List[Any]] = {}
        for counts in all_counts:
            for what, (n, example) in counts.items():
                if what in out:
                    out[what][0] += n
                else:
                    out[what] = [n, example]
        return out


def extract_labels(plan: EvalPlan, batch: pa.RecordBatch, where: str, offset: int,
                   problems: Problems) -> Tuple[np.ndarray, np.ndarray]:
    """(labels, valid): labels in the task's encoding, shape [n]; valid marks usable rows."""
    cfg = plan.config
    require_column(batch, cfg.label, "label")
    raw = assay_io.single_values(batch, cfg.label, "label", row_offset=offset)
    n = len(raw)
    if raw.dtype.kind in "OSU":
        vocab = plan.class_names
        if vocab is None:
            raise ConfigError(
                f"label column '{cfg.label}' holds strings (e.g. {raw[0]!r}); give "
                f"label_vocabulary: [...] listing the classes in the order of the model's outputs")
        index = {v: i for i, v in enumerate(vocab)}
        codes = np.fromiter((index.get(str(v), -1) for v in raw), dtype=np.int64, count=n)
        bad = codes < 0
        problems.add(f"label '{cfg.label}' not in label_vocabulary {list(vocab)}", bad, raw, where, offset)
        labels = codes.astype(np.float64) if plan.task != "multiclass" else codes
        return labels, ~bad
    numeric = raw.astype(np.float64)
    finite = np.isfinite(numeric)
    problems.add(f"label '{cfg.label}' is NaN or infinite", ~finite, raw, where, offset)
    if plan.task == "binary":
        bad = finite & (numeric != 0) & (numeric != 1)
        problems.add(f"label '{cfg.label}' is not 0 or 1 (binary task)", bad, raw, where, offset)
        return numeric, finite & ~bad
    if plan.task == "multiclass":
        k = len(plan.class_names)
        bad = finite & ((numeric != np.round(numeric)) | (numeric < 0) | (numeric >= k))
        problems.add(f"label '{cfg.label}' is not a class id in [0, {k}) (multiclass task)", bad,
                     raw, where, offset)
        ok = finite & ~bad
        return np.where(ok, numeric, 0).astype(np.int64), ok
    return numeric, finite


def extract_weights(plan: EvalPlan, batch: pa.RecordBatch, where: str, offset: int,
                    problems: Problems) -> Tuple[np.ndarray, np.ndarray]:
    cfg = plan.config
    if cfg.weight is None:
        return np.ones(batch.num_rows), np.ones(batch.num_rows, dtype=bool)
    require_column(batch, cfg.weight, "weight")
    raw = assay_io.single_values(batch, cfg.weight, "weight", row_offset=offset)
    if raw.dtype.kind not in "biuf":
        raise DataError(f"weight column '{cfg.weight}' must hold numbers (got {raw[0]!r} in "
                        f"{where})")
    w = raw.astype(np.float64)
    finite = np.isfinite(w)
    problems.add(f"weight '{cfg.weight}' is NaN or infinite", ~finite, raw, where, offset)
    negative = finite & (w < 0)
    problems.add(f"weight '{cfg.weight}' is negative", negative, raw, where, offset)
    return np.where(finite, w, 0.0), finite & ~negative


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _softmax(x: np.ndarray) -> np.ndarray:
    z = x - np.max(x, axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def shape_predictions(plan: EvalPlan, model: str, raw: np.ndarray) -> np.ndarray:
    """Applies the model's transform and brings predictions to the task's shape."""
    spec = plan.config.model_specs[model]
    preds = np.asarray(raw, dtype=np.float64)
    if preds.ndim == 2 and preds.shape[1] == 1:
        preds = preds[:, 0]
    transform = getattr(spec, "transform", "none")
    if transform == "sigmoid":
        preds = _sigmoid(preds)
    elif transform == "softmax":
        if preds.ndim != 2:
            raise ConfigError(f"models.{model}.transform is softmax but the model gives one value "
                              f"per example")
        preds = _softmax(preds)
    if plan.task == "binary" and preds.ndim == 2:
        if preds.shape[1] != 2:
            raise DataError(f"model '{model}' gives {preds.shape[1]} values per example, but the "
                            f"task is binary (expected 1, or 2 class probabilities)")
        preds = preds[:, 1]
    if plan.task == "multiclass":
        k = len(plan.class_names)
        if preds.ndim != 2 or preds.shape[1] != k:
            got = 1 if preds.ndim == 1 else preds.shape[1]
            raise DataError(f"model '{model}' gives {got} values per example, but the task is "
                            f"multiclass with {k} classes {list(plan.class_names)}")
    if plan.task in ("binary", "regression") and preds.ndim != 1:
        raise DataError(f"model '{model}' gives {preds.shape[1]} values per example, but the task "
                        f"is {plan.task} (expected one)")
    return preds


def check_predictions(plan: EvalPlan, model: str, preds: np.ndarray, where: str, offset: int,
                      problems: Problems) -> np.ndarray:
    """Marks rows whose predictions are unusable; returns the valid mask, shape [n]."""
    finite = np.isfinite(preds) if preds.ndim == 1 else np.isfinite(preds).all(axis=1)
    shown = preds if preds.ndim == 1 else preds.tolist()
    shown = np.asarray(shown, dtype=object) if preds.ndim == 2 else shown
    problems.add(f"prediction of model '{model}' is NaN or infinite", ~finite, shown, where, offset)
    ok = finite
    if plan.task == "binary":
        out = finite & ((preds < 0) | (preds > 1))
        hint = ("" if getattr(plan.config.model_specs[model], "transform", "none") != "none" else
                "; if the model outputs logits, set transform: sigmoid")
        problems.add(f"prediction of model '{model}' is outside [0, 1] (binary task){hint}", out,
                     shown, where, offset)
        ok = ok & ~out
    elif plan.task == "multiclass":
        out = finite & ((preds < 0).any(axis=1) | (preds > 1).any(axis=1))
        problems.add(f"prediction of model '{model}' has a class probability outside [0, 1]", out,
                     shown, where, offset)
        ok = ok & ~out
    return ok


# ---------------------------------------------------------------------------------------------
# Deciding the task from the first batch


def _infer_task(cfg: EvalConfig, labels: np.ndarray, preds: np.ndarray) -> str:
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
        if width == 2 or in_unit >= 0.99 or \
                getattr(cfg.model_specs["candidate"], "transform", "none") == "sigmoid":
            return "binary"
    return "regression"


# A Parquet file of several row groups is read in parts of at least this many rows, by as many
# workers: enough rows that a part's fixed costs do not matter.
PARQUET_PART_ROWS = 65536


def make_plan(config: EvalConfig, examples: Any) -> EvalPlan:
    """Resolves files, checks the config against the first batch, and decides the task."""
    files = tuple(assay_io.resolve_files(examples, split=config.split))
    fmt = config.format if config.format != "auto" else assay_io.detect_format(files[0])
    first = None
    for path in files:
        first = next(iter(assay_io.read_batches(path, min(config.batch_size, 4096), fmt=fmt,
                                                raw_record_column=RAW_RECORD_COLUMN
                                                if fmt == "tfrecord" else None)), None)
        if first is not None and first.num_rows:
            break
    if first is None or not first.num_rows:
        raise DataError(f"no examples at all in {', '.join(files[:5])}"
                        f"{' ...' if len(files) > 5 else ''}")
    require_column(first, config.label, "label")
    if config.weight:
        require_column(first, config.weight, "weight")
    fixed_schema = fmt != "tfrecord"
    if fixed_schema:
        for spec in config.slices:
            for feature in spec.features:
                require_column(first, feature, f"slice feature (in slices: {spec.name})")
    raw_needed = False
    sample_preds: Dict[str, np.ndarray] = {}
    for name, spec in config.models:
        try:
            if spec.prediction is not None:
                for col in ([spec.prediction] if isinstance(spec.prediction, str)
                            else spec.prediction):
                    require_column(first, col, f"prediction (models.{name})")
            adapter = load_adapter(spec, RAW_RECORD_COLUMN if fmt == "tfrecord" else None)
            raw_needed |= bool(getattr(adapter, "needs_raw_records", False))
            sample_preds[name] = np.asarray(adapter.predict(first), dtype=np.float64)
        except Exception as e:  # noqa: BLE001 - any failure of the baseline is reported as such
            if name != "baseline":
                raise
            raise BaselineError(f"the baseline model could not be evaluated on this data: "
                                f"{type(e).__name__}: {e}") from e
    labels = assay_io.single_values(first, config.label, "label")
    cand = sample_preds["candidate"]
    task = config.task or _infer_task(config, labels, cand)
    class_names: Optional[Tuple[str, ...]] = None
    if task == "multiclass":
        if config.label_vocabulary is not None:
            class_names = config.label_vocabulary
        else:
            width = cand.shape[1] if cand.ndim == 2 else 0
            if width < 2:
                raise ConfigError("task is multiclass but the candidate gives one value per "
                                  "example; multiclass predictions are class probabilities")
            class_names = tuple(str(i) for i in range(width))
    elif task == "binary" and config.label_vocabulary is not None:
        if len(config.label_vocabulary) != 2:
            raise ConfigError(f"a binary task needs a label_vocabulary of two classes "
                              f"[negative, positive] (got {list(config.label_vocabulary)})")
        class_names = config.label_vocabulary
    quantile_features = tuple(sorted({(c.feature, c.quantiles) for s in config.slices
                                      for c in s.columns if c.quantiles}))
    units = tuple((f, (a, b), first_row) for f in files
                  for a, b, first_row in assay_io.parquet_parts(f, PARQUET_PART_ROWS)) \
        if fmt == "parquet" else ()
    plan = EvalPlan(config=config, files=files, format=fmt, task=task, class_names=class_names,
                    raw_record_column=RAW_RECORD_COLUMN if (raw_needed and fmt == "tfrecord")
                    else None, quantile_features=quantile_features, units=units)
    for name, preds in sample_preds.items():
        try:
            shape_predictions(plan, name, preds)
        except (ConfigError, DataError) as e:
            if name != "baseline":
                raise
            raise BaselineError(f"the baseline model's predictions do not fit the task: {e}") \
                from e
    check_metric_names(plan)
    return plan


def load_adapter(spec: assay_models.ModelSpec, raw_record_column: Optional[str]):
    if spec.prediction is not None:
        return assay_models.PredictionColumn(spec)
    return assay_models.shared_model(spec, raw_record_column)


def check_metric_names(plan: EvalPlan) -> None:
    """Rejects names in `metrics:` that the task's families do not produce."""
    if not plan.config.metrics:
        return
    families = plan.metric_families()
    known = set(families[0].metric_names())
    known |= {getattr(f, "name", "") for f in families[1:]}
    for name in plan.config.metrics:
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ConfigError(f"unknown metric '{name}' for a {plan.task} task{hint} "
                              f"(known: {', '.join(sorted(DEFAULT_METRIC_NAMES[plan.task]))})")


def model_batches(plan: EvalPlan, adapters: Dict[str, Any], batch: pa.RecordBatch, where: str,
                  offset: int, problems: Problems) -> Tuple[Dict[str, ModelBatch], Optional[np.ndarray]]:
    """Labels, weights and each model's predictions for the valid rows of `batch`.

    Returns ({model: ModelBatch}, rows): rows is None when every row is valid, else the indices
    (shape [m]) of the valid rows, which the ModelBatches hold.
    """
    labels, ok = extract_labels(plan, batch, where, offset, problems)
    weights, w_ok = extract_weights(plan, batch, where, offset, problems)
    ok &= w_ok
    preds = {}
    for name, adapter in adapters.items():
        p = shape_predictions(plan, name, adapter.predict(batch))
        ok &= check_predictions(plan, name, p, where, offset, problems)
        preds[name] = p
    rows = None if ok.all() else np.flatnonzero(ok)
    features = batch if plan.needs_features else None
    out = {}
    for name, p in preds.items():
        mb = ModelBatch(labels, p, weights, features)
        out[name] = mb if rows is None else mb.take(rows)
    return out, rows
