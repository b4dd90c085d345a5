"""The results directory: its format and `load_result`.

    OUTPUT/
      assay_metrics.json  {"version": 2, "task": ..., "records": [...], ...}: one record per
                          (slice, model); model is "candidate", "baseline" or "diff"
                          (candidate - baseline); a withheld slice has "withheld": "<reason>"
                          and "example_count": <examples in the slice> instead of "metrics";
                          a metric that is not finite is null, and the record's "undefined"
                          says why ({"precision": "no predicted positives ..."}); counts are
                          integers (assay.results.undefined)
      assay_plots.json    {"records": [{"slice": ..., "model": ..., "plots": {...}}]}: ROC /
                          PR curves, calibration, confusion matrix, residual quantiles
      config.json         the config the evaluation ran with
      validation.json     the verdict and every check (when validation ran)
      blessing/           an empty BLESSED or NOT_BLESSED file
      report.html         the self-contained HTML report (assay report DIR writes it again)
      metrics-00000-of-00001.tfrecord, plots-00000-of-00001.tfrecord, validations.tfrecord,
      eval_config.json    TFMA's own files, for TFMA's readers (assay.results.tfma_files)

assay's own metrics and plots files carry the `assay_` prefix so that no TFMA reader's glob
(`metrics*`, `plots*`, `validations*`) picks them up beside the TFMA files of the same
directory. Results written before the prefix (`metrics.json`, `plots.json`) are still read.

Every JSON file is strict RFC 8259 (no NaN or Infinity: `dumps`). Format version 1 wrote bare
NaN and float counts; `load_result` reads versions 1 and 2 and gives the same values for both:
a null metric reads back as float('nan').

The directory is written by `assay.results.publish.StagedOutput` from the records that
`assay.engine.assemble` builds: locally staged, then swapped into place; on an object store
(gs://, s3://, ...) as a generation OUTPUT/.runs/RUN/ holding the files above, published by
the commit object OUTPUT/_ASSAY_COMMIT.json ({"format": 1, "run": RUN, "files": {name: size}}),
written last. `load_result` follows the commit object where there is one.

Example:
    >>> result = load_result("out/")                                  # doctest: +SKIP
    >>> result.metrics()["auc"], result.metrics({"hour": 3}, "diff")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Dict, List, Mapping, Optional

from assay import fastjson
from assay.data import files
from assay.errors import DataError, InputNotFound, StorageError
from assay.results.slices import slice_key
from assay.results.undefined import restore_record, strict

FORMAT_VERSION = 2
READ_VERSIONS = (1, 2)  # version 1: bare NaN, float counts, no "undefined"
METRICS_FILE = "assay_metrics.json"
PLOTS_FILE = "assay_plots.json"
# The names of the same files before the `assay_` prefix: load_result reads them too.
LEGACY_NAMES = {METRICS_FILE: "metrics.json", PLOTS_FILE: "plots.json"}
CONFIG_FILE = "config.json"
VALIDATION_FILE = "validation.json"
BLESSING_DIR = "blessing"
REPORT_FILE = "report.html"
RESULT_FILES = (METRICS_FILE, PLOTS_FILE, CONFIG_FILE, VALIDATION_FILE, REPORT_FILE)
COMMIT_FILE = "_ASSAY_COMMIT.json"  # names the published generation (see the module docstring)
COMMIT_FORMAT = 1
RUNS_DIR = ".runs"                  # the generations: RUNS_DIR/RUN/
_READ_ATTEMPTS = 3                  # a commit may replace the generation while it is read
_STAGING_INFIX = ".assay-"          # local staging: .OUTPUT.assay-RUN beside OUTPUT
MODELS = ("candidate", "baseline", "diff")


def _strict_dumps(value: Any, **kwargs: Any) -> str:
    """json.dumps that never writes NaN or Infinity: non-finite numbers become null."""
    try:  # the fast path: json's C encoder, for the (usual) value with finite numbers only
        return json.dumps(value, default=fastjson.json_value, allow_nan=False, **kwargs)
    except ValueError:
        return json.dumps(strict(value), default=fastjson.json_value, allow_nan=False, **kwargs)


def dumps(obj: Any) -> str:
    """Strict JSON (RFC 8259): a non-finite number is written as null (assay_metrics.json's
    records say why in "undefined": `assay.results.undefined.finish_records`).

    A document with "records" (assay_metrics.json, assay_plots.json) or "slices"
    (assay_sketches.json) is written one record or slice per line: readable and diffable, and
    fast (json's C encoder only runs without indentation).
    """
    def compact(value):  # orjson where installed: about 15x faster on float curves
        return fastjson.compact(value, lambda v: _strict_dumps(v, separators=(",", ":")))

    rows = next((k for k in ("records", "slices") if isinstance(obj, dict)
                 and isinstance(obj.get(k), list)), None)
    if rows is not None:
        head = {k: v for k, v in obj.items() if k != rows}
        lines = [f" {json.dumps(k)}: {compact(v)}," for k, v in head.items()]
        records = ",\n  ".join(compact(r) for r in obj[rows])
        body = f"\n  {records}\n " if obj[rows] else ""
        return ("{\n" + "".join(line + "\n" for line in lines) +
                f' {json.dumps(rows)}: [{body}]\n}}\n')
    return _strict_dumps(obj, indent=1)


class EvalResult:
    """The results of one evaluation, as written to its output directory.

    Slices are looked up by value as `assay.results.slices` matches them: {"hour": 3},
    {"hour": 3.0} and {"hour": "3"} name the same slice; {} (or None) is the overall slice.

    Attributes:
      records: the metrics records (see the module docstring).
      info: the other top-level fields of assay_metrics.json (task, models, specs, ...).
      plot_records: the plot records of assay_plots.json.
      validation: the parsed validation.json, or None.
      path: the directory it was read from (None when not yet written).
      location: where its files are: `path`, or on an object store the published generation
        (path/.runs/RUN).
    """

    def __init__(self, metrics_doc: Mapping[str, Any], plots_doc: Optional[Mapping[str, Any]] = None,
                 validation: Optional[Mapping[str, Any]] = None, config: Optional[Mapping] = None,
                 path: Optional[str] = None, location: Optional[str] = None):
        self.info = {k: v for k, v in metrics_doc.items() if k != "records"}
        self.records: List[Dict[str, Any]] = list(metrics_doc.get("records", []))
        self.plot_records: List[Dict[str, Any]] = list((plots_doc or {}).get("records", []))
        self.validation = validation
        self.config = config
        self.path = path
        self.location = location or path
        # Set by assay.evaluate on a result kept in memory: writes it (see save).
        self.saver: Optional[Callable[[str, bool], "EvalResult"]] = None

    @property
    def task(self) -> str:
        return self.info.get("task")

    @property
    def blessed(self) -> Optional[bool]:
        return None if self.validation is None else bool(self.validation.get("blessed"))

    @property
    def sketches(self) -> Optional[Dict[str, Any]]:
        """assay_sketches.json (per-slice drift sketches, assay.drift.files), read on first
        use; None when the result has none."""
        if "_sketches" not in self.__dict__:
            from assay.drift.files import read_sketches

            self.__dict__["_sketches"] = read_sketches(self.location)
        return self.__dict__["_sketches"]

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
        """{metric: value} of one slice and model; a withheld slice raises KeyError with why.

        A value that is undefined (null in the file) is float('nan'); `undefined` says why.
        """
        r = self.record(slice, model)
        if "withheld" in r:
            raise KeyError(f"slice {dict(slice or {})} was withheld: {r['withheld']}")
        return r["metrics"]

    def undefined(self, slice: Optional[Mapping[str, Any]] = None,
                  model: str = "candidate") -> Dict[str, str]:
        """{metric: why its value is not finite} of one slice and model ({} when every value
        is finite, and for results of format version 1, which did not record it).

        Example:
            >>> result.undefined({"hour": 3})     # doctest: +SKIP
            {'precision': 'no predicted positives (no prediction above 0.5)'}
        """
        return dict(self.record(slice, model).get("undefined") or {})

    def plots(self, slice: Optional[Mapping[str, Any]] = None,
              model: str = "candidate") -> Dict[str, Any]:
        """The plots of one slice and model (see assay_plots.json); KeyError if absent."""
        return _find(self.plot_records, slice, model, "plots")["plots"]

    def to_dataframe(self):
        """The metrics as a tidy pandas DataFrame: one row per (slice, model, metric), with a
        column per slicing feature, slice (its label), model, metric, value, and lower and
        upper when the evaluation computed confidence intervals (`assay.results.frame`).

        Example:
            >>> df = result.to_dataframe()                            # doctest: +SKIP
            >>> df[(df.model == "candidate") & (df.metric == "auc")]  # doctest: +SKIP
        """
        from assay.results.frame import to_dataframe

        return to_dataframe(self.records)

    def save(self, path: str, write_report: bool = True) -> "EvalResult":
        """Writes a result that `assay.evaluate(..., output=None)` kept in memory to `path`
        (local or remote), exactly as `output=path` would have: the same staged publisher, the
        same files (TFMA's too), the report. Returns the result read back from `path`; this
        one then names `path` too.

        Raises:
          ValueError: the result was read from a directory (it is written already: copy it).
          StorageError: `path` cannot be written.

        Example:
            >>> result = assay.evaluate(config, df)                  # doctest: +SKIP
            >>> result.save("out/")                                  # doctest: +SKIP
        """
        if self.saver is None:
            raise ValueError(f"this result was read from {self.path}, so it is written "
                             f"already; save() writes results that assay.evaluate kept in "
                             f"memory (output=None)")
        saved = self.saver(os.fspath(path), write_report)
        self.path, self.location = saved.path, saved.location
        return saved

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
    """The record; SliceNotFound (a KeyError) naming the nearest slices (results.lookup)."""
    from assay.results.lookup import find_record

    return find_record(records, slice_, model, what)


def read_commit(directory: str) -> Optional[Dict[str, Any]]:
    """The commit object of a results directory (see the module docstring), or None.

    Raises:
      StorageError: the commit object is there but is not one assay wrote.
    """
    path = files.join(directory, COMMIT_FILE)
    try:
        with files.open_read(path) as f:
            text = f.read()
    except FileNotFoundError:
        return None
    try:
        doc = json.loads(text)
        ok = (doc.get("format") == COMMIT_FORMAT and isinstance(doc.get("run"), str)
              and isinstance(doc.get("files"), dict))
    except (ValueError, AttributeError):
        ok = False
    if not ok:
        raise StorageError(f"{path} is not an assay commit object (expected {{\"format\": "
                           f"{COMMIT_FORMAT}, \"run\": ..., \"files\": {{...}}}})")
    return doc


def has_result(directory: str) -> bool:
    """True when `directory` holds a published assay result (a commit object or a metrics
    file, under its name or its legacy name)."""
    return (files.exists(files.join(directory, COMMIT_FILE))
            or files.exists(files.join(directory, METRICS_FILE))
            or files.exists(files.join(directory, LEGACY_NAMES[METRICS_FILE])))


def load_result(directory: str) -> EvalResult:
    """Reads a results directory written by `assay evaluate`, local or remote (gs://, s3://...).

    Raises:
      InputNotFound: nothing published there; a run that was staged but never committed is
        named ("... holds an incomplete assay result: ...").
      StorageError: the commit object names files that are missing or of another size.
      DataError: another format version (this assay reads versions 1 and 2).
    """
    directory = os.fspath(directory)
    if files.is_remote(directory):
        directory = directory.rstrip("/")
    for _ in range(_READ_ATTEMPTS):
        commit = read_commit(directory)
        if commit is None:
            if files.is_remote(directory):
                return _read_documents(directory, directory)
            # A local result is swapped in whole (a rename): if that happened while its files
            # were read one by one, they may come from two runs; read the new one again.
            before = _inode(directory)
            result = _read_documents(directory, directory)
            if _inode(directory) == before:
                return result
            continue
        location = files.join(directory, RUNS_DIR, commit["run"])
        present = files.file_sizes(location)
        problem = _missing_files(location, commit, present)
        if problem is None:
            return _read_documents(directory, location, present)
        if (read_commit(directory) or {}).get("run") == commit["run"]:
            raise StorageError(f"{directory} holds an incomplete assay result: {COMMIT_FILE} "
                               f"names run {commit['run']}, but {problem}")
        # A newer run was published (and ours deleted) while we read: read that one.
    raise StorageError(f"cannot read {directory}: it was republished {_READ_ATTEMPTS} times "
                       f"while being read; try again")


def _inode(path: str) -> Optional[int]:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def _missing_files(location: str, commit: Mapping[str, Any], present: Mapping[str, int]
                   ) -> Optional[str]:
    """What of the commit's documents is not `present` in `location`, or None when all are."""
    for name, size in sorted(commit["files"].items()):
        if name == REPORT_FILE:  # `assay report` may write it again
            continue
        if name not in present:
            return f"{files.join(location, name)} is missing (expected {size} bytes)"
        if present[name] != size:
            return (f"{files.join(location, name)} has {present[name]} bytes (the commit "
                    f"says {size})")
    return None


def _read_documents(directory: str, location: str,
                    present: Optional[Mapping[str, int]] = None) -> EvalResult:
    """The result in `location`; `present`: its files, when already listed (one call less
    per file on an object store)."""
    if present is None:
        present = {name: -1 for name in (*LEGACY_NAMES, *LEGACY_NAMES.values(), VALIDATION_FILE,
                                         CONFIG_FILE)
                   if files.exists(files.join(location, name))}
    names = {name: (LEGACY_NAMES[name] if name not in present and
                    LEGACY_NAMES.get(name) in present else name)
             for name in (METRICS_FILE, PLOTS_FILE, VALIDATION_FILE, CONFIG_FILE)}
    path = files.join(location, names[METRICS_FILE])
    if names[METRICS_FILE] not in present:
        raise InputNotFound(_not_found(directory))

    def read(name):
        name = names[name]
        if present is not None and name not in present:
            return None
        try:
            with files.open_read(files.join(location, name)) as f:
                return fastjson.loads(f.read())
        except FileNotFoundError:
            return None

    doc = read(METRICS_FILE)
    if doc.get("version") not in READ_VERSIONS:
        raise DataError(f"{path} has format version {doc.get('version')!r}; this assay reads "
                         f"versions {', '.join(map(str, READ_VERSIONS))}")
    if doc["version"] >= 2:  # nulls back to NaN: the same values as a version-1 file gives
        doc["records"] = [restore_record(r) for r in doc.get("records", [])]
    return EvalResult(doc, read(PLOTS_FILE), read(VALIDATION_FILE), read(CONFIG_FILE),
                      path=directory, location=location)


def staging_name(output: str, run: str) -> str:
    """The local staging directory of `run` for the local results directory `output`."""
    parent, name = os.path.split(os.path.abspath(output))
    return os.path.join(parent, f".{name}{_STAGING_INFIX}{run}")


def staged_runs(output: str) -> List[str]:
    """The run ids that have staging for `output` (published or not), sorted (oldest first)."""
    if files.is_remote(output):
        runs = files.join(output.rstrip("/"), RUNS_DIR)
        return files.list_dir(runs, hidden=True)[1] if files.is_dir(runs) else []
    prefix = os.path.basename(staging_name(output, ""))
    try:
        names = os.listdir(os.path.dirname(os.path.abspath(output)))
    except OSError:
        return []
    return sorted(n[len(prefix):] for n in names if n.startswith(prefix))


def _not_found(directory: str) -> str:
    """Why there is no result: nothing at all, or a run that never published (by name)."""
    runs = staged_runs(directory)
    if not runs:
        return f"{directory} holds no assay results ({METRICS_FILE} is missing)"
    if files.is_remote(directory):
        where, missing = files.join(directory, RUNS_DIR, runs[-1]), COMMIT_FILE
    else:
        where, missing = staging_name(directory, runs[-1]), "the directory itself"
    return (f"{directory} holds an incomplete assay result: run {runs[-1]} was staged in "
            f"{where} but never published ({missing} is missing): it failed, was killed, or "
            f"is still running; run the evaluation again")
