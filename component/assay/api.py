"""`assay.evaluate`: evaluate a candidate (and a baseline) on example files, write the results.

Example:
    >>> import assay
    >>> result = assay.evaluate(                                    # doctest: +SKIP
    ...     {"label": "label", "models": {"candidate": {"prediction": "p"}},
    ...      "slices": [["hour"]]},
    ...     examples="data/eval-*.tfrecord.gz", output="out/")
    >>> result.metrics()["auc"]                                     # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
import warnings
from typing import Any, Dict, Mapping, Optional, Sequence

from assay.data import files
from assay.results import result as results
from assay.results.publish import StagedOutput
from assay.results.tfma_files import write_tfma_files
from assay.engine.assemble import assemble
from assay import validation
from assay.metrics.registry import declared_directions
from assay.config.schema import ConfigError, EvalConfig
from assay.errors import DataError
from assay.config.binding import ConfigLike, bound_config
from assay.engine.plan import BaselineError, EvalPlan, make_plan
from assay.engine.prepare import check_custom_code
from assay import timings as stage_times

ENGINES = ("auto", "local", "beam")


def load_config(config: ConfigLike) -> EvalConfig:
    """An EvalConfig from an EvalConfig, a dict in the config's YAML form, or a YAML/JSON file.

    Models are bound as `assay.config.binding` says (with no model paths given, a baseline spec
    that has neither path nor prediction is left out).

    Example:
        >>> load_config({"label": "y", "models": {"candidate": {"prediction": "p"}}}).label
        'y'
    """
    return bound_config(config)


def apply_overrides(config: ConfigLike, model: Optional[str] = None,
                    baseline: Optional[str] = None, allow_pickle: bool = False,
                    others: Optional[Mapping[str, str]] = None) -> EvalConfig:
    """The config with the model paths given from outside bound (assay.config.binding's rule,
    shared with the TFX and KFP executors), and the pickle opt-in applied to every model path."""
    cfg = bound_config(config, model, baseline, others)
    if allow_pickle:
        cfg = cfg.replace(models=tuple(
            (n, dataclasses.replace(s, allow_pickle=True) if s.path else s) for n, s in cfg.models))
    return cfg


def _problem_report(problems: Mapping[str, Sequence[Any]]) -> str:
    lines = [f"  - {n} example(s): {what} (first: {example})"
             for what, (n, example) in sorted(problems.items())]
    return "\n".join(lines)


def evaluate(config: ConfigLike, examples: Any, output: Optional[str] = None, *,
             model: Any = None, baseline: Any = None,
             beam_pipeline_args: Optional[Sequence[str]] = None,
             allow_pickle: bool = False, force_bless: Optional[str] = None,
             write_report: bool = True, engine: str = "auto",
             workers: Optional[int] = None,
             allow_custom_code: Optional[Sequence[str]] = None,
             models: Optional[Mapping[str, Any]] = None,
             timings: Optional[str] = None) -> results.EvalResult:
    """Evaluates the config's models on `examples` in one full pass; writes `output` if given.

    Args:
      config: an EvalConfig, its dict form, or a YAML/JSON file.
      examples: a file, directory or glob (or a list of them) of TFRecord, CSV or Parquet data;
        or the data itself: a pandas DataFrame, a pyarrow Table or RecordBatch (evaluated on
        the local engine, see `assay.api_inputs`).
      output: the results directory, a local path or a URI (gs://, s3://, any Beam scheme);
        replaced as a whole when the evaluation succeeds, left untouched (and readable) when it
        fails or is killed (`assay.results.publish`). None (the default): nothing is written;
        the result is in memory, and `result.save(path)` writes it later exactly as `output`
        would have.
      model: the candidate's model: a path (the --model flag), or an object (a fitted
        scikit-learn-API estimator, a Keras model, or a function taking a pandas DataFrame of
        a batch and returning its predictions, see `assay.models.memory`). It replaces the
        config's path and keeps the spec's other keys; a spec reading a prediction column keeps
        reading it; see `assay.config.binding` for the whole rule.
      baseline: the baseline's model (a path or an object, like `model`), bound by the same
        rule; with no baseline spec, the baseline is run like the candidate.
      beam_pipeline_args: passed to Beam's PipelineOptions, e.g.
        ["--direct_num_workers=2", "--direct_running_mode=multi_processing"].
      allow_pickle: allow loading joblib/pickle models (they run code when loaded).
      force_bless: bless whatever the checks say, recording this reason (the --force-bless flag).
      write_report: also write the HTML report, output/report.html.
      engine: what runs the pass. "beam": a Beam pipeline (`assay.engine.beam`) on the runner that
        `beam_pipeline_args` name (the DirectRunner by default). "local": this machine, on
        `workers` forked processes or threads (`assay.engine.local`), local files only. "auto" (the
        default): "beam" when a file is remote (gs://...) or `beam_pipeline_args` ask for more
        than the DirectRunner, "local" otherwise (DirectRunner arguments alone, as TFX
        pipelines give, run locally with --direct_num_workers workers: see
        `assay.engine.runner_args`). Both run the same stages (`assay.engine.passes`) and give the same
        results (up to the order in which float sums are merged). In-memory examples or models
        run on "local" only (Beam is a ConfigError).
      workers: workers of the local engine (default: the cores available).
      models: {name: path or model object} of other named models (benchmarks,
        `--model NAME=PATH`), bound by the candidate's rule; each is evaluated beside the
        candidate, with its diff against the baseline ("diff:NAME", see
        assay.config.model_names).
      allow_custom_code: the modules (and their submodules) whose classes the config's
        custom_metrics may load, e.g. ["mypkg.metrics"] (the --allow-custom-code flag): they run
        code when imported, so a config naming one that is not allowed is a ConfigError.
      timings: a local file path: write there, when the evaluation succeeds, a JSON file of
        where its time went, per stage, in CPU and wall seconds (`assay.timings`; the
        --timings flag). The results do not change.

    Returns:
      The EvalResult: with `output`, read back from it; without, the same result in memory.

    Raises:
      ConfigError, TypeError: the config is invalid or does not fit the data.
      DataError: the data holds invalid values (with counts) or cannot be read.
      StorageError: `output` cannot be written (an existing file, a missing bucket, no
        permission); raised before the pass, with nothing written.

    Example:
        >>> import pandas as pd                                          # doctest: +SKIP
        >>> df = pd.DataFrame({"y": [0, 1, 1, 0], "p": [0.2, 0.8, 0.6, 0.4]})  # doctest: +SKIP
        >>> result = assay.evaluate({"label": "y", "models": {"candidate": {"prediction": "p"}}},
        ...                         df)                                 # doctest: +SKIP
        >>> result.to_dataframe()                                        # doctest: +SKIP
    """
    from assay.api_inputs import memory_inputs, tabular_kind
    from assay.data.options import set_options
    from assay.timings import recording

    if tabular_kind(config):
        raise TypeError(f"assay.evaluate takes the config first and the examples second (got "
                        f"a {tabular_kind(config)} as the config): "
                        f"assay.evaluate(config, examples)")
    set_options(beam_pipeline_args)  # the driver's reads and writes use them too (S3 endpoint...)
    given = {"candidate": model, "baseline": baseline, **dict(models or {})}
    with recording(timings), memory_inputs(examples, given, engine, beam_pipeline_args) as inputs:
        paths = dict(inputs.models)
        cfg = apply_overrides(config, paths.pop("candidate"), paths.pop("baseline"),
                              allow_pickle, paths)
        check_custom_code(cfg, allow_custom_code)  # before any custom module is imported
        return _evaluate(cfg, inputs.examples, inputs.location, output, beam_pipeline_args,
                         force_bless, write_report, engine, workers)


def _evaluate(cfg: EvalConfig, examples: Any, location: str, output: Optional[str],
              beam_pipeline_args: Optional[Sequence[str]], force_bless: Optional[str],
              write_report: bool, engine: str, workers: Optional[int]) -> results.EvalResult:
    """`evaluate` once its inputs are files and model paths (see evaluate for the arguments)."""
    thresholds, options = cfg.validation.thresholds, cfg.validation.options
    if force_bless is not None:
        options = dataclasses.replace(options, force_bless=force_bless)
    baseline_error = None
    try:
        plan = make_plan(cfg, examples)
    except BaselineError as e:
        baseline_error = str(e)
        plan = make_plan(cfg.with_model("baseline", None), examples)
    # Custom metrics may declare the direction that a max_regression on them needs.
    thresholds = validation.with_declared_directions(
        thresholds, declared_directions(plan.metric_families()[1:]))
    chosen = choose_engine(engine, plan.files, beam_pipeline_args, workers)
    from assay.drift.reference import check_reference

    check_reference(cfg)  # an unreadable reference is a ConfigError before the pass
    # With an output, it is staged before the pass: one that cannot be written fails now.
    cores = 1  # the local engine's workers: more than one lets TFMA's files be written meanwhile
    with (StagedOutput(output) if output is not None else contextlib.nullcontext()) as staged:
        if chosen == "local":
            from assay.engine import local

            from assay.engine.runner_args import direct_workers

            cores = workers or direct_workers(beam_pipeline_args) or local.default_workers()
            raw = local.run_local(plan, cores)
        else:
            raw = _run_beam(plan, staged, beam_pipeline_args)
        stage_times.note_pass(raw["diagnostics"], chosen)
        mark = stage_times.driver_begin()  # --timings: records, sections and the verdict
        metrics_doc, plots_doc = build_documents(plan, raw)
        metrics_doc["baseline_error"] = baseline_error
        metrics_doc["engine"] = chosen
        verdict = validation.validate(metrics_doc["records"], thresholds, options,
                                      has_baseline=plan.config.has_baseline,
                                      baseline_error=baseline_error, confidence=cfg.confidence,
                                      sections=metrics_doc)
        documents = ResultDocuments(cfg, metrics_doc, plots_doc, verdict, thresholds, location,
                                    plan.format, helper=chosen == "local" and cores > 1)
        stage_times.driver_end("compute", mark)
        mark = stage_times.driver_begin()
        result = (documents.in_memory() if staged is None
                  else documents.publish(staged, output, write_report))
        stage_times.driver_end("write", mark)
        return result


def _run_beam(plan: EvalPlan, staged: Optional[StagedOutput],
              beam_pipeline_args: Optional[Sequence[str]]) -> Mapping[str, Any]:
    """The pass on Beam. The workers' shards go to the staging's scratch (or under
    --temp_location, which remote workers share), or to a temporary directory without an
    output; run_pipeline removes them, whatever happens."""
    quiet_google_version_warnings()
    from assay.extras import require

    require("apache_beam", "beam", "the Beam engine (engine='beam'; the local engine needs none)")
    from assay.engine import beam as engine

    if staged is None:
        with tempfile.TemporaryDirectory(prefix="assay-pass-") as scratch:
            return engine.run_pipeline(plan, scratch, beam_pipeline_args)
    scratch = getattr(staged, "scratch", None) or os.path.join(staged.path, "_pass")
    return engine.run_pipeline(plan, scratch, beam_pipeline_args)


def quiet_google_version_warnings() -> None:
    """Silences the FutureWarning google.api_core gives at import on Pythons that Google no
    longer supports (once per Google package Beam's gcp modules import: five on Python 3.10).

    It says nothing about the evaluation yet came with every Beam run. The filter is precise
    (that message, from that module), so every other warning still shows.
    """
    warnings.filterwarnings("ignore", message=r"You are using a non-supported Python version",
                            category=FutureWarning,
                            module=r"google\.api_core\._python_version_support")


@dataclasses.dataclass
class ResultDocuments:
    """Everything an evaluation writes, held until it is written (`publish`) or kept in memory
    (`in_memory`: the result's `save` publishes it later, the same way)."""

    cfg: EvalConfig
    metrics_doc: Dict[str, Any]
    plots_doc: Dict[str, Any]
    verdict: Any
    thresholds: Sequence[Any]
    location: str
    format: str
    helper: bool = False  # a second core is the evaluation's: TFMA's files written meanwhile

    def write(self, staged: StagedOutput, tfma: bool = True) -> None:
        """Writes every file of the results directory but the report (and TFMA's files, with
        `tfma` False) into `staged`."""
        from assay.drift.files import SKETCHES_FILE, split_sketches

        metrics_doc, sketches = split_sketches(self.metrics_doc)  # sketches: a file of their own
        staged.write_json(results.METRICS_FILE, metrics_doc)
        if sketches is not None:
            staged.write_json(SKETCHES_FILE, sketches)
        staged.write_json(results.PLOTS_FILE, self.plots_doc)
        staged.write_json(results.CONFIG_FILE, self.cfg.to_dict())
        staged.write_json(results.VALIDATION_FILE, self.verdict.to_dict())
        if tfma:
            self.write_tfma(staged)
        validation.write_blessing(files.join(staged.path, results.BLESSING_DIR), self.verdict)

    def write_tfma(self, staged: StagedOutput) -> None:
        """TFMA's own files, so TFMA's readers and the tools on them read this evaluation."""
        write_tfma_files(staged, self.cfg, self.metrics_doc, self.plots_doc,
                         self.verdict.to_dict(), self.thresholds, self.location, self.format)

    def publish(self, staged: StagedOutput, output: str, write_report: bool = True
                ) -> results.EvalResult:
        """Writes and commits `staged`; returns the result read back from it.

        With a second core (`helper`) and a local output, TFMA's files are written by a forked
        child meanwhile (`assay.forking`, where safe); should it fail, they are written here
        after it, so an error is raised as itself."""
        from assay.forking import ForkedCall, fork_is_safe

        helper = (ForkedCall(lambda: self.write_tfma(staged))
                  if self.helper and not staged.remote and fork_is_safe() else None)
        try:
            self.write(staged, tfma=helper is None)
            # Read back what was written (the result is what a later load_result gives), once.
            result = results.load_result(staged.path)
            result.path, result.location = output, staged.location
            if write_report:
                from assay.report import html as report

                staged.write_text(report.REPORT_FILE, report.render_report(result))
        finally:
            written = helper.join() if helper is not None else True
        if not written:
            self.write_tfma(staged)
        staged.commit()
        return result

    def save(self, output: str, write_report: bool = True) -> results.EvalResult:
        """Publishes the documents to `output`, as evaluate(output=...) does."""
        with StagedOutput(output) as staged:
            return self.publish(staged, output, write_report)

    def in_memory(self) -> results.EvalResult:
        """The result as load_result would read it, written nowhere: it is written to a
        temporary directory and read back, so it is the same in every detail. Its `save`
        writes it."""
        with tempfile.TemporaryDirectory(prefix="assay-result-") as tmp:
            result = self.save(os.path.join(tmp, "result"), write_report=False)
            result.sketches  # read assay_sketches.json now: the directory is deleted next
        result.path = result.location = None
        result.saver = self.save
        return result


def validate(result: Any, config: Optional[ConfigLike] = None, *,
             force_bless: Optional[str] = None) -> "validation.ValidationResult":
    """Judges an evaluation already written against a config's thresholds, without a new pass.

    Use it to see what a stricter (or looser) set of thresholds would have said of a stored
    evaluation. Nothing is written.

    Args:
      result: an EvalResult, or the directory `evaluate` wrote.
      config: the config whose `thresholds` and options apply (an EvalConfig, its dict form or a
        YAML/JSON file); by default the evaluation's own config.json.
      force_bless: bless whatever the checks say, recording this reason.

    Returns:
      The ValidationResult, as validation.json would hold it.

    Example:
        >>> verdict = assay.validate("out/", {"label": "label",              # doctest: +SKIP
        ...     "models": {"candidate": {"prediction": "p"}},
        ...     "thresholds": [{"metric": "auc", "min": 0.9}]})
        >>> verdict.blessed, verdict.reasons                                # doctest: +SKIP
    """
    if not isinstance(result, results.EvalResult):
        result = results.load_result(os.fspath(result))
    if config is None:
        if not result.config:
            raise ConfigError(f"the evaluation in {result.path} has no config.json; give the "
                              f"config to validate against")
        config = dict(result.config)
    cfg = bound_config(config)
    options = cfg.validation.options
    if force_bless is not None:
        options = dataclasses.replace(options, force_bless=force_bless)
    baseline_error = result.info.get("baseline_error")
    has_baseline = any(r.get("model") == "baseline" for r in result.records)
    return validation.validate(result.records, cfg.validation.thresholds, options,
                               has_baseline=has_baseline, baseline_error=baseline_error,
                               confidence=cfg.confidence,
                               sections=dict(result.info, records=result.records))


def choose_engine(engine: str, files: Sequence[str],
                  beam_pipeline_args: Optional[Sequence[str]] = None,
                  workers: Optional[int] = None) -> str:
    """"local" or "beam", for `evaluate`'s `engine` argument; ConfigError when it cannot be."""
    from assay.data.files import is_local

    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)} (got {engine!r})")
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool)
                                or workers < 1):
        raise ConfigError(f"workers must be a positive integer (got {workers!r})")
    remote = [f for f in files if not is_local(f)]
    if engine == "local":
        if beam_pipeline_args:
            # Only the options' names: their values may be credentials (--s3_secret_access_key).
            names = sorted({str(a).split("=", 1)[0] for a in beam_pipeline_args})
            raise ConfigError("engine 'local' takes no Beam pipeline arguments (got "
                             f"{', '.join(names)}); use engine 'beam' or 'auto'")
        if remote:
            raise ConfigError(f"engine 'local' reads local files only (got {remote[0]}); "
                             "use engine 'beam' or 'auto'")
        return "local"
    if engine == "beam":
        if workers is not None:
            raise ConfigError("workers is for the local engine; give Beam's workers in "
                             "beam_pipeline_args (e.g. --direct_num_workers=2)")
        return "beam"
    from assay.engine.runner_args import direct_runner_only  # DirectRunner args: local

    if remote or not direct_runner_only(beam_pipeline_args):
        if workers is not None:
            raise ConfigError("workers is for the local engine, and this evaluation runs on "
                             "Beam (Beam pipeline arguments or remote files); give Beam's "
                             "workers in beam_pipeline_args (e.g. --direct_num_workers=2)")
        return "beam"
    return "local"


def build_documents(plan: EvalPlan, raw: Mapping[str, Any]):
    """The metrics and plots documents from the pass's raw output; raises on invalid data."""
    cfg = plan.config
    diag = raw["diagnostics"]
    if not diag["rows"]:
        raise DataError(f"no examples at all in {', '.join(plan.files[:5])}")
    seen = set(diag["features"])
    for spec in cfg.slices:
        for feature in spec.features:
            if feature not in seen:
                names = sorted(f for f in seen if not f.startswith("__assay"))
                raise ConfigError(f"slice feature '{feature}' (in slices: {spec.name}) is in no "
                                  f"example (features: {', '.join(names)})")
    problems = diag["problems"]
    if problems and cfg.invalid_values == "error":
        total = diag["rows"]
        raise DataError(
            f"invalid values in the data ({total} examples read); nothing was written:\n"
            f"{_problem_report(problems)}\n"
            f"Fix the data, or set invalid_values: skip to leave these examples out (they are "
            f"then counted in the results).")
    models = [n for n, _ in cfg.models]
    records, plot_records = assemble(
        raw["slices"], [s.features for s in cfg.slices], models, cfg.min_slice_size,
        cfg.metrics)
    metrics_doc = {
        "version": results.FORMAT_VERSION,
        "task": plan.task,
        "class_names": list(plan.class_names) if plan.class_names else None,
        "models": {n: (s.path or {"prediction": s.prediction}) for n, s in cfg.models},
        "slicing_specs": [{"name": s.name, "spec": s.to_config()} for s in cfg.slices],
        "min_slice_size": cfg.min_slice_size,
        "examples_read": diag["rows"],
        "skipped_examples": {what: n for what, (n, _) in problems.items()},
        "quantile_boundaries": {k: list(v) for k, v in raw.get("boundaries", {}).items()},
        "records": records,
    }
    if cfg.fairness is not None and plan.task == "binary":  # assay.metrics.group_fairness
        from assay.metrics.group_fairness import fairness_section

        metrics_doc["fairness"] = fairness_section(records, cfg.fairness, models)
    from assay.metrics.fairness_spread import add_spread_intervals  # with `confidence:`
    add_spread_intervals(metrics_doc, raw["slices"], cfg)
    from assay.engine import extensions  # discovered slices, drift...: sections of their own

    metrics_doc.update(extensions.sections(plan, diag.get("extensions") or {}, metrics_doc))
    return metrics_doc, {"version": results.FORMAT_VERSION, "records": plot_records}
