"""The metrics records as validation reads them: indexed by model, slicing spec and slice.

A record is {"slice": {feature: value}, "model": "candidate" | "baseline" | "diff", "metrics":
{name: value}} or, for a slice below min_slice_size, "withheld": reason instead of "metrics".
Slice values are read in canonical form (assay.results.slices), and kept apart by type, so True
and 1, or "3" and 3, are different slices of the records.
"""

from __future__ import annotations

import difflib
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from assay.config.values import is_number
from assay.results.slices import canonical_value, features_label
from assay.errors import DataError

_Key = Tuple[Tuple[str, str, Any], ...]   # ((feature, type tag, value), ...), sorted by feature


class SliceRecord:
    """One slice's record of one model."""

    def __init__(self, features: Tuple[str, ...], values: Tuple[Any, ...], record: Mapping):
        self.features, self.values, self.record = features, values, record
        self.label = features_label(features, values)
        # The type tag keeps True apart from 1, and "3" apart from 3, as dict keys.
        self.key: _Key = tuple((f, _type_tag(v), v) for f, v in zip(features, values))

    @property
    def as_dict(self) -> Dict[str, Any]:
        return dict(zip(self.features, self.values))


def _type_tag(value: Any) -> str:
    return "bool" if isinstance(value, bool) else "str" if isinstance(value, str) else "num"


def _record_slice_value(value: Any) -> Any:
    try:
        return canonical_value(value)
    except (TypeError, ValueError):    # e.g. NaN: kept as text, so the verdict is still given
        return str(value)


def index_records(records: Sequence[Mapping]) -> Dict[str, Dict[Tuple[str, ...], Dict]]:
    """{model: {spec features: {key: SliceRecord}}}."""
    index: Dict[str, Dict[Tuple[str, ...], Dict[_Key, SliceRecord]]] = {}
    for i, r in enumerate(records):
        if not isinstance(r, Mapping) or not isinstance(r.get("slice"), Mapping) \
                or not isinstance(r.get("model"), str) or ("metrics" in r) == ("withheld" in r):
            raise DataError(f"records[{i}] must be {{slice: {{...}}, model: str, and metrics: "
                             f"{{...}} or withheld: reason}} (got {r!r})")
        pairs = sorted((str(f), _record_slice_value(v)) for f, v in r["slice"].items())
        s = SliceRecord(tuple(p[0] for p in pairs), tuple(p[1] for p in pairs), r)
        by_key = index.setdefault(r["model"], {}).setdefault(s.features, {})
        if s.key in by_key:
            raise DataError(f"records[{i}]: a second record for {s.label}, model {r['model']}")
        by_key[s.key] = s
    return index


def _sort_key(s: SliceRecord) -> Tuple:
    return tuple((0, v, "") if isinstance(v, (int, float)) and not isinstance(v, bool)
                 else (1, 0, str(v)) for v in s.values)


def metric_value(metrics: Mapping[str, Any], name: str) -> Optional[float]:
    """The metric as float (None -> NaN); raises KeyError when absent, TypeError if not a number."""
    value = metrics[name]
    if value is None:
        return math.nan
    if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
        return float(value)
    if not is_number(value):
        raise TypeError(f"{value!r}")
    return float(value)


class RecordIndex:
    """The records by model, spec and slice, and what is known about the baseline."""

    def __init__(self, records, has_baseline, baseline_error, options):
        self.index = index_records(records)
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

    def slices(self, model: str, features: Tuple[str, ...]) -> List[SliceRecord]:
        return sorted(self.index.get(model, {}).get(features, {}).values(), key=_sort_key)

    def baseline_of(self, s: SliceRecord) -> Optional[SliceRecord]:
        return self.index.get("baseline", {}).get(s.features, {}).get(s.key)

    def find(self, model: str, slice_: Mapping[str, Any]) -> Optional[SliceRecord]:
        """The record of `model` on the slice {feature: value} (canonical values, as a Check's
        `slice` holds them), or None."""
        pairs = sorted(slice_.items())
        key = tuple((f, _type_tag(v), v) for f, v in pairs)
        return self.index.get(model, {}).get(tuple(p[0] for p in pairs), {}).get(key)


def withheld_reason(record: Mapping[str, Any]) -> str:
    """The record's withheld reason without a leading 'withheld:', which the caller says."""
    why = str(record["withheld"])
    return why[len("withheld:"):].strip() if why.lower().startswith("withheld:") else why


def subject_of(metric: str, s: SliceRecord) -> str:
    """How a reason names the metric on a slice: "auc", or "auc on slice region=north"."""
    return metric if not s.features else f"{metric} on {s.label}"


def _available(metrics: Mapping[str, Any]) -> str:
    return ", ".join(sorted(metrics)) or "none"


def lookup(metric: str, s: SliceRecord, whose: str) -> Tuple[Optional[float], Optional[str]]:
    """(value, None) or (None, why it cannot be used)."""
    record = s.record
    if "withheld" in record:
        return None, (f"{s.label} was withheld ({withheld_reason(record)}), so {metric} cannot be "
                      f"checked there")
    metrics = record["metrics"]
    try:
        value = metric_value(metrics, metric)
    except KeyError:
        close = difflib.get_close_matches(metric, list(metrics), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return None, (f"{whose}{metric} is not among the metrics of {s.label} (it has: "
                      f"{_available(metrics)}){hint}")
    except TypeError:
        return None, f"{whose}{metric} on {s.label} is not a number (got {metrics[metric]!r})"
    return value, None
