"""`make demo`: the penguin TFX pipeline, run twice, gated by assay's Evaluator.

Run 1 trains a normal model: there is no baseline yet, the value thresholds pass, the model is
BLESSED and Pusher pushes it. Run 2 trains a deliberately worse model: the Resolver hands run 1's
model to the Evaluator as the baseline, the model fails its thresholds, it is NOT_BLESSED and
Pusher does not push it. What happened is read back from ML Metadata and printed: where the
results, the blessing and the pushed model are, and the reasons.

    python pipelines/run_demo.py [--work-dir demo-output/tfx] [--train-steps 150]

The work dir is emptied first, so that run 1 really is the first model.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
from typing import Any, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import penguin_tfx  # noqa: E402


def _store(work_dir: str):
    import ml_metadata as mlmd
    from ml_metadata.proto import metadata_store_pb2

    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = os.path.join(work_dir, "metadata.sqlite")
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return mlmd.MetadataStore(config)


def _props(artifact) -> Dict[str, Any]:
    out = {}
    for key, value in artifact.custom_properties.items():
        out[key] = value.int_value if value.HasField("int_value") else value.string_value
    return out


def _io(store, execution_id: int) -> Dict[str, List[Any]]:
    """{channel key: [artifact]} of one execution, inputs and outputs together."""
    events = store.get_events_by_execution_ids([execution_id])
    ids = [e.artifact_id for e in events]
    artifacts = {a.id: a for a in store.get_artifacts_by_id(ids)}
    out: Dict[str, List[Any]] = {}
    for e in events:
        key = e.path.steps[0].key if e.path.steps else ""
        out.setdefault(key, []).append(artifacts[e.artifact_id])
    return out


def latest_run(work_dir: str) -> Dict[str, Any]:
    """What the last run's Evaluator and Pusher read and wrote, from ML Metadata."""
    store = _store(work_dir)

    def last_execution(component: str):
        types = {t.id: t.name for t in store.get_execution_types()}
        runs = [e for e in store.get_executions() if types[e.type_id].endswith(component)]
        return max(runs, key=lambda e: e.id)

    evaluator = _io(store, last_execution("Evaluator").id)
    pusher = _io(store, last_execution("Pusher").id)
    blessing = evaluator["blessing"][0]
    evaluation = evaluator["evaluation"][0]
    pushed = _props(pusher["pushed_model"][0])
    with open(os.path.join(evaluation.uri, "assay_metrics.json"), encoding="utf-8") as f:
        metrics = json.load(f)
    overall = next(r for r in metrics["records"]
                   if r["slice"] == {} and r["model"] == "candidate")["metrics"]
    return {
        "model": evaluator["model"][0].uri,
        "baseline": evaluator["baseline_model"][0].uri if evaluator.get("baseline_model")
        else None,
        "evaluation": evaluation.uri,
        "blessing": blessing.uri,
        "blessing_properties": _props(blessing),
        "markers": sorted(f for f in os.listdir(blessing.uri)
                          if f in ("BLESSED", "NOT_BLESSED")),
        "accuracy": overall.get("accuracy"),
        "pushed": pushed.get("pushed") == 1,
        "pushed_to": pushed.get("pushed_destination"),
    }


def _report(title: str, run: Dict[str, Any]) -> None:
    props = run["blessing_properties"]
    print(f"\n{title}")
    print(f"  model:     {run['model']}")
    print(f"  baseline:  {run['baseline'] or 'none (first model)'}")
    print(f"  accuracy:  {run['accuracy']:.4f} (overall, eval split)")
    files = sorted(f for f in os.listdir(run["evaluation"]) if f.endswith((".json", ".html")))
    print(f"  results:   {run['evaluation']}/  ({', '.join(files)})")
    print(f"  blessing:  {os.path.join(run['blessing'], ', '.join(run['markers']))}  "
          f"(blessed={props.get('blessed')})")
    print("  reasons:")
    for reason in json.loads(props.get("assay_reasons", "[]")):
        print(f"    - {reason}")
    print(f"  pushed:    " + (f"yes, to {run['pushed_to']}" if run["pushed"]
                              else "no (Pusher saw the model was not blessed)"))


@contextlib.contextmanager
def _output_to(path: str):
    """Sends this process's stdout and stderr (and its subprocesses': the Trainer's wheel build
    and pip install) to `path`; on an error, shows the end of it."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        with open(path, "ab") as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            try:
                yield
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
    except BaseException:
        with open(path, encoding="utf-8", errors="replace") as f:
            tail = f.readlines()[-40:]
        print(f"The pipeline failed; the end of its log {path}:\n{''.join(tail)}", file=sys.stderr)
        raise
    finally:
        os.close(saved[0])
        os.close(saved[1])


def _run(work_dir: str, number: int, **kwargs) -> Dict[str, Any]:
    log = os.path.join(work_dir, f"run-{number}.log")
    with _output_to(log):
        penguin_tfx.run(work_dir, **kwargs)
    print(f"  (pipeline log: {log})")
    return latest_run(work_dir)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work-dir", default=os.path.join("demo-output", "tfx"))
    parser.add_argument("--train-steps", type=int, default=150)
    args = parser.parse_args(argv)
    work_dir = os.path.abspath(args.work_dir)
    shutil.rmtree(work_dir, ignore_errors=True)
    os.makedirs(work_dir)
    print(f"assay TFX demo in {work_dir} (CsvExampleGen -> Trainer -> Resolver -> "
          f"assay Evaluator -> Pusher, LocalDagRunner, SQLite ML Metadata)")

    print("\nRun 1: training a normal model ...", flush=True)
    first = _run(work_dir, 1, train_steps=args.train_steps)
    _report("Run 1: a normal model", first)

    print("\nRun 2: training a deliberately worse model (shuffled labels, 1 step) ...",
          flush=True)
    second = _run(work_dir, 2, degrade=True)
    _report("Run 2: a deliberately worse model", second)

    serving = os.path.join(work_dir, "serving")
    pushed = sorted(os.listdir(serving)) if os.path.isdir(serving) else []
    print(f"\nServing directory {serving}: {len(pushed)} pushed model(s) "
          f"{pushed} (run 1's model).")
    print(f"ML Metadata: {os.path.join(work_dir, 'metadata.sqlite')}")
    ok = (first["pushed"] and first["markers"] == ["BLESSED"] and not second["pushed"]
          and second["markers"] == ["NOT_BLESSED"] and len(pushed) == 1
          and second["baseline"] == first["model"])
    if not ok:
        print("\nUNEXPECTED: run 1 should be blessed and pushed, run 2 judged against run 1's "
              "model, not blessed and not pushed.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
