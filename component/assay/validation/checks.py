"""Validation: from the metrics of each slice and the configured thresholds, decide whether the
candidate model may ship, and say why in words a person can act on.

Config (YAML or JSON; every key below is optional except `metric` and one bound per threshold):

    thresholds:
      - {metric: auc, min: 0.70, max_regression: 0.01}     # overall slice by default
      - {metric: log_loss, max_regression: {relative: 0.05}}
      - {metric: recall, slices: [[region]], min: 0.5}      # every slice of the spec [region]
      - {metric: auc, slices: [{region: north}], min: 0.65} # the one slice region=north
      - {metric: auc, max_gap: {across: [region], value: 0.05}}
      - {metric: my_score, direction: higher, max_regression: 0.02}  # custom metric
    on_no_thresholds: reject     # or bless
    first_model: bless           # or reject
    baseline_failure: fail       # or ignore
    force_bless: "INC-123: approved by on-call"   # optional override

Semantics (each is tested in tests/test_validation.py):
  - `min` / `max` bound the candidate's value, inclusive.
  - `max_regression` bounds the change against the baseline, measured in the metric's own
    direction: a drop for auc (higher is better), a rise for log_loss (lower is better). A number
    is absolute (candidate - baseline); `{relative: r}` is relative, (candidate - baseline) /
    |baseline|; `{absolute: a, relative: r}` requires both. A negative bound demands an
    improvement of at least that much. `metric_direction` gives the direction of built-in
    metrics; others need `direction: higher|lower`, and so do built-ins with no better direction
    (example_count, mean_label, mean_prediction, calibration, residual_p*).
  - Relative change against a zero baseline: 0 when the candidate is also 0 (passes a
    non-negative bound), otherwise infinite in the direction of the change, so it passes only
    when the change is an improvement.
  - Bounds are compared with a tolerance of 1e-9 * max(1, |bound|), so a drop printed as
    exactly the allowed 0.01 is not failed by floating-point rounding (0.79 - 0.80 is
    -0.010000000000000009), and verdicts do not flip with summation order.
  - `slices` entries: a list of feature names is every slice of that spec (withheld slices are
    skipped and said so; a spec with no slices, or only withheld ones, fails); a mapping of
    feature -> value is that one slice, which fails when it is missing or withheld. `[]` and
    `{}` are the overall slice, the default.
  - Slice values match when equal after normalising (bytes -> UTF-8 text, integral floats ->
    int); a number also matches a string that is the number written plainly: 3 matches "3" and
    0.5 matches "0.5", but not "03" or "3.0". Booleans match only booleans.
  - `max_gap: {across: [f...], value: v}`: the largest minus the smallest value of the metric
    over the slices of spec [f...] (candidate model, withheld slices left out) must be <= v;
    fewer than two slices with data is a failure, since there is no gap to bound.
  - No baseline (first model): change checks are skipped, value checks still apply; when every
    check is skipped, `first_model` decides (bless by default, like TFMA's rubber stamp).
  - `baseline_error` (the baseline could not be evaluated): change checks fail with that reason,
    unless `baseline_failure: ignore`, which judges the candidate as a first model.
  - A NaN value, a missing metric, slice or baseline value is a failure with its reason.
  - `force_bless: REASON` blesses whatever the checks say, records REASON and the outcome the
    checks gave, and still lists every check.

Differences from TFMA 0.47.1 (evaluators/metrics_validator.py), on purpose:
  - TFMA's `thresholds` apply to every slice; here a threshold without `slices` applies to the
    overall slice only (use `slices: [[f]]` for every slice of a spec).
  - TFMA divides the change by the signed baseline; here by |baseline|, so a negative baseline
    (r2 < 0) getting worse is a regression. TFMA fails a relative threshold on any zero
    baseline (ratio NaN); here see above.
  - TFMA compares without tolerance; here with the 1e-9 tolerance above.
  - TFMA's cross-slice thresholds bound (baseline slice - comparison slice) per pair; `max_gap`
    bounds the largest difference between any two slices.
  - TFMA's change threshold is signed: HIGHER_IS_BETTER passes when diff >= absolute, so
    `max_regression: a` is TFMA `absolute: -a` for higher-is-better and `absolute: a` for
    lower-is-better (likewise for relative).

Example:
    >>> ts = parse_thresholds([{"metric": "auc", "min": 0.7, "max_regression": 0.01}])
    >>> records = [
    ...     {"slice": {}, "model": "candidate", "metrics": {"auc": 0.80}},
    ...     {"slice": {}, "model": "baseline", "metrics": {"auc": 0.82}},
    ... ]
    >>> result = validate(records, ts, ValidationOptions(), has_baseline=True)
    >>> result.blessed, result.reasons
    (False, ['auc fell by 0.02 against the baseline (0.82 -> 0.8), more than the 0.01 allowed'])
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import json
import math
import os
import re
import tempfile
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

HIGHER = "higher"
LOWER = "lower"
BLESSED_FILE = "BLESSED"
NOT_BLESSED_FILE = "NOT_BLESSED"
FORMAT_VERSION = 1
_TOLERANCE = 1e-9

# --------------------------------------------------------------------------------------------
# Metric directions

_HIGHER_IS_BETTER = frozenset({"auc", "auc_pr", "accuracy", "precision", "recall", "f1",
                               "specificity", "r2", "tp", "tn"})
_LOWER_IS_BETTER = frozenset({"log_loss", "mse", "rmse", "mae", "mape", "false_positive_rate",
                              "fp", "fn"})
_NO_DIRECTION = frozenset({"example_count", "weighted_example_count", "mean_label",
                           "mean_prediction", "calibration"})
_AT_THRESHOLD = frozenset({"precision", "recall", "f1", "accuracy", "tp", "fp", "tn", "fn"})
_AVERAGED = frozenset({"precision", "recall", "f1", "auc"})
_PER_CLASS = frozenset({"precision", "recall", "f1", "auc"})
_TOP_K = re.compile(r"top_[1-9][0-9]*_accuracy")
_RESIDUAL = re.compile(r"residual_p[0-9]{1,2}")


def _builtin_direction(name: str) -> Tuple[bool, Optional[str]]:
    """(is a built-in metric name, its direction or None)."""
    def plain(base: str) -> Optional[str]:
        return HIGHER if base in _HIGHER_IS_BETTER else LOWER if base in _LOWER_IS_BETTER else None

    if name in _HIGHER_IS_BETTER or name in _LOWER_IS_BETTER:
        return True, plain(name)
    if name in _NO_DIRECTION or _RESIDUAL.fullmatch(name):
        return True, None
    if _TOP_K.fullmatch(name):
        return True, HIGHER
    base, at, threshold = name.partition("@")
    if at and base in _AT_THRESHOLD:
        try:
            float(threshold)
            return True, plain(base)
        except ValueError:
            return False, None
    base, slash, cls = name.partition("/")
    if slash and cls and base in _PER_CLASS:
        return True, plain(base)
    for suffix in ("_macro", "_micro", "_weighted"):
        if name.endswith(suffix) and name[:-len(suffix)] in _AVERAGED:
            return True, plain(name[:-len(suffix)])
    return False, None


def metric_direction(name: str) -> Optional[str]:
    """Whether a higher or a lower value of a built-in metric is better.

    Aware of `@threshold` (precision@0.3), `/class` (recall/cat) and averaging suffixes
    (f1_macro). None for metrics with no better direction (example_count, mean_label,
    mean_prediction, calibration, residual_p*) and for names that are not built in.

    Example:
        >>> metric_direction("auc"), metric_direction("fp@0.5"), metric_direction("mean_label")
        ('higher', 'lower', None)
    """
    return _builtin_direction(name)[1]


# --------------------------------------------------------------------------------------------
# Config: thresholds and options

def _type_name(value: Any) -> str:
    return type(value).__name__


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) or (
        hasattr(value, "dtype") and getattr(value, "ndim", 1) == 0
        and getattr(value.dtype, "kind", "") in "iuf")


def _number(value: Any, name: str) -> float:
    if not _is_number(value):
        raise TypeError(f"{name!r} must be a number (got {value!r}, a {_type_name(value)})")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name!r} must be a finite number (got {value!r})")
    return value


def _closest(key: Any, allowed: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(key), list(allowed), n=1, cutoff=0.5)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; valid keys: {', '.join(allowed)}"


def _check_keys(mapping: Mapping, allowed: Sequence[str], where: str) -> None:
    for key in mapping:
        if key not in allowed:
            raise ValueError(f"{where}unknown key {key!r}{_closest(key, allowed)}")


def _choice(value: Any, name: str, allowed: Sequence[str]) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name!r} must be one of {', '.join(allowed)} "
                        f"(got {value!r}, a {_type_name(value)})")
    if value not in allowed:
        close = difflib.get_close_matches(value, list(allowed), n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"{name!r} must be one of {', '.join(allowed)} (got {value!r}){hint}")
    return value


def _slice_value(value: Any, name: str) -> Any:
    """A slice value in canonical form: bytes -> str, integral float -> int, numpy -> Python."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{name!r} must be a finite number or a string (got {value!r})")
        if value.is_integer():
            value = int(value)
    if not isinstance(value, (str, int, float, bool)):
        raise TypeError(f"{name!r} must be a string, number or boolean "
                        f"(got {value!r}, a {_type_name(value)})")
    return value


def _number_text(value: Any) -> str:
    return str(value) if isinstance(value, int) else repr(value)


def _values_match(wanted: Any, seen: Any) -> bool:
    """Type-tolerant equality of canonical slice values (see the module docstring)."""
    if isinstance(wanted, bool) or isinstance(seen, bool):
        return isinstance(wanted, bool) and isinstance(seen, bool) and wanted == seen
    if isinstance(wanted, str) and isinstance(seen, str):
        return wanted == seen
    if isinstance(wanted, str):
        return wanted == _number_text(seen)
    if isinstance(seen, str):
        return seen == _number_text(wanted)
    return wanted == seen


def _slice_label(features: Sequence[str], values: Sequence[Any]) -> str:
    if not features:
        return "the overall slice"
    return "slice " + ", ".join(f"{f}={v}" for f, v in zip(features, values))


@dataclasses.dataclass(frozen=True)
class SliceSelector:
    """The slices a threshold applies to.

    Attributes:
      features: sorted feature names of the slicing spec; () is the overall slice.
      values: the values of one slice, aligned with `features`; None means every slice of the
        spec.

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
                raise TypeError(f"slice feature names must be non-empty strings (got {f!r})")
        if len(set(features)) != len(features):
            raise ValueError(f"slice features must not repeat (got {list(features)})")
        values = self.values
        if not features:
            values = ()
        if values is not None:
            values = tuple(values)
            if len(values) != len(features):
                raise ValueError(f"a slice needs one value per feature "
                                 f"(features {list(features)}, values {list(values)})")
            pairs = sorted(zip(features, (_slice_value(v, f) for f, v in zip(features, values))))
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
        raise TypeError(f"a 'slices' entry must be a list of feature names (every slice of that "
                        f"spec) or a mapping of feature to value (one slice) "
                        f"(got {item!r}, a {_type_name(item)})")

    @property
    def every_slice(self) -> bool:
        return self.values is None and bool(self.features)

    @property
    def label(self) -> str:
        if self.values is None:
            return f"every slice of [{', '.join(self.features)}]"
        return _slice_label(self.features, self.values)

    def to_config(self) -> Any:
        if self.values is None:
            return list(self.features)
        return dict(zip(self.features, self.values))


OVERALL = SliceSelector()


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
            raise TypeError(f"'max_gap.across' must be a list of feature names "
                            f"(got {self.across!r}, a {_type_name(self.across)})")
        if not self.across:
            raise ValueError("'max_gap.across' must name at least one feature; the overall "
                             "slice alone has no gap")
        across = SliceSelector(tuple(self.across), None).features
        value = _number(self.value, "max_gap.value")
        if value < 0:
            raise ValueError(f"'max_gap.value' must be >= 0 (got {value!r})")
        object.__setattr__(self, "across", across)
        object.__setattr__(self, "value", value)


@dataclasses.dataclass(frozen=True)
class Threshold:
    """Bounds on one metric, on some slices.

    Attributes:
      metric: metric name as in the records (e.g. "auc", "precision@0.3", "f1_macro").
      min, max: inclusive bounds on the candidate's value.
      max_regression_absolute: largest allowed change against the baseline in the worse
        direction, candidate - baseline (negative: an improvement of at least that is required).
      max_regression_relative: the same, relative: (candidate - baseline) / |baseline|.
      max_gap: bound on the spread of the metric across the slices of a spec.
      slices: where min / max / max_regression apply (default: the overall slice).
      direction: "higher" or "lower" is better; filled in from `metric_direction` for built-ins,
        required for change bounds on other metrics.

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
    slices: Tuple[SliceSelector, ...] = (OVERALL,)
    direction: Optional[str] = None

    def __post_init__(self):
        if not isinstance(self.metric, str) or not self.metric:
            raise TypeError(f"'metric' must be a non-empty string "
                            f"(got {self.metric!r}, a {_type_name(self.metric)})")
        for name, key in (("min", "min"), ("max", "max"),
                          ("max_regression_absolute", "max_regression.absolute"),
                          ("max_regression_relative", "max_regression.relative")):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _number(value, key))
        if self.max_gap is not None and not isinstance(self.max_gap, MaxGap):
            raise TypeError(f"'max_gap' must be a MaxGap (got {self.max_gap!r})")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"{self.metric}: 'min' {self.min!r} is greater than 'max' "
                             f"{self.max!r}, so no value could pass")
        slices = tuple(self.slices)
        if not slices:
            raise ValueError(f"{self.metric}: 'slices' is empty; leave it out for the overall "
                             f"slice, or write [[]] / [{{}}]")
        for s in slices:
            if not isinstance(s, SliceSelector):
                raise TypeError(f"'slices' entries must be SliceSelector (got {s!r})")
        object.__setattr__(self, "slices", tuple(dict.fromkeys(slices)))
        if not self.bounds() and self.max_gap is None:
            raise ValueError(f"the threshold on {self.metric} has no bound; give at least one of "
                             f"min, max, max_regression, max_gap")
        object.__setattr__(self, "direction", self._resolved_direction())

    def _resolved_direction(self) -> Optional[str]:
        builtin, known = _builtin_direction(self.metric)
        given = self.direction
        if given is not None:
            _choice(given, "direction", (HIGHER, LOWER))
            if known is not None and given != known:
                raise ValueError(f"'direction' of {self.metric} is {known!r} for the built-in "
                                 f"metric (got {given!r}); leave 'direction' out")
            return given
        if known is None and self.has_change_bound:
            why = ("has no better direction" if builtin
                   else "is not a built-in metric, so its direction is unknown")
            raise ValueError(f"a max_regression on {self.metric} needs 'direction: higher' or "
                             f"'direction: lower': {self.metric} {why}")
        return known

    @property
    def has_change_bound(self) -> bool:
        return self.max_regression_absolute is not None or self.max_regression_relative is not None

    @property
    def change_only(self) -> bool:
        """True when every bound compares against the baseline."""
        return self.min is None and self.max is None and self.max_gap is None

    def bounds(self) -> List[Tuple[str, float]]:
        """[(check kind, bound)] of the per-slice bounds, in check order."""
        kinds = ("min", "max", "max_regression_absolute", "max_regression_relative")
        return [(k, getattr(self, k)) for k in kinds if getattr(self, k) is not None]

    def to_config(self) -> Dict[str, Any]:
        """The config mapping that `parse_thresholds` reads back to an equal Threshold."""
        out: Dict[str, Any] = {"metric": self.metric}
        for key in ("min", "max"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        regression = {k: getattr(self, f"max_regression_{k}") for k in ("absolute", "relative")}
        regression = {k: v for k, v in regression.items() if v is not None}
        if regression:
            out["max_regression"] = regression
        if self.max_gap is not None:
            out["max_gap"] = {"across": list(self.max_gap.across), "value": self.max_gap.value}
        if self.slices != (OVERALL,):
            out["slices"] = [s.to_config() for s in self.slices]
        if self.direction is not None and metric_direction(self.metric) is None:
            out["direction"] = self.direction
        return out


_THRESHOLD_KEYS = ("metric", "min", "max", "max_regression", "slices", "max_gap", "direction")
_REGRESSION_KEYS = ("absolute", "relative")
_GAP_KEYS = ("across", "value")


def _parse_threshold(item: Any) -> Threshold:
    if not isinstance(item, Mapping):
        raise TypeError(f"a threshold must be a mapping such as {{metric: auc, min: 0.7}} "
                        f"(got {item!r}, a {_type_name(item)})")
    _check_keys(item, _THRESHOLD_KEYS, "")
    if "metric" not in item:
        raise ValueError(f"a threshold needs 'metric' (got keys {sorted(map(str, item))})")
    kw: Dict[str, Any] = {"metric": item["metric"], "min": item.get("min"),
                          "max": item.get("max"), "direction": item.get("direction")}
    regression = item.get("max_regression")
    if isinstance(regression, Mapping):
        _check_keys(regression, _REGRESSION_KEYS, "'max_regression': ")
        if not regression:
            raise ValueError("'max_regression' must give 'absolute', 'relative' or both")
        kw["max_regression_absolute"] = regression.get("absolute")
        kw["max_regression_relative"] = regression.get("relative")
    elif regression is not None:
        if not _is_number(regression):
            raise TypeError(f"'max_regression' must be a number (absolute) or a mapping "
                            f"{{absolute: a, relative: r}} "
                            f"(got {regression!r}, a {_type_name(regression)})")
        kw["max_regression_absolute"] = regression
    gap = item.get("max_gap")
    if gap is not None:
        if not isinstance(gap, Mapping):
            raise TypeError(f"'max_gap' must be a mapping {{across: [feature, ...], value: v}} "
                            f"(got {gap!r}, a {_type_name(gap)})")
        _check_keys(gap, _GAP_KEYS, "'max_gap': ")
        for key in _GAP_KEYS:
            if key not in gap:
                raise ValueError(f"'max_gap' needs {key!r}")
        kw["max_gap"] = MaxGap(gap["across"], gap["value"])
    if "slices" in item:
        slices = item["slices"]
        if not isinstance(slices, (list, tuple)):
            raise TypeError(f"'slices' must be a list of slicing specs ([feature, ...]) or "
                            f"slices ({{feature: value}}) (got {slices!r}, a {_type_name(slices)})")
        kw["slices"] = tuple(SliceSelector.parse(s) for s in slices)
        if gap is not None and all(item.get(k) is None for k in ("min", "max", "max_regression")):
            raise ValueError("'slices' has no effect on a threshold whose only bound is max_gap; "
                             "max_gap compares the slices of the spec in 'across'")
    return Threshold(**kw)


def parse_thresholds(items: Any) -> Tuple[Threshold, ...]:
    """Thresholds from config (a list of mappings, see the module docstring).

    Raises:
      TypeError: a value of the wrong type, e.g. `'min' must be a number (got '0.7', a str)`.
      ValueError: an unknown key (with the closest valid one), a threshold with no bound, a
        change bound on a metric whose direction is unknown.

    Example:
        >>> t, = parse_thresholds([{"metric": "log_loss", "max_regression": {"relative": 0.05}}])
        >>> t.max_regression_relative, t.direction, t.slices == (OVERALL,)
        (0.05, 'lower', True)
    """
    if items is None:
        return ()
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, (list, tuple)):
        raise TypeError(f"'thresholds' must be a list of thresholds "
                        f"(got {items!r}, a {_type_name(items)})")
    out = []
    for i, item in enumerate(items):
        metric = item.get("metric") if isinstance(item, Mapping) else None
        where = f"thresholds[{i}]" + (f" ({metric})" if isinstance(metric, str) else "")
        try:
            out.append(_parse_threshold(item))
        except (TypeError, ValueError) as e:
            raise type(e)(f"{where}: {e}") from None
    return tuple(out)


@dataclasses.dataclass(frozen=True)
class ValidationOptions:
    """What to decide when the thresholds cannot decide.

    Attributes:
      on_no_thresholds: "reject" (default) or "bless" when no threshold is configured.
      first_model: "bless" (default) or "reject" a model with no baseline whose thresholds all
        compare against the baseline (value thresholds still apply to a first model).
      force_bless: a reason; when given the model is blessed whatever the checks say.
      baseline_failure: "fail" (default): a baseline that could not be evaluated fails the
        change checks; "ignore": judge the candidate as a first model.
    """

    on_no_thresholds: str = "reject"
    first_model: str = "bless"
    force_bless: Optional[str] = None
    baseline_failure: str = "fail"

    def __post_init__(self):
        _choice(self.on_no_thresholds, "on_no_thresholds", ("reject", "bless"))
        _choice(self.first_model, "first_model", ("bless", "reject"))
        _choice(self.baseline_failure, "baseline_failure", ("fail", "ignore"))
        if self.force_bless is not None:
            if not isinstance(self.force_bless, str):
                raise TypeError(f"'force_bless' must be a string giving the reason "
                                f"(got {self.force_bless!r}, a {_type_name(self.force_bless)})")
            if not self.force_bless.strip():
                raise ValueError("'force_bless' needs a reason, e.g. "
                                 "force_bless: 'INC-123: approved by on-call'")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "ValidationOptions":
        """From the option keys of a validation config (other keys are not read here)."""
        fields = [f.name for f in dataclasses.fields(cls)]
        return cls(**{k: config[k] for k in fields if config.get(k) is not None})


def parse_validation(config: Mapping[str, Any]) -> Tuple[Tuple[Threshold, ...], ValidationOptions]:
    """Thresholds and options from a validation config: thresholds, on_no_thresholds, ...

    Example:
        >>> ts, opts = parse_validation({"thresholds": [{"metric": "auc", "min": 0.7}],
        ...                              "first_model": "reject"})
        >>> len(ts), opts.first_model
        (1, 'reject')
    """
    allowed = ("thresholds",) + tuple(f.name for f in dataclasses.fields(ValidationOptions))
    _check_keys(config, allowed, "validation config: ")
    return parse_thresholds(config.get("thresholds")), ValidationOptions.from_config(config)


# --------------------------------------------------------------------------------------------
# Results

class Outcome(str, enum.Enum):
    """Why the verdict is what it is."""

    BLESSED = "BLESSED"                                  # checks ran and all passed
    NOT_BLESSED = "NOT_BLESSED"                          # a check failed
    NO_THRESHOLDS_BLESSED = "NO_THRESHOLDS_BLESSED"      # none configured, on_no_thresholds=bless
    NO_THRESHOLDS_NOT_BLESSED = "NO_THRESHOLDS_NOT_BLESSED"
    FIRST_MODEL_BLESSED = "FIRST_MODEL_BLESSED"          # no baseline, only change thresholds
    FIRST_MODEL_NOT_BLESSED = "FIRST_MODEL_NOT_BLESSED"
    FORCED_BLESSED = "FORCED_BLESSED"                    # force_bless


PASS, FAIL, SKIPPED = "pass", "fail", "skipped"


@dataclasses.dataclass(frozen=True)
class Check:
    """One bound checked on one slice (or, for max_gap, across one spec).

    Attributes:
      metric, kind: the metric and the bound: min, max, max_regression_absolute,
        max_regression_relative or max_gap.
      slice: {feature: value} of the slice checked; {} for the overall slice and for checks
        about a whole spec.
      spec: the spec's features for checks about a whole spec (max_gap, or a spec with no slice
        to check); None otherwise.
      threshold: the bound.
      status: "pass", "fail" or "skipped".
      reason: what was found, in words.
      candidate, baseline: the values compared (None when missing); for max_gap, candidate is
        the gap.
      change: in the unit of the kind: candidate - baseline for min / max /
        max_regression_absolute, (candidate - baseline) / |baseline| for
        max_regression_relative, the gap for max_gap.
    """

    metric: str
    kind: str
    slice: Dict[str, Any]
    threshold: float
    status: str
    reason: str
    candidate: Optional[float] = None
    baseline: Optional[float] = None
    change: Optional[float] = None
    spec: Optional[Tuple[str, ...]] = None

    def to_dict(self) -> Dict[str, Any]:
        out = dataclasses.asdict(self)
        out["spec"] = None if self.spec is None else list(self.spec)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Check":
        d = dict(d)
        d["spec"] = None if d.get("spec") is None else tuple(d["spec"])
        return cls(**d)


@dataclasses.dataclass(frozen=True)
class ValidationResult:
    """The verdict, every check and the reasons.

    Attributes:
      blessed: whether the candidate may ship.
      outcome: an Outcome code.
      reasons: the failed checks' reasons, or why the outcome was reached.
      checks: every check, in threshold order.
      forced: the force_bless reason when the verdict was forced.
      unforced_outcome: the outcome the checks gave, when forced.
    """

    blessed: bool
    outcome: Outcome
    reasons: List[str]
    checks: List[Check]
    forced: Optional[str] = None
    unforced_outcome: Optional[Outcome] = None

    def to_dict(self) -> Dict[str, Any]:
        return {"version": FORMAT_VERSION, "blessed": self.blessed, "outcome": self.outcome.value,
                "reasons": list(self.reasons), "forced": self.forced,
                "unforced_outcome": self.unforced_outcome and self.unforced_outcome.value,
                "checks": [c.to_dict() for c in self.checks]}

    def to_json(self) -> str:
        """JSON text; NaN and infinities are written as JSON's NaN / Infinity (as results.py)."""
        return json.dumps(self.to_dict(), indent=1, allow_nan=True)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ValidationResult":
        unforced = d.get("unforced_outcome")
        return cls(blessed=bool(d["blessed"]), outcome=Outcome(d["outcome"]),
                   reasons=list(d["reasons"]), checks=[Check.from_dict(c) for c in d["checks"]],
                   forced=d.get("forced"), unforced_outcome=unforced and Outcome(unforced))

    @classmethod
    def from_json(cls, text: str) -> "ValidationResult":
        return cls.from_dict(json.loads(text))


# --------------------------------------------------------------------------------------------
# Reading the records

_Key = Tuple[Tuple[str, str, Any], ...]   # ((feature, type tag, value), ...), sorted by feature


class _Slice:
    """One slice's record of one model."""

    def __init__(self, features: Tuple[str, ...], values: Tuple[Any, ...], record: Mapping):
        self.features, self.values, self.record = features, values, record
        self.label = _slice_label(features, values)
        # The type tag keeps True apart from 1, and "3" apart from 3, as dict keys.
        self.key: _Key = tuple((f, _type_tag(v), v) for f, v in zip(features, values))

    @property
    def as_dict(self) -> Dict[str, Any]:
        return dict(zip(self.features, self.values))


def _type_tag(value: Any) -> str:
    return "bool" if isinstance(value, bool) else "str" if isinstance(value, str) else "num"


def _record_slice_value(value: Any) -> Any:
    try:
        return _slice_value(value, "")
    except (TypeError, ValueError):    # e.g. NaN: kept as text, so the verdict is still given
        return str(value)


def _index_records(records: Sequence[Mapping]) -> Dict[str, Dict[Tuple[str, ...], Dict]]:
    """{model: {spec features: {key: _Slice}}}."""
    index: Dict[str, Dict[Tuple[str, ...], Dict[_Key, _Slice]]] = {}
    for i, r in enumerate(records):
        if not isinstance(r, Mapping) or not isinstance(r.get("slice"), Mapping) \
                or not isinstance(r.get("model"), str) or ("metrics" in r) == ("withheld" in r):
            raise ValueError(f"records[{i}] must be {{slice: {{...}}, model: str, and metrics: "
                             f"{{...}} or withheld: reason}} (got {r!r})")
        pairs = sorted((str(f), _record_slice_value(v)) for f, v in r["slice"].items())
        s = _Slice(tuple(p[0] for p in pairs), tuple(p[1] for p in pairs), r)
        by_key = index.setdefault(r["model"], {}).setdefault(s.features, {})
        if s.key in by_key:
            raise ValueError(f"records[{i}]: a second record for {s.label}, model {r['model']}")
        by_key[s.key] = s
    return index


def _sort_key(s: _Slice) -> Tuple:
    return tuple((0, v, "") if isinstance(v, (int, float)) and not isinstance(v, bool)
                 else (1, 0, str(v)) for v in s.values)


def _metric_value(metrics: Mapping[str, Any], name: str) -> Optional[float]:
    """The metric as float (None -> NaN); raises KeyError when absent, TypeError if not a number."""
    value = metrics[name]
    if value is None:
        return math.nan
    if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
        return float(value)
    if not _is_number(value):
        raise TypeError(f"{value!r}")
    return float(value)


# --------------------------------------------------------------------------------------------
# Formatting numbers for reasons

def _fmt(x: float, digits: int = 4) -> str:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.{digits}g}"


def _fmt_pair(x: float, bound: float, digits: int = 4) -> Tuple[str, str]:
    """x and bound with enough digits that numbers judged different do not print the same."""
    same = abs(x - bound) <= _TOLERANCE * max(1.0, abs(bound))
    for digits in range(digits, 18):
        a, b = _fmt(x, digits), _fmt(bound, digits)
        if a != b or same:
            return a, b
    return _fmt(x, 17), _fmt(bound, 17)


def _pct_pair(x: float, bound: float) -> Tuple[str, str]:
    a, b = _fmt_pair(x * 100, bound * 100, digits=3)
    return a + "%", b + "%"


def _at_most(x: float, bound: float) -> bool:
    return x <= bound + _TOLERANCE * max(1.0, abs(bound))


def _at_least(x: float, bound: float) -> bool:
    return x >= bound - _TOLERANCE * max(1.0, abs(bound))


# --------------------------------------------------------------------------------------------
# Checks

class _Context:
    def __init__(self, records, has_baseline, baseline_error, options):
        self.index = _index_records(records)
        self.baseline_error = baseline_error
        ignore = baseline_error is not None and options.baseline_failure == "ignore"
        self.baseline_available = has_baseline and baseline_error is None
        if ignore:
            self.no_baseline_note = (f"the baseline model could not be evaluated "
                                     f"({baseline_error}); baseline_failure is ignore, so the "
                                     f"change against the baseline is not checked")
        else:
            self.no_baseline_note = ("there is no baseline model (first model), so the change "
                                     "against the baseline is not checked")
        self.baseline_failed = baseline_error is not None and not ignore

    def slices(self, model: str, features: Tuple[str, ...]) -> List[_Slice]:
        return sorted(self.index.get(model, {}).get(features, {}).values(), key=_sort_key)

    def baseline_of(self, s: _Slice) -> Optional[_Slice]:
        return self.index.get("baseline", {}).get(s.features, {}).get(s.key)


def _withheld(record: Mapping[str, Any]) -> str:
    """The record's withheld reason without a leading 'withheld:', which the caller says."""
    why = str(record["withheld"])
    return why[len("withheld:"):].strip() if why.lower().startswith("withheld:") else why


def _subject(metric: str, s: _Slice) -> str:
    return metric if not s.features else f"{metric} on {s.label}"


def _available(metrics: Mapping[str, Any]) -> str:
    return ", ".join(sorted(metrics)) or "none"


def _lookup(metric: str, s: _Slice, whose: str) -> Tuple[Optional[float], Optional[str]]:
    """(value, None) or (None, why it cannot be used)."""
    record = s.record
    if "withheld" in record:
        return None, (f"{s.label} was withheld ({_withheld(record)}), so {metric} cannot be "
                      f"checked there")
    metrics = record["metrics"]
    try:
        value = _metric_value(metrics, metric)
    except KeyError:
        close = difflib.get_close_matches(metric, list(metrics), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return None, (f"{whose}{metric} is not among the metrics of {s.label} (it has: "
                      f"{_available(metrics)}){hint}")
    except TypeError:
        return None, f"{whose}{metric} on {s.label} is not a number (got {metrics[metric]!r})"
    return value, None


def _value_check(t: Threshold, kind: str, bound: float, s: _Slice, value: float,
                 baseline: Optional[float]) -> Check:
    subject = _subject(t.metric, s)
    change = None if baseline is None else value - baseline
    if math.isnan(value):
        reason = (f"{subject} is NaN (it could not be computed), so the "
                  f"{'minimum' if kind == 'min' else 'maximum'} {_fmt(bound)} cannot be confirmed")
        return Check(t.metric, kind, s.as_dict, bound, FAIL, reason, value, baseline, change)
    v, b = _fmt_pair(value, bound)
    if kind == "min":
        ok = _at_least(value, bound)
        reason = f"{subject} is {v}, {'at or above' if ok else 'below'} the minimum {b}"
    else:
        ok = _at_most(value, bound)
        reason = f"{subject} is {v}, {'at or below' if ok else 'above'} the maximum {b}"
    return Check(t.metric, kind, s.as_dict, bound, PASS if ok else FAIL, reason, value,
                 baseline, change)


def _change_check(t: Threshold, kind: str, bound: float, s: _Slice, value: float,
                  baseline: float) -> Check:
    subject = _subject(t.metric, s)
    relative = kind == "max_regression_relative"
    change = value - baseline
    if relative:
        change = (0.0 if change == 0 else math.copysign(math.inf, change) if baseline == 0
                  else change / abs(baseline))
    both = f"({_fmt(baseline)} -> {_fmt(value)})"
    if math.isnan(value) or math.isnan(baseline) or math.isnan(change):
        what = ("the candidate's value is NaN" if math.isnan(value)
                else "the baseline's value is NaN" if math.isnan(baseline)
                else "the change is undefined")
        reason = (f"{subject}: {what} {both}, so the change against the baseline cannot be "
                  f"checked")
        return Check(t.metric, kind, s.as_dict, bound, FAIL, reason, value, baseline, change)
    regression = change if t.direction == LOWER else -change
    ok = _at_most(regression, bound)
    amount, allowed = (_pct_pair if relative else _fmt_pair)(abs(change), abs(bound))
    verb = "rose" if change > 0 else "fell"
    if change == 0:
        said = f"{subject} is unchanged against the baseline ({_fmt(baseline)})"
    elif relative and math.isinf(change):
        said = (f"{subject} {verb} from a baseline of 0 to {_fmt(value)}, an infinite relative "
                f"change")
    else:
        said = f"{subject} {verb} {'' if relative else 'by '}{amount} against the baseline {both}"
    if bound >= 0:
        if not ok:
            tail = f", more than the {allowed} allowed"
        elif regression > 0:
            tail = f", within the {allowed} allowed"
        else:
            tail = ", an improvement" if regression < 0 else ""
    else:
        tail = (f", {'meeting' if ok else 'short of'} the required improvement of "
                f"{'at least ' if ok else ''}{allowed}")
    return Check(t.metric, kind, s.as_dict, bound, PASS if ok else FAIL, said + tail, value,
                 baseline, change)


def _checks_on_slice(t: Threshold, s: _Slice, ctx: _Context) -> List[Check]:
    value, problem = _lookup(t.metric, s, "")
    baseline, baseline_problem = None, None
    if ctx.baseline_available:
        base_slice = ctx.baseline_of(s)
        if base_slice is None:
            baseline_problem = f"the baseline has no results for {s.label}"
        else:
            baseline, baseline_problem = _lookup(t.metric, base_slice, "the baseline's ")
    checks = []
    for kind, bound in t.bounds():
        is_change = kind.startswith("max_regression")
        if problem is not None:
            checks.append(Check(t.metric, kind, s.as_dict, bound, FAIL, problem))
        elif not is_change:
            checks.append(_value_check(t, kind, bound, s, value, baseline))
        elif ctx.baseline_failed:
            reason = (f"the baseline model could not be evaluated ({ctx.baseline_error}), so the "
                      f"change in {_subject(t.metric, s)} cannot be checked; fix the baseline, "
                      f"or set baseline_failure: ignore to judge this model as a first model")
            checks.append(Check(t.metric, kind, s.as_dict, bound, FAIL, reason, value))
        elif not ctx.baseline_available:
            checks.append(Check(t.metric, kind, s.as_dict, bound, SKIPPED,
                                f"{_subject(t.metric, s)}: {ctx.no_baseline_note}", value))
        elif baseline_problem is not None:
            checks.append(Check(t.metric, kind, s.as_dict, bound, FAIL, baseline_problem, value))
        else:
            checks.append(_change_check(t, kind, bound, s, value, baseline))
    return checks


def _spec_failure(t: Threshold, features: Tuple[str, ...], reason: str) -> List[Check]:
    return [Check(t.metric, kind, {}, bound, FAIL, reason, spec=features)
            for kind, bound in t.bounds()]


def _no_slice_reason(features: Sequence[str]) -> str:
    return (f"no slice of [{', '.join(features)}] is in the results; is [{', '.join(features)}] "
            f"among the slicing specs, and does the data have these features?")


def _checks_on_selector(t: Threshold, sel: SliceSelector, ctx: _Context) -> List[Check]:
    candidates = ctx.slices("candidate", sel.features)
    if sel.values is not None:
        matches = [s for s in candidates
                   if all(_values_match(w, v) for w, v in zip(sel.values, s.values))]
        if not matches:
            values = ", ".join(f"{f}={v}" for f, v in zip(sel.features, sel.values))
            where = (f"no example has {values}, or [{', '.join(sel.features)}] is not among the "
                     f"slicing specs" if sel.features else "there are no candidate results")
            reason = f"{t.metric}: {sel.label} is not in the results ({where})"
            return [Check(t.metric, kind, dict(zip(sel.features, sel.values)), bound, FAIL,
                          reason) for kind, bound in t.bounds()]
        return [c for s in matches for c in _checks_on_slice(t, s, ctx)]
    if not candidates:
        return _spec_failure(t, sel.features, f"{t.metric}: {_no_slice_reason(sel.features)}")
    with_data = [s for s in candidates if "withheld" not in s.record]
    if not with_data:
        return _spec_failure(t, sel.features, (
            f"{t.metric}: every slice of [{', '.join(sel.features)}] was withheld "
            f"({len(candidates)} slices, e.g. {candidates[0].label}: "
            f"{_withheld(candidates[0].record)}), so none could be checked"))
    checks = []
    for s in candidates:
        if s in with_data:
            checks.extend(_checks_on_slice(t, s, ctx))
        else:
            reason = f"{s.label} was withheld ({_withheld(s.record)}); not checked"
            checks.extend(Check(t.metric, kind, s.as_dict, bound, SKIPPED, reason)
                          for kind, bound in t.bounds())
    return checks


def _gap_check(t: Threshold, ctx: _Context) -> Check:
    gap = t.max_gap
    spec = f"[{', '.join(gap.across)}]"

    def fail(reason: str, value: Optional[float] = None) -> Check:
        return Check(t.metric, "max_gap", {}, gap.value, FAIL, reason, value, spec=gap.across)

    slices = ctx.slices("candidate", gap.across)
    if not slices:
        return fail(f"{t.metric} max_gap: {_no_slice_reason(gap.across)}")
    with_data = [s for s in slices if "withheld" not in s.record]
    values = []
    for s in with_data:
        value, problem = _lookup(t.metric, s, "")
        if problem is not None:
            return fail(f"{problem}, so the gap across {spec} cannot be measured")
        if math.isnan(value):
            return fail(f"{t.metric} on {s.label} is NaN (it could not be computed), so the gap "
                        f"across {spec} cannot be measured")
        values.append((value, s))
    withheld = len(slices) - len(with_data)
    note = f" ({withheld} withheld slice{'s' * (withheld != 1)} left out)" if withheld else ""
    if len(values) < 2:
        found = f" ({values[0][1].label})" if values else ""
        return fail(f"{t.metric} max_gap across {spec} needs at least two slices with data; "
                    f"found {len(values)}{found}{note}")
    low, low_s = min(values, key=lambda p: p[0])
    high, high_s = max(values, key=lambda p: p[0])
    spread = high - low
    ok = _at_most(spread, gap.value)
    amount, allowed = _fmt_pair(spread, gap.value)
    reason = (f"{t.metric} varies by {amount} across {spec} (lowest {_fmt(low)} on "
              f"{low_s.label}, highest {_fmt(high)} on {high_s.label}), "
              f"{'within' if ok else 'more than'} the {allowed} allowed{note}")
    return Check(t.metric, "max_gap", {}, gap.value, PASS if ok else FAIL, reason, spread,
                 change=spread, spec=gap.across)


def _checks_for(t: Threshold, ctx: _Context) -> List[Check]:
    checks: List[Check] = []
    if t.bounds():
        seen = set()
        for sel in t.slices:
            for c in _checks_on_selector(t, sel, ctx):
                key = (c.kind, tuple(sorted(c.slice.items())), c.spec)
                if key not in seen:
                    seen.add(key)
                    checks.append(c)
    if t.max_gap is not None:
        checks.append(_gap_check(t, ctx))
    return checks


def _verdict(thresholds: Sequence[Threshold], checks: List[Check], ctx: _Context,
             options: ValidationOptions) -> Tuple[bool, Outcome, List[str]]:
    if not thresholds:
        if options.on_no_thresholds == "bless":
            return True, Outcome.NO_THRESHOLDS_BLESSED, [
                "no thresholds are configured; blessed because on_no_thresholds is bless"]
        return False, Outcome.NO_THRESHOLDS_NOT_BLESSED, [
            "no thresholds are configured, so nothing shows that the model may ship; add "
            "thresholds, or set on_no_thresholds: bless to bless without checks"]
    failed = [c.reason for c in checks if c.status == FAIL]
    if failed:
        return False, Outcome.NOT_BLESSED, list(dict.fromkeys(failed))
    skipped = [c for c in checks if c.status == SKIPPED]
    passed = len(checks) - len(skipped)
    if passed:
        reasons = [f"all {passed} checks passed" if passed > 1 else "the 1 check passed"]
        if skipped:
            reasons.append(f"{len(skipped)} skipped: " + "; ".join(
                dict.fromkeys(c.reason for c in skipped)))
        return True, Outcome.BLESSED, reasons
    if not ctx.baseline_available:
        why = ctx.no_baseline_note
        if options.first_model == "bless":
            return True, Outcome.FIRST_MODEL_BLESSED, [
                f"first model: every threshold compares against a baseline and {why}; blessed "
                f"because first_model is bless"]
        return False, Outcome.FIRST_MODEL_NOT_BLESSED, [
            f"first model: every threshold compares against a baseline and {why}; not blessed "
            f"because first_model is reject"]
    return False, Outcome.NOT_BLESSED, ["no check could be made: " + "; ".join(
        dict.fromkeys(c.reason for c in skipped))]


def validate(records: Sequence[Mapping[str, Any]], thresholds: Sequence[Threshold],
             options: Optional[ValidationOptions], has_baseline: bool,
             baseline_error: Optional[str] = None) -> ValidationResult:
    """Checks every threshold against the metrics records and decides the blessing.

    Args:
      records: metrics records, one per (slice, model): {"slice": {feature: value}, "model":
        "candidate" | "baseline" | "diff", "metrics": {name: value}} or, for a slice below
        min_slice_size, "withheld": reason instead of "metrics". "diff" records are not read;
        changes are computed from the candidate and baseline records.
      thresholds: from `parse_thresholds`.
      options: ValidationOptions; the defaults when None.
      has_baseline: whether a baseline model was evaluated (required: defaulting it to False
        would quietly skip every change check).
      baseline_error: why the baseline model could not be evaluated, if it could not.

    Returns:
      ValidationResult; never raises for missing data, which becomes a failed check.

    Example:
        >>> ts = parse_thresholds([{"metric": "auc", "slices": [{"region": "north"}], "min": 0.65}])
        >>> recs = [{"slice": {"region": "north"}, "model": "candidate", "metrics": {"auc": 0.612}}]
        >>> validate(recs, ts, ValidationOptions(), has_baseline=False).reasons
        ['auc on slice region=north is 0.612, below the minimum 0.65']
    """
    options = options or ValidationOptions()
    for t in thresholds:
        if not isinstance(t, Threshold):
            raise TypeError(f"thresholds must be Threshold objects; build them with "
                            f"parse_thresholds (got {t!r}, a {_type_name(t)})")
    ctx = _Context(records, has_baseline, baseline_error, options)
    checks = [c for t in thresholds for c in _checks_for(t, ctx)]
    blessed, outcome, reasons = _verdict(thresholds, checks, ctx, options)
    if options.force_bless is not None:
        overridden = [] if blessed else [f"overridden: {r}" for r in reasons]
        return ValidationResult(True, Outcome.FORCED_BLESSED,
                                [f"blessed by force_bless: {options.force_bless}"] + overridden,
                                checks, forced=options.force_bless, unforced_outcome=outcome)
    return ValidationResult(blessed, outcome, reasons, checks)


# --------------------------------------------------------------------------------------------
# The blessing

def write_blessing(directory: str, result: ValidationResult) -> str:
    """Writes an empty BLESSED or NOT_BLESSED file into `directory` (TFX's ModelBlessing layout).

    The other marker is removed first, so the directory never holds both; the new marker is
    written to a temporary file and renamed into place. Returns the marker's path. Paths with a
    scheme (gs://...) go through tf.io.gfile.

    Example:
        >>> import tempfile
        >>> d = tempfile.mkdtemp()
        >>> r = ValidationResult(True, Outcome.BLESSED, [], [])
        >>> os.path.basename(write_blessing(d, r)), sorted(os.listdir(d))
        ('BLESSED', ['BLESSED'])
    """
    name, other = ((BLESSED_FILE, NOT_BLESSED_FILE) if result.blessed
                   else (NOT_BLESSED_FILE, BLESSED_FILE))
    path = os.path.join(directory, name)
    if "://" in directory:
        import tensorflow as tf  # only remote paths need it; it is slow to import
        tf.io.gfile.makedirs(directory)
        if tf.io.gfile.exists(os.path.join(directory, other)):
            tf.io.gfile.remove(os.path.join(directory, other))
        tmp = os.path.join(directory, f".{name}.tmp")
        with tf.io.gfile.GFile(tmp, "w"):
            pass
        tf.io.gfile.rename(tmp, path, overwrite=True)
        return path
    os.makedirs(directory, exist_ok=True)
    try:
        os.remove(os.path.join(directory, other))
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.")
    os.close(fd)
    os.replace(tmp, path)
    return path


def blessing_properties(result: ValidationResult, current_model: Optional[str] = None,
                        current_model_id: Optional[int] = None,
                        baseline_model: Optional[str] = None,
                        baseline_model_id: Optional[int] = None) -> Dict[str, Any]:
    """Custom properties of the ModelBlessing artifact, as TFX's Evaluator sets them.

    `blessed` (int 1 / 0), `current_model` / `baseline_model` (URIs) and `current_model_id` /
    `baseline_model_id` (MLMD artifact ids) where known; plus `assay_outcome`, `assay_reasons`
    (a JSON list of strings) and, when forced, `assay_forced` (the force_bless reason).

    Example:
        >>> r = ValidationResult(False, Outcome.NOT_BLESSED, ["auc is 0.6, below the minimum 0.7"], [])
        >>> blessing_properties(r, current_model="gs://m/1", current_model_id=7)["blessed"]
        0
    """
    props: Dict[str, Any] = {"blessed": 1 if result.blessed else 0}
    for key, value in (("current_model", current_model), ("baseline_model", baseline_model)):
        if value is not None:
            if not isinstance(value, str):
                raise TypeError(f"{key!r} must be a URI string (got {value!r}, a "
                                f"{_type_name(value)})")
            props[key] = value
    for key, value in (("current_model_id", current_model_id),
                       ("baseline_model_id", baseline_model_id)):
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{key!r} must be an int artifact id (got {value!r}, a "
                                f"{_type_name(value)})")
            props[key] = value
    props["assay_outcome"] = result.outcome.value
    props["assay_reasons"] = json.dumps(list(result.reasons))
    if result.forced is not None:
        props["assay_forced"] = result.forced
    return props


__all__ = ["HIGHER", "LOWER", "Check", "MaxGap", "Outcome", "SliceSelector", "Threshold",
           "ValidationOptions", "ValidationResult", "blessing_properties", "metric_direction",
           "parse_thresholds", "parse_validation", "validate", "write_blessing"]
