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
from assay.data.tfrecord import ByteRange, encode_examples, read_tfrecord
from assay.errors import AssayError, ConfigError, ConfigTypeError, DataError, InputNotFound


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
      InputNotFound: (a FileNotFoundError) a pattern matched nothing, a path where nothing is
        (a dangling symlink names its target), or a directory that holds no data files (the
        message lists what it does hold).
      StorageError: a path that cannot be resolved or read: a symlink loop, a directory that
        may not be listed, a FIFO or device where a file is needed.
      DataError: files of several formats (the message lists them); one evaluation reads one.

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
    paths = sorted(found)
    _check_one_format(paths)
    return paths


def _check_one_format(paths: Sequence[str]) -> None:
    """Refuses files of several formats: one evaluation reads one format.

    A pass reads every file the same way (tf.Examples give list columns and may feed a model
    their serialized records; CSV and Parquet give typed scalar columns), so a mix would give
    columns of different shapes per file; and a mix in one directory is most often a mistake
    (an export beside its source). The name tells the format when it can, without reading.
    """
    by_format: dict = {}
    for path in paths:
        fmt = format_or_none(path)
        if fmt is not None:
            by_format.setdefault(fmt, []).append(path)
    if len(by_format) > 1:
        found = "; ".join(f"{fmt}: {len(p)} file(s), e.g. {p[0]}"
                          for fmt, p in sorted(by_format.items()))
        raise DataError(f"the examples are files of {len(by_format)} formats ({found}); one "
                        f"evaluation reads files of one format: give the files of one format "
                        f"(a glob such as DIR/*.parquet, or a list of files)")


def _resolve_one(pattern: str, split: str) -> List[str]:
    if re.search(r"[*?\[]", pattern):
        found = [p for p in files.match(pattern) if not files.is_hidden(p)]
        if not found:
            raise InputNotFound(f"no files match {pattern!r}")
        return found
    if files.is_dir(pattern):
        return _files_in_dir(pattern, split)
    if files.exists(pattern):  # a symlink loop or a denied directory: StorageError, named
        return [pattern]
    if not files.is_remote(pattern) and os.path.islink(pattern):
        raise files.input_error(pattern, FileNotFoundError(2, "No such file", pattern))
    raise InputNotFound(f"no such file or directory: {pattern!r}")


def _files_in_dir(directory: str, split: str) -> List[str]:
    try:
        paths, subdirs = files.list_dir(directory)
    except OSError as e:
        if isinstance(e, AssayError):
            raise
        raise files.input_error(directory, e) from None
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
      row_groups: Parquet: (first, stop), read row groups first..stop-1 of the file (see
        `parquet_parts`); an uncompressed TFRecord or CSV file: a `ByteRange`, read the records
        or lines that start in it (see `assay.data.parts`); None reads the whole file.

    Returns:
      An iterator of pa.RecordBatch; the arguments are checked when called, the file is read as
      it is iterated. From TFRecord files every feature is a list column; from CSV and Parquet
      columns are as typed in the file (CSV: inferred; a column whose later rows do not fit the
      type inferred from the first block is widened, int to float to string, for the rest).

    Raises:
      DataError: a corrupt or truncated file, an unparsable tf.Example, an unreadable CSV or
        Parquet file; the message names the file and, for TFRecord, the record index and byte
        offset.
      InputNotFound: (a FileNotFoundError) the file does not exist.
      StorageError: the operating system cannot read it (permissions, a symlink loop, an I/O
        error); the message names the path and the cause.

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
    part = row_groups if isinstance(row_groups, ByteRange) else None
    if row_groups is not None and fmt != "parquet" and part is None:
        raise ConfigError(f"row_groups is for Parquet files only (got a {fmt} file: {path})")
    if part is not None and fmt == "parquet":
        raise ConfigError(f"a ByteRange is for TFRecord and CSV files (got {path}); Parquet "
                          f"files are read in row groups")
    if fmt == "tfrecord":
        batches = read_tfrecord(path, int(batch_size), raw_record_column, part, columns)
    else:
        # An encoded row must hold every feature, not only the columns kept.
        wanted = None if raw_record_column else columns
        batches = (read_csv(path, int(batch_size), part) if fmt == "csv" else
                   read_parquet(path, int(batch_size), wanted, row_groups))
        if raw_record_column is not None:
            batches = (with_column(b, raw_record_column, pa.array(encode_examples(b),
                                                                  pa.large_binary()), path)
                       for b in batches)
    batches = _os_errors_named(batches, path)
    if columns is None:
        return batches
    keep = set(columns) | ({raw_record_column} if raw_record_column else set())
    return (select(b, keep) for b in batches)


def _os_errors_named(batches: Iterator[pa.RecordBatch], path: str) -> Iterator[pa.RecordBatch]:
    """The batches; an operating-system error while reading them (a disk error, a file made
    unreadable meanwhile) becomes the StorageError or InputNotFound that names `path`."""
    try:
        yield from batches
    except AssayError:
        raise
    except OSError as e:
        raise files.input_error(path, e) from None


def iter_batches(examples: Union[str, Sequence[str]], batch_size: int, split: str = "eval",
                 **read_options) -> Iterator[pa.RecordBatch]:
    """`read_batches` over every file that `resolve_files(examples, split)` names, in order.

    Example:
      >>> n = sum(b.num_rows for b in iter_batches("/data/Examples/12", 4096))  # doctest: +SKIP
    """
    for path in resolve_files(examples, split):
        yield from read_batches(path, batch_size, **read_options)
