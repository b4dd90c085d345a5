"""The results directory: its format and `load_result`.

    OUTPUT/
      metrics.json     {"version": 1, "task": ..., "records": [...], ...}: one record per
                       (slice, model); model is "candidate", "baseline" or "diff"
                       (candidate - baseline); a withheld slice has "withheld": "<reason>" and
                       "example_count": <examples in the slice> instead of "metrics"
      plots.json       {"records": [{"slice": ..., "model": ..., "plots": {...}}]}: ROC / PR
                       curves, calibration, confusion matrix, residual quantiles
      config.json      the config the evaluation ran with
      validation.json  the verdict and every check (when validation ran)
      blessing/        an empty BLESSED or NOT_BLESSED file
      report.html      the self-contained HTML report (assay report DIR writes it again)

The directory is written by `assay.results.publish.StagedOutput` (staged, then renamed into
place) from the records that `assay.engine.assemble` builds.

Example:
    >>> result = load_result("out/")                                  # doctest: +SKIP
    >>> result.metrics()["auc"], result.metrics({"hour": 3}, "diff")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Mapping, Optional

from assay.errors import DataError, InputNotFound
from assay.results.slices import slice_key

FORMAT_VERSION = 1
METRICS_FILE = "metrics.json"
PLOTS_FILE = "plots.json"
CONFIG_FILE = "config.json"
VALIDATION_FILE = "validation.json"
BLESSING_DIR = "blessing"
MODELS = ("candidate", "baseline", "diff")


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    raise TypeError(f"cannot write {value!r} ({type(value).__name__}) as JSON")


def dumps(obj: Any) -> str:
    """JSON with NaN and infinities written as JSON's NaN / Infinity (read back by json.loads).

    A document with "records" is written one record per line: readable and diffable, and fast
    (json's C encoder only runs without indentation).
    """
    def compact(value):
        return json.dumps(value, default=_json_default, allow_nan=True, separators=(",", ":"))

    if isinstance(obj, dict) and isinstance(obj.get("records"), list):
        head = {k: v for k, v in obj.items() if k != "records"}
        lines = [f" {json.dumps(k)}: {compact(v)}," for k, v in head.items()]
        records = ",\n  ".join(compact(r) for r in obj["records"])
        body = f"\n  {records}\n " if obj["records"] else ""
        return "{\n" + "".join(line + "\n" for line in lines) + f' "records": [{body}]\n}}\n'
    return json.dumps(obj, indent=1, default=_json_default, allow_nan=True)


class EvalResult:
    """The results of one evaluation, as written to its output directory.

    Slices are looked up by value as `assay.results.slices` matches them: {"hour": 3},
    {"hour": 3.0} and {"hour": "3"} name the same slice; {} (or None) is the overall slice.

    Attributes:
      records: the metrics records (see the module docstring).
      info: the other top-level fields of metrics.json (task, models, specs, ...).
      plot_records: the plot records of plots.json.
      validation: the parsed validation.json, or None.
      path: the directory it was read from (None when not yet written).
    """

    def __init__(self, metrics_doc: Mapping[str, Any], plots_doc: Optional[Mapping[str, Any]] = None,
                 validation: Optional[Mapping[str, Any]] = None, config: Optional[Mapping] = None,
                 path: Optional[str] = None):
        self.info = {k: v for k, v in metrics_doc.items() if k != "records"}
        self.records: List[Dict[str, Any]] = list(metrics_doc.get("records", []))
        self.plot_records: List[Dict[str, Any]] = list((plots_doc or {}).get("records", []))
        self.validation = validation
        self.config = config
        self.path = path

    @property
    def task(self) -> str:
        return self.info.get("task")

    @property
    def blessed(self) -> Optional[bool]:
        return None if self.validation is None else bool(self.validation.get("blessed"))

    def slices(self) -> List[Dict[str, Any]]:
        """Every slice, in the order of the records (overall first)."""
        seen, out = set(), []
        for r in self.records:
            key = slice_key(r["slice"])
            if key not in seen:
                seen.add(key)
                out.append(r["slice"])
        return out

    def record(self, slice: Optional[Mapping[str, Any]] = None,
               model: str = "candidate") -> Dict[str, Any]:
        """The record of one slice ({} or None = overall) and model; KeyError if absent."""
        return _find(self.records, slice, model, "record")

    def metrics(self, slice: Optional[Mapping[str, Any]] = None,
                model: str = "candidate") -> Dict[str, Any]:
        """{metric: value} of one slice and model; a withheld slice raises KeyError with why."""
        r = self.record(slice, model)
        if "withheld" in r:
            raise KeyError(f"slice {dict(slice or {})} was withheld: {r['withheld']}")
        return r["metrics"]

    def plots(self, slice: Optional[Mapping[str, Any]] = None,
              model: str = "candidate") -> Dict[str, Any]:
        """The plots of one slice and model (see plots.json); KeyError if absent."""
        return _find(self.plot_records, slice, model, "plots")["plots"]

    def __repr__(self) -> str:
        verdict = "" if self.blessed is None else (", BLESSED" if self.blessed else ", NOT_BLESSED")
        return (f"EvalResult(task={self.task!r}, slices={len(self.slices())}, "
                f"path={self.path!r}{verdict})")

    def _repr_html_(self) -> str:
        # Imported here: the report is only needed in a notebook. The report imports nothing
        # from this module (it takes EvalResult objects as they are), so this is no circle.
        from assay.report import html as report

        return report.render_notebook(self)


def _find(records: List[Dict[str, Any]], slice_: Optional[Mapping[str, Any]], model: str,
          what: str) -> Dict[str, Any]:
    wanted = slice_key(slice_ or {})
    for r in records:
        if r["model"] == model and slice_key(r["slice"]) == wanted:
            return r
    raise KeyError(f"no {what} for slice {dict(slice_ or {})} and model '{model}'")


def load_result(directory: str) -> EvalResult:
    """Reads a results directory written by `assay evaluate`."""
    path = os.path.join(directory, METRICS_FILE)
    if not os.path.exists(path):
        raise InputNotFound(f"{directory} holds no assay results ({METRICS_FILE} is missing)")

    def read(name):
        p = os.path.join(directory, name)
        if not os.path.exists(p):
            return None
        with open(p, encoding="utf-8") as f:
            return json.load(f)

    doc = read(METRICS_FILE)
    if doc.get("version") != FORMAT_VERSION:
        raise DataError(f"{path} has format version {doc.get('version')!r}; this assay reads "
                         f"version {FORMAT_VERSION}")
    return EvalResult(doc, read(PLOTS_FILE), read(VALIDATION_FILE), read(CONFIG_FILE),
                      path=directory)
