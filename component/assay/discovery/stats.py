"""The tests behind a discovered slice, from counts alone (numpy only: the core has no scipy).

Welch's t-test of a slice against its complement needs only each side's size, error sum and sum
of squares; the Benjamini-Hochberg step-up turns p-values into q-values.
"""

from __future__ import annotations

import math

import numpy as np


def welch_greater(n1: float, total1: float, squares1: float, n2: float, total2: float,
                  squares2: float) -> tuple[float, float, float]:
    """One-sided Welch t-test that group 1's mean error is larger than group 2's.

    Args:
        n1, total1, squares1: Size, sum and sum of squares of group 1's errors.
        n2, total2, squares2: The same of group 2.

    Returns:
        (t statistic, Welch-Satterthwaite degrees of freedom, p-value); p is nan when a group
        has fewer than two examples, and 0 or 1 when both variances are zero.

    Example:
        >>> t, df, p = welch_greater(3, 6., 14., 3, 3., 5.)   # [1,2,3] vs [0,1,2]
        >>> round(t, 4), round(df, 1)
        (1.2247, 4.0)
    """
    if n1 < 2 or n2 < 2:
        return math.nan, math.nan, math.nan
    m1, m2 = total1 / n1, total2 / n2
    # max(0, .): the sums of squares can round a hair below the squared sum.
    v1 = max(squares1 - total1 * m1, 0.0) / (n1 - 1)
    v2 = max(squares2 - total2 * m2, 0.0) / (n2 - 1)
    a, b = v1 / n1, v2 / n2
    if a + b == 0:
        return (math.copysign(math.inf, m1 - m2) if m1 != m2 else 0.0), math.inf, \
            (0.0 if m1 > m2 else 1.0)
    t = (m1 - m2) / math.sqrt(a + b)
    df = (a + b) ** 2 / (a * a / (n1 - 1) + b * b / (n2 - 1))
    return t, df, student_t_sf(t, df)


def student_t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with ``df`` degrees of freedom (df may be fractional)."""
    if math.isinf(df):
        return 0.5 * math.erfc(t / math.sqrt(2))
    tail = 0.5 * regularized_beta(df / (df + t * t), df / 2, 0.5)
    return tail if t > 0 else 1 - tail


def regularized_beta(x: float, a: float, b: float) -> float:
    """The regularized incomplete beta function I_x(a, b), by Lentz's continued fraction."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    # The fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry otherwise.
    if x > (a + 1) / (a + b + 2):
        return 1 - math.exp(log_front) * _beta_fraction(1 - x, b, a) / b
    return math.exp(log_front) * _beta_fraction(x, a, b) / a


def _beta_fraction(x: float, a: float, b: float) -> float:
    tiny, c, d = 1e-300, 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1 + num * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return h


def benjamini_hochberg(p_values, family: int | None = None) -> np.ndarray:
    """Benjamini-Hochberg q-values (adjusted p-values) of ``p_values``.

    Args:
        p_values: The p-values tested, shape (m,); nan counts as 1.
        family: Size of the family of hypotheses, at least m: the hypotheses scored but not
            tested count as p = 1 (which only makes every q larger).

    Returns:
        q-values, shape (m,), in the order of ``p_values``.
    """
    p = np.nan_to_num(np.asarray(p_values, dtype=float), nan=1.0)
    m = len(p) if family is None else int(family)
    if m < len(p):
        raise ValueError(f"'family' must be at least the number of p-values ({len(p)}); got {m}")
    if not len(p):
        return p
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, len(p) + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(q)
    out[order] = np.minimum(q, 1.0)
    return out
