"""The names, directions and settings of the ranking metrics (assay.metrics.ranking), apart
from their computation, so that the config and the registry can check them without numpy.

Example:
    >>> ranking_metric_info("ndcg@10"), ranking_metric_info("min_label_position")
    ((True, 'higher'), (True, 'lower'))
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

from assay.config.values import positive_int
from assay.errors import ConfigError, ConfigTypeError

HIGHER = "higher"  # as assay.metrics.registry (which imports this module)
LOWER = "lower"
NDCG = "ndcg"
QUERY_STATISTICS = ("total_queries", "total_documents", "min_documents", "max_documents")
DIRECTIONS = {"min_label_position": LOWER, **{n: None for n in QUERY_STATISTICS}}
NDCG_DIRECTION = HIGHER
DEFAULT_TOP_K = (1, 3, 5)


def ranking_directions(top_k: Sequence[int] = DEFAULT_TOP_K) -> Dict[str, Optional[str]]:
    """{name: direction} of every name RankingMetrics(top_k=top_k) produces, in result order.

    Example:
        >>> list(ranking_directions((1, 5)))[:3]
        ['ndcg@1', 'ndcg@5', 'min_label_position']
    """
    out: Dict[str, Optional[str]] = {f"{NDCG}@{k}": NDCG_DIRECTION for k in top_k}
    out.update(DIRECTIONS)
    return out


def ranking_metric_info(name: str) -> Tuple[bool, Optional[str]]:
    """(whether RankingMetrics produces `name` with some top_k, its direction)."""
    if name in DIRECTIONS:
        return True, DIRECTIONS[name]
    base, at, k = name.partition("@")
    if base == NDCG and at and k.isdigit() and k.isascii() and not k.startswith("0"):
        return True, NDCG_DIRECTION
    return False, None


def check_top_k(top_k: Sequence[int], key: str = "ranking_top_k") -> Tuple[int, ...]:
    """Distinct positive ints, in the given order; ConfigError/ConfigTypeError otherwise."""
    if isinstance(top_k, (str, bytes)) or not isinstance(top_k, Sequence):
        raise ConfigTypeError(f"'{key}' must be a list of positive integers (got {top_k!r}, a "
                              f"{type(top_k).__name__}).")
    ks = tuple(positive_int(k, key) for k in top_k)
    if not ks or len(set(ks)) != len(ks):
        raise ConfigError(f"'{key}' needs distinct positive integers, at least one (got "
                          f"{list(top_k)!r}).")
    return ks


def check_ranking_config(query_key: Optional[str], gain_key: Optional[str],
                         top_k: Sequence[int]) -> None:
    """The config's ranking settings: a query column, an optional gain column, the k values.

    Raises:
      ConfigError: a gain_key without a query_key, an empty column name, bad k values.
    """
    for key, value in (("query_key", query_key), ("gain_key", gain_key)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ConfigError(f"'{key}' must name a column (got {value!r})")
    if query_key is None:
        raise ConfigError(f"'gain_key' ({gain_key!r}) is for NDCG, a ranking metric, which "
                          f"needs 'query_key' too: the column naming each example's query")
    check_top_k(top_k)


__all__ = ["DEFAULT_TOP_K", "DIRECTIONS", "NDCG", "QUERY_STATISTICS", "check_ranking_config",
           "check_top_k", "ranking_directions", "ranking_metric_info"]
