"""Weak-slice discovery with honest statistics: discover on one half, confirm on the other.

Examples are split by a hash of a stable example id, so the split does not depend on the order
of the data or on the run. SliceLine searches the discovery half; each slice it reports is then
tested on the confirmation half against its complement (one-sided Welch t-test), and the p-values
are adjusted by Benjamini-Hochberg over every slice the search scored. Because the confirmation
half took no part in choosing the slices, its p-values carry no selection bias.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Mapping

import numpy as np

from assay.discovery.counts import encode
from assay.discovery.search import search
from assay.discovery.stats import benjamini_hochberg, welch_greater


@dataclasses.dataclass
class DiscoveredSlice:
    """One discovered slice and its test on the confirmation half.

    Attributes:
        slice: {feature: value}, the conjunction that defines the slice.
        score: SliceLine's score on the discovery half.
        size: Examples of the slice in the confirmation half.
        error: Mean error of the slice in the confirmation half.
        rest_error: Mean error of the rest of the confirmation half (the complement).
        effect: error - rest_error (positive: the slice is worse).
        p_value: One-sided Welch t-test p-value (slice worse than the rest); nan if untestable.
        q_value: Benjamini-Hochberg q-value over every slice scored by the search.
        confirmed: q_value <= fdr and effect > 0.
    """

    slice: dict
    score: float
    size: int
    error: float
    rest_error: float
    effect: float
    p_value: float
    q_value: float
    confirmed: bool


def confirmation_half(ids) -> np.ndarray:
    """Which examples go to the confirmation half: one bit of a stable 64-bit hash of each id.

    The keys are the bootstrap's (assay.metrics.bootstrap: integer ids mixed with splitmix64
    in one vectorised step, other ids hashed once per distinct value), mixed again with a
    constant of their own so that the split is independent of the resampling weights.

    Args:
        ids: Stable example ids, shape (n,); integers, or any values hashed as their ``str``.

    Returns:
        Booleans, shape (n,): True for the confirmation half, False for the discovery half.
    """
    from assay.metrics.bootstrap import mix64, unit_keys

    ids = np.asarray(ids)
    keys = ids.astype(np.uint64) if ids.dtype.kind in "iu" else unit_keys(ids)
    with np.errstate(over="ignore"):
        return (mix64(keys + _SPLIT_SALT) & np.uint64(1)).astype(bool)


# Added to every key before mixing: the split's own stream (digits of pi, any odd constant).
_SPLIT_SALT = np.uint64(0x243F6A8885A308D3)


def discover(errors, features: Mapping[str, object], *, ids=None, max_features: int = 2,
             min_size: float = 0.01, top: int = 20, alpha: float = 0.95,
             fdr: float = 0.05, tested=None) -> list[DiscoveredSlice]:
    """The slices where the per-example error is high, confirmed on held-out examples.

    Args:
        errors: Non-negative per-example error (a loss, or 0/1), shape (n,).
        features: {name: categorical column of shape (n,)}.
        ids: Stable example ids for the split, shape (n,); by default the row numbers.
        max_features: Largest number of features in a slice.
        min_size: Smallest slice: a count of examples of the whole data, or a fraction in
            (0, 1); applied to the discovery half in proportion to its size.
        top: How many slices SliceLine reports (each then tested).
        alpha: SliceLine's weight of the error against the size, in (0, 1].
        fdr: The false discovery rate at which a slice is confirmed.
        tested: The per-example values the confirmation half tests, shape (n,), finite, of any
            sign; by default ``errors``. Paired differences (candidate loss - baseline loss)
            are tested as they are, while the search, whose pruning needs non-negative
            errors, sees their positive part.

    Returns:
        The top slices, best score first.

    Example:
        >>> rng = np.random.default_rng(0); group = rng.integers(0, 4, 4000)
        >>> errors = (rng.random(4000) < np.where(group == 2, 0.5, 0.1)).astype(float)
        >>> [s.slice for s in discover(errors, {"group": group}, top=3) if s.confirmed]
        [{'group': 2}]
    """
    errors = _check(errors, features, max_features, min_size, top, alpha, fdr)
    n = len(errors)
    names = list(features)
    encoded = [encode(features[name]) for name in names]
    codes = np.stack([c for c, _ in encoded], axis=1) if names else np.zeros((n, 0), np.int64)
    cards = np.array([len(levels) for _, levels in encoded], dtype=np.int64)
    confirm = confirmation_half(np.arange(n) if ids is None else ids)
    found = ~confirm
    smallest = min_size * n if min_size < 1 else min_size
    result = search(codes[found], cards, errors[found], max_features=max_features,
                    min_size=max(2, math.ceil(smallest * found.sum() / max(n, 1))), top=top,
                    alpha=alpha)
    held = (errors if tested is None else _tested(tested, n))[confirm]
    held_codes = codes[confirm]
    out = [_confirm(f, held, held_codes, names, encoded) for f in result.top]
    q = benjamini_hochberg([s.p_value for s in out], family=max(result.evaluated, len(out)))
    for s, qv in zip(out, q):
        s.q_value, s.confirmed = float(qv), bool(qv <= fdr and s.effect > 0)
    return out


def _confirm(found, held: np.ndarray, held_codes: np.ndarray, names: list,
             encoded: list) -> DiscoveredSlice:
    """Test one slice found on the discovery half against its complement on the other half."""
    mask = np.ones(len(held), dtype=bool)
    for f, v in found.key:
        mask &= held_codes[:, f] == v
    inside, rest = held[mask], held[~mask]
    _, _, p = welch_greater(len(inside), inside.sum(), (inside * inside).sum(),
                            len(rest), rest.sum(), (rest * rest).sum())
    error = float(inside.mean()) if len(inside) else math.nan
    rest_error = float(rest.mean()) if len(rest) else math.nan
    return DiscoveredSlice({names[f]: _plain(encoded[f][1][v]) for f, v in found.key},
                           found.score, int(mask.sum()), error, rest_error, error - rest_error,
                           float(p), math.nan, False)


def _tested(tested, n: int) -> np.ndarray:
    tested = np.asarray(tested, dtype=float).reshape(-1)
    if len(tested) != n or not np.all(np.isfinite(tested)):
        raise ValueError(f"discover: 'tested' must hold {n} finite values, one per example")
    return tested


def _plain(value):
    """A numpy scalar as the Python value it holds (for JSON and for equality in tests)."""
    return value.item() if isinstance(value, np.generic) else value


def _check(errors, features, max_features, min_size, top, alpha, fdr) -> np.ndarray:
    """The errors as floats, after checking every argument; ValueError naming the bad one."""
    errors = np.asarray(errors, dtype=float).reshape(-1)
    if not np.all(np.isfinite(errors)) or (errors < 0).any():
        raise ValueError("discover: 'errors' must be finite and non-negative (a per-example "
                         "loss or 0/1 error)")
    for name, column in features.items():
        if len(column) != len(errors):
            raise ValueError(f"discover: feature {name!r} has {len(column)} values; expected "
                             f"one per example ({len(errors)})")
    if not (isinstance(max_features, int) and max_features >= 1):
        raise ValueError(f"discover: 'max_features' must be an integer >= 1; got {max_features!r}")
    if not (isinstance(top, int) and top >= 1):
        raise ValueError(f"discover: 'top' must be an integer >= 1; got {top!r}")
    if not (min_size > 0):
        raise ValueError(f"discover: 'min_size' must be a count >= 1 or a fraction in (0, 1); "
                         f"got {min_size!r}")
    if not (0 < alpha <= 1):
        raise ValueError(f"discover: 'alpha' must be in (0, 1]; got {alpha!r}")
    if not (0 < fdr < 1):
        raise ValueError(f"discover: 'fdr' must be in (0, 1); got {fdr!r}")
    return errors
