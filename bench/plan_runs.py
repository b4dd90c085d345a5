"""What bench/run.py runs for each workload, and how the figures become rows and targets.

    run_all(bench, args)          # data, TFMA, floors, assay runs, checks (in bench.runs/checks)
    summary = summarise(bench, args)   # {"rows": [...], "targets": [...], "notes": [...]}

Definitions (docs/benchmarks.md has them too):
  - examples/s of an assay run: examples / wall time of the whole CLI process (startup included).
  - fixed cost: the wall time of the same CLI evaluating `startup_size` examples (imports, plan,
    pipeline construction, Beam start and finish, writing results).
  - steady-state time: wall - fixed cost; "time vs floor" = steady-state time / floor loop time.
  - TFMA examples/s: examples / run_model_analysis's time, its import not counted (generous to
    TFMA); "speed vs TFMA" = assay's end-to-end examples/s / that.
"""

from __future__ import annotations

import json
import os
import re
import types
from typing import Dict, List, Optional

from bench import compare
from bench import targets as targets_table

CORES = os.cpu_count() or 1  # the local engine's default number of workers (as in run.py)
# The floor of (a), (c) and (d): reading and decoding the columns (a)'s config reads, which are
# all that assay decodes for it (assay.engine.plan.read_columns).
READ_FLOOR = "floor: read + decode to Arrow, (a)'s columns"

_TOL_SAME = {name: 1e-9 for name in compare.TFMA_NAMES}
_TOL_SAME["example_count"] = 0.0


def run_all(bench, args) -> None:
    s = bench.sizes
    w = set(args.workloads_)
    timing = not args.check_only
    cores = CORES

    # Data and models first, so that building them is never timed.
    for n in {s.tfma_size, s.tfma_size_a, s.startup_size} | \
            ({s.size_a} if w & {"a", "c"} else set()) | \
            ({s.size_b} if "b" in w else set()) | ({s.size_c} if "c" in w else set()) | \
            ({s.sklearn_size} if "sklearn" in w else set()):
        bench.tfrecord(n)
    if timing and "d" in w:
        for n in set(s.sizes) | {s.steady_size, s.workers_size}:
            bench.tfrecord(n)
    if "parquet" in w:
        bench.parquet(s.size_a)
    if "b" in w:
        bench.keras()
    if "sklearn" in w:
        bench.sklearn()

    if timing and args.pycache_prefix:
        bench.warm_up([c for c in ("a", "b", "sklearn") if c == "a" or c in w],
                      tfma=not args.no_tfma)

    # TFMA: alone on the machine when timing; beside assay when only checking.
    wait_tfma = None
    jobs = []
    if not args.no_tfma:
        for name, extra in (("a", {}), ("b", {"candidate": {"path": bench.keras()}}
                                         if "b" in w else None),
                            ("c", {"baseline": {"prediction": "old_prediction"}})):
            if name not in w or extra is None or name not in args.tfma_workloads.split(","):
                continue
            n = s.tfma_size_a if name == "a" else s.tfma_size
            job = {"name": name, "n": n, "examples": bench.tfrecord(n),
                   "output": f"{bench.dir}/out/tfma-{name}-{n}",
                   "candidate": {"prediction": "prediction"}}
            job.update(extra)
            jobs.append(job)
        if jobs:
            wait_tfma = bench.tfma(jobs, background=args.check_only)
            if timing:
                bench.tfma_result = wait_tfma()

    tiny = bench.tfrecord(s.startup_size)
    if timing:
        bench.startup()
        bench.assay("a", tiny, s.startup_size, tag="-fixed", workers=cores)
        bench.assay("a", tiny, s.startup_size, tag="-fixed", workers=1)
        bench.assay("a", tiny, s.startup_size, tag="-fixed", engine="beam")
        if "c" in w:  # (c)'s own: two models' records, plots and files to write
            bench.assay("c", tiny, s.startup_size, tag="-fixed", workers=1)
        if "b" in w:
            bench.assay("b", tiny, s.startup_size, tag="-fixed", workers=cores)
            bench.assay("b", tiny, s.startup_size, tag="-fixed", workers=1)
        if "sklearn" in w:
            bench.assay("sklearn", tiny, s.startup_size, tag="-fixed", workers=cores)

    # The runs checked against TFMA are the default ones (every core), at TFMA's sizes. The
    # runs a ratio compares are interleaved (Bench.interleaved): one try of each a round.
    if "a" in w:
        if timing:
            a = bench.tfrecord(s.size_a)
            bench.interleaved(lambda: bench.floor("read", a, s.size_a, columns_of="a"),
                              lambda: bench.assay("a", a, s.size_a, workers=cores),
                              lambda: bench.assay("a", a, s.size_a, workers=1),
                              lambda: bench.assay("a", a, s.size_a, engine="beam"))
        bench.assay("a", bench.tfrecord(s.tfma_size_a), s.tfma_size_a, workers=cores)
    if "b" in w:
        if timing:
            b = bench.tfrecord(s.size_b)
            bench.interleaved(lambda: bench.floor("read+keras", b, s.size_b,
                                                  saved_model=bench.keras()),
                              lambda: bench.assay("b", b, s.size_b, workers=cores),
                              lambda: bench.assay("b", b, s.size_b, workers=1))
        bench.assay("b", bench.tfrecord(s.tfma_size), s.tfma_size, workers=cores)
    if "c" in w:
        if timing:
            c = bench.tfrecord(s.size_c)
            bench.interleaved(lambda: bench.floor("read", c, s.size_c, columns_of="a"),
                              lambda: bench.assay("a", c, s.size_c, workers=1),
                              lambda: bench.assay("c", c, s.size_c, workers=1))
        bench.assay("c", bench.tfrecord(s.tfma_size), s.tfma_size, workers=cores)
    if "d" in w and timing:
        for n in sorted(set(s.sizes) | {s.steady_size, s.workers_size}):
            d = bench.tfrecord(n)
            calls = [lambda: bench.floor("read", d, n, columns_of="a"),
                     lambda: bench.assay("a", d, n, workers=1)]
            if n == s.workers_size:  # 2 workers against 1, in the same rounds; the floor too
                calls.append(lambda: bench.assay("a", d, n, workers=2))
                calls.append(lambda: bench.floor("read", d, n, workers=2, columns_of="a"))
            bench.interleaved(*calls)
        d = bench.tfrecord(s.workers_size)
        bench.interleaved(lambda: bench.assay("a", d, s.workers_size, engine="beam"),
                          lambda: bench.assay("a", d, s.workers_size, engine="beam", workers=2))
    if "portable" in w and timing:
        from bench import portable

        portable.run_in_bench(bench, s.portable_size, s.portable_tfma_size, args.no_tfma)
    if "one_file" in w and timing:
        from bench import one_file

        one_file.run_in_bench(bench, s.one_file_size)
    if "tfx" in w and timing:
        from bench import tfx_component

        tfx_component.run_in_bench(bench, s.tfx_rows)
    if "parquet" in w:
        if timing:
            bench.floor("read-parquet", bench.parquet(s.size_a), s.size_a)
        run = bench.assay("a", bench.parquet(s.size_a), s.size_a, tag="-parquet", workers=cores)
        reference = compare.reference_records(bench.frame(s.size_a, float32=False),
                                              "prediction", [[], ["hour"], ["day"],
                                                             ["hour", "day"]])
        bench.check("parquet", "numpy/scikit-learn on the same rows", run, reference,
                    _PLAIN)
    if "sklearn" in w:
        if timing:
            bench.floor("read+sklearn", bench.tfrecord(s.sklearn_size), s.sklearn_size,
                        joblib=bench.sklearn())
        run = bench.assay("sklearn", bench.tfrecord(s.sklearn_size), s.sklearn_size,
                          workers=cores)
        bench.check("sklearn", "the model's predict_proba, metrics in numpy/scikit-learn",
                    run, _sklearn_reference(bench, s.sklearn_size), _PLAIN)

    # Checks against TFMA.
    if wait_tfma is not None:
        if not hasattr(bench, "tfma_result"):
            bench.tfma_result = wait_tfma()
        for job in jobs:
            tfma_run = bench.runs.get(f"tfma-{job['name']}", {})
            assay_run = bench.runs[f"assay-{job['name']}-{job['n']}-w{cores}"]
            if not tfma_run.get("ok"):
                bench.checks.append({"workload": job["name"], "reference": "TFMA", "ok": False,
                                     "error": "TFMA failed"})
                bench.failures.append(f"TFMA job {job['name']} failed")
                continue
            ref = compare.load_reference_records(f"{job['output']}/tfma_metrics.json")
            bench.check(job["name"], f"TFMA {bench.tfma_result.get('tfma_version', '')}",
                        assay_run, ref, compare.TFMA_NAMES)

    # (d): two workers give what one gives, on either engine; every size counts every example.
    if "d" in w and timing:
        one = bench.runs[f"assay-a-{s.workers_size}-w1"]
        for other, label in ((f"assay-a-{s.workers_size}-w2", "d (2 workers)"),
                             (f"assay-a-{s.workers_size}-beam-w1", "d (Beam engine)"),
                             (f"assay-a-{s.workers_size}-beam-w2", "d (Beam, 2 workers)")):
            two = bench.runs[other]
            if one.get("ok") and two.get("ok"):
                _check_same(bench, two, one, label)
        for n in sorted(set(s.sizes)):
            _check_count(bench, bench.runs[f"assay-a-{n}-w1"], n)


_PLAIN = {k: k for k in compare.TFMA_NAMES if k != "auc_pr"}


def _check_same(bench, run, reference_run, label: str) -> None:
    result = compare.compare_records(compare.load_assay_records(run["output"]),
                                     compare.load_assay_records(reference_run["output"]),
                                     compare.SAME_NAMES, tolerances=_TOL_SAME)
    result.update(workload=label, reference="assay, local engine, 1 worker")
    bench.checks.append(result)
    if not result["ok"]:
        bench.failures.append(f"{label} differs from 1 worker: {json.dumps(result)[:2000]}")


def _check_count(bench, run, n: int) -> None:
    if not run.get("ok"):
        return
    overall = [r for r in compare.load_assay_records(run["output"])
               if r["slice"] == {} and r["model"] == "candidate"][0]
    count = overall["metrics"]["example_count"]
    ok = count == n
    bench.checks.append({"workload": f"d ({n:,})", "reference": "examples written",
                         "ok": ok, "compared": 1,
                         "max_abs_diff": {"example_count": abs(count - n)}})
    if not ok:
        bench.failures.append(f"the run on {n} examples counted {count}")


def _sklearn_reference(bench, n: int) -> List[Dict]:
    import joblib

    from bench import datasets

    frame = bench.frame(n, float32=True)
    model = joblib.load(bench.sklearn())
    frame["model_prediction"] = model.predict_proba(frame[list(datasets.MODEL_FEATURES)])[:, 1]
    return compare.reference_records(frame, "model_prediction",
                                     [[], ["hour"], ["day"], ["hour", "day"]])


# ------------------------------------------------------------------------------------------------
# Rows and targets


def _rate(n: Optional[int], seconds: Optional[float]) -> Optional[float]:
    return n / seconds if n and seconds else None


def _minus(wall: Optional[float], fixed: Optional[float]) -> Optional[float]:
    if wall is None or fixed is None:
        return None
    return wall - fixed if wall > fixed else None


def _div(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return a / b if a is not None and b else None


def summarise(bench, args) -> Dict:
    s = bench.sizes
    runs = bench.runs
    rows: List[Dict] = []
    notes: List[str] = []

    def get(run_id):
        r = runs.get(run_id)
        return r if r and r.get("ok", True) else None

    def fixed(workload, variant="w1"):
        """The fixed cost of `workload`'s config on an engine and workers ("w2", "beam-w1")."""
        r = get(f"assay-{workload}-fixed-{s.startup_size}-{variant}")
        if r is None and variant.startswith("beam"):
            r = get(f"assay-{workload}-fixed-{s.startup_size}-beam-w1")
        if r is None:
            r = get(f"assay-{workload}-fixed-{s.startup_size}-w1")
        if r is None and workload == "c":  # (c)'s own not run: (a)'s, as before
            return fixed("a", variant)
        return r["wall_s"] if r else None

    def variant_of(run_id):
        m = re.search(r"-((?:beam-)?w\d+)$", run_id)
        return m.group(1) if m else "w1"

    tfma_rate = {}
    for name in ("a", "b", "c"):
        t = get(f"tfma-{name}")
        if t:
            tfma_rate[name] = _rate(t["examples"], t["wall_s"])

    by_run: Dict[str, Dict] = {}  # a run shown twice (two workloads share it) is listed once

    def assay_row(workload, run_id, what, floor_id=None, fixed_of=None, vs_tfma=None, note=""):
        """fixed_of: the config whose fixed cost is subtracted (a, b or sklearn)."""
        if run_id in by_run:
            return by_run[run_id]
        r = get(run_id)
        if not r:
            return None
        rate = _rate(r["examples"], r["wall_s"])
        floor = get(floor_id) if floor_id else None
        steady = _minus(r["wall_s"], fixed(fixed_of or workload, variant_of(run_id)))
        row = {"workload": workload, "what": what, "examples": r["examples"],
               "wall_s": r["wall_s"], "examples_per_s": rate, "peak_rss_mb": r["peak_rss_mb"],
               "peak_pss_mb": r["peak_pss_mb"],
               "vs_tfma": _div(rate, tfma_rate.get(vs_tfma)) if vs_tfma else None,
               "vs_floor": _div(steady, floor["loop_s"]) if floor else None,
               "steady_s": steady, "note": note, "run": run_id}
        rows.append(row)
        by_run[run_id] = row
        return row

    def floor_row(workload, run_id, what):
        if run_id in by_run:
            return by_run[run_id]
        r = get(run_id)
        if not r:
            return None
        row = {"workload": workload, "what": what, "examples": r["examples"],
               "wall_s": r["loop_s"], "examples_per_s": _rate(r["examples"], r["loop_s"]),
               "peak_rss_mb": r["peak_rss_mb"], "peak_pss_mb": r["peak_pss_mb"],
               "note": f"imports {r['import_s']:.1f} s, model load and first call "
                       f"{r['load_s']:.1f} s apart"
                       if r.get("model") else f"imports {r['import_s']:.1f} s apart",
               "run": run_id}
        rows.append(row)
        by_run[run_id] = row
        return row

    def tfma_row(workload, name, what):
        t = get(f"tfma-{name}")
        if not t:
            return None
        row = {"workload": workload, "what": what, "examples": t["examples"],
               "wall_s": t["wall_s"], "examples_per_s": tfma_rate[name],
               "peak_rss_mb": t["peak_rss_mb"],
               "note": f"run_model_analysis only; importing TFMA took {t['import_s']:.1f} s "
                       f"more ({_rate(t['examples'], t['wall_s'] + t['import_s']):,.0f} "
                       f"examples/s with it)", "run": f"tfma-{name}"}
        rows.append(row)
        by_run[f"tfma-{name}"] = row
        return row

    st = get("startup")
    if st:
        rows.append({"workload": "startup", "what": "`python -c 'import assay.api'`",
                     "wall_s": st["import_s"],
                     "note": f"the interpreter alone: {st['interpreter_s']:.2f} s; "
                             f"`import tensorflow`: {st['import_tf_s']:.1f} s; "
                             f"`import assay.engine.beam` (Beam): {st.get('import_beam_s', 0):.1f} s"})
    local_note = ("imports, plan, starting the workers, writing: subtracted for steady state")
    for wl, variant, what in (("a", f"w{CORES}", f"local engine, {CORES} workers (the default)"),
                              ("a", "w1", "local engine, 1 worker"),
                              ("a", "beam-w1", "Beam engine (DirectRunner)"),
                              ("c", "w1", "candidate + baseline, local engine, 1 worker"),
                              ("b", f"w{CORES}", f"local engine, {CORES} workers (the default)"),
                              ("b", "w1", "local engine, 1 worker"),
                              ("sklearn", f"w{CORES}", f"local engine, {CORES} workers")):
        assay_row("startup", f"assay-{wl}-fixed-{s.startup_size}-{variant}",
                  f"assay CLI, config ({wl}), {what}, fixed cost", fixed_of=wl,
                  note="imports, plan, pipeline construction, Beam's start and finish, writing"
                  if variant.startswith("beam") else local_note
                  + ("; TensorFlow's import and the model's load" if wl == "b" else ""))

    # (a)
    default = f"w{CORES}"
    tfma_row("a", "a", "TFMA, model-agnostic, DirectRunner")
    floor_row("a", f"floor-read-{s.size_a}", f"{READ_FLOOR} (one core)")
    ra = assay_row("a", f"assay-a-{s.size_a}-{default}",
                   f"assay CLI, end to end (default: local engine, {CORES} workers)",
                   floor_id=f"floor-read-{s.size_a}", vs_tfma="a")
    assay_row("a", f"assay-a-{s.size_a}-w1", "assay CLI, local engine, 1 worker",
              floor_id=f"floor-read-{s.size_a}", vs_tfma="a")
    assay_row("a", f"assay-a-{s.size_a}-beam-w1", "assay CLI, Beam engine (DirectRunner)",
              floor_id=f"floor-read-{s.size_a}", vs_tfma="a")
    if s.tfma_size_a != s.size_a:
        assay_row("a", f"assay-a-{s.tfma_size_a}-{default}", "assay CLI, TFMA's size",
                  vs_tfma="a", note="checked against TFMA")
    elif ra:
        ra["note"] = "checked against TFMA, every slice"

    # (b)
    tfma_row("b", "b", "TFMA, Keras SavedModel, DirectRunner")
    floor_row("b", f"floor-read+keras-{s.size_b}",
              "floor: read + decode + batched predict (one thread)")
    assay_row("b", f"assay-b-{s.size_b}-{default}",
              f"assay CLI, Keras SavedModel (default: {CORES} worker threads)",
              floor_id=f"floor-read+keras-{s.size_b}", vs_tfma="b")
    assay_row("b", f"assay-b-{s.size_b}-w1", "assay CLI, Keras SavedModel, 1 worker",
              floor_id=f"floor-read+keras-{s.size_b}", vs_tfma="b")
    if s.tfma_size != s.size_b:
        assay_row("b", f"assay-b-{s.tfma_size}-{default}", "assay CLI, TFMA's size", vs_tfma="b",
                  note="checked against TFMA")

    # (c)
    tfma_row("c", "c", "TFMA, candidate + baseline")
    assay_row("c", f"assay-c-{s.size_c}-w1", "assay CLI, candidate + baseline, 1 worker",
              floor_id=f"floor-read-{s.size_c}", vs_tfma="c", fixed_of="c")
    if s.tfma_size != s.size_c:
        assay_row("c", f"assay-c-{s.tfma_size}-{default}", "assay CLI, TFMA's size", vs_tfma="c",
                  fixed_of="a", note="checked against TFMA")

    # (d)
    if "d" in args.workloads_ and not args.check_only:
        for n in sorted(set(s.sizes) | {s.steady_size}):
            floor_row("d", f"floor-read-{n}", f"{READ_FLOOR} (one core)")
            assay_row("d", f"assay-a-{n}-w1", "assay CLI, (a), local engine, 1 worker",
                      floor_id=f"floor-read-{n}", vs_tfma="a", fixed_of="a")
        n = s.workers_size
        shared = "peak RSS counts shared pages once per process"
        floor_row("d", f"floor-read-{n}-w2",
                  f"{READ_FLOOR}, 2 processes, {s.shards} shards")
        assay_row("d", f"assay-a-{n}-w2",
                  f"assay CLI, (a), local engine, 2 workers, {s.shards} shards",
                  floor_id=f"floor-read-{n}", vs_tfma="a", fixed_of="a", note=shared)
        assay_row("d", f"assay-a-{n}-beam-w1", "assay CLI, (a), Beam engine, 1 worker",
                  floor_id=f"floor-read-{n}", vs_tfma="a", fixed_of="a")
        assay_row("d", f"assay-a-{n}-beam-w2",
                  f"assay CLI, (a), Beam engine, 2 workers (multi_processing), "
                  f"{s.shards} shards", floor_id=f"floor-read-{n}", vs_tfma="a",
                  fixed_of="a", note=shared)

    # one big file, and the TFX component: their scripts' own rows
    from bench import one_file, tfx_component

    rows += one_file.bench_rows(runs.get("one_file") or {})
    rows += tfx_component.bench_rows(runs.get("tfx") or {})

    # extra workloads
    floor_row("parquet", f"floor-read-parquet-{s.size_a}", "floor: read Parquet to Arrow")
    assay_row("parquet", f"assay-a-parquet-{s.size_a}-{default}",
              "assay CLI, (a) on Parquet (one file: 1 worker)",
              floor_id=f"floor-read-parquet-{s.size_a}", vs_tfma="a", fixed_of="a")
    floor_row("sklearn", f"floor-read+sklearn-{s.sklearn_size}",
              "floor: read + decode + predict_proba")
    assay_row("sklearn", f"assay-sklearn-{s.sklearn_size}-{default}",
              f"assay CLI, scikit-learn joblib model ({CORES} worker threads)",
              floor_id=f"floor-read+sklearn-{s.sklearn_size}")

    ctx = types.SimpleNamespace(sizes=s, runs=runs, get=get, row=by_run.get, fixed=fixed,
                                default=default, cores=CORES)
    targets = targets_table.build(ctx)
    if st:
        notes.append(f"Startup, reported apart: import assay.api {st['import_s']:.2f} s; fixed "
                     f"cost of the CLI (a) {fixed('a', default) or 0:.2f} s (local engine), "
                     f"{fixed('a', 'beam-w1') or 0:.2f} s (Beam).")
    load = bench.runs and max((r.get("load_before") or 0) for r in runs.values())
    if load and load > 1.0:
        notes.append(f"The machine was busy while measuring (load average up to {load:.1f} "
                     f"before a run, on {bench_nproc()} cores): timings are noisy; rerun on a "
                     f"quiet machine before quoting them.")
    if args.check_only:
        notes.append("--check-only: TFMA ran beside assay, so neither's timings mean anything.")
    if args.quick:
        notes.append("--quick sizes: these figures only show that the harness works.")
    return {"rows": rows, "targets": targets, "notes": notes}


def bench_nproc() -> int:
    import os

    return os.cpu_count() or 0
