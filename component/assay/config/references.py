"""What a config's thresholds name, checked against what the config computes, when it is read.

A threshold on a metric the evaluation will not compute, or on a slice its slicing specs do not
produce, used to run the whole pass and then fail the verdict. These checks run when the config
is read (a ConfigError, exit 2, with the nearest names), as far as the config alone can tell:

- a metric name that no built-in family, cross-model metric or TFMA-semantics metric produces
  (unless the config has custom metrics: their names are known once they are loaded, and
  `assay.engine.prepare.check_threshold_metrics` checks them after the first batch);
- a metric that the config's `task` does not produce (without a `task`, the task is inferred
  from the first batch, and the same later check applies);
- a metric left out by `metrics:` (which keeps only the names it lists);
- a slice (or `max_gap.across`) whose features are not those of a slicing spec in `slices`.

TFMA's spellings of metric names (`AUC`, `BinaryAccuracy`, ...; the table of
`assay.config.tfma_metrics`) are accepted as aliases of assay's names: `tfma_aliased`.

Example:
    >>> tfma_aliased({"metric": "BinaryAccuracy", "min": 0.5})["metric"]
    'accuracy'
"""

from __future__ import annotations

import difflib
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Tuple

from assay.config.slices import SliceSpec
from assay.config.section_thresholds import SectionThreshold
from assay.config.thresholds import Threshold
from assay.metrics.cross_names import CROSS_MODEL_METRICS, is_cross_name
from assay.results.slices import canonical_value


def tfma_alias(name: Any) -> Any:
    """assay's name for a TFMA/Keras metric class name (`AUC` -> `auc_tfma`); other names as
    they are. A name assay itself produces is never replaced."""
    from assay.config.tfma_metrics import METRIC_NAMES
    from assay.metrics.registry import metric_info

    if not isinstance(name, str) or metric_info(name)[0] or is_cross_name(name):
        return name
    alias = METRIC_NAMES.get(name)
    return alias if isinstance(alias, str) else name


def tfma_aliased(threshold: Any) -> Any:
    """A threshold mapping with its metric's TFMA spelling replaced by assay's name."""
    if isinstance(threshold, Mapping) and "metric" in threshold:
        renamed = tfma_alias(threshold["metric"])
        if renamed != threshold["metric"]:
            return dict(threshold, metric=renamed)
    return threshold


def _task_produces(task: str, name: str, ranking: bool) -> bool:
    """Whether a `task` evaluation produces the built-in metric `name` with some options."""
    from assay.metrics.ranking_names import ranking_metric_info
    from assay.metrics.registry import _family
    from assay.metrics.tfma_names import tfma_metric_info

    return (_family(task, 1)(name)[0] or tfma_metric_info(name, task)[0]
            or (ranking and ranking_metric_info(name)[0]))


def known_names(task: Optional[str] = None) -> List[str]:
    """The plain metric names of `task`'s family (of every task when None), for suggestions."""
    from assay.metrics.registry import TASKS, task_directions

    names = []
    for t in ([task] if task else TASKS):
        names += list(task_directions(t))
    return sorted(set(names) | set(CROSS_MODEL_METRICS))


def nearest(name: str, candidates: Iterable[str], n: int = 3) -> str:
    """"; nearest: a, b" from `candidates`, or "" when none is close."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=n, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in candidates}
        close = [lowered[c] for c in difflib.get_close_matches(name.lower(), list(lowered), n=n)]
    return f"; nearest: {', '.join(close)}" if close else ""


def metric_problem(t: Threshold, task: Optional[str], metrics: Optional[Sequence[str]],
                   has_custom: bool, ranking: bool) -> Optional[str]:
    """Why the config will not compute the threshold's metric, or None (see the module)."""
    from assay.metrics.registry import metric_info

    name = t.metric
    if is_cross_name(name):
        return None  # computed whenever a threshold names it (assay.metrics.cross_names)
    if not metric_info(name)[0]:
        if has_custom:
            return None  # perhaps a custom metric's: checked once they are loaded
        return (f"metric '{name}' is not a metric assay computes{nearest(name, known_names())}"
                f" (custom metrics go in custom_metrics)")
    from assay.metrics.registry import TASKS

    if task in TASKS and not _task_produces(task, name, ranking):
        return f"metric '{name}' is not computed for a {task} task" + nearest(
            name, known_names(task))
    if metrics and not _kept(name, metrics):
        return (f"metric '{name}' is left out by 'metrics:', which lists only "
                f"{', '.join(metrics)}; add {name} to metrics")
    return None


def _kept(name: str, metrics: Sequence[str]) -> bool:
    """Whether `metrics:` keeps `name` (as assay.engine.assemble filters the records)."""
    keep = set(metrics) | {"example_count", "weighted_example_count"}
    return name in keep or any(name.startswith(m + "/") for m in keep)


def _spec_matches(spec: SliceSpec, features: Tuple[str, ...],
                  values: Optional[Tuple[Any, ...]]) -> bool:
    """Whether the slicing spec produces a slice with these (sorted) features (and values)."""
    if tuple(sorted(spec.features)) != tuple(features):
        return False
    if values is None or spec.columns:
        return True  # bucketed or free columns: any value may occur in the data
    fixed = dict((k, canonical_value(v, k)) for k, v in spec.values)
    return all(fixed.get(f) == v for f, v in zip(features, values))


def slice_problems(t: Threshold, slices: Sequence[SliceSpec]) -> List[str]:
    """The threshold's slices and max_gap spec that no slicing spec in `slices` produces."""
    problems = []
    names = [s.name for s in slices]
    for selector in t.slices:
        if not any(_spec_matches(s, selector.features, selector.values) for s in slices):
            wanted = "[" + ", ".join(selector.features) + "]"
            problems.append(f"{selector.label}: no slicing spec in 'slices' gives it (slices: "
                            f"{', '.join(names)}); add {wanted} to slices"
                            + nearest(", ".join(selector.features), names))
    if t.max_gap is not None and not any(
            _spec_matches(s, t.max_gap.across, None) for s in slices):
        problems.append(f"max_gap.across {list(t.max_gap.across)} is not among the slicing "
                        f"specs (slices: {', '.join(names)})")
    ratio = getattr(t, "min_ratio", None)
    if ratio is not None and not any(_spec_matches(s, ratio.across, None) for s in slices):
        problems.append(f"min_ratio.across {list(ratio.across)} is not among the slicing "
                        f"specs (slices: {', '.join(names)})")
    return problems


def threshold_problems(thresholds: Sequence[Tuple[int, Threshold]], fields: Mapping[str, Any]
                       ) -> List[str]:
    """Every problem of the thresholds (index, parsed) against the config's parsed fields
    (those of `assay.config.parse.config_fields`), each prefixed with its place."""
    slices = fields.get("slices") or (SliceSpec(),)
    out = []
    for i, t in thresholds:
        if isinstance(t, SectionThreshold):  # checked by its own parser
            continue
        where = f"thresholds[{i}] ({t.metric})"
        problem = metric_problem(t, fields.get("task"), fields.get("metrics"),
                                 bool(fields.get("custom_metrics")),
                                 fields.get("query_key") is not None)
        out += [f"{where}: {p}" for p in ([problem] if problem else []) +
                slice_problems(t, slices)]
    return out


__all__ = ["known_names", "metric_problem", "nearest", "slice_problems", "tfma_alias",
           "tfma_aliased", "threshold_problems"]
