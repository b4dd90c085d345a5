"""The stages of the pass, as plain functions and classes: no Beam, no threads.

    read_file(plan, path)              -> (path, first row, pa.RecordBatch) ...
    SliceAccumulator(plan).add(...)    -> one partial accumulator per (slice, model)
    merge_partials(families, partials) -> the merged accumulators of one slice
    compute_slice(families, accs)      -> {model: {"metrics": {...}, "plots": {...}}}

Both executors run exactly this code: `assay.engine.beam` wraps it in Beam transforms (any runner,
any number of workers), `assay.engine.local` calls it from a pool of threads in this process. So a
result does not depend on the executor, up to the order in which partial sums are merged.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import pyarrow as pa

from assay import data as assay_io
from assay.engine.extract import Problems, model_batches
from assay.engine import slicing
from assay.engine.plan import EvalPlan

MERGE_EVERY = 32  # partial accumulators of a slice held before they are merged

# (model name) -> [accumulator per metric family]
ModelAccs = Dict[str, List[Any]]
Element = Tuple[str, int, pa.RecordBatch]  # (file, index of its first row, batch)


Unit = Tuple[str, Optional[Tuple[int, int]], int]  # see EvalPlan.units


def read_file(plan: EvalPlan, unit: Union[str, Unit]) -> Iterator[Element]:
    """The non-empty batches of a file or part of one (a work unit of `plan.work_units()`),
    each with the index of its first row in the file."""
    path, row_groups, start = (unit, None, 0) if isinstance(unit, str) else unit
    for batch in assay_io.read_batches(path, plan.config.batch_size, fmt=plan.format,
                                       raw_record_column=plan.raw_record_column,
                                       row_groups=row_groups):
        if batch.num_rows:
            yield path, start, batch
            start += batch.num_rows


# ---- quantile buckets --------------------------------------------------------------------------


def sketch_create(features: Sequence[Tuple[str, int]]) -> Dict[str, Any]:
    from tfx_bsl.sketches import QuantilesSketch

    return {f: QuantilesSketch(0.0001, 1 << 32, 1) for f, _ in features}


def sketch_add(acc: Dict[str, Any], batch: pa.RecordBatch) -> Dict[str, Any]:
    for feature, sketch in acc.items():
        if feature not in batch.schema.names:
            continue
        values, _ = assay_io.column_values(batch, feature)
        values = np.asarray(values, dtype=np.float64)
        values = values[np.isfinite(values)]
        if len(values):
            sketch.AddValues(pa.array(values), pa.array(np.ones(len(values))))
    return acc


def sketch_merge(accs: Iterable[Dict[str, Any]]) -> Dict[str, Any]:
    accs = list(accs)
    first = accs[0]
    for other in accs[1:]:
        for feature in first:
            first[feature].Merge(other[feature])
    return first


def sketch_boundaries(acc: Dict[str, Any],
                      features: Sequence[Tuple[str, int]]) -> Dict[str, Tuple[float, ...]]:
    """{feature: interior bucket boundaries}: q buckets of about equal counts."""
    out = {}
    for feature, q in features:
        values = acc[feature].GetQuantiles(q).to_pylist()[0]
        interior = sorted(set(values[1:-1])) if values else []
        out[feature] = tuple(float(v) for v in interior)
    return out


# ---- slicing and accumulating ------------------------------------------------------------------


class SliceAccumulator:
    """Predicts, slices and accumulates batches; holds one partial per (slice, model).

    One instance per worker and bundle (Beam) or per file (local): `add` each batch, then
    `partials()` and `diagnostics()` once.
    """

    def __init__(self, plan: EvalPlan, adapters: Mapping[str, Any], families: Sequence[Any],
                 boundaries: Mapping[str, Sequence[float]]):
        self._plan = plan
        self._adapters = adapters
        self._families = families
        self._boundaries = boundaries
        self._accs: Dict[slicing.SliceKey, Dict[str, List[List[Any]]]] = {}
        self._problems = Problems()
        self._seen: set = set()
        self._rows = 0

    def add(self, element: Element) -> None:
        path, start, batch = element
        self._seen.update(batch.schema.names)
        self._rows += batch.num_rows
        per_model, kept = model_batches(self._plan, self._adapters, batch, path, start,
                                        self._problems)
        if kept is not None:
            batch = batch.take(pa.array(kept))
        done = set()  # two specs may yield the same slice ([day] and {day: 3}): count it once
        for spec in self._plan.config.slices:
            groups = slicing.slice_groups(batch, spec, self._boundaries)
            if not groups.keys:
                continue
            canonical = [tuple(sorted(key, key=lambda kv: kv[0])) for key in groups.keys]
            fresh = [g for g, c in enumerate(canonical) if c not in done]
            if not fresh:
                continue
            done.update(canonical)
            whole = spec.is_overall
            for model, mb in per_model.items():
                sub = mb if whole else mb.take(groups.rows)
                partials = [fam.add_grouped(sub, groups.group_ids, len(groups.keys))
                            for fam in self._families]
                for g in fresh:
                    self._add(groups.keys[g], model, [p[g] for p in partials])

    def _add(self, key, model: str, accs: List[Any]) -> None:
        # Partials wait in a short list and are merged many at a time, which is cheaper than
        # merging each batch's partial into the running accumulator.
        pending = self._accs.setdefault(key, {}).setdefault(model, [])
        pending.append(accs)
        if len(pending) >= MERGE_EVERY:
            pending[:] = [self._merge(pending)]

    def _merge(self, pending: List[List[Any]]) -> List[Any]:
        if len(pending) == 1:
            return pending[0]
        return [fam.merge([p[i] for p in pending]) for i, fam in enumerate(self._families)]

    def partials(self) -> Iterator[Tuple[slicing.SliceKey, ModelAccs]]:
        """(slice key, {model: [accumulator per family]}) for every slice seen; then empty."""
        accs, self._accs = self._accs, {}
        for key, by_model in accs.items():
            yield key, {model: self._merge(pending) for model, pending in by_model.items()}

    def diagnostics(self) -> Dict[str, Any]:
        """Invalid values counted, features seen and rows read."""
        return {"problems": self._problems.counts, "features": sorted(self._seen),
                "rows": self._rows}


def merge_partials(families: Sequence[Any], partials: Iterable[ModelAccs]) -> ModelAccs:
    """Merges the partial accumulators of one slice, in the order given."""
    out: ModelAccs = {}
    for other in partials:
        for model, fam_accs in other.items():
            if model not in out:
                out[model] = fam_accs
            else:
                out[model] = [f.merge([a, b]) for f, a, b in zip(families, out[model], fam_accs)]
    return out


def compute_slice(families: Sequence[Any], accs: ModelAccs) -> Dict[str, Dict[str, Any]]:
    """{model: {"metrics": {name: value}, "plots": {name: data}}} of one slice."""
    out = {}
    for model, fam_accs in accs.items():
        metrics: Dict[str, float] = {}
        plots: Dict[str, Any] = {}
        for fam, acc in zip(families, fam_accs):
            metrics.update(_plain(fam.result(acc)))
            plots.update(fam.plots(acc) or {})
        out[model] = {"metrics": metrics, "plots": plots}
    return out


def _plain(values: Dict[str, Any]) -> Dict[str, Any]:
    out = {}
    for k, v in values.items():
        if isinstance(v, np.generic):
            v = v.item()
        out[k] = v
    return out


def merge_diagnostics(items: Iterable[Dict[str, Any]]) -> Dict[str, Any]:
    items = list(items)
    features = set()
    for d in items:
        features.update(d["features"])
    return {"problems": Problems.merge([d["problems"] for d in items]),
            "features": sorted(features), "rows": sum(d["rows"] for d in items)}


EMPTY_DIAGNOSTICS = {"problems": {}, "features": [], "rows": 0}
