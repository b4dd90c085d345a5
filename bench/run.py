"""`make bench`: assay against TFMA and against the floor, on the workloads of issue 5.

    python bench/run.py                          # every workload at the default sizes (long)
    python bench/run.py --quick                  # tiny sizes: a smoke test of the harness
    python bench/run.py --workloads a,c --size-a 200000 --repeat 3
    python bench/run.py --quick --check-only     # correctness only (tests/test_bench.py)

Workloads: a) metrics only, precomputed predictions; b) a Keras SavedModel (TFX serving layout)
predicting from serialized tf.Examples; c) (a) with a baseline's predictions as well; d) (a) at
several sizes, and with 2 worker processes; one_file) 2 workers against 1 on ONE TFRecord file
and ONE CSV file (bench/one_file.py); portable) the Beam engine on the PortableRunner against
TFMA there (bench/portable.py); tfx) TFX's taxi example, assay's Evaluator component against
TFX's (bench/tfx_component.py); parquet) (a) on Parquet; sklearn) a joblib model.
Every assay run is the CLI in a subprocess, end to end; TFMA runs on the same data, config and
machine (on a smaller size); the floor is the same files read (and predicted) with nothing else.
docs/benchmarks.md explains every figure. Results: bench/results/bench-<date>.json (and
latest.json), and the tables in docs/benchmarks.md (full runs only, unless --docs).

Exit status: 0 when every correctness check passed (targets missed do not fail the run), 1 when
a check failed or a run broke.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import shlex
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

# Run as `python bench/<script>.py`, bench/ comes first on sys.path and its modules would shadow
# installed ones of the same name: put the repository there instead.
_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0] or ".") == _HERE:
    sys.path[0] = os.path.dirname(_HERE)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from bench import compare, measure, report, stage_times  # noqa: E402

BENCH = os.path.join(REPO, "bench")
PYTHON = sys.executable
ASSAY = os.path.join(os.path.dirname(sys.executable), "assay")
WORKLOADS = ("a", "b", "c", "d", "one_file", "portable", "tfx", "parquet", "sklearn")
SLICES = ([], ["hour"], ["day"], ["hour", "day"])
METRICS = ["example_count", "auc", "auc_pr", "accuracy", "precision", "recall", "mean_label",
           "mean_prediction"]
TWO_WORKERS = "--direct_num_workers=2 --direct_running_mode=multi_processing"
CORES = os.cpu_count() or 1  # the local engine's default number of workers
PLAIN_NAMES = {k: k for k in compare.TFMA_NAMES if k != "auc_pr"}


@dataclasses.dataclass
class Sizes:
    size_a: int = 200_000        # (a) end to end against TFMA; also the Parquet workload
    size_b: int = 1_000_000      # (b): a Keras model; large, so the fixed cost is small
    sklearn_size: int = 200_000  # the scikit-learn workload (an extra row)
    size_c: int = 1_000_000      # (c) baseline against (a), same size
    tfma_size_a: int = 200_000   # TFMA's (a), at (a)'s size: the 100x target compares these
    tfma_size: int = 20_000      # TFMA's (b) and (c) (and the assay runs checked against them)
    sizes: Sequence[int] = (1_000_000, 5_000_000, 20_000_000)  # (d)
    steady_size: int = 5_000_000     # steady state against the read floor
    workers_size: int = 5_000_000    # 2 workers against 1
    startup_size: int = 1_000    # the fixed cost: an evaluation of almost nothing
    shards: int = 4
    portable_size: int = 200_000      # (a) on Beam's PortableRunner (bench/portable.py)
    portable_tfma_size: int = 20_000  # TFMA on the same runner
    one_file_size: int = 5_000_000    # ONE TFRecord file and ONE CSV file (bench/one_file.py)
    tfx_rows: int = 1_000_000         # rows of TFX's taxi data.csv: all (bench/tfx_component.py)


QUICK = Sizes(size_a=2_000, size_b=2_000, sklearn_size=2_000, size_c=2_000,
              tfma_size_a=2_000, tfma_size=2_000,
              sizes=(2_000, 10_000), steady_size=10_000, workers_size=10_000, startup_size=1_000,
              shards=4, portable_size=2_000, portable_tfma_size=2_000, one_file_size=20_000,
              tfx_rows=2_000)


def parse_args(argv: Optional[Sequence[str]]):
    p = argparse.ArgumentParser(description="assay's benchmark against TFMA and the floor.")
    p.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test)")
    p.add_argument("--rows-only", action="store_true",
                   help="only the workloads behind the targets table (every one but parquet "
                        "and sklearn, whose rows are extras)")
    p.add_argument("--check-only", action="store_true",
                   help="correctness only: skip the floor, startup and (d); run TFMA beside assay")
    p.add_argument("--workloads", default=",".join(WORKLOADS),
                   help=f"comma-separated, of {', '.join(WORKLOADS)} (default: all)")
    for field in dataclasses.fields(Sizes):
        flag = "--" + field.name.replace("_", "-")
        if field.name == "sizes":
            p.add_argument(flag, help="(d) sizes, comma-separated, e.g. 1000000,5000000")
        else:
            p.add_argument(flag, type=int, help=f"default {field.default:,} ({QUICK.__dict__[field.name]:,} with --quick)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--slices", type=int, metavar="N",
                   help="run only the many-slices workload: the Beam engine with N slices "
                        "(e.g. 1000000; bench/slices.py, which takes more options)")
    p.add_argument("--uncompressed", action="store_true",
                   help="TFRecord files without gzip (default: gzipped, as TFX writes them)")
    p.add_argument("--pycache-prefix", metavar="DIR",
                   help="let the measured processes cache their bytecode in DIR (sets "
                        "PYTHONPYCACHEPREFIX, unsets PYTHONDONTWRITEBYTECODE); warm-up runs first")
    p.add_argument("--repeat", type=int, default=1,
                   help="run each timed assay and floor run this many times; keep the fastest")
    p.add_argument("--no-tfma", action="store_true", help="skip TFMA (and the checks against it)")
    p.add_argument("--tfma-workloads", default="a,b,c",
                   help="which of a, b, c TFMA runs (those also selected by --workloads)")
    p.add_argument("--results-dir", default=os.path.join(BENCH, "results"))
    p.add_argument("--data-dir", default=os.path.join(BENCH, "data"),
                   help="where generated data and models are cached (default bench/data)")
    p.add_argument("--docs", default=None,
                   help="markdown file to write the tables into (default docs/benchmarks.md for "
                        "full runs; quick runs write none unless given)")
    p.add_argument("--no-docs", action="store_true")
    p.add_argument("--rerender", metavar="JSON",
                   help="run nothing: rebuild the summary and tables of an earlier run from its "
                        "results JSON (after a change to how figures are summarised)")
    args = p.parse_args(argv)
    sizes = dataclasses.replace(QUICK if args.quick else Sizes())
    for field in dataclasses.fields(Sizes):
        value = getattr(args, field.name)
        if value is not None:
            if field.name == "sizes":
                value = tuple(int(s) for s in value.split(","))
            setattr(sizes, field.name, value)
    args.sizes_ = sizes
    args.workloads_ = [w.strip() for w in args.workloads.split(",") if w.strip()]
    if args.rows_only:
        args.workloads_ = [w for w in args.workloads_ if w not in ("parquet", "sklearn")]
    unknown = set(args.workloads_) - set(WORKLOADS)
    if unknown:
        p.error(f"unknown workload(s) {', '.join(sorted(unknown))}; choose from "
                f"{', '.join(WORKLOADS)}")
    if args.no_docs:
        args.docs = None
    elif args.docs is None and not args.quick and not args.check_only:
        args.docs = os.path.join(REPO, "docs", "benchmarks.md")
    return args


_PYCACHE_PREFIX: Optional[str] = None  # --pycache-prefix


def _env() -> Dict[str, str]:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("PYTHONWARNINGS", "ignore")
    if _PYCACHE_PREFIX:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = _PYCACHE_PREFIX
    return env


def bytecode_status() -> str:
    """Whether the measured processes find their modules compiled, or compile them each time."""
    if _PYCACHE_PREFIX:
        return (f"cached under {_PYCACHE_PREFIX} (--pycache-prefix; warmed up before timing), "
                f"as on a machine where Python may write its bytecode")
    import importlib.util

    probe = os.path.join(os.path.dirname(os.__file__), "site-packages", "apache_beam",
                         "__init__.py")
    if not os.path.exists(probe):
        import apache_beam

        probe = apache_beam.__file__
    if os.path.exists(importlib.util.cache_from_source(probe)):
        return "precompiled in the environment"
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        return ("not cached: the environment has no __pycache__ and PYTHONDONTWRITEBYTECODE is "
                "set, so every process compiles every module it imports (seconds of startup; "
                "`uv sync --compile-bytecode` or --pycache-prefix avoid it)")
    return "written by Python on first import (warm after the first run)"


class Bench:
    """One benchmark run: builds what it needs, runs, checks, and keeps every figure."""

    def __init__(self, args):
        self.args = args
        self.sizes: Sizes = args.sizes_
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.stamp = stamp
        self.dir = os.path.join(os.path.abspath(args.results_dir), f"run-{stamp}")
        os.makedirs(self.dir, exist_ok=True)
        self.runs: Dict[str, Dict] = {}
        self.checks: List[Dict] = []
        self.failures: List[str] = []
        self._data: Dict[str, str] = {}
        # Interleaved rounds (`interleaved`): the round under way, the tries each run has had,
        # and what each kept so far (best Measured and timings files; a floor's best and CPUs).
        self._round: Optional[int] = None
        self._tries: Dict[str, int] = {}
        self._kept: Dict[str, Any] = {}

    # ---- building ------------------------------------------------------------------------------

    def build(self, kind: str, **kwargs) -> str:
        """A cached dataset or model (built in a subprocess on first use)."""
        kwargs["root"] = os.path.abspath(self.args.data_dir)
        key = kind + json.dumps(kwargs, sort_keys=True)
        if key not in self._data:
            out = subprocess.run([PYTHON, os.path.join(BENCH, "datasets.py"), kind,
                                  json.dumps(kwargs)], capture_output=True, text=True,
                                 env=_env(), cwd=REPO)
            if out.returncode != 0:
                raise RuntimeError(f"building {kind} {kwargs} failed:\n{out.stderr[-3000:]}")
            self._data[key] = out.stdout.strip().splitlines()[-1]
            for line in out.stdout.strip().splitlines()[:-1]:
                print(line, flush=True)
        return self._data[key]

    def tfrecord(self, n: int) -> str:
        return self.build("tfrecord", n=n, shards=self.sizes.shards, seed=self.args.seed,
                          compress=not self.args.uncompressed)

    def parquet(self, n: int) -> str:
        return self.build("parquet", n=n, shards=self.sizes.shards, seed=self.args.seed)

    def keras(self) -> str:
        return self.build("keras", seed=self.args.seed)

    def sklearn(self) -> str:
        return self.build("sklearn", seed=self.args.seed)

    @staticmethod
    def opt_ins(name: str) -> List[str]:
        """The flags a workload needs from the caller: a config cannot allow pickles."""
        return ["--allow-pickle"] if name == "sklearn" else []

    def read_columns(self, name: str) -> Optional[Tuple[str, ...]]:
        """The columns a workload's assay run decodes (None: every one)."""
        from assay.api import load_config
        from assay.engine.plan import read_columns

        return read_columns(load_config(self.config(name)))

    def config(self, name: str) -> str:
        """The assay config file of a workload (written once per run)."""
        path = os.path.join(self.dir, "configs", f"{name}.yaml")
        if os.path.exists(path):
            return path
        # Functions, so that only the workload's own model is built (the Keras one takes 30 s).
        models = {"a": lambda: "candidate: {prediction: prediction}",
                  "c": lambda: "candidate: {prediction: prediction}\n"
                               "  baseline: {prediction: old_prediction}",
                  "b": lambda: f"candidate: {{path: {json.dumps(self.keras())}}}",
                  "sklearn": lambda: f"candidate: {{path: {json.dumps(self.sklearn())}}}"}[name]()
        text = (f"# bench workload {name}\nlabel: label\nmodels:\n  {models}\n"
                f"slices: {json.dumps(SLICES)}\nmetrics: {json.dumps(METRICS)}\n")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    # ---- running -------------------------------------------------------------------------------

    def _record(self, run_id: str, info: Dict) -> Dict:
        self.runs[run_id] = info
        wall = info.get("wall_s")
        print(f"bench: {run_id}: {'-' if wall is None else f'{wall:.2f} s'}"
              f"{'' if info.get('ok', True) else '  FAILED'}", flush=True)
        return info

    def interleaved(self, *calls: Callable[[], Any]) -> None:
        """Runs the calls (each one `assay` or `floor` call) in rounds, one try of each a
        round, `--repeat` rounds, so that the runs a ratio compares are taken
        minutes apart at most, not one's tries all before the other's: this machine's speed
        drifts by 20-45% over tens of minutes. Each run keeps the best of its tries, as
        alone; a run already made (with all its tries) is not made again."""
        try:
            for r in range(max(self.args.repeat, 1)):
                self._round = r
                for call in calls:
                    call()
        finally:
            self._round = None

    def _due(self, run_id: str, repeat: int) -> Optional[Tuple[int, int]]:
        """(first try index, tries) still to make for run_id now, or None (use its record)."""
        done = self._tries.get(run_id, 0)
        if self._round is None:
            return None if run_id in self.runs else (0, max(repeat, 1))
        if run_id in self.runs and done > self._round:
            return None
        return done, 1

    def _best_of(self, command: List[str], run_id: str, repeat: int,
                 timings: Optional[List[str]] = None, start: int = 0,
                 best: Optional[measure.Measured] = None) -> measure.Measured:
        """The fastest of `repeat` runs (tries start.., beside `best`, a previous try's); with
        `timings` (a list), each run writes a --timings file, whose paths are appended to it."""
        for i in range(start, start + max(repeat, 1)):
            log = os.path.join(self.dir, "logs", f"{run_id}.{i}.log")
            os.makedirs(os.path.dirname(log), exist_ok=True)
            extra = []
            if timings is not None:
                timings.append(os.path.join(self.dir, "logs", f"{run_id}.{i}.timings.json"))
                extra = ["--timings", timings[-1]]
            m = measure.run_measured(command + extra, log_path=log, env=_env(), cwd=REPO)
            if m.returncode != 0:
                return m
            if best is None or m.wall_s < best.wall_s:
                peak = max(m.peak_rss_mb, best.peak_rss_mb if best else 0)
                pss = max(m.peak_pss_mb, best.peak_pss_mb if best else 0)
                best = dataclasses.replace(m, peak_rss_mb=peak, peak_pss_mb=pss)
            else:
                best.peak_rss_mb = max(best.peak_rss_mb, m.peak_rss_mb)
                best.peak_pss_mb = max(best.peak_pss_mb, m.peak_pss_mb)
        return best

    def assay(self, workload: str, examples: str, n: int, workers: int = 1,
              repeat: Optional[int] = None, tag: str = "", engine: str = "local") -> Dict:
        """assay evaluate, end to end, as a user runs it.

        engine "local": `--workers N` (the default, with no flag, is every core: CORES).
        engine "beam": `--engine beam`, Beam's DirectRunner, multi_processing for N > 1.
        """
        run_id = f"assay-{workload}{tag}-{n}{'' if engine == 'local' else '-' + engine}-w{workers}"
        due = self._due(run_id, self.args.repeat if repeat is None else repeat)
        if due is None:
            return self.runs[run_id]
        out = os.path.join(self.dir, "out", run_id)
        command = [ASSAY, "evaluate", "--config", self.config(workload), "--examples", examples,
                   "--output", out] + self.opt_ins(workload)
        if engine == "beam":
            command += ["--engine", "beam"]
            if workers > 1:
                command += ["--beam-pipeline-args",
                            TWO_WORKERS.replace("=2", f"={workers}", 1)]
        elif workers != CORES:
            command += ["--workers", str(workers)]
        load_before = os.getloadavg()[0]
        # every run's stage times (assay.timings): in-run figures
        best, timings = self._kept.get(run_id, (None, []))
        m = self._best_of(command, run_id, due[1], timings, start=due[0], best=best)
        self._kept[run_id] = (m, timings)
        # a failed run is not tried again in a later round
        self._tries[run_id] = due[0] + due[1] if m.returncode == 0 else 1 << 30
        if run_id in self.runs:
            load_before = self.runs[run_id].get("load_before", load_before)
        info = {"kind": "assay", "workload": workload, "examples": n, "workers": workers,
                "engine": engine, "timings": stage_times.summarise(stage_times.load(timings)),
                "command": " ".join(shlex.quote(c) for c in command), "output": out,
                "ok": m.returncode == 0, "load_before": load_before,
                "load_after": os.getloadavg()[0], **m.to_dict()}
        if m.returncode != 0:
            self.failures.append(f"{run_id} exited {m.returncode}:\n{m.tail()}")
            print(m.tail(), file=sys.stderr)
        return self._record(run_id, info)

    def floor(self, name: str, examples: str, n: int, saved_model: Optional[str] = None,
              joblib: Optional[str] = None, workers: int = 1,
              columns_of: Optional[str] = None) -> Dict:
        """Read (and predict) with nothing else; loop_s is the floor. workers: processes
        reading at once (no model), the floor of assay's workers. columns_of: a workload whose
        config names every column it reads: only those are decoded, as assay decodes them."""
        run_id = f"floor-{name}-{n}" + (f"-w{workers}" if workers > 1 else "")
        due = self._due(run_id, self.args.repeat)
        if due is None:
            return self.runs[run_id]
        best, cpus = self._kept.get(run_id, (None, []))
        self._tries[run_id] = 1 << 30  # until it succeeds: a failed floor is not tried again
        for i in range(due[0], due[0] + due[1]):
            out = os.path.join(self.dir, "logs", f"{run_id}.{i}.json")
            command = [PYTHON, os.path.join(BENCH, "floor.py"), "--examples", examples,
                       "--json", out]
            if saved_model:
                command += ["--saved-model", saved_model]
            if joblib:
                command += ["--joblib", joblib]
            if workers > 1:
                command += ["--workers", str(workers)]
            columns = self.read_columns(columns_of) if columns_of else None
            if columns:
                command += ["--columns", ",".join(columns)]
            m = self._best_of(command, f"{run_id}.{i}", 1)
            if m.returncode != 0:
                self.failures.append(f"{run_id} exited {m.returncode}:\n{m.tail()}")
                return self._record(run_id, {"kind": "floor", "ok": False})
            with open(out, encoding="utf-8") as f:
                inner = json.load(f)
            cpus.append(inner.get("loop_cpu_s"))
            if best is None or inner["loop_s"] < best["loop_s"]:
                best = dict(inner, **{"wall_s": m.wall_s, "peak_rss_mb": m.peak_rss_mb,
                                      "peak_pss_mb": m.peak_pss_mb})
        self._kept[run_id] = (best, cpus)
        self._tries[run_id] = due[0] + due[1]
        if None not in cpus:  # the loop's CPU, best of the repeats like its wall
            best["loop_cpu_s"] = min(cpus)
        if best["rows"] != n:
            self.failures.append(f"{run_id} read {best['rows']} rows, not {n}")
        return self._record(run_id, dict(best, kind="floor", examples=n, ok=True))

    def warm_up(self, configs: Sequence[str], tfma: bool) -> None:
        """Untimed runs that let every process's imports be compiled and cached first."""
        tiny = self.tfrecord(self.sizes.startup_size)
        modules = "assay.api, assay.engine.beam, tensorflow" + (
            ", tensorflow_model_analysis" if tfma else "")
        commands = [[PYTHON, "-c", f"import {modules}"]]
        commands += [[ASSAY, "evaluate", "--config", self.config(c), "--examples", tiny,
                      "--output", os.path.join(self.dir, "out", f"warm-up-{c}")]
                     + self.opt_ins(c) for c in configs]
        floor = [PYTHON, os.path.join(BENCH, "floor.py"), "--examples", tiny, "--json",
                 os.path.join(self.dir, "warm-up-floor.json")]
        commands.append(floor + (["--saved-model", self.keras()] if "b" in configs else []))
        for command in commands:
            subprocess.run(command, env=_env(), cwd=REPO, capture_output=True)
        print("bench: warmed up the bytecode cache", flush=True)

    def startup(self) -> Dict:
        """Interpreter start, `import assay.api`, and the fixed cost of the CLI."""
        info = {}
        for name, code in (("interpreter_s", "pass"), ("import_s", "import assay.api"),
                           ("import_beam_s", "import assay.engine.beam"),
                           ("import_tf_s", "import tensorflow")):
            walls = []
            for _ in range(max(self.args.repeat, 2)):
                m = measure.run_measured([PYTHON, "-c", code], env=_env(), cwd=REPO)
                walls.append(m.wall_s)
            info[name] = min(walls)
        return self._record("startup", dict(info, kind="startup", wall_s=info["import_s"]))

    def tfma(self, jobs: List[Dict], background: bool = False):
        """TFMA's jobs in one process; returns a function that waits and gives the results."""
        jobs_path = os.path.join(self.dir, "tfma-jobs.json")
        out_path = os.path.join(self.dir, "tfma-timings.json")
        with open(jobs_path, "w", encoding="utf-8") as f:
            json.dump(jobs, f, indent=1)
        command = [PYTHON, os.path.join(BENCH, "tfma_eval.py"), "--jobs", jobs_path,
                   "--json", out_path]
        env = _env()
        env["TF_USE_LEGACY_KERAS"] = "1"  # TFMA loads Keras models with tf.keras
        holder: Dict = {}

        def go():
            log = os.path.join(self.dir, "logs", "tfma.log")
            os.makedirs(os.path.dirname(log), exist_ok=True)
            holder["m"] = measure.run_measured(command, log_path=log, env=env, cwd=REPO)

        thread = threading.Thread(target=go)
        thread.start()
        if not background:
            thread.join()

        def wait() -> Dict:
            thread.join()
            m = holder["m"]
            timings = {"jobs": []}
            if os.path.exists(out_path):
                with open(out_path, encoding="utf-8") as f:
                    timings = json.load(f)
            if m.returncode != 0:
                self.failures.append(f"TFMA exited {m.returncode}:\n{m.tail()}")
                print(m.tail(), file=sys.stderr)
            for job, spec in zip(timings["jobs"], jobs):
                self._record(f"tfma-{job['name']}", {
                    "kind": "tfma", "workload": job["name"], "examples": spec["n"],
                    "wall_s": job["run_s"], "import_s": timings["import_s"],
                    "peak_rss_mb": job["peak_rss_mb"], "output": spec["output"], "ok": True})
            for spec in jobs[len(timings["jobs"]):]:
                self._record(f"tfma-{spec['name']}", {"kind": "tfma", "ok": False})
            return {"process": m.to_dict(), **timings}

        return wait

    # ---- checking ------------------------------------------------------------------------------

    def check(self, workload: str, reference: str, assay_run: Dict, ref_records: List[Dict],
              names: Dict[str, str], models: Optional[Sequence[str]] = None) -> Dict:
        if not assay_run.get("ok"):
            result = {"ok": False, "error": "the assay run failed"}
        else:
            result = compare.compare_records(compare.load_assay_records(assay_run["output"]),
                                             ref_records, names, models=models)
        result.update(workload=workload, reference=reference)
        self.checks.append(result)
        if not result["ok"]:
            self.failures.append(f"check {workload} against {reference} failed: "
                                 f"{json.dumps(result)[:2000]}")
        print(f"bench: check {workload} vs {reference}: "
              f"{'match' if result['ok'] else 'DIFFER'} ({result.get('compared', 0)} pairs)",
              flush=True)
        return result

    def frame(self, n: int, float32: bool):
        """make_trips(n) as pandas; float features as a tf.Example stores them when float32."""
        import numpy as np

        from assay import demo

        frame = demo.make_trips(n, self.args.seed).to_pandas()
        if float32:
            for col in ("miles", "prediction", "old_prediction", "weight"):
                frame[col] = frame[col].astype(np.float32).astype(np.float64)
        return frame


def rerender(args) -> int:
    """The tables of an earlier run, summarised again from its results JSON; nothing is run."""
    from bench import plan_runs

    with open(args.rerender, encoding="utf-8") as f:
        results = json.load(f)
    args.sizes_ = Sizes(**{k: tuple(v) if k == "sizes" else v
                           for k, v in results["sizes"].items()})
    args.workloads_ = results["workloads"]
    args.check_only = results.get("check_only", False)
    bench = argparse.Namespace(sizes=args.sizes_, runs=results["runs"],
                               checks=results["checks"], failures=results["failures"])
    results.update(plan_runs.summarise(bench, args))
    _write(results, [args.rerender], args.docs)
    return 0


def _write(results: Dict, paths: Sequence[str], docs: Optional[str]) -> None:
    """The results JSON to each of `paths`; the tables printed, and into `docs` if given."""
    for p in paths:
        with open(p, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1, default=str)
    text = report.render(results)
    print(text)
    if docs:
        report.replace_between_markers(docs, text)
        print(f"bench: tables written to {docs}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    from bench import plan_runs

    if args.rerender:
        return rerender(args)
    if args.slices:
        from bench import slices

        return slices.main(["--slices", str(args.slices)])

    global _PYCACHE_PREFIX
    _PYCACHE_PREFIX = os.path.abspath(args.pycache_prefix) if args.pycache_prefix else None
    bench = Bench(args)
    started = time.time()
    results = {
        "command": "python bench/run.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "git": _git(), "machine": measure.machine(), "sizes": dataclasses.asdict(args.sizes_),
        "workloads": args.workloads_, "repeat": args.repeat, "check_only": args.check_only,
        "bytecode": bytecode_status(), "compressed": not args.uncompressed,
    }
    plan_runs.run_all(bench, args)
    results.update(plan_runs.summarise(bench, args))
    results["runs"] = bench.runs
    results["checks"] = bench.checks
    results["failures"] = bench.failures
    results["load_average_end"] = list(os.getloadavg())
    results["elapsed_s"] = time.time() - started
    os.makedirs(args.results_dir, exist_ok=True)
    path = os.path.join(args.results_dir, f"bench-{bench.stamp}.json")
    _write(results, [path, os.path.join(args.results_dir, "latest.json")], args.docs)
    print(f"bench: results in {path}")
    if bench.failures:
        print("bench: FAILED:\n" + "\n".join(f[:3000] for f in bench.failures), file=sys.stderr)
        return 1
    return 0


def _git() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=REPO, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, cwd=REPO).stdout.strip()
        return head + (" + uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
