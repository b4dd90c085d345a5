"""Metrics with TFMA 0.47's exact semantics, computed only when asked for by name.

assay's own metrics stay as they are (auc is the exact ROC area, auc_pr average precision,
log_loss scikit-learn's); this family adds what a translated tfma.EvalConfig needs to give
TFMA's numbers, and the confusion-matrix family TFMA offers. Names: assay.metrics.tfma_names.

How each is computed, as TFMA does (tensorflow_model_analysis/metrics/*.py):
  * {formula}@{t} and max_recall (t = 1e-12): one weighted confusion matrix, an example predicted
    positive iff prediction > t; each formula is TFMA's, NaN where TFMA's is.
  * auc_tfma, auc_pr_tfma and the constrained curve points: TFMA reads these off a calibration
    histogram of 10000 equal buckets of [0, 1] (plus one below and one above), rebinned at its
    interpolated thresholds [-1e-7, 1/(N-1), ..., (N-2)/(N-1), 1 + 1e-7]. The accumulator here is
    that same histogram (weight of positives, weight of examples per bucket), and the matrices are
    rebinned with TFMA's rule, so the values are TFMA's to float rounding, not the exact areas.
    ROC area: trapezoids ("interpolation"); PR area: Davis & Goadrich interpolation of the
    positives between thresholds (Keras' AUC(curve="PR")).
  * binary_crossentropy: Keras' BinaryCrossentropy, which TFMA runs for the class name
    "BinaryCrossentropy": in float32, predictions clipped to [1e-7, 1 - 1e-7] and 1e-7 added
    inside each log; the weighted mean over examples.
  * mean_squared_logarithmic_error: TFMA's (log(label + 1) - log(prediction + 1))^2, weighted
    mean over the examples where it is a number (TFMA drops NaN errors).
  * coefficient_of_discrimination (Tjur): mean prediction of positives minus that of negatives;
    relative_coefficient_of_discrimination their ratio; squared_pearson_correlation from the
    weighted sums, as TFMA.

Example:
    >>> import numpy as np
    >>> from assay.metrics.batch import ModelBatch
    >>> m = TfmaMetrics(["matthews_correlation_coefficient@0.5", "auc_tfma"])
    >>> b = ModelBatch(np.array([0., 0., 1., 1.]), np.array([.1, .6, .35, .8]), np.ones(4))
    >>> m.result(m.add(m.create(), b))["matthews_correlation_coefficient@0.5"]
    0.0
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from assay.errors import ConfigError
from assay.metrics.base import GroupedMetric, float_columns, sum_fields
from assay.metrics.batch import ModelBatch
from assay.metrics.registry import requested_tfma_names
from assay.metrics.tfma_curves import (HISTOGRAM_SIZE, constrained_value, histogram_bucket,
                                       interpolated_matrices, pr_area, roc_area)
from assay.metrics.tfma_names import (AREA_DIRECTIONS, CONSTRAINED_DIRECTIONS,
                                      DEFAULT_AREA_THRESHOLDS, DEFAULT_CONSTRAINED_THRESHOLDS,
                                      MAX_RECALL_THRESHOLD, THRESHOLD_DIRECTIONS,
                                      parse_tfma_name, tfma_metric_info)

KERAS_EPSILON = np.float32(1e-7)
# sums: weight, w*y, w*(1-y), w*y*p, w*(1-y)*p, w*bce, w*msle, weight where msle is a number,
# w*p, w*y^2, w*p^2.
_N_SUMS = 11


@dataclasses.dataclass
class TfmaAccumulator:
    """Sufficient statistics of TfmaMetrics; every field is summed when merging.

    Attributes:
      sums: shape [11], see _N_SUMS.
      confusion: shape [T, 2, 2]: weight per exact threshold, label, predicted class.
      buckets, histogram: TFMA's calibration histogram, sparse (a slice's predictions often
        fill a few of its 10002 buckets): the occupied bucket ids, shape [m] int64 ascending,
        and per bucket [weight of positives, weight], shape [m, 2]. Empty when no requested
        metric reads it.
    """

    sums: np.ndarray
    confusion: np.ndarray
    buckets: np.ndarray
    histogram: np.ndarray


class TfmaMetrics(GroupedMetric):
    """The requested TFMA-semantics metrics of one task (see the module docstring).

    Args:
      names: metric names (assay.metrics.tfma_names grammar), each computed and returned.
      task: the task; a name the task does not have raises ConfigError.
    """

    name = "tfma"

    def __init__(self, names: Sequence[str], task: Optional[str] = None):
        self.names = tuple(dict.fromkeys(names))
        self.parsed = {}
        for n in self.names:
            known, _ = tfma_metric_info(n, task)
            if not known:
                raise ConfigError(f"'{n}' is not a TFMA-semantics metric of a {task} task "
                                  f"(see assay.metrics.tfma_names)")
            self.parsed[n] = parse_tfma_name(n)
        ts = {p.value for p in self.parsed.values() if p.base in THRESHOLD_DIRECTIONS}
        if "max_recall" in self.parsed:
            ts.add(MAX_RECALL_THRESHOLD)
        self.thresholds = tuple(sorted(ts))
        self.uses_histogram = any(p.base in AREA_DIRECTIONS or p.base in CONSTRAINED_DIRECTIONS
                                  for p in self.parsed.values())

    @property
    def directions(self) -> Dict[str, Optional[str]]:
        return {n: tfma_metric_info(n)[1] for n in self.names}

    def create(self) -> TfmaAccumulator:
        return TfmaAccumulator(np.zeros(_N_SUMS), np.zeros((len(self.thresholds), 2, 2)),
                               np.zeros(0, np.int64), np.zeros((0, 2)))

    def merge(self, accs: Sequence[TfmaAccumulator]) -> TfmaAccumulator:
        first = sum_fields(accs, ("sums", "confusion"))
        if any(len(a.buckets) for a in accs[1:]):
            first.buckets, first.histogram = _summed_buckets(
                np.concatenate([a.buckets for a in accs]),
                np.concatenate([a.histogram for a in accs]))
        return first

    def _accumulate(self, batch: ModelBatch, group: np.ndarray,
                    n_groups: int) -> List[TfmaAccumulator]:
        """One accumulator per group, in one vectorised pass over the batch."""
        y, p, w = float_columns(batch, "TfmaMetrics")

        def per_group(values: np.ndarray) -> np.ndarray:
            return np.bincount(group, values, minlength=n_groups)

        with np.errstate(invalid="ignore", divide="ignore"):
            msle = (np.log(y + 1) - np.log(p + 1)) ** 2
        msle_ok = np.isfinite(msle)
        sums = np.stack([per_group(v) for v in (
            w, w * y, w * (1 - y), w * y * p, w * (1 - y) * p, w * keras_binary_crossentropy(y, p),
            np.where(msle_ok, w * msle, 0.0), np.where(msle_ok, w, 0.0), w * p, w * y * y,
            w * p * p)], axis=1)
        n_t = len(self.thresholds)
        predicted = (p[:, None] > np.asarray(self.thresholds)[None, :]).astype(np.int64)
        cell = ((group[:, None] * n_t + np.arange(n_t)[None, :]) * 2 + predicted).ravel()
        size = n_groups * n_t * 2
        confusion = np.stack([np.bincount(cell, np.repeat(w * (1 - y), n_t), minlength=size),
                              np.bincount(cell, np.repeat(w * y, n_t), minlength=size)],
                             axis=1).reshape(n_groups, n_t, 2, 2).swapaxes(2, 3)
        accs = [TfmaAccumulator(sums[g], confusion[g], np.zeros(0, np.int64), np.zeros((0, 2)))
                for g in range(n_groups)]
        if self.uses_histogram and len(p):
            cells, histogram = _summed_buckets(group * HISTOGRAM_SIZE + histogram_bucket(p),
                                               np.stack([w * y, w], axis=1))
            bounds = np.searchsorted(cells, np.arange(n_groups + 1) * HISTOGRAM_SIZE).tolist()
            for g in range(n_groups):
                part = slice(bounds[g], bounds[g + 1])
                accs[g].buckets = cells[part] - g * HISTOGRAM_SIZE
                accs[g].histogram = histogram[part]
        return accs

    def result(self, acc: TfmaAccumulator) -> Dict[str, float]:
        at = {t: acc.confusion[i] for i, t in enumerate(self.thresholds)}
        matrices = {}
        out: Dict[str, float] = {}
        for name, parsed in self.parsed.items():
            base = parsed.base
            if base in THRESHOLD_DIRECTIONS:
                out[name] = threshold_formula(base, at[parsed.value])
            elif base == "max_recall":
                (_, _), (fn, tp) = at[MAX_RECALL_THRESHOLD]
                out[name] = _div(tp, tp + fn)
            elif base in AREA_DIRECTIONS or base in CONSTRAINED_DIRECTIONS:
                n = parsed.num_thresholds or (DEFAULT_AREA_THRESHOLDS if base in AREA_DIRECTIONS
                                              else DEFAULT_CONSTRAINED_THRESHOLDS)
                if n not in matrices:
                    dense = np.zeros((HISTOGRAM_SIZE, 2))
                    dense[acc.buckets] = acc.histogram
                    matrices[n] = interpolated_matrices(dense, n)
                m = matrices[n]
                if base == "auc_tfma":
                    out[name] = roc_area(*m)
                elif base == "auc_pr_tfma":
                    out[name] = pr_area(*m)
                else:
                    out[name] = constrained_value(base, parsed.value, *m)
            else:
                out[name] = _plain_value(base, acc.sums)
        return out


def tfma_family(task: str, config: Any) -> List[Any]:
    """[TfmaMetrics] for the TFMA-semantics names that `config` asks for (in `metrics:`, in a
    threshold, or in `tfma_names`, a translated config's metrics), or [] when it asks for none;
    then ScoreDistribution when the config asks for `score_distribution_plot`."""
    named = list(config.metrics or ()) + [t.metric for t in config.validation.thresholds]
    named += [assay_name for assay_name, _ in (getattr(config, "tfma_names", None) or ())]
    names = requested_tfma_names(task, named)
    families: List[Any] = [TfmaMetrics(names, task)] if names else []
    from assay.metrics import score_distribution  # TFMA's ScoreDistributionPlot, if asked

    if task in ("binary", "regression") and score_distribution.requested(named):
        families.append(score_distribution.ScoreDistribution())
    return families


def _summed_buckets(ids: np.ndarray, values: np.ndarray):
    """(the distinct ids ascending, values [m, 2] summed per id, in input order)."""
    unique, inverse = np.unique(ids, return_inverse=True)
    summed = np.stack([np.bincount(inverse, values[:, k], minlength=len(unique))
                       for k in range(2)], axis=1)
    return unique, summed


def keras_binary_crossentropy(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Keras' per-example binary cross-entropy, in float32 as Keras computes it; shape [n]."""
    eps = KERAS_EPSILON
    y32 = y.astype(np.float32)
    p32 = np.clip(p.astype(np.float32), eps, np.float32(1.0) - eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        bce = -(y32 * np.log(p32 + eps) + (np.float32(1.0) - y32) *
                np.log(np.float32(1.0) - p32 + eps))
    return bce.astype(np.float64)


def _div(numerator: float, denominator: float) -> float:
    """TFMA's _divide_only_positive_denominator: NaN unless the denominator is > 0."""
    return float(numerator / denominator) if denominator > 0 else float("nan")


def threshold_formula(base: str, confusion: np.ndarray) -> float:
    """TFMA's ConfusionMatrixMetric `base` on one [label, predicted] table of weights."""
    (tn, fp), (fn, tp) = (float(v) for v in confusion[0]), (float(v) for v in confusion[1])
    pos, neg = tp + fn, tn + fp
    simple = {
        "specificity": (tn, neg), "false_positive_rate": (fp, neg),
        "false_negative_rate": (fn, pos), "negative_predictive_value": (tn, tn + fn),
        "false_discovery_rate": (fp, fp + tp), "false_omission_rate": (fn, fn + tn),
        "prevalence": (pos, pos + neg), "threat_score": (tp, tp + fn + fp),
        "predicted_positive_rate": (tp + fp, pos + neg),
        # Fairness Indicators' rates (assay.metrics.fairness_names), by their own names.
        "positive_rate": (tp + fp, pos + neg), "negative_rate": (tn + fn, pos + neg),
        "true_positive_rate": (tp, pos), "true_negative_rate": (tn, neg),
    }
    if base in simple:
        return _div(*simple[base])
    nan = float("nan")
    if base == "matthews_correlation_coefficient":
        return _div(tp * tn - fp * fn, math.sqrt((tp + fp) * pos * neg * (tn + fn)))
    if base == "diagnostic_odds_ratio":
        return (tp / fn) / (fp / tn) if fn > 0 and fp > 0 and tn > 0 else nan
    if base == "positive_likelihood_ratio":
        return (tp / pos) / (fp / neg) if pos > 0 and neg > 0 and fp > 0 else nan
    if base == "negative_likelihood_ratio":
        return (fn / pos) / (tn / neg) if pos > 0 and neg > 0 and tn > 0 else nan
    if base in ("fowlkes_mallows_index", "markedness"):
        if tp + fp <= 0 or (pos if base == "fowlkes_mallows_index" else tn + fn) <= 0:
            return nan
        if base == "fowlkes_mallows_index":
            return math.sqrt(tp / (tp + fp) * (tp / pos))
        return tp / (tp + fp) + tn / (tn + fn) - 1
    if pos <= 0 or neg <= 0:
        return nan
    tpr, tnr = tp / pos, tn / neg
    if base == "balanced_accuracy":
        return (tpr + tnr) / 2
    if base == "informedness":
        return tpr + tnr - 1
    # prevalence_threshold
    return _div_any(math.sqrt(tpr * (1 - tnr)) + tnr - 1, tpr + tnr - 1)


def _div_any(numerator: float, denominator: float) -> float:
    """Python's division as TFMA does it, NaN (not an exception) for a zero denominator."""
    return numerator / denominator if denominator != 0 else float("nan")


def _plain_value(base: str, sums: np.ndarray) -> float:
    w, wy, wn, wyp, wnp, bce, msle, msle_w, wp, wyy, wpp = (float(s) for s in sums)
    nan = float("nan")
    if base == "binary_crossentropy":
        return _div(bce, w)
    if base == "mean_squared_logarithmic_error":
        return msle / msle_w if msle_w != 0 else nan
    if base == "coefficient_of_discrimination":
        return wyp / wy - wnp / wn if wy != 0 and wn != 0 else nan
    if base == "relative_coefficient_of_discrimination":
        return (wyp / wy) / (wnp / wn) if wy != 0 and wn != 0 and wnp != 0 else nan
    # squared_pearson_correlation
    if w <= 0:
        return nan
    denominator = (wyy - wy ** 2 / w) * (wpp - wp ** 2 / w)
    return (wyp - wy * wp / w) ** 2 / denominator if denominator > 0 else nan


__all__ = ["TfmaAccumulator", "TfmaMetrics", "keras_binary_crossentropy", "tfma_family",
           "threshold_formula"]
