"""Score counts: weighted positives and negatives per (curve, score key), and the ROC / PR
areas and curves read from them. Shared by the binary and multi-class families.

Two forms. The exact form keys by the distinct prediction values (float64 keys), so the areas
equal scikit-learn's, ties included. The bucketed form keys by
bucket_ids(prediction, num_buckets) (int64 keys), so it holds at most num_buckets entries per
curve however many examples it has seen. A ScoreCounts starts exact and is bucketed once some
curve holds more than `max_exact` distinct predictions (max_exact None: never). Both the
conversion and the bucket of an example are functions of the prediction values alone, so the
form of a slice's counts, and the sum in each key, do not depend on how the slice was batched:

  * the distinct predictions of a part are a subset of the slice's, so a part over the limit
    means the slice is over it too (converting a part early is never wrong), and merging parts
    that are each under the limit converts when their union is over it;
  * bucketing exact counts re-adds their sums per bucket, which gives the same sums (up to
    float summation order) as bucketing every example directly.

Example:
    >>> import numpy as np
    >>> counts = grouped_score_counts(np.zeros(4, np.int64), np.zeros(4, np.int32),
    ...                               np.array([.1, .4, .35, .8]), np.array([0., 0., 1., 1.]),
    ...                               np.array([1., 1., 0., 0.]), 1, 10000, None)[0]
    >>> roc_auc(*cumulative_counts(counts, 0)[1:])
    0.75
"""

from __future__ import annotations

import functools
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from assay.metrics.base import sum_fields
from assay.metrics.score_counts import PackedScoreCounts, ScoreCounts, narrow_counts

MAX_CURVE_POINTS = 200


def _run_starts(*columns: np.ndarray) -> np.ndarray:
    """Indices where a run of equal rows starts, for columns sorted together (length >= 1)."""
    change = np.zeros(len(columns[0]), bool)
    change[0] = True
    for col in columns:
        change[1:] |= col[1:] != col[:-1]
    return np.flatnonzero(change)


def _order_key(values: np.ndarray) -> np.ndarray:
    """Integers in the order of the float64 (int64 keys) or float32 (int32 keys) values: sorting
    ints is faster than floats.

    The IEEE bits of a float, read as an integer of its width, are in order for values >= 0 and
    in reverse order for values < 0; flipping all but the sign bit of the negative ones fixes
    that. (-0.0 comes just before 0.0, so the two still form one run of equal values.)
    """
    if values.dtype == np.float32:
        bits = values.view(np.int32)
        return bits ^ ((bits >> 31) & np.int32(0x7FFFFFFF))
    bits = values.view(np.int64)
    return bits ^ ((bits >> 63) & np.int64(0x7FFFFFFFFFFFFFFF))


def _bucket_runs(cell: np.ndarray, values: np.ndarray, pos: np.ndarray, neg: np.ndarray,
                 num_buckets: int):
    """Re-adds exact entries sorted by (cell, value) per (cell, bucket of value).

    The bucket is monotone in the value, so the bucketed entries come out sorted by
    (cell, bucket) with no sort, and their sums follow the value order.
    """
    buckets = bucket_ids(values, num_buckets)
    starts = _run_starts(cell, buckets)
    return (cell[starts], buckets[starts], np.add.reduceat(pos, starts),
            np.add.reduceat(neg, starts))


def bucketize(counts: ScoreCounts, num_buckets: int) -> ScoreCounts:
    """The bucketed form of exact counts (bucketed counts are returned as they are)."""
    if not counts.exact:
        return counts
    if len(counts.keys) == 0:
        return ScoreCounts.empty(exact=False)
    curve, keys, pos, neg = _bucket_runs(counts.curve, counts.keys, counts.pos, counts.neg,
                                         num_buckets)
    return ScoreCounts(curve, keys, pos, neg)


def grouped_score_counts(group: np.ndarray, curve: np.ndarray, scores: np.ndarray,
                         pos: np.ndarray, neg: np.ndarray, n_groups: int, num_buckets: int,
                         max_exact: Optional[int]) -> List[ScoreCounts]:
    """Sums pos and neg per (group, curve, key); one ScoreCounts per group.

    A group's counts are exact while each of its curves has at most max_exact distinct scores
    (always when max_exact is None) and bucketed otherwise, exactly as if the group's examples
    had been added alone. Vectorised: one sort of all entries; the groups that are bucketed get
    their buckets from one pass over the sorted exact entries.

    Args:
      group: shape [n] int, values in [0, n_groups).
      curve: shape [n] int, values >= 0.
      scores, pos, neg: shape [n] float64; one entry per (example, curve).
    """
    if len(scores) == 0:
        return [ScoreCounts.empty() for _ in range(n_groups)]
    scores = np.asarray(scores, np.float64)
    n_curves = int(curve.max()) + 1
    cell = group.astype(np.int64)
    if n_curves > 1:
        cell = cell * n_curves + curve
    # lexsort is stable, so equal (group, curve, score) entries are summed in input order and a
    # group's sums do not depend on which other groups share the batch.
    order = np.lexsort((_order_key(scores), cell))
    return sorted_score_counts(cell[order], n_curves, scores[order], pos[order], neg[order],
                               n_groups, num_buckets, max_exact)


class ScoreOrder:
    """The order of a batch's scores, computed once and shared by every slicing spec.

    grouped_score_counts sorts each spec's entries by (group, score); with the batch's rows
    ranked by score once, a spec only sorts integers (group * n + rank), which is several times
    cheaper, and gives the same order (ties in row order), so the same sums bit for bit.

    Attributes:
      perm: shape [n] int64; the rows in score order (ties in row order).
      rank: shape [n] int64; the position of each row in perm.
    """

    def __init__(self, scores: np.ndarray):
        self.perm = np.argsort(_order_key(np.asarray(scores, np.float64)), kind="stable")
        self.rank = np.empty(len(self.perm), np.int64)
        self.rank[self.perm] = np.arange(len(self.perm))

    def group_order(self, group: np.ndarray, rows: Optional[np.ndarray]) -> Tuple[np.ndarray,
                                                                                  np.ndarray]:
        """(group sorted, the batch row of each entry) for entries (group[i], row rows[i]) (row i
        when rows is None), sorted by (group, score, row). A row may appear once per group."""
        n = len(self.perm)
        rank = self.rank if rows is None else self.rank[rows]
        key = np.asarray(group, np.int64) * n + rank
        key.sort()
        return key // n, self.perm[key % n]


def sorted_score_counts(cell: np.ndarray, n_curves: int, scores: np.ndarray, pos: np.ndarray,
                        neg: np.ndarray, n_groups: int, num_buckets: int,
                        max_exact: Optional[int]) -> List[ScoreCounts]:
    """grouped_score_counts of entries already sorted by (cell, score), cell = group * n_curves
    + curve (group when n_curves is 1); equal entries are summed in the order given."""
    if len(scores) == 0:
        return [ScoreCounts.empty() for _ in range(n_groups)]
    cell, scores, pos_sum, neg_sum = score_runs(cell, scores, pos, neg)
    g = cell // n_curves if n_curves > 1 else cell
    bounds = np.searchsorted(g, np.arange(n_groups + 1))

    if max_exact is None:
        bucketed = np.zeros(n_groups, bool)
    else:
        per_curve = np.bincount(cell, minlength=n_groups * n_curves).reshape(n_groups, n_curves)
        bucketed = per_curve.max(axis=1) > max_exact
    if bucketed.any():
        sel = bucketed[g]
        b_cell, b_keys, b_pos, b_neg = _bucket_runs(cell[sel], scores[sel], pos_sum[sel],
                                                    neg_sum[sel], num_buckets)
        b_bounds = np.searchsorted(b_cell // n_curves if n_curves > 1 else b_cell,
                                   np.arange(n_groups + 1))
        b_curve = (b_cell % n_curves).astype(np.int32)
    curve_out = (cell % n_curves).astype(np.int32)

    # Per group only slicing is left: views of the batch's arrays, which live until the
    # partials are merged (merging makes new arrays). (Python-int bounds: indexing with numpy
    # ints costs more.)
    exact_parts = (curve_out, scores, pos_sum, neg_sum)
    bounds = bounds.tolist()
    if not bucketed.any():
        return [_copied(exact_parts, a, b) for a, b in zip(bounds[:-1], bounds[1:])]
    b_bounds = b_bounds.tolist()
    return [_copied((b_curve, b_keys, b_pos, b_neg), b_bounds[i], b_bounds[i + 1]) if bucketed[i]
            else _copied(exact_parts, bounds[i], bounds[i + 1]) for i in range(n_groups)]


def score_runs(cell: np.ndarray, scores: np.ndarray, pos: np.ndarray, neg: np.ndarray):
    """(cell, score, pos, neg) summed per run of equal (cell, score), for entries sorted by
    (cell, score); summed in the order given. Length >= 1."""
    starts = _run_starts(cell, scores)
    if len(starts) == len(scores):  # no ties (continuous scores): nothing to add up
        return cell, scores, pos, neg
    return (cell[starts], scores[starts], np.add.reduceat(pos, starts),
            np.add.reduceat(neg, starts))


def _copied(parts, a: int, b: int) -> ScoreCounts:
    curve, keys, pos, neg = parts
    return ScoreCounts(curve[a:b], keys[a:b], pos[a:b], neg[a:b])


def _sum_by_key(curve: np.ndarray, keys: np.ndarray, pos: np.ndarray,
                neg: np.ndarray, num_buckets: Optional[int] = None) -> ScoreCounts:
    """Entries summed per (curve, key), sorted; keys keep their dtype (form). num_buckets:
    the bucket ids' range, for a dense sum of bucketed entries (no sort)."""
    if len(keys) == 0:
        return ScoreCounts(curve.astype(np.int32), keys, pos, neg)
    n_curves = int(curve.max()) + 1
    if num_buckets is not None and keys.dtype.kind == "i" \
            and n_curves * num_buckets <= 8 * len(keys) + 65536:
        return _dense_sum(curve, keys, pos, neg, n_curves, num_buckets)
    if n_curves == 1:  # one stable sort of one key: the order lexsort gives, cheaper
        order = np.argsort(keys if keys.dtype.kind == "i" else _order_key(keys), kind="stable")
    else:
        order = np.lexsort((keys, curve))  # stable: equal keys are summed in input order
    curve, keys = curve[order], keys[order]
    starts = _run_starts(curve, keys)
    return ScoreCounts(curve[starts].astype(np.int32), keys[starts],
                       np.add.reduceat(pos[order], starts), np.add.reduceat(neg[order], starts))


def _dense_sum(curve: np.ndarray, keys: np.ndarray, pos: np.ndarray, neg: np.ndarray,
               n_curves: int, num_buckets: int) -> ScoreCounts:
    """_sum_by_key of bucketed entries by bincount over (curve, bucket) cells: the same sums
    (bincount adds each cell's entries in input order, as the stable sort and reduceat do) and
    the same cells (those holding an entry), with no sort."""
    cell = curve.astype(np.int64) * num_buckets + keys
    size = n_curves * num_buckets
    present = np.flatnonzero(np.bincount(cell, minlength=size))
    return ScoreCounts((present // num_buckets).astype(np.int32), present % num_buckets,
                       np.bincount(cell, pos, minlength=size)[present],
                       np.bincount(cell, neg, minlength=size)[present])


def merge_score_counts(counts: Sequence[ScoreCounts], num_buckets: int,
                       max_exact: Optional[int]) -> "PackedScoreCounts":
    """Sums several ScoreCounts key by key; returns a new one, packed (PackedScoreCounts).

    Exact parts are bucketed first if any part is bucketed; an exact sum is bucketed when some
    curve then holds more than max_exact distinct scores (never when max_exact is None).
    """
    counts = [c for c in counts if len(c)]
    if not counts:
        return ScoreCounts.empty()
    merged = _merged_packed(counts, max_exact) if len(counts) > 1 else None
    if merged is not None:
        return merged
    if not all(c.exact for c in counts):
        counts = [bucketize(c, num_buckets) for c in counts]
    if len(counts) == 1:
        merged = counts[0].copy()
    else:
        merged = _sum_by_key(*(np.concatenate([getattr(c, f) for c in counts])
                               for f in ("curve", "keys", "pos", "neg")), num_buckets)
    if merged.exact and max_exact is not None and merged.max_keys_per_curve() > max_exact:
        merged = bucketize(merged, num_buckets)
    return PackedScoreCounts(merged)


def _merged_packed(counts: Sequence[Any], max_exact: Optional[int]
                   ) -> Optional[PackedScoreCounts]:
    """merge_score_counts of packed single-curve exact counts held as packing holds them
    (float32 keys; whole counts as uint8/uint16), read as they are: the same packed result,
    without widening each part to ScoreCounts' dtypes and narrowing the sum again. None where
    another form comes in or out (other dtypes, a sum past 65,535, past max_exact keys)."""
    parts = [c.__getstate__() for c in counts if isinstance(c, PackedScoreCounts)]
    if len(parts) < len(counts) or any(
            curve is not None or keys.dtype != np.float32 or pos.dtype.kind != "u"
            or neg.dtype.kind != "u" for _, curve, keys, pos, neg in parts):
        return None
    keys = np.concatenate([p[2] for p in parts])
    order = np.argsort(_order_key(keys), kind="stable")  # the parts are sorted runs
    keys = keys[order]
    starts = _run_starts(keys)  # float equality: -0.0 == 0.0, as the general path
    if max_exact is not None and len(starts) > max_exact:
        return None
    sums = [np.add.reduceat(np.concatenate([p[i] for p in parts]).astype(np.int64)[order],
                            starts) for i in (3, 4)]
    if max(int(s.max()) for s in sums) > 0xFFFF:
        return None
    return PackedScoreCounts.of_one_curve(keys[starts], *(narrow_counts(s) for s in sums))


def merge_with_scores(accs: Sequence[Any], summed: Sequence[str], num_buckets: int,
                      max_exact: Optional[int]) -> Any:
    """Merges accumulators that hold arrays to sum (`summed`) and a ScoreCounts `scores`, into
    accs[0] (the binary and multi-class accumulators)."""
    first = sum_fields(accs, summed)
    first.scores = merge_score_counts([a.scores for a in accs], num_buckets, max_exact)
    return first


def cumulative_counts(counts: ScoreCounts, curve: Optional[int] = None
                      ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted true and false positives when predicting positive iff key >= each key.

    Args:
      counts: the ScoreCounts.
      curve: the curve to read; None merges all curves (micro-averaging).

    Returns:
      (keys, tp, fp), shape [m] each, keys descending; keys holding no weight are dropped.
      Read-only: the last call's arrays are kept and handed out again for the same counts
      object and curve (a slice's metrics, then its plots, read them; counts are not changed
      once they are read).
    """
    last = _LAST_CUMULATIVE[0]
    if last is not None and last[0] is counts and last[1] == curve:
        return last[2]
    out = _cumulative_counts(counts, curve)
    for a in out:
        a.setflags(write=False)
    _LAST_CUMULATIVE[0] = (counts, curve, out)  # holds the counts: their id stays theirs
    return out


# (counts, curve, result) of the last cumulative_counts call (one tuple: set atomically).
_LAST_CUMULATIVE: List[Any] = [None]


def _cumulative_counts(counts: ScoreCounts, curve: Optional[int]
                       ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    if curve is None:
        merged = _sum_by_key(np.zeros_like(counts.curve), counts.keys, counts.pos, counts.neg)
    else:
        a, b = np.searchsorted(counts.curve, [curve, curve + 1])
        merged = ScoreCounts(counts.curve[a:b], counts.keys[a:b], counts.pos[a:b],
                             counts.neg[a:b])
    keep = (merged.pos != 0) | (merged.neg != 0)
    return (merged.keys[keep][::-1], np.cumsum(merged.pos[keep][::-1]),
            np.cumsum(merged.neg[keep][::-1]))


def roc_auc(tp: np.ndarray, fp: np.ndarray) -> float:
    """Trapezoidal area under the ROC curve through (0, 0) and the points (fp/N, tp/P).

    Ties (one key) form one straight segment, as in sklearn.metrics.roc_auc_score. NaN when
    either class has no weight.
    """
    if len(tp) == 0 or tp[-1] <= 0 or fp[-1] <= 0:
        return float("nan")
    # numpy 2 renamed trapz to trapezoid (and later removed trapz); the core runs on 1.x and 2.x.
    trapezoid = getattr(np, "trapezoid", None) or np.trapz
    return float(trapezoid(_from_zero(tp) / tp[-1], _from_zero(fp) / fp[-1]))


def average_precision(tp: np.ndarray, fp: np.ndarray) -> float:
    """sum over keys of (recall step) * (precision at the key), as average_precision_score.

    Ties (one key) form one step. NaN when there are no positives (scikit-learn returns 0 with
    a warning).
    """
    if len(tp) == 0 or tp[-1] <= 0:
        return float("nan")
    return float(np.sum(np.diff(_from_zero(tp)) / tp[-1] * (tp / (tp + fp))))


def _from_zero(values: np.ndarray) -> np.ndarray:
    """0.0 then values, as float64 (np.r_[0.0, values], without its indexing machinery)."""
    return np.concatenate((_ZERO, values))


_ZERO = np.zeros(1)


@functools.lru_cache(maxsize=4096)
def downsample(n: int, max_points: int = MAX_CURVE_POINTS) -> np.ndarray:
    """At most max_points indices into range(n), evenly spread, first and last included
    (read-only: made once per length)."""
    idx = np.unique(np.round(np.linspace(0, n - 1, min(n, max_points))).astype(np.int64))
    idx.setflags(write=False)
    return idx


def as_json_list(values: np.ndarray) -> List[Optional[float]]:
    """Python floats, with None (JSON null) for NaN."""
    values = np.asarray(values, np.float64)
    out = values.tolist()
    for i in np.flatnonzero(np.isnan(values)).tolist():
        out[i] = None
    return out


def bucket_ids(p: np.ndarray, num_buckets: int) -> np.ndarray:
    """Equal-width bucket of [0, 1]: min(floor(p * num_buckets), num_buckets - 1), int64."""
    return np.clip(np.floor(p * num_buckets), 0, num_buckets - 1).astype(np.int64)
