"""assay's Beam engine against TFMA, both on Beam's PortableRunner with external workers.

    python bench/portable.py --size 200000 --tfma-size 20000 --workers 2 --json portable.json
    python bench/portable.py --size 2000 --tfma-size 2000          # does it work? (a minute)

assay's run is the fastest of --repeat (bench/run.py passes its own), on the same pool; TFMA's
runs once, as in bench/run.py.

Starts Beam's external worker pool with the tests' WorkerPool (tests/beam_workers.py:
`apache_beam.runners.worker.worker_pool_main`, this venv's bin first on PATH) and runs, on workload (a) (bench/datasets.py: gzipped tf.Example shards, 200
slices, the bench's 8 metrics):

  * assay: `assay evaluate --engine beam --beam-pipeline-args "--runner=PortableRunner
    --job_endpoint=embed --environment_type=EXTERNAL --environment_config=localhost:PORT
    --direct_num_workers=N"`, the CLI end to end, measured with bench/measure.py;
  * TFMA: `tfma.run_model_analysis` with the same pipeline options (this script run again with
    --tfma-job, in its own process; its import is reported apart and not counted, as in
    bench/run.py), the config of bench/tfma_eval.py.

Both jobs' SDK workers are processes of the pool, not of the measured command: the wall times
include them, the peak memory figures do not. Every (slice, model) of TFMA's output is checked
against assay's (bench/compare.py, the tolerances of the main benchmark). Writes a JSON summary
(--json) and prints it; the exit status is 1 when a run or the check failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

# Run as `python bench/<script>.py`, bench/ comes first on sys.path and its modules would shadow
# installed ones of the same name: put the repository there instead.
_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0] or ".") == _HERE:
    sys.path[0] = os.path.dirname(_HERE)
REPO = os.path.dirname(_HERE)
if REPO not in sys.path:
    sys.path.insert(0, REPO)

_STARTED = time.perf_counter()
PYTHON = sys.executable
ASSAY = os.path.join(os.path.dirname(sys.executable), "assay")
CONFIG = {"label": "label", "models": {"candidate": {"prediction": "prediction"}},
          "slices": [[], ["hour"], ["day"], ["hour", "day"]],
          "metrics": ["example_count", "auc", "auc_pr", "accuracy", "precision", "recall",
                      "mean_label", "mean_prediction"]}


def _workers_started(work: str) -> int:
    """SDK worker processes the pool has started so far (one log line each)."""
    with open(os.path.join(work, "pool.log"), encoding="utf-8", errors="replace") as f:
        return sum(line.startswith("Starting worker") for line in f)


def start_pool(work: str, workers: int):
    """(Beam's external worker pool, started: tests/beam_workers.WorkerPool, logging to
    work/pool.log; the PortableRunner's arguments). Beam 2.75's embedded job service runs the
    job with FnApiRunner.run_via_runner_api, which never reads direct_num_workers (only
    run_pipeline does): each job gets one SDK worker whatever N is; the summary counts the
    workers the pool started ("sdk_workers"). More need a Flink or Spark job server (Java)."""
    sys.path.insert(0, os.path.join(REPO, "tests"))
    from beam_workers import WorkerPool

    pool = WorkerPool(Path(work)).start()
    return pool, pool.pipeline_args(f"--direct_num_workers={workers}")


def run_tfma_job(job: Dict) -> Dict:
    """--tfma-job: TFMA's run_model_analysis on the PortableRunner (in this process)."""
    from apache_beam.options.pipeline_options import PipelineOptions
    import tensorflow_model_analysis as tfma

    from bench import tfma_eval

    import_s = time.perf_counter() - _STARTED
    config = tfma_eval.eval_config(job)
    os.makedirs(job["output"], exist_ok=True)
    start = time.perf_counter()
    tfma.run_model_analysis(eval_config=config,
                            data_location=os.path.join(job["examples"], "*"),
                            file_format="tfrecords", output_path=job["output"],
                            pipeline_options=PipelineOptions(job["pipeline_args"]))
    run_s = time.perf_counter() - start
    records = tfma_eval.read_metrics(job["output"], ["candidate"])
    with open(os.path.join(job["output"], "tfma_metrics.json"), "w", encoding="utf-8") as f:
        json.dump({"records": records}, f)
    return {"import_s": import_s, "run_s": run_s, "records": len(records)}


def run_in_bench(bench, size: int, tfma_size: int, no_tfma: bool) -> Dict:
    """The "portable" workload of bench/run.py: this script in a subprocess, its summary
    recorded as run "portable" (a failed run or check is one of the bench's failures)."""
    out = os.path.join(bench.dir, "logs", "portable.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    command = [PYTHON, os.path.abspath(__file__), "--size", str(size), "--tfma-size",
               str(tfma_size), "--shards", str(bench.sizes.shards), "--seed",
               str(bench.args.seed), "--repeat", str(max(bench.args.repeat, 1)), "--json",
               out] + (["--no-tfma"] if no_tfma else [])
    log = os.path.join(bench.dir, "logs", "portable.log")
    with open(log, "wb") as f:
        code = subprocess.run(command, stdout=f, stderr=subprocess.STDOUT, cwd=REPO).returncode
    info: Dict = {"kind": "portable", "ok": code == 0, "log": log}
    if os.path.exists(out):
        with open(out, encoding="utf-8") as f:
            info.update(json.load(f))
        info["wall_s"] = info.get("assay", {}).get("wall_s")
    if code != 0:
        bench.failures.append(f"portable exited {code}: see {log}")
    return bench._record("portable", info)


def target_row(run: Optional[Dict]) -> Dict:
    """The summary's target line of the "portable" run ("not run" without one)."""
    if not run:
        return {"target": _TARGET, "measured": "not run", "goal": ">= 50x", "passed": None}
    mine, tfma = run.get("assay", {}), run.get("tfma", {})
    measured = f"assay {mine.get('examples_per_s', 0):,.0f} examples/s at " \
               f"{mine.get('examples', 0):,} ({mine.get('sdk_workers', '?')} SDK worker(s))"
    speedup = run.get("speedup")
    if tfma.get("ok"):
        measured += (f"; TFMA {tfma['examples_per_s']:,.0f} examples/s at {tfma['examples']:,}"
                     f" ({tfma.get('sdk_workers', '?')} SDK worker(s)): {speedup:.0f}x")
    else:
        measured += "; TFMA not run" if "tfma" not in run else "; TFMA failed (see its log)"
    if "check" in run:
        measured += (f"; every slice against TFMA: "
                     f"{'match' if run['check']['ok'] else 'DIFFER'} "
                     f"({run['check'].get('compared', 0)} pairs)")
    return {"target": _TARGET,
            "measured": measured, "goal": ">= 50x",
            "passed": None if speedup is None else speedup >= 50}


_TARGET = ("Beam engine, PortableRunner, 2 external workers (Beam's worker pool), vs TFMA on "
           "the same runner")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, default=200_000, help="assay's examples")
    p.add_argument("--tfma-size", type=int, default=20_000, help="TFMA's examples")
    p.add_argument("--shards", type=int, default=4)
    p.add_argument("--workers", type=int, default=2, help="external SDK workers of each job")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeat", type=int, default=1,
                   help="assay's runs; the fastest counts (TFMA runs once)")
    p.add_argument("--no-tfma", action="store_true")
    p.add_argument("--json", help="write the summary here")
    p.add_argument("--tfma-job", help=argparse.SUPPRESS)  # internal: one TFMA job (JSON file)
    args = p.parse_args(argv)
    if args.tfma_job:
        with open(args.tfma_job, encoding="utf-8") as f:
            job = json.load(f)
        out = run_tfma_job(job)
        with open(job["timings"], "w", encoding="utf-8") as f:
            json.dump(out, f)
        return 0
    return _bench(args)


def _bench(args) -> int:
    from bench import compare, datasets, measure

    work = tempfile.mkdtemp(prefix="assay-portable-")
    config = os.path.join(work, "config.json")
    with open(config, "w", encoding="utf-8") as f:
        json.dump(CONFIG, f)
    pool, beam_args = start_pool(work, args.workers)
    summary: Dict = {"workers": args.workers, "pipeline_args": beam_args, "ok": True}
    try:
        for name, n in (("assay", args.size),) + (() if args.no_tfma or args.tfma_size ==
                                                  args.size else (("assay_tfma_size",
                                                                   args.tfma_size),)):
            examples = datasets.tfrecord_dataset(n, args.shards, args.seed)
            out = os.path.join(work, f"out-{n}")
            command = [ASSAY, "evaluate", "--config", config, "--examples", examples,
                       "--output", out, "--engine", "beam", "--beam-pipeline-args",
                       " ".join(beam_args)]
            m, workers, walls = None, 0, []
            for i in range(max(args.repeat, 1)):  # the fastest of --repeat, as in bench/run.py
                before = _workers_started(work)
                run = measure.run_measured(command, timeout_s=3600,
                                           log_path=os.path.join(work, f"{name}.{i}.log"))
                walls.append(run.wall_s)
                if m is None or run.returncode != 0 or run.wall_s < m.wall_s:
                    m, workers = run, _workers_started(work) - before
                if run.returncode != 0:
                    break
            summary[name] = {"examples": n, "wall_s": m.wall_s, "ok": m.returncode == 0,
                             "walls_s": walls, "sdk_workers": workers,
                             "examples_per_s": n / m.wall_s, "peak_rss_mb": m.peak_rss_mb,
                             "command": " ".join(shlex.quote(c) for c in command),
                             "output": out}
            summary["ok"] &= m.returncode == 0
            if m.returncode:
                print(m.tail(), file=sys.stderr)
        if not args.no_tfma:
            summary["tfma"] = _tfma(args, work, beam_args)
            summary["ok"] &= summary["tfma"]["ok"]
            mine = summary.get("assay_tfma_size", summary["assay"])
            if summary["tfma"]["ok"] and mine["ok"]:
                with open(os.path.join(summary["tfma"]["output"], "tfma_metrics.json"),
                          encoding="utf-8") as f:
                    reference = json.load(f)["records"]
                check = compare.compare_records(compare.load_assay_records(mine["output"]),
                                                reference, compare.TFMA_NAMES)
                summary["check"] = {k: check[k] for k in ("ok", "compared", "max_abs_diff")
                                    if k in check}
                summary["ok"] &= bool(check["ok"])
                summary["speedup"] = (summary["assay"]["examples_per_s"]
                                      / summary["tfma"]["examples_per_s"])
    finally:
        pool.stop()
    text = json.dumps(summary, indent=1)
    print(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            f.write(text)
    return 0 if summary["ok"] else 1


def _tfma(args, work: str, beam_args: List[str]) -> Dict:
    from bench import datasets, measure

    out = os.path.join(work, "tfma")
    job = {"name": "a-portable", "examples": datasets.tfrecord_dataset(args.tfma_size,
                                                                       args.shards, args.seed),
           "output": out, "candidate": {"prediction": "prediction"},
           "pipeline_args": beam_args, "timings": os.path.join(work, "tfma-timings.json")}
    job_path = os.path.join(work, "tfma-job.json")
    with open(job_path, "w", encoding="utf-8") as f:
        json.dump(job, f)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    before = _workers_started(work)
    m = measure.run_measured([PYTHON, os.path.abspath(__file__), "--tfma-job", job_path],
                             log_path=os.path.join(work, "tfma.log"), env=env, timeout_s=7200)
    if m.returncode != 0 or not os.path.exists(job["timings"]):
        print(m.tail(), file=sys.stderr)
        return {"ok": False, "log": os.path.join(work, "tfma.log")}
    with open(job["timings"], encoding="utf-8") as f:
        timings = json.load(f)
    return {"ok": True, "examples": args.tfma_size, "run_s": timings["run_s"],
            "sdk_workers": _workers_started(work) - before,
            "import_s": timings["import_s"], "examples_per_s": args.tfma_size / timings["run_s"],
            "records": timings["records"], "output": out}


if __name__ == "__main__":
    sys.exit(main())
