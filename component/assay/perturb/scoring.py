"""Perturbations in the pass: each one is one more model, "perturbed:NAME", scored by the
candidate's adapter on an edited copy of every batch (assay.perturb.apply).

    # Input: the batch as read (n rows), {model: ModelBatch} of the kept rows, their row keys.
    # Output: the same dict plus {"perturbed:NAME": ModelBatch} per perturbation: the same
    #   rows, labels and weights (and bootstrap weights), the candidate's predictions on the
    #   perturbed examples.

Slicing reads the unperturbed features, so each slice holds the same examples for the
candidate and its perturbed versions. Every metric family then runs on the perturbed models
as on any model; PairedMetrics adds, for them only, the flip rates at each decision threshold
against the candidate and the mean absolute prediction change (assay.metrics.cross_model's
sums with the candidate as the reference model).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np
import pyarrow as pa

from assay.errors import ConfigError, DataError, ModelError
from assay.metrics.batch import ModelBatch
from assay.metrics.cross_model import CrossModelMetrics
from assay.perturb.apply import perturb_batch
from assay.perturb.config import Perturbation, all_perturbations

PERTURBED_PREFIX = "perturbed:"      # the model of a perturbation: "perturbed:NAME"
PAIRED_PREFIX = "perturbed_diff:"   # its paired record against the candidate
MEAN_ABSOLUTE_CHANGE = "mean_absolute_prediction_change"


def perturbed_models(config: Any) -> Tuple[Tuple[str, Perturbation], ...]:
    """(("perturbed:NAME", perturbation), ...) of every perturbation of the config."""
    return tuple((PERTURBED_PREFIX + p.name, p) for p in all_perturbations(config))


def is_perturbed(model: str) -> bool:
    return model.startswith(PERTURBED_PREFIX)


class ReferencePredictions(np.ndarray):
    """The candidate's predictions, as a perturbed model's ModelBatch.baseline_predictions.

    The type marks them: PairedMetrics compares only batches that carry it (the candidate's
    own batch may carry the baseline's predictions, which it must not compare). Indexing keeps
    the type, so ModelBatch.take and the bootstrap's resampling carry the mark along.
    """


class PairedMetrics(CrossModelMetrics):
    """A perturbed model against the candidate: flip_rate@t, neg_to_pos_flip_rate@t and
    pos_to_neg_flip_rate@t at each decision threshold t (binary tasks; TFMA's flip rates with
    the candidate as the baseline), and the weighted mean absolute prediction change (for
    class probabilities: half the L1 distance, the total variation)."""

    name = "perturbation"

    def __init__(self, task: str, thresholds: Tuple[float, ...]):
        names = [f"{base}@{t:g}" for t in thresholds for base in
                 ("flip_rate", "neg_to_pos_flip_rate", "pos_to_neg_flip_rate")] \
            if task == "binary" else []
        super().__init__(names or ["model_cosine_similarity"])
        self.task = task
        self._flips = bool(names)
        self.directions = {n: None for n in self.names}
        self.directions[MEAN_ABSOLUTE_CHANGE] = None
        if not self._flips:
            self.directions.pop("model_cosine_similarity")

    def create(self) -> Tuple[bool, np.ndarray]:
        return False, np.zeros(self._cos + 4)

    def add_grouped(self, batch: ModelBatch, group_ids: np.ndarray, n_groups: int) -> List[Any]:
        if not isinstance(batch.baseline_predictions, ReferencePredictions):
            return [self.create() for _ in range(n_groups)]
        rows = np.zeros((len(batch), self._cos + 4))
        if self._flips:
            rows[:, :self._cos + 2] = self._rows(batch)
        cand = np.asarray(batch.predictions, np.float64)
        ref = np.asarray(batch.baseline_predictions, np.float64)
        change = np.abs(cand - ref) if cand.ndim == 1 else 0.5 * np.abs(cand - ref).sum(axis=1)
        w = np.asarray(batch.weights, np.float64)
        rows[:, self._cos + 2] = w
        rows[:, self._cos + 3] = w * change
        group_ids = np.asarray(group_ids, np.int64)
        sums = np.stack([np.bincount(group_ids, rows[:, j], minlength=n_groups)
                         for j in range(rows.shape[1])], axis=1)
        return [(True, sums[g]) for g in range(n_groups)]

    def result(self, acc: Tuple[bool, np.ndarray]) -> Dict[str, float]:
        paired, sums = acc
        if not paired:
            return {}
        out = super().result(acc) if self._flips else {}
        den = float(sums[self._cos + 2])
        out[MEAN_ABSOLUTE_CHANGE] = float(sums[self._cos + 3]) / den if den else float("nan")
        return out

    def metric_names(self) -> List[str]:
        return (list(self.names) if self._flips else []) + [MEAN_ABSOLUTE_CHANGE]


def perturbation_families(plan: Any) -> List[Any]:
    """[PairedMetrics] when the plan's config has perturbations, else []."""
    if not perturbed_models(plan.config):
        return []
    return [PairedMetrics(plan.task, tuple(plan.config.decision_thresholds))]


def with_perturbed(plan: Any, adapters: Mapping[str, Any], raw: pa.RecordBatch,
                   per_model: Dict[str, ModelBatch], path: str, start: int,
                   kept: Optional[np.ndarray], keys: np.ndarray) -> Dict[str, ModelBatch]:
    """per_model plus the ModelBatch of each perturbed model (see the module docstring).

    Args:
      keys: uint64 [raw.num_rows], the stable keys of every row of `raw`.

    Raises:
      DataError: the candidate's prediction on a perturbed example is not valid (NaN, ...).
    """
    from assay.engine.extract import Problems, check_predictions

    models = perturbed_models(plan.config)
    if not models:
        return per_model
    cand = per_model["candidate"]
    reference = np.asarray(cand.predictions).view(ReferencePredictions)
    out = dict(per_model)
    for model, p in models:
        preds = score_perturbed(plan, adapters["candidate"], p, raw, keys, path)
        if kept is not None:
            preds = preds[kept]
        problems = Problems()
        ok = check_predictions(plan, "candidate", preds, path, start, problems)
        if not ok.all():
            what = next(iter(problems.counts))
            bad = np.flatnonzero(~ok)
            row = start + int(bad[0] if kept is None else kept[bad[0]])
            raise DataError(f"perturbation '{p.name}' ({_described(p)}): {what} on {len(bad)} "
                            f"perturbed examples (first: example {row} of {path}, prediction "
                            f"{preds[bad[0]]!r}); the model cannot score the examples this "
                            f"perturbation makes")
        out[model] = dataclasses.replace(cand, predictions=preds, baseline_predictions=reference)
    return out


def score_perturbed(plan: Any, adapter: Any, p: Perturbation, raw: pa.RecordBatch,
                    keys: np.ndarray, path: str) -> np.ndarray:
    """The candidate's predictions (shaped for the task) on `raw` perturbed by `p`.

    Raises:
      DataError, ModelError: the model refuses the perturbed examples; the message names the
        perturbation.
    """
    from assay.engine.extract import shape_predictions

    edited = perturb_batch(p, raw, keys, plan.raw_record_column, path)
    try:
        return shape_predictions(plan, "candidate", adapter.predict(edited))
    except (DataError, ModelError) as e:  # say which perturbation made what it refuses
        raise type(e)(f"perturbation '{p.name}' ({_described(p)}) in {path}: the candidate "
                      f"cannot score the perturbed examples: {e}") from e


def _described(p: Perturbation) -> str:
    """The perturbation as the config wrote it, e.g. "feature payment, set: None"."""
    edit = {k: v for k, v in p.to_config().items() if k not in ("name", "feature", "seed")}
    return f"feature {p.feature}, " + ", ".join(f"{k}: {v}" for k, v in edit.items())


def check_plan(plan: Any, first: pa.RecordBatch) -> None:
    """Refuses perturbations the evaluation cannot score, before the pass: a candidate that
    is a prediction column, a feature not in the data, an edit that does not fit the feature
    or that the model refuses (tried on the first batch), a sensitivity metric the task does
    not compute.

    Raises:
      ConfigError: naming the perturbation, the feature and what was expected.
    """
    check_thresholds(plan)
    models = perturbed_models(plan.config)
    if not models:
        return
    spec = plan.config.model_specs["candidate"]
    if spec.prediction is not None:
        raise ConfigError(f"perturbations need a model to score the perturbed examples, but the "
                          f"candidate is the prediction column {spec.prediction!r}, which "
                          f"cannot be perturbed; give models.candidate a path")
    from assay.engine.extract import RAW_RECORD_COLUMN
    from assay.engine.prepare import load_adapter

    # The adapter make_plan loaded to sample the predictions (once per process: no reload).
    adapter = load_adapter(spec, RAW_RECORD_COLUMN if plan.format == "tfrecord" else None,
                           "candidate")
    names = [n for n in first.schema.names if not n.startswith("__assay")]
    keys = np.arange(first.num_rows, dtype=np.uint64)
    for _, p in models:
        if p.feature not in names and p.kind != "set":
            raise ConfigError(f"perturbation '{p.name}' edits feature '{p.feature}', which is "
                              f"not in the data (features: {', '.join(names)})")
        score_perturbed(plan, adapter, p, first, keys, plan.files[0])
    check_sensitivity_metrics(plan)


def check_thresholds(plan: Any) -> None:
    """Refuses `{perturbation: NAME, ...}` thresholds that name no perturbation of the
    config, or a metric that neither the perturbed model nor its comparison has."""
    from assay.perturb.thresholds import PerturbationThreshold, is_paired_metric

    names = [p.name for _, p in perturbed_models(plan.config)]
    families = plan.metric_families()
    known = {n for f in families for n in (f.metric_names() if hasattr(f, "metric_names")
                                           else ())}
    for i, t in enumerate(plan.config.validation.thresholds):
        if not isinstance(t, PerturbationThreshold):
            continue
        if t.perturbation not in names:
            raise ConfigError(f"thresholds[{i}] names perturbation '{t.perturbation}', which the "
                              f"config does not define (perturbations: "
                              f"{', '.join(names) or 'none'})")
        paired = PairedMetrics(plan.task, tuple(plan.config.decision_thresholds)).metric_names()
        if t.metric not in known and not (is_paired_metric(t.metric) and t.metric in paired):
            raise ConfigError(f"thresholds[{i}] bounds {t.metric} under perturbation "
                              f"'{t.perturbation}', which is not computed for this {plan.task} "
                              f"task (compared with the candidate: {', '.join(paired)})")


def check_sensitivity_metrics(plan: Any) -> None:
    """Refuses `sensitivity.metrics` that the task's built-in family does not compute."""
    sensitivity = plan.config.feature("sensitivity")
    if sensitivity is None or not sensitivity.metrics:
        return
    known = set(plan.metric_families()[0].metric_names())
    unknown = [m for m in sensitivity.metrics if m not in known]
    if unknown:
        raise ConfigError(f"'sensitivity.metrics' names {', '.join(unknown)}, not computed for "
                          f"this {plan.task} task (known: {', '.join(sorted(known))})")


__all__ = ["MEAN_ABSOLUTE_CHANGE", "PAIRED_PREFIX", "PERTURBED_PREFIX", "PairedMetrics",
           "check_plan", "is_perturbed", "perturbation_families", "perturbed_models",
           "with_perturbed"]
