"""Results -> KFP outputs: the metadata KFP's UI shows, and the executor output file.

    scalar_metrics(result)          system.Metrics metadata: {metric: value}, finite overall ones
    classification_metrics(result)  system.ClassificationMetrics metadata: `confidenceMetrics`
                                    (the ROC curve, binary) and `confusionMatrix`
    sliced_classification_metrics(result)   system.SlicedClassificationMetrics metadata: the
                                    same for every slice, under `evaluationSlices`
    write_executor_output(...)      the `blessed` parameter file and the executor output file

The layouts are the KFP SDK's (kfp.dsl.Metrics / ClassificationMetrics /
SlicedClassificationMetrics), so the UI draws them;
the file formats are contracts, covered by tests/test_formats.py's golden files.
"""

from __future__ import annotations

import json
import math
from typing import Any, Dict, List, Mapping, Sequence

from assay.results.slices import slice_label

OUTPUT_ARTIFACTS = ("evaluation", "metrics", "classification_metrics", "report", "blessing")
# Written when the executor input declares them: specs compiled before they existed do not.
OPTIONAL_OUTPUT_ARTIFACTS = ("sliced_classification_metrics",)
OUTPUT_PARAMETERS = ("blessed",)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and \
        math.isfinite(value)


def _number(value: float) -> Any:
    # Counts are ints in assay_metrics.json since version 2, but floats in version 1 and a
    # weighted count may be a whole float: KFP's UI shows 1500 better than 1500.0.
    return int(value) if float(value).is_integer() and abs(value) < 2 ** 53 else float(value)


def scalar_metrics(result: Any) -> Dict[str, Any]:
    """system.Metrics metadata: the overall candidate metrics with finite values (KFP's metadata
    is JSON and cannot hold NaN; assay_metrics.json in the evaluation keeps every value)."""
    try:
        overall = result.metrics({}, "candidate")
    except KeyError:
        return {}
    return {name: _number(value) for name, value in overall.items() if _finite(value)}


def _class_names(result: Any) -> List[str]:
    names = result.info.get("class_names") or (result.config or {}).get("label_vocabulary")
    return [str(n) for n in names] if names else ["0", "1"]


def _confusion(labels: Sequence[str], matrix: Sequence[Sequence[float]]) -> Dict[str, Any]:
    return {"annotationSpecs": [{"displayName": str(label)} for label in labels],
            "rows": [{"row": [_number(v) for v in row]} for row in matrix]}


def _roc(plots: Mapping[str, Any]) -> List[Dict[str, float]]:
    """The ROC curve as KFP's `confidenceMetrics`: [{confidenceThreshold, recall, fpr}]."""
    roc = plots.get("roc_curve") or {}
    thresholds = roc.get("thresholds") or []
    top = max([t for t in thresholds if t is not None], default=1.0)
    # The first point, (0, 0), predicts nothing positive: its threshold lies above every
    # score (KFP needs a number where assay writes None).
    above = 1.0 if top < 1.0 else math.nextafter(top, math.inf)
    return [{"confidenceThreshold": above if t is None else float(t), "recall": float(tpr),
             "falsePositiveRate": float(fpr)}
            for t, fpr, tpr in zip(thresholds, roc.get("fpr") or [], roc.get("tpr") or [])
            if fpr is not None and tpr is not None]


def _slice_classification(result: Any, slice_: Mapping[str, Any]) -> Dict[str, Any]:
    """ClassificationMetrics metadata of one slice (see classification_metrics); {} for a
    withheld slice or one without plots."""
    try:
        plots = result.plots(slice_, "candidate")
        values = result.metrics(slice_, "candidate")
    except KeyError:
        return {}
    out: Dict[str, Any] = {}
    if result.task == "binary":
        out["confidenceMetrics"] = _roc(plots)
        at = next((k[len("tp@"):] for k in values if k.startswith("tp@")), None)
        if at is not None:
            tn, fp, fn, tp = (values.get(f"{m}@{at}") for m in ("tn", "fp", "fn", "tp"))
            if all(_finite(v) for v in (tn, fp, fn, tp)):
                out["confusionMatrix"] = _confusion(_class_names(result)[:2],
                                                    [[tn, fp], [fn, tp]])
    elif result.task == "multiclass":
        cm = plots.get("confusion_matrix")
        if cm:
            out["confusionMatrix"] = _confusion(cm["labels"], cm["matrix"])
    return out


def classification_metrics(result: Any) -> Dict[str, Any]:
    """system.ClassificationMetrics metadata of the overall slice, in the KFP SDK's layout.

    Binary: the ROC curve and the confusion matrix at the first decision threshold (rows are
    true classes); multiclass: the confusion matrix; regression: empty.
    """
    return _slice_classification(result, {})


def sliced_classification_metrics(result: Any) -> Dict[str, Any]:
    """system.SlicedClassificationMetrics metadata: every slice's ClassificationMetrics, in the
    KFP SDK's layout (kfp.dsl.SlicedClassificationMetrics._update_metadata):

        {"evaluationSlices": [{"slice": "overall" | "feature=value, ...",
                               "sliceClassificationMetrics": {confidenceMetrics,
                                                              confusionMatrix}}]}

    in the records' order (overall first); withheld slices and regression give no entry.
    """
    entries = []
    for slice_ in result.slices():
        metrics = _slice_classification(result, slice_)
        if metrics:
            entries.append({"slice": slice_label(slice_), "sliceClassificationMetrics": metrics})
    return {"evaluationSlices": entries}


def to_json(obj: Any) -> str:
    """KFP's metadata JSON: strict RFC 8259 (a non-finite number is null, as in every file
    assay writes), keys sorted so the files are reproducible."""
    from assay.results.undefined import strict

    return json.dumps(strict(obj), allow_nan=False, sort_keys=True)


def write_executor_output(task: Any, metadata: Mapping[str, Mapping[str, Any]],
                          blessed: bool) -> Dict[str, Any]:
    """Writes the `blessed` parameter file and the executor output file; returns the latter.

    Args:
      task: the ExecutorInput (its output artifacts, parameter files and output file).
      metadata: each output artifact's metadata, which the launcher records in ML Metadata.
      blessed: the verdict, also the `blessed` output parameter.
    """
    from assay.data.files import write_text

    for name in OUTPUT_PARAMETERS:
        if name in task.parameter_files:
            write_text(task.parameter_files[name], "true" if blessed else "false")
    out = task.outputs
    output = {
        "artifacts": {name: {"artifacts": [{"name": out[name].name, "uri": out[name].uri,
                                            "metadata": metadata[name]}]}
                      for name in OUTPUT_ARTIFACTS + OPTIONAL_OUTPUT_ARTIFACTS
                      if name in metadata},
        "parameterValues": {"blessed": blessed},
    }
    write_text(task.output_file, to_json(output))
    return output


__all__ = ["OPTIONAL_OUTPUT_ARTIFACTS", "OUTPUT_ARTIFACTS", "OUTPUT_PARAMETERS",
           "classification_metrics", "scalar_metrics", "sliced_classification_metrics",
           "to_json", "write_executor_output"]
