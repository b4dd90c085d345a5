"""Where the CPU time of one evaluation goes: the driver process against its forked workers.

    .venv/bin/python bench/cpu_split.py FILE                 # 1 and 2 workers, best of 3
    .venv/bin/python bench/cpu_split.py FILE --workers 2 --repeat 1

Runs the `assay evaluate` CLI in a fresh process (workload (a)'s config, bench/one_file.py),
which reports its own CPU time (RUSAGE_SELF: the driver: imports, the plan, cutting the file,
merging the workers' partials, writing) and that of the worker processes it forked and waited
for (RUSAGE_CHILDREN), user + system. CPU time, unlike wall time, holds on a busy machine: it
tells whether 2 workers repeat work (the sum grows) or wait on a serial driver (the driver's
share). The smallest total of --repeat runs counts. Prints one JSON line per worker count.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

_HERE = os.path.dirname(os.path.abspath(__file__))
_CHILD = """
import json, resource, sys, time
from assay import cli
start = time.perf_counter()
code = cli.main(sys.argv[1:])
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"code": code, "wall_s": time.perf_counter() - start,
                  "driver_cpu_s": me.ru_utime + me.ru_stime,
                  "workers_cpu_s": kids.ru_utime + kids.ru_stime}))
"""


def measure(path: str, workers: int, work: str) -> dict:
    """One run: the CLI in a fresh interpreter; its driver's and its workers' CPU seconds."""
    sys.path.insert(0, os.path.dirname(_HERE))
    from bench import one_file

    config = os.path.join(work, "config.yaml")
    with open(config, "w", encoding="utf-8") as f:
        f.write(one_file.CONFIG)
    argv = ["evaluate", "--config", config, "--examples", path, "--output",
            os.path.join(work, f"out-{workers}"), "--workers", str(workers)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, "-c", _CHILD] + argv, capture_output=True, text=True,
                          env=env)
    if proc.returncode != 0:
        raise SystemExit(f"bench: the run failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["total_cpu_s"] = out["driver_cpu_s"] + out["workers_cpu_s"]
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("examples", help="one uncompressed TFRecord or CSV file")
    p.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="assay-cpu-split-") as work:
        for workers in (int(w) for w in args.workers.split(",")):
            runs = [measure(args.examples, workers, work) for _ in range(args.repeat)]
            best = min(runs, key=lambda r: r["total_cpu_s"])
            print(json.dumps(dict(best, workers=workers, examples=args.examples)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
