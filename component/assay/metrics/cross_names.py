"""The names of the cross-model metrics: metrics of a pair of models (a model and the baseline)
on the same examples, as TFMA 0.47 defines them (metrics/flip_metrics.py,
prediction_difference_metrics.py, model_cosine_similarity.py). Imports no numpy: the config
reads these names while it is parsed.

    symmetric_flip_rate, flip_rate      share of examples whose boolean prediction (score >
                                        threshold, 0.5 by default) differs between the models
    neg_to_neg_flip_rate, neg_to_pos_flip_rate, pos_to_neg_flip_rate, pos_to_pos_flip_rate
                                        the four cells (baseline -> model) of the same table
    symmetric_prediction_difference     mean of 2|model - baseline| / |model + baseline|
    model_cosine_similarity             mean per-example cosine similarity of the two
                                        prediction vectors (unweighted, as in TFMA)

A flip rate at another threshold is named with `@`: `symmetric_flip_rate@0.3`. They are
computed only when `metrics:` or a threshold names them, and only with a baseline; they are
written in the diff record of the model ("diff", "diff:NAME"), where TFMA keys them
`is_diff=True`.

Example:
    >>> parse_cross_name("flip_rate@0.3"), parse_cross_name("auc")
    (('flip_rate', 0.3), None)
"""

from __future__ import annotations

from typing import Iterable, Optional, Tuple

from assay.errors import ConfigError

FLIP_RATES = ("symmetric_flip_rate", "flip_rate", "neg_to_neg_flip_rate", "neg_to_pos_flip_rate",
              "pos_to_neg_flip_rate", "pos_to_pos_flip_rate")
PREDICTION_DIFFERENCE = "symmetric_prediction_difference"
COSINE_SIMILARITY = "model_cosine_similarity"
CROSS_MODEL_METRICS = FLIP_RATES + (PREDICTION_DIFFERENCE, COSINE_SIMILARITY)
DEFAULT_FLIP_THRESHOLD = 0.5


def parse_cross_name(name: str) -> Optional[Tuple[str, Optional[float]]]:
    """(base name, flip threshold or None) of a cross-model metric name; None for any other.

    Raises:
      ConfigError: a flip rate with an `@` that is not followed by a number, or an `@` on a
        metric that takes no threshold.
    """
    base, at, rest = name.partition("@")
    if base not in CROSS_MODEL_METRICS:
        return None
    if not at:
        return base, (DEFAULT_FLIP_THRESHOLD if base in FLIP_RATES else None)
    if base not in FLIP_RATES:
        raise ConfigError(f"{base} takes no threshold (got {name!r}); only the flip rates do, "
                          f"e.g. symmetric_flip_rate@0.3")
    try:
        return base, float(rest)
    except ValueError:
        raise ConfigError(f"{name!r}: the flip rate's threshold after '@' must be a number, "
                          f"e.g. {base}@0.3") from None


def is_cross_name(name: str) -> bool:
    """Whether `name` is a cross-model metric (with or without a threshold)."""
    return name.partition("@")[0] in CROSS_MODEL_METRICS


def requested(names: Iterable[str]) -> Tuple[str, ...]:
    """The cross-model names among `names`, each once, in order (each checked by
    parse_cross_name)."""
    out = [n for n in dict.fromkeys(names) if is_cross_name(n)]
    for n in out:
        parse_cross_name(n)
    return tuple(out)


__all__ = ["COSINE_SIMILARITY", "CROSS_MODEL_METRICS", "DEFAULT_FLIP_THRESHOLD", "FLIP_RATES",
           "PREDICTION_DIFFERENCE", "is_cross_name", "parse_cross_name", "requested"]
