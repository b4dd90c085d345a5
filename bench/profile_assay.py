"""Where assay's time goes: one in-process `assay.evaluate` under cProfile.

    python bench/profile_assay.py --workload a --size 200000
    python bench/profile_assay.py --workload b --size 200000 --top 40 --out /tmp/b.prof

Runs the benchmark's workload on the cached data (bench/data/, built if missing) in this
process, on the local engine with 1 worker (which runs in this thread) or on Beam's in-memory
DirectRunner (--engine beam), so that cProfile sees every stage, after importing assay (timed
apart). Prints the wall time, the time in each stage of the pass
(cumulative time of the functions that implement it, so a stage includes what it calls) and the
top functions by own time. `--out` keeps the pstats file (snakeviz, pstats).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import sys
import tempfile
import time

# Run as `python bench/<script>.py`, bench/ comes first on sys.path and its modules would shadow
# installed ones of the same name: put the repository there instead.
_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0] or ".") == _HERE:
    sys.path[0] = os.path.dirname(_HERE)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

# (stage, module path suffix, function name): cumulative time of these functions.
STAGES = (
    ("read + decode (passes.read_file)", "assay/engine/passes.py", "read_file", None),
    ("labels, weights, predictions (extract.model_batches)", "assay/engine/extract.py",
     "model_batches", None),
    ("model predict (adapter.predict)", "assay/models/base.py", "predict", None),
    ("slice keys (slicing.slice_groups)", "assay/engine/slicing.py", "slice_groups", None),
    ("metric accumulators (add_grouped)", "assay/metrics/base.py", "add_grouped", None),
    ("row selection per slice (ModelBatch.take)", "assay/metrics/batch.py", "take", None),
    ("merging partials (binary merge)", "assay/metrics/binary.py", "merge", None),
    ("metric results + plots (passes.compute_slice)", "assay/engine/passes.py", "compute_slice",
     None),
    ("SliceAccumulator.add (all per-batch work)", "assay/engine/passes.py", "add",
     "SliceAccumulator"),
    ("make_plan (driver, before the pass)", "assay/engine/plan.py", "make_plan", None),
    ("writing results (results, validation)", "assay/api.py", "build_documents", None),
)


def _stage_times(stats: pstats.Stats):
    """{stage: (cumulative seconds, calls)}, from the profile's functions."""

    out = {}
    for func, (_, ncalls, _, cumtime, _) in stats.stats.items():
        filename, line, name = func
        for stage, suffix, fname, cls in STAGES:
            if not filename.endswith(suffix) or name != fname:
                continue
            if cls is not None:
                try:
                    with open(filename, encoding="utf-8") as f:
                        source = f.read().splitlines()[:line]
                    owner = next((s for s in reversed(source) if s.startswith("class ")), "")
                except OSError:
                    owner = ""
                if f"class {cls}" not in owner:
                    continue
            prev = out.get(stage, (0.0, 0))
            out[stage] = (prev[0] + cumtime, prev[1] + ncalls)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workload", default="a", choices=("a", "b", "c", "sklearn"))
    parser.add_argument("--size", type=int, default=200_000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--out", help="write the pstats file here")
    parser.add_argument("--engine", choices=("local", "beam"), default="local",
                        help="local (1 worker, in this thread: cProfile sees every stage) or "
                             "beam (the in-memory DirectRunner, also in this process)")
    args = parser.parse_args(argv)

    from bench import datasets

    examples = datasets.tfrecord_dataset(args.size, args.shards, args.seed)
    models = {"a": {"candidate": {"prediction": "prediction"}},
              "c": {"candidate": {"prediction": "prediction"},
                    "baseline": {"prediction": "old_prediction"}},
              "b": {"candidate": {"path": None}},
              "sklearn": {"candidate": {"path": None}}}[args.workload]
    if args.workload == "b":
        models["candidate"]["path"] = datasets.keras_saved_model(args.seed)
    if args.workload == "sklearn":
        models["candidate"]["path"] = datasets.sklearn_model(args.seed)
    config = {"label": "label", "models": models,
              "slices": [[], ["hour"], ["day"], ["hour", "day"]],
              "metrics": ["example_count", "auc", "auc_pr", "accuracy", "precision", "recall",
                          "mean_label", "mean_prediction"]}

    start = time.perf_counter()
    import assay
    import assay.api  # noqa: F401
    import assay.engine.local  # noqa: F401
    if args.engine == "beam":
        import assay.engine.beam  # noqa: F401  (Beam)

    if args.workload == "b":
        import tensorflow  # noqa: F401
    import_s = time.perf_counter() - start
    out_dir = tempfile.mkdtemp(prefix="assay-profile-")
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    assay.evaluate(config, examples=examples, output=os.path.join(out_dir, "out"),
                   allow_pickle=args.workload == "sklearn", engine=args.engine,
                   workers=1 if args.engine == "local" else None)
    profiler.disable()
    wall = time.perf_counter() - start
    shutil.rmtree(out_dir, ignore_errors=True)

    stats = pstats.Stats(profiler)
    if args.out:
        stats.dump_stats(args.out)
    print(f"workload ({args.workload}), {args.size:,} examples in {args.shards} shards")
    print(f"import assay.api ({args.engine} engine){', tensorflow' if args.workload == 'b' else ''}: "
          f"{import_s:.2f} s (not profiled)")
    print(f"assay.evaluate: {wall:.2f} s under cProfile "
          f"({args.size / wall:,.0f} examples/s; cProfile slows Python-heavy code)")
    print("\nstage (cumulative seconds, calls):")
    for stage, (secs, calls) in sorted(_stage_times(stats).items(), key=lambda kv: -kv[1][0]):
        print(f"  {secs:8.2f} s  {100 * secs / wall:5.1f}%  {calls:>8}  {stage}")
    buf = io.StringIO()
    pstats.Stats(profiler, stream=buf).sort_stats("tottime").print_stats(args.top)
    print("\ntop functions by own time:")
    print("\n".join(buf.getvalue().splitlines()[4:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
