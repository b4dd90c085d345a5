"""The CLI's fixed cost in CPU time: `assay evaluate` of workload (a) on a small data set.

    python bench/fixed_cost.py                       # 1,000 examples, --workers 1 and 2
    python bench/fixed_cost.py --examples DIR --repeat 7 --workers 2

On a shared machine wall times are noise; the CPU time of the process and its children (user +
sys, from getrusage(RUSAGE_CHILDREN)) is not, or much less. Prints, per worker count, the best
of --repeat runs (CPU and wall), then the heavy modules the run imports (`python -X
importtime`: their cumulative import time), so that a module imported by accident shows. Bytecode
is cached under a private prefix (warmed up first), as on a machine where Python may write it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ASSAY = os.path.join(os.path.dirname(sys.executable), "assay")
# bench/run.py's workload (a): a prediction column, 4 slicing specs (200 slices), 8 metrics.
CONFIG = {"label": "label", "models": {"candidate": {"prediction": "prediction"}},
          "slices": [[], ["hour"], ["day"], ["hour", "day"]],
          "metrics": ["example_count", "auc", "auc_pr", "accuracy", "precision", "recall",
                      "mean_label", "mean_prediction"]}
HEAVY = ("pandas", "scipy", "sklearn", "tensorflow", "apache_beam", "pyarrow.parquet",
         "pyarrow.compute", "pyarrow._dataset", "tensorflow_metadata", "yaml")


def _env(prefix: str) -> dict:
    env = dict(os.environ, PYTHONWARNINGS="ignore", PYTHONPYCACHEPREFIX=prefix)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def cpu_run(command, env) -> tuple:
    """(CPU seconds of the command and its children, wall seconds)."""
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime,
            time.perf_counter() - start)


def heavy_imports(command, env) -> dict:
    """{module: cumulative import ms} of the HEAVY modules the command imports."""
    out = subprocess.run([sys.executable, "-X", "importtime", ASSAY] + command[1:], env=env,
                         check=True, capture_output=True, text=True)
    found = {}
    for line in out.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|\s*(\S+)$", line)
        if m and m.group(2) in HEAVY:
            found[m.group(2)] = round(int(m.group(1)) / 1000, 1)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", default=os.path.join(
        REPO, "bench", "data", "trips-n1000-s4-seed0-gz", "Split-eval"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="assay-fixed-") as tmp:
        config = os.path.join(tmp, "a.json")
        with open(config, "w", encoding="utf-8") as f:
            json.dump(CONFIG, f)
        env = _env(os.path.join(tmp, "pycache"))
        for workers in args.workers:
            command = [ASSAY, "evaluate", "--config", config, "--examples", args.examples,
                       "--output", os.path.join(tmp, "out"), "--workers", str(workers)]
            cpu_run(command, env)  # warm-up: bytecode written, files cached
            runs = [cpu_run(command, env) for _ in range(args.repeat)]
            print(f"workers {workers}: CPU {min(c for c, _ in runs):.3f} s, wall "
                  f"{min(w for _, w in runs):.3f} s (best of {args.repeat}); heavy imports "
                  f"(cumulative ms): {json.dumps(heavy_imports(command, env))}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
