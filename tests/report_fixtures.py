"""Results for the report tests: a synthetic binary result with thousands of slices.

The engine's own output is used where it is cheap (tests/test_report.py evaluates small data);
a result with 5,000 slices is built here directly in the results format (assay_metrics.json and
assay_plots.json records, validation.json), since evaluating that many slices would only slow the
tests down without changing what the report is given.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List

import numpy as np

from assay import validation
from assay.engine.assemble import diff_metrics, withheld_reason
from assay.results.result import EvalResult

MIN_SLICE_SIZE = 30


def _binary_metrics(rng: np.random.Generator, n: int, quality: float) -> Dict[str, float]:
    auc = float(np.clip(rng.normal(quality, 0.04), 0.5, 0.99))
    precision, recall = float(rng.uniform(0.5, 0.9)), float(rng.uniform(0.4, 0.9))
    return {"example_count": float(n), "weighted_example_count": float(n) * 1.1, "auc": auc,
            "auc_pr": auc - 0.05, "accuracy": float(rng.uniform(0.6, 0.9)),
            "precision": precision, "recall": recall,
            "f1": 2 * precision * recall / (precision + recall),
            "log_loss": float(rng.uniform(0.3, 0.7)), "mean_label": 0.5,
            "mean_prediction": float(rng.uniform(0.4, 0.6)),
            "calibration": float(rng.uniform(0.9, 1.1)) if n > 40 else math.nan}


def _binary_plots(rng: np.random.Generator, auc: float, points: int = 200) -> Dict[str, Any]:
    fpr = np.linspace(0, 1, points)
    power = (1 - auc) / auc
    tpr = fpr ** power
    thresholds = [None] + list(np.round(np.linspace(1, 0, points - 1), 4))
    bins = [i / 10 for i in range(10)]
    mean_prediction = [b + 0.05 for b in bins]
    return {
        "roc_curve": {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "thresholds": thresholds},
        "pr_curve": {"precision": (1 - 0.5 * fpr).tolist(), "recall": tpr.tolist(),
                     "thresholds": thresholds[1:] + [0.0]},
        "calibration": {"bins": bins, "mean_prediction": mean_prediction,
                        "mean_label": [float(np.clip(p + rng.normal(0, 0.03), 0, 1))
                                       for p in mean_prediction],
                        "weight": [float(rng.uniform(10, 100)) for _ in bins]},
    }


def big_result(n_slices: int = 5000, seed: int = 0, with_plots: bool = True) -> EvalResult:
    """A binary result with a baseline: the overall slice and `n_slices` slices of [store].

    Every 50th store is small enough to be withheld (below MIN_SLICE_SIZE); a threshold
    `auc min 0.7` on every store fails on the weakest stores.
    """
    rng = np.random.default_rng(seed)
    records: List[Dict[str, Any]] = []
    plot_records: List[Dict[str, Any]] = []
    slices = [{}] + [{"store": f"store-{i:05d}"} for i in range(n_slices)]
    for k, s in enumerate(slices):
        n = 100_000 if not s else (12 if k % 50 == 0 else int(rng.integers(40, 5000)))
        if s and n < MIN_SLICE_SIZE:
            why = withheld_reason(n, MIN_SLICE_SIZE)
            records += [{"slice": s, "model": m, "withheld": why, "example_count": n}
                        for m in ("candidate", "baseline", "diff")]
            continue
        cand, base = _binary_metrics(rng, n, 0.8), _binary_metrics(rng, n, 0.77)
        records += [{"slice": s, "model": "candidate", "metrics": cand},
                    {"slice": s, "model": "baseline", "metrics": base},
                    {"slice": s, "model": "diff", "metrics": diff_metrics(cand, base)}]
        if with_plots:
            plot_records += [{"slice": s, "model": "candidate",
                              "plots": _binary_plots(rng, cand["auc"])},
                             {"slice": s, "model": "baseline",
                              "plots": _binary_plots(rng, base["auc"])}]
    thresholds, options = validation.parse_validation({"thresholds": [
        {"metric": "auc", "min": 0.7, "max_regression": 0.05},
        {"metric": "auc", "slices": [["store"]], "min": 0.7}]})
    verdict = validation.validate(records, thresholds, options, has_baseline=True)
    doc = {"version": 1, "task": "binary", "class_names": None,
           "models": {"candidate": {"prediction": "p"}, "baseline": {"prediction": "old_p"}},
           "slicing_specs": [{"name": "overall", "spec": []}, {"name": "store", "spec": ["store"]}],
           "min_slice_size": MIN_SLICE_SIZE, "examples_read": 100_000, "skipped_examples": {},
           "quantile_boundaries": {}, "baseline_error": None, "records": records}
    return EvalResult(doc, {"version": 1, "records": plot_records}, verdict.to_dict(),
                      path=f"big-{n_slices}")
