"""The `discovered` section of assay_metrics.json, from the examples a pass kept.

    {"settings": {features, max_features, min_size, top, error, loss, alpha, q, threshold},
     "examples": n, "overall_error": mean error of every example,
     "slices": [{"slice": {feature: value}, "size", "examples", "error", "rest_error",
                 "effect", "p_value", "q_value", "confirmed", "score",
                 "metrics": {model: {headline metric: value}}   # confirmed slices only
                 "plots": {model: {"roc_curve" | "pr_curve": {...} thinned to <= 51 points,
                                   "calibration" | "residuals": {...}}}   # likewise
                 }, ...]}                                      # best score first

`size`, `error`, `rest_error`, `effect`, `p_value` are the confirmation half's (the test);
`examples` counts the slice in all the data, on which its metrics are computed. With
`error: regression` each error is the mean of candidate loss - baseline loss.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Tuple

import numpy as np

from assay.discovery.accumulate import discovered_section
from assay.discovery.discover import discover
from assay.discovery.examples import ExampleStore


def build_section(store: ExampleStore, settings: Mapping[str, Any], *, paired: bool,
                  families: Mapping[str, Any], headline: Tuple[str, ...]) -> Dict[str, Any]:
    """The section from a merged store.

    Args:
      store: every example of the pass.
      settings: the `discover:` settings as written (DiscoverConfig.to_config(), resolved).
      paired: the errors are candidate - baseline differences (error: regression).
      families: {model: a metric family (create/add/result)} computing the headline metrics.
      headline: the metric names reported per confirmed slice.
    """
    n = len(store)
    errors = store.error_values()
    features, labels = _feature_codes(store)
    search_errors = np.maximum(errors, 0.0) if paired else errors
    found = [] if n == 0 else discover(
        search_errors, features, ids=store.key_values(), max_features=settings["max_features"],
        min_size=settings["min_size"], top=settings["top"], alpha=settings["alpha"],
        fdr=settings["q"], tested=errors if paired else None)
    for s in found:  # codes back to the values they stand for
        s.slice = {name: labels[name][code] for name, code in s.slice.items()}
    section = discovered_section(found, settings)
    section["examples"] = n
    section["overall_error"] = float(errors.mean()) if n else None
    codes = {name: codes for name, codes in features.items()}
    code_of = {name: {v: c for c, v in enumerate(labels[name])} for name in labels}
    for item in section["slices"]:
        mask = np.ones(n, dtype=bool)
        for name, value in item["slice"].items():
            mask &= codes[name] == code_of[name][value]
        item["examples"] = int(mask.sum())
        if item["confirmed"]:
            computed = {m: _computed(store, m, mask, fam) for m, fam in families.items()}
            item["metrics"] = {m: _headline(values, headline)
                               for m, (values, _) in computed.items()}
            item["plots"] = {m: _small_plots(plots) for m, (_, plots) in computed.items()}
    return {key: section[key] for key in ("settings", "examples", "overall_error", "slices")}


def _feature_codes(store: ExampleStore) -> Tuple[Dict[str, np.ndarray], Dict[str, list]]:
    """({feature: int codes (n,)}, {feature: the value of each code}) in `discover:` order;
    quantile features bucketed at the exact quantiles of their values."""
    from assay.engine.slicing import bucket_labels

    categorical = store.categorical()
    codes, labels = {}, {}
    for name, q in store.features:
        if q is None:
            codes[name], labels[name] = categorical[name]
            continue
        values = store.numeric(name)
        finite = values[np.isfinite(values)]
        bounds = np.unique(np.quantile(finite, np.arange(1, q) / q)) if len(finite) else \
            np.zeros(0)
        code = np.searchsorted(bounds, values, side="right")
        code[~np.isfinite(values)] = len(bounds) + 1  # missing: a level of its own
        codes[name], labels[name] = code, bucket_labels(bounds.tolist()) + [None]
    return codes, labels


def _computed(store: ExampleStore, model: str, mask: np.ndarray, family: Any
              ) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """(metrics, plots) of one model on the examples of a slice (every example, both halves;
    weighted as the rest of the evaluation)."""
    from assay.metrics.batch import ModelBatch

    labels, predictions = store.model_arrays(model)
    rows = np.flatnonzero(mask)
    batch = ModelBatch(labels[rows], predictions[rows], store.weight_values()[rows])
    acc = family.add(family.create(), batch)
    return family.result(acc), (family.plots(acc) or {})


# The plots kept for a discovered slice: curves thinned (their aligned lists), small ones whole.
_CURVES = ("roc_curve", "pr_curve")
_WHOLE = ("calibration", "residuals")
MAX_CURVE_POINTS = 51


def _small_plots(plots: Mapping[str, Any]) -> Dict[str, Any]:
    """The slice's curves with at most MAX_CURVE_POINTS points (evenly spaced, the first and
    last kept), and its calibration / residual plot, as strict-JSON numbers."""
    def clean(values):
        return [float(v) if v is not None and math.isfinite(float(v)) else None for v in values]

    out: Dict[str, Any] = {}
    for name in _CURVES:
        curve = plots.get(name)
        if isinstance(curve, Mapping) and curve:
            n = min(len(v) for v in curve.values())
            keep = sorted(set(np.linspace(0, n - 1, min(n, MAX_CURVE_POINTS)).round()
                              .astype(int).tolist())) if n else []
            out[name] = {k: clean([v[i] for i in keep]) for k, v in curve.items()}
    for name in _WHOLE:
        plot = plots.get(name)
        if isinstance(plot, Mapping):
            out[name] = {k: clean(v) if isinstance(v, (list, tuple)) else v
                         for k, v in plot.items()}
    return out


def _headline(values: Mapping[str, Any], headline: Tuple[str, ...]) -> Dict[str, Any]:
    """The headline metrics among `values`, non-finite ones as None (strict JSON)."""
    out = {}
    for name in headline:
        if name in values:
            v = values[name]
            out[name] = float(v) if v is not None and math.isfinite(float(v)) else None
    return out


__all__ = ["build_section"]
