"""The data stage: example files (TFRecord, CSV, Parquet; local or remote) as Arrow RecordBatches.

    files.py     the one filesystem layer: local paths and every Beam scheme (gs://, s3://, ...)
    formats.py   telling a file's format by its name or first bytes
    tfrecord.py  TFRecord framing and checksums, tf.Example decoding and encoding
    tabular.py   CSV and Parquet readers
    columns.py   a batch's columns as numpy arrays, the same for list and scalar columns
    read.py      the entry points: resolve_files, read_batches, iter_batches

The names below are the stage's interface to the engine, re-exported here on purpose so that the
engine imports one module (`from assay import data`); tests and tools may import the modules.
"""

from assay.data.columns import column_values, single_values, vocabulary_codes
from assay.data.formats import detect_format
from assay.data.read import iter_batches, read_batches, resolve_files
from assay.data.tabular import parquet_parts
from assay.data.tfrecord import encode_examples

__all__ = ["column_values", "detect_format", "encode_examples", "iter_batches", "parquet_parts",
           "read_batches", "resolve_files", "single_values", "vocabulary_codes"]
