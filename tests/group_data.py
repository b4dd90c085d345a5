"""Synthetic binary data with a sensitive group, for the fairness tests."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd


def group_frame(seed: int, n: int, groups: Sequence[str], lift: float, shift: float
                ) -> pd.DataFrame:
    """Columns y (0/1, 40% positive), p (a prediction: Beta(2, 3) + lift * y, plus `shift` for
    the last group, clipped to [0, 1]) and g (the group: groups drawn with shares 0.5, 0.3,
    0.2)."""
    rng = np.random.default_rng(seed)
    g = rng.choice(list(groups), n, p=[0.5, 0.3, 0.2])
    y = (rng.random(n) < 0.4).astype(float)
    p = np.clip(rng.beta(2, 3, n) + lift * y + shift * (g == groups[-1]), 0, 1)
    return pd.DataFrame({"y": y, "p": p, "g": g})
