"""The `assay` command line.

    assay evaluate --config C --examples E [--model M] [--baseline B] --output DIR
                   [--beam-pipeline-args "--direct_num_workers=2 ..."] [--allow-pickle]

Exit status: 0 done; 2 bad usage or config; 3 bad data or model; 4 NOT_BLESSED with
--fail-on-not-blessed.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
from typing import List, Optional, Sequence

EXIT_USAGE = 2
EXIT_DATA = 3
EXIT_NOT_BLESSED = 4


def _beam_args(values: Optional[Sequence[str]]) -> List[str]:
    out: List[str] = []
    for v in values or []:
        out.extend(shlex.split(v))
    return out


def _summary(result) -> str:
    lines = [f"assay: {result.task} evaluation written to {result.path}"]
    try:
        overall = result.metrics()
    except KeyError:
        overall = {}
    shown = [k for k in ("example_count", "auc", "accuracy", "log_loss", "rmse", "r2",
                         "accuracy", "f1_macro") if k in overall]
    for k in dict.fromkeys(shown):
        v = overall[k]
        lines.append(f"  overall {k}: {v:.6g}" if isinstance(v, float) else
                     f"  overall {k}: {v}")
    n_slices = len(result.slices())
    withheld = sum(1 for r in result.records if r["model"] == "candidate" and "withheld" in r)
    lines.append(f"  {n_slices} slices ({withheld} withheld below min_slice_size)")
    lines.append(f"  metrics: {os.path.join(result.path, 'metrics.json')}")
    lines.append(f"  plots:   {os.path.join(result.path, 'plots.json')}")
    return "\n".join(lines)


def _cmd_evaluate(args) -> int:
    from assay import api

    result = api.evaluate(args.config, args.examples, args.output, model=args.model,
                          baseline=args.baseline,
                          beam_pipeline_args=_beam_args(args.beam_pipeline_args),
                          allow_pickle=args.allow_pickle, force_bless=args.force_bless)
    print(_summary(result))
    if result.blessed is not None:
        print(f"  verdict: {'BLESSED' if result.blessed else 'NOT_BLESSED'}")
        for reason in (result.validation or {}).get("reasons", []):
            print(f"    - {reason}")
        if args.fail_on_not_blessed and not result.blessed:
            return EXIT_NOT_BLESSED
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assay", description=(
        "Evaluate a candidate model against a baseline, overall and slice by slice."))
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("evaluate", help="evaluate models on example files")
    ev.add_argument("--config", required=True, help="YAML or JSON config file")
    ev.add_argument("--examples", required=True, nargs="+",
                    help="TFRecord/CSV/Parquet file(s), directory or glob")
    ev.add_argument("--output", required=True, help="results directory")
    ev.add_argument("--model", help="candidate model path (overrides the config's)")
    ev.add_argument("--baseline", help="baseline model path (overrides the config's)")
    ev.add_argument("--beam-pipeline-args", action="append", metavar="ARGS",
                    help="arguments for Beam's PipelineOptions, e.g. "
                         "'--direct_num_workers=2 --direct_running_mode=multi_processing'")
    ev.add_argument("--allow-pickle", action="store_true",
                    help="allow loading joblib/pickle models (they run code when loaded)")
    ev.add_argument("--force-bless", metavar="REASON",
                    help="bless the candidate whatever the checks say; the reason is recorded")
    ev.add_argument("--fail-on-not-blessed", action="store_true",
                    help=f"exit with status {EXIT_NOT_BLESSED} when the verdict is NOT_BLESSED")
    ev.set_defaults(func=_cmd_evaluate)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from assay.config import ConfigError
    from assay.io import DataError

    try:
        return args.func(args)
    except (ConfigError, TypeError, FileNotFoundError) as e:
        print(f"assay: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except (DataError, ValueError) as e:
        print(f"assay: error: {e}", file=sys.stderr)
        return EXIT_DATA


if __name__ == "__main__":
    sys.exit(main())
