"""`discover:`: weak-slice discovery in the evaluation pass.

    discover:
      features: [region, segment, hour, {feature: amount, quantiles: 4}]
      max_features: 3            # crosses of up to 3 features
      min_size: 100              # examples, or a fraction of the data in (0, 1)
      top: 20                    # slices SliceLine reports (each then tested)
      error: log_loss            # binary/multiclass: log_loss | zero_one;
                                 # regression: squared_error | absolute_error;
                                 # any task: regression (candidate loss - baseline loss)
      alpha: 0.95                # SliceLine's weight of the error against the size
      q: 0.05                    # the false discovery rate at which a slice is confirmed

`error` left out is the task's usual loss (log_loss, or squared_error for regression). With
`error: regression`, `loss` names the loss whose paired difference is searched (default: the
task's usual loss). The task is known only when the pass is planned, so the task-dependent
checks run then (assay.discovery.extension), naming the errors that fit the task.

Example:
    >>> parse_discover({"features": ["region", {"feature": "amount", "quantiles": 4}]}).features
    (('region', None), ('amount', 4))
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Mapping, Optional, Tuple

from assay.config import values
from assay.errors import ConfigError, ConfigTypeError

DISCOVER_KEYS = ("features", "max_features", "min_size", "top", "error", "loss", "alpha", "q",
                 "threshold")
CLASSIFICATION_ERRORS = ("log_loss", "zero_one")
REGRESSION_ERRORS = ("squared_error", "absolute_error")
LOSSES = CLASSIFICATION_ERRORS + REGRESSION_ERRORS
ERRORS = LOSSES + ("regression",)
# The loss used when the config names none, by task.
DEFAULT_LOSS = {"binary": "log_loss", "multiclass": "log_loss", "regression": "squared_error"}


@dataclasses.dataclass(frozen=True)
class DiscoverConfig:
    """Validated `discover:` settings (frozen, hashable).

    Attributes:
      features: ((name, quantiles or None), ...): the searched features; a numeric feature with
        quantiles is bucketed into that many buckets of about equal counts.
      max_features: the most features in one slice (SliceLine's levels).
      min_size: the smallest slice: a count (int >= 1) or a fraction of the examples in (0, 1).
      top: how many slices the search reports.
      error: a loss name, "regression", or None (the task's usual loss).
      loss: with error "regression", the loss whose candidate - baseline difference is
        searched; None: the task's usual loss.
      alpha: SliceLine's weight of the error against the size, in (0, 1].
      q: the false discovery rate (Benjamini-Hochberg), in (0, 1).
      threshold: the decision threshold of zero_one on a binary task.
    """

    features: Tuple[Tuple[str, Optional[int]], ...]
    max_features: int = 3
    min_size: float = 0.01
    top: int = 20
    error: Optional[str] = None
    loss: Optional[str] = None
    alpha: float = 0.95
    q: float = 0.05
    threshold: float = 0.5

    @property
    def feature_names(self) -> Tuple[str, ...]:
        return tuple(name for name, _ in self.features)

    def loss_for(self, task: str) -> str:
        """The per-example loss searched on `task` (for "regression": the one differenced).

        Raises:
          ConfigError: the task is not one discovery supports, or the loss does not fit it.
        """
        if task not in DEFAULT_LOSS:
            raise ConfigError(f"'discover' supports binary, multiclass and regression models; "
                              f"this evaluation's task is {task!r}")
        name = self.loss if self.error == "regression" else self.error
        fits = REGRESSION_ERRORS if task == "regression" else CLASSIFICATION_ERRORS
        if name is not None and name not in fits:
            where = "discover.loss" if self.error == "regression" else "discover.error"
            extra = "" if self.error == "regression" else " or regression"
            raise ConfigError(f"'{where}' is {name!r}, which does not fit a {task} task; use "
                              f"{' or '.join(fits)}{extra}")
        return name or DEFAULT_LOSS[task]

    def to_config(self) -> Dict[str, Any]:
        """The settings as the config writes them (every setting, defaults included)."""
        features = [name if q is None else {"feature": name, "quantiles": q}
                    for name, q in self.features]
        out: Dict[str, Any] = {"features": features, "max_features": self.max_features,
                               "min_size": self.min_size, "top": self.top,
                               "error": self.error, "alpha": self.alpha, "q": self.q,
                               "threshold": self.threshold}
        if self.loss is not None:
            out["loss"] = self.loss
        return out


def parse_discover(raw: Any) -> DiscoverConfig:
    """The DiscoverConfig of the config's `discover:` value (a mapping).

    Raises:
      ConfigError: naming the key, the rule and the value received.
    """
    values.expect(raw, (Mapping,), "a mapping such as {features: [region, segment]}", "discover")
    values.check_keys(raw, DISCOVER_KEYS, "'discover'")
    if "features" not in raw:
        raise ConfigError("'discover' needs 'features': the columns to search, e.g. "
                          "features: [region, {feature: amount, quantiles: 4}]")
    kw: Dict[str, Any] = {"features": _features(raw["features"])}
    for key in ("max_features", "top"):
        if key in raw:
            kw[key] = values.positive_int(raw[key], f"discover.{key}")
    if "min_size" in raw:
        kw["min_size"] = _min_size(raw["min_size"])
    if raw.get("error") is not None:
        kw["error"] = values.choice(raw["error"], ERRORS, "discover.error")
    if raw.get("loss") is not None:
        if kw.get("error") != "regression":
            raise ConfigError("'discover.loss' is only used with error: regression (the loss "
                              "whose candidate - baseline difference is searched); give the "
                              "loss as 'error' instead")
        kw["loss"] = values.choice(raw["loss"], LOSSES, "discover.loss")
    for key, low, high, closed in (("alpha", 0.0, 1.0, True), ("q", 0.0, 1.0, False),
                                   ("threshold", 0.0, 1.0, True)):
        if key in raw:
            kw[key] = _in_range(raw[key], f"discover.{key}", low, high, closed)
    return DiscoverConfig(**kw)


def _features(raw: Any) -> Tuple[Tuple[str, Optional[int]], ...]:
    what = "a list of feature names or {feature: F, quantiles: N}, e.g. [region, hour]"
    if isinstance(raw, str):
        raw = [raw]
    values.expect(raw, (list, tuple), what, "discover.features")
    if not raw:
        raise ConfigError(f"'discover.features' must name at least one feature: {what}")
    out = []
    for i, item in enumerate(raw):
        where = f"discover.features[{i}]"
        if isinstance(item, Mapping):
            values.check_keys(item, ("feature", "quantiles"), f"'{where}'")
            if "feature" not in item or "quantiles" not in item:
                raise ConfigError(f"'{where}' must give both 'feature' and 'quantiles', e.g. "
                                  f"{{feature: amount, quantiles: 4}} (got {dict(item)!r})")
            name = values.expect(item["feature"], (str,), "a column name", f"{where}.feature")
            q = values.positive_int(item["quantiles"], f"{where}.quantiles")
            if q < 2:
                raise ConfigError(f"'{where}.quantiles' must be at least 2 (got {q})")
            out.append((name, q))
        else:
            out.append((values.expect(item, (str,), what, where), None))
    names = [name for name, _ in out]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"'discover.features' names {', '.join(repeated)} more than once")
    return tuple(out)


def _min_size(raw: Any) -> float:
    where = "discover.min_size"
    if not values.is_number(raw):
        raise ConfigTypeError(f"'{where}' must be a count of examples (an int >= 1) or a "
                              f"fraction in (0, 1) (got {raw!r}, a {values.type_name(raw)})")
    if float(raw).is_integer() and raw >= 1:
        return int(raw)
    if 0 < raw < 1:
        return float(raw)
    raise ConfigError(f"'{where}' must be a count of examples (an int >= 1) or a fraction in "
                      f"(0, 1) (got {raw!r})")


def _in_range(raw: Any, where: str, low: float, high: float, closed: bool) -> float:
    value = values.number(raw, where)
    if not (low < value < high or (closed and value == high)):
        interval = f"({low:g}, {high:g}{']' if closed else ')'}"
        raise ConfigError(f"'{where}' must be in {interval} (got {raw!r})")
    return value


parse_discover.json_schema = {  # type: ignore[attr-defined]
    "type": "object",
    "description": "Weak-slice discovery (SliceLine, confirmed on a held-out half).",
    "required": ["features"],
    "additionalProperties": False,
    "properties": {
        "features": {"type": "array", "minItems": 1, "items": {"anyOf": [
            {"type": "string"},
            {"type": "object", "required": ["feature", "quantiles"],
             "additionalProperties": False,
             "properties": {"feature": {"type": "string"},
                            "quantiles": {"type": "integer", "minimum": 2}}}]}},
        "max_features": {"type": "integer", "minimum": 1, "default": 3},
        "min_size": {"anyOf": [{"type": "integer", "minimum": 1},
                               {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}],
                     "default": 0.01},
        "top": {"type": "integer", "minimum": 1, "default": 20},
        "error": {"enum": list(ERRORS)},
        "loss": {"enum": list(LOSSES)},
        "alpha": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": 0.95},
        "q": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1, "default": 0.05},
        "threshold": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.5},
    },
}

__all__ = ["DiscoverConfig", "ERRORS", "parse_discover"]
