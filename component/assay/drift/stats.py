"""Drift statistics between two sketches of a column: numpy only (checked against scipy in
tests/test_drift_stats.py).

- Population stability index: sum (p - q) ln(p / q) over bins, proportions of 0 replaced by
  PSI_FLOOR. Jensen-Shannon distance: sqrt of the JS divergence in base 2 (in [0, 1]), as
  scipy.spatial.distance.jensenshannon(p, q, base=2).
- The bins: for a numeric column, the reference's deciles read off its sketch (rounded up to
  the sketch's bin edges, where both sketches' counts are exact), plus a bin of missing values;
  for a categorical column, every value either sketch lists, "other", and missing.
- Two-sample tests: Kolmogorov-Smirnov for numeric columns, its statistic the largest CDF
  difference at the sketches' bin edges (within `max_bin_mass` of the statistic on the raw
  values), its p-value the asymptotic Kolmogorov distribution at sqrt(n m / (n + m)) D
  (scipy.stats.kstwobign.sf); chi-square of the 2 x k table of bin counts for categorical ones
  (scipy.stats.chi2_contingency without correction).
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from assay.drift.sketches import CategoricalSketch, NumericSketch

PSI_FLOOR = 1e-4
DECILES = tuple(i / 10 for i in range(1, 10))


def psi(current: Sequence[float], reference: Sequence[float]) -> float:
    """Population stability index of two count vectors over the same bins."""
    p, q = _proportions(current), _proportions(reference)
    p, q = np.maximum(p, PSI_FLOOR), np.maximum(q, PSI_FLOOR)
    return float(np.sum((p - q) * np.log(p / q)))


def js_distance(current: Sequence[float], reference: Sequence[float]) -> float:
    """Jensen-Shannon distance (base 2) of two count vectors over the same bins."""
    p, q = _proportions(current), _proportions(reference)
    m = (p + q) / 2

    def kl(a):
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / m[nz])))

    return math.sqrt(max(0.5 * kl(p) + 0.5 * kl(q), 0.0))


def _proportions(counts: Sequence[float]) -> np.ndarray:
    c = np.asarray(counts, dtype=np.float64)
    return c / c.sum() if c.sum() else np.full(len(c), np.nan)


def kolmogorov_sf(x: float) -> float:
    """P(K > x) for the Kolmogorov distribution (scipy.stats.kstwobign.sf)."""
    if x <= 0:
        return 1.0
    if x < 1.18:  # the theta-function form converges fast for small x
        s = sum(math.exp(-((2 * k - 1) ** 2) * math.pi ** 2 / (8 * x * x)) for k in range(1, 8))
        return 1.0 - math.sqrt(2 * math.pi) / x * s
    return 2.0 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * x * x) for k in range(1, 12))


def chi2_sf(x: float, dof: int) -> float:
    """P(X > x) for chi-square with dof degrees of freedom (scipy.stats.chi2.sf): the
    regularized upper incomplete gamma Q(dof / 2, x / 2)."""
    if x <= 0:
        return 1.0
    a, y = dof / 2.0, x / 2.0
    log_front = a * math.log(y) - y - math.lgamma(a)
    if y < a + 1:  # the series of P converges here
        term = total = 1.0 / a
        for n in range(1, 1000):
            term *= y / (a + n)
            total += term
            if term < total * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(log_front))
    # Lentz's continued fraction of Q converges here.
    tiny = 1e-300
    b, c, d = y + 1 - a, 1 / tiny, 1 / (y + 1 - a)
    h = d
    for i in range(1, 1000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return min(1.0, math.exp(log_front) * h)


def chi2_test(current: Sequence[float], reference: Sequence[float]) -> Tuple[float, float]:
    """(statistic, p-value) of the chi-square test of homogeneity of the 2 x k count table
    (columns with no count on either side left out)."""
    table = np.array([current, reference], dtype=np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
    stat = float(((table - expected) ** 2 / expected).sum())
    return stat, chi2_sf(stat, table.shape[1] - 1)


def numeric_edges(reference: NumericSketch) -> List[float]:
    """The PSI / JS bins' upper edges: the reference's deciles, at its bin edges."""
    return sorted({reference.quantile(q) for q in DECILES})


def numeric_bins(sketch: NumericSketch, edges: Sequence[float]) -> np.ndarray:
    """Counts in (-inf, e1], (e1, e2], ..., (ek, inf) and of missing (or non-finite) values."""
    cum = np.concatenate([[0.0], sketch.cdf(np.asarray(edges)) * sketch.count
                          if sketch.count else np.zeros(len(edges)), [sketch.count]])
    return np.concatenate([np.round(np.diff(cum)), [sketch.missing + sketch.nonfinite]])


def ks_statistic(current: NumericSketch, reference: NumericSketch) -> Tuple[float, float]:
    """(D, error bound): the largest CDF difference at the bin edges of both sketches, and
    the largest one-bin mass of either (|D - D on the raw values| <= the bound)."""
    points = np.union1d(current.histogram()[0], reference.histogram()[0])
    if not len(points) or not current.count or not reference.count:
        return float("nan"), 0.0
    d = float(np.max(np.abs(current.cdf(points) - reference.cdf(points))))
    return d, max(current.max_bin_mass(), reference.max_bin_mass())


def categorical_bins(current: CategoricalSketch, reference: CategoricalSketch
                     ) -> Tuple[List[str], np.ndarray, np.ndarray]:
    """(bin names, current counts, reference counts): every listed value, other, missing."""
    names = sorted(set(current.counts) | set(reference.counts))

    def counts(s):
        return np.array([s.counts.get(v, 0) for v in names] + [s.other, s.missing], float)

    return names + ["(other)", "(missing)"], counts(current), counts(reference)


def compare(current: Any, reference: Any) -> Dict[str, Any]:
    """The drift statistics of one column: psi, js, test, statistic, p_value and the bins.

    Raises:
      ValueError: the sketches are of different kinds or accuracies.
    """
    if current.kind != reference.kind:
        raise ValueError(f"the column is {current.kind} here but {reference.kind} in the "
                         f"reference")
    out: Dict[str, Any] = {"kind": current.kind, "count": current.count + current.missing,
                           "reference_count": reference.count + reference.missing}
    if current.kind == "numeric":
        if current.accuracy != reference.accuracy:
            raise ValueError(f"relative accuracy {current.accuracy} here but "
                             f"{reference.accuracy} in the reference")
        edges = numeric_edges(reference) if reference.count else []
        cur, ref = numeric_bins(current, edges), numeric_bins(reference, edges)
        d, bound = ks_statistic(current, reference)
        n, m = current.count, reference.count
        p = kolmogorov_sf(math.sqrt(n * m / (n + m)) * d) if n and m else float("nan")
        out.update(edges=edges, test="ks", statistic=d, p_value=p, ks_error_bound=bound)
    else:
        names, cur, ref = categorical_bins(current, reference)
        stat, p = chi2_test(cur, ref)
        out.update(categories=names, test="chi2", statistic=stat, p_value=p)
    out.update(psi=psi(cur, ref), js=js_distance(cur, ref), bins=[cur.tolist(), ref.tolist()])
    return out


__all__ = ["DECILES", "PSI_FLOOR", "chi2_sf", "chi2_test", "compare", "js_distance",
           "kolmogorov_sf", "ks_statistic", "numeric_bins", "numeric_edges", "psi"]
