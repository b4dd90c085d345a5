"""The Beam graph: one full pass that computes every metric for every slice and model.

    files -> read batches -> extract labels/weights, predict (candidate, baseline)
          -> slice (numpy, per batch) -> partial accumulators per (slice, bundle)
          -> merge per slice -> metrics and plot data -> staged results

A Beam element is a batch of thousands of rows; slice keys and accumulators are computed with
numpy on the whole batch, and each bundle emits one small partial accumulator per slice, so the
shuffle carries (slices x bundles) accumulators, never examples.
"""

from __future__ import annotations

import os
import pickle
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import apache_beam as beam
import numpy as np
import pyarrow as pa
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.transforms import window

from assay import io as assay_io
from assay import plan as plan_lib
from assay import slicing
from assay.plan import EvalPlan, Problems

_DIAGNOSTICS = "diagnostics"
_MERGE_EVERY = 32  # partial accumulators of a slice held before they are merged

# (model name) -> [accumulator per metric family]
ModelAccs = Dict[str, List[Any]]


class ReadBatches(beam.DoFn):
    """Reads one file into Arrow batches.

    Input: file path. Output: (path, first row index, pa.RecordBatch).
    """

    def __init__(self, plan: EvalPlan):
        self._plan = plan

    def process(self, path: str) -> Iterable[Tuple[str, int, pa.RecordBatch]]:
        start = 0
        for batch in assay_io.read_batches(path, self._plan.config.batch_size,
                                           fmt=self._plan.format,
                                           raw_record_column=self._plan.raw_record_column):
            if batch.num_rows:
                yield path, start, batch
                start += batch.num_rows


class SketchQuantileFeatures(beam.CombineFn):
    """Quantile sketches of the features sliced by quantiles.

    Input: (path, row, batch). Output: {feature: bucket boundaries}.
    """

    def __init__(self, features: Sequence[Tuple[str, int]]):
        self._features = tuple(features)

    def create_accumulator(self):
        from tfx_bsl.sketches import QuantilesSketch

        return {f: QuantilesSketch(0.0001, 1 << 32, 1) for f, _ in self._features}

    def add_input(self, acc, element):
        _, _, batch = element
        for feature, _ in self._features:
            if feature not in batch.schema.names:
                continue
            values, _ = assay_io.column_values(batch, feature)
            values = np.asarray(values, dtype=np.float64)
            values = values[np.isfinite(values)]
            if len(values):
                acc[feature].AddValues(pa.array(values), pa.array(np.ones(len(values))))
        return acc

    def merge_accumulators(self, accs):
        accs = list(accs)
        first = accs[0]
        for other in accs[1:]:
            for feature in first:
                first[feature].Merge(other[feature])
        return first

    def extract_output(self, acc):
        out = {}
        for feature, q in self._features:
            values = acc[feature].GetQuantiles(q).to_pylist()[0]
            interior = sorted(set(values[1:-1])) if values else []
            out[feature] = tuple(float(v) for v in interior)
        return out


class AccumulateSlices(beam.DoFn):
    """Predicts, slices and accumulates each batch; emits one partial per slice per bundle.

    Input: (path, row, batch). Output: (slice key, {model: [accumulator per family]}), and on the
    'diagnostics' tag one dict per bundle (invalid values, features seen, rows read).
    """

    def __init__(self, plan: EvalPlan):
        self._plan = plan

    def setup(self):
        self._adapters = {name: plan_lib.load_adapter(spec, self._plan.raw_record_column)
                          for name, spec in self._plan.config.models}
        self._families = self._plan.metric_families()

    def start_bundle(self):
        self._accs: Dict[slicing.SliceKey, ModelAccs] = {}
        self._problems = Problems()
        self._seen: set = set()
        self._rows = 0

    def process(self, element, boundaries):
        path, start, batch = element
        self._seen.update(batch.schema.names)
        self._rows += batch.num_rows
        per_model, kept = plan_lib.model_batches(self._plan, self._adapters, batch, path, start,
                                                 self._problems)
        if kept is not None:
            batch = batch.take(pa.array(kept))
        done = set()  # two specs may yield the same slice ([day] and {day: 3}): count it once
        for spec in self._plan.config.slices:
            groups = slicing.slice_groups(batch, spec, boundaries)
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
        return ()

    def _add(self, key, model: str, accs: List[Any]) -> None:
        # Partials wait in a short list and are merged many at a time, which is cheaper than
        # merging each batch's partial into the running accumulator.
        pending = self._accs.setdefault(key, {}).setdefault(model, [])
        pending.append(accs)
        if len(pending) >= _MERGE_EVERY:
            pending[:] = [self._merge(pending)]

    def _merge(self, pending: List[List[Any]]) -> List[Any]:
        if len(pending) == 1:
            return pending[0]
        return [fam.merge([p[i] for p in pending]) for i, fam in enumerate(self._families)]

    def finish_bundle(self):
        for key, by_model in self._accs.items():
            accs = {model: self._merge(pending) for model, pending in by_model.items()}
            yield window.GlobalWindows.windowed_value((key, accs))
        yield beam.pvalue.TaggedOutput(_DIAGNOSTICS, window.GlobalWindows.windowed_value({
            "problems": self._problems.counts, "features": sorted(self._seen),
            "rows": self._rows}))
        self._accs = {}


class MergeAccumulators(beam.CombineFn):
    """Merges the partial accumulators of one slice.

    Input: {model: [acc per family]}. Output: {model: [acc per family]}.
    """

    def __init__(self, plan: EvalPlan):
        self._plan = plan
        self._families = None

    def _fams(self):
        if self._families is None:
            self._families = self._plan.metric_families()
        return self._families

    def create_accumulator(self):
        return {}

    def add_input(self, acc, element):
        return self.merge_accumulators([acc, element])

    def merge_accumulators(self, accs):
        accs = list(accs)
        out = accs[0]
        for other in accs[1:]:
            for model, fam_accs in other.items():
                if model not in out:
                    out[model] = fam_accs
                else:
                    out[model] = [f.merge([a, b]) for f, a, b in
                                  zip(self._fams(), out[model], fam_accs)]
        return out

    def extract_output(self, acc):
        return acc


class ComputeMetrics(beam.DoFn):
    """Input: (slice key, {model: [acc per family]}).
    Output: (slice key, {model: {"metrics": {...}, "plots": {...}}}).
    """

    def __init__(self, plan: EvalPlan):
        self._plan = plan

    def setup(self):
        self._families = self._plan.metric_families()

    def process(self, element):
        key, accs = element
        out = {}
        for model, fam_accs in accs.items():
            metrics: Dict[str, float] = {}
            plots: Dict[str, Any] = {}
            for fam, acc in zip(self._families, fam_accs):
                metrics.update(_plain(fam.result(acc)))
                plots.update(fam.plots(acc) or {})
            out[model] = {"metrics": metrics, "plots": plots}
        yield key, out


def _plain(values: Dict[str, Any]) -> Dict[str, Any]:
    out = {}
    for k, v in values.items():
        if isinstance(v, np.generic):
            v = v.item()
        out[k] = v
    return out


def _merge_diagnostics(items: Iterable[Dict[str, Any]]) -> Dict[str, Any]:
    items = list(items)
    features = set()
    for d in items:
        features.update(d["features"])
    return {"problems": Problems.merge([d["problems"] for d in items]),
            "features": sorted(features), "rows": sum(d["rows"] for d in items)}


class _WriteStaged(beam.DoFn):
    def __init__(self, path: str):
        self._path = path

    def process(self, value):
        with FileSystems.create(self._path) as f:
            f.write(pickle.dumps(value, protocol=4))


def build_pipeline(p: beam.Pipeline, plan: EvalPlan, staging: str) -> None:
    """Adds the evaluation to pipeline `p`; results are pickled under directory `staging`."""
    files = (p | "Files" >> beam.Create(list(plan.files))
             | "Distribute" >> beam.Reshuffle())
    batches = files | "ReadBatches" >> beam.ParDo(ReadBatches(plan))
    if plan.quantile_features:
        boundaries = beam.pvalue.AsSingleton(
            batches | "SketchQuantiles" >> beam.CombineGlobally(
                SketchQuantileFeatures(plan.quantile_features)))
    else:
        boundaries = {}  # no side input: the pass stays one fused stage
    partials = batches | "AccumulateSlices" >> beam.ParDo(
        AccumulateSlices(plan), boundaries).with_outputs(_DIAGNOSTICS, main="partials")
    _ = (partials.partials
         | "MergePerSlice" >> beam.CombinePerKey(MergeAccumulators(plan))
         | "ComputeMetrics" >> beam.ParDo(ComputeMetrics(plan))
         | "CollectMetrics" >> beam.combiners.ToList()
         | "WriteMetrics" >> beam.ParDo(_WriteStaged(os.path.join(staging, "slices.pickle"))))
    _ = (partials[_DIAGNOSTICS]
         | "MergeDiagnostics" >> beam.CombineGlobally(_merge_diagnostics)
         | "WriteDiagnostics" >> beam.ParDo(
             _WriteStaged(os.path.join(staging, "diagnostics.pickle"))))
    if plan.quantile_features:
        # The quantile boundaries go into the results, so readers know what each bucket holds.
        _ = (p | "BoundariesSeed" >> beam.Create([None])
             | "AttachBoundaries" >> beam.Map(lambda _, b: b, boundaries)
             | "StageBoundaries" >> beam.ParDo(
                 _WriteStaged(os.path.join(staging, "boundaries.pickle"))))


def run_pipeline(plan: EvalPlan, staging: str,
                 beam_pipeline_args: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """Runs the pass; returns {"slices": [(key, per-model results)], "diagnostics": {...}}."""
    options = PipelineOptions(list(beam_pipeline_args or []))
    with beam.Pipeline(options=options) as p:
        build_pipeline(p, plan, staging)

    def load(name, default=None):
        path = os.path.join(staging, name)
        if not FileSystems.exists(path):
            return default
        with FileSystems.open(path) as f:
            return pickle.loads(f.read())

    return {"slices": load("slices.pickle", []),
            "diagnostics": load("diagnostics.pickle", {"problems": {}, "features": [], "rows": 0}),
            "boundaries": load("boundaries.pickle", {})}
