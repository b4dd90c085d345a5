"""assay's model path against the floor's batched predict, in CPU time, on batches in memory.

    python bench/model_path.py                       # workload (b): 200,000 examples, Keras
    python bench/model_path.py --size 20000 --repeats 5 --json model_path.json

Workload (b)'s ratio, (wall - fixed cost) / floor loop, mixes reading, the model, slicing,
metrics and drift sketches. This script isolates the model's part. It reads every batch of the
workload once (as the pass does: `assay.data.read_batches` with the raw record column), keeps
them in memory, and then times in turn, best of --repeats, in CPU time (time.process_time: all
threads of this process, so TensorFlow's own threads count; the machine's load does not):

  floor      bench/floor.py's predictor: the `serving_default` signature on the serialized
             tf.Examples, --model-batch-size rows a call, nothing else;
  predict    the SavedModelAdapter that assay loads for the config (adapter.predict);
  model path assay.engine.extract.model_batches: labels, weights, predict, shaping and checking
             the predictions: everything the pass does per batch for the model.

The three are interleaved round by round so that a change in the machine's load hits each
alike. The predictions of the adapter and of the floor's predictor must be equal (exactly):
the script fails otherwise. Writes {"rows", "floor_s", "predict_s", "model_path_s", ...}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

# Run as `python bench/<script>.py`, bench/ comes first on sys.path and its modules would shadow
# installed ones of the same name: put the repository there instead.
_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0] or ".") == _HERE:
    sys.path[0] = os.path.dirname(_HERE)

SLICES = [[], ["hour"], ["day"], ["hour", "day"]]


def _setup(size: int, shards: int, seed: int):
    """(batches, floor predictor, plan, adapters) for workload (b) at `size` examples."""
    from bench import datasets, floor
    from assay import data as assay_io
    from assay.config.schema import EvalConfig
    from assay.engine.plan import make_plan
    from assay.engine.prepare import load_adapter

    examples = datasets.tfrecord_dataset(size, shards, seed)
    model = datasets.keras_saved_model(seed)
    config = EvalConfig.from_dict({"label": "label", "models": {"candidate": {"path": model}},
                                   "slices": SLICES, "metrics": ["example_count", "auc"]})
    plan = make_plan(config, examples)
    # The records go in the floor's column, which the adapter is told to read: one set of
    # batches feeds both.
    adapters = {"candidate": load_adapter(config.model_specs["candidate"], floor.RAW)}
    batches = [batch for path in plan.files
               for batch in assay_io.read_batches(path, config.batch_size,
                                                  raw_record_column=floor.RAW)]
    predict, keep_alive = floor._saved_model_predictor(model)
    return batches, (predict, keep_alive), plan, adapters


def _check_equal(batches, predict, adapter, chunk: int) -> None:
    """Raises AssertionError unless the adapter predicts exactly what the floor's call does."""
    import numpy as np

    for batch in batches:
        ours = adapter.predict(batch)
        theirs = np.concatenate([predict(batch.slice(s, chunk))
                                 for s in range(0, batch.num_rows, chunk)])
        theirs = theirs.astype(np.float64).reshape(ours.shape)
        if not np.array_equal(ours, theirs):
            raise AssertionError(f"the adapter's predictions differ from the floor's: max "
                                 f"difference {np.max(np.abs(ours - theirs))}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=200_000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="write the figures here too")
    args = parser.parse_args(argv)

    from assay.engine.extract import Problems, model_batches

    batches, (predict, keep_alive), plan, adapters = _setup(args.size, args.shards, args.seed)
    adapter = adapters["candidate"]
    chunk = adapter.batch_size  # the floor feeds the model as assay does
    _check_equal(batches, predict, adapter, chunk)

    def floor_loop():
        for batch in batches:
            for start in range(0, batch.num_rows, chunk):
                predict(batch.slice(start, chunk))

    def predict_loop():
        for batch in batches:
            adapter.predict(batch)

    def model_path_loop():
        problems = Problems()
        for batch in batches:
            model_batches(plan, adapters, batch, "memory", 0, problems)

    loops = {"floor_s": floor_loop, "predict_s": predict_loop, "model_path_s": model_path_loop}
    best = {}
    for _ in range(args.repeats):
        for name, loop in loops.items():
            start = time.process_time()
            loop()
            best[name] = min(best.get(name, float("inf")), time.process_time() - start)
    del keep_alive
    rows = sum(b.num_rows for b in batches)
    result = {"rows": rows, "batches": len(batches), "model_batch_size": chunk,
              "repeats": args.repeats, "clock": "process_time (CPU, all threads), best of repeats",
              **{k: round(v, 4) for k, v in best.items()},
              "model_path_vs_floor": round(best["model_path_s"] / best["floor_s"], 3),
              "overhead_us_per_example": round(
                  1e6 * (best["model_path_s"] - best["floor_s"]) / rows, 3)}
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
