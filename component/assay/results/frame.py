"""`EvalResult.to_dataframe()`: the metrics as a tidy pandas DataFrame.

One row per (slice, model, metric), in the records' order (overall first):

    hour  payment        slice      model     metric     value   lower   upper
    None  None         overall  candidate        auc  0.912    0.89    0.93
    3     None          hour=3  candidate        auc  0.871    0.80    0.93
    None  cash    payment=cash       diff        auc  0.004   -0.01    0.02

- one column per slicing feature, in the order the features first appear in the records,
  holding the slice's value (as the records hold it), None where the slice does not use the
  feature; a feature named like a fixed column below is prefixed "slice_" ("slice_model");
- `slice`: the slice's label (`assay.results.slices.slice_label`: "overall", "hour=3", ...);
- `model`: "candidate", "baseline", "diff", a benchmark's name, "diff:NAME";
- `metric`, `value`: a metric that is not finite (version 2's null) is NaN;
- `lower`, `upper`: the bounds of the metric's confidence interval, when the evaluation
  computed intervals (the records' `intervals`); NaN for a metric without one. Without any
  interval the two columns are left out.

Withheld slices (fewer examples than min_slice_size) have no metrics and give no rows.
pandas is imported only here, when a frame is asked for.

Example:
    >>> result = assay.load_result("out/")                    # doctest: +SKIP
    >>> df = result.to_dataframe()                            # doctest: +SKIP
    >>> df[(df.metric == "auc") & (df.model == "candidate")]  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Sequence

from assay.results.slices import slice_label

FIXED_COLUMNS = ("slice", "model", "metric", "value")
BOUND_COLUMNS = ("lower", "upper")
COLLISION_PREFIX = "slice_"


def slice_features(records: Sequence[Mapping[str, Any]]) -> List[str]:
    """The slicing features of the records, in the order they first appear."""
    return list(dict.fromkeys(k for r in records for k in r["slice"]))


def _column_names(features: Sequence[str]) -> Dict[str, str]:
    taken = set(FIXED_COLUMNS) | set(BOUND_COLUMNS)
    return {f: (COLLISION_PREFIX + f if f in taken else f) for f in features}


def tidy_rows(records: Sequence[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """The rows of `to_dataframe` as dicts (no pandas needed); see the module doc."""
    features = slice_features(records)
    names = _column_names(features)
    with_bounds = any(r.get("intervals") for r in records)
    rows = []
    for r in records:
        if "metrics" not in r:  # withheld: an example count, no metrics
            continue
        head = {names[f]: r["slice"].get(f) for f in features}
        head.update(slice=slice_label(r["slice"]), model=r["model"])
        intervals = r.get("intervals") or {}
        for metric, value in r["metrics"].items():
            row = dict(head, metric=metric, value=_number(value))
            if with_bounds:
                bounds = intervals.get(metric) or {}
                row.update(lower=_number(bounds.get("lower")), upper=_number(bounds.get("upper")))
            rows.append(row)
    return rows


def _number(value: Any) -> Any:
    """None (a version-2 null, or no bound) as NaN, so the column stays numeric."""
    return float("nan") if value is None else value


def to_dataframe(records: Sequence[Mapping[str, Any]]):
    """The tidy frame of `records` (see the module doc).

    Returns:
      a pandas DataFrame with the slice feature columns, slice, model, metric, value, and
      lower and upper when the records have intervals.
    """
    import pandas as pd

    features = list(_column_names(slice_features(records)).values())
    columns = features + list(FIXED_COLUMNS)
    if any(r.get("intervals") for r in records):
        columns += list(BOUND_COLUMNS)
    frame = pd.DataFrame(tidy_rows(records), columns=columns)
    # Feature columns hold None (not NaN) where a slice does not use the feature.
    for name in features:
        frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    return frame


__all__ = ["BOUND_COLUMNS", "FIXED_COLUMNS", "slice_features", "tidy_rows", "to_dataframe"]
