"""Drift (assay.drift): detection rates over simulated cases, and the sketches' cost in the pass.

    python bench/drift.py                   # 200 cases each, and the cost on workload (a)
    python bench/drift.py --cases 20 --rows 20000        # a quick look

  1. Detection: `cases` pairs of samples (1,500 rows each) per kind. Numeric: reference
     N(0, 1); "no drift" another N(0, 1) sample; "planted" N(0.25, 1). Categorical: 6 values
     with probabilities p; planted: 0.08 of the mass moved from the first value to the last.
     A case is flagged when the two-sample p-value < 0.01 or PSI > 0.1 (from the sketches).
     Target: planted flagged in >= 95% of cases, no-drift in <= 5%.
  2. Cost: workload (a) of docs/benchmarks.md (the taxi-tips TFRecords, 200 slices) on the
     local engine with 1 worker (in this process), with the default sketches (slice features
     hour and day, the label, the predictions, per slice) and with the drift extension
     removed; CPU time of this process (time.process_time: the machine is shared, wall times
     are noise), best of 5 each, interleaved. Also the extension's own CPU time (its add,
     merge and extract), best run.

The figures and this command go in docs/benchmarks.md ("Drift").
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(_HERE), "component"))
sys.path.insert(0, os.path.dirname(_HERE))

from assay.drift import stats  # noqa: E402
from assay.drift.sketches import CategoricalSketch, NumericSketch  # noqa: E402

P = np.array([0.3, 0.25, 0.2, 0.1, 0.1, 0.05])


def _flagged(out) -> bool:
    return out["p_value"] < 0.01 or out["psi"] > 0.1


def detection(cases: int, n: int = 1500):
    """{kind: (planted flagged share, no-drift flagged share)}."""
    rng = np.random.default_rng(16)
    moved_p = P.copy()
    moved_p[0] -= 0.08
    moved_p[-1] += 0.08
    values = np.array(list("abcdef"))
    hits = {"numeric": [0, 0], "categorical": [0, 0]}
    for _ in range(cases):
        ref = NumericSketch().add(rng.normal(0, 1, n))
        hits["numeric"][0] += _flagged(stats.compare(NumericSketch().add(
            rng.normal(0.25, 1, n)), ref))
        hits["numeric"][1] += _flagged(stats.compare(NumericSketch().add(
            rng.normal(0, 1, n)), ref))
        cref = CategoricalSketch().add(rng.choice(values, n, p=P))
        hits["categorical"][0] += _flagged(stats.compare(CategoricalSketch().add(
            rng.choice(values, n, p=moved_p)), cref))
        hits["categorical"][1] += _flagged(stats.compare(CategoricalSketch().add(
            rng.choice(values, n, p=P)), cref))
    return {k: (a / cases, b / cases) for k, (a, b) in hits.items()}


CONFIG = {"label": "label", "models": {"candidate": {"prediction": "prediction"}},
          "slices": [[], ["hour"], ["day"], ["hour", "day"]],
          "metrics": ["example_count", "auc", "auc_pr", "accuracy", "precision", "recall",
                      "mean_label", "mean_prediction"]}


def _timed(owner, name: str, spent: dict):
    """Wraps owner.name to add its CPU time to spent[name]; returns the original."""
    original = getattr(owner, name)

    def timed(*args, **kwargs):
        start = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.process_time() - start
    setattr(owner, name, timed)
    return original


def cost(rows: int, repeats: int = 5):
    """{"with" / "without": (CPU seconds, best of `repeats`; assay_sketches.json bytes),
    "extension": {add, merge, extract: CPU seconds}}, local engine, 1 worker."""
    import assay
    from assay.drift import extension as drift
    from assay.engine import extensions
    from bench.datasets import tfrecord_dataset

    data = tfrecord_dataset(rows)
    saved = dict(extensions.EXTENSIONS)
    tables = {"with": saved, "without": {k: v for k, v in saved.items() if k != "drift"}}
    times = {label: (float("inf"), 0) for label in tables}
    spent: dict = {}
    own = None
    wrapped = [(owner, name, _timed(owner, name, spent)) for owner, name in (
        (drift.DriftExtension, "add"), (drift.DriftAccumulator, "merge"),
        (drift.DriftExtension, "extract"))]
    try:
        for _ in range(repeats):  # interleaved: the machine's load changes between runs
            for label, table in tables.items():
                extensions.EXTENSIONS.clear()
                extensions.EXTENSIONS.update(table)
                spent.clear()
                with tempfile.TemporaryDirectory() as tmp:
                    start = time.process_time()
                    result = assay.evaluate(CONFIG, data, os.path.join(tmp, "out"),
                                            engine="local", workers=1, write_report=False)
                    took = time.process_time() - start
                    size = (os.path.getsize(os.path.join(tmp, "out", "assay_sketches.json"))
                            if result.sketches is not None else 0)
                if label == "with" and (own is None or sum(spent.values()) < sum(own.values())):
                    own = dict(spent)
                times[label] = (min(times[label][0], took), size)
    finally:
        for owner, name, original in wrapped:
            setattr(owner, name, original)
        extensions.EXTENSIONS.clear()
        extensions.EXTENSIONS.update(saved)
    return dict(times, extension=own)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=200)
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--no-cost", action="store_true", help="the detection rates only")
    args = p.parse_args(argv)
    start = time.perf_counter()
    for kind, (planted, null) in detection(args.cases).items():
        print(f"{kind}: planted drift flagged in {planted:.1%} of {args.cases} cases, "
              f"no drift flagged in {null:.1%}")
    print(f"  ({time.perf_counter() - start:.1f} s)")
    if not args.no_cost:
        times = cost(args.rows)
        (w, size), (wo, _) = times["with"], times["without"]
        own = times["extension"]
        print(f"workload (a), {args.rows} rows, CPU time, 1 worker: {w:.2f} s with the "
              f"sketches, {wo:.2f} s without ({w / wo - 1:+.1%}); the extension's own "
              + ", ".join(f"{k} {v:.3f} s" for k, v in own.items())
              + f" (slicing included: the pass reuses those slice groups); "
              f"assay_sketches.json {size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
