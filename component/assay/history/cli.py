"""`assay history` and `assay monitor` (added to the `assay` parser by assay.cli).

    assay history [RESULTS_DIR ...] [--mlmd STORE [--mlmd-pipeline NAME]] [--metric M ...]
                  [--all-slices] [--window W] [--k K] [--rule sd|interval]
                  [--json FILE | --json -] [--fail-on-alert]
    assay monitor --config C --examples E --history DIR [--model M] [--run NAME]
                  [--mlmd STORE [--mlmd-pipeline NAME]] [--allow-pickle]

`assay history` prints one row per evaluation (oldest first) and a column per metric (overall
slice unless --all-slices), then the alerts; --json writes the series document instead
(README "Quality over time"). Exit status: 0; 8 with --fail-on-alert when there is an alert.
`assay monitor`: see assay.history.monitor (exit 0, 8 on an alert, 4 on a failed check).
"""

from __future__ import annotations

import sys

from assay import cli_output

EXIT_ALERT = 8  # as assay.history.monitor (not imported here: the parser stays light)


def add_commands(sub) -> None:
    """Adds the `history` and `monitor` subcommands to the `assay` subparsers."""
    hi = sub.add_parser("history", parents=[cli_output.verbosity_flags(True)],
                        help="the series of earlier evaluations, and alerts")
    hi.add_argument("results", nargs="*", metavar="RESULTS_DIR",
                    help="results directories, oldest first (after those of --mlmd)")
    _store_flags(hi, "read the evaluations of a pipeline from ML Metadata")
    hi.add_argument("--metric", action="append", help="only this metric (repeatable)")
    hi.add_argument("--all-slices", action="store_true",
                    help="every slice, not only the overall slice")
    hi.add_argument("--window", type=int, default=5, help="the alert's trailing window")
    hi.add_argument("--k", type=float, default=3.0, help="the band: mean +- k sd")
    hi.add_argument("--rule", choices=("sd", "interval"), default="sd")
    hi.add_argument("--json", metavar="FILE", help="write the series as JSON (- for stdout)")
    hi.add_argument("--fail-on-alert", action="store_true",
                    help=f"exit with status {EXIT_ALERT} when there is an alert")
    hi.set_defaults(func=history_command, parser=hi)

    mo = sub.add_parser("monitor", parents=[cli_output.verbosity_flags(True)],
                        help="evaluate fresh data (labels optional) and append to a history")
    mo.add_argument("--config", required=True, help="YAML or JSON config file")
    mo.add_argument("--examples", required=True, nargs="+", help="the fresh data")
    mo.add_argument("--history", required=True, metavar="DIR",
                    help="the directory of the runs: this run goes to DIR/NAME")
    mo.add_argument("--model", help="the model's path (overrides the config's)")
    mo.add_argument("--run", metavar="NAME", help="this run's name (default: the UTC time)")
    mo.add_argument("--allow-pickle", action="store_true",
                    help="allow loading joblib/pickle models (they run code when loaded)")
    _store_flags(mo, "also record the run in ML Metadata, and read the history from it")
    mo.set_defaults(func=monitor_command, parser=mo)


def _store_flags(parser, what: str) -> None:
    group = parser.add_argument_group("ML Metadata", what)
    group.add_argument("--mlmd", metavar="STORE",
                       help="sqlite:PATH or mysql://user:password@host:port/database")
    group.add_argument("--mlmd-pipeline", metavar="NAME", help="the pipeline (default: assay)")


def history_command(args) -> int:
    from assay.history.config import parse_history
    from assay.history.series import load_series

    if not args.results and not args.mlmd:
        args.parser.error("give results directories, or --mlmd STORE")
    if args.mlmd_pipeline and not args.mlmd:
        args.parser.error("--mlmd-pipeline needs --mlmd")
    raw = {"results": list(args.results), "window": args.window, "k": args.k,
           "rule": args.rule, "metrics": list(args.metric or [])}
    if args.mlmd:
        raw.update(mlmd=args.mlmd, pipeline=args.mlmd_pipeline or "assay")
    config = parse_history(raw)   # the checks of `history:` apply to the flags too
    series = load_series(config=config, overall_only=not args.all_slices)
    if args.json:
        from assay.results.result import dumps

        text = dumps(series.to_dict())
        if args.json == "-":
            sys.stdout.write(text)
        else:
            from assay.data.files import write_text

            write_text(args.json, text)
    if args.json != "-" and args.verbosity > cli_output.QUIET:
        print(series.table(config.metrics, overall_only=not args.all_slices))
    if args.fail_on_alert and series.alerts():
        return EXIT_ALERT
    return 0


def monitor_command(args) -> int:
    from assay.history.monitor import monitor

    examples = args.examples[0] if len(args.examples) == 1 else args.examples
    found = monitor(args.config, examples, args.history, model=args.model, run=args.run,
                    mlmd=args.mlmd, pipeline=args.mlmd_pipeline,
                    allow_pickle=args.allow_pickle)
    if args.verbosity > cli_output.QUIET:
        print(f"assay: monitor run written to {found.path}")
        for message in found.alerts:
            print(f"  ALERT: {message}")
        for reason in found.failed:
            print(f"  FAILED: {reason}")
        if not found.alerts and not found.failed:
            print("  no alerts, no failed checks")
    return found.exit_code


__all__ = ["EXIT_ALERT", "add_commands", "history_command", "monitor_command"]
