"""The evaluation plan: what the driver learns before the pass, shipped to every worker.

`make_plan` resolves the input files, looks at the first batch of data (columns, label kind,
prediction shape) and decides the task, the class names and the metric families, so that a
misspelt column, an unloadable model or a signature that does not fit the data fails at once with
a clear message, before the pipeline starts. The checks it runs live in `assay.engine.prepare`
(models, metrics, the task) and `assay.engine.extract` (columns, predictions).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import pyarrow as pa

from assay import data as assay_io
from assay.config.schema import ConfigError, EvalConfig
from assay.config.section_thresholds import metric_thresholds
from assay.engine.multihot import first_labels, multilabel_class_names
from assay.engine.extract import RAW_RECORD_COLUMN, require_column, shape_predictions
from assay.engine.transformed import first_batch_transformed
from assay.engine.prepare import (check_cross_metric, check_metric_names, infer_task,
                                  load_adapter, load_custom_metric)
from assay.errors import BaselineError, DataError
from assay.metrics import BinaryMetrics, Metric, MulticlassMetrics, RegressionMetrics
from assay.metrics.cross_model import CrossModelMetrics
from assay.metrics.cross_names import requested

# A Parquet file of several row groups is read in parts of at least this many rows, by as many
# workers: enough rows that a part's fixed costs do not matter.
PARQUET_PART_ROWS = 65536


@dataclasses.dataclass(frozen=True)
class EvalPlan:
    """Everything a worker needs, decided once by the driver (data only: it is pickled to
    every worker)."""

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
    # The columns the pass reads, when the config says which (`read_columns`): the others are
    # not decoded. None: every column.
    columns: Optional[Tuple[str, ...]] = None

    def work_units(self) -> Tuple[Tuple[str, Optional[Tuple[int, int]], int], ...]:
        """The pieces of work, in order (see `units`)."""
        return self.units or tuple((f, None, 0) for f in self.files)

    def metric_families(self) -> List[Metric]:
        """The metric families for one model: the task's built-in family, then custom metrics."""
        cfg = self.config
        if cfg.label is None:  # label-free: the predictions' distribution alone
            return self._label_free_families()
        if self.task == "binary":
            builtin: Metric = BinaryMetrics(thresholds=cfg.decision_thresholds,
                                            num_buckets=cfg.num_buckets, exact=cfg.exact,
                                            calibration_bins=cfg.calibration_bins)
        elif self.task == "multiclass":
            builtin = MulticlassMetrics(class_names=self.class_names, top_k=cfg.top_k,
                                        num_buckets=cfg.num_buckets, exact=cfg.exact)
        elif self.task == "multilabel":
            from assay.metrics.multilabel import MultilabelMetrics

            builtin = MultilabelMetrics(class_names=self.class_names,
                                        threshold=cfg.decision_thresholds[0],
                                        num_buckets=cfg.num_buckets, exact=cfg.exact)
        else:
            from assay.extras import available  # without tfx-bsl (the core), exact quantiles

            builtin = RegressionMetrics(quantiles=cfg.residual_quantiles,
                                        exact=cfg.exact or not available("tfx_bsl"))
        families = [builtin] + [load_custom_metric(c.cls, c.kwargs) for c in cfg.custom_metrics]
        if cfg.query_key is not None:  # ranking metrics, on top of the task's
            from assay.metrics.ranking import RankingMetrics

            families.append(RankingMetrics(cfg.query_key, cfg.gain_key, cfg.ranking_top_k))
        if self.cross_metric_names:
            families.append(CrossModelMetrics(self.cross_metric_names))
        from assay.metrics.tfma_family import tfma_family  # TFMA-semantics metrics, if asked

        families += tfma_family(self.task, cfg)
        from assay.perturb.scoring import perturbation_families  # flip rates vs the candidate

        families += perturbation_families(self)
        if cfg.fairness is not None and self.task == "binary":  # assay.config.fairness
            from assay.metrics.group_fairness import FairnessIndicators

            families.append(FairnessIndicators(cfg.fairness.thresholds))
        return families

    def _label_free_families(self) -> List[Metric]:
        """metric_families() of a config without a label (assay.metrics.label_free): the
        prediction's distribution, custom metrics, cross-model metrics, and the label-free
        Fairness Indicators (positive and negative rates)."""
        from assay.extras import available
        from assay.metrics.label_free import LabelFreeFairness, LabelFreeMetrics

        cfg = self.config
        families: List[Metric] = [LabelFreeMetrics(
            self.task, cfg.decision_thresholds, cfg.residual_quantiles, self.class_names or (),
            exact=cfg.exact or not available("tfx_bsl"))]
        families += [load_custom_metric(c.cls, c.kwargs) for c in cfg.custom_metrics]
        if self.cross_metric_names:
            families.append(CrossModelMetrics(self.cross_metric_names))
        from assay.perturb.scoring import perturbation_families  # flip rates need no label

        families += perturbation_families(self)
        if cfg.fairness is not None and self.task == "binary":
            families.append(LabelFreeFairness(cfg.fairness.thresholds))
        return families

    def pass_families(self) -> List[Metric]:
        """The families the pass runs: metric_families(), each with its bootstrap replicates
        when `confidence:` is on (assay.metrics.bootstrap.Replicated)."""
        from assay.metrics.bootstrap import replicated_families

        return replicated_families(self.metric_families(), self.config.confidence)

    @property
    def cross_metric_names(self) -> Tuple[str, ...]:
        """The cross-model metrics to compute (assay.metrics.cross_names): those that `metrics:`
        or a threshold names, when there is a baseline to compare with; else ()."""
        if not self.config.has_baseline:
            return ()
        return cross_metric_names(self.config)

    @property
    def needs_features(self) -> bool:
        """Whether the ModelBatches carry the examples' features (custom metrics read them)."""
        return bool(self.config.custom_metrics) or self.config.query_key is not None


def cross_metric_names(config: EvalConfig) -> Tuple[str, ...]:
    """The cross-model metric names that `metrics:` or a threshold of `config` names."""
    named = list(config.cross_model_metrics) + list(config.metrics or ()) + \
        [t.metric for t in metric_thresholds(config.validation.thresholds)]
    return requested(named)


# Config keys of features (assay.config.features) that read no column beyond those below.
_COLUMN_FREE_FEATURES = ("drift", "reference", "history")


def read_columns(config: EvalConfig) -> Optional[Tuple[str, ...]]:
    """The columns an evaluation reads, sorted, when its config names every one: each model
    reads a prediction column (no model is loaded: a model may read any feature), no custom
    metric (which may read any column), and no feature but drift and history (discovery and
    perturbations read features of their own). They are the label, the weight, the
    predictions, the slicing features (fairness groups included), the ranking columns, the
    confidence unit and the features drift sketches. None otherwise: every column is read."""
    if config.custom_metrics or any(spec.prediction is None for _, spec in config.models) \
            or any(key not in _COLUMN_FREE_FEATURES for key, _ in config.feature_configs):
        return None
    names = [config.label, config.weight, config.query_key, config.gain_key,
             config.confidence.unit if config.confidence is not None else None]
    for _, spec in config.models:
        names += [spec.prediction] if isinstance(spec.prediction, str) else spec.prediction
    for spec in config.slices:
        names += spec.features
    drift = config.feature("drift")
    names += getattr(drift, "features", None) or ()
    return tuple(sorted({n for n in names if n}))


def _first_batch(config: EvalConfig, files: Tuple[str, ...], fmt: str) -> pa.RecordBatch:
    """The first non-empty batch of the files; DataError when there is none."""
    for path in files:
        first = next(iter(assay_io.read_batches(path, min(config.batch_size, 4096), fmt=fmt,
                                                raw_record_column=RAW_RECORD_COLUMN
                                                if fmt == "tfrecord" else None)), None)
        if first is not None and first.num_rows:
            return first
    raise DataError(f"no examples at all in {', '.join(files[:5])}"
                    f"{' ...' if len(files) > 5 else ''}")


def _check_columns(config: EvalConfig, first: pa.RecordBatch, fmt: str) -> None:
    """The label, weight and (where every batch has the same columns) slice features exist."""
    if config.label is not None:  # None: a label-free evaluation
        require_column(first, config.label, "label")
    if config.weight:
        require_column(first, config.weight, "weight")
    # tf.Examples need not share their features: one missing from the first batch may come later
    # (the pass checks that every slice feature was seen somewhere).
    if config.confidence is not None and config.confidence.unit and fmt != "tfrecord":
        require_column(first, config.confidence.unit, "confidence unit (confidence.unit)")
    if fmt != "tfrecord":
        for spec in config.slices:
            for feature in spec.features:
                require_column(first, feature, f"slice feature (in slices: {spec.name})")


def _sample_predictions(config: EvalConfig, first: pa.RecordBatch, fmt: str
                        ) -> Tuple[Dict[str, np.ndarray], bool]:
    """({model: predictions on the first batch}, whether a model reads the raw records)."""
    raw_needed = False
    sample_preds: Dict[str, np.ndarray] = {}
    for name, spec in config.models:
        try:
            if spec.prediction is not None:
                for col in ([spec.prediction] if isinstance(spec.prediction, str)
                            else spec.prediction):
                    require_column(first, col, f"prediction (models.{name})")
            adapter = load_adapter(spec, RAW_RECORD_COLUMN if fmt == "tfrecord" else None, name)
            raw_needed |= bool(getattr(adapter, "needs_raw_records", False))
            sample_preds[name] = np.asarray(adapter.predict(first), dtype=np.float64)
        except Exception as e:  # noqa: BLE001 - any failure of the baseline is reported as such
            if name != "baseline":
                raise
            raise BaselineError(f"the baseline model could not be evaluated on this data: "
                                f"{type(e).__name__}: {e}") from e
    return sample_preds, raw_needed


def _class_names(config: EvalConfig, task: str, cand: np.ndarray) -> Optional[Tuple[str, ...]]:
    """The class names of a multiclass or binary task (None for a binary task without a
    label_vocabulary, and for regression)."""
    if task == "multilabel":
        return multilabel_class_names(config, cand)
    if task == "multiclass":
        if config.label_vocabulary is not None:
            return config.label_vocabulary
        width = cand.shape[1] if cand.ndim == 2 else 0
        if width < 2:
            raise ConfigError("task is multiclass but the candidate gives one value per "
                              "example; multiclass predictions are class probabilities")
        return tuple(str(i) for i in range(width))
    if task == "binary" and config.label_vocabulary is not None:
        if len(config.label_vocabulary) != 2:
            raise ConfigError(f"a binary task needs a label_vocabulary of two classes "
                              f"[negative, positive] (got {list(config.label_vocabulary)})")
        return config.label_vocabulary
    return None


def make_plan(config: EvalConfig, examples: Any) -> EvalPlan:
    """Resolves files, checks the config against the first batch, and decides the task.

    Raises:
      ConfigError: the config does not fit the data (a missing column, an unknown metric, ...).
      DataError: there are no examples, or they cannot be read.
      BaselineError: the baseline cannot be evaluated on this data (the caller may go on
        without it).
    """
    files = tuple(assay_io.resolve_files(examples, split=config.split))
    from assay.engine.prepare import check_example_files  # a config given as examples, ...
    check_example_files(files, config.format)
    fmt = config.format if config.format != "auto" else assay_io.detect_format(files[0])
    first = _first_batch(config, files, fmt)
    first = first_batch_transformed(config, first, RAW_RECORD_COLUMN if fmt == "tfrecord" else None)
    _check_columns(config, first, fmt)
    sample_preds, raw_needed = _sample_predictions(config, first, fmt)
    labels = None if config.task == "multilabel" or config.label is None \
        else first_labels(config, first)
    cand = sample_preds["candidate"]
    if config.label is None:  # a label-free evaluation: the predictions alone tell the task
        from assay.metrics.label_free import infer_label_free_task
        task = config.task or infer_label_free_task(config, cand)
    else:
        task = config.task or infer_task(config, labels, cand)
    quantile_features = tuple(sorted({(c.feature, c.quantiles) for s in config.slices
                                      for c in s.columns if c.quantiles}))
    units = tuple((f, (a, b), first_row) for f in files
                  for a, b, first_row in assay_io.parquet_parts(f, PARQUET_PART_ROWS)) \
        if fmt == "parquet" else ()
    plan = EvalPlan(config=config, files=files, format=fmt, task=task,
                    class_names=_class_names(config, task, cand),
                    raw_record_column=RAW_RECORD_COLUMN if (raw_needed and fmt == "tfrecord")
                    else None, quantile_features=quantile_features, units=units,
                    columns=read_columns(config))
    for name, preds in sample_preds.items():
        try:
            shape_predictions(plan, name, preds)
        except (ConfigError, DataError) as e:
            if name != "baseline":
                raise
            raise BaselineError(f"the baseline model's predictions do not fit the task: {e}") \
                from e
    check_metric_names(plan)
    from assay.perturb.scoring import check_plan as check_perturbations

    check_perturbations(plan, first)
    for name in cross_metric_names(config):  # thresholds may name them too
        check_cross_metric(task, name)
    return plan


__all__ = ["EvalPlan", "PARQUET_PART_ROWS", "RAW_RECORD_COLUMN", "make_plan"]
