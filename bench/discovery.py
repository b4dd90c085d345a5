"""Weak-slice discovery (assay.discovery): recovery, false confirmations and cost.

    python bench/discovery.py                      # 200 null sets, 50 planted sets, cost
    python bench/discovery.py --null-sets 50 --planted-sets 10     # a quick look

  1. Null: data with no weak slice (0/1 errors at rate 0.2, or exponential losses; 5 features
     of 2-6 values; 4,000 examples; crosses up to 3): the share of sets where any slice is
     confirmed (q <= 0.05). Target: at most 5%.
  2. Planted: 10,000 examples, 6 features, base 0/1 error rate 0.1 and three weak slices planted
     (levels 1, 2 and 3; rates 0.3, 0.4, 0.6; sizes about 1,700, 830 and 420): the share of sets
     where each is confirmed, with min_size 100 and top 30.
  3. Cost: discover() over 200,000 examples, 10 features of 3-8 values, crosses up to 3,
     min_size 100, top 20 (the numpy search alone: hashing the ids, encoding, the search on
     the discovery half and the tests on the other).
  4. Pass cost: the benchmark's 200,000 trips (bench/datasets.py, make_trips seed 0, as 4
     Parquet shards with 6 more categorical columns) evaluated as workload (c) of bench/run.py
     (candidate and baseline prediction columns, 4 slicing specs, 8 metrics; the local engine)
     with and without `discover:` over 10 features (hour, day, payment, miles in 4 quantiles
     and the 6 added) to level 3: best of --repeat runs each, and their ratio (target <= 1.5);
     then discovery's own work on the same rows, timed alone (storing, extract).
  5. Memory: the pass's per-example store (assay.discovery.examples) at 1,000,000 examples,
     10 categorical features and two binary models: the bytes of its arrays.

The figures and this command go in docs/benchmarks.md ("Weak-slice discovery").
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(_HERE), "component"))
sys.path.insert(0, os.path.dirname(_HERE))  # the repository: bench.* modules

from assay.discovery import discover  # noqa: E402
from bench import discovery_pass  # noqa: E402


def null_rate(sets: int) -> float:
    flagged = 0
    for seed in range(sets):
        rng = np.random.default_rng(50_000 + seed)
        n = 4000
        features = {f"f{j}": rng.integers(0, 2 + j, n) for j in range(5)}
        errors = (rng.random(n) < 0.2).astype(float) if seed % 2 else rng.exponential(0.5, n)
        found = discover(errors, features, max_features=3, min_size=50, top=20)
        flagged += any(s.confirmed for s in found)
    return flagged / sets


PLANTED = ({"f0": 3}, {"f1": 0, "f2": 1}, {"f3": 2, "f4": 0, "f5": 1})


def planted_rates(sets: int) -> list:
    hits = np.zeros(len(PLANTED))
    for seed in range(sets):
        rng = np.random.default_rng(90_000 + seed)
        n = 10_000
        cards = (6, 3, 4, 3, 2, 4)
        features = {f"f{j}": rng.integers(0, c, n) for j, c in enumerate(cards)}
        rate = np.full(n, 0.1)
        for planted, r in zip(PLANTED, (0.3, 0.4, 0.6)):
            mask = np.all([features[k] == v for k, v in planted.items()], axis=0)
            rate[mask] = r
        errors = (rng.random(n) < rate).astype(float)
        found = discover(errors, features, max_features=3, min_size=100, top=30)
        confirmed = [s.slice for s in found if s.confirmed]
        hits += [planted in confirmed for planted in PLANTED]
    return (hits / sets).tolist()


def cost(n: int = 200_000) -> float:
    rng = np.random.default_rng(7)
    features = {f"f{j}": rng.integers(0, 3 + j % 6, n) for j in range(10)}
    errors = rng.exponential(0.4, n) * np.where(features["f2"] == 1, 1.5, 1.0)
    start = time.perf_counter()
    discover(errors, features, ids=np.arange(n), max_features=3, min_size=100, top=20)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--null-sets", type=int, default=200)
    parser.add_argument("--planted-sets", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each pass (best of)")
    parser.add_argument("--skip-pass", action="store_true", help="skip 4. and 5.")
    args = parser.parse_args()
    if not args.skip_pass:
        discovery_pass.main(args.repeat)
    seconds = cost()
    print(f"cost: discover() on 200,000 examples, 10 features, level 3: {seconds:.2f} s")
    if args.planted_sets:
        rates = planted_rates(args.planted_sets)
        for planted, r in zip(PLANTED, rates):
            print(f"planted {planted}: confirmed in {100 * r:.0f}% of {args.planted_sets} sets")
    if args.null_sets:
        rate = null_rate(args.null_sets)
        se = (rate * (1 - rate) / args.null_sets) ** 0.5
        print(f"null: some slice confirmed in {100 * rate:.1f}% +- {100 * se:.1f} of "
              f"{args.null_sets} sets (target <= 5%)")


if __name__ == "__main__":
    main()
