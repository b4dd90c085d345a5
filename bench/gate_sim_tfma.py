"""TFMA's confidence intervals on bench/gate_sim.py's simulated data, for comparison.

    python bench/gate_sim_tfma.py --sets 50          # each set is one tfma.run_model_analysis

Each set is drawn as in bench/gate_sim.py (same distribution, same sizes), written as
tf.Examples, and evaluated by TFMA 0.47.1 model-agnostically (label_key y, prediction_key p,
the baseline q with is_baseline) with `options.compute_confidence_intervals` (TFMA's default
method, POISSON_BOOTSTRAP with 20 replicates, and its 95% level). Prints the share of TFMA's
intervals that hold the true value, for AUC, BinaryAccuracy, MeanPrediction and the AUC
difference against the baseline. The figures go in docs/benchmarks.md beside assay's.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from typing import Dict

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0] or ".") == _HERE:
    sys.path[0] = os.path.dirname(_HERE)

from bench import gate_sim  # noqa: E402

# TFMA's metric name -> gate_sim's true value of it.
WANTED = {"auc": "auc", "binary_accuracy": "accuracy", "mean_prediction": "mean_prediction"}


def write_examples(path: str, data: Dict[str, np.ndarray]) -> None:
    import tensorflow as tf

    with tf.io.TFRecordWriter(path) as w:
        for y, p, q in zip(data["y"], data["p"], data["q"]):
            ex = tf.train.Example(features=tf.train.Features(feature={
                "y": tf.train.Feature(float_list=tf.train.FloatList(value=[float(y)])),
                "p": tf.train.Feature(float_list=tf.train.FloatList(value=[float(p)])),
                "q": tf.train.Feature(float_list=tf.train.FloatList(value=[float(q)]))}))
            w.write(ex.SerializeToString())


def tfma_intervals(path: str, output: str) -> Dict[str, tuple]:
    """{name: (lower, upper)} of the overall slice ("diff auc" for the paired AUC change)."""
    import tensorflow_model_analysis as tfma

    config = tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(name="candidate", label_key="y", prediction_key="p"),
                     tfma.ModelSpec(name="baseline", label_key="y", prediction_key="q",
                                    is_baseline=True)],
        metrics_specs=[tfma.MetricsSpec(metrics=[
            tfma.MetricConfig(class_name="AUC"), tfma.MetricConfig(class_name="BinaryAccuracy"),
            tfma.MetricConfig(class_name="MeanPrediction")])],
        slicing_specs=[tfma.SlicingSpec()],
        options=tfma.Options(compute_confidence_intervals={"value": True}))
    tfma.run_model_analysis(eval_config=config, data_location=path, output_path=output)
    out = {}
    for m in tfma.load_metrics(output):
        for key_and_value in m.metric_keys_and_values:
            key = key_and_value.key
            if key.model_name != "candidate" or key.name not in WANTED:
                continue
            name = ("diff " if key.is_diff else "") + WANTED[key.name]
            ci = key_and_value.confidence_interval
            out[name] = (ci.lower_bound.double_value.value, ci.upper_bound.double_value.value)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", type=int, default=50)
    parser.add_argument("--size", type=int, default=2000)
    args = parser.parse_args(argv)
    truth = gate_sim.true_values(gate_sim.SIGMA, gate_sim.SIGMA * 1.3)
    rng = np.random.default_rng(1)
    hits: Dict[str, int] = {}
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.sets):
            path = os.path.join(tmp, f"set{i}.tfrecord")
            write_examples(path, gate_sim.draw(rng, args.size, gate_sim.SIGMA,
                                               gate_sim.SIGMA * 1.3))
            for name, (lo, hi) in tfma_intervals(path, os.path.join(tmp, f"out{i}")).items():
                if name not in truth:      # diffs other than auc's have no true value here
                    continue
                hits[name] = hits.get(name, 0) + (lo <= truth[name] <= hi)
    print(f"TFMA's 95% intervals, {args.sets} sets of {args.size:,} examples "
          f"({time.time() - start:.0f} s):")
    for name in sorted(hits):
        rate = hits[name] / args.sets
        se = math.sqrt(rate * (1 - rate) / args.sets)
        print(f"  {name:20s} {100 * rate:5.1f}% +- {100 * se:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
