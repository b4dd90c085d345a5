"""Simulations that show the intervals and the noise-aware gate do what they claim.

    python bench/gate_sim.py                        # coverage on 1,000 sets, gates on 500
    python bench/gate_sim.py --coverage-sets 200 --gate-sets 100    # a quick look

Every simulated data set is drawn from one known distribution: a latent x ~ N(0, 1), the label
y ~ Bernoulli(sigmoid(1.5 x - 0.8)), and a model's prediction sigmoid(1.2 x - 0.6 + e) with
its own noise e ~ N(0, sigma); candidate and baseline predict the same examples (paired). The
true value of each metric is computed once on 4,000,000 examples. Each set is evaluated by
`assay.evaluate` itself (in memory, local engine, `confidence: {replicates: 200}`), so the
intervals are the ones users get.

  1. Coverage: for auc, accuracy, log_loss and mean_prediction of the candidate, and the paired
     difference of auc (the diff record), the share of 95% intervals that hold the true value
     (target 93-97%), with its simulation standard error; the closed forms (DeLong, Wilson, ...)
     beside them where assay computes one.
  2. Gate error rates, with on_inconclusive: pass:
       equal:      equal true quality (the same sigma), max_regression 0 on auc overall;
       20 slices:  the same, with the threshold on every slice of a 20-valued feature (Holm),
                   and what the refusal rate would have been without the adjustment;
       worse:      the candidate truly worse in auc by twice the margin (0.02, margin 0.01), on
                   50,000 examples: refused (also with on_inconclusive: fail, same data).

The figures and this command go in docs/benchmarks.md ("Noise-aware gates").
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Any, Dict, List

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0] or ".") == _HERE:
    sys.path[0] = os.path.dirname(_HERE)

METRICS = ["auc", "accuracy", "log_loss", "mean_prediction"]
TRUTH_SIZE = 4_000_000
SIGMA = 0.7


def draw(rng: np.random.Generator, n: int, sigma_c: float, sigma_b: float,
         groups: int = 0) -> Dict[str, np.ndarray]:
    """One data set of n examples (columns y, p: candidate, q: baseline, s: slice)."""
    x = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(1.5 * x - 0.8)))).astype(np.int64)
    p = 1 / (1 + np.exp(-(1.2 * x - 0.6 + rng.normal(0, sigma_c, n))))
    q = 1 / (1 + np.exp(-(1.2 * x - 0.6 + rng.normal(0, sigma_b, n))))
    out = {"y": y, "p": p, "q": q}
    if groups:
        out["s"] = rng.integers(0, groups, n)
    return out


_POPULATION: Dict[str, np.ndarray] = {}


def _population() -> Dict[str, np.ndarray]:
    """TRUTH_SIZE draws of x, y and standard normal noises, drawn once (common random numbers
    for every sigma, so the search for a sigma below is smooth)."""
    if not _POPULATION:
        rng = np.random.default_rng(12345)
        x = rng.normal(size=TRUTH_SIZE)
        _POPULATION.update(
            x=x, y=(rng.random(TRUTH_SIZE) < 1 / (1 + np.exp(-(1.5 * x - 0.8)))).astype(np.int8),
            zc=rng.normal(size=TRUTH_SIZE), zb=rng.normal(size=TRUTH_SIZE))
    return _POPULATION


def true_values(sigma_c: float, sigma_b: float) -> Dict[str, float]:
    """The metrics on TRUTH_SIZE examples: the population values, to within ~3e-4."""
    from sklearn.metrics import roc_auc_score

    d = _population()
    y = d["y"]
    p = 1 / (1 + np.exp(-(1.2 * d["x"] - 0.6 + sigma_c * d["zc"])))
    q = 1 / (1 + np.exp(-(1.2 * d["x"] - 0.6 + sigma_b * d["zb"])))
    auc_p, auc_q = roc_auc_score(y, p), roc_auc_score(y, q)
    return {"auc": auc_p, "accuracy": float(np.mean(y == (p >= 0.5))),
            "log_loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))),
            "mean_prediction": float(np.mean(p)), "diff auc": auc_p - auc_q,
            "baseline auc": auc_q}


def sigma_worse_by(delta: float) -> float:
    """The candidate's noise sigma whose true auc is `delta` below the baseline's (SIGMA)."""
    lo, hi = SIGMA, 3.0
    for _ in range(14):          # sigma to ~1e-4: the auc change to ~2e-5
        mid = (lo + hi) / 2
        if true_values(mid, SIGMA)["diff auc"] > -delta:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def evaluate(data: Dict[str, np.ndarray], seed: int, thresholds: List[Dict[str, Any]],
             policy: str = "pass", slices: Any = None):
    import pandas as pd

    import assay

    config = {"label": "y", "metrics": METRICS,
              "models": {"candidate": {"prediction": "p"}, "baseline": {"prediction": "q"}},
              "confidence": {"replicates": 200, "seed": seed}, "thresholds": thresholds,
              "on_inconclusive": policy}
    if slices:
        config["slices"] = slices
    return assay.evaluate(config, pd.DataFrame(data), workers=1, write_report=False), config


def _rate(hits: int, total: int) -> Dict[str, float]:
    rate = hits / total
    return {"rate": rate, "se": math.sqrt(rate * (1 - rate) / total), "n": total}


def coverage(sets: int, n: int) -> Dict[str, Any]:
    """Share of intervals holding the true value, per metric (and per closed form)."""
    truth = true_values(SIGMA, SIGMA * 1.3)
    rng = np.random.default_rng(1)
    hits: Dict[str, int] = {}
    seen: Dict[str, int] = {}
    for i in range(sets):
        result, _ = evaluate(draw(rng, n, SIGMA, SIGMA * 1.3), i, [])
        overall = {r["model"]: r for r in result.records if not r["slice"]}
        wanted = [(m, overall["candidate"], m) for m in METRICS] + \
                 [("diff auc", overall["diff"], "auc")]
        for label, record, metric in wanted:
            iv = record.get("intervals", {}).get(metric)
            if not iv:
                continue
            closed = iv.get("closed_form") or {}
            for name, bounds in ((label, iv), (f"{label} ({closed.get('method')})", closed)):
                if not bounds or bounds.get("lower") is None:
                    continue
                held = bounds["lower"] <= truth[label] <= bounds["upper"]
                seen[name] = seen.get(name, 0) + 1
                hits[name] = hits.get(name, 0) + held
    return {"examples": n, "truth": truth,
            "coverage": {k: _rate(hits[k], seen[k]) for k in seen}}


def gate_rates(sets: int) -> Dict[str, Any]:
    """Refusal rates of the gate in the three scenarios of the module docstring."""
    import assay

    out: Dict[str, Any] = {}
    rng = np.random.default_rng(2)
    overall = [{"metric": "auc", "max_regression": 0.0}]
    refused = sum(not evaluate(draw(rng, 20_000, SIGMA, SIGMA), i, overall)[0].blessed
                  for i in range(sets))
    out["equal, overall, 20,000 examples"] = _rate(refused, sets)

    every = [{"metric": "auc", "max_regression": 0.0, "slices": [["s"]]}]
    refused = unadjusted = 0
    for i in range(sets):
        result, _ = evaluate(draw(rng, 20_000, SIGMA, SIGMA, groups=20), i, every,
                             slices=[[], ["s"]])
        refused += not result.blessed
        unadjusted += any(c["interval"] and c["interval"]["upper"] < 0
                          for c in result.validation["checks"])
    out["equal, 20 slices (Holm), 1,000 examples each"] = _rate(refused, sets)
    out["  the same without Holm's adjustment"] = _rate(unadjusted, sets)

    sigma = sigma_worse_by(0.02)
    margin = [{"metric": "auc", "max_regression": 0.01}]
    refused = refused_fail = 0
    for i in range(sets):
        result, config = evaluate(draw(rng, 50_000, sigma, SIGMA), i, margin)
        refused += not result.blessed
        strict = dict(config, on_inconclusive="fail")
        refused_fail += not assay.validate(result, strict).blessed
    out["worse by 2x margin, 50,000 examples"] = _rate(refused, sets)
    out["  the same with on_inconclusive: fail"] = _rate(refused_fail, sets)
    out["worse: true auc change"] = true_values(sigma, SIGMA)["diff auc"]
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--coverage-sets", type=int, default=1000)
    parser.add_argument("--coverage-size", type=int, default=2000)
    parser.add_argument("--gate-sets", type=int, default=500)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    start = time.time()
    figures = {"coverage": coverage(args.coverage_sets, args.coverage_size)}
    print(f"Coverage of 95% intervals, {args.coverage_sets} sets of "
          f"{args.coverage_size:,} examples (target 93-97%):")
    for name, r in figures["coverage"]["coverage"].items():
        print(f"  {name:32s} {100 * r['rate']:5.1f}% +- {100 * r['se']:.1f}  (n={r['n']})")
    figures["gate"] = gate_rates(args.gate_sets)
    print(f"Gate refusal rates, on_inconclusive: pass, {args.gate_sets} sets each:")
    for name, r in figures["gate"].items():
        text = (f"{100 * r['rate']:5.1f}% +- {100 * r['se']:.1f}" if isinstance(r, dict)
                else f"{r:+.4f}")
        print(f"  {name:46s} {text}")
    print(f"({time.time() - start:.0f} s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
