"""The data stage's entry points: which files to read, and their rows as Arrow RecordBatches.

    files = resolve_files("/pipeline/CsvExampleGen/examples/7")  # the .../Split-eval/* files
    for path in files:
        for batch in read_batches(path, batch_size=4096):
            ...

Every reader streams: memory depends on batch_size, not on the file's size. Two batches of one
TFRecord file may differ in columns and in types (see `assay.data.tfrecord`);
`assay.data.columns` hides both differences from the engine.
"""

from __future__ import annotations

import os
import re
from typing import Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import pyarrow as pa

from assay.data import files
from assay.data.columns import select, with_column
from assay.data.formats import FORMATS, detect_format, format_or_none
from assay.data.tabular import read_csv, read_parquet
from assay.data.tfrecord import encode_examples, read_tfrecord
from assay.errors import ConfigError, ConfigTypeError, InputNotFound


def resolve_files(examples: Union[str, Sequence[str]], split: str = "eval") -> List[str]:
    """The data files that `examples` names, sorted.

    Args:
      examples: a file, a directory, a glob (`.../Split-eval/data_tfrecord-*.gz`), or a list of
        those. A directory gives the data files directly in it; a TFX Examples artifact (a
        directory holding `Split-<name>/` folders) gives the files of `Split-<split>/`. Names
        starting with '.' or '_' (`_SUCCESS`, `.crc` files) are skipped in directories and globs.
      split: the split to read from a TFX Examples artifact.

    Returns:
      The paths, sorted and without duplicates.

    Raises:
      FileNotFoundError: a pattern matched nothing, or a directory holds no data files (the
        message lists what it does hold).

    Example:
      >>> resolve_files(["gs://bucket/a.tfrecord.gz", "/data/Examples/12"])  # doctest: +SKIP
      ['/data/Examples/12/Split-eval/data_tfrecord-00000-of-00001.gz', 'gs://bucket/a.tfrecord.gz']
    """
    if isinstance(examples, (str, os.PathLike)):
        examples = [examples]
    if not examples:
        raise InputNotFound("no example files given: 'examples' is an empty list")
    found = set()
    for pattern in examples:
        found.update(_resolve_one(os.fspath(pattern), split))
    return sorted(found)


def _resolve_one(pattern: str, split: str) -> List[str]:
    if re.search(r"[*?\[]", pattern):
        found = [p for p in files.match(pattern) if not files.is_hidden(p)]
        if not found:
            raise InputNotFound(f"no files match {pattern!r}")
        return found
    if files.is_dir(pattern):
        return _files_in_dir(pattern, split)
    if files.exists(pattern):
        return [pattern]
    raise InputNotFound(f"no such file or directory: {pattern!r}")


def _files_in_dir(directory: str, split: str) -> List[str]:
    paths, subdirs = files.list_dir(directory)
    for name in (f"Split-{split}", split):  # TFX artifacts; very old TFX wrote plain split names
        if name in subdirs:
            return _files_in_dir(files.join(directory, name), split)
    data = [p for p in paths if format_or_none(p) is not None]
    if data:
        return data
    splits = sorted(d for d in subdirs if d.startswith("Split-"))
    if splits:
        raise InputNotFound(
            f"{directory!r} is a TFX Examples artifact without split {split!r} "
            f"(no 'Split-{split}' folder); its splits are: {', '.join(splits)}")
    held = sorted(files.basename(p) for p in paths) + sorted(d + "/" for d in subdirs)
    listing = ", ".join(held[:20]) + (f", ... ({len(held)} entries)" if len(held) > 20 else "")
    raise InputNotFound(
        f"directory {directory!r} holds no TFRecord, CSV or Parquet files; "
        f"it contains: {listing or 'nothing'}")


def read_batches(path: str, batch_size: int, fmt: Optional[str] = None,
                 raw_record_column: Optional[str] = None,
                 columns: Optional[Sequence[str]] = None,
                 row_groups: Optional[Tuple[int, int]] = None) -> Iterator[pa.RecordBatch]:
    """Streams one data file as RecordBatches of at most `batch_size` rows.

    Args:
      path: a TFRecord file of tf.Examples (plain or gzipped: told by its first bytes), a CSV
        file (plain or gzipped) with a header line, or a Parquet file.
      batch_size: the most rows in a batch. TFRecord and CSV batches hold exactly batch_size
        rows except the last; Parquet batches also end at row-group boundaries.
      fmt: "tfrecord", "csv" or "parquet"; None to `detect_format`.
      raw_record_column: if given, a large_binary column of this name holds each example
        serialized as a tf.Example: the records as read from a TFRecord file, or the row encoded
        for CSV and Parquet (for models that take serialized examples).
      columns: if given, only these columns (and the raw record column) are kept; names that a
        batch does not have are left out, as a feature that no example in a batch has.
      row_groups: Parquet only: (first, stop), read row groups first..stop-1 of the file (see
        `parquet_parts`); None reads the whole file.

    Returns:
      An iterator of pa.RecordBatch; the arguments are checked when called, the file is read as
      it is iterated. From TFRecord files every feature is a list column; from CSV and Parquet
      columns are as typed in the file (CSV: inferred; a column whose later rows do not fit the
      type inferred from the first block is widened, int to float to string, for the rest).

    Raises:
      DataError: a corrupt or truncated file, an unparsable tf.Example, an unreadable CSV or
        Parquet file; the message names the file and, for TFRecord, the record index and byte
        offset.
      FileNotFoundError: the file does not exist.

    Example:
      >>> for batch in read_batches("eval.tfrecord.gz", batch_size=1024):  # doctest: +SKIP
      ...     print(batch.num_rows, batch.schema.names)
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise ConfigTypeError(f"'batch_size' must be an int (got {batch_size!r}, a "
                        f"{type(batch_size).__name__})")
    if batch_size < 1:
        raise ConfigError(f"'batch_size' must be at least 1 (got {batch_size})")
    fmt = detect_format(path) if fmt is None else fmt
    if fmt not in FORMATS:
        raise ConfigError(f"'fmt' must be one of {', '.join(FORMATS)} or None (got {fmt!r})")
    if row_groups is not None and fmt != "parquet":
        raise ConfigError(f"row_groups is for Parquet files only (got a {fmt} file: {path})")
    if fmt == "tfrecord":
        batches = read_tfrecord(path, int(batch_size), raw_record_column)
    else:
        # An encoded row must hold every feature, not only the columns kept.
        wanted = None if raw_record_column else columns
        batches = (read_csv(path, int(batch_size)) if fmt == "csv" else
                   read_parquet(path, int(batch_size), wanted, row_groups))
        if raw_record_column is not None:
            batches = (with_column(b, raw_record_column, pa.array(encode_examples(b),
                                                                  pa.large_binary()), path)
                       for b in batches)
    if columns is None:
        return batches
    keep = set(columns) | ({raw_record_column} if raw_record_column else set())
    return (select(b, keep) for b in batches)


def iter_batches(examples: Union[str, Sequence[str]], batch_size: int, split: str = "eval",
                 **read_options) -> Iterator[pa.RecordBatch]:
    """`read_batches` over every file that `resolve_files(examples, split)` names, in order.

    Example:
      >>> n = sum(b.num_rows for b in iter_batches("/data/Examples/12", 4096))  # doctest: +SKIP
    """
    for path in resolve_files(examples, split):
        yield from read_batches(path, batch_size, **read_options)
