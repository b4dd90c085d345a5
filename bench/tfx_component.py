"""TFX's chicago taxi example: assay's Evaluator component against TFX's, by the wall time of
each component's execution as ML Metadata records it (issue 17; target >= 10x).

    .venv/bin/python bench/tfx_component.py                  # the example's whole data.csv
    .venv/bin/python bench/tfx_component.py --rows 2000       # a quick check

The pipeline is the example's own (`taxi_pipeline_native_keras._create_pipeline`: CsvExampleGen,
StatisticsGen, SchemaGen, ExampleValidator, Transform, Trainer, the LatestBlessedModel resolver,
Evaluator, Pusher), built as tests/test_tfx_examples.py builds it, with assay's Evaluator added
beside TFX's on the same channels and the same `tfma.EvalConfig`, and run once with
LocalDagRunner and a SQLite ML Metadata store. Its `beam_pipeline_args` are the example's own
(--direct_running_mode=multi_processing --direct_num_workers=0): TFX's Evaluator runs TFMA on
that DirectRunner; assay's picks its local engine for them (`assay.engine.runner_args`). Each
component's time is its execution's last_update_time minus its create_time in ML Metadata: from
the launcher registering the execution to publishing its outputs (the executor's imports, the
model load and the evaluation included). Correctness: both evaluations must give the same
blessing and the same overall BinaryAccuracy (within 1e-6), and assay must count every example
of the eval split (counted with tf.data). Results: bench/results/tfx_component.json. In `make
bench` it is workload `tfx` of bench/run.py (`run_in_bench`: this script in a subprocess; its
rows and target line).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.join(os.path.dirname(HERE), "tests")
BEAM_ARGS = ["--direct_running_mode=multi_processing", "--direct_num_workers=0"]
TARGET = 10.0

# The pipeline runs in a process of its own: the example's Trainer module builds a tf.keras
# (Keras 2) model, which needs TF_USE_LEGACY_KERAS before TensorFlow is first imported.
_RUN = """
import os, sys
sys.path.insert(0, {tests!r})
import test_tfx_examples as t
from tfx.examples.chicago_taxi_pipeline import taxi_pipeline_native_keras as example
from tfx.orchestration.local.local_dag_runner import LocalDagRunner
work = {work!r}
pipeline = example._create_pipeline(
    pipeline_name="chicago_taxi_native_keras", pipeline_root=os.path.join(work, "pipeline_root"),
    data_root=t.taxi_data(os.path.join(work, "data"), rows={rows}),
    module_file=os.path.join(t._examples_dir(), "chicago_taxi_pipeline",
                             "taxi_utils_native_keras.py"),
    serving_model_dir=os.path.join(work, "serving"),
    metadata_path=os.path.join(work, "metadata.sqlite"), beam_pipeline_args={beam_args!r})
LocalDagRunner().run(t.with_assay_evaluator(pipeline))
"""


def _execution(store, pipeline_name: str, node_id: str):
    context = store.get_context_by_type_and_name("node", f"{pipeline_name}.{node_id}")
    if context is None:
        raise SystemExit(f"bench: {node_id} never ran")
    (execution,) = store.get_executions_by_context(context.id)
    return execution


def _outputs(store, execution) -> Dict:
    from ml_metadata.proto import metadata_store_pb2

    events = [e for e in store.get_events_by_execution_ids([execution.id])
              if e.type == metadata_store_pb2.Event.OUTPUT]
    artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
    return {e.path.steps[0].key: artifacts[e.artifact_id] for e in events}


def _tfma_overall(uri: str) -> Dict[str, float]:
    """{metric: value} of TFMA's overall slice (every output and sub key, numbers only)."""
    import tensorflow_model_analysis as tfma

    out: Dict[str, float] = {}
    for slice_key, outputs in tfma.load_eval_result(uri).slicing_metrics:
        if slice_key == ():
            for sub_keys in outputs.values():
                for metrics in sub_keys.values():
                    out.update({name: value["doubleValue"] for name, value in metrics.items()
                                if isinstance(value, dict) and "doubleValue" in value})
    return out


def _eval_split_size(store, pipeline_name: str) -> int:
    """Records in ExampleGen's eval split, counted with tf.data (independently of both)."""
    import glob

    import tensorflow as tf

    examples = _outputs(store, _execution(store, pipeline_name, "CsvExampleGen"))["examples"]
    files = glob.glob(os.path.join(examples.uri, "Split-eval", "*"))
    return sum(1 for _ in tf.data.TFRecordDataset(files, compression_type="GZIP"))


def measure(work: str, rows: int) -> Dict:
    import ml_metadata as mlmd
    from ml_metadata.proto import metadata_store_pb2

    import assay

    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = os.path.join(work, "metadata.sqlite")
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    store = mlmd.MetadataStore(config)
    name = "chicago_taxi_native_keras"
    out: Dict = {"rows": rows, "beam_pipeline_args": BEAM_ARGS,
                 "eval_examples": _eval_split_size(store, name)}
    blessed, values = {}, {}
    for label, node in (("tfx", "Evaluator"), ("assay", "AssayEvaluator")):
        execution = _execution(store, name, node)
        if execution.last_known_state != metadata_store_pb2.Execution.COMPLETE:
            raise SystemExit(f"bench: {node} did not complete ({execution.last_known_state})")
        out[f"{label}_s"] = (execution.last_update_time_since_epoch -
                             execution.create_time_since_epoch) / 1000.0
        outputs = _outputs(store, execution)
        blessed[label] = outputs["blessing"].custom_properties["blessed"].int_value
        if label == "tfx":
            values["tfx"] = _tfma_overall(outputs["evaluation"].uri)
        else:
            result = assay.load_result(outputs["evaluation"].uri)
            values["assay"] = result.metrics({})
            out["assay_engine"] = result.info["engine"]
    out["speedup"] = out["tfx_s"] / out["assay_s"]
    out["blessed"] = blessed
    # The example's one metric (BinaryAccuracy, assay's accuracy) on the same predictions, and
    # assay's count of every eval example.
    out["tfx_binary_accuracy"] = values["tfx"].get("binary_accuracy")
    out["assay_accuracy"] = values["assay"].get("accuracy")
    out["assay_example_count"] = values["assay"].get("example_count")
    out["correct"] = (blessed["tfx"] == blessed["assay"] and
                      out["assay_example_count"] == out["eval_examples"] and
                      out["tfx_binary_accuracy"] is not None and out["assay_accuracy"] is not None
                      and abs(out["tfx_binary_accuracy"] - out["assay_accuracy"]) <= 1e-6)
    out["target"], out["passed"] = f">= {TARGET:g}x", out["speedup"] >= TARGET
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000,
                   help="rows of the example's data.csv to use (default: all of them)")
    p.add_argument("--out", default=os.path.join(HERE, "results", "tfx_component.json"))
    p.add_argument("--work", help="run in (and keep) this directory, not a temporary one")
    p.add_argument("--measure-only", action="store_true",
                   help="read the times of the run already in --work; run nothing")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="assay-tfx-bench-") as tmp:
        work = args.work or tmp
        pipeline_s = None
        if not args.measure_only:
            script = _RUN.format(tests=TESTS, work=work, rows=args.rows, beam_args=BEAM_ARGS)
            started = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                  env=dict(os.environ, TF_USE_LEGACY_KERAS="1"))
            pipeline_s = time.perf_counter() - started  # the whole pipeline: for planning
            if proc.returncode != 0:
                raise SystemExit(f"bench: the taxi pipeline failed:\n{proc.stderr[-4000:]}")
        out = measure(work, args.rows)
        out["pipeline_s"] = pipeline_s
    out["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                   text=True).stdout.strip()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1)
    print("| TFX taxi example, Evaluator execution (ML Metadata) | TFX's | assay's | ratio | "
          "target | same verdict and count |\n|---|---|---|---|---|---|\n"
          f"| {out['eval_examples']:,} eval examples, {' '.join(BEAM_ARGS)} | "
          f"{out['tfx_s']:.1f} s | {out['assay_s']:.1f} s ({out['assay_engine']} engine) | "
          f"{out['speedup']:.1f}x | {out['target']} | {'yes' if out['correct'] else 'NO'} |")
    return 0 if out["correct"] else 1


def run_in_bench(bench, rows: int) -> Dict:
    """The "tfx" workload of bench/run.py: this script in a subprocess, its summary recorded as
    run "tfx"; a failed run or check is one of the bench's failures."""
    out = os.path.join(bench.dir, "logs", "tfx_component.json")
    log = os.path.join(bench.dir, "logs", "tfx_component.log")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    command = [sys.executable, os.path.abspath(__file__), "--rows", str(rows), "--out", out]
    with open(log, "wb") as f:
        code = subprocess.run(command, stdout=f, stderr=subprocess.STDOUT,
                              cwd=os.path.dirname(HERE)).returncode
    info: Dict = {"kind": "tfx", "ok": code == 0, "log": log, "command": " ".join(command)}
    if os.path.exists(out):
        with open(out, encoding="utf-8") as f:
            info.update(json.load(f))
        info["wall_s"] = info.get("assay_s")
    if code != 0:
        bench.failures.append(f"tfx_component exited {code} (the pipeline failed or the two "
                              f"Evaluators disagree): see {log}")
    return bench._record("tfx", info)


def bench_rows(run: Dict) -> List[Dict]:
    """The Runs table's rows of the "tfx" run: each Evaluator component's execution."""
    if "speedup" not in run:
        return []
    n, what = run["eval_examples"], "TFX taxi example ({} rows of data.csv), {} (ML Metadata)"
    return [{"workload": "tfx", "what": what.format(f"{run['rows']:,}", "TFX's Evaluator"),
             "examples": n, "wall_s": run["tfx_s"], "examples_per_s": n / run["tfx_s"],
             "note": f"TFMA on {' '.join(run['beam_pipeline_args'])}" + (
                 f"; the whole pipeline {run['pipeline_s']:.0f} s" if run.get("pipeline_s")
                 else ""), "run": "tfx"},
            {"workload": "tfx", "what": what.format(f"{run['rows']:,}", "assay's Evaluator"),
             "examples": n, "wall_s": run["assay_s"], "examples_per_s": n / run["assay_s"],
             "vs_tfma": run["speedup"],
             "note": f"{run.get('assay_engine', '?')} engine; same blessing, accuracy and count: "
                     f"{'yes' if run.get('correct') else 'NO'}", "run": "tfx"}]


def target_row(run: Optional[Dict]) -> Dict:
    """The Targets table's line of the "tfx" run."""
    line = {"target": "TFX taxi example: assay's Evaluator component vs TFX's (wall time of "
                      "the execution)", "goal": f">= {TARGET:g}x", "measured": "not run",
            "passed": None}
    if run and "speedup" in run:
        line["measured"] = (f"{run['speedup']:.1f}x ({run['tfx_s']:.1f} s vs "
                            f"{run['assay_s']:.1f} s, {run['eval_examples']:,} eval examples; "
                            f"same verdict and count: {'yes' if run['correct'] else 'NO'})")
        line["passed"] = run["speedup"] >= TARGET
    elif run:
        line["measured"] = f"failed (see {run.get('log')})"
    return line


if __name__ == "__main__":
    sys.exit(main())
