"""The cost of `confidence:` (bootstrap intervals in the same pass) at workload (a)'s size.

    python bench/confidence.py                        # 200,000 examples, 200 replicates
    python bench/confidence.py --size 20000 --repeat 1 --replicates 200,50

For workload (a) (candidate only) and (c) (with a baseline, so every diff record gets paired
intervals too), runs `assay evaluate` end to end (the CLI in a subprocess, as bench/run.py
does, local engine, one worker), best of --repeat, without and with `confidence:`, and
prints the wall and CPU times (user + sys of the process tree) and their ratios; also the
steady-state CPU ratio, after subtracting the fixed cost (the same config on 1,000 examples). The figures and the command go in
docs/benchmarks.md ("Confidence intervals").
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple

_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0] or ".") == _HERE:
    sys.path[0] = os.path.dirname(_HERE)

from bench import datasets, measure  # noqa: E402
from bench.run import ASSAY, METRICS, SLICES  # noqa: E402

MODELS = {"a": "candidate: {prediction: prediction}",
          "c": "candidate: {prediction: prediction}\n  baseline: {prediction: old_prediction}"}


def write_config(directory: str, workload: str, replicates: Optional[int]) -> str:
    """The workload's config (bench/run.py's), with `confidence:` when replicates is set."""
    text = (f"label: label\nmodels:\n  {MODELS[workload]}\n"
            f"slices: {json.dumps(SLICES)}\nmetrics: {json.dumps(METRICS)}\n")
    if replicates:
        text += f"confidence: {{replicates: {replicates}, seed: 0}}\n"
    path = os.path.join(directory, f"{workload}-{replicates or 0}.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def best_wall(config: str, examples: str, out: str, repeat: int
              ) -> Tuple[float, float, float]:
    """The best wall time, the best CPU time (user + sys, s) and the peak memory (MB) of
    `assay evaluate` over
    `repeat` runs; raises if one fails. CPU time is the steadier figure on a shared machine
    (one worker: the pass runs on one core)."""
    best, best_cpu, peak = None, None, 0.0
    for _ in range(max(1, repeat)):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        m = measure.run_measured([ASSAY, "evaluate", "--config", config, "--examples", examples,
                                  "--output", out, "--workers", "1"],
                                 log_path=out + ".log")
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if m.returncode != 0:
            raise RuntimeError(f"assay failed ({m.returncode}):\n{m.tail()}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best = m.wall_s if best is None else min(best, m.wall_s)
        best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
        peak = max(peak, m.peak_rss_mb)
    return best, best_cpu, peak


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=200_000)
    p.add_argument("--replicates", default="200", help="comma-separated, e.g. 200,50")
    p.add_argument("--workloads", default="a,c")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    work = tempfile.mkdtemp(prefix="assay-bench-ci-")
    examples = datasets.tfrecord_dataset(args.size)
    tiny = datasets.tfrecord_dataset(1000)
    rows: List[Dict] = []
    for workload in args.workloads.split(","):
        for reps in [0] + [int(r) for r in args.replicates.split(",")]:
            config = write_config(work, workload, reps or None)
            wall, cpu, peak = best_wall(config, examples,
                                  os.path.join(work, f"out-{workload}-{reps}"), args.repeat)
            fixed, fixed_cpu, _ = best_wall(config, tiny, os.path.join(work, f"fix-{workload}-{reps}"),
                                         args.repeat)
            rows.append({"workload": workload, "replicates": reps, "examples": args.size,
                         "wall_s": wall, "cpu_s": cpu, "fixed_s": fixed, "fixed_cpu_s": fixed_cpu,
                         "steady_cpu_s": cpu - fixed_cpu, "peak_rss_mb": peak})
            print(json.dumps(rows[-1]), flush=True)
    print(f"\n| workload | replicates | wall (s) | ratio | CPU (s) | ratio | steady CPU (s) | "
          f"ratio | peak MB |\n|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        plain = next(x for x in rows if x["workload"] == r["workload"] and x["replicates"] == 0)
        print(f"| {r['workload']} | {r['replicates'] or 'off'} | {r['wall_s']:.2f} | "
              f"{r['wall_s'] / plain['wall_s']:.2f}x | {r['cpu_s']:.2f} | "
              f"{r['cpu_s'] / plain['cpu_s']:.2f}x | {r['steady_cpu_s']:.2f} | "
              f"{r['steady_cpu_s'] / plain['steady_cpu_s']:.2f}x | {r['peak_rss_mb']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
