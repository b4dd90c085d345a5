"""The many-slices workload: one evaluation on the Beam engine with up to millions of slices.

    python bench/slices.py --slices 1000000                # DirectRunner, 2 worker processes
    python bench/slices.py --slices 200000 --rows-per-slice 2 --beam-args "--runner=..."
    python bench/run.py --slices 1000000                   # the same, from the bench's entry

The data: a crossed slice spec of two integer features (a x b, about sqrt(N) values each), a
regression label and prediction, `--rows-per-slice` rows per slice, in `--shards` Parquet files.
It measures the whole `assay.evaluate` (pass, assembling the records, writing and reading back
assay_metrics.json, the verdict), and the Beam pass alone, with the peak memory of this process (the
driver) and of its children (the DirectRunner's workers). Every slice's results travel as one
element to the sink (`assay.engine.beam_io`); before issue 11 they were one list in one element.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import sys
import tempfile
import time
from typing import Optional, Sequence

_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0] or ".") == _HERE:
    sys.path[0] = os.path.dirname(_HERE)

import numpy as np  # noqa: E402

TWO_WORKERS = "--direct_num_workers=2 --direct_running_mode=multi_processing"


def write_data(directory: str, slices: int, rows_per_slice: int, shards: int, seed: int = 0):
    """Parquet shards with `slices` (a, b) pairs, `rows_per_slice` rows each; returns paths."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    n_a = int(math.ceil(math.sqrt(slices)))
    pairs = np.arange(slices)
    a = np.repeat(pairs // n_a, rows_per_slice)
    b = np.repeat(pairs % n_a, rows_per_slice)
    rng = np.random.default_rng(seed)
    y = rng.normal(size=len(a)).round(3)
    yhat = (y + rng.normal(size=len(a))).round(3)
    order = rng.permutation(len(a))  # each slice's rows spread over the shards
    paths = []
    for i, part in enumerate(np.array_split(order, shards)):
        path = os.path.join(directory, f"part-{i:05d}.parquet")
        pq.write_table(pa.table({"a": a[part], "b": b[part], "y": y[part],
                                 "yhat": yhat[part]}), path)
        paths.append(path)
    return paths


def run(slices: int, rows_per_slice: int = 1, shards: int = 4, beam_args: str = TWO_WORKERS,
        workdir: Optional[str] = None) -> dict:
    """Runs the workload once; returns its figures (seconds, MiB, counts)."""
    import assay
    from assay.engine import beam as beam_engine
    from assay.engine.plan import make_plan

    workdir = workdir or tempfile.mkdtemp(prefix="assay-slices-")
    os.makedirs(workdir, exist_ok=True)
    started = time.perf_counter()
    paths = write_data(workdir, slices, rows_per_slice, shards)
    data_s = time.perf_counter() - started
    cfg = {"label": "y", "task": "regression", "models": {"candidate": {"prediction": "yhat"}},
           "slices": [["a", "b"]], "metrics": ["mse"], "batch_size": 65536}
    args = beam_args.split()
    started = time.perf_counter()
    raw = beam_engine.run_pipeline(make_plan(assay.load_config(cfg), paths),
                                   os.path.join(workdir, "scratch"), args)
    pass_s = time.perf_counter() - started
    got_slices = len(raw["slices"])
    del raw
    started = time.perf_counter()
    result = assay.evaluate(cfg, paths, os.path.join(workdir, "out"), beam_pipeline_args=args,
                            write_report=False)
    total_s = time.perf_counter() - started
    records = sum(1 for r in result.records if r["model"] == "candidate")
    if records != slices + 1 or got_slices != slices + 1:
        raise SystemExit(f"bench slices: expected {slices + 1} slices (overall included), got "
                         f"{got_slices} from the pass and {records} records")
    return {"slices": slices, "rows": slices * rows_per_slice, "shards": shards,
            "beam_args": beam_args, "write_data_s": round(data_s, 1),
            "beam_pass_s": round(pass_s, 1), "evaluate_s": round(total_s, 1),
            "metrics_json_mib": round(os.path.getsize(
                os.path.join(workdir, "out", "assay_metrics.json")) / 2**20, 1),
            "driver_peak_rss_mib": round(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "workers_peak_rss_mib": round(
                resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
            "cpus": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()]}


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description="assay's Beam engine with many slices.")
    p.add_argument("--slices", type=int, default=1_000_000)
    p.add_argument("--rows-per-slice", type=int, default=1)
    p.add_argument("--shards", type=int, default=4)
    p.add_argument("--beam-args", default=TWO_WORKERS,
                   help=f"Beam pipeline arguments, one string (default: {TWO_WORKERS})")
    p.add_argument("--workdir", default=None, help="where the data and results go (kept)")
    args = p.parse_args(argv)
    workdir = args.workdir or tempfile.mkdtemp(prefix="assay-slices-")
    try:
        figures = run(args.slices, args.rows_per_slice, args.shards, args.beam_args, workdir)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
