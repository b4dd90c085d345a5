"""Ranking metrics over queries: NDCG@k, MinLabelPosition and query statistics, as TFMA 0.47's
(tensorflow_model_analysis/metrics/ndcg.py, min_label_position.py, query_statistics.py).

The examples of one query (the rows that share a value of the config's `query_key` column) are
ranked by the model's prediction, highest first. A query's examples may arrive in different
batches, files and workers, so the accumulator keeps every example's (query, prediction, gain,
label, weight) and groups them only in `result`: its memory is proportional to the number of
examples of the slice (five numbers each, ~40 bytes plus the query id), and merging is a
concatenation, so the result does not depend on how the examples were batched or sharded.
`result` sorts them: about 2 to 4 s per million examples of a slice on one core.

Definitions (TFMA's):
  * ndcg@k: for each query, DCG@k / ideal DCG@k with DCG@k = sum_{i <= k} gain_i / log2(i + 1)
    over the query's examples in prediction order (i from 1) and the ideal DCG the same in
    gain order; 0 when the ideal DCG is not positive. Queries whose gains are all <= 0 are left
    out (TFMA gives them weight 0). The slice's value is the weighted mean over queries.
  * min_label_position: the 1-based position of the first example with a positive label in
    prediction order, weighted mean over the queries that have one.
  * total_queries, total_documents, min_documents, max_documents: the (weighted) number of
    queries and of examples, and the least and most examples of a query (each times the
    query's weight, as TFMA).
A query's weight is its examples' weight, which must be the same for all of them (TFMA refuses
otherwise too). Ties in prediction, which TFMA orders arbitrarily (by its sort), are averaged
here over every order of the tied examples, as sklearn.metrics.ndcg_score does: a tied group
gets its mean gain at each of its positions, and min_label_position the expected position of
the first positive among them. Without ties both equal TFMA's.

Slicing: a slice holds the examples in it, and a query is evaluated on its examples in the
slice. TFMA groups a query first and puts it, whole, in every slice any of its examples is in;
the two agree when slice features are the same for all examples of a query (query-level
features such as country or device), the usual case for ranking. Slice on such features.

Example:

    metric = RankingMetrics(query_key="query_id", top_k=(1, 3))
    acc = metric.add(metric.create(), batch)   # batch.features holds the query_id column
    metric.result(acc)["ndcg@3"]
"""

from __future__ import annotations

import dataclasses
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from assay.errors import ConfigError, DataError
from assay.metrics.base import Metric, ratio
from assay.metrics.batch import ModelBatch
from assay.metrics.ranking_names import (DEFAULT_TOP_K, NDCG, check_ranking_config,
                                         check_top_k, ranking_directions)


@dataclasses.dataclass
class RankingAccumulator:
    """Every example of the slice seen so far, one entry each (shape [m] arrays)."""

    query: np.ndarray
    prediction: np.ndarray
    gain: np.ndarray
    label: np.ndarray
    weight: np.ndarray

    FIELDS = ("query", "prediction", "gain", "label", "weight")


class RankingMetrics(Metric):
    """NDCG@k, min_label_position and query statistics over the queries named by `query_key`.

    Args:
      query_key: the column that names each example's query (any scalar type).
      gain_key: the column holding each example's gain (relevance) for NDCG; None: the label.
      top_k: the k of each ndcg@k.

    The model's predictions must be one score per example (shape [n]); the batch's `features`
    must hold the query column (and the gain column). See the module docstring for the
    definitions.
    """

    name = "ranking"

    def __init__(self, query_key: str, gain_key: Optional[str] = None,
                 top_k: Sequence[int] = DEFAULT_TOP_K):
        if query_key is None:
            raise ConfigError("RankingMetrics needs 'query_key': the column naming each "
                              "example's query")
        check_ranking_config(query_key, gain_key, top_k)
        self.query_key = query_key
        self.gain_key = gain_key
        self.top_k = check_top_k(top_k)

    @property
    def directions(self) -> Dict[str, Optional[str]]:
        return ranking_directions(self.top_k)

    def metric_names(self) -> List[str]:
        return list(self.directions)

    # Accumulator algebra -----------------------------------------------------------------

    def create(self) -> RankingAccumulator:
        empty = np.zeros(0)
        return RankingAccumulator(np.zeros(0, object), empty, empty.copy(), empty.copy(),
                                  empty.copy())

    def _columns(self, batch: ModelBatch) -> RankingAccumulator:
        """The batch's entries: query ids, predictions, gains, labels, weights."""
        from assay.data.columns import single_values

        p = np.asarray(batch.predictions, np.float64)
        if p.ndim != 1:
            raise DataError(f"ranking metrics (query_key '{self.query_key}') need one score per "
                            f"example (got predictions of shape {p.shape})")
        labels = np.asarray(batch.labels, np.float64)
        n = len(p)
        if n == 0:
            return self.create()
        if batch.features is None:
            raise DataError("ranking metrics need the batch's features (the query column); "
                            "the engine passes them when the config has a query_key")
        query = _column(batch, self.query_key, "query_key", single_values)
        gain = labels if self.gain_key is None else _column(
            batch, self.gain_key, "gain_key", single_values).astype(np.float64)
        if gain.dtype.kind not in "fiub":
            raise DataError(f"gain column '{self.gain_key}' must hold numbers "
                            f"(got {gain[0]!r})")
        return RankingAccumulator(query, p, np.asarray(gain, np.float64), labels,
                                  np.asarray(batch.weights, np.float64))

    def add(self, acc: RankingAccumulator, batch: ModelBatch) -> RankingAccumulator:
        return self.merge([acc, self._columns(batch)])

    def add_grouped(self, batch: ModelBatch, group_ids: np.ndarray, n_groups: int
                    ) -> List[RankingAccumulator]:
        entries = self._columns(batch)
        group_ids = np.asarray(group_ids, np.int64)
        if len(entries.prediction) == 0:
            return [self.create() for _ in range(n_groups)]
        order = np.argsort(group_ids, kind="stable")  # keeps the examples' order in each group
        bounds = np.searchsorted(group_ids[order], np.arange(n_groups + 1)).tolist()
        columns = [getattr(entries, f)[order] for f in RankingAccumulator.FIELDS]
        return [RankingAccumulator(*(c[a:b] for c in columns))
                for a, b in zip(bounds[:-1], bounds[1:])]

    def merge(self, accs: Sequence[RankingAccumulator]) -> RankingAccumulator:
        first = accs[0]
        # Empty parts left out: the query ids keep their column's dtype (int64 ids sort ~20
        # times faster than Python objects).
        parts = [a for a in accs if len(a.prediction)] or [first]
        for f in RankingAccumulator.FIELDS:
            setattr(first, f, np.concatenate([getattr(a, f) for a in parts]))
        return first

    # Results -----------------------------------------------------------------------------

    def result(self, acc: RankingAccumulator) -> Dict[str, float]:
        values: Dict[str, float] = {n: float("nan") for n in self.directions}
        values["total_queries"] = values["total_documents"] = 0.0
        if len(acc.prediction) == 0:
            return values
        q = _query_codes(acc.query, self.query_key)
        weight = _query_weights(q, acc.weight, acc.query, self.query_key)
        ranked = _Ranked(q, acc.prediction, len(weight))
        gain_sorted = acc.gain[ranked.order]
        ideal = np.lexsort((-acc.gain, q))  # per query, highest gain first
        has_gain = np.bincount(q, acc.gain > 0, minlength=len(weight)) > 0
        w_gain = np.where(has_gain, weight, 0.0)
        for k in self.top_k:
            dcg = ranked.tie_averaged_sum(gain_sorted, k)
            ideal_dcg = np.bincount(q[ideal], acc.gain[ideal] * _discounts(ranked.position, k),
                                    minlength=len(weight))
            ndcg = np.where(ideal_dcg > 0, ratio(dcg, ideal_dcg), 0.0)
            values[f"{NDCG}@{k}"] = ratio(np.sum(w_gain * ndcg), np.sum(w_gain))
        positions, found = ranked.first_positive_position(acc.label[ranked.order] > 0)
        w_found = np.where(found, weight, 0.0)
        values["min_label_position"] = ratio(np.sum(w_found * positions), np.sum(w_found))
        docs = np.bincount(q, minlength=len(weight)) * weight
        values.update(total_queries=float(np.sum(weight)), total_documents=float(np.sum(docs)),
                      min_documents=float(np.min(docs)), max_documents=float(np.max(docs)))
        return values


class _Ranked:
    """The examples sorted by query, then prediction (highest first), with their positions in
    their query and the runs of tied predictions.

    Attributes:
      order: shape [m], the sort.
      position: shape [m], 0-based position of each sorted example in its query. (Also the
        positions of any other per-query sort, which have the same query runs.)
      tie: shape [m], the tie group (run of equal query and prediction) of each sorted example.
    """

    def __init__(self, q: np.ndarray, prediction: np.ndarray, n_queries: int):
        self.n_queries = n_queries
        self.order = np.lexsort((-prediction, q))
        self.q = q[self.order]
        p = prediction[self.order]
        m = len(p)
        new_query = np.r_[True, self.q[1:] != self.q[:-1]]
        query_start = np.maximum.accumulate(np.where(new_query, np.arange(m), 0))
        self.position = np.arange(m) - query_start
        new_tie = new_query | np.r_[True, p[1:] != p[:-1]]
        self.tie = np.cumsum(new_tie) - 1
        self.tie_size = np.bincount(self.tie)
        self.tie_first = np.flatnonzero(new_tie)  # index of each tie group's first example

    def tie_averaged_sum(self, gain: np.ndarray, k: int) -> np.ndarray:
        """Per query, sum of gain * discount over positions < k, every tie group's gain spread
        evenly over its positions (the mean over the orders of the tied examples)."""
        mean_gain = np.bincount(self.tie, gain) / self.tie_size
        discount = np.bincount(self.tie, _discounts(self.position, k))
        return np.bincount(self.q[self.tie_first], mean_gain * discount,
                           minlength=self.n_queries)

    def first_positive_position(self, positive: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """(per query, the expected 1-based position of its first positive example; whether it
        has one). Among t tied examples holding p positives that start at position s, the first
        positive is at s + (t - p) / (p + 1) on average over their orders."""
        pos_count = np.bincount(self.tie, positive, minlength=len(self.tie_size))
        groups = np.flatnonzero(pos_count > 0)
        query_of = self.q[self.tie_first[groups]]
        first = np.unique(query_of, return_index=True)[1]  # first such group in each query
        groups, queries = groups[first], query_of[first]
        start = self.position[self.tie_first[groups]] + 1.0
        t, p = self.tie_size[groups], pos_count[groups]
        positions = np.zeros(self.n_queries)
        positions[queries] = start + (t - p) / (p + 1.0)
        found = np.zeros(self.n_queries, bool)
        found[queries] = True
        return positions, found


def _discounts(position: np.ndarray, k: int) -> np.ndarray:
    """1 / log2(position + 2) for 0-based positions < k, else 0."""
    return np.where(position < k, 1.0 / np.log2(position + 2.0), 0.0)


def _column(batch: ModelBatch, name: str, role: str, single_values) -> np.ndarray:
    if name not in batch.features.schema.names:
        raise DataError(f"{role} column '{name}' is not in the data (columns: "
                        f"{', '.join(batch.features.schema.names)})")
    return single_values(batch.features, name, role)


def _query_codes(query: np.ndarray, query_key: str) -> np.ndarray:
    """Dense int64 codes of the query ids (shape [m])."""
    try:
        return np.unique(query, return_inverse=True)[1].astype(np.int64).ravel()
    except TypeError:  # ids of mixed types (e.g. ints in one file, strings in another)
        kinds = sorted({type(v).__name__ for v in query.tolist()})
        raise DataError(f"query_key column '{query_key}' mixes value types ({', '.join(kinds)}); "
                        f"give every example a query id of one type") from None


def _query_weights(q: np.ndarray, weight: np.ndarray, query: np.ndarray,
                   query_key: str) -> np.ndarray:
    """Each query's weight (shape [n_queries]); DataError when its examples' weights differ."""
    n_queries = int(q.max()) + 1
    high = np.full(n_queries, -np.inf)
    low = np.full(n_queries, np.inf)
    np.maximum.at(high, q, weight)
    np.minimum.at(low, q, weight)
    differ = np.flatnonzero(high != low)
    if len(differ):
        bad = int(differ[0])
        example = query[np.flatnonzero(q == bad)[0]]
        raise DataError(f"the examples of query {example!r} (query_key '{query_key}') have "
                        f"different weights ({low[bad]!r} to {high[bad]!r}); ranking metrics "
                        f"weigh whole queries, so give every example of a query the same weight")
    return high


__all__ = ["RankingAccumulator", "RankingMetrics"]
