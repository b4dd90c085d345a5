"""Custom metrics the tests load by name (`custom_metrics:MaxError`), as users load theirs: an
importable module, allowed with `allow_custom_code=["custom_metrics"]`."""

import numpy as np

import assay


class MaxError(assay.Metric):
    """The largest absolute error of a slice (lower is better)."""

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
