"""Strict JSON in the results files: non-finite values as null with their reason, integer counts.

RFC 8259 has no NaN or Infinity, and strict parsers (JavaScript's JSON.parse, Go's
encoding/json, jq) reject a file holding them. Since format version 2, every JSON file assay
writes holds only finite numbers:

- In a record of assay_metrics.json, a metric whose value is not finite is written as `null`,
  and the record's `undefined` member names it with the reason:

      {"slice": {"g": "b"}, "model": "candidate",
       "metrics": {"auc": null, "precision": null, "recall": 1.0, ...},
       "undefined": {"auc": "no negative labels (the ROC curve needs both classes)",
                     "precision": "no predicted positives (no prediction above 0.5)"}}

  The reason comes from the metric's definition and the record's own counts (`metric_reason`);
  a diff record says which model's value is undefined, and why; where no rule applies the
  reason is generic: "not finite (NaN)", "not finite (Infinity)" or "not finite (-Infinity)".
  A non-finite number in another member of a record (the `intervals` of a metric, ...) is
  named by its path, "intervals/auc", with the metric's reason when the metric is undefined.
- Counts are integers: example_count, and weighted_example_count and the confusion counts
  (tp, fp, tn, fn at each threshold) wherever they are whole numbers (with fractional weights
  they stay floats).
- Everywhere else (assay_plots.json, validation.json, config.json) a non-finite number is
  `null` too; the curves and calibration tables already used null (see their docstrings), and
  a check in validation.json says in its `reason` why its value is missing.

Reading (`restore_record`): a null metric becomes float('nan') again (or +-inf where the
generic reason says so), so `EvalResult.metrics()` gives the same values for files of version 1
(bare NaN) and version 2.

Example:
    >>> r = finish_records([{"slice": {}, "model": "candidate",
    ...     "metrics": {"example_count": 3.0, "tp@0.5": 0.0, "fp@0.5": 0.0,
    ...                 "precision": float("nan")}}])[0]
    >>> r["metrics"]["example_count"], r["undefined"]
    (3, {'precision': 'no predicted positives (no prediction above 0.5)'})
"""

from __future__ import annotations

import functools
import math
from typing import Any, Dict, Iterable, List, Mapping, Optional

UNDEFINED = "undefined"
# The counts: written as integers when whole. Confusion counts carry "@threshold".
COUNT_NAMES = frozenset({"example_count", "weighted_example_count", "tp", "fp", "tn", "fn"})
_GENERIC = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
# Members of a record that are neither metric values nor numbers to check.
_NOT_VALUES = frozenset({"slice", "model", "metrics", "withheld", UNDEFINED})


def is_finite_number(value: Any) -> bool:
    """True for an int or a finite float (bools are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value)


def _non_finite(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def generic_reason(value: float) -> str:
    """"not finite (NaN)", "not finite (Infinity)" or "not finite (-Infinity)"."""
    word = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return f"not finite ({word})"


@functools.lru_cache(maxsize=4096)
def _is_count(name: str) -> bool:
    # Cached: a results document repeats the same few dozen names in every record.
    return name.split("@", 1)[0] in COUNT_NAMES


def as_count(name: str, value: Any) -> Any:
    """`value` as an int when `name` is a count and the value a whole number, else as is."""
    if not isinstance(value, float) or not _is_count(name):
        return value
    return int(value) if value.is_integer() and abs(value) < 2 ** 53 else value


# --------------------------------------------------------------------------------------------
# The reasons

def _first_threshold(metrics: Mapping[str, Any]) -> Optional[str]:
    """The first decision threshold (the one of the plain names precision, recall, ...): the
    binary family writes tp@t in threshold order."""
    return next((k[3:] for k in metrics if k.startswith("tp@")), None)


def _class_reason(base: str, cls: str) -> Optional[str]:
    """Per-class metrics of the multiclass and multi-label families (name/class)."""
    if base == "precision":
        return f"no example predicted as class {cls}"
    if base == "recall":
        return f"no example of class {cls}"
    if base == "f1":
        return f"no example of class {cls} and none predicted as it"
    if base == "auc":
        return f"class {cls} is absent or is the only class (the ROC curve needs both)"
    return None


def metric_reason(name: str, metrics: Mapping[str, Any]) -> Optional[str]:
    """Why metric `name` of a model's record is not finite, from the metric's definition and
    the record's counts; None when no rule applies (the caller then gives a generic reason).

    Args:
      name: the metric name ("precision@0.5", "recall/cat", "auc", "r2", ...).
      metrics: the record's metrics (the counts the reasons are read from).
    """
    count, weight = metrics.get("example_count"), metrics.get("weighted_example_count")
    if count == 0:
        return "no examples in the slice"
    if weight == 0:
        return "the slice's examples all have weight 0"
    base, _, cls = name.partition("/")
    if cls:
        return _class_reason(base, cls)
    for suffix in ("_macro", "_weighted"):
        if base.endswith(suffix):
            return f"{base[:-len(suffix)]} is undefined for every class"
    base, _, at = name.partition("@")
    if base == "r2" and isinstance(count, (int, float)) and count < 2:
        return "fewer than two examples"
    return _binary_reason(base, at or _first_threshold(metrics), metrics)


def _binary_reason(base: str, at: Optional[str], metrics: Mapping[str, Any]) -> Optional[str]:
    """The binary family's undefined ratios (precision without predicted positives, ...)."""
    weight, mean_label = metrics.get("weighted_example_count"), metrics.get("mean_label")
    positives = negatives = None
    if is_finite_number(weight) and is_finite_number(mean_label):
        positives, negatives = weight * mean_label, weight * (1 - mean_label)
    counts = {c: metrics.get(f"{c}@{at}") for c in ("tp", "fp", "fn", "tn")}
    tp, fp, fn, tn = (v if is_finite_number(v) else None for v in counts.values())
    if tp is not None and fp is not None:
        if base == "precision" and tp + fp == 0:
            return f"no predicted positives (no prediction above {at})"
        if base == "f1" and fn is not None and tp + fp + fn == 0:
            return f"no positive labels and no predicted positives (above {at})"
    if None not in (tp, fp, fn, tn):
        positives, negatives = tp + fn, tn + fp
    if positives == 0 and base in ("auc", "auc_pr", "recall", "calibration", "auc_tfma",
                                   "auc_pr_tfma", "false_negative_rate"):
        extra = {"auc": " (the ROC curve needs both classes)",
                 "calibration": " (the weighted label sum is 0)"}.get(base, "")
        return "no positive labels" + extra
    if negatives == 0 and base in ("auc", "specificity", "false_positive_rate", "auc_tfma"):
        extra = " (the ROC curve needs both classes)" if base.startswith("auc") else ""
        return "no negative labels" + extra
    return None


def _diff_reason(name: str, model: str, own: Mapping[str, Dict[str, str]]) -> Optional[str]:
    """Why a diff record's value is undefined: which model's value is, and why."""
    mine, theirs = own.get(model, {}).get(name), own.get("baseline", {}).get(name)
    if mine is not None and theirs is not None:
        if mine == theirs:
            return f"the {model}'s and the baseline's {name} are undefined: {mine}"
        return (f"the {model}'s {name} is undefined: {mine}; the baseline's {name} is "
                f"undefined: {theirs}")
    for who, why in ((model, mine), ("baseline", theirs)):
        if why is not None:
            return f"the {who}'s {name} is undefined: {why}"
    return None


# --------------------------------------------------------------------------------------------
# Records: the document builder's last step, and the reader's first

def _diffed(model: str) -> Optional[str]:
    """The model a diff record compares with the baseline: "diff" -> candidate, "diff:X" -> X."""
    if model == "diff":
        return "candidate"
    return model[len("diff:"):] if model.startswith("diff:") else None


def finish_records(records: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The records with integer counts and an `undefined` member naming every non-finite value
    with its reason (the module docstring gives the rule). Values stay as they are (NaN in
    memory); the writer writes them as null.

    Records of one slice must come together, each model's before the diff records (as
    `assay.engine.assemble` orders them): a diff's reason names the model's.
    """
    out, own, current = [], {}, None
    for record in records:
        key = repr(sorted(record.get("slice", {}).items()))
        if key != current:
            own, current = {}, key
        out.append(_finish(record, own))
    return out


def _finish(record: Dict[str, Any], own: Dict[str, Dict[str, str]]) -> Dict[str, Any]:
    record = dict(record)
    if isinstance(record.get("example_count"), float):  # a withheld record's count
        record["example_count"] = as_count("example_count", record["example_count"])
    metrics = record.get("metrics")
    reasons: Dict[str, str] = {}
    if isinstance(metrics, Mapping):
        metrics = {k: as_count(k, v) for k, v in metrics.items()}
        record["metrics"] = metrics
        diffed = _diffed(record.get("model", ""))
        for name, value in metrics.items():
            if _non_finite(value):
                why = (_diff_reason(name, diffed, own) if diffed is not None
                       else metric_reason(name, metrics))
                reasons[name] = why or generic_reason(value)
        own[record.get("model")] = reasons
    for member, value in record.items():
        if member not in _NOT_VALUES:
            _member_reasons(member, value, reasons)
    if reasons:
        record[UNDEFINED] = reasons
    return record


def _member_reasons(member: str, value: Any, reasons: Dict[str, str]) -> None:
    """Names the non-finite numbers of another member ({metric: ...}) by "member/metric"."""
    items = value.items() if isinstance(value, Mapping) else [("", value)]
    for name, v in items:
        bad = _first_non_finite(v)
        if bad is not None:
            path = f"{member}/{name}" if name else member
            reasons[path] = reasons.get(name) or generic_reason(bad)


def _first_non_finite(value: Any) -> Optional[float]:
    if _non_finite(value):
        return value
    children = value.values() if isinstance(value, Mapping) else \
        value if isinstance(value, (list, tuple)) else ()
    for child in children:
        bad = _first_non_finite(child)
        if bad is not None:
            return bad
    return None


def _restored(reason: Optional[str]) -> float:
    """The value a null stands for: +-inf where the generic reason says so, NaN otherwise."""
    if reason and reason.startswith("not finite (") and reason.endswith(")"):
        return _GENERIC.get(reason[len("not finite ("):-1], math.nan)
    return math.nan


def _restore_nulls(value: Any, number: float) -> Any:
    if value is None:
        return number
    if isinstance(value, list):
        return [_restore_nulls(v, number) for v in value]
    if isinstance(value, dict):
        return {k: _restore_nulls(v, number) for k, v in value.items()}
    return value


def restore_record(record: Dict[str, Any]) -> Dict[str, Any]:
    """A record as read from a version-2 file, with its nulls back as numbers: every null
    metric, and the nulls of the other members `undefined` names ("intervals/auc"), become
    NaN (or +-inf where the reason is "not finite (Infinity)")."""
    reasons = record.get(UNDEFINED) or {}
    metrics = record.get("metrics")
    if not reasons and not (isinstance(metrics, dict) and None in metrics.values()):
        return record
    record = dict(record)
    if isinstance(metrics, dict):
        record["metrics"] = {k: _restored(reasons.get(k)) if v is None else v
                             for k, v in metrics.items()}
    for path, why in reasons.items():
        member, _, name = path.partition("/")
        if not name or member not in record or member in _NOT_VALUES:
            continue
        holder = record[member] = dict(record[member])
        if name in holder:
            holder[name] = _restore_nulls(holder[name], _restored(why))
    return record


def strict(value: Any) -> Any:
    """`value` with every non-finite float (numpy's included) replaced by None, for
    json.dumps(allow_nan=False); other values as they are."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    if hasattr(value, "dtype") and hasattr(value, "item"):  # a numpy scalar or array
        return strict(value.tolist() if getattr(value, "ndim", 0) else value.item())
    return value


__all__ = ["COUNT_NAMES", "UNDEFINED", "as_count", "finish_records", "generic_reason",
           "is_finite_number", "metric_reason", "restore_record", "strict"]
