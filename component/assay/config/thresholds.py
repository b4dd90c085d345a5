"""Thresholds, typed: the bounds on a metric and the slices they apply to.

Config (YAML or JSON; every key below is optional except `metric` and one bound per threshold):

    thresholds:
      - {metric: auc, min: 0.70, max_regression: 0.01}     # overall slice by default
      - {metric: log_loss, max_regression: {relative: 0.05}}
      - {metric: recall, slices: [[region]], min: 0.5}      # every slice of the spec [region]
      - {metric: auc, slices: [{region: north}], min: 0.65} # the one slice region=north
      - {metric: auc, max_gap: {across: [region], value: 0.05}}
      - {metric: my_score, direction: higher, max_regression: 0.02}  # custom metric
      - {metric: auc, model: previous, min: 0.6}          # a named model (default candidate)
      - {metric: symmetric_flip_rate, max: 0.1}           # cross-model: candidate vs baseline

The other validation keys (on_no_thresholds, ...): assay.config.validation. What each key means
when the thresholds are checked: assay.validation. Here they are parsed, once, into frozen
objects; every problem raises ConfigError (ConfigTypeError for a value of the wrong type)
naming the threshold, the key, the rule and the value seen.

A `max_regression` needs to know which value of the metric is better. Built-in metrics declare
it (assay.metrics.registry); a custom metric may declare it in its `directions` attribute, read
when the plan has loaded it (assay.config.validation.with_declared_directions); any other
metric, and a built-in with no better direction (example_count, ...), needs `direction:`.

Example:
    >>> t, = parse_thresholds([{"metric": "log_loss", "max_regression": {"relative": 0.05}}])
    >>> t.max_regression_relative, t.direction, t.slices == (OVERALL_SLICE,)
    (0.05, 'lower', True)
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Mapping, Optional, Tuple

from assay.config.model_names import check_model_name
from assay.config.section_thresholds import parse_section_threshold, section_kind
from assay.config.values import check_keys, choice, expect, is_number, number, type_name
from assay.errors import ConfigError, ConfigTypeError
from assay.metrics.cross_names import is_cross_name, parse_cross_name
from assay.metrics.registry import DIRECTION_CHOICES, metric_info
from assay.results.slices import canonical_value, features_label


@dataclasses.dataclass(frozen=True)
class SliceSelector:
    """The slices a threshold applies to.

    Attributes:
      features: sorted feature names of the slicing spec; () is the overall slice.
      values: the values of one slice (canonical, see assay.results.slices), aligned with
        `features`; None means every slice of the spec.

    Example:
        >>> SliceSelector.parse({"region": "north"}).label, SliceSelector.parse(["region"]).label
        ('slice region=north', 'every slice of [region]')
    """

    features: Tuple[str, ...] = ()
    values: Optional[Tuple[Any, ...]] = ()

    def __post_init__(self):
        features = tuple(self.features)
        for f in features:
            if not isinstance(f, str) or not f:
                raise ConfigTypeError(f"slice feature names must be non-empty strings (got {f!r})")
        if len(set(features)) != len(features):
            raise ConfigError(f"slice features must not repeat (got {list(features)})")
        values = () if not features else self.values
        if values is not None:
            values = tuple(values)
            if len(values) != len(features):
                raise ConfigError(f"a slice needs one value per feature "
                                  f"(features {list(features)}, values {list(values)})")
            pairs = sorted(zip(features, (canonical_value(v, f) for f, v in zip(features, values))))
            features, values = tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)
        else:
            features = tuple(sorted(features))
        object.__setattr__(self, "features", features)
        object.__setattr__(self, "values", values)

    @classmethod
    def parse(cls, item: Any) -> "SliceSelector":
        """From config: [feature, ...] (every slice of the spec) or {feature: value} (one slice)."""
        if isinstance(item, Mapping):
            return cls(tuple(item.keys()), tuple(item.values()))
        if isinstance(item, (list, tuple)):
            return cls(tuple(item), None)
        raise ConfigTypeError(f"a 'slices' entry must be a list of feature names (every slice of "
                              f"that spec) or a mapping of feature to value (one slice) "
                              f"(got {item!r}, a {type_name(item)})")

    @property
    def every_slice(self) -> bool:
        return self.values is None and bool(self.features)

    @property
    def label(self) -> str:
        if self.values is None:
            return f"every slice of [{', '.join(self.features)}]"
        return features_label(self.features, self.values)

    def to_config(self) -> Any:
        if self.values is None:
            return list(self.features)
        return dict(zip(self.features, self.values))


OVERALL_SLICE = SliceSelector()


@dataclasses.dataclass(frozen=True)
class MaxGap:
    """Bound on the largest difference of a metric between any two slices of a spec.

    Attributes:
      across: sorted feature names of the slicing spec.
      value: the largest allowed difference (>= 0).
    """

    across: Tuple[str, ...]
    value: float

    def __post_init__(self):
        if isinstance(self.across, str) or not isinstance(self.across, (list, tuple)):
            raise ConfigTypeError(f"'max_gap.across' must be a list of feature names "
                                  f"(got {self.across!r}, a {type_name(self.across)})")
        if not self.across:
            raise ConfigError("'max_gap.across' must name at least one feature; the overall "
                              "slice alone has no gap")
        across = SliceSelector(tuple(self.across), None).features
        value = number(self.value, "max_gap.value")
        if value < 0:
            raise ConfigError(f"'max_gap.value' must be >= 0 (got {value!r})")
        object.__setattr__(self, "across", across)
        object.__setattr__(self, "value", value)


@dataclasses.dataclass(frozen=True)
class MinRatio:
    """Bound on the smallest ratio of a metric between two slices of a spec: min / max of its
    values across the spec's slices (the 80% rule: value 0.8).

    Attributes:
      across: sorted feature names of the slicing spec.
      value: the smallest allowed ratio, in [0, 1].
    """

    across: Tuple[str, ...]
    value: float

    def __post_init__(self):
        if isinstance(self.across, str) or not isinstance(self.across, (list, tuple)):
            raise ConfigTypeError(f"'min_ratio.across' must be a list of feature names "
                                  f"(got {self.across!r}, a {type_name(self.across)})")
        if not self.across:
            raise ConfigError("'min_ratio.across' must name at least one feature; the overall "
                              "slice alone has no ratio")
        value = number(self.value, "min_ratio.value")
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"'min_ratio.value' must lie in [0, 1], e.g. 0.8 for the 80% rule "
                              f"(got {value!r})")
        object.__setattr__(self, "across", SliceSelector(tuple(self.across), None).features)
        object.__setattr__(self, "value", value)


_BOUND_KEYS = (("min", "min"), ("max", "max"),
               ("max_regression_absolute", "max_regression.absolute"),
               ("max_regression_relative", "max_regression.relative"))


@dataclasses.dataclass(frozen=True)
class Threshold:
    """Bounds on one metric, on some slices.

    Attributes:
      metric: metric name as in the records (e.g. "auc", "precision@0.3", "f1_macro").
      min, max: inclusive bounds on the model's value (the candidate's by default); for a
        cross-model metric (assay.metrics.cross_names), on its value between the model and
        the baseline.
      max_regression_absolute: largest allowed change against the baseline in the worse
        direction, model - baseline (negative: an improvement of at least that is required).
      max_regression_relative: the same, relative: (candidate - baseline) / |baseline|.
      max_gap: bound on the spread of the metric across the slices of a spec.
      slices: where min / max / max_regression apply (default: the overall slice).
      direction: "higher" or "lower" is better; filled in for built-in metrics. None on a
        change bound only with `undeclared_ok`, until `with_declared_directions` fills it in.
      undeclared_ok: allow a change bound on a metric of unknown direction for now (a custom
        metric may declare it); not part of the threshold's value.
      model: the model whose metric is bounded: "candidate" (the default), or another named
        model of the config (a benchmark); its change bounds are against the baseline too.

    Example:
        >>> Threshold("auc", min=0.7).bounds()
        [('min', 0.7)]
    """

    metric: str
    min: Optional[float] = None
    max: Optional[float] = None
    max_regression_absolute: Optional[float] = None
    max_regression_relative: Optional[float] = None
    max_gap: Optional[MaxGap] = None
    slices: Tuple[SliceSelector, ...] = (OVERALL_SLICE,)
    direction: Optional[str] = None
    undeclared_ok: bool = dataclasses.field(default=False, compare=False, repr=False)
    model: str = "candidate"
    min_ratio: Optional[MinRatio] = None  # the smallest min / max across a spec's slices

    def __post_init__(self):
        if not isinstance(self.metric, str) or not self.metric:
            raise ConfigTypeError(f"'metric' must be a non-empty string "
                                  f"(got {self.metric!r}, a {type_name(self.metric)})")
        for name, key in _BOUND_KEYS:
            if getattr(self, name) is not None:
                object.__setattr__(self, name, number(getattr(self, name), key))
        if self.max_gap is not None and not isinstance(self.max_gap, MaxGap):
            raise ConfigTypeError(f"'max_gap' must be a MaxGap (got {self.max_gap!r})")
        if self.min_ratio is not None and not isinstance(self.min_ratio, MinRatio):
            raise ConfigTypeError(f"'min_ratio' must be a MinRatio (got {self.min_ratio!r})")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ConfigError(f"{self.metric}: 'min' {self.min!r} is greater than 'max' "
                              f"{self.max!r}, so no value could pass")
        slices = tuple(self.slices)
        if not slices:
            raise ConfigError(f"{self.metric}: 'slices' is empty; leave it out for the overall "
                              f"slice, or write [[]] / [{{}}]")
        for s in slices:
            if not isinstance(s, SliceSelector):
                raise ConfigTypeError(f"'slices' entries must be SliceSelector (got {s!r})")
        object.__setattr__(self, "slices", tuple(dict.fromkeys(slices)))
        if not self.bounds() and self.max_gap is None and self.min_ratio is None:
            raise ConfigError(f"the threshold on {self.metric} has no bound; give at least one "
                              f"of min, max, max_regression, max_gap, min_ratio")
        self._check_model()
        object.__setattr__(self, "direction", self._resolved_direction())

    def _check_model(self) -> None:
        """The model exists as a name, and the bounds make sense for it and the metric."""
        try:
            check_model_name(self.model, ("candidate", "baseline"))
        except ConfigError as e:
            raise ConfigError(f"'model': {e}") from None
        if self.model == "baseline" and (self.has_change_bound or is_cross_name(self.metric)):
            raise ConfigError(f"{self.metric}: a threshold on model 'baseline' can only bound its "
                              f"value (min, max, max_gap): the baseline is what the others are "
                              f"compared with")
        if is_cross_name(self.metric):
            parse_cross_name(self.metric)
            if self.has_change_bound or self.max_gap is not None or self.min_ratio is not None:
                raise ConfigError(f"{self.metric} already compares the model with the baseline; "
                                  f"bound it with min / max (max_regression and max_gap do not "
                                  f"apply)")

    def _resolved_direction(self) -> Optional[str]:
        builtin, known = metric_info(self.metric)
        given = self.direction
        if given is not None:
            choice(given, DIRECTION_CHOICES, "direction")
            if known is not None and given != known:
                raise ConfigError(f"'direction' of {self.metric} is {known!r} for the built-in "
                                  f"metric (got {given!r}); leave 'direction' out")
            return given
        if known is None and self.has_change_bound and (builtin or not self.undeclared_ok):
            raise ConfigError(self.direction_needed())
        return known

    def direction_needed(self) -> str:
        """Why a change bound on this metric needs `direction:` (the error message)."""
        builtin = metric_info(self.metric)[0]
        why = ("has no better direction" if builtin
               else "is not a built-in metric, so its direction is unknown")
        return (f"a max_regression on {self.metric} needs 'direction: higher' or "
                f"'direction: lower': {self.metric} {why}")

    @property
    def has_change_bound(self) -> bool:
        return self.max_regression_absolute is not None or self.max_regression_relative is not None

    def bounds(self) -> List[Tuple[str, float]]:
        """[(check kind, bound)] of the per-slice bounds, in check order."""
        kinds = ("min", "max", "max_regression_absolute", "max_regression_relative")
        return [(k, getattr(self, k)) for k in kinds if getattr(self, k) is not None]

    def to_config(self) -> Dict[str, Any]:
        """The config mapping that `parse_thresholds` reads back to an equal Threshold."""
        out: Dict[str, Any] = {"metric": self.metric}
        if self.model != "candidate":
            out["model"] = self.model
        for key in ("min", "max"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        regression = {k: getattr(self, f"max_regression_{k}") for k in ("absolute", "relative")}
        regression = {k: v for k, v in regression.items() if v is not None}
        if regression:
            out["max_regression"] = regression
        if self.max_gap is not None:
            out["max_gap"] = {"across": list(self.max_gap.across), "value": self.max_gap.value}
        if self.min_ratio is not None:
            out["min_ratio"] = {"across": list(self.min_ratio.across),
                                "value": self.min_ratio.value}
        if self.slices != (OVERALL_SLICE,):
            out["slices"] = [s.to_config() for s in self.slices]
        if self.direction is not None and metric_info(self.metric)[1] is None:
            out["direction"] = self.direction
        return out


_THRESHOLD_KEYS = ("metric", "min", "max", "max_regression", "slices", "max_gap", "direction",
                   "model", "min_ratio")
_REGRESSION_KEYS = ("absolute", "relative")
_GAP_KEYS = ("across", "value")


def _regression_bounds(regression: Any) -> Dict[str, Any]:
    """max_regression_absolute / _relative from `max_regression: a` or `{absolute, relative}`."""
    if isinstance(regression, Mapping):
        check_keys(regression, _REGRESSION_KEYS, "max_regression")
        if not regression:
            raise ConfigError("'max_regression' must give 'absolute', 'relative' or both")
        return {"max_regression_absolute": regression.get("absolute"),
                "max_regression_relative": regression.get("relative")}
    if regression is None:
        return {}
    if not is_number(regression):
        raise ConfigTypeError(f"'max_regression' must be a number (absolute) or a mapping "
                              f"{{absolute: a, relative: r}} "
                              f"(got {regression!r}, a {type_name(regression)})")
    return {"max_regression_absolute": regression}


def _max_gap(gap: Any, key: str = "max_gap") -> Any:
    """MaxGap (or, key "min_ratio", MinRatio) from {across: [...], value: v}."""
    expect(gap, (Mapping,), "a mapping {across: [feature, ...], value: v}", key)
    check_keys(gap, _GAP_KEYS, key)
    for part in _GAP_KEYS:
        if part not in gap:
            raise ConfigError(f"'{key}' needs {part!r}")
    return (MaxGap if key == "max_gap" else MinRatio)(gap["across"], gap["value"])


def _parse_threshold(item: Any, undeclared_ok: bool) -> Threshold:
    if not isinstance(item, Mapping):
        raise ConfigTypeError(f"a threshold must be a mapping such as {{metric: auc, min: 0.7}} "
                              f"(got {item!r}, a {type_name(item)})")
    check_keys(item, _THRESHOLD_KEYS, "this threshold")
    if "metric" not in item:
        raise ConfigError(f"a threshold needs 'metric' (got keys {sorted(map(str, item))})")
    kw: Dict[str, Any] = {"metric": item["metric"], "min": item.get("min"),
                          "max": item.get("max"), "direction": item.get("direction"),
                          "undeclared_ok": undeclared_ok}
    if "model" in item:
        kw["model"] = expect(item["model"], (str,), "a model name such as previous", "model")
    kw.update(_regression_bounds(item.get("max_regression")))
    gap = item.get("max_gap")
    if gap is not None:
        kw["max_gap"] = _max_gap(gap)
    if item.get("min_ratio") is not None:
        kw["min_ratio"] = _max_gap(item["min_ratio"], "min_ratio")
        gap = gap if gap is not None else kw["min_ratio"]
    if "slices" in item:
        slices = item["slices"]
        if not isinstance(slices, (list, tuple)):
            raise ConfigTypeError(f"'slices' must be a list of slicing specs ([feature, ...]) or "
                                  f"slices ({{feature: value}}) (got {slices!r}, a "
                                  f"{type_name(slices)})")
        kw["slices"] = tuple(SliceSelector.parse(s) for s in slices)
        if gap is not None and all(item.get(k) is None for k in ("min", "max", "max_regression")):
            raise ConfigError("'slices' has no effect on a threshold whose only bound is "
                              "max_gap or min_ratio; they compare the slices of the spec in "
                              "'across'")
    return Threshold(**kw)


def parse_thresholds(items: Any, undeclared_ok: bool = False) -> Tuple[Threshold, ...]:
    """Thresholds from config (a list of mappings, see the module docstring). A threshold
    on a section of the result (discovered slices, drift, ...) is parsed by its own module
    into a SectionThreshold (assay.config.section_thresholds).

    Args:
      items: the `thresholds` list; None is no thresholds.
      undeclared_ok: let a change bound on a metric of unknown direction wait for a custom
        metric to declare it (see `with_declared_directions`); the config sets it when it names
        custom metrics.

    Raises:
      ConfigTypeError: a value of the wrong type, e.g. `'min' must be a number (got '0.7', a str)`.
      ConfigError: an unknown key (with the closest valid one), a threshold with no bound, a
        change bound on a metric whose direction is unknown.
    """
    if items is None:
        return ()
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, (list, tuple)):
        raise ConfigTypeError(f"'thresholds' must be a list of thresholds "
                              f"(got {items!r}, a {type_name(items)})")
    out = []
    for i, item in enumerate(items):
        metric = item.get("metric") if isinstance(item, Mapping) else None
        where = f"thresholds[{i}]" + (f" ({metric})" if isinstance(metric, str) else "")
        try:
            if section_kind(item) is not None:  # discovered, drift, ...: its own module
                out.append(parse_section_threshold(item))
            else:
                out.append(_parse_threshold(item, undeclared_ok))
        except ConfigError as e:  # ConfigTypeError too, and it stays one
            raise type(e)(f"{where}: {e}") from None
    return tuple(out)


__all__ = ["MaxGap", "MinRatio", "OVERALL_SLICE", "SliceSelector", "Threshold", "parse_thresholds"]
