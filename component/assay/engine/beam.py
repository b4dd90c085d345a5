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
from typing import Any, Dict, Iterable, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.transforms import window

from assay.engine import passes
from assay.engine.prepare import load_adapter
from assay.engine.plan import EvalPlan

_DIAGNOSTICS = "diagnostics"


class ReadBatches(beam.DoFn):
    """Reads one file, or part of one, into Arrow batches.

    Input: a work unit (plan.work_units()). Output: (path, first row index, pa.RecordBatch).
    """

    def __init__(self, plan: EvalPlan):
        self._plan = plan

    def process(self, unit) -> Iterable[passes.Element]:
        return passes.read_file(self._plan, tuple(unit))


class SketchQuantileFeatures(beam.CombineFn):
    """Quantile sketches of the features sliced by quantiles.

    Input: (path, row, batch). Output: {feature: bucket boundaries}.
    """

    def __init__(self, features: Sequence[Tuple[str, int]]):
        self._features = tuple(features)

    def create_accumulator(self):
        return passes.sketch_create(self._features)

    def add_input(self, acc, element):
        return passes.sketch_add(acc, element[2])

    def merge_accumulators(self, accs):
        return passes.sketch_merge(accs)

    def extract_output(self, acc):
        return passes.sketch_boundaries(acc, self._features)


class AccumulateSlices(beam.DoFn):
    """Predicts, slices and accumulates each batch; emits one partial per slice per bundle.

    Input: (path, row, batch). Output: (slice key, {model: [accumulator per family]}), and on the
    'diagnostics' tag one dict per bundle (invalid values, features seen, rows read).
    """

    def __init__(self, plan: EvalPlan):
        self._plan = plan

    def setup(self):
        self._adapters = {name: load_adapter(spec, self._plan.raw_record_column)
                          for name, spec in self._plan.config.models}
        self._families = self._plan.metric_families()

    def start_bundle(self):
        self._acc = None

    def process(self, element, boundaries):
        if self._acc is None:
            self._acc = passes.SliceAccumulator(self._plan, self._adapters, self._families,
                                                boundaries)
        self._acc.add(element)
        return ()

    def finish_bundle(self):
        if self._acc is None:
            return
        for key_accs in self._acc.partials():
            yield window.GlobalWindows.windowed_value(key_accs)
        yield beam.pvalue.TaggedOutput(
            _DIAGNOSTICS, window.GlobalWindows.windowed_value(self._acc.diagnostics()))
        self._acc = None


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
        return passes.merge_partials(self._fams(), [acc, element])

    def merge_accumulators(self, accs):
        return passes.merge_partials(self._fams(), accs)

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
        yield key, passes.compute_slice(self._families, accs)


class _WriteStaged(beam.DoFn):
    def __init__(self, path: str):
        self._path = path

    def process(self, value):
        with FileSystems.create(self._path) as f:
            f.write(pickle.dumps(value, protocol=4))


def build_pipeline(p: beam.Pipeline, plan: EvalPlan, staging: str) -> None:
    """Adds the evaluation to pipeline `p`; results are pickled under directory `staging`."""
    files = (p | "Files" >> beam.Create(list(plan.work_units()))
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
         # without_defaults: the default-value path would pass the whole list through a side
         # input, whose size Beam's state cache measures object by object (about a second).
         | "CollectMetrics" >> beam.CombineGlobally(
             beam.combiners.ToListCombineFn()).without_defaults()
         | "WriteMetrics" >> beam.ParDo(_WriteStaged(os.path.join(staging, "slices.pickle"))))
    _ = (partials[_DIAGNOSTICS]
         | "MergeDiagnostics" >> beam.CombineGlobally(passes.merge_diagnostics).without_defaults()
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
            "diagnostics": load("diagnostics.pickle", dict(passes.EMPTY_DIAGNOSTICS)),
            "boundaries": load("boundaries.pickle", {})}
