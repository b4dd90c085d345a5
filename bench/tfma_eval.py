"""TFMA on the benchmark's workloads: the reference assay is measured (and checked) against.

    python bench/tfma_eval.py --jobs jobs.json --json tfma.json

jobs.json is a list of {"name", "examples" (a Split-eval/ directory), "output" (a directory),
"candidate": {"prediction": column} or {"path": TFX model artifact}, optionally
"baseline": {"prediction": column}}. Each job runs `tfma.run_model_analysis` on the default
DirectRunner with the config TFMA users write for this workload: label_key "label", no example
weights, ExampleCount, AUC, AUCPrecisionRecall, BinaryAccuracy, Precision, Recall, MeanLabel,
MeanPrediction, CalibrationPlot and ConfusionMatrixPlot, sliced overall, by hour, by day and by
hour x day. Jobs run one after the other in this one process, so TensorFlow and TFMA are
imported once (import_s, reported apart); each job's run_s and peak RSS (this process, sampled)
are its own.

The metrics are read back with `tfma.load_metrics` and written as
{"records": [{"slice": {feature: value}, "model": name, "metrics": {tfma name: value}}]} to
<output>/tfma_metrics.json, in the shape of assay's assay_metrics.json records.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time

# Run as `python bench/<script>.py`, bench/ comes first on sys.path and its modules would shadow
# installed ones of the same name: put the repository there instead.
_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0] or ".") == _HERE:
    sys.path[0] = os.path.dirname(_HERE)

_STARTED = time.perf_counter()

METRICS = ("ExampleCount", "AUC", "AUCPrecisionRecall", "BinaryAccuracy", "Precision", "Recall",
           "MeanLabel", "MeanPrediction", "CalibrationPlot", "ConfusionMatrixPlot")
SLICES = ((), ("hour",), ("day",), ("hour", "day"))


class _PeakRss(threading.Thread):
    def __init__(self, interval_s: float = 0.1):
        super().__init__(daemon=True)
        import psutil

        self._proc = psutil.Process()
        self._interval = interval_s
        self._done = threading.Event()
        self.peak = 0

    def run(self):
        while not self._done.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            self._done.wait(self._interval)

    def stop(self) -> float:
        self._done.set()
        self.join()
        return self.peak / 2**20


def eval_config(job):
    import tensorflow_model_analysis as tfma

    specs = []
    cand = job["candidate"]
    if "prediction" in cand:
        specs.append(tfma.ModelSpec(name="candidate", label_key="label",
                                    prediction_key=cand["prediction"]))
    else:
        specs.append(tfma.ModelSpec(name="candidate", label_key="label",
                                    signature_name="serving_default",
                                    prediction_key=cand.get("output", "probabilities")))
    if job.get("baseline"):
        specs.append(tfma.ModelSpec(name="baseline", label_key="label", is_baseline=True,
                                    prediction_key=job["baseline"]["prediction"]))
    return tfma.EvalConfig(
        model_specs=specs,
        metrics_specs=tfma.metrics.specs_from_metrics(
            [getattr(tfma.metrics, m)() for m in METRICS]),
        slicing_specs=[tfma.SlicingSpec(feature_keys=list(s)) for s in SLICES])


def _slice_value(key):
    kind = key.WhichOneof("kind")
    value = getattr(key, kind)
    return value.decode() if isinstance(value, bytes) else value


def read_metrics(output: str, models):
    """TFMA's metrics as records {"slice", "model", "metrics"}; one model: named candidate."""
    import tensorflow_model_analysis as tfma

    records = {}
    for per_slice in tfma.load_metrics(output):
        slice_ = {k.column: _slice_value(k) for k in per_slice.slice_key.single_slice_keys}
        slice_json = json.dumps(slice_, sort_keys=True)
        for kv in per_slice.metric_keys_and_values:
            key, value = kv.key, kv.value
            if key.is_diff or key.HasField("sub_key"):
                continue
            model = key.model_name or models[0]
            if value.WhichOneof("type") != "double_value":
                continue
            rec = records.setdefault((slice_json, model), {"slice": slice_, "model": model,
                                                           "metrics": {}})
            rec["metrics"][key.name] = value.double_value.value
    # ExampleCount is counted once, for no model in particular, when there are several.
    for (slice_json, model), rec in list(records.items()):
        for other in models:
            if (slice_json, other) not in records:
                continue
            theirs = records[(slice_json, other)]["metrics"]
            for name in ("example_count",):
                if name in rec["metrics"] and name not in theirs:
                    theirs[name] = rec["metrics"][name]
    return [r for (s, m), r in sorted(records.items()) if m in models]


def run_job(job):
    import apache_beam as beam  # noqa: F401
    import tensorflow_model_analysis as tfma

    config = eval_config(job)
    shared = None
    if "path" in job["candidate"]:
        shared = tfma.default_eval_shared_model(
            eval_saved_model_path=os.path.join(job["candidate"]["path"], "Format-Serving"),
            eval_config=config, model_name="candidate")
    os.makedirs(job["output"], exist_ok=True)
    sampler = _PeakRss()
    sampler.start()
    start = time.perf_counter()
    tfma.run_model_analysis(eval_shared_model=shared, eval_config=config,
                            data_location=os.path.join(job["examples"], "*"),
                            file_format="tfrecords", output_path=job["output"])
    run_s = time.perf_counter() - start
    peak = sampler.stop()
    models = ["candidate"] + (["baseline"] if job.get("baseline") else [])
    records = read_metrics(job["output"], models)
    with open(os.path.join(job["output"], "tfma_metrics.json"), "w", encoding="utf-8") as f:
        json.dump({"records": records}, f, indent=1)
    return {"name": job["name"], "run_s": run_s, "peak_rss_mb": peak, "records": len(records)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", required=True, help="a JSON file: the list of jobs")
    parser.add_argument("--json", required=True, help="where to write the timings")
    args = parser.parse_args(argv)
    with open(args.jobs, encoding="utf-8") as f:
        jobs = json.load(f)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow_model_analysis as tfma  # noqa: F401

    out = {"import_s": time.perf_counter() - _STARTED, "tfma_version": tfma.__version__,
           "jobs": []}
    for job in jobs:
        out["jobs"].append(run_job(job))
        with open(args.json, "w", encoding="utf-8") as f:  # what is done survives a later failure
            json.dump(out, f, indent=1)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
