"""Pass extensions: what the pass computes beside the per-slice metrics, in the same read.

Weak-slice discovery needs each example's error and features; drift needs sketches of the
features and predictions; both are accumulated while the batches go by, merged across workers
like the metrics, and turned into a section of assay_metrics.json at the end. An extension
says how, in four steps that both engines run (assay.engine.passes calls them; the Beam engine
carries the accumulators with the pass's diagnostics, so they merge on any runner):

    ext = extension(plan)                 # built from the plan on every worker: picklable
    acc = ext.create()
    acc = ext.add(acc, view)              # each batch: a BatchView (below)
    acc = acc.merge([other, ...])         # the accumulator merges itself, in file order
    section = ext.extract(acc, doc)       # doc: the metrics document built so far
                                          # ("records", ...); the section or None

EXTENSIONS maps a name (the key of its section in assay_metrics.json, e.g. "discovered") to
"module:function", a factory taking the EvalPlan and returning the extension, or None when
the config does not ask for it. Modules are imported only when a pass runs.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Dict, List, Mapping, Optional

import numpy as np
import pyarrow as pa

from assay.lazy import load

# name -> "module:factory"; the factory(plan) returns an extension or None. Order: the order
# of the sections in assay_metrics.json.
EXTENSIONS: Dict[str, str] = {
    "discovered": "assay.discovery.extension:extension",
    "drift": "assay.drift.extension:extension",
    "sensitivity": "assay.perturb.extension:extension",
    "history": "assay.history.extension:extension",
}


@dataclasses.dataclass
class BatchView:
    """One batch as the metrics saw it.

    Attributes:
      batch: the examples' columns (after the model's preprocessing, if any), only the rows
        that were evaluated (those with invalid values skipped).
      raw: the batch as read, every row (its serialized examples, for a model that parses them).
      per_model: {model name: ModelBatch} of the evaluated rows (labels, predictions, weights).
      path: the file the batch comes from; start: the index in that file of the batch's first
        row (of `raw`); kept: the indices into `raw` of the evaluated rows (None: all of them).
      row_keys: a stable 64-bit key of each evaluated row (its file's name and row index,
        assay.metrics.bootstrap.row_keys): the same whatever the workers, shards and batches;
        made by `keys_of` on first read (hashing every row costs; few extensions read them).
      adapters: {model name: loaded model adapter} (None for a prediction column).
    """

    batch: pa.RecordBatch
    raw: pa.RecordBatch
    per_model: Mapping[str, Any]
    path: str
    start: int
    kept: Optional[np.ndarray]
    keys_of: Callable[[], np.ndarray]  # makes row_keys: few extensions read them
    adapters: Mapping[str, Any]

    @functools.cached_property
    def row_keys(self) -> np.ndarray:
        return self.keys_of()


def active(plan: Any) -> Dict[str, Any]:
    """{name: extension} of the extensions the plan's config asks for, in EXTENSIONS order."""
    out = {}
    for name, where in EXTENSIONS.items():
        factory = load(where, absent=None)
        if factory is None:  # not built into this assay
            continue
        ext = factory(plan)
        if ext is not None:
            out[name] = ext
    return out


def merge(accs: List[Mapping[str, Any]], plan: Any = None) -> Dict[str, Any]:
    """Merges the {name: accumulator} dicts of several shards, in the order given. Each
    accumulator merges itself: `acc.merge([others])` returns the merged one."""
    out: Dict[str, Any] = {}
    for item in accs:
        for name, acc in (item or {}).items():
            out[name] = acc if name not in out else out[name].merge([acc])
    return out


def sections(plan: Any, accs: Mapping[str, Any], doc: Mapping[str, Any]) -> Dict[str, Any]:
    """{name: section} of the extensions that produced one, from their merged accumulators."""
    out = {}
    for name, ext in active(plan).items():
        if name in accs:
            section = ext.extract(accs[name], doc)
            if section is not None:
                out[name] = section
    return out


__all__ = ["BatchView", "EXTENSIONS", "active", "merge", "sections"]
