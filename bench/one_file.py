"""One big file on every core: 2 workers against 1 on ONE uncompressed TFRecord file and ONE CSV
file (issue 17; target >= 1.7x end to end).

    .venv/bin/python bench/one_file.py                       # 5,000,000 examples, both formats
    .venv/bin/python bench/one_file.py --size 200000 --formats tfrecord --repeat 1

The local engine cuts a big uncompressed TFRecord file into byte ranges and a CSV file at line
ends (`assay.data.parts`, `assay.engine.split`), so one file keeps every core busy. Each run is
the `assay evaluate` CLI in a subprocess (startup included), workload (a)'s config (precomputed
predictions, 200 slices, bench/run.py), with --workers 1 and --workers 2; the fastest of
--repeat runs counts. Correctness: both runs must give the same records (example counts
exactly, metrics within 1e-9) and count every example. Results: bench/results/one_file.json
(with the git commit) and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from typing import Dict, List

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import datasets  # noqa: E402
from measure import machine, run_measured  # noqa: E402

from assay import demo  # noqa: E402

ASSAY = os.path.join(os.path.dirname(sys.executable), "assay")
CONFIG = ("label: label\nmodels:\n  candidate: {prediction: prediction}\n"
          "slices: [[], [hour], [day], [hour, day]]\n"
          "metrics: [example_count, auc, auc_pr, accuracy, precision, recall, mean_label, "
          "mean_prediction]\n")
TARGET = 1.7


def csv_file(n: int, seed: int = 0, root: str = datasets.DATA_DIR) -> str:
    """make_trips(n, seed) as one CSV file, unquoted (so that it can be split), built in
    blocks of a million rows."""
    def build(tmp: str) -> None:
        table = demo.make_trips(n, seed)
        path = os.path.join(tmp, "eval.csv")
        for start in range(0, n, 1_000_000):
            frame = table.slice(start, 1_000_000).to_pandas()
            frame.to_csv(path, index=False, header=start == 0, mode="a")

    return os.path.join(datasets._cached(f"trips-n{n}-seed{seed}-csv", build, root), "eval.csv")


def tfrecord_file(n: int, seed: int = 0) -> str:
    """make_trips(n, seed) as one uncompressed TFRecord file of tf.Examples."""
    split = datasets.tfrecord_dataset(n, shards=1, seed=seed, compress=False)
    (path,) = datasets.data_files(split)
    return path


def _records(out: str) -> Dict:
    with open(os.path.join(out, "assay_metrics.json"), encoding="utf-8") as f:
        doc = json.load(f)
    return {(json.dumps(r["slice"], sort_keys=True), r["model"]): r.get("metrics", {})
            for r in doc["records"]}


def _same(a: Dict, b: Dict, n: int) -> List[str]:
    problems = []
    if a.keys() != b.keys():
        problems.append(f"other slices: {len(a)} against {len(b)}")
    overall = a.get(("{}", "candidate"), {}).get("example_count")
    if overall != n:
        problems.append(f"overall example_count {overall}, expected {n}")
    for key in a.keys() & b.keys():
        for metric, value in a[key].items():
            other = b[key].get(metric)
            if metric == "example_count" and value != other:
                problems.append(f"{key} example_count {value} != {other}")
            elif isinstance(value, float) and isinstance(other, float) and \
                    abs(value - other) > 1e-9 * max(1.0, abs(value)):
                problems.append(f"{key} {metric} {value} != {other}")
    return problems[:10]


def run_format(fmt: str, path: str, n: int, repeat: int, work: str) -> Dict:
    config = os.path.join(work, "config.yaml")
    with open(config, "w", encoding="utf-8") as f:
        f.write(CONFIG)
    walls = {}
    for workers in (1, 2):
        out = os.path.join(work, f"{fmt}-w{workers}")
        command = [ASSAY, "evaluate", "--config", config, "--examples", path, "--output", out,
                   "--workers", str(workers)]
        best = None
        for i in range(repeat):
            m = run_measured(command, log_path=os.path.join(work, f"{fmt}-w{workers}-{i}.log"))
            if m.returncode != 0:
                raise SystemExit(f"bench: {' '.join(command)} failed:\n{m.tail()}")
            best = m if best is None or m.wall_s < best.wall_s else best
        walls[workers] = best
        print(f"bench: one {fmt} file of {n:,}, {workers} worker(s): {best.wall_s:.2f} s, "
              f"peak {best.peak_pss_mb:.0f} MB (PSS)", flush=True)
    problems = _same(_records(os.path.join(work, f"{fmt}-w1")),
                     _records(os.path.join(work, f"{fmt}-w2")), n)
    speedup = walls[1].wall_s / walls[2].wall_s
    return {"format": fmt, "examples": n, "bytes": os.path.getsize(path),
            "wall_s_1": walls[1].wall_s, "wall_s_2": walls[2].wall_s, "speedup": speedup,
            "peak_pss_mb_2": walls[2].peak_pss_mb, "target": f">= {TARGET}x",
            "passed": speedup >= TARGET, "correct": not problems, "problems": problems}


def table(rows: List[Dict]) -> str:
    lines = ["| one file of | size | 1 worker | 2 workers | 2 vs 1 | target | correct |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| uncompressed {r['format']} | {r['examples']:,} examples, "
                     f"{r['bytes'] / 2**20:,.0f} MiB | {r['wall_s_1']:.1f} s | "
                     f"{r['wall_s_2']:.1f} s | {r['speedup']:.2f}x | {r['target']} | "
                     f"{'yes' if r['correct'] else 'NO'} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=5_000_000)
    p.add_argument("--formats", default="tfrecord,csv")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results",
                                                 "one_file.json"))
    args = p.parse_args(argv)
    build = {"tfrecord": tfrecord_file, "csv": csv_file}
    rows = []
    with tempfile.TemporaryDirectory(prefix="assay-one-file-") as work:
        for fmt in args.formats.split(","):
            rows.append(run_format(fmt, build[fmt](args.size), args.size, args.repeat, work))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"commit": commit, "machine": machine(), "rows": rows}, f, indent=1)
    print(table(rows))
    return 0 if all(r["correct"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
