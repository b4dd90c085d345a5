"""The Beam graph: one full pass that computes every metric for every slice and model.

    files -> read batches -> extract labels/weights, predict (candidate, baseline)
          -> slice (numpy, per batch) -> partial accumulators per (slice, bundle)
          -> merge per slice -> metrics and plot data -> shards under the scratch location

A Beam element is a batch of thousands of rows; slice keys and accumulators are computed with
numpy on the whole batch, and each bundle emits one small partial accumulator per slice, so the
shuffle carries (slices x bundles) accumulators, never examples. Each slice's results are one
element written by Beam's file sink (`assay.engine.beam_io`), so they reach the driver from
workers on other machines, and no element holds every slice.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.transforms import window

from assay.data.files import join as files_join
from assay.engine import beam_failures, beam_io, passes
from assay.engine.beam_failures import reported
from assay.engine.prepare import load_adapter
from assay.engine.plan import EvalPlan
from assay.errors import StorageError

_DIAGNOSTICS = "diagnostics"
SLICES = "slices"
BOUNDARIES = "boundaries"


class ReadBatches(beam.DoFn):
    """Reads one file, or part of one, into Arrow batches.

    Input: a work unit (plan.work_units()). Output: (path, first row index, pa.RecordBatch).
    """

    def __init__(self, plan: EvalPlan, worker_args: Sequence[str] = ()):
        self._plan = plan
        self._worker_args = tuple(worker_args)

    def setup(self):
        beam_io.set_worker_options(self._worker_args)

    @reported
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

    def __init__(self, plan: EvalPlan, worker_args: Sequence[str] = ()):
        self._plan = plan
        self._worker_args = tuple(worker_args)

    @reported
    def setup(self):
        beam_io.set_worker_options(self._worker_args)  # models may be on s3:// or gs://
        self._adapters = {name: load_adapter(spec, self._plan.raw_record_column)
                          for name, spec in self._plan.config.models}
        self._families = self._plan.pass_families()

    def start_bundle(self):
        self._acc = None

    @reported
    def process(self, element, boundaries):
        if self._acc is None:
            self._acc = passes.SliceAccumulator(self._plan, self._adapters, self._families,
                                                boundaries)
        self._acc.add(element)
        from assay import progress  # the CLI's bar: counts when the runner runs in this process

        progress.examples_read(element[2].num_rows)
        return ()

    @reported
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
            self._families = self._plan.pass_families()
        return self._families

    def create_accumulator(self):
        return {}

    @reported
    def add_input(self, acc, element):
        return passes.merge_partials(self._fams(), [acc, element])

    @reported
    def merge_accumulators(self, accs):
        return passes.merge_partials(self._fams(), accs)

    def extract_output(self, acc):
        return acc


class ComputeMetrics(beam.DoFn):
    """Input: (slice key, {model: [acc per family]}).
    Output: (slice key, {model: {"metrics": {...}, "plots": {...}}}), or (slice key, example
    count) for a slice withheld by min_slice_size: nothing is computed for it.
    """

    def __init__(self, plan: EvalPlan):
        self._plan = plan

    def setup(self):
        self._families = self._plan.pass_families()

    @reported
    def process(self, element):
        key, accs = element
        yield key, passes.slice_result(self._families, key, accs,
                                       self._plan.config.min_slice_size)


def build_pipeline(p: beam.Pipeline, plan: EvalPlan, scratch: str,
                   worker_args: Sequence[str] = ()) -> None:
    """Adds the evaluation to pipeline `p`; its results are written as shards under `scratch`.

    `worker_args`: the pipeline's arguments, handed to the workers' FileSystems (see
    `assay.engine.beam_io.set_worker_options`).
    """
    worker_args = tuple(worker_args)
    files = (p | "Files" >> beam.Create(list(plan.work_units()))
             | "Distribute" >> beam.Reshuffle())
    batches = files | "ReadBatches" >> beam.ParDo(ReadBatches(plan, worker_args))
    if plan.quantile_features:
        boundary_values = batches | "SketchQuantiles" >> beam.CombineGlobally(
            SketchQuantileFeatures(plan.quantile_features))
        boundaries = beam.pvalue.AsSingleton(boundary_values)
        # The quantile boundaries go into the results, so readers know what each bucket holds.
        _ = boundary_values | "WriteBoundaries" >> beam_io.WriteRecords(
            files_join(scratch, BOUNDARIES), worker_args)
    else:
        boundaries = {}  # no side input: the pass stays one fused stage
    partials = batches | "AccumulateSlices" >> beam.ParDo(
        AccumulateSlices(plan, worker_args), boundaries).with_outputs(_DIAGNOSTICS,
                                                                     main="partials")
    # Input: (slice key, partial accumulators). Output: shards of (slice key, results); each
    # slice is one element, so the number of slices is bounded by storage, not by an element.
    _ = (partials.partials
         | "MergePerSlice" >> beam.CombinePerKey(MergeAccumulators(plan))
         | "ComputeMetrics" >> beam.ParDo(ComputeMetrics(plan))
         | "WriteSlices" >> beam_io.WriteRecords(files_join(scratch, SLICES), worker_args))
    # With its default (empty data: 0 rows), so that a pass always writes its diagnostics, and
    # a missing shard means that the driver cannot see where the workers wrote.
    _ = (partials[_DIAGNOSTICS]
         | "MergeDiagnostics" >> beam.CombineGlobally(passes.merge_diagnostics)
         | "WriteDiagnostics" >> beam_io.WriteRecords(files_join(scratch, _DIAGNOSTICS),
                                                      worker_args))


def runner_name(options: PipelineOptions) -> str:
    """The runner the options name, as a person would write it (DirectRunner by default)."""
    runner = options.view_as(StandardOptions).runner or "DirectRunner"
    return runner if isinstance(runner, str) else type(runner).__name__


def run_pipeline(plan: EvalPlan, scratch: str,
                 beam_pipeline_args: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """Runs the pass; returns {"slices": [(key, per-model results)], "diagnostics": {...},
    "boundaries": {...}}.

    The workers write their results under a fresh directory: `scratch`, or one under
    `--temp_location` when `scratch` is local and a temp location is given (see
    `assay.engine.beam_io.scratch_location`); the driver reads them back from there and
    removes it, whatever happens.

    Raises:
      The assay error (DataError, ModelError, ConfigError...) a worker raised, with its message.
      RunnerError: the pipeline failed otherwise (a worker died, the runner failed).
    """
    args = list(beam_pipeline_args or [])
    options = PipelineOptions(args)
    scratch = beam_io.scratch_location(scratch, args)
    try:
        with beam_failures.translated_failures(runner_name(options)):
            with beam.Pipeline(options=options) as p:
                build_pipeline(p, plan, scratch, args)
        beam_io.set_worker_options(args)  # the driver reads the shards with the same options
        diagnostics = list(beam_io.read_records(files_join(scratch, _DIAGNOSTICS)))
        if not diagnostics:
            raise StorageError(
                f"the Beam pipeline finished on {runner_name(options)}, but the results of the "
                f"pass are not in {scratch}: its workers wrote them where this machine cannot "
                f"see (a local path, on a runner whose workers have disks of their own). Give "
                f"--temp_location=<a location both reach: gs://..., s3://..., or a shared "
                f"filesystem>; the pass's intermediate files then go there")
        boundaries = list(beam_io.read_records(files_join(scratch, BOUNDARIES)))
        shared = passes.SharedResults()
        slices = [(key, shared(results))
                  for key, results in beam_io.read_records(files_join(scratch, SLICES))]
        return {"slices": slices,
                "diagnostics": passes.merge_diagnostics(diagnostics),
                "boundaries": boundaries[0] if boundaries else {}}
    finally:
        beam_io.remove_scratch(scratch)
