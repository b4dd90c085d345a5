"""The floor: what reading the examples (and running the model) costs with no evaluation at all.

    python bench/floor.py --examples bench/data/.../Split-eval --json floor.json
    python bench/floor.py --examples ... --saved-model bench/data/keras-tips-seed0 --json f.json

Reads every file, one after the other in this one process, with `assay.data.read_batches` (the
reader assay uses: TFRecord framing and checksums, then tfx-bsl's tf.Example decoder to Arrow;
Parquet through pyarrow), in batches of --batch-size rows, and drops the batches. With a model,
each batch also goes through the model in chunks of --model-batch-size rows, as assay feeds it:
a SavedModel signature called on the serialized tf.Examples (the raw records, kept in a column
beside the decoded features), or a joblib estimator's predict_proba on a DataFrame of its
features. Nothing else: no labels, no slicing, no metrics, no Beam.

    python bench/floor.py --examples DIR_OR_FILE --workers 2 --json floor-w2.json

With --columns a,b,..., only those columns are decoded, as assay decodes the columns its
config reads (`assay.engine.plan.read_columns`): the floor of such an evaluation.

With --workers N (no model), N forked processes read at once, as assay's local engine's
workers do: several files are dealt out among them; one uncompressed TFRecord or CSV file is
cut into N byte ranges (`assay.data.parts`; each process finds its first record itself). loop_s
is then the wall time from the first fork to the last process done, and loop_cpu_s the
processes' CPU time: the floor's own 2-vs-1 speed-up on this machine, the ceiling of assay's.

Writes {"import_s", "load_s", "loop_s", "rows", "batches"} to --json: loop_s is the floor.
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

_STARTED = time.perf_counter()

RAW = "__raw_record__"


def _saved_model_predictor(path: str):
    import tensorflow as tf

    serving = os.path.join(path, "Format-Serving")
    model = tf.saved_model.load(serving if os.path.isdir(serving) else path)
    fn = model.signatures["serving_default"]
    (name, spec), = fn.structured_input_signature[1].items()
    del spec

    def predict(batch):
        records = batch.column(batch.schema.get_field_index(RAW)).to_numpy(zero_copy_only=False)
        out = fn(**{name: tf.constant(records)})
        return next(iter(out.values())).numpy()

    return predict, model


def _joblib_predictor(path: str):
    import joblib
    import pandas as pd
    import pyarrow as pa

    model = joblib.load(path)
    names = [str(n) for n in model.feature_names_in_]

    def predict(batch):
        frame = {}
        for name in names:
            column = batch.column(batch.schema.get_field_index(name))
            if pa.types.is_large_list(column.type) or pa.types.is_list(column.type):
                column = column.flatten()  # tf.Example features: one value per row here
            if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
                column = column.cast(pa.large_string())
            values = column.to_numpy(zero_copy_only=False)
            frame[name] = values.astype("float64") if values.dtype.kind == "f" else values
        return model.predict_proba(pd.DataFrame(frame, columns=names))[:, 1]

    return predict, model


class Unsplittable(Exception):
    """The data cannot be shared by the processes asked for: the floor would not be theirs."""


def _shares(files, workers: int):
    """Each process's (path, raw ByteRange or None) units: the files dealt out, or one
    uncompressed TFRecord or CSV file cut into `workers` byte ranges."""
    if len(files) >= workers:
        return [[(f, None) for f in files[k::workers]] for k in range(workers)]
    from assay.data import parts
    from assay.data.formats import detect_format

    fmt = detect_format(files[0])
    raw = (parts.cut(files[0], fmt, workers, min_bytes=1)
           if len(files) == 1 and fmt in ("tfrecord", "csv") else [])
    if len(raw) != workers:
        why = ("it is gzipped (or too small) and cannot be cut" if raw == [] and len(files) == 1
               and fmt in ("tfrecord", "csv") else f"{len(files)} {fmt} file(s)")
        raise Unsplittable(f"floor: {workers} processes need {workers} files or more, or one "
                           f"uncompressed TFRecord or CSV file to cut; {files[0]}: {why}")
    return [[(files[0], r)] for r in raw]


def _read_share(units, batch_size: int, columns=None):
    """(rows, batches, CPU seconds) of reading `units` in this (forked) process."""
    from assay import data as assay_io
    from assay.data import parts
    from assay.data.formats import detect_format
    from assay.data.framing import ByteRange

    started, rows, batches = time.process_time(), 0, 0
    for path, raw in units:
        part = None
        if raw is not None:  # from the first record (or line) that starts in the range
            fmt = detect_format(path)
            start, count, _, refused = parts.locate(path, fmt, raw)
            if refused:
                raise Unsplittable(f"floor: {path} cannot be cut into parts: {refused}")
            if not count:
                continue
            part = ByteRange(start, raw.stop, 0)
        for batch in assay_io.read_batches(path, batch_size, row_groups=part, columns=columns):
            rows += batch.num_rows
            batches += 1
    return rows, batches, time.process_time() - started


def _parallel_loop(files, workers: int, batch_size: int, columns=None):
    """(rows, batches, loop wall s, loop CPU s) of `workers` forked processes reading."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    start = time.perf_counter()
    shares = [s for s in _shares(files, workers) if s]
    with ProcessPoolExecutor(len(shares), mp_context=mp.get_context("fork")) as pool:
        done = list(pool.map(_read_share, shares, [batch_size] * len(shares),
                             [columns] * len(shares)))
    wall = time.perf_counter() - start
    return (sum(d[0] for d in done), sum(d[1] for d in done), wall, sum(d[2] for d in done),
            sum(len(s) for s in shares))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", required=True, help="a directory of data files")
    parser.add_argument("--batch-size", type=int, default=8192)
    parser.add_argument("--columns", help="comma-separated: decode these columns alone, as "
                        "assay does when its config names every column it reads")
    parser.add_argument("--saved-model", help="a SavedModel (or TFX model artifact) to run")
    parser.add_argument("--joblib", help="a joblib estimator to run")
    parser.add_argument("--model-batch-size", type=int, default=1024)
    parser.add_argument("--workers", type=int, default=1,
                        help="processes reading at once (no model): files dealt out, or one "
                             "uncompressed file cut into byte ranges")
    parser.add_argument("--json", required=True, help="where to write the timings")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers must be 1 or more (got {args.workers})")
    if args.workers > 1 and (args.saved_model or args.joblib):
        parser.error("--workers above 1 reads without a model")

    from assay import data as assay_io

    imported = time.perf_counter()
    files = assay_io.resolve_files(args.examples)
    predict, keep_alive = None, None
    if args.saved_model:
        predict, keep_alive = _saved_model_predictor(args.saved_model)
    elif args.joblib:
        predict, keep_alive = _joblib_predictor(args.joblib)
    raw = RAW if args.saved_model else None
    columns = args.columns.split(",") if args.columns else None
    if predict is not None:
        # The model's first call traces and initialises it (a second or so for a SavedModel):
        # a fixed cost, like the load, which assay pays in its fixed cost too; not the loop's.
        first = next(assay_io.read_batches(files[0], args.model_batch_size,
                                           raw_record_column=raw))
        predict(first.slice(0, args.model_batch_size))
    loaded, loaded_cpu = time.perf_counter(), time.process_time()

    rows = batches = 0
    if args.workers > 1:
        try:
            rows, batches, loop_s, loop_cpu_s, n_parts = _parallel_loop(
                files, args.workers, args.batch_size, columns)
        except Unsplittable as e:
            print(e, file=sys.stderr)
            return 2
        result = {"import_s": imported - _STARTED, "load_s": loaded - imported,
                  "loop_s": loop_s, "loop_cpu_s": loop_cpu_s, "rows": rows, "batches": batches,
                  "files": len(files), "parts": n_parts, "workers": args.workers,
                  "model": None, "columns": columns}
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)
        print(json.dumps(result))
        return 0
    for path in files:
        for batch in assay_io.read_batches(path, args.batch_size, raw_record_column=raw,
                                           columns=columns):
            rows += batch.num_rows
            batches += 1
            if predict is not None:
                for start in range(0, batch.num_rows, args.model_batch_size):
                    predict(batch.slice(start, args.model_batch_size))
    done = time.perf_counter()
    del keep_alive
    result = {"import_s": imported - _STARTED, "load_s": loaded - imported,
              "loop_s": done - loaded, "loop_cpu_s": time.process_time() - loaded_cpu,
              "rows": rows, "batches": batches, "files": len(files), "parts": len(files),
              "model": args.saved_model or args.joblib}
    with open(args.json, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
