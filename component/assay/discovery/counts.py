"""Per-slice error counts: size, sum, sum of squares and maximum of a per-example error.

The four counts are all SliceLine's search and the Welch test need, and they merge by addition
(the maximum by max), so a pass can accumulate them shard by shard.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass
class Counts:
    """Error counts of a set of slices, one entry per slice.

    Attributes:
        size: Examples in each slice, shape (m,).
        total: Sum of the per-example error, shape (m,).
        squares: Sum of the squared error, shape (m,).
        largest: Largest error (-inf for an empty slice), shape (m,).
    """

    size: np.ndarray
    total: np.ndarray
    squares: np.ndarray
    largest: np.ndarray

    def merge(self, other: "Counts") -> "Counts":
        """Counts of the union of two disjoint sets of examples (same slices in both)."""
        return Counts(self.size + other.size, self.total + other.total,
                      self.squares + other.squares, np.maximum(self.largest, other.largest))

    def take(self, index) -> "Counts":
        """The counts of the slices at ``index``."""
        return Counts(self.size[index], self.total[index], self.squares[index],
                      self.largest[index])


def encode(column) -> tuple[np.ndarray, list]:
    """Integer codes of a categorical column and the values they stand for.

    Args:
        column: Any values, shape (n,); compared as strings when they do not sort together.

    Returns:
        (codes of shape (n,), the distinct values in code order).
    """
    values = np.asarray(column)
    if values.dtype.kind in "iub":  # integer codes (the pass's): a fast sort, no objects
        levels, codes = np.unique(values.reshape(-1), return_inverse=True)
        return codes.reshape(-1).astype(np.int64), list(levels)
    values = values.astype(object)
    try:
        levels, codes = np.unique(values, return_inverse=True)
    except TypeError:  # mixed types (None with strings, ...): compare them as text
        levels, codes = np.unique(values.astype(str), return_inverse=True)
    return codes.reshape(-1).astype(np.int64), list(levels)


def cross_counts(codes: np.ndarray, cards: np.ndarray, features: tuple[int, ...],
                 errors: np.ndarray) -> Counts:
    """Counts of every value combination of the features ``features`` (a cross).

    Args:
        codes: Integer codes, shape (n, F).
        cards: Number of values of each feature, shape (F,).
        features: Column indices of the cross, increasing.
        errors: Per-example error, shape (n,).

    Returns:
        Counts of shape (prod(cards[features]),), indexed by the mixed-radix key
        ``key = ((c0 * card1) + c1) * card2 + c2 ...`` (see ``cross_key``).
    """
    key = cross_key(codes[:, list(features)], cards[list(features)])
    cells = int(np.prod(cards[list(features)]))
    largest = np.full(cells, -np.inf)
    np.maximum.at(largest, key, errors)
    return Counts(np.bincount(key, minlength=cells).astype(np.int64),
                  np.bincount(key, weights=errors, minlength=cells),
                  np.bincount(key, weights=errors * errors, minlength=cells), largest)


def cross_key(values: np.ndarray, cards: np.ndarray) -> np.ndarray:
    """Mixed-radix key of value codes, shape (..., k) -> (...)."""
    key = np.zeros(values.shape[:-1], dtype=np.int64)
    for j in range(values.shape[-1]):
        key = key * int(cards[j]) + values[..., j]
    return key
