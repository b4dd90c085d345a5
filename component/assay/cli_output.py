"""What the `assay` command line prints: the summary of an evaluation, the logging of the
`assay` logger (-v / -q), and the progress bar on a terminal.

The summary says what was evaluated and how the task was decided, the headline metrics of the
overall slice (counts as integers), where the results and the report are, and the verdict with,
for each failing check, the candidate's and the baseline's values and their difference.

Example:
    >>> format_value("example_count", 3000000.0), format_value("auc", 0.912345678)
    ('3000000', '0.912346')
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from typing import Any, List, Mapping, Optional, Sequence

LOGGER = "assay"
QUIET, NORMAL = -1, 0

# Metrics that count examples (or classes): printed as integers, never as 3e+06.
_COUNT_METRICS = ("example_count", "num_queries", "tp", "fp", "tn", "fn")


def format_value(name: str, value: Any) -> str:
    """A metric value as the summary prints it: counts as integers, others to 6 digits."""
    if isinstance(value, bool) or value is None:
        return str(value)
    base = name.split("@")[0]
    if isinstance(value, (int, float)) and base in _COUNT_METRICS and float(value).is_integer():
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _task_line(result) -> Optional[str]:
    """"  task: binary (inferred from the data: ...)", from the config the result holds."""
    try:
        from assay.config.schema import EvalConfig
        from assay.engine.prepare import describe_task

        cfg = EvalConfig.from_dict(result.config)
        how = describe_task(cfg, result.task, result.info.get("class_names"))
    except Exception:  # noqa: BLE001 - the summary must not fail a finished evaluation
        return None
    return f"  task: {result.task} ({how})"


def _check_line(check: Mapping) -> str:
    """One failing (or inconclusive) check: where, the bound, candidate, baseline, difference."""
    where = ", ".join(f"{k}={v}" for k, v in (check.get("slice") or {}).items()) or "overall"
    model = check.get("model") or "candidate"
    parts = [f"{model} {format_value(check['metric'], check.get('candidate'))}"]
    if check.get("baseline") is not None:
        parts.append(f"baseline {format_value(check['metric'], check['baseline'])}")
    if check.get("change") is not None:
        parts.append(f"difference {check['change']:+.6g}")
    status = str(check.get("status", "fail")).upper()
    bound = f"{check.get('kind')} {check.get('threshold')}"
    return f"    {status} {check['metric']} on {where} ({bound}): {', '.join(parts)}"


def summary(result, report: Optional[str] = None) -> str:
    """The summary of an evaluation (see the module docstring)."""
    from assay.data.files import join
    from assay.metrics.registry import headline_metrics

    lines = [f"assay: {result.task} evaluation written to {result.path}"]
    task = _task_line(result)
    if task:
        lines.append(task)
    try:
        overall = result.metrics()
    except KeyError:
        overall = {}
    shown = [k for k in ("example_count",) + headline_metrics(result.task) if k in overall]
    for k in dict.fromkeys(shown):
        lines.append(f"  overall {k}: {format_value(k, overall[k])}")
    n_slices = len(result.slices())
    withheld = sum(1 for r in result.records if r["model"] == "candidate" and "withheld" in r)
    lines.append(f"  {n_slices} slices ({withheld} withheld below min_slice_size)")
    lines.append(f"  metrics: {join(result.location, 'assay_metrics.json')}")
    lines.append(f"  plots:   {join(result.location, 'assay_plots.json')}")
    if report:
        lines.append(f"  report:  {report}")
    return "\n".join(lines)


def verdict_lines(result) -> List[str]:
    """The verdict, its reasons, and each failing or inconclusive check's values."""
    if result.blessed is None:
        return []
    validation = result.validation or {}
    lines = [f"  verdict: {'BLESSED' if result.blessed else 'NOT_BLESSED'}"]
    failing = [c for c in validation.get("checks", [])
               if c.get("status") in ("fail", "inconclusive") and "metric" in c]
    told = {c.get("reason") for c in failing}  # those are told below, with their values
    lines += [f"    - {r}" for r in validation.get("reasons", []) if r not in told]
    if failing:
        lines.append("  failing checks (candidate, baseline, difference):")
        lines += [_check_line(c) for c in failing]
    return lines


def configure_logging(verbosity: int, stream=None) -> None:
    """Messages of the `assay` logger on stderr: warnings by default, info with -v, debug with
    -vv, errors only with -q. Other libraries' loggers stay at warnings (info with -vv)."""
    level = {QUIET: logging.ERROR, NORMAL: logging.WARNING, 1: logging.INFO}.get(
        verbosity, logging.DEBUG if verbosity > 1 else logging.ERROR)
    logger = logging.getLogger(LOGGER)
    for handler in list(logger.handlers):
        if getattr(handler, "_assay_cli", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._assay_cli = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("assay: %(levelname)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False  # one line per message, not one more from the root's handler
    logging.basicConfig(level=logging.INFO if verbosity > 1 else logging.WARNING)


def examples_total(examples: Sequence[str]) -> Optional[int]:
    """The number of examples in `examples` when it is cheap to know (local Parquet files: their
    metadata), else None (CSV and TFRecord files are counted only by reading them)."""
    try:
        from assay.data.files import is_local
        from assay.data.read import resolve_files

        files = resolve_files(list(examples))
        if not files or not all(is_local(f) and f.endswith((".parquet", ".pq")) for f in files):
            return None
        import pyarrow.parquet as pq

        return sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    except Exception:  # noqa: BLE001 - the bar is a courtesy; the pass reports real errors
        return None


def progress(args, stream=None):
    """A running ProgressBar when `stream` (stderr) is a terminal and not -q; else a no-op."""
    stream = stream or sys.stderr
    if args.verbosity <= QUIET or not getattr(stream, "isatty", lambda: False)():
        return contextlib.nullcontext()
    from assay.progress import ProgressBar

    try:
        import tqdm  # noqa: F401 - a core dependency, but a bar is never worth a failed run
    except ImportError:
        return contextlib.nullcontext()
    from assay.data.files import is_local

    engine = args.engine
    if engine == "auto":  # as assay.api.choose_engine decides
        remote = any(not is_local(str(e)) for e in args.examples or [])
        engine = "beam" if args.beam_pipeline_args or remote else "local"
    return ProgressBar(stream, total=examples_total(args.examples or []),
                       stage=f"evaluating ({engine} engine)")


def schema_command(args) -> int:
    """`assay schema`: the config's JSON Schema, on stdout or to a file."""
    import json

    from assay.config.jsonschema import config_schema

    text = json.dumps(config_schema(), indent=2, allow_nan=False) + "\n"
    if args.output:
        from assay.data.files import write_text

        write_text(args.output, text)
        print(f"assay: JSON Schema of the config written to {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def verbosity_flags(suppress: bool) -> argparse.ArgumentParser:
    """-v / -q, accepted before and after the subcommand (`assay -v evaluate`, `... -q`)."""
    flags = argparse.ArgumentParser(add_help=False)
    default = argparse.SUPPRESS if suppress else 0
    flags.add_argument("-v", "--verbose", action="count", default=default,
                       help="more messages on stderr (the assay logger): -v info, -vv debug")
    flags.add_argument("-q", "--quiet", action="store_true",
                       default=argparse.SUPPRESS if suppress else False,
                       help="no summary and no progress bar; errors only")
    return flags


__all__ = ["configure_logging", "examples_total", "format_value", "progress", "schema_command",
           "summary", "verbosity_flags", "verdict_lines"]
