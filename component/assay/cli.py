"""The `assay` command line.

    assay evaluate --config C --examples E [--model M] [--baseline B] --output DIR
                   [--model NAME=PATH ...]     other named (benchmark) models
                   [--beam-pipeline-args "--direct_num_workers=2 ..."] [--allow-pickle]
                   [--allow-custom-code MODULE[,MODULE]] [--timings PATH]
                   [--mlmd sqlite:PATH | mysql://user:pass@host:port/db [--mlmd-pipeline NAME]
                    [--baseline latest-blessed] [--model-artifact-id N]
                    [--baseline-artifact-id N] [--examples-artifact-id N [N ...]]]
    assay report RESULTS_DIR [-o report.html]
    assay report --compare DIR1 DIR2 ... [-o compare.html] [--labels L1 L2 ...]
    assay schema [-o schema.json]          the JSON Schema of the config
    assay --version;  -v / -vv (info, debug on stderr), -q (errors only), before or after
    the subcommand; a progress bar on stderr when it is a terminal

Exit status (from assay.errors' exception tree, nothing else): 0 done; 2 bad usage or config;
3 bad data or model; 4 NOT_BLESSED with --fail-on-not-blessed; 5 ML Metadata could not be read
or written; 6 a location could not be read or written; 70 an internal error of assay (a bug:
one short paragraph on stderr, the traceback in the crash report file it names).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shlex
import sys
import traceback
import warnings
from typing import List, Optional, Sequence

# The exit codes are re-exported: scripts and tests compare statuses with cli.EXIT_*.
from assay.errors import (EXIT_BUG, EXIT_DATA, EXIT_METADATA, EXIT_NOT_BLESSED,  # noqa: F401
                          EXIT_OK, EXIT_STORAGE, EXIT_USAGE, AssayError, ConfigError, exit_code)

from assay import cli_output

EXIT_MLMD = EXIT_METADATA  # the name earlier versions exported
_LOG = logging.getLogger("assay.cli")
LATEST_BLESSED = "latest-blessed"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _beam_args(values: Optional[Sequence[str]]) -> List[str]:
    out: List[str] = []
    for v in values or []:
        out.extend(shlex.split(v))
    return out


def _mlmd_usage(args) -> Optional[str]:
    """What is wrong with the ML Metadata flags, or None."""
    needs_store = [flag for flag, given in (
        ("--baseline latest-blessed", args.baseline == LATEST_BLESSED),
        ("--mlmd-pipeline", args.mlmd_pipeline is not None),
        ("--model-artifact-id", args.model_artifact_id is not None),
        ("--baseline-artifact-id", args.baseline_artifact_id is not None),
        ("--examples-artifact-id", bool(args.examples_artifact_id))) if given]
    if needs_store and not args.mlmd:
        return f"{needs_store[0]} needs --mlmd (the ML Metadata store to use)"
    if args.baseline == LATEST_BLESSED and args.baseline_artifact_id is not None:
        return "give --baseline latest-blessed or --baseline-artifact-id, not both"
    if not args.examples and not args.examples_artifact_id:
        return "the following arguments are required: --examples"
    return None


def _mlmd_inputs(store, args) -> dict:
    """The model, baseline, examples and config to evaluate, with what ML Metadata adds: paths
    of artifacts given by id, and the latest blessed model for --baseline latest-blessed."""
    import assay
    from assay import mlmd

    pipeline = args.mlmd_pipeline or mlmd.DEFAULT_PIPELINE
    out = {"config": args.config, "model": args.model, "baseline": args.baseline,
           "examples": args.examples, "baseline_id": args.baseline_artifact_id}
    if args.model is None and args.model_artifact_id is not None:
        out["model"] = mlmd.get_artifact(store, args.model_artifact_id, mlmd.MODEL).uri
    if args.baseline == LATEST_BLESSED:
        found = mlmd.latest_blessed_model(store, pipeline)
        if found is None:
            print(f"assay: pipeline '{pipeline}' has no blessed model in ML Metadata; evaluating "
                  f"without a baseline (a first model)")
            out["baseline"] = None
            out["config"] = assay.load_config(args.config).with_model("baseline", None)
        else:
            print(f"assay: baseline: the latest blessed model of pipeline '{pipeline}', "
                  f"artifact {found.model_id} at {found.uri} (blessing {found.blessing_id})")
            out["baseline"], out["baseline_id"] = found.uri, found.model_id
    elif args.baseline is None and args.baseline_artifact_id is not None:
        out["baseline"] = mlmd.get_artifact(store, args.baseline_artifact_id, mlmd.MODEL).uri
    if not args.examples:
        out["examples"] = [mlmd.get_artifact(store, i, mlmd.EXAMPLES).uri
                           for i in args.examples_artifact_id]
    return out


def _cmd_evaluate(args) -> int:
    import assay

    problem = _split_models(args) or _mlmd_usage(args)
    if problem:
        args.parser.error(problem)
    store, inputs = None, {"config": args.config, "model": args.model,
                           "baseline": args.baseline, "examples": args.examples}
    if args.mlmd:
        from assay import mlmd

        store = mlmd.connect(args.mlmd)
        inputs = _mlmd_inputs(store, args)
    if args.reference is not None or store is not None:  # assay.drift: --reference, from MLMD
        from assay.drift.reference import cli_reference

        inputs["config"] = cli_reference(inputs["config"], args.reference, store,
                                         args.mlmd_pipeline)

    _LOG.info("evaluating %s on %s", inputs["config"], ", ".join(map(str, inputs["examples"])))
    with cli_output.progress(args):
        result = assay.evaluate(inputs["config"], inputs["examples"], args.output,
                                model=inputs["model"], baseline=inputs["baseline"],
                                beam_pipeline_args=_beam_args(args.beam_pipeline_args),
                                allow_pickle=args.allow_pickle, force_bless=args.force_bless,
                                allow_custom_code=args.allow_custom_code,
                                engine=args.engine, workers=args.workers,
                                models=args.other_models, timings=args.timings)
    if args.verbosity > cli_output.QUIET:
        from assay.data.files import join
        from assay.report.html import REPORT_FILE

        print(cli_output.summary(result, join(result.location, REPORT_FILE)))
        for line in cli_output.verdict_lines(result):
            print(line)
    if store is not None:
        try:
            _record(store, args, inputs, result)
        except AssayError as e:
            # The results are complete on disk: say where, so the run need not be repeated.
            print(f"assay: error: the results are in {result.path}, but recording them in ML "
                  f"Metadata failed: {e}", file=sys.stderr)
            return exit_code(e)
    if result.blessed is not None and args.fail_on_not_blessed and not result.blessed:
        return EXIT_NOT_BLESSED
    return EXIT_OK


def _split_models(args) -> Optional[str]:
    """Sorts the --model flags: PATH (the candidate's) or NAME=PATH (a named model; NAME a model
    name, so a path holding '=' such as gs://b/k=v stays a path). Sets args.model (the
    candidate's path or None), args.baseline (from baseline=PATH) and args.other_models; returns
    a usage problem or None."""
    args.other_models = {}
    given, args.model = list(args.model or []), None
    for item in given:
        name, eq, path = item.partition("=")
        if not eq or not _MODEL_NAME.match(name):
            name, path = "candidate", item
        if not path:
            return f"--model {item}: give a path after '{name}='"
        if name == "baseline":
            if args.baseline is not None:
                return "give the baseline once: --baseline PATH or --model baseline=PATH"
            args.baseline = path
        elif name == "candidate":
            if args.model is not None:
                return "give the candidate's model once: --model PATH or --model candidate=PATH"
            args.model = path
        elif name in args.other_models:
            return f"--model {name}=... is given twice"
        else:
            args.other_models[name] = path
    return None


_MODEL_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")  # as assay.config.model_names


def _record(store, args, inputs, result) -> None:
    """Records the evaluation in ML Metadata (as a TFX Evaluator run) and says what it wrote."""
    from assay import mlmd

    recorded = mlmd.record_evaluation(
        store, result, examples=inputs["examples"],
        model_id=args.model_artifact_id if args.model is None else None,
        baseline_id=inputs.get("baseline_id"),
        examples_ids=args.examples_artifact_id if not args.examples else (),
        pipeline=args.mlmd_pipeline or mlmd.DEFAULT_PIPELINE)
    print(f"  ML Metadata: execution {recorded.execution_id}, ModelEvaluation "
          f"{recorded.evaluation_id}, ModelBlessing {recorded.blessing_id} "
          f"(pipeline '{recorded.pipeline}', run '{recorded.run_id}')")


def _mlmd_evaluations(args):
    """Results directories and labels of a pipeline's evaluations in ML Metadata, oldest first."""
    from assay import mlmd
    from assay.results.result import has_result

    pipeline = args.mlmd_pipeline or mlmd.DEFAULT_PIPELINE
    dirs, labels = [], []
    for artifact in mlmd.evaluations(mlmd.connect(args.mlmd), pipeline):
        if has_result(artifact.uri):
            dirs.append(artifact.uri)
            labels.append(f"evaluation {artifact.id}")
        else:
            print(f"assay: skipping ModelEvaluation {artifact.id} at {artifact.uri}: it holds "
                  f"no assay results")
    if not dirs:
        raise ConfigError(f"pipeline '{pipeline}' has no assay evaluations in ML Metadata "
                          f"{mlmd.redact(args.mlmd)}")
    return dirs, labels


def _cmd_report(args) -> int:
    from assay.report import html as report

    if args.mlmd:
        if args.results or args.compare:
            args.parser.error("give --mlmd, or results directories, not both")
        args.compare, args.labels = _mlmd_evaluations(args)
    if bool(args.results) == bool(args.compare):
        args.parser.error("give one results directory, or --compare DIR1 DIR2 ...")
    if args.labels and (not args.compare or len(args.labels) != len(args.compare)):
        args.parser.error("--labels names the results of --compare, one label per directory")
    from assay.results.result import load_result  # the report takes results, not paths

    if args.compare:
        path = report.write_report([load_result(d) for d in args.compare],
                                   args.output or "compare.html", labels=args.labels)
    else:
        path = report.write_report(load_result(args.results), args.output)
    if args.verbosity > cli_output.QUIET:
        print(f"assay: report written to {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The `assay` argument parser: the `evaluate`, `report` and `schema` subcommands."""
    import assay

    parser = argparse.ArgumentParser(prog="assay", parents=[cli_output.verbosity_flags(False)],
                                     description=("Evaluate a candidate model against a "
                                                  "baseline, overall and slice by slice."))
    parser.add_argument("--version", action="version",
                        version=f"assay {assay.__version__} (Python {sys.version.split()[0]})")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_evaluate(sub)
    _add_report(sub)
    from assay.history.cli import add_commands  # `assay history`, `assay monitor`

    add_commands(sub)
    sc = sub.add_parser("schema", parents=[cli_output.verbosity_flags(True)],
                        help="print the JSON Schema of the config file")
    sc.add_argument("-o", "--output", help="write it to this file instead of stdout")
    sc.set_defaults(func=cli_output.schema_command, parser=sc)
    return parser


def _add_evaluate(sub) -> None:
    ev = sub.add_parser("evaluate", help="evaluate models on example files",
                        parents=[cli_output.verbosity_flags(True)])
    ev.add_argument("--config", required=True, help="YAML or JSON config file")
    # Required unless --examples-artifact-id names them (checked in _mlmd_usage).
    ev.add_argument("--examples", nargs="+",
                    help="TFRecord/CSV/Parquet file(s), directory or glob")
    ev.add_argument("--output", required=True,
                    help="results directory: a local path or a URI (gs://, s3://, ...); "
                         "replaced whole when the evaluation succeeds, untouched otherwise")
    ev.add_argument("--model", action="append", metavar="[NAME=]PATH",
                    help="candidate model path (overrides the config's); NAME=PATH gives the "
                         "path of another named model (a benchmark such as previous=DIR), "
                         "evaluated beside the candidate; repeatable")
    ev.add_argument("--baseline", help="baseline model path (overrides the config's), or "
                    "latest-blessed: the latest blessed model in ML Metadata (needs --mlmd)")
    ev.add_argument("--beam-pipeline-args", action="append", metavar="ARGS",
                    help="arguments for Beam's PipelineOptions, e.g. "
                         "'--direct_num_workers=2 --direct_running_mode=multi_processing'")
    ev.add_argument("--engine", choices=("auto", "local", "beam"), default="auto",
                    help="what runs the pass: beam (a Beam pipeline, on the runner the Beam "
                         "arguments name), local (this machine, --workers processes or "
                         "threads; local files only) or auto (the default: beam when Beam "
                         "arguments are given or a file is remote, local otherwise); both "
                         "give the same results")
    ev.add_argument("--workers", type=_positive_int, metavar="N",
                    help="workers of the local engine (default: the cores available)")
    ev.add_argument("--allow-pickle", action="store_true",
                    help="allow loading joblib/pickle models (they run code when loaded)")
    ev.add_argument("--allow-custom-code", action="append", metavar="MODULE[,MODULE]",
                    help="allow the config's custom_metrics to load classes from these modules "
                         "(and their submodules); importing them runs their code")
    ev.add_argument("--force-bless", metavar="REASON",
                    help="bless the candidate whatever the checks say; the reason is recorded")
    ev.add_argument("--reference", metavar="DIR|latest-blessed|previous",
                    help="measure drift against this earlier evaluation (overrides the "
                         "config's reference:; latest-blessed and previous need --mlmd)")
    ev.add_argument("--timings", metavar="PATH",
                    help="write a JSON file of where the run's time went: CPU and wall seconds "
                         "per stage (read, predict, accumulate, merge, compute, write)")
    ev.add_argument("--fail-on-not-blessed", action="store_true",
                    help=f"exit with status {EXIT_NOT_BLESSED} when the verdict is NOT_BLESSED")
    _add_mlmd_flags(ev)
    ev.set_defaults(func=_cmd_evaluate, parser=ev)


def _add_mlmd_flags(ev) -> None:
    mlmd = ev.add_argument_group("ML Metadata", "record the evaluation (ModelEvaluation, "
                                 "ModelBlessing, execution, lineage) as a TFX Evaluator would")
    mlmd.add_argument("--mlmd", metavar="STORE",
                      help="sqlite:PATH or mysql://user:password@host:port/database")
    mlmd.add_argument("--mlmd-pipeline", metavar="NAME",
                      help="the pipeline context to record in and to find the latest blessed "
                           "model in (default: assay)")
    mlmd.add_argument("--model-artifact-id", type=int, metavar="ID",
                      help="the candidate's Model artifact (its URI is the model path unless "
                           "--model is given)")
    mlmd.add_argument("--baseline-artifact-id", type=int, metavar="ID",
                      help="the baseline's Model artifact (its URI is the baseline path unless "
                           "--baseline is given)")
    mlmd.add_argument("--examples-artifact-id", type=int, nargs="+", metavar="ID",
                      help="the Examples artifact(s) (their URIs are read unless --examples is "
                           "given)")


def _add_report(sub) -> None:
    rp = sub.add_parser("report", help="write the HTML report of a result, or compare several",
                        parents=[cli_output.verbosity_flags(True)],
                        description="Writes one self-contained HTML page (it needs no network).")
    rp.add_argument("results", nargs="?", metavar="RESULTS_DIR",
                    help="a results directory (default output: RESULTS_DIR/report.html)")
    rp.add_argument("--compare", nargs="+", metavar="DIR",
                    help="several results directories, oldest first: metrics over time, and "
                         "the full report of the last (default output: compare.html)")
    rp.add_argument("--mlmd", metavar="STORE",
                    help="compare the evaluations of one pipeline recorded in ML Metadata "
                         "(sqlite:PATH or mysql://...), oldest first")
    rp.add_argument("--mlmd-pipeline", metavar="NAME",
                    help="the pipeline whose evaluations --mlmd compares (default: assay)")
    rp.add_argument("-o", "--output", help="the HTML file to write")
    rp.add_argument("--labels", nargs="+", metavar="LABEL",
                    help="names of the --compare results (default: their directory names)")
    rp.set_defaults(func=_cmd_report, parser=rp)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`assay ...`: runs a subcommand; returns the exit status (see the module docstring)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.verbosity = cli_output.QUIET if args.quiet else args.verbose
    cli_output.configure_logging(args.verbosity)
    # Google's client libraries (imported with Beam) warn on import about Python 3.10's support
    # window, once per library: noise in every run's output that users cannot act on.
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\.api_core\.")
    command = ["assay", *(sys.argv[1:] if argv is None else argv)]
    return run_command(args.func, args, argv=command)


def run_command(func, *args, argv: Optional[Sequence[str]] = None) -> int:
    """Runs `func(*args)`; an error of assay's tree is one line on stderr and its exit code.

    Anything else is a bug in assay, not the user's input: stderr gets one short paragraph (the
    exception's type and message, and the crash report's path), the traceback goes to a crash
    report file (`write_crash_report`), and the exit status is EXIT_BUG (70). `argv` is the
    command line for the report (default: sys.argv). Shared by the container's KFP mode.
    """
    try:
        return func(*args)
    except AssayError as e:
        print(f"assay: error: {e}", file=sys.stderr)
        return exit_code(e)
    except BrokenPipeError:  # `assay ... | head`: the reader left early; not a bug of assay
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):  # no real stdout (captured): nothing left to silence
            pass
        return EXIT_OK
    except Exception as e:  # noqa: BLE001 - the one place that reports bugs as bugs
        message = " ".join(str(e).split()) or "(no message)"
        if len(message) > 300:
            message = message[:297] + "..."
        try:
            where = f"the traceback is in {write_crash_report(e, argv)}"
        except Exception as failed:  # noqa: BLE001 - the report must not hide the bug
            traceback.print_exc()
            where = (f"the traceback is above (the crash report could not be written: "
                     f"{failed})")
        print(f"assay: internal error: {type(e).__name__}: {_redact_text(message)}\n"
              f"  This is a bug in assay, not a problem with the input; {where}. Please report "
              f"it with that file (exit status {EXIT_BUG}).", file=sys.stderr)
        return EXIT_BUG


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"',;]+")
_SECRET_FLAG = re.compile(r"(?i)(--?[\w.-]*(?:secret|password|passwd|token|credential)"
                          r"[\w.-]*(?:=|\s+|\"\s*,\s*\"))([^\s\"',]+)")


def _redact_text(text: str) -> str:
    """`text` with passwords of URLs (ML Metadata, object stores) and values of secret-looking
    flags (--aws_secret_access_key=...) replaced by ***."""
    from assay.mlmd.uri import redact  # no ml-metadata needed: crash reports on the core too

    def url(m):
        try:
            return redact(m.group(0))
        except ValueError:  # not a URL urlsplit can parse: hide any user:password@ part
            return re.sub(r"://([^/@:]*):[^/@]*@", r"://\1:***@", m.group(0))

    return _SECRET_FLAG.sub(r"\1***", _URL.sub(url, text))


def write_crash_report(error: BaseException, argv: Optional[Sequence[str]] = None) -> str:
    """Writes the report of an internal error to a new file in the system's temporary directory
    (assay-crash-YYYYmmdd-HHMMSS-PID-XXXX.txt): the command line (secrets redacted), assay's
    and Python's versions, and the traceback. Returns the file's path."""
    import datetime
    import platform
    import tempfile

    import assay

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    command = list(sys.argv if argv is None else argv)
    fd, path = tempfile.mkstemp(prefix=f"assay-crash-{stamp}-{os.getpid()}-", suffix=".txt")
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(f"assay internal error (a bug in assay), {datetime.datetime.now().isoformat()}\n"
                f"command: {_redact_text(shlex.join(str(a) for a in command))}\n"
                f"assay {assay.__version__}, Python {platform.python_version()} "
                f"({platform.platform()})\n\n{_redact_text(text)}")
    return path


if __name__ == "__main__":
    sys.exit(main())
