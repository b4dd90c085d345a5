"""The Targets table of `make bench`: one line per row of issue 17's table, in its order.

    lines = targets.build(ctx)    # ctx: bench/plan_runs.py's summary context (runs and rows)

Every line is there in every run: a goal whose workload did not run says "not run" (verdict
n/a), so that one `make bench` visibly covers the whole table. Each line: what was measured,
the goal, and pass / miss. docs/benchmarks.md ("The targets") says how each is measured.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional

from bench import stage_times

A_VS_TFMA = 150.0        # (a) end to end, examples/s against TFMA's
A_STEADY = 1.2           # (a) steady state at 5M, 1 worker, against the read + decode floor
B_VS_FLOOR = 1.1         # (b) Keras, 1 worker, against the read + batched predict floor
C_VS_A = 1.3             # (c) the metrics part with a baseline against (a)'s
D_GROWTH, D_MB = 1.2, 500  # (d) peak memory: largest / smallest size, and the largest's cap
WORKERS = 1.85           # 2 workers against 1, 5M on 4 shards


def _line(target: str, goal: str, measured: Optional[str] = None,
          passed: Optional[bool] = None) -> Dict:
    return {"target": target, "measured": "not run" if measured is None else measured,
            "goal": goal, "passed": passed if measured is not None else None}


def _minus(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return a - b if a is not None and b is not None and a > b else None


def _div(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return a / b if a is not None and b else None


def a_end_to_end(ctx) -> Dict:
    s = ctx.sizes
    line = _line(f"(a) {s.size_a:,} gzipped tf.Examples, 200 slices, end to end, vs TFMA",
                 f">= {A_VS_TFMA:g}x")
    ra, ta = ctx.row(f"assay-a-{s.size_a}-{ctx.default}"), ctx.row("tfma-a")
    if not (ra and ta and ra.get("vs_tfma")):
        return line
    rab = ctx.row(f"assay-a-{s.size_a}-beam-w1")
    beam = f"; the Beam engine: {rab['vs_tfma']:,.0f}x" if rab and rab.get("vs_tfma") else ""
    x = ra["vs_tfma"]
    return _line(line["target"], line["goal"],
                 f"{x:,.0f}x ({ra['examples_per_s']:,.0f} vs TFMA {ta['examples_per_s']:,.0f} "
                 f"examples/s at {ta['examples']:,}){beam}", x >= A_VS_TFMA)


def a_steady(ctx) -> Dict:
    n = ctx.sizes.steady_size
    line = _line(f"(a) steady state at {n:,}, 1 worker, vs read + decode floor",
                 f"<= {A_STEADY:g}x")
    row, floor = ctx.row(f"assay-a-{n}-w1"), ctx.get(f"floor-read-{n}")
    if not (row and floor) or row.get("vs_floor") is None:
        return line
    return _line(line["target"], line["goal"],
                 f"{row['vs_floor']:.2f}x ({row['steady_s']:.1f} s vs {floor['loop_s']:.1f} s, "
                 f"both on one core)", row["vs_floor"] <= A_STEADY)


def b_keras(ctx) -> Dict:
    """assay on 1 worker against the one-thread floor: like with like. The target's measure is
    in-run: the CPU seconds of assay's pass (read, predict, accumulate and merge, every thread
    of the process: TensorFlow's included; from its --timings file) over those of the floor's
    loop, both taken inside their process around the loop: no fixed cost is subtracted, and
    CPU time does not stretch when other processes share the cores. Quoted beside it: the same
    in wall seconds, and end-to-end wall minus the fixed cost of another run (the old figure,
    and the measure when a results file holds no stage times)."""
    s = ctx.sizes
    line = _line(f"(b) Keras SavedModel, 1 worker, vs read + batched predict floor "
                 f"({s.size_b:,})", f"<= {B_VS_FLOOR:g}x")
    rb1, rb = ctx.row(f"assay-b-{s.size_b}-w1"), ctx.row(f"assay-b-{s.size_b}-{ctx.default}")
    floor, run = ctx.get(f"floor-read+keras-{s.size_b}"), ctx.get(f"assay-b-{s.size_b}-w1")
    if not rb1 or not floor:
        return line
    cpu = _div(stage_times.pass_process_cpu(run), floor.get("loop_cpu_s"))
    wall = _div(stage_times.pass_wall(run), floor["loop_s"])
    walls = "-" if rb1.get("vs_floor") is None else f"{rb1['vs_floor']:.2f}x"
    other = (f"; default ({ctx.cores} threads): {rb['vs_floor']:.2f}x (steady "
             f"{rb['steady_s']:.2f} s)" if rb and rb.get("vs_floor") is not None else "")
    if cpu is None:  # a run without stage times (an older results file): walls only
        if rb1.get("vs_floor") is None:
            return _line(line["target"], line["goal"],
                         "- (the run took no longer than the fixed cost: noise)")
        return _line(line["target"], line["goal"],
                     f"{walls} (steady {rb1['steady_s']:.2f} s){other}",
                     rb1["vs_floor"] <= B_VS_FLOOR)
    return _line(line["target"], line["goal"],
                 f"{cpu:.2f}x (CPU of the pass in-run, {stage_times.pass_process_cpu(run):.2f} "
                 f"s vs the floor's loop {floor['loop_cpu_s']:.2f} s; wall in-run: "
                 f"{'-' if wall is None else f'{wall:.2f}x'}; end-to-end wall minus the fixed "
                 f"cost: {walls}){other}", cpu <= B_VS_FLOOR)


def c_baseline(ctx) -> Dict:
    """Both on one worker, so that the ratio is the metrics' cost, not the parallelism. The
    target's measure is in-run: the CPU seconds of the metrics part (accumulate + merge +
    compute + write, from each run's --timings file) of (c) over (a)'s. The floor-based ratio
    (steady time minus the read floor of another process) is quoted beside it."""
    n = ctx.sizes.size_c
    line = _line(f"(c) metrics part with a baseline, vs (a) ({n:,}, 1 worker)",
                 f"<= {C_VS_A:g}x")
    rc, ra_c, floor = ctx.row(f"assay-c-{n}-w1"), ctx.get(f"assay-a-{n}-w1"), \
        ctx.get(f"floor-read-{n}")
    if not (rc and ra_c):
        return line
    cpu_c, cpu_a = stage_times.metrics_part(ctx.get(f"assay-c-{n}-w1")), \
        stage_times.metrics_part(ra_c)
    in_run = _div(cpu_c, cpu_a)
    old = None
    if floor:
        steady_a = _minus(ra_c["wall_s"], ctx.fixed("a"))
        old = _div(_minus(rc["steady_s"], floor["loop_s"]), _minus(steady_a, floor["loop_s"]))
    old_text = "-" if old is None else f"{old:.2f}x"
    if in_run is None:  # a run without stage times (an older results file): the floor's
        if not floor:
            return line
        return _line(line["target"], line["goal"],
                     f"{old_text} (steady time minus the read floor)",
                     None if old is None else old <= C_VS_A)
    return _line(line["target"], line["goal"],
                 f"{in_run:.2f}x (CPU of accumulate + merge + compute + write, in-run: "
                 f"{cpu_c:.2f} s vs {cpu_a:.2f} s; steady time minus the read floor: "
                 f"{old_text}){_second_model(ctx.get(f'assay-c-{n}-w1'), ra_c, cpu_a)}",
                 in_run <= C_VS_A)


def _second_model(run_c: Optional[Dict], run_a: Optional[Dict], cpu_a: float) -> str:
    """What the baseline adds, stage by stage (CPU seconds of (c) less (a)'s, each run's best
    repeat), beside what the goal leaves it: (C_VS_A - 1) times (a)'s metrics part."""
    stages = [((run or {}).get("timings") or {}).get("stages") or {} for run in (run_c, run_a)]
    if not all(s in st for st in stages for s in stage_times.METRICS_PART):
        return ""
    extra = {s: stages[0][s]["cpu_s"] - stages[1][s]["cpu_s"]
             for s in stage_times.METRICS_PART}
    return (f"; the baseline's own CPU: {sum(extra.values()):.2f} s ("
            + ", ".join(f"{s} {v:+.2f}" for s, v in extra.items())
            + f"), where the goal leaves it {(C_VS_A - 1) * cpu_a:.2f} s")


def d_memory(ctx) -> Dict:
    sizes = sorted(set(ctx.sizes.sizes))
    line = _line("(d) peak memory, largest / smallest of " +
                 ", ".join(f"{n:,}" for n in sizes), f"<= {D_GROWTH:g}x and < {D_MB} MB")
    peaks = [(n, ctx.row(f"assay-a-{n}-w1")["peak_rss_mb"]) for n in sizes
             if ctx.row(f"assay-a-{n}-w1")]
    if len(peaks) < 2:
        return line
    (n0, p0), (n1, p1) = peaks[0], peaks[-1]
    growth = p1 / p0
    slope = (p1 - p0) * 2**20 / max(n1 - n0, 1)
    steps = "".join(f"; +{b[1] - a[1]:,.0f} MB from {a[0]:,} to {b[0]:,}"
                    for a, b in zip(peaks, peaks[1:]))
    return _line(line["target"], line["goal"],
                 f"{growth:.2f}x: " + ", ".join(f"{p:,.0f} MB at {n:,}" for n, p in peaks) +
                 f" (tree RSS, 1 worker; {slope:.1f} bytes per added example{steps})",
                 growth <= D_GROWTH and p1 < D_MB)


def two_workers(ctx) -> Dict:
    s = ctx.sizes
    n = s.workers_size
    line = _line(f"2 workers vs 1, {n:,} on {s.shards} shards, end to end", f">= {WORKERS:g}x")
    one, two = ctx.get(f"assay-a-{n}-w1"), ctx.get(f"assay-a-{n}-w2")
    if not (one and two):
        return line
    speedup = one["wall_s"] / two["wall_s"]
    steady = _div(_minus(one["wall_s"], ctx.fixed("a")),
                  _minus(two["wall_s"], ctx.fixed("a", "w2")))
    cpu = (f"; CPU {one['cpu_s']:.1f} s vs {two['cpu_s']:.1f} s (user+sys)"
           if one.get("cpu_s") and two.get("cpu_s") else "")
    b1, b2 = ctx.get(f"assay-a-{n}-beam-w1"), ctx.get(f"assay-a-{n}-beam-w2")
    beam = f"; Beam engine: {b1['wall_s'] / b2['wall_s']:.2f}x" if b1 and b2 else ""
    f1, f2 = ctx.get(f"floor-read-{n}"), ctx.get(f"floor-read-{n}-w2")
    floor = (f"; the floor (read + decode, no evaluation) on 2 processes vs 1: "
             f"{f1['loop_s'] / f2['loop_s']:.2f}x" if f1 and f2 else "")
    return _line(line["target"], line["goal"],
                 f"{speedup:.2f}x" + ("" if steady is None else f", {steady:.2f}x steady state")
                 + cpu + beam + floor, speedup >= WORKERS)


def build(ctx) -> List[Dict]:
    """The lines, in issue 17's order."""
    from bench import one_file, portable, tfx_component

    makers: List[Callable[[object], Dict]] = [a_end_to_end, a_steady, b_keras, c_baseline,
                                              d_memory, two_workers]
    lines = [make(ctx) for make in makers]
    lines.append(one_file.target_row(ctx.runs.get("one_file"), ctx.sizes.one_file_size))
    lines.append(portable.target_row(ctx.runs.get("portable")))
    lines.append(tfx_component.target_row(ctx.runs.get("tfx")))
    return lines
