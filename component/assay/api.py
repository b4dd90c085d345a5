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

import dataclasses
import os
from typing import Any, Mapping, Optional, Sequence

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


def evaluate(config: ConfigLike, examples: Any, output: str, *, model: Optional[str] = None,
             baseline: Optional[str] = None, beam_pipeline_args: Optional[Sequence[str]] = None,
             allow_pickle: bool = False, force_bless: Optional[str] = None,
             write_report: bool = True, engine: str = "auto",
             workers: Optional[int] = None,
             allow_custom_code: Optional[Sequence[str]] = None,
             models: Optional[Mapping[str, str]] = None) -> results.EvalResult:
    """Evaluates the config's models on `examples` in one full pass; writes `output`.

    Args:
      config: an EvalConfig, its dict form, or a YAML/JSON file.
      examples: a file, directory or glob (or a list of them) of TFRecord, CSV or Parquet data.
      output: the results directory, a local path or a URI (gs://, s3://, any Beam scheme);
        replaced as a whole when the evaluation succeeds, left untouched (and readable) when it
        fails or is killed (`assay.results.publish`).
      model: the candidate's model path (the --model flag): it replaces the config's path and
        keeps the spec's other keys; a spec reading a prediction column keeps reading it; see
        `assay.config.binding` for the whole rule.
      baseline: the baseline's model path (the --baseline flag), bound by the same rule; with no
        baseline spec, the baseline is run like the candidate.
      beam_pipeline_args: passed to Beam's PipelineOptions, e.g.
        ["--direct_num_workers=2", "--direct_running_mode=multi_processing"].
      allow_pickle: allow loading joblib/pickle models (they run code when loaded).
      force_bless: bless whatever the checks say, recording this reason (the --force-bless flag).
      write_report: also write the HTML report, output/report.html.
      engine: what runs the pass. "beam": a Beam pipeline (`assay.engine.beam`) on the runner that
        `beam_pipeline_args` name (the DirectRunner by default). "local": this machine, on
        `workers` forked processes or threads (`assay.engine.local`), local files only. "auto" (the
        default): "beam" when `beam_pipeline_args` are given or a file is remote (gs://...),
        "local" otherwise. Both run the same stages (`assay.engine.passes`) and give the same
        results (up to the order in which float sums are merged).
      workers: workers of the local engine (default: the cores available).
      models: {name: path} of other named models (benchmarks, `--model NAME=PATH`), bound by
        the candidate's rule; each is evaluated beside the candidate, with its diff against the
        baseline ("diff:NAME", see assay.config.model_names).
      allow_custom_code: the modules (and their submodules) whose classes the config's
        custom_metrics may load, e.g. ["mypkg.metrics"] (the --allow-custom-code flag): they run
        code when imported, so a config naming one that is not allowed is a ConfigError.

    Returns:
      The EvalResult read back from `output`.

    Raises:
      ConfigError, TypeError: the config is invalid or does not fit the data.
      DataError: the data holds invalid values (with counts) or cannot be read.
      StorageError: `output` cannot be written (an existing file, a missing bucket, no
        permission); raised before the pass, with nothing written.
    """
    from assay.data.options import set_options
    set_options(beam_pipeline_args)  # the driver's reads and writes use them too (S3 endpoint...)
    cfg = apply_overrides(config, model, baseline, allow_pickle, models)
    check_custom_code(cfg, allow_custom_code)  # before any custom module is imported
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
    with StagedOutput(output) as staged:
        if chosen == "local":
            from assay.engine import local

            raw = local.run_local(plan, workers)
        else:
            from assay.engine import beam as engine

            # The workers' shards go to the staging's scratch (or under --temp_location, which
            # remote workers share); run_pipeline removes them, whatever happens.
            scratch = getattr(staged, "scratch", None) or os.path.join(staged.path, "_pass")
            raw = engine.run_pipeline(plan, scratch, beam_pipeline_args)
        metrics_doc, plots_doc = build_documents(plan, raw)
        metrics_doc["baseline_error"] = baseline_error
        metrics_doc["engine"] = chosen
        verdict = validation.validate(metrics_doc["records"], thresholds, options,
                                      has_baseline=plan.config.has_baseline,
                                      baseline_error=baseline_error)
        staged.write_json(results.METRICS_FILE, metrics_doc)
        staged.write_json(results.PLOTS_FILE, plots_doc)
        staged.write_json(results.CONFIG_FILE, cfg.to_dict())
        staged.write_json(results.VALIDATION_FILE, verdict.to_dict())
        # TFMA's own files too, so TFMA's readers and the tools on them read this evaluation.
        write_tfma_files(staged, cfg, metrics_doc, plots_doc, verdict.to_dict(), thresholds,
                         _data_location(examples), plan.format)
        validation.write_blessing(files.join(staged.path, results.BLESSING_DIR), verdict)
        # Read back what was written (the result is what a later load_result gives), once.
        result = results.load_result(staged.path)
        result.path, result.location = output, staged.location
        if write_report:
            from assay.report import html as report

            staged.write_text(report.REPORT_FILE, report.render_report(result))
        staged.commit()
    return result


def _data_location(examples: Any) -> str:
    """The examples as given, for TFMA's eval_config.json (display only)."""
    if isinstance(examples, (list, tuple)):
        return ",".join(os.fspath(e) for e in examples)
    return os.fspath(examples)


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
                               has_baseline=has_baseline, baseline_error=baseline_error)


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
    if beam_pipeline_args or remote:
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
    return metrics_doc, {"version": results.FORMAT_VERSION, "records": plot_records}
