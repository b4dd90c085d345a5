"""Regression metrics: squared, absolute and percentage errors, R^2, and residual quantiles.

All statistics are weighted by `batch.weights`; the residual is label - prediction.

R^2 needs the weighted variance of the labels. It is accumulated as (weight, mean, M2) and merged
with Chan et al.'s parallel formula, so labels with a large common offset (timestamps, prices)
keep their precision, which a sum of squares would not. The mean is further held as a shift (a
rough mean of the first part seen) plus the mean of label - shift, so the difference of two
parts' means, which the formula squares, does not lose digits to the offset either.

Residual quantiles come from tfx_bsl's QuantilesSketch in the default mode: a mergeable,
weighted sketch whose rank error is at most `sketch_eps` (measured: about 1e-4 of rank at the
default 0.01, for 10k to 1M residuals split into 13 shards). `exact=True` keeps every residual
and computes the weighted inverted-CDF quantile: the smallest residual r with
(weight of residuals <= r) >= q * (total weight), which is numpy's method="inverted_cdf" when
unweighted.

Example:

    metric = RegressionMetrics(quantiles=(0.5, 0.9))
    acc = metric.add(metric.create(), batch)
    metric.result(acc)["rmse"], metric.result(acc)["residual_p90"]
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import pickle
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pyarrow as pa

from assay.metrics.batch import ModelBatch
from assay.metrics.registry import HIGHER, LOWER
from assay.metrics.base import (GroupedMetric, float_columns, ratio,
                                unit_values)
from assay.metrics.curves import as_json_list
from assay.errors import ConfigError, ConfigTypeError

if TYPE_CHECKING:  # tfx_bsl is imported when a sketch is first made: the registry needs none
    from tfx_bsl.sketches import QuantilesSketch

MAPE_EPS = float(np.finfo(np.float64).eps)  # sklearn's floor for |label| in the MAPE divisor
SKETCH_MAX_ELEMENTS = 2**32
# The sketch is read on a grid of 1000 equal rank steps: quantiles with at most one decimal
# in percent (p05, p99.9) fall on the grid, others are interpolated between grid points.
SKETCH_GRID = 1000
PLOT_QUANTILES = tuple(i / 100 for i in range(101))


def quantile_name(q: float) -> str:
    """residual_p05 for 0.05, residual_p50 for 0.5, residual_p99.9 for 0.999."""
    percent = round(q * 100, 10)
    if percent == int(percent):
        return f"residual_p{int(percent):02d}"
    return f"residual_p{percent:g}" if percent >= 10 else f"residual_p0{percent:g}"


# Which value is better, in result order; the residual quantiles (residual_p{percent}, one per
# configured quantile) have no better direction: a residual is neither good nor bad by its sign.
DIRECTIONS = {"example_count": None, "weighted_example_count": None, "mse": LOWER,
              "rmse": LOWER, "mae": LOWER, "mape": LOWER, "r2": HIGHER, "mean_label": None,
              "mean_prediction": None}
QUANTILE_DIRECTION = None


def regression_directions(quantiles: Sequence[float] = (0.05, 0.25, 0.5, 0.75, 0.95)
                          ) -> Dict[str, Optional[str]]:
    """{name: direction} of every name RegressionMetrics(quantiles) produces, in order."""
    out = dict(DIRECTIONS)
    out.update((quantile_name(q), QUANTILE_DIRECTION) for q in quantiles)
    return out


def regression_metric_names(quantiles: Sequence[float] = (0.05, 0.25, 0.5, 0.75, 0.95)
                            ) -> List[str]:
    """The scalar names RegressionMetrics(quantiles=...).result() produces, in order."""
    return list(regression_directions(quantiles))


def regression_metric_info(name: str) -> Tuple[bool, Optional[str]]:
    """(whether RegressionMetrics produces `name` with some quantiles, its direction).

    Example:
        >>> regression_metric_info("residual_p99.9"), regression_metric_info("residual_p5")
        ((True, None), (False, None))
    """
    if name in DIRECTIONS:
        return True, DIRECTIONS[name]
    if name.startswith("residual_p"):
        try:
            percent = float(name[len("residual_p"):])
        except ValueError:
            return False, None
        if 0.0 <= percent <= 100.0 and quantile_name(percent / 100) == name:
            return True, QUANTILE_DIRECTION
    return False, None


@dataclasses.dataclass
class RegressionAccumulator:
    """Sufficient statistics of RegressionMetrics.

    Attributes:
      sums: shape [6], summed when merging: example count, weight, weight * squared error,
        weight * absolute error, weight * absolute percentage error, weight * prediction.
      label_shift: a value near the labels' mean, the origin of label_mean.
      label_mean: weighted mean of (label - label_shift); 0 when there is no weight.
      label_m2: sum of weight * (label - label_shift - label_mean)^2.
      sketch: the residuals' QuantilesSketch in bucketed mode; None until a residual arrives.
      residuals, residual_weights: shape [m] each, the residuals with positive weight (exact
        mode only; empty otherwise).
    """

    sums: np.ndarray
    label_shift: float = 0.0
    label_mean: float = 0.0
    label_m2: float = 0.0
    sketch: Optional["QuantilesSketch"] = None
    residuals: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    residual_weights: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))


class RegressionMetrics(GroupedMetric):
    """MSE, RMSE, MAE, MAPE, R^2, means, and weighted residual quantiles.

    Args:
      quantiles: probabilities in [0, 1] of the residual quantiles to report, each as
        `residual_p{percent}` (0.05 -> residual_p05).
      exact: keep every residual and compute the quantiles exactly (memory grows with n)
        instead of sketching them.
      sketch_eps: rank-error bound of the QuantilesSketch (bucketed mode). Smaller is more
        accurate and larger: a sketch of 1M residuals takes about 0.5 MB at 0.01 and 4.6 MB at
        0.001.

    Metrics: example_count (unweighted), weighted_example_count, mse, rmse, mae, mape (sklearn:
    |label - prediction| / max(|label|, eps)), r2 (sklearn.metrics.r2_score: 1.0 if labels are
    constant and predicted perfectly, 0.0 if constant and not; NaN below two examples),
    mean_label, mean_prediction, and the residual quantiles. Everything is NaN on empty input.

    Example:

        metric = RegressionMetrics(quantiles=(0.5,), exact=True)
        batch = ModelBatch(np.array([1., 2., 3.]), np.array([1., 1., 1.]), np.ones(3))
        metric.result(metric.add(metric.create(), batch))["residual_p50"]  # 1.0
    """

    name = "regression"

    def __init__(self, quantiles: Sequence[float] = (0.05, 0.25, 0.5, 0.75, 0.95),
                 exact: bool = False, sketch_eps: float = 0.01):
        self.quantiles = _check_quantiles(quantiles)
        self.exact = bool(exact)
        if isinstance(sketch_eps, bool) or not isinstance(sketch_eps, numbers.Real):
            raise ConfigTypeError(f"'sketch_eps' must be a number (got {sketch_eps!r}, "
                            f"a {type(sketch_eps).__name__}).")
        if not 0 < sketch_eps < 1:
            raise ConfigError(f"'sketch_eps' must lie in (0, 1) (got {sketch_eps!r}); "
                             "0.01 keeps quantiles within about 1% of rank.")
        self.sketch_eps = float(sketch_eps)

    @property
    def directions(self) -> Dict[str, Optional[str]]:
        return regression_directions(self.quantiles)

    # Accumulator algebra -----------------------------------------------------------------

    def create(self) -> RegressionAccumulator:
        return RegressionAccumulator(np.zeros(6))

    def merge(self, accs: Sequence[RegressionAccumulator]) -> RegressionAccumulator:
        first = accs[0]
        weight = first.sums[1]
        for other in accs[1:]:
            other_weight = other.sums[1]
            total = weight + other_weight
            if weight <= 0:
                first.label_shift, first.label_mean = other.label_shift, other.label_mean
                first.label_m2 += other.label_m2
            elif other_weight > 0:  # Chan et al.: combine (weight, mean, M2) of two parts.
                delta = (other.label_shift - first.label_shift) + (
                    other.label_mean - first.label_mean)
                first.label_mean += delta * (other_weight / total)
                first.label_m2 += other.label_m2 + delta * delta * (weight * other_weight / total)
            weight = total
            first.sums += other.sums
        if self.exact:
            first.residuals = np.concatenate([a.residuals for a in accs])
            first.residual_weights = np.concatenate([a.residual_weights for a in accs])
        else:
            sketches = [a.sketch for a in accs[1:] if a.sketch is not None]
            if sketches and first.sketch is None:
                first.sketch = self._new_sketch()
            for sketch in sketches:
                first.sketch.Merge(sketch)
        return first

    def _new_sketch(self) -> "QuantilesSketch":
        from assay.extras import require

        QuantilesSketch = require("tfx_bsl.sketches", "tfrecord", "sketched residual quantiles "
                                  "(or set exact: true)").QuantilesSketch
        return QuantilesSketch(self.sketch_eps, SKETCH_MAX_ELEMENTS, 1)

    def _accumulate(self, batch: ModelBatch, group: np.ndarray,
                    n_groups: int) -> List[RegressionAccumulator]:
        """One accumulator per group; one vectorised pass, plus one sketch per non-empty group."""
        y, p, w = float_columns(batch, "RegressionMetrics")
        residual = y - p

        def per_group(values: np.ndarray) -> np.ndarray:
            return np.bincount(group, values, minlength=n_groups)

        abs_error = np.abs(residual)
        sums = np.stack([per_group(np.ones_like(w)), per_group(w), per_group(w * residual ** 2),
                         per_group(w * abs_error),
                         per_group(w * abs_error / np.maximum(np.abs(y), MAPE_EPS)),
                         per_group(w * p)], axis=1)
        # Passes: a rough mean (the shift), the mean about it, then squared deviations.
        has_weight = sums[:, 1] > 0
        shift, label_mean = np.zeros(n_groups), np.zeros(n_groups)
        np.divide(per_group(w * y), sums[:, 1], out=shift, where=has_weight)
        centered = y - shift[group]
        np.divide(per_group(w * centered), sums[:, 1], out=label_mean, where=has_weight)
        label_m2 = per_group(w * (centered - label_mean[group]) ** 2)

        accs = [RegressionAccumulator(sums[g].copy(), float(shift[g]), float(label_mean[g]),
                                      float(label_m2[g])) for g in range(n_groups)]
        positive = w > 0
        order = np.argsort(group[positive], kind="stable")
        values, weights = residual[positive][order], w[positive][order]
        bounds = np.searchsorted(group[positive][order], np.arange(n_groups + 1))
        for g in np.flatnonzero(np.diff(bounds)):  # groups with residuals, not examples
            part = slice(bounds[g], bounds[g + 1])
            if self.exact:
                accs[g].residuals, accs[g].residual_weights = values[part], weights[part]
            else:
                accs[g].sketch = self._new_sketch()
                accs[g].sketch.AddValues(pa.array(values[part]), pa.array(weights[part]))
        return accs

    # Results -----------------------------------------------------------------------------

    def result(self, acc: RegressionAccumulator) -> Dict[str, float]:
        count, weight, se, ae, ape, prediction_sum = acc.sums
        mse = ratio(se, weight)
        if count < 2 or weight <= 0:
            r2 = float("nan")
        elif acc.label_m2 == 0:
            r2 = 1.0 if se == 0 else 0.0  # sklearn's force_finite convention
        else:
            r2 = 1.0 - se / acc.label_m2
        values = {
            "example_count": float(count), "weighted_example_count": float(weight),
            "mse": mse, "rmse": math.sqrt(mse) if mse >= 0 else float("nan"),
            "mae": ratio(ae, weight), "mape": ratio(ape, weight), "r2": float(r2),
            "mean_label": acc.label_shift + acc.label_mean if weight > 0 else float("nan"),
            "mean_prediction": ratio(prediction_sum, weight),
        }
        for q, v in zip(self.quantiles, self.residual_quantiles(acc, self.quantiles)):
            values[quantile_name(q)] = float(v)
        return values

    def residual_quantiles(self, acc: RegressionAccumulator,
                           quantiles: Sequence[float]) -> np.ndarray:
        """Weighted residual quantiles, shape [len(quantiles)]; NaN when no residual has weight."""
        quantiles = np.asarray(quantiles, np.float64)
        if self.exact:
            return weighted_quantiles(acc.residuals, acc.residual_weights, quantiles)
        if acc.sketch is None:
            return np.full(len(quantiles), np.nan)
        # GetQuantiles finalises a sketch, after which it can take no more values: read a copy.
        sketch = pickle.loads(pickle.dumps(acc.sketch))
        grid = np.asarray(sketch.GetQuantiles(SKETCH_GRID).flatten(), np.float64)
        if len(grid) == 0:
            return np.full(len(quantiles), np.nan)
        # grid[i] is the sketch's inverted-CDF quantile at i / SKETCH_GRID.
        position = quantiles * SKETCH_GRID
        on_grid = np.abs(position - np.round(position)) < 1e-9
        interpolated = np.interp(position, np.arange(len(grid)), grid)
        return np.where(on_grid, grid[np.round(position).astype(np.int64)], interpolated)

    def plots(self, acc: RegressionAccumulator) -> Dict[str, Any]:
        """Residual percentiles 0, 1, ..., 100 (the residual distribution); None if empty."""
        values = self.residual_quantiles(acc, PLOT_QUANTILES)
        return {"residuals": {"quantiles": list(PLOT_QUANTILES), "values": as_json_list(values)}}


def weighted_quantiles(values: np.ndarray, weights: np.ndarray,
                       quantiles: np.ndarray) -> np.ndarray:
    """Weighted inverted-CDF quantiles: the smallest v with weight(values <= v) >= q * total.

    Args:
      values, weights: shape [m]; weights positive.
      quantiles: shape [k], in [0, 1].

    Returns:
      shape [k]; NaN when values is empty. Equals np.quantile(values, quantiles,
      method="inverted_cdf") for unit weights.
    """
    if len(values) == 0:
        return np.full(len(quantiles), np.nan)
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    index = np.searchsorted(cumulative, quantiles * cumulative[-1], side="left")
    return values[order][np.minimum(index, len(values) - 1)]


def _check_quantiles(quantiles: Sequence[float]) -> Tuple[float, ...]:
    return unit_values(quantiles, "quantiles", quantile_name, "; write 0.95, not 95")
