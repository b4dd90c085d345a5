"""SliceLine's search for the slices where a model's error is high.

SliceLine: Sagadeeva and Boehm, "SliceLine: Fast, Linear-Algebra-based Slice Finding for ML
Model Debugging", SIGMOD 2021.

A slice is a conjunction of feature values, written as a tuple of (feature, code) pairs in
increasing feature order. Its score weighs how much worse its average error is than the overall
average against how small it is:

    score = alpha * (mean_err(S) / mean_err(all) - 1) - (1 - alpha) * (n / |S| - 1)

The search goes level by level (slices of 1, 2, ... features). A slice of level L is evaluated only
if all its L parents (drop one feature) survived, and only if the upper bound of its score, from
the smallest size, error sum and largest error of its parents, can still reach the top ``top``.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from assay.discovery.counts import Counts, cross_counts, cross_key

Slice = tuple  # ((feature, code), ...) in increasing feature order


@dataclasses.dataclass
class Found:
    """One slice of the top: its key, score and counts (size, error sum, squares, largest)."""

    key: Slice
    score: float
    size: int
    total: float
    squares: float
    largest: float


@dataclasses.dataclass
class SearchResult:
    """The best slices, best first, and how many slices of at least ``min_size`` were scored."""

    top: list
    evaluated: int


class _Scorer:
    """SliceLine's score and its upper bound for one data set."""

    def __init__(self, n: int, mean_error: float, alpha: float, min_size: int):
        self.n, self.mean, self.alpha, self.min_size = n, mean_error, alpha, min_size

    def score(self, size: float, total: float) -> float:
        """The score of a slice of ``size`` examples whose errors sum to ``total``."""
        return (self.alpha * ((total / size) / self.mean - 1)
                - (1 - self.alpha) * (self.n / size - 1))

    def bound(self, size: float, total: float, largest: float) -> float:
        """Largest score of any sub-slice of a slice with these counts (or -inf: too small).

        Why three sizes: with error min(total, sz * largest) the score is monotone in sz on
        each side of total / largest, so its maximum over [min_size, size] is at one of them.
        """
        if size < self.min_size:
            return -np.inf
        if largest <= 0:
            return self.score(size, 0.0)
        knee = min(max(total / largest, self.min_size), size)
        return max(self.score(sz, min(total, sz * largest))
                   for sz in (self.min_size, knee, size))


class _Top:
    """The ``k`` best slices of positive score so far, in the order (-score, level, key)."""

    def __init__(self, k: int):
        self.k, self.items = k, []

    def add(self, found: Found) -> None:
        if found.score <= 0:
            return
        self.items.append(found)
        self.items.sort(key=lambda f: (-f.score, len(f.key), f.key))
        del self.items[self.k:]

    def reachable(self, bound: float) -> bool:
        """Whether a slice (or its sub-slices) with this score bound could still enter the top.

        A bound equal to the k-th score is kept, so ties are settled by the order, as in an
        exhaustive search.
        """
        if bound <= 0:
            return False
        return len(self.items) < self.k or bound >= self.items[-1].score


def search(codes: np.ndarray, cards: np.ndarray, errors: np.ndarray, *, max_features: int,
           min_size: int, top: int, alpha: float = 0.95) -> SearchResult:
    """SliceLine: the ``top`` slices of highest positive score, of up to ``max_features`` features.

    Args:
        codes: Integer feature codes, shape (n, F); code c of feature f is in [0, cards[f]).
        cards: Number of values of each feature, shape (F,).
        errors: Non-negative per-example error, shape (n,).
        max_features: Largest number of features in a slice (the level).
        min_size: Smallest slice, in examples.
        top: How many slices to return.
        alpha: Weight of the error against the size, in (0, 1].

    Returns:
        The top slices, best first, and the number of slices of at least ``min_size`` scored.

    Example:
        >>> codes = np.array([[0], [0], [1], [1]]); errors = np.array([1., 1., 0., 0.])
        >>> [f.key for f in search(codes, np.array([2]), errors, max_features=1,
        ...                        min_size=1, top=1).top]
        [((0, 0),)]
    """
    n = len(errors)
    mean = float(errors.mean()) if n else 0.0
    if mean <= 0:  # no error anywhere: no slice is worse than the rest
        return SearchResult([], 0)
    scorer, best, evaluated = _Scorer(n, mean, alpha, min_size), _Top(top), 0
    level = {}  # surviving slices of the current level -> (size, total, largest)
    for f in range(codes.shape[1]):
        counts = cross_counts(codes, cards, (f,), errors)
        level.update(_evaluate(counts, {((f, v),): v for v in range(int(cards[f]))},
                               scorer, best))
        evaluated += int((counts.size >= min_size).sum())
    singles = dict(level)
    for _ in range(2, max_features + 1):
        if not level:
            break
        wanted = _children(level, singles, scorer, best, codes.shape[1])
        level = {}
        for features, keys in wanted.items():
            counts = cross_counts(codes, cards, features, errors)
            cells = {key: int(cross_key(np.array([v for _, v in key]), cards[list(features)]))
                     for key in keys}
            evaluated += sum(int(counts.size[c] >= min_size) for c in cells.values())
            level.update(_evaluate(counts, cells, scorer, best))
    return SearchResult(best.items, evaluated)


def _evaluate(counts: Counts, cells: dict, scorer: _Scorer, best: _Top) -> dict:
    """Score the slices ``cells`` (key -> cell of ``counts``); return those worth expanding."""
    survivors = {}
    for key, cell in cells.items():
        size = int(counts.size[cell])
        if size < scorer.min_size:
            continue
        total, largest = float(counts.total[cell]), float(counts.largest[cell])
        best.add(Found(key, scorer.score(size, total), size, total,
                       float(counts.squares[cell]), largest))
        if best.reachable(scorer.bound(size, total, largest)):
            survivors[key] = (size, total, largest)
    return survivors


def _children(level: dict, singles: dict, scorer: _Scorer, best: _Top, n_features: int) -> dict:
    """The next level's slices whose parents all survived and whose bound can reach the top.

    Returns:
        {feature tuple: [slice keys]}, to count each cross in one pass over the data.
    """
    wanted = {}
    for parent in level:
        last = parent[-1][0]
        for single in singles:
            (f, _), = single
            if f <= last:
                continue
            child = parent + single
            parents = [child[:i] + child[i + 1:] for i in range(len(child))]
            if any(p not in level for p in parents):
                continue  # a parent was too small or could not reach the top: nor can this
            stats = np.array([level[p] for p in parents])
            if best.reachable(scorer.bound(*stats.min(axis=0))):
                wanted.setdefault(tuple(f for f, _ in child), []).append(child)
    return wanted


def exhaustive(codes: np.ndarray, cards: np.ndarray, errors: np.ndarray, *, max_features: int,
               min_size: int, top: int, alpha: float = 0.95) -> list:
    """Every slice scored, no pruning: the reference the search must agree with (small data)."""
    n, mean = len(errors), float(errors.mean())
    scorer, best = _Scorer(n, mean, alpha, min_size), _Top(top)
    for k in range(1, max_features + 1):
        for features in itertools.combinations(range(codes.shape[1]), k):
            for values in itertools.product(*(range(int(cards[f])) for f in features)):
                mask = np.all(codes[:, list(features)] == np.array(values), axis=1)
                if mask.sum() >= min_size:
                    e = errors[mask]
                    best.add(Found(tuple(zip(features, values)),
                                   scorer.score(len(e), e.sum()), len(e), e.sum(),
                                   (e * e).sum(), e.max()))
    return best.items
