"""Perturbations (assay.perturb): what they cost in the pass.

    python bench/perturb.py                  # 200,000 rows, best of 3 each
    python bench/perturb.py --rows 20000     # a quick look

Data: taxi-like rows (hour, day, payment, miles, a 0/1 label, a weight), one CSV file; slices:
overall and day (8 slices). The model: a scikit-learn Pipeline (scaling, one-hot payment,
LogisticRegression) read from a joblib file, on the local engine with the default workers.
Runs, interleaved, best of `repeats` each:
  - none: the candidate alone;
  - two: noise on miles and a payment swap (2 perturbed models: 3 model calls a batch);
  - sensitivity: permutation importance of 4 features (4 perturbed models: 5 calls a batch).

The figures and this command go in docs/benchmarks.md ("Perturbations").
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

PAYMENTS = ["Cash", "Credit Card", "Mobile", "No Charge"]


def write_data(path: str, rows: int) -> None:
    import pandas as pd

    rng = np.random.default_rng(16)
    hour, day = rng.integers(0, 24, rows), rng.integers(1, 8, rows)
    miles = np.round(rng.gamma(2.0, 2.5, rows) * 16) / 16
    payment = rng.choice(PAYMENTS, rows, p=[0.4, 0.4, 0.1, 0.1])
    logit = -1.5 + 0.2 * miles + 1.2 * (hour >= 17) + 0.8 * (payment == "Credit Card")
    label = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    pd.DataFrame({"hour": hour, "day": day, "payment": payment, "miles": miles,
                  "label": label, "weight": rng.uniform(0.5, 2, rows)}).to_csv(path, index=False)


def write_model(path: str, data: str) -> None:
    import joblib
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    df = pd.read_csv(data, nrows=5000)
    prep = ColumnTransformer([("num", StandardScaler(), ["hour", "day", "miles"]),
                              ("pay", OneHotEncoder(handle_unknown="ignore"), ["payment"])])
    model = Pipeline([("prep", prep), ("lr", LogisticRegression())])
    joblib.dump(model.fit(df[["hour", "day", "payment", "miles"]], df["label"]), path)


def configs(model: str):
    base = {"label": "label", "weight": "weight", "slices": [[], ["day"]],
            "models": {"candidate": {"path": model}}}
    two = dict(base, perturbations=[
        {"name": "miles_noise", "feature": "miles", "noise": {"relative": 0.05}},
        {"name": "pay_swap", "feature": "payment",
         "swap": {"Cash": "Credit Card", "Credit Card": "Cash"}}])
    sens = dict(base, sensitivity={"features": ["hour", "day", "payment", "miles"]})
    return {"none": base, "two": two, "sensitivity": sens}


def main() -> None:
    import assay

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data, model = os.path.join(tmp, "data.csv"), os.path.join(tmp, "model.joblib")
        write_data(data, args.rows)
        write_model(model, data)
        best = {}
        for _ in range(args.repeats):
            for name, cfg in configs(model).items():
                start = time.perf_counter()
                assay.evaluate(cfg, data, None, engine="local", allow_pickle=True)
                best[name] = min(best.get(name, float("inf")), time.perf_counter() - start)
    for name, seconds in best.items():
        print(f"{name:12s} {seconds:6.2f} s  ({seconds / best['none']:.2f}x)  "
              f"{args.rows / seconds:,.0f} examples/s")


if __name__ == "__main__":
    main()
