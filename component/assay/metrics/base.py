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
accumulator per group in one vectorised pass; the default loops over the groups.
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence

import numpy as np

from assay.metrics.batch import ModelBatch


class Metric:
    """Base class for a metric family (or a user's custom metric).

    Subclasses set `name` and implement create / add / merge / result. `plots` may return JSON-able
    plot data (curves, matrices); the default returns none.

    Example (a custom metric, importable on workers as `mypkg.metrics:MaxError`):

        class MaxError(assay.Metric):
            name = "max_error"
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
