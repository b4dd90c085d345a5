"""`assay monitor`: one scheduled evaluation on fresh data, appended to a history.

    assay monitor --config C --examples E --history DIR [--model M] [--run NAME]
                  [--mlmd STORE [--mlmd-pipeline NAME]]

Each run writes its results to DIR/NAME (NAME: the UTC time, 20250101T060000Z, unless given),
with the config's `history:` set to the earlier runs in DIR (by name, oldest first; with
--mlmd, to the store's pipeline instead, where each run is also recorded) and, unless the config names one, `reference:` set to the
newest earlier run, so the drift section (assay.drift) compares this data with the last
run's. The config needs no `label` (a label-free evaluation: prediction and feature
distributions). Then DIR/history.json is rewritten: the series of every run (in DIR, or in
the store's pipeline with --mlmd), in `assay history --json`'s format.

Exit status: 0 no alert and no failed check; 8 (EXIT_ALERT) an alert (a charted metric's
newest value outside its trailing band) and no failed check; 4 (EXIT_NOT_BLESSED) a failed
check (a threshold: drift, a value bound...), alerts or not; the usual 2/3/5/6 for bad usage,
data, ML Metadata or storage.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any, Dict, List, Optional, Sequence

from assay.errors import EXIT_NOT_BLESSED, EXIT_OK

EXIT_ALERT = 8
HISTORY_FILE = "history.json"


@dataclasses.dataclass
class MonitorRun:
    """What a monitor run found.

    Attributes:
      result: the EvalResult; path: its results directory; alerts: the alert messages;
      failed: the reasons of the failed checks; exit_code: 0, EXIT_ALERT or EXIT_NOT_BLESSED.
    """

    result: Any
    path: str
    alerts: List[str]
    failed: List[str]
    exit_code: int


def earlier_runs(history: str) -> List[str]:
    """The results directories under `history`, by name (oldest first for time-stamp names)."""
    from assay.results.result import has_result

    if not os.path.isdir(history):
        return []
    return [os.path.join(history, name) for name in sorted(os.listdir(history))
            if os.path.isdir(os.path.join(history, name))
            and has_result(os.path.join(history, name))]


def monitor_config(config: Any, runs: Sequence[str], mlmd: Optional[str],
                   pipeline: Optional[str]) -> Dict[str, Any]:
    """The config (a path or mapping) with `history:` and `reference:` set for this run."""
    from assay.config.parse import read_config_file

    raw = dict(read_config_file(config) if isinstance(config, (str, os.PathLike)) else config)
    history = dict(raw.get("history") or {})
    if mlmd is not None:   # the runs are recorded there: reading the directory too would
        history["mlmd"] = mlmd  # count each twice
        if pipeline is not None:
            history["pipeline"] = pipeline
    else:
        history["results"] = list(history.get("results") or []) + list(runs)
    if history.get("results") or history.get("mlmd"):
        raw["history"] = history
    if raw.get("reference") is None and runs:
        raw["reference"] = runs[-1]
    return raw


def monitor(config: Any, examples: Any, history: str, *, model: Optional[str] = None,
            run: Optional[str] = None, mlmd: Optional[str] = None,
            pipeline: Optional[str] = None, **evaluate_args: Any) -> MonitorRun:
    """Runs one monitored evaluation (see the module docstring) and returns what it found.

    Args:
      config: a config file or mapping (no `label` needed). examples: as for assay.evaluate.
      history: the directory of the runs; created when missing.
      model: the model's path (overrides the config's). run: this run's directory name.
      mlmd, pipeline: also record the run in this ML Metadata store's pipeline (and read the
        history from it). evaluate_args: passed to assay.evaluate (allow_pickle, engine...).

    Example:
        >>> found = monitor("monitor.yaml", "today.csv", "runs/")        # doctest: +SKIP
        >>> found.exit_code, found.alerts                                # doctest: +SKIP
        (8, ['mean_prediction on slice overall is 0.41 in this evaluation, above the band ...'])
    """
    import assay
    from assay.history.series import load_series

    runs = earlier_runs(history)
    name = run or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = os.path.join(history, name)
    if out in runs:
        from assay.errors import ConfigError

        raise ConfigError(f"the history {history} already has a run named {name!r}")
    raw = monitor_config(config, runs, mlmd, pipeline)
    result = assay.evaluate(raw, examples, out, model=model, **evaluate_args)
    if mlmd is not None:
        from assay import mlmd as store_api

        store_api.record_evaluation(store_api.connect(mlmd), result,
                                    examples=[examples] if isinstance(examples, str) else [],
                                    pipeline=pipeline or store_api.DEFAULT_PIPELINE)
    section = result.info.get("history") or {}
    alerts = [a["message"] for a in section.get("alerts") or []]
    failed = [c["reason"] for c in (result.validation or {}).get("checks", [])
              if c.get("status") == "fail"]
    from assay.data.files import write_text
    from assay.results.result import dumps

    series = (load_series(mlmd=mlmd, pipeline=pipeline or "assay") if mlmd is not None
              else load_series(results=earlier_runs(history)))
    write_text(os.path.join(history, HISTORY_FILE), dumps(series.to_dict()))
    code = EXIT_NOT_BLESSED if failed else EXIT_ALERT if alerts else EXIT_OK
    return MonitorRun(result, out, alerts, failed, code)


__all__ = ["EXIT_ALERT", "HISTORY_FILE", "MonitorRun", "earlier_runs", "monitor",
           "monitor_config"]
