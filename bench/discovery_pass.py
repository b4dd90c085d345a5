"""What `discover:` costs an evaluation (bench/discovery.py parts 4 and 5).

    python bench/discovery.py --null-sets 0 --planted-sets 0     # only these two parts

4. The benchmark's 200,000 trips (make_trips seed 0, the rows of bench/datasets.py) as 4
   Parquet shards with 6 more categorical columns, evaluated as workload (c) of bench/run.py
   with and without discovery over 10 features to level 3; best of `repeat` runs each.
5. The per-example store at 1,000,000 examples, 10 features and two binary models.
"""

from __future__ import annotations

import os
import time
from typing import Dict

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bench import datasets
from bench.run import METRICS, SLICES

N, SHARDS, SEED = 200_000, 4, 0
# The added columns and their number of values.
EXTRA = {"region": 8, "segment": 4, "device": 3, "plan": 5, "age_band": 6, "channel": 4}
DISCOVER = {"features": ["hour", "day", "payment", {"feature": "miles", "quantiles": 4},
                         *EXTRA], "max_features": 3, "min_size": 100, "top": 20,
            "error": "log_loss"}


def dataset(n: int = N) -> str:
    """The Split-eval/ directory of the trips with the extra columns (built once, cached)."""
    from assay import demo

    def build(tmp: str) -> None:
        table = demo.make_trips(n, SEED)
        rng = np.random.default_rng(SEED + 77)
        for name, k in EXTRA.items():
            table = table.append_column(name, pa.array(
                np.array([f"{name}_{i}" for i in range(k)])[rng.integers(0, k, n)]))
        split = os.path.join(tmp, datasets.SPLIT)
        os.makedirs(split)
        for i in range(SHARDS):
            rows = pa.array(np.arange(i, n, SHARDS))
            pq.write_table(table.take(rows), os.path.join(split, f"part-{i}.parquet"),
                           row_group_size=128 * 1024)

    return os.path.join(datasets._cached(f"discovery-trips-n{n}-s{SHARDS}-seed{SEED}", build),
                        datasets.SPLIT)


def config(discover: bool) -> Dict:
    out = {"label": "label", "models": {"candidate": {"prediction": "prediction"},
                                        "baseline": {"prediction": "old_prediction"}},
           "slices": [list(s) for s in SLICES], "metrics": list(METRICS)}
    if discover:
        out["discover"] = DISCOVER
    return out


def pass_cost(repeat: int) -> Dict[str, float]:
    """{"without": s, "with": s, "ratio": with / without}: best wall time of each."""
    import assay

    data = dataset()
    best = {"without": float("inf"), "with": float("inf")}
    assay.evaluate(config(False), data, engine="local")  # warm: imports, page cache
    for _ in range(repeat):
        for key in best:  # alternate, so that load on the machine hits both alike
            start = time.perf_counter()
            result = assay.evaluate(config(key == "with"), data, engine="local")
            best[key] = min(best[key], time.perf_counter() - start)
            if key == "with":
                found = result.info["discovered"]["slices"]
    best["ratio"] = best["with"] / best["without"]
    best["confirmed"] = sum(s["confirmed"] for s in found)
    return best


def own_work() -> Dict[str, float]:
    """Seconds of discovery's own work on the pass's data, alone: storing the batches (as the
    pass hands them over) and the extract (search, confirmation, quantiles)."""
    from assay.discovery.config import parse_discover
    from assay.discovery.examples import ExampleStore
    from assay.discovery.section import build_section
    from assay.metrics.batch import ModelBatch
    from assay.metrics.binary import BinaryMetrics

    data = dataset()
    batches = [b for f in sorted(os.listdir(data))
               for b in pq.read_table(os.path.join(data, f)).to_batches(max_chunksize=8192)]
    cfg = parse_discover(DISCOVER)
    store = ExampleStore(cfg.features)
    start = time.perf_counter()
    for i, b in enumerate(batches):
        mb = ModelBatch(b.column("label").to_numpy().astype(float),
                        b.column("prediction").to_numpy(), np.ones(b.num_rows))
        store.add_batch(b, np.abs(mb.labels - mb.predictions),
                        np.arange(b.num_rows, dtype=np.uint64) + np.uint64(i << 32),
                        {"candidate": mb})
    stored = time.perf_counter() - start
    start = time.perf_counter()
    build_section(store, cfg.to_config(), paired=False, families={"candidate": BinaryMetrics()},
                  headline=("auc",))
    return {"store": stored, "extract": time.perf_counter() - start}


def store_bytes(n: int = 1_000_000, features: int = 10, batch: int = 50_000) -> int:
    """Bytes of the arrays of an ExampleStore holding n examples (10 categorical features,
    two binary models), filled batch by batch as the pass fills it."""
    from assay.discovery.examples import ExampleStore
    from assay.metrics.batch import ModelBatch

    rng = np.random.default_rng(3)
    store = ExampleStore(tuple((f"f{j}", None) for j in range(features)))
    for start in range(0, n, batch):
        b = min(batch, n - start)
        cols = pa.record_batch([pa.array(rng.integers(0, 3 + j % 6, b)) for j in
                                range(features)], names=[f"f{j}" for j in range(features)])
        mb = ModelBatch(rng.integers(0, 2, b).astype(float), rng.random(b), np.ones(b))
        store.add_batch(cols, rng.random(b), np.arange(start, start + b, dtype=np.uint64),
                        {"candidate": mb, "baseline": mb})
    arrays = [a for col in store.columns.values() for a in col] + store.errors + store.keys
    arrays += [a for m in store.labels.values() for a in m]
    arrays += [a for m in store.predictions.values() for a in m]
    return sum(a.nbytes for a in arrays)


def main(repeat: int = 2) -> None:
    cost = pass_cost(repeat)
    print(f"pass: 200,000 trips, workload (c), local engine: {cost['without']:.2f} s without "
          f"discover, {cost['with']:.2f} s with (10 features, level 3): ratio "
          f"{cost['ratio']:.2f} (target <= 1.5); {cost['confirmed']} slices confirmed")
    own = own_work()
    print(f"discovery alone on those rows: storing {own['store']:.2f} s, extract "
          f"{own['extract']:.2f} s")
    size = store_bytes()
    print(f"memory: the store at 1,000,000 examples, 10 features, 2 models: "
          f"{size / 2 ** 20:.0f} MiB of arrays")
