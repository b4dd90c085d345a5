"""Checking assay's values against a reference (TFMA, or another assay run), slice by slice.

    check = compare_records(assay_records, tfma_records, TFMA_NAMES)
    check["ok"], check["max_abs_diff"]["auc"], check["mismatches"][:5]

Records are dicts {"slice": {feature: value}, "model": name, "metrics": {name: value}}, as in
assay's assay_metrics.json. A slice is matched by its feature values whatever their order.
"""

from __future__ import annotations

import json
import math
from typing import Dict, List, Mapping, Optional, Sequence

# assay's metric name -> TFMA's.
TFMA_NAMES = {
    "example_count": "example_count",
    "auc": "auc",
    "auc_pr": "auc_precision_recall",
    "accuracy": "binary_accuracy",
    "precision": "precision",
    "recall": "recall",
    "mean_label": "mean_label",
    "mean_prediction": "mean_prediction",
}
SAME_NAMES = {name: name for name in TFMA_NAMES}

# The largest |assay - reference| accepted. Counts and ratios of counts are exact up to float
# rounding. auc_pr is reported but not checked: TFMA interpolates the PR curve (Davis & Goadrich)
# where assay sums steps (average precision), and the two differ by more than rounding on small
# slices. AUC: see auc_tolerance.
TOLERANCES: Dict[str, Optional[float]] = {
    "example_count": 0.0,
    "auc": 1e-4,
    "accuracy": 1e-6,
    "precision": 1e-6,
    "recall": 1e-6,
    "mean_label": 1e-6,
    "mean_prediction": 1e-6,
    "auc_pr": None,
}


def auc_tolerance(reference_metrics: Mapping[str, float], names: Mapping[str, str]) -> float:
    """The accepted AUC difference on one slice: 1e-4, plus two tied pairs' worth.

    TFMA counts scores in 10,000 buckets, and a positive and a negative example whose scores
    fall in one bucket count as half a correctly ordered pair: each such pair moves its AUC by
    0.5 / (P * N) from the exact value (P positives, N negatives in the slice). On large slices
    this averages out to below 1e-4; on a slice of 100 examples one tied pair moves it by 2e-4.
    The tolerance allows 1e-4 plus two such pairs, whichever bucketing (or none) assay uses.
    """
    count = _number(reference_metrics.get(names["example_count"], float("nan")))
    mean_label = _number(reference_metrics.get(names["mean_label"], float("nan")))
    positives = count * mean_label
    pairs = positives * (count - positives)
    if not pairs > 0.5:
        return 1e-4
    return 1e-4 + 1.0 / pairs


def _single_class(reference_metrics: Mapping[str, float], names: Mapping[str, str]) -> bool:
    mean_label = _number(reference_metrics.get(names["mean_label"], float("nan")))
    return mean_label in (0.0, 1.0)


def _key(record: Mapping) -> str:
    return json.dumps(record["slice"], sort_keys=True) + "|" + record["model"]


def _close(a: float, b: float, tol: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= tol


def compare_records(records: Sequence[Mapping], reference: Sequence[Mapping],
                    names: Mapping[str, str], tolerances: Mapping[str, Optional[float]] = None,
                    models: Optional[Sequence[str]] = None) -> Dict:
    """Compares every (slice, model) of the reference with assay's; returns a summary.

    Args:
      records: assay's records (withheld slices have no "metrics" and count as missing).
      reference: the reference records.
      names: assay metric name -> the reference's name for it.
      tolerances: assay metric name -> the largest accepted |difference| (None: reported only).
      models: compare only these models (default: every model the reference has).

    Returns:
      {"ok", "compared" (number of (slice, model) pairs), "slices", "missing_in_assay",
       "extra_in_assay", "max_abs_diff": {metric: value}, "mismatches": [first 20 as text]}.
    """
    tolerances = TOLERANCES if tolerances is None else tolerances
    ours = {_key(r): r for r in records if "metrics" in r and r["model"] != "diff"}
    theirs = {_key(r): r for r in reference
              if models is None or r["model"] in models}
    max_diff = {name: 0.0 for name in names}
    mismatches: List[str] = []
    missing = sorted(k for k in theirs if k not in ours)
    extra = sorted(k for k, r in ours.items() if k not in theirs and
                   (models is None or r["model"] in models))
    compared = 0
    for key, ref in theirs.items():
        mine = ours.get(key)
        if mine is None:
            continue
        compared += 1
        for name, ref_name in names.items():
            if ref_name not in ref["metrics"] or name not in mine["metrics"]:
                mismatches.append(f"{key}: {name} missing "
                                  f"({'assay' if name not in mine['metrics'] else 'reference'})")
                continue
            a = _number(mine["metrics"][name])
            b = _number(ref["metrics"][ref_name])
            if not (math.isnan(a) or math.isnan(b)):
                max_diff[name] = max(max_diff[name], abs(a - b))
            tol = tolerances.get(name)
            if name == "auc" and tol is not None:
                tol = max(tol, auc_tolerance(ref["metrics"], names))
                # AUC is undefined with one class only: assay says NaN, TFMA 0.
                if math.isnan(a) and b == 0.0 and _single_class(ref["metrics"], names):
                    continue
            if tol is not None and not _close(a, b, tol):
                mismatches.append(f"{key}: {name} assay {a!r} vs reference {b!r}")
    ok = not mismatches and not missing and not extra and compared > 0
    return {"ok": ok, "compared": compared,
            "slices": len({json.dumps(r["slice"], sort_keys=True) for r in theirs.values()}),
            "missing_in_assay": missing[:20], "extra_in_assay": extra[:20],
            "max_abs_diff": max_diff, "mismatches": mismatches[:20],
            "mismatch_count": len(mismatches)}


def _number(value) -> float:
    return float("nan") if value is None else float(value)


def load_assay_records(output_dir: str) -> List[Dict]:
    with open(f"{output_dir}/assay_metrics.json", encoding="utf-8") as f:
        return json.load(f)["records"]


def load_reference_records(path: str) -> List[Dict]:
    with open(path, encoding="utf-8") as f:
        return json.load(f)["records"]


def reference_records(frame, prediction: str, slices: Sequence[Sequence[str]],
                      model: str = "candidate") -> List[Dict]:
    """The metrics computed directly from a DataFrame of examples: a slow, plain reference.

    Args:
      frame: one row per example with the slice features, "label" (0/1) and `prediction`.
      prediction: the prediction column.
      slices: feature lists, [] for overall.
      model: the model name the records carry.

    Returns:
      Records with example_count, auc (exact, scikit-learn's roc_auc_score; NaN with one class),
      accuracy, precision, recall (an example is predicted positive when its prediction is
      greater than 0.5), mean_label and mean_prediction.
    """
    import numpy as np
    from sklearn.metrics import roc_auc_score

    def metrics(group) -> Dict[str, float]:
        y = group["label"].to_numpy()
        p = group[prediction].to_numpy(dtype=np.float64)
        predicted = p > 0.5
        tp = float(np.sum(predicted & (y == 1)))
        with np.errstate(invalid="ignore", divide="ignore"):
            return {
                "example_count": float(len(y)),
                "auc": float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan"),
                "accuracy": float(np.mean(predicted == (y == 1))),
                "precision": tp / predicted.sum() if predicted.sum() else float("nan"),
                "recall": tp / y.sum() if y.sum() else float("nan"),
                "mean_label": float(np.mean(y)),
                "mean_prediction": float(np.mean(p)),
            }

    out = []
    for features in slices:
        if not features:
            out.append({"slice": {}, "model": model, "metrics": metrics(frame)})
            continue
        by = list(features) if len(features) > 1 else features[0]
        for values, group in frame.groupby(by):
            values = values if isinstance(values, tuple) else (values,)
            key = {f: (v.item() if hasattr(v, "item") else v) for f, v in zip(features, values)}
            out.append({"slice": key, "model": model, "metrics": metrics(group)})
    return out
