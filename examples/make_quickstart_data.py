"""Writes examples/eval.csv, the quick start's data (README "Quick start"); numpy only.

    python examples/make_quickstart_data.py        # rewrites examples/eval.csv, byte for byte

2,000 made-up ad impressions: `region` (north, south, east, west), `hour` (0-23), whether the
ad was `clicked` (0/1), and two models' predicted click probabilities: `score` from the new
model (the candidate) and `old_score` from the one in production (the baseline), which knows
less. tests/test_quickstart.py checks that this script gives the bundled file.
"""

import os

import numpy as np

ROWS = 2000
SEED = 20240601
HERE = os.path.dirname(os.path.abspath(__file__))


def rows(n: int = ROWS, seed: int = SEED):
    """The table as a list of rows, the header first."""
    rng = np.random.default_rng(seed)
    region = rng.choice(["north", "south", "east", "west"], n, p=[0.4, 0.3, 0.2, 0.1])
    hour = rng.integers(0, 24, n)
    interest = rng.normal(size=n)
    evening = ((hour >= 18) & (hour <= 22)).astype(float)
    logit = -0.8 + 1.6 * interest + 0.6 * evening - 0.5 * (region == "west")
    clicked = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    # The candidate sees the user's interest less noisily than the baseline does.
    score = 1 / (1 + np.exp(-(logit + rng.normal(0, 0.8, n))))
    old_score = 1 / (1 + np.exp(-(0.6 * logit + rng.normal(0, 1.2, n))))
    out = [["region", "hour", "clicked", "score", "old_score"]]
    for r, h, c, s, o in zip(region, hour, clicked, score, old_score):
        out.append([str(r), str(int(h)), str(int(c)), f"{s:.4f}", f"{o:.4f}"])
    return out


def main(path: str = os.path.join(HERE, "eval.csv")) -> None:
    with open(path, "w", newline="\n") as f:
        f.write("".join(",".join(row) + "\n" for row in rows()))


if __name__ == "__main__":
    main()
