"""One big file on every core: 2 workers against 1 on ONE uncompressed TFRecord file and ONE CSV
file (issue 17; target >= 1.7x end to end).

    .venv/bin/python bench/one_file.py                       # 5,000,000 examples, both formats
    .venv/bin/python bench/one_file.py --size 200000 --formats tfrecord --repeat 1

The local engine cuts a big uncompressed TFRecord file into byte ranges and a CSV file at line
ends (`assay.data.parts`, `assay.engine.split`), so one file keeps every core busy. Each run is
the `assay evaluate` CLI in a subprocess (startup included), workload (a)'s config (precomputed
predictions, 200 slices, bench/run.py), with --workers 1 and --workers 2, alternating (1, 2,
1, 2...); the fastest of --repeat runs of each counts. Correctness: both runs must give the
same records (example counts exactly, metrics within 1e-9) and count every example. After
each pair, the floor (bench/floor.py: read + decode, nothing else) on 1 and 2 processes, the
file cut the same way: its own 2-vs-1 speed-up is this machine's ceiling for assay's. Results:
bench/results/one_file.json (with the git commit) and a Markdown table on stdout. In `make bench` it is workload `one_file`
of bench/run.py (`run_in_bench`: this script in a subprocess; its rows and target line).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from typing import Dict, List, Optional

# Run as `python bench/<script>.py`, bench/ comes first on sys.path and its modules would shadow
# installed ones of the same name (`datasets`): put the repository there instead.
_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0] or ".") == _HERE:
    sys.path[0] = os.path.dirname(_HERE)
if os.path.dirname(_HERE) not in sys.path:
    sys.path.insert(0, os.path.dirname(_HERE))

from bench import datasets  # noqa: E402
from bench.measure import machine, run_measured  # noqa: E402

PYTHON = sys.executable
_REPO = os.path.dirname(_HERE)
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
        from assay import demo

        table = demo.make_trips(n, seed)
        path = os.path.join(tmp, "eval.csv")
        for start in range(0, n, 1_000_000):
            frame = table.slice(start, 1_000_000).to_pandas()
            frame.to_csv(path, index=False, header=start == 0, mode="a")

    return os.path.join(datasets._cached(f"trips-n{n}-seed{seed}-csv", build, root), "eval.csv")


def tfrecord_file(n: int, seed: int = 0, root: str = datasets.DATA_DIR) -> str:
    """make_trips(n, seed) as one uncompressed TFRecord file of tf.Examples."""
    split = datasets.tfrecord_dataset(n, shards=1, seed=seed, compress=False, root=root)
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


def _floor(path: str, workers: int, work: str) -> float:
    """The floor's loop time (bench/floor.py: read + decode, nothing else) on `workers`
    processes, the file cut as assay cuts it: the ceiling of assay's 2-vs-1 speed-up here."""
    out = os.path.join(work, f"floor-w{workers}.json")
    command = [PYTHON, os.path.join(_HERE, "floor.py"), "--examples", path, "--workers",
               str(workers), "--json", out]
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"bench: {' '.join(command)} failed:\n{proc.stderr[-3000:]}")
    with open(out, encoding="utf-8") as f:
        return json.load(f)["loop_s"]


def run_format(fmt: str, path: str, n: int, repeat: int, work: str) -> Dict:
    config = os.path.join(work, "config.yaml")
    with open(config, "w", encoding="utf-8") as f:
        f.write(CONFIG)
    walls, runs, commands, floors = {}, {}, {}, {}
    # One try of each worker count a round (1, 2, 1, 2...): this machine's speed drifts over
    # minutes, and the ratio should compare runs taken close together.
    for i in range(repeat):
        for workers in (1, 2):
            out = os.path.join(work, f"{fmt}-w{workers}")
            command = [ASSAY, "evaluate", "--config", config, "--examples", path, "--output",
                       out, "--workers", str(workers)]
            commands[workers] = command
            m = run_measured(command, log_path=os.path.join(work, f"{fmt}-w{workers}-{i}.log"))
            if m.returncode != 0:
                raise SystemExit(f"bench: {' '.join(command)} failed:\n{m.tail()}")
            if workers not in walls or m.wall_s < walls[workers].wall_s:
                walls[workers] = m
            floors[workers] = min(floors.get(workers, float("inf")),
                                  _floor(path, workers, work))
    for workers in (1, 2):
        best = walls[workers]
        runs[workers] = {"wall_s": best.wall_s, "cpu_s": best.cpu_s, "user_s": best.user_s,
                         "sys_s": best.sys_s, "peak_rss_mb": best.peak_rss_mb,
                         "peak_pss_mb": best.peak_pss_mb, "command": " ".join(commands[workers])}
        print(f"bench: one {fmt} file of {n:,}, {workers} worker(s): {best.wall_s:.2f} s, "
              f"CPU {best.cpu_s:.2f} s (user+sys), peak {best.peak_pss_mb:.0f} MB (PSS)",
              flush=True)
    problems = _same(_records(os.path.join(work, f"{fmt}-w1")),
                     _records(os.path.join(work, f"{fmt}-w2")), n)
    speedup = walls[1].wall_s / walls[2].wall_s
    print(f"bench: one {fmt} file, the floor: {floors[1]:.2f} s on 1 process, {floors[2]:.2f} s "
          f"on 2 ({floors[1] / floors[2]:.2f}x)", flush=True)
    return {"format": fmt, "examples": n, "bytes": os.path.getsize(path),
            "wall_s_1": walls[1].wall_s, "wall_s_2": walls[2].wall_s, "speedup": speedup,
            "floor_s_1": floors[1], "floor_s_2": floors[2],
            "floor_speedup": floors[1] / floors[2],
            "peak_pss_mb_2": walls[2].peak_pss_mb, "runs": runs, "target": f">= {TARGET}x",
            "passed": speedup >= TARGET, "correct": not problems, "problems": problems}


def table(rows: List[Dict]) -> str:
    lines = ["| one file of | size | 1 worker | 2 workers | 2 vs 1 | the floor's 2 vs 1 | target "
             "| correct |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        floor = f"{r['floor_speedup']:.2f}x" if "floor_speedup" in r else "-"
        lines.append(f"| uncompressed {r['format']} | {r['examples']:,} examples, "
                     f"{r['bytes'] / 2**20:,.0f} MiB | {r['wall_s_1']:.1f} s | "
                     f"{r['wall_s_2']:.1f} s | {r['speedup']:.2f}x | {floor} | {r['target']} | "
                     f"{'yes' if r['correct'] else 'NO'} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=5_000_000)
    p.add_argument("--formats", default="tfrecord,csv")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=datasets.DATA_DIR,
                   help="where the files are built and cached (default bench/data)")
    p.add_argument("--out", default=os.path.join(_HERE, "results", "one_file.json"))
    args = p.parse_args(argv)
    build = {"tfrecord": tfrecord_file, "csv": csv_file}
    # Both files first, so that building the second never runs beside a measured run.
    paths = {fmt: build[fmt](args.size, args.seed, args.data_dir)
             for fmt in args.formats.split(",")}
    rows = []
    with tempfile.TemporaryDirectory(prefix="assay-one-file-") as work:
        for fmt, path in paths.items():
            rows.append(run_format(fmt, path, args.size, args.repeat, work))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"commit": commit, "machine": machine(), "rows": rows}, f, indent=1)
    print(table(rows))
    return 0 if all(r["correct"] for r in rows) else 1


def run_in_bench(bench, size: int) -> Dict:
    """The "one_file" workload of bench/run.py: this script in a subprocess (both formats,
    bench's --repeat and --seed), its summary recorded as run "one_file"; a failed run or
    check is one of the bench's failures."""
    out = os.path.join(bench.dir, "logs", "one_file.json")
    log = os.path.join(bench.dir, "logs", "one_file.log")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    command = [PYTHON, os.path.abspath(__file__), "--size", str(size), "--repeat",
               str(max(bench.args.repeat, 1)), "--seed", str(bench.args.seed), "--data-dir",
               os.path.abspath(bench.args.data_dir), "--out", out]
    with open(log, "wb") as f:
        code = subprocess.run(command, stdout=f, stderr=subprocess.STDOUT, cwd=_REPO).returncode
    info: Dict = {"kind": "one_file", "ok": code == 0, "log": log, "examples": size,
                  "command": " ".join(command)}
    if os.path.exists(out) and code in (0, 1):
        with open(out, encoding="utf-8") as f:
            info["formats"] = json.load(f)["rows"]
        info["wall_s"] = sum(r["wall_s_1"] + r["wall_s_2"] for r in info["formats"])
    if code != 0:
        bench.failures.append(f"one_file exited {code} (a run failed or 1 and 2 workers "
                              f"differ): see {log}")
    return bench._record("one_file", info)


def bench_rows(run: Dict) -> List[Dict]:
    """The Runs table's rows of the "one_file" run: each format on 1 and on 2 workers."""
    rows = []
    for r in run.get("formats", []):
        for workers in (1, 2):
            one = r["runs"][str(workers)] if "runs" in r else {}
            wall = r[f"wall_s_{workers}"]
            rows.append({"workload": "one_file",
                         "what": f"assay CLI, (a), ONE uncompressed {r['format']} file, "
                                 f"local engine, {workers} worker{'s' if workers > 1 else ''}",
                         "examples": r["examples"], "wall_s": wall,
                         "examples_per_s": r["examples"] / wall,
                         "peak_rss_mb": one.get("peak_rss_mb"),
                         "peak_pss_mb": one.get("peak_pss_mb"),
                         "note": "; ".join(filter(None, [
                             f"CPU {one['cpu_s']:.1f} s (user+sys)" if one else "",
                             f"{r['speedup']:.2f}x 1 worker; same records: "
                             f"{'yes' if r['correct'] else 'NO'}" if workers == 2 else "",
                             f"the floor (read + decode, {workers} process"
                             f"{'es' if workers > 1 else ''}): {r[f'floor_s_{workers}']:.1f} s"
                             if f"floor_s_{workers}" in r else ""])),
                         "run": "one_file"})
    return rows


def target_row(run: Optional[Dict], size: int) -> Dict:
    """The Targets table's line of the "one_file" run (both formats; passes when both do)."""
    line = {"target": f"2 workers vs 1, ONE uncompressed TFRecord or CSV file of {size:,}, "
                      "end to end",
            "goal": f">= {TARGET}x", "measured": "not run", "passed": None}
    formats = (run or {}).get("formats")
    if formats:
        line["measured"] = "; ".join(
            f"{r['format']}: {r['speedup']:.2f}x ({r['wall_s_1']:.1f} s vs {r['wall_s_2']:.1f} s"
            f", {r['bytes'] / 2**20:,.0f} MiB{'' if r['correct'] else ', records DIFFER'}"
            + (f"; the floor's own 2 vs 1: {r['floor_speedup']:.2f}x"
               if "floor_speedup" in r else "") + ")"
            for r in formats)
        line["passed"] = all(r["speedup"] >= TARGET for r in formats)
    elif run:
        line["measured"] = f"failed (see {run.get('log')})"
    return line


if __name__ == "__main__":
    sys.exit(main())
