"""The results directory: its format, how it is written, and `load_result`.

    OUTPUT/
      metrics.json     {"version": 1, "task": ..., "records": [...], ...}: one record per
                       (slice, model); model is "candidate", "baseline" or "diff"
                       (candidate - baseline); a withheld slice has "withheld": "<reason>"
                       instead of "metrics"
      plots.json       {"records": [{"slice": ..., "model": ..., "plots": {...}}]}: ROC / PR
                       curves, calibration, confusion matrix, residual quantiles
      config.json      the config the evaluation ran with
      validation.json  the verdict and every check (when validation ran)
      blessing/        an empty BLESSED or NOT_BLESSED file
      report.html      the self-contained HTML report (assay report DIR writes it again)

Everything is written into a temporary directory beside OUTPUT and renamed into place at the end,
so OUTPUT is either the previous complete result or the new complete result, never half of one.

Example:
    >>> result = load_result("out/")                                  # doctest: +SKIP
    >>> result.metrics()["auc"], result.metrics({"hour": 3}, "diff")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from typing import Any, Dict, List, Mapping, Optional, Sequence

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
            key = json.dumps(r["slice"], sort_keys=True)
            if key not in seen:
                seen.add(key)
                out.append(r["slice"])
        return out

    def record(self, slice: Optional[Mapping[str, Any]] = None,
               model: str = "candidate") -> Dict[str, Any]:
        """The record of one slice ({} or None = overall) and model; KeyError if absent."""
        wanted = dict(slice or {})
        for r in self.records:
            if r["model"] == model and r["slice"] == wanted:
                return r
        raise KeyError(f"no record for slice {wanted} and model '{model}'")

    def metrics(self, slice: Optional[Mapping[str, Any]] = None,
                model: str = "candidate") -> Dict[str, Any]:
        """{metric: value} of one slice and model; a withheld slice raises KeyError with why."""
        r = self.record(slice, model)
        if "withheld" in r:
            raise KeyError(f"slice {dict(slice or {})} was withheld: {r['withheld']}")
        return r["metrics"]

    def plots(self, slice: Optional[Mapping[str, Any]] = None,
              model: str = "candidate") -> Dict[str, Any]:
        wanted = dict(slice or {})
        for r in self.plot_records:
            if r["model"] == model and r["slice"] == wanted:
                return r["plots"]
        raise KeyError(f"no plots for slice {wanted} and model '{model}'")

    def __repr__(self) -> str:
        verdict = "" if self.blessed is None else (", BLESSED" if self.blessed else ", NOT_BLESSED")
        return (f"EvalResult(task={self.task!r}, slices={len(self.slices())}, "
                f"path={self.path!r}{verdict})")

    def _repr_html_(self) -> str:
        from assay.report import html as report

        return report.render_notebook(self)


def load_result(directory: str) -> EvalResult:
    """Reads a results directory written by `assay evaluate`."""
    path = os.path.join(directory, METRICS_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{directory} holds no assay results ({METRICS_FILE} is missing)")

    def read(name):
        p = os.path.join(directory, name)
        if not os.path.exists(p):
            return None
        with open(p, encoding="utf-8") as f:
            return json.load(f)

    doc = read(METRICS_FILE)
    if doc.get("version") != FORMAT_VERSION:
        raise ValueError(f"{path} has format version {doc.get('version')!r}; this assay reads "
                         f"version {FORMAT_VERSION}")
    return EvalResult(doc, read(PLOTS_FILE), read(VALIDATION_FILE), read(CONFIG_FILE),
                      path=directory)


class StagedOutput:
    """A temporary directory beside `output` that becomes `output` on commit().

    Example:
        with StagedOutput("out") as staged:
            write files under staged.path ...
            staged.commit()
    """

    def __init__(self, output: str):
        self.output = os.path.abspath(output)
        parent, name = os.path.split(self.output)
        os.makedirs(parent, exist_ok=True)
        if os.path.exists(self.output) and not os.path.isdir(self.output):
            raise FileExistsError(f"output {output} exists and is not a directory")
        self.path = os.path.join(parent, f".{name}.tmp-{uuid.uuid4().hex[:8]}")
        os.makedirs(self.path)
        self._done = False

    def write_json(self, name: str, obj: Any) -> None:
        target = os.path.join(self.path, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w", encoding="utf-8") as f:
            f.write(dumps(obj))

    def commit(self) -> None:
        """Replaces `output` with the staged directory (the old one is kept until the swap)."""
        old = None
        if os.path.exists(self.output):
            old = self.path + "-old"
            os.rename(self.output, old)
        os.rename(self.path, self.output)
        if old:
            shutil.rmtree(old, ignore_errors=True)
        self._done = True

    def __enter__(self) -> "StagedOutput":
        return self

    def __exit__(self, *exc) -> None:
        if not self._done:
            shutil.rmtree(self.path, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Assembling the records from the pass's per-slice results

_BUCKET = re.compile(r"^[\[(](-inf|-?[0-9.e+-]+), ")


def _sort_value(value: Any) -> tuple:
    if isinstance(value, str):
        m = _BUCKET.match(value)
        if m:
            return (1, float(m.group(1)), value)
        return (2, 0.0, value)
    if isinstance(value, bool):
        return (0, float(value), "")
    return (0, float(value), "")


def diff_metrics(candidate: Mapping[str, Any], baseline: Mapping[str, Any]) -> Dict[str, float]:
    """candidate - baseline for every numeric metric the two share."""
    out = {}
    for name, value in candidate.items():
        other = baseline.get(name)
        if isinstance(value, (int, float)) and isinstance(other, (int, float)) and \
                not isinstance(value, bool):
            out[name] = value - other
    return out


def assemble(slice_results: Sequence[tuple], spec_features: Sequence[Sequence[str]],
             models: Sequence[str], min_slice_size: int,
             metric_filter: Optional[Sequence[str]] = None):
    """Builds the metrics and plot records from [(slice key, {model: {metrics, plots}})].

    Records come ordered by slicing spec (in config order), then by slice value; for each slice
    the candidate, the baseline, then the diff.
    """
    spec_index = {}
    for i, feats in enumerate(spec_features):
        spec_index.setdefault(tuple(feats), i)

    def order(item):
        key = item[0]
        feats = tuple(k for k, _ in key)
        return (spec_index.get(feats, len(spec_index)), feats,
                tuple(_sort_value(v) for _, v in key))

    keep = None
    if metric_filter:
        keep = set(metric_filter) | {"example_count", "weighted_example_count"}
    records, plot_records = [], []
    for key, per_model in sorted(slice_results, key=order):
        slice_json = {k: v for k, v in key}
        count = per_model["candidate"]["metrics"].get("example_count", 0)
        withheld = None
        if key and count < min_slice_size:
            withheld = (f"withheld: {int(count)} examples, fewer than min_slice_size "
                        f"{min_slice_size}")
        names = list(models) + (["diff"] if "baseline" in models else [])
        for model in names:
            if withheld:
                records.append({"slice": slice_json, "model": model, "withheld": withheld})
                continue
            if model == "diff":
                metrics = diff_metrics(per_model["candidate"]["metrics"],
                                       per_model["baseline"]["metrics"])
            else:
                metrics = per_model[model]["metrics"]
                plots = per_model[model]["plots"]
                if plots:
                    plot_records.append({"slice": slice_json, "model": model, "plots": plots})
            if keep is not None:
                metrics = {k: v for k, v in metrics.items() if k in keep or
                           any(k.startswith(m + "/") for m in keep)}
            records.append({"slice": slice_json, "model": model, "metrics": metrics})
    return records, plot_records

