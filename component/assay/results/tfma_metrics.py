"""assay's metrics and plots records as TFMA 0.47's MetricsForSlice and PlotsForSlice.

    # Input: the records of assay_metrics.json / assay_plots.json (assay.engine.assemble).
    # Output: one MetricsForSlice and one PlotsForSlice per slice, in the records' order.

What each record becomes (keys and values: assay.results.tfma_keys):

- Every scalar metric of every model, under MetricKey(name, model_name); each diff record's
  metrics under the compared model's keys with `is_diff` (the candidate's for "diff", NAME's for
  "diff:NAME"). `example_count` and `weighted_example_count` are written per model, as TFMA does.
  A record's `intervals` ({name: {"lower", "upper", "stderr"}}, with `confidence:` on) become
  the value's `confidence_interval` (lower_bound, upper_bound, standard_error), which TFMA's
  readers show as a bounded value.
- `confusion_matrix_at_thresholds` (per model, not diffed): TFMA's ConfusionMatrixAtThresholds
  value, one matrix per decision threshold t from assay's exact tp@t, fp@t, tn@t, fn@t (both
  count a prediction p as positive when p > t, as TFMA does), with the rates TFMA derives.
- A withheld slice (fewer than min_slice_size examples): what TFMA writes for one, a
  MetricsForSlice holding only `metrics["__ERROR__"]` with TFMA's message, and an empty
  PlotsForSlice.
- Binary plots: one PlotKey(model_name) whose PlotData holds the calibration histogram (assay's
  calibration bins: [lower, upper) edges, weight, weight * label, weight * prediction) and
  `confusion_matrix_at_thresholds` along assay's ROC curve (each point predicts positive when
  p >= its threshold, the curve's own rule; counts from the rates and the slice's weighted
  positives and negatives). Multi-class: PlotKey(name="multi_class_confusion_matrix_plot") with
  the argmax confusion matrix at threshold 0.0 (class ids index `class_names`), as TFMA's
  MultiClassConfusionMatrixPlot writes it. Regression residual quantiles have no TFMA plot
  form and are left out.

Example:
    >>> doc = {"records": [{"slice": {}, "model": "candidate", "metrics": {"auc": 0.8}}]}
    >>> metrics_for_slices(doc)[0].metric_keys_and_values[0].key.name
    'auc'
"""

from __future__ import annotations

import math
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from assay.config.model_names import diff_of
from assay.results.tfma_keys import (ERROR_METRIC, metric_key, metric_value, slice_key,
                                     withheld_message)
from assay.results.tfma_proto import metrics_for_slice_pb2 as pb

CONFUSION_METRIC = "confusion_matrix_at_thresholds"  # TFMA's ConfusionMatrixAtThresholds name
MULTI_CLASS_PLOT = "multi_class_confusion_matrix_plot"  # TFMA's MultiClassConfusionMatrixPlot
SCORE_DISTRIBUTION = "score_distribution_plot"  # TFMA's ScoreDistributionPlot (and assay's)
_AT = re.compile(r"^(tp|fp|tn|fn)@([0-9.]+(?:e-?[0-9]+)?)$")  # tp@0.5, not tp@0.5/cat


def _by_slice(records: Sequence[Mapping[str, Any]]) -> List[Tuple[Mapping[str, Any], list]]:
    """The records grouped by slice, slices in first-seen order."""
    groups: Dict[Any, Tuple[Mapping[str, Any], list]] = {}
    for r in records:
        key = tuple(sorted((k, repr(v)) for k, v in r["slice"].items()))
        groups.setdefault(key, (r["slice"], []))[1].append(r)
    return list(groups.values())


def _owner(model: str) -> Tuple[str, bool]:
    """(model name, is_diff) of a record's model: "diff:NAME" is NAME's diff."""
    compared = diff_of(model)
    return (compared, True) if compared is not None else (model, False)


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def confusion_at_thresholds(metrics: Mapping[str, Any]
                            ) -> Optional[pb.ConfusionMatrixAtThresholds]:
    """TFMA's ConfusionMatrixAtThresholds from a record's tp@t, fp@t, tn@t, fn@t; None if none."""
    counts: Dict[str, Dict[str, float]] = {}
    for name, value in metrics.items():
        m = _AT.match(name)
        if m:
            counts.setdefault(m.group(2), {})[m.group(1)] = float(value)
    out = pb.ConfusionMatrixAtThresholds()
    for text, c in sorted(counts.items(), key=lambda kv: float(kv[0])):
        if len(c) == 4:
            out.matrices.append(_matrix(float(text), c["tp"], c["fp"], c["tn"], c["fn"]))
    return out if out.matrices else None


def _matrix(threshold: float, tp: float, fp: float, tn: float, fn: float
            ) -> pb.ConfusionMatrixAtThresholds.ConfusionMatrixAtThreshold:
    """One matrix with the rates TFMA derives (precision, recall, fpr, f1, accuracy, FOR)."""
    return pb.ConfusionMatrixAtThresholds.ConfusionMatrixAtThreshold(
        threshold=threshold, true_positives=tp, false_positives=fp, true_negatives=tn,
        false_negatives=fn, precision=_ratio(tp, tp + fp), recall=_ratio(tp, tp + fn),
        false_positive_rate=_ratio(fp, fp + tn), f1=_ratio(2 * tp, 2 * tp + fp + fn),
        accuracy=_ratio(tp + tn, tp + fp + tn + fn), false_omission_rate=_ratio(fn, fn + tn))


def _add_metrics(out: pb.MetricsForSlice, record: Mapping[str, Any],
                 tfma_names: Mapping[str, str], weighted: bool) -> None:
    model, is_diff = _owner(record["model"])
    metrics = record.get("metrics") or {}
    intervals = record.get("intervals") or {}  # {name: {"lower", "upper", "stderr"}}
    # A translated metric's TFMA name may be an assay name too ("auc"): the translated one wins.
    shadowed = {t for a, t in tfma_names.items() if a != t and a in metrics}
    written = set()
    for name in sorted(metrics):
        if name in shadowed and name not in tfma_names:
            continue
        written.add(tfma_names.get(name, name))
        kv = out.metric_keys_and_values.add()
        kv.key.CopyFrom(metric_key(name, model, is_diff, tfma_names, weighted))
        kv.value.CopyFrom(metric_value(metrics[name]))
        if name in intervals:  # as TFMA writes an interval beside a MetricKey's value
            _add_interval(kv.confidence_interval, intervals[name])
    confusion = None if is_diff or CONFUSION_METRIC in written else \
        confusion_at_thresholds(metrics)
    if confusion is not None:
        kv = out.metric_keys_and_values.add()
        kv.key.CopyFrom(metric_key(CONFUSION_METRIC, model, weighted=weighted))
        kv.value.confusion_matrix_at_thresholds.CopyFrom(confusion)


def _add_interval(target: Any, interval: Any) -> None:
    """Sets a ConfidenceInterval from a record's interval: {"lower", "upper", "stderr"} (an
    older [lower, upper] too); a bound that is null (undefined) is left unset."""
    if isinstance(interval, Mapping):
        parts = (("lower_bound", interval.get("lower")), ("upper_bound", interval.get("upper")),
                 ("standard_error", interval.get("stderr")))
    else:
        parts = (("lower_bound", interval[0]), ("upper_bound", interval[1]))
    for field, value in parts:
        if value is not None:
            getattr(target, field).CopyFrom(metric_value(value))


def metrics_for_slices(metrics_doc: Mapping[str, Any],
                       tfma_names: Optional[Mapping[str, str]] = None,
                       weighted: bool = False) -> List[pb.MetricsForSlice]:
    """One MetricsForSlice per slice of the metrics document (see the module docstring);
    `weighted`: the config has a weight column."""
    names = dict(tfma_names or {})
    minimum = int(metrics_doc.get("min_slice_size") or 1)
    out = []
    for slice_, records in _by_slice(metrics_doc["records"]):
        m = pb.MetricsForSlice(slice_key=slice_key(slice_))
        if any("withheld" in r for r in records):
            m.metrics[ERROR_METRIC].debug_message = withheld_message(minimum)
        else:
            for r in records:
                _add_metrics(m, r, names, weighted)
        out.append(m)
    return out


def _calibration(cal: Mapping[str, Any], out: Optional[pb.CalibrationHistogramBuckets] = None
                 ) -> pb.CalibrationHistogramBuckets:
    """TFMA's calibration histogram from assay's calibration bins (lower edges over [0, 1]);
    built in `out` (a field of the message written: no copy) where given, set even if empty."""
    out = pb.CalibrationHistogramBuckets() if out is None else out
    out.SetInParent()
    lowers = list(cal["bins"])
    for i, lower in enumerate(lowers):
        weight = cal["weight"][i] or 0.0
        label, prediction = cal["mean_label"][i], cal["mean_prediction"][i]
        b = out.buckets.add(lower_threshold_inclusive=lower,
                            upper_threshold_exclusive=lowers[i + 1] if i + 1 < len(lowers)
                            else 1.0)
        b.num_weighted_examples.value = weight
        b.total_weighted_label.value = weight * label if label is not None else 0.0
        b.total_weighted_refined_prediction.value = (weight * prediction
                                                     if prediction is not None else 0.0)
    return out


def _curve_confusion(roc: Mapping[str, Any], positives: float, negatives: float,
                     out: Optional[pb.ConfusionMatrixAtThresholds] = None
                     ) -> pb.ConfusionMatrixAtThresholds:
    """Matrices along the ROC curve; its first point (threshold None: nothing predicted
    positive) has no threshold to write and is left out. Built in `out` (a field of the
    message written: no copy) where given, set even if empty.

    The same values as `_matrix` at each point, computed for all points at once with numpy
    (the same float64 operations in the same order) and parsed from their wire form: building
    one message per point in Python took most of the TFMA files' time (200 slices of a
    200-point curve: 40,000 messages). Parsing then serializing normalises the wire form, so
    the file is byte for byte what the per-point messages give.
    """
    thresholds, fprs, tprs = roc["thresholds"], roc["fpr"], roc["tpr"]
    if thresholds[:1] == [None] and thresholds.count(None) == 1 \
            and len(thresholds) == len(fprs) == len(tprs):  # the usual curve: no Python loop
        points = (thresholds[1:], fprs[1:], tprs[1:])
    else:
        points = tuple(zip(*[(t, f, r) for t, f, r in zip(thresholds, fprs, tprs)
                             if t is not None])) or ((), (), ())
    out = pb.ConfusionMatrixAtThresholds() if out is None else out
    wire = b""
    if len(points[0]):
        t, fpr, tpr = (np.array(v, dtype=np.float64) for v in points)
        tp, fp = tpr * positives, fpr * negatives
        tn, fn = negatives - fp, positives - tp
        wire = _matrices_wire((  # in _MATRIX_FIELDS' order
            t, fn, tn, fp, tp, _ratios(tp, tp + fp), _ratios(tp, tp + fn), _ratios(fp, fp + tn),
            _ratios(2 * tp, 2 * tp + fp + fn), _ratios(tp + tn, tp + fp + tn + fn),
            _ratios(fn, fn + tn)))
    out.ParseFromString(wire)  # an empty one sets the field too, as CopyFrom did
    return out


def _ratios(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b, NaN where b is 0 (`_ratio` element-wise; float("nan"), the same bits)."""
    out = np.full(a.shape, float("nan"))
    np.divide(a, b, out=out, where=b != 0)
    return out


# ConfusionMatrixAtThreshold's double fields, by number: threshold, false_negatives,
# true_negatives, false_positives, true_positives, precision, recall, false_positive_rate, f1,
# accuracy, false_omission_rate.
_MATRIX_FIELDS = (1, 2, 3, 4, 5, 6, 7, 20, 21, 22, 23)


def _matrix_row() -> np.ndarray:
    """One `matrices` entry's wire form as a numpy record, its keys filled in: the entry's key
    (field 1, length-delimited) and length, then per field its key (a varint of the number and
    wire type 1, 64-bit) and the double ("v<number>")."""
    layout: List[Tuple[str, str]] = [("entry", "u1"), ("size", "u1")]
    keys = {}
    for number in _MATRIX_FIELDS:
        tag, key = (number << 3) | 1, []
        while tag >= 0x80:
            key.append((tag & 0x7F) | 0x80)
            tag >>= 7
        keys[number] = key + [tag]
        layout += [(f"k{number}_{i}", "u1") for i in range(len(keys[number]))]
        layout.append((f"v{number}", "<f8"))
    row = np.zeros(1, dtype=np.dtype(layout))
    row["entry"], row["size"] = 0x0A, row.dtype.itemsize - 2
    assert row.dtype.itemsize - 2 < 0x80  # the length fits one byte
    for number, key in keys.items():
        for i, byte in enumerate(key):
            row[f"k{number}_{i}"] = byte
    return row


_MATRIX_ROW = _matrix_row()


def _matrices_wire(columns: Sequence[np.ndarray]) -> bytes:
    """ConfusionMatrixAtThresholds' wire form, one `matrices` entry per row of `columns` (shape
    [n] float64 values of _MATRIX_FIELDS, in order), zeros included: proto3 drops them when the
    parsed message is serialized again."""
    rows = np.repeat(_MATRIX_ROW, len(columns[0]))
    for number, values in zip(_MATRIX_FIELDS, columns):
        rows[f"v{number}"] = values
    return rows.tobytes()


def _binary_plot(plots: Mapping[str, Any], metrics: Mapping[str, Any],
                 data: Optional[pb.PlotData] = None) -> Optional[pb.PlotData]:
    """The binary plots (calibration, matrices along the ROC curve) built in `data` (a new
    PlotData where not given); None when there are none."""
    data = pb.PlotData() if data is None else data
    if "calibration" in plots:
        _calibration(plots["calibration"], data.calibration_histogram_buckets)
    roc = plots.get("roc_curve") or {}
    weight, mean_label = metrics.get("weighted_example_count"), metrics.get("mean_label")
    if roc.get("thresholds") and weight is not None and mean_label is not None and \
            math.isfinite(mean_label):
        positives = weight * mean_label
        _curve_confusion(roc, positives, weight - positives, data.confusion_matrix_at_thresholds)
    return data if data.ListFields() else None


def _multi_class_plot(confusion: Mapping[str, Any]) -> pb.PlotData:
    data = pb.PlotData()
    matrix = data.multi_class_confusion_matrix_at_thresholds.matrices.add(threshold=0.0)
    for actual, row in enumerate(confusion["matrix"]):
        for predicted, weight in enumerate(row):
            matrix.entries.add(actual_class_id=actual, predicted_class_id=predicted,
                               num_weighted_examples=float(weight))
    return data


def _score_distribution(plot: Mapping[str, Any]) -> pb.PlotData:
    """TFMA's ScoreDistributionPlot: per threshold, true_positives = the weight scored above
    it, true_negatives = the weight at or below it, the rest 0 (as TFMA folds its matrices)."""
    data = pb.PlotData()
    for t, above, below in zip(plot["thresholds"], plot["weight_above"],
                               plot["weight_at_or_below"]):
        data.confusion_matrix_at_thresholds.matrices.append(
            pb.ConfusionMatrixAtThresholds.ConfusionMatrixAtThreshold(
                threshold=t, true_positives=above, true_negatives=below))
    return data


def plots_for_slices(metrics_doc: Mapping[str, Any], plots_doc: Mapping[str, Any],
                     weighted: bool = False) -> List[pb.PlotsForSlice]:
    """One PlotsForSlice per slice of the metrics document (see the module docstring)."""
    plots_of = {(repr(sorted(r["slice"].items())), r["model"]): r.get("plots") or {}
                for r in plots_doc.get("records", [])}
    out = []
    for slice_, records in _by_slice(metrics_doc["records"]):
        p = pb.PlotsForSlice(slice_key=slice_key(slice_))

        def entry(name: str, model: str) -> Any:
            kv = p.plot_keys_and_values.add()
            kv.key.name, kv.key.model_name = name, model
            kv.key.example_weighted.SetInParent()  # set even when false, as TFMA does
            kv.key.example_weighted.value = weighted
            return kv

        for r in records:
            model, is_diff = _owner(r["model"])
            if is_diff or "withheld" in r:
                continue
            plots = plots_of.get((repr(sorted(slice_.items())), r["model"]), {})
            if "confusion_matrix" in plots:
                entry(MULTI_CLASS_PLOT, model).value.CopyFrom(
                    _multi_class_plot(plots["confusion_matrix"]))
            elif _binary_plot(plots, r.get("metrics") or {}, entry("", model).value) is None:
                del p.plot_keys_and_values[-1]  # no binary plot: the entry goes
            if SCORE_DISTRIBUTION in plots:
                entry(SCORE_DISTRIBUTION, model).value.CopyFrom(
                    _score_distribution(plots[SCORE_DISTRIBUTION]))
        out.append(p)
    return out


__all__ = ["CONFUSION_METRIC", "MULTI_CLASS_PLOT", "confusion_at_thresholds",
           "metrics_for_slices", "plots_for_slices"]
