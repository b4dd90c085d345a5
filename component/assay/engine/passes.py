"""The stages of the pass, as plain functions and classes: no Beam, no threads.

    read_file(plan, path)              -> (path, first row, pa.RecordBatch) ...
    SliceAccumulator(plan).add(...)    -> one partial accumulator per (slice, model)
    merge_partials(families, partials) -> the merged accumulators of one slice
    slice_result(families, key, accs, min_slice_size)
                                       -> {model: {"metrics": {...}, "plots": {...}}}, or the
                                          example count alone (an int) of a withheld slice

Both executors run exactly this code: `assay.engine.beam` wraps it in Beam transforms (any runner,
any number of workers), `assay.engine.local` calls it from a pool of threads in this process. So a
result does not depend on the executor, up to the order in which partial sums are merged.
"""

from __future__ import annotations

import dataclasses
import sys
from array import array
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import pyarrow as pa

from assay import data as assay_io, timings
from assay.engine.extract import Problems, model_batches
from assay.engine import atoms, extensions, slicing
from assay.engine.transformed import transformed_batch
from assay.engine.plan import EvalPlan
from assay.metrics import bootstrap
from assay.perturb.scoring import perturbed_models, with_perturbed
from assay.metrics.base import grouped_partials

MERGE_EVERY = 32  # partial accumulators of a slice held before they are merged
# With bootstrap replicates a batch's partials are views of one [cells, R] array per slicing
# spec (tens of MB): merge them sooner so that few batches' arrays are alive at once.
MERGE_EVERY_REPLICATED = 6

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
                                       columns=plan.columns, row_groups=row_groups):
        if batch.num_rows:
            yield path, start, batch
            start += batch.num_rows


# ---- quantile buckets --------------------------------------------------------------------------


def sketch_create(features: Sequence[Tuple[str, int]]) -> Dict[str, Any]:
    from assay.extras import require

    QuantilesSketch = require("tfx_bsl.sketches", "tfrecord", "quantile slices ({feature: F, "
                              "quantiles: N}; or give boundaries)").QuantilesSketch
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
    """Predicts, slices and accumulates batches: per model, one state for all slices of the
    families that accumulate so (BinaryMetrics: assay.metrics.binary_dense), and one partial
    per (slice, model) of the others.

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
        # Families that accumulate every slice at once (BinaryMetrics.dense_add) hold one state
        # per model, indexed by a slice id given here in order of first sight; the others keep
        # per-slice partials in self._accs. Looked up on the class: a wrapper (bootstrap.
        # Replicated) forwards unknown attributes to the family it wraps.
        self._dense = [callable(getattr(type(f), "dense_add", None)) for f in families]
        self._legacy = [f for f, d in zip(families, self._dense) if not d]
        # Nested specs: dense families add a batch to the finest spec's slices alone, folded
        # into the others at the end (assay.engine.atoms).
        self._atoms = (atoms.Atoms.of(plan.config.slices) if any(self._dense) and all(
            callable(getattr(type(f), "dense_fold", None))
            for f, d in zip(families, self._dense) if d) else None)
        self._ids: Dict[Tuple, int] = {}
        self._keys: List[slicing.SliceKey] = []
        self._states: Dict[str, List[Any]] = {}
        self._problems = Problems()
        self._seen: set = set()
        self._rows = 0
        self.times = timings.new_times()  # predict, accumulate; the caller adds read
        self._file_names: Optional[Dict[str, str]] = None
        # Discovery, drift...: assay.engine.extensions, fed the same batches.
        self._extensions = extensions.active(plan)
        self._ext_accs = {name: ext.create() for name, ext in self._extensions.items()}

    def add(self, element: Element) -> None:
        mark = timings.begin()
        self._add_batch(element)
        timings.end(self.times, "accumulate", mark)  # less predict, timed inside

    def _add_batch(self, element: Element) -> None:
        path, start, raw = element
        batch = transformed_batch(self._adapters, raw)  # raw itself without preprocessing
        self._seen.update(batch.schema.names)
        self._rows += batch.num_rows
        per_model, kept = model_batches(self._plan, self._adapters, batch, path, start,
                                        self._problems, inputs=raw, times=self.times)
        if perturbed_models(self._plan.config):  # the candidate on edited examples too
            per_model = with_perturbed(self._plan, self._adapters, raw, per_model, path, start,
                                       kept, self._row_keys(path, start, raw.num_rows))
        if self._plan.config.confidence is not None:
            per_model = self._replicated(per_model, batch, path, start, kept)
        if kept is not None:
            batch = batch.take(pa.array(kept))
        if self._extensions:
            self._extend(batch, raw, per_model, path, start, kept)
        done = set()  # two specs may yield the same slice ([day] and {day: 3}): count it once
        derived = set()  # of those, the slices that atoms are folded into
        shared: Dict[str, Dict[Any, Any]] = {}  # per model: grouped_partials' batch cache
        atom_groups = (self._atoms.batch_groups(batch, self._boundaries)
                       if self._atoms is not None else None)
        for i, spec in enumerate(self._plan.config.slices):
            groups = slicing.slice_groups(batch, spec, self._boundaries)
            if not groups.keys:
                continue
            canonical = [_canonical(key) for key in groups.keys]
            fresh = [g for g, c in enumerate(canonical) if c not in done]
            if not fresh:
                continue
            done.update(canonical)
            rows = None if spec.is_overall else groups.rows
            ids = self._slice_ids(groups.keys, canonical, fresh)
            direct = atom_groups is None or not self._atoms.derives(i)
            if not direct:
                derived.update(canonical[g] for g in fresh)
            for model, mb in per_model.items():
                # What depends on the batch alone (the score order...) is kept per model in
                # `shared` for the other specs: assay.metrics.base.grouped_partials.
                cache = shared.setdefault(model, {})
                if direct:
                    self._add_dense(self._model_states(model), mb, rows, groups.group_ids, ids,
                                    cache)
                if not self._legacy:
                    continue
                partials = grouped_partials(self._legacy, mb, rows, groups.group_ids,
                                            len(groups.keys), cache)
                for g in fresh:
                    self._add(groups.keys[g], model, [p[g] for p in partials])
        if atom_groups is not None:
            ids = self._atoms.slice_ids([_canonical(k) for k in atom_groups.keys], self._ids,
                                        derived)
            for model, mb in per_model.items():
                self._add_dense(self._atoms.model_states(model, self._families, self._dense),
                                mb, atom_groups.rows, atom_groups.group_ids, ids,
                                shared.setdefault(model, {}))

    def _slice_ids(self, keys, canonical, fresh) -> np.ndarray:
        """The slice id of each group of a spec (-1 for groups another spec counted)."""
        ids = np.full(len(keys), -1, np.int64)
        for g in fresh:
            sid = self._ids.get(canonical[g])
            if sid is None:
                sid = self._ids[canonical[g]] = len(self._keys)
                self._keys.append(keys[g])
            ids[g] = sid
        return ids

    def _model_states(self, model: str) -> List[Any]:
        states = self._states.get(model)
        if states is None:
            states = self._states[model] = [f.dense_create() if d else None
                                             for f, d in zip(self._families, self._dense)]
        return states

    def _add_dense(self, states: List[Any], mb: Any, rows, group_ids, ids, cache) -> None:
        for fam, state in zip(self._families, states):
            if state is not None:
                fam.dense_add(state, mb, rows, group_ids, ids, cache)

    def _row_keys(self, path: str, start: int, n: int) -> np.ndarray:
        """Stable keys of rows start..start+n of a file (assay.metrics.bootstrap.row_keys)."""
        if self._file_names is None:
            self._file_names = bootstrap.file_names(self._plan.files)
        return bootstrap.row_keys(self._file_names.get(path, path), start + np.arange(n))

    def _extend(self, batch: pa.RecordBatch, raw: pa.RecordBatch, per_model: Dict[str, Any],
                path: str, start: int, kept: Optional[np.ndarray]) -> None:
        def keys_of() -> np.ndarray:
            keys = self._row_keys(path, start, raw.num_rows)
            return keys if kept is None else keys[kept]

        view = extensions.BatchView(batch, raw, per_model, path, start, kept, keys_of,
                                    self._adapters)
        for name, ext in self._extensions.items():
            self._ext_accs[name] = ext.add(self._ext_accs[name], view)

    def _replicated(self, per_model: Dict[str, Any], batch: pa.RecordBatch, path: str,
                    start: int, kept: Optional[np.ndarray]) -> Dict[str, Any]:
        """The ModelBatches with their rows' bootstrap weights (the same for every model, so
        that the diff's replicates are paired): assay.metrics.bootstrap."""
        conf = self._plan.config.confidence
        keys = self._row_keys(path, start, batch.num_rows)
        if conf.unit is not None:
            values, rows = assay_io.column_values(batch, conf.unit)
            if len(rows):
                first = np.r_[True, rows[1:] != rows[:-1]]  # a list feature: its first value
                keys[rows[first]] = bootstrap.unit_keys(values[first])
        if kept is not None:
            keys = keys[kept]
        weights = bootstrap.replicate_weights(keys, conf.seed, conf.replicates, ones_column=True)
        return {m: dataclasses.replace(mb, replicate_weights=weights)
                for m, mb in per_model.items()}

    def _add(self, key, model: str, accs: List[Any]) -> None:
        # Partials wait in a short list and are merged many at a time, which is cheaper than
        # merging each batch's partial into the running accumulator.
        pending = self._accs.setdefault(key, {}).setdefault(model, [])
        pending.append(accs)
        if len(pending) >= (MERGE_EVERY if self._plan.config.confidence is None
                            else MERGE_EVERY_REPLICATED):
            pending[:] = [self._merge(pending)]

    def _merge(self, pending: List[List[Any]]) -> List[Any]:
        if len(pending) == 1:
            return pending[0]
        return [fam.merge([p[i] for p in pending]) for i, fam in enumerate(self._legacy)]

    def partials(self) -> Iterator[Tuple[slicing.SliceKey, ModelAccs]]:
        """(slice key, {model: [accumulator per family]}) for every slice seen; then empty."""
        if self._atoms is not None:
            self._atoms.fold(self._states, self._families, self._dense, len(self._keys))
        accs, self._accs = self._accs, {}
        states, self._states = self._states, {}
        keys, self._keys, self._ids = self._keys, [], {}
        if not any(self._dense):
            for key, by_model in accs.items():
                yield key, {model: self._merge(pending) for model, pending in by_model.items()}
            return
        # Each slice's accumulators are made from the states when its turn comes: a consumer
        # that merges them one by one (the local engine's one worker) holds one at a time.
        by_canonical = {_canonical(k): v for k, v in accs.items()}
        for sid, key in enumerate(keys):
            legacy = by_canonical.get(_canonical(key), {})
            out = {}
            for model, sts in states.items():
                rest = iter(self._merge(legacy[model]) if model in legacy else ())
                out[model] = [f.dense_acc(st, sid) if st is not None else next(rest)
                              for f, st in zip(self._families, sts)]
            yield key, out

    def diagnostics(self) -> Dict[str, Any]:
        """Invalid values counted, features seen, rows read, and the extensions'
        accumulators (assay.engine.extensions)."""
        accs, self._ext_accs = self._ext_accs, {}
        return {"problems": self._problems.counts, "features": sorted(self._seen),
                "rows": self._rows, "extensions": accs, "timings": self.times}


_canonical = slicing.canonical  # a slice key with its features in name order


def merge_partials(families: Sequence[Any], partials: Iterable[ModelAccs]) -> ModelAccs:
    """Merges the partial accumulators of one slice, in the order given, with one family.merge
    call per model and family for all of them (one sort of their score counts, where merging
    them pair by pair sorted the growing sum once per partial)."""
    by_model: Dict[str, List[List[Any]]] = {}
    for other in partials:
        for model, fam_accs in other.items():
            by_model.setdefault(model, []).append(fam_accs)
    return {model: accs[0] if len(accs) == 1 else
            [f.merge([a[i] for a in accs]) for i, f in enumerate(families)]
            for model, accs in by_model.items()}


def compute_slice(families: Sequence[Any], accs: ModelAccs) -> Dict[str, Dict[str, Any]]:
    """{model: {"metrics": {name: value}, "plots": {name: data}}} of one slice; with bootstrap
    replicates (families wrapped in assay.metrics.bootstrap.Replicated), also "intervals"
    ({name: {"lower", "upper", "stderr"}}), and for each model compared with the baseline
    "diff_intervals", the paired intervals of its difference from the baseline."""
    out = {}
    reps: Dict[str, Dict[str, np.ndarray]] = {}
    for model, fam_accs in accs.items():
        metrics: Dict[str, float] = {}
        plots: Dict[str, Any] = {}
        for fam, acc in zip(families, fam_accs):
            metrics.update(_plain(fam.result(acc)))
            plots.update(fam.plots(acc) or {})
        out[model] = {"metrics": metrics, "plots": plots}
        replicated = [(f, a) for f, a in zip(families, fam_accs)
                      if isinstance(f, bootstrap.Replicated)]
        if replicated:
            reps[model] = {}
            closed: Dict[str, Dict[str, Any]] = {}
            for fam, acc in replicated:
                reps[model].update(fam.replicate_values(acc))
                closed.update(fam.closed_forms(acc, fam.level))
            level = replicated[0][0].level
            out[model]["intervals"] = bootstrap.interval_set(metrics, reps[model], level, closed)
            # The rates' replicates, for the intervals of gaps and ratios across slices
            # (assay.metrics.fairness_spread): held in memory, never written.
            from assay.metrics.fairness_spread import spread_replicates
            out[model]["spread_replicates"] = spread_replicates(reps[model])
    if reps and "baseline" in reps:
        level = next(f.level for f in families if isinstance(f, bootstrap.Replicated))
        base = out["baseline"]["metrics"]
        for model in reps:
            if model != "baseline":
                out[model]["diff_intervals"] = bootstrap.diff_intervals(
                    out[model]["metrics"], base, reps[model], reps["baseline"], level)
    for model in reps:  # a perturbation against the unperturbed candidate (assay.perturb)
        if model.startswith("perturbed:"):
            level = next(f.level for f in families if isinstance(f, bootstrap.Replicated))
            out[model]["candidate_diff_intervals"] = bootstrap.diff_intervals(
                out[model]["metrics"], out["candidate"]["metrics"], reps[model],
                reps["candidate"], level)
    return out


def example_count(families: Sequence[Any], accs: ModelAccs) -> int:
    """The candidate's unweighted example count of one slice, read from its merged accumulators
    without computing any metric: the count by which a slice is withheld (the "example_count"
    of the built-in family, whose accumulators hold it as sums[0])."""
    acc = accs["candidate"][0]
    acc = getattr(acc, "point", acc)  # a bootstrap.Replicated family's accumulator
    sums = getattr(acc, "sums", None)
    if sums is not None:
        return int(float(sums[0]))
    family = getattr(families[0], "family", families[0])
    return int(_plain(family.result(acc)).get("example_count", 0))


def withheld(key: slicing.SliceKey, count: int, min_slice_size: int) -> bool:
    """Whether a slice is withheld: fewer examples than min_slice_size (never the overall one)."""
    return bool(key) and count < min_slice_size


def slice_result(families: Sequence[Any], key: slicing.SliceKey, accs: ModelAccs,
                 min_slice_size: int) -> Union[int, Dict[str, Dict[str, Any]]]:
    """What the pass returns for one slice: compute_slice's metrics and plots, or, for a slice
    withheld by min_slice_size, its example count alone (an int), with no metric computed:
    its records hold nothing else (`assay.engine.assemble`)."""
    count = example_count(families, accs)
    if withheld(key, count, min_slice_size):
        return count
    return compute_slice(families, accs)


def _plain(values: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v.item() if isinstance(v, np.generic) else v for k, v in values.items()}


class SharedResults:
    """Makes the per-slice results that reach the driver share what they hold in common.

    Every slice's results arrive pickled on their own, so each holds its own copies of the
    metric names and of plot data that are the same on every slice (the quantiles at which
    residuals are plotted...). `shared(results)` returns them with the names interned and each
    list of floats replaced by an equal one already seen (bit for bit: -0.0 and 0.0 differ), so
    a million slices hold one copy of each. The values written do not change. The lists
    remembered are the first MAX_LISTS distinct ones: those common to every slice come first.
    """

    MAX_LISTS = 10_000
    _FLOATS = {float}

    def __init__(self):
        self._lists: Dict[int, list] = {}

    def __call__(self, value: Any) -> Any:
        if type(value) is dict:
            return {sys.intern(k) if type(k) is str else k: self(v) for k, v in value.items()}
        if type(value) is list and value:
            if set(map(type, value)) != self._FLOATS:  # all floats (faster than all())
                return [self(x) for x in value]
            data = array("d", value).tobytes()
            key = hash(data)
            seen = self._lists.get(key)
            if seen is None:
                if len(self._lists) < self.MAX_LISTS:
                    self._lists[key] = value
            elif array("d", seen).tobytes() == data:
                return seen
        return value


def merge_diagnostics(items: Iterable[Dict[str, Any]]) -> Dict[str, Any]:
    items = list(items)
    features = set()
    for d in items:
        features.update(d["features"])
    return {"problems": Problems.merge([d["problems"] for d in items]),
            "features": sorted(features), "rows": sum(d["rows"] for d in items),
            "extensions": extensions.merge([d.get("extensions") for d in items]),
            "timings": timings.merge(d.get("timings") for d in items)}


EMPTY_DIAGNOSTICS = {"problems": {}, "features": [], "rows": 0, "extensions": {}}
