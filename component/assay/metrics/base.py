"""The accumulator contract that every metric family, built-in or custom, follows.

It is Beam's CombineFn contract, on numpy batches instead of single elements:

    acc = metric.create()
    acc = metric.add(acc, batch)          # batch: assay.metrics.batch.ModelBatch of one slice
    acc = metric.merge([acc1, acc2, ...]) # only the first accumulator may be mutated
    values = metric.result(acc)           # {metric_name: float}; NaN when nothing was added

Accumulators must be picklable, small (they are shuffled once per slice and worker), and
independent of how examples were split into batches: accumulating shards and merging gives the
same result as one pass over everything, up to floating-point summation order.

Built-in families also implement `add_grouped(batch, group_ids, n_groups)`, which returns one
accumulator per group in one vectorised pass (see GroupedMetric); the default loops over the
groups.

Every family declares the direction of each metric it produces: "higher" or "lower"
is better, or None when neither is (example_count, mean_label). Built-in families do so
in their modules (see assay.metrics.registry); a custom metric in its `directions` attribute.
"""

from __future__ import annotations

import numbers
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from assay.metrics.batch import ModelBatch
from assay.errors import ConfigError, ConfigTypeError, DataError



class Metric:
    """Base class for a metric family (or a user's custom metric).

    Subclasses set `name` and implement create / add / merge / result. `plots` may return JSON-able
    plot data (curves, matrices); the default returns none. `directions` maps the names that
    `result` returns to "higher" or "lower" (which is better) or None; a threshold with
    `max_regression` on a name missing there must state `direction:` itself.

    The pass calls create, add, add_grouped, merge, result and plots; subclassing Metric gives
    add_grouped and plots their defaults, so a custom metric must subclass it (or define all
    six): the plan checks this before any data is read.

    Example (a custom metric, importable on workers as `mypkg.metrics:MaxError`):

        class MaxError(assay.Metric):
            name = "max_error"
            directions = {"max_error": "lower"}
            def create(self):
                return -np.inf
            def add(self, acc, batch):
                if len(batch) == 0:
                    return acc
                return max(acc, float(np.max(np.abs(batch.predictions - batch.labels))))
            def merge(self, accs):
                return max(accs)
            def result(self, acc):
                return {"max_error": acc if np.isfinite(acc) else float("nan")}
    """

    name: str = ""
    directions: Mapping[str, Optional[str]] = {}

    def create(self) -> Any:
        raise NotImplementedError

    def add(self, acc: Any, batch: ModelBatch) -> Any:
        raise NotImplementedError

    def merge(self, accs: Sequence[Any]) -> Any:
        raise NotImplementedError

    def result(self, acc: Any) -> Dict[str, float]:
        raise NotImplementedError

    def plots(self, acc: Any) -> Dict[str, Any]:
        return {}

    def add_grouped(self, batch: ModelBatch, group_ids: np.ndarray, n_groups: int) -> List[Any]:
        """One accumulator per group; group_ids has shape [n] with values in [0, n_groups)."""
        order = np.argsort(group_ids, kind="stable")
        bounds = np.searchsorted(group_ids[order], np.arange(n_groups + 1))
        return [
            self.add(self.create(), batch.take(order[bounds[g]:bounds[g + 1]]))
            for g in range(n_groups)
        ]


# Every method the pass calls on a metric family (engine.passes and the engines).
PASS_METHODS = ("create", "add", "add_grouped", "merge", "result", "plots")


def check_metric_contract(metric: Any, where: str) -> None:
    """Raises ConfigError unless `metric` can go through the pass: an assay.Metric (or an object
    with every method in PASS_METHODS) with a non-empty string `name`.

    Checked when a custom metric is loaded, before any data is read, so that a class written
    against the four-method CombineFn contract fails with this message and not with an
    AttributeError in the middle of the pass.
    """
    from assay.errors import ConfigError

    missing = [m for m in PASS_METHODS if not callable(getattr(metric, m, None))]
    if missing:
        raise ConfigError(
            f"{where} is not an assay.Metric and lacks {', '.join(missing)}; subclass "
            f"assay.Metric (which gives add_grouped and plots their defaults) and implement "
            f"create / add / merge / result (got a {type(metric).__name__})")
    name = getattr(metric, "name", None)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where} needs a non-empty string 'name' attribute (got {name!r})")


class GroupedMetric(Metric):
    """A family that builds the accumulators of many groups in one vectorised pass.

    Subclasses implement `_accumulate(batch, group, n_groups)`, which returns one accumulator per
    group (group: shape [n] int64 in [0, n_groups)), `merge`, `result`, and a `directions`
    property naming every metric `result` returns; `add`, `add_grouped` and `metric_names`
    follow.
    """

    def _accumulate(self, batch: ModelBatch, group: np.ndarray, n_groups: int) -> List[Any]:
        raise NotImplementedError

    def add(self, acc: Any, batch: ModelBatch) -> Any:
        return self.merge([acc, self._accumulate(batch, np.zeros(len(batch), np.int64), 1)[0]])

    def add_grouped(self, batch: ModelBatch, group_ids: np.ndarray, n_groups: int) -> List[Any]:
        if not len(group_ids):  # an empty batch (every row skipped): np.bincount of no weights
            return [self.create() for _ in range(n_groups)]  # is int64, so add nothing at all
        return self._accumulate(batch, np.asarray(group_ids, np.int64), n_groups)

    def metric_names(self) -> List[str]:
        """The names `result` returns, in order: those the family declares in `directions`."""
        return list(self.directions)


def grouped_partials(families: Sequence[Any], batch: ModelBatch, rows: Optional[np.ndarray],
                     group_ids: np.ndarray, n_groups: int,
                     cache: Dict[Any, Any]) -> List[List[Any]]:
    """[family][group] accumulators of the entries (group_ids[i], row rows[i] of batch), rows
    None meaning every row: add_grouped(batch.take(rows), ...) of each family.

    A family with `add_grouped_rows(batch, rows, group_ids, n_groups, cache)` (BinaryMetrics)
    reads the rows itself and keeps what depends on the batch alone in `cache` (one dict per
    batch and model, shared by the batch's slicing specs), so that a second spec, or a second
    model's batch, does not redo it; the others get the sub-batch, taken once.
    """
    taken: List[ModelBatch] = []

    def sub() -> ModelBatch:
        if not taken:
            taken.append(batch if rows is None else batch.take(rows))
        return taken[0]

    out = []
    for fam in families:
        # Looked up on the class: a wrapper (bootstrap.Replicated) forwards unknown attributes
        # to the family it wraps, whose add_grouped_rows would skip the wrapper's own work.
        if callable(getattr(type(fam), "add_grouped_rows", None)):
            out.append(fam.add_grouped_rows(batch, rows, group_ids, n_groups, cache))
        else:
            out.append(fam.add_grouped(sub(), group_ids, n_groups))
    return out


def float_columns(batch: ModelBatch, who: str, hint: str = ""
                  ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, predictions, weights) as float64, shape [n] each; ValueError naming `who` when
    the predictions are not a vector (`hint` says what to use instead)."""
    y = np.asarray(batch.labels, np.float64)
    p = np.asarray(batch.predictions, np.float64)
    w = np.asarray(batch.weights, np.float64)
    if p.ndim != 1:
        raise DataError(f"{who} needs predictions of shape [n] (got shape {p.shape}){hint}.")
    return y, p, w


def unit_values(values: Sequence[float], key: str, name_of: Callable[[float], str],
                hint: str = "") -> Tuple[float, ...]:
    """Numbers in [0, 1] (decision thresholds, quantiles) that give distinct metric names.

    Args:
      values: the numbers as given.
      key: the argument's name, for messages.
      name_of: the metric name a value gives (two values giving one name are refused).
      hint: added to the message for a value outside [0, 1].
    """
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ConfigTypeError(f"'{key}' must be a sequence of numbers (got {values!r}, "
                        f"a {type(values).__name__}).")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise ConfigTypeError(f"'{key}' must hold numbers (got {v!r}, a {type(v).__name__}).")
        if not 0.0 <= v <= 1.0:
            raise ConfigError(f"'{key}' must lie in [0, 1] (got {v!r}){hint}.")
    names = [name_of(v) for v in values]
    if len(set(names)) != len(names):
        raise ConfigError(f"'{key}' must give distinct metric names (got {list(values)!r}, "
                         f"named {names}).")
    return tuple(float(v) for v in values)


def sum_fields(accs: Sequence[Any], fields: Sequence[str]) -> Any:
    """Adds the array `fields` of accs[1:] into accs[0] in place (only the first may be mutated)."""
    first = accs[0]
    for other in accs[1:]:
        for f in fields:
            target = getattr(first, f)
            target += getattr(other, f)  # numpy arrays: adds in place
    return first


_SCALARS = frozenset((float, int, np.float64, np.float32, np.int64, np.int32))


def ratio(numerator, denominator):
    """numerator / denominator elementwise, NaN where the denominator is 0 (no warning)."""
    if type(numerator) in _SCALARS and type(denominator) in _SCALARS:  # the same IEEE division
        return float(numerator) / float(denominator) if denominator != 0 else float("nan")
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.full(np.broadcast(numerator, denominator).shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out if out.ndim else float(out)
