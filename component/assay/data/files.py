"""Readers of example data (tf.Example TFRecord, CSV, Parquet) into Arrow RecordBatches.

    files = resolve_files("/pipeline/CsvExampleGen/examples/7")  # the .../Split-eval/* files
    for path in files:
        for batch in read_batches(path, batch_size=4096):
            labels = single_values(batch, "label", "label")     # shape [n], one per example
            hours, rows = column_values(batch, "hour")           # every value, and its row

Every reader streams: memory depends on batch_size, not on the file's size. Paths with a scheme
(gs://, s3://, ...) go through Beam's FileSystems, so every filesystem Beam knows works as local
paths do; local paths use the os module, without importing Beam.

tf.Examples are decoded without a schema, as TFX does when it has none: every feature becomes a
list column (large_list<int64 | float | large_binary>), and a batch in which no example has a
feature has no column for it. Two batches of one file may therefore differ in columns and in
types; `column_values` and `single_values` hide both differences from the engine.

This module must not import TensorFlow: the metrics-only path has to start in seconds.
"""

from __future__ import annotations

import glob
import gzip
import os
import re
import struct
import zlib
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import google_crc32c
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from assay.errors import DataError

FORMATS = ("tfrecord", "csv", "parquet")

_CHUNK_BYTES = 1 << 20  # one buffered read
_SNIFF_BYTES = 1 << 16
_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"
_TFRECORD_HEADER = struct.Struct("<QI")  # record length, masked crc32c of the length
_CRC_MASK_DELTA = 0xA282EAD8
_NOT_A_TFRECORD_HINT = "(the file may be truncated or not a TFRecord file)"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def _filesystems():
    # Imported on first use: importing Beam takes seconds, and the column helpers do not need it.
    from apache_beam.io.filesystems import FileSystems

    return FileSystems


# ------------------------------------------------------------------------------------------------
# Finding the files.


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
        raise FileNotFoundError("no example files given: 'examples' is an empty list")
    files = set()
    for pattern in examples:
        files.update(_resolve_one(os.fspath(pattern), split))
    return sorted(files)


def _resolve_one(pattern: str, split: str) -> List[str]:
    local = _is_local(pattern)
    if re.search(r"[*?\[]", pattern):
        if local:
            found = [p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p)]
        else:
            found = [m.path for m in _filesystems().match([pattern])[0].metadata_list]
        found = [p for p in found if not _is_hidden(p)]
        if not found:
            raise FileNotFoundError(f"no files match {pattern!r}")
        return found
    if _is_dir(pattern):
        return _files_in_dir(pattern, split)
    if os.path.exists(pattern) if local else _filesystems().exists(pattern):
        return [pattern]
    raise FileNotFoundError(f"no such file or directory: {pattern!r}")


def _files_in_dir(directory: str, split: str) -> List[str]:
    files, subdirs = _list_dir(directory)
    for name in (f"Split-{split}", split):  # TFX artifacts; very old TFX wrote plain split names
        if name in subdirs:
            return _files_in_dir(_join(directory, name), split)
    data = [p for p in files if _format_or_none(p) is not None]
    if data:
        return data
    splits = sorted(d for d in subdirs if d.startswith("Split-"))
    if splits:
        raise FileNotFoundError(
            f"{directory!r} is a TFX Examples artifact without split {split!r} "
            f"(no 'Split-{split}' folder); its splits are: {', '.join(splits)}")
    held = sorted(_basename(p) for p in files) + sorted(d + "/" for d in subdirs)
    listing = ", ".join(held[:20]) + (f", ... ({len(held)} entries)" if len(held) > 20 else "")
    raise FileNotFoundError(
        f"directory {directory!r} holds no TFRecord, CSV or Parquet files; "
        f"it contains: {listing or 'nothing'}")


def _list_dir(directory: str) -> Tuple[List[str], List[str]]:
    """(visible files directly in `directory`, names of its visible subdirectories)."""
    if _is_local(directory):
        files, subdirs = [], []
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            if entry.name.startswith((".", "_")):
                continue
            (subdirs if entry.is_dir() else files).append(os.path.join(directory, entry.name))
        return files, [_basename(d) for d in subdirs]
    # Object stores have no directories, only names with slashes.
    root = directory.rstrip("/") + "/"
    files, subdirs = [], set()
    for meta in _filesystems().match([root + "**"])[0].metadata_list:
        rest = meta.path[len(root):]
        head = rest.split("/", 1)[0]
        if head.startswith((".", "_")):
            continue
        if "/" in rest:
            subdirs.add(head)
        else:
            files.append(meta.path)
    return files, sorted(subdirs)


def _is_local(path: str) -> bool:
    """True for a path on this machine's filesystem: one without a scheme such as gs://."""
    return _SCHEME.match(os.fspath(path)) is None


def is_local(paths: Union[str, Sequence[str]]) -> bool:
    """True when every path is on this machine's filesystem (none has a scheme such as gs://)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    return all(_is_local(p) for p in paths)


def write_text(path: str, text: str, mode: int = 0o644) -> str:
    """Writes `text` to the local file `path` so that it is never seen half-written.

    The text goes to a temporary file beside `path`, which is then renamed over it; on any
    failure the temporary file is removed and `path` is left as it was. Returns `path`.
    """
    import tempfile

    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, mode)  # mkstemp makes the file private; results are for reading
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def _join(directory: str, name: str) -> str:
    return os.path.join(directory, name) if _is_local(directory) else \
        _filesystems().join(directory, name)


def _is_dir(path: str) -> bool:
    if _is_local(path):
        return os.path.isdir(path)
    fs = _filesystems()
    if path.endswith("/"):
        return True
    if fs.exists(path):
        return False
    return bool(fs.match([path + "/**"], limits=[1])[0].metadata_list)


def _basename(path: str) -> str:
    path = path.rstrip("/")
    return os.path.basename(path) if _is_local(path) else _filesystems().split(path)[1]


def _is_hidden(path: str) -> bool:
    return _basename(path).startswith((".", "_"))


# ------------------------------------------------------------------------------------------------
# Telling the format.


def detect_format(path: str) -> str:
    """The format of a data file: "tfrecord", "csv" or "parquet".

    Decided by the name (`.tfrecord`, `.tfrecords`, `.tfrecord.gz`, `data_tfrecord-*`, `.csv`,
    `.csv.gz`, `.parquet`, `.pq`, `data_parquet-*`) and otherwise, as for a bare `.gz`, by the
    first bytes: Parquet's magic, a valid TFRecord header (plain or gzipped), or text (CSV).
    A `.gz` whose content is inconclusive is taken as a TFRecord file, as TFX writes them.

    Raises:
      DataError: (a ValueError) the name says nothing and the content matches no format.

    Example:
      >>> detect_format("Split-eval/data_tfrecord-00000-of-00001.gz")
      'tfrecord'
    """
    fmt = _format_from_name(path)
    if fmt is not None:
        return fmt
    head = _read_head(path)
    fmt = _format_from_content(head)
    if fmt is not None:
        return fmt
    if _basename(path).lower().endswith(".gz"):
        return "tfrecord"
    what = "is empty" if not head else f"starts with {head[:16]!r}"
    raise DataError(
        f"cannot tell the format of {path}: its name has no known extension (.tfrecord, "
        f".tfrecords, .gz, .csv, .parquet, .pq) and it {what}, which is neither a TFRecord, a CSV "
        f"nor a Parquet file; pass the format explicitly (fmt='tfrecord' | 'csv' | 'parquet')")


def _format_from_name(path: str) -> Optional[str]:
    name = _basename(path).lower()
    stem = name[:-3] if name.endswith(".gz") else name
    if stem.endswith(".csv"):
        return "csv"
    if stem.endswith((".parquet", ".pq")) or name.startswith("data_parquet"):
        return "parquet"
    if stem.endswith((".tfrecord", ".tfrecords")) or "tfrecord" in name:
        return "tfrecord"
    return None


def _format_or_none(path: str) -> Optional[str]:
    try:
        return detect_format(path)
    except DataError:
        return None


def _read_head(path: str, size: int = _SNIFF_BYTES) -> bytes:
    with _open_raw(path) as f:
        return f.read(size)


def _format_from_content(head: bytes) -> Optional[str]:
    if head.startswith(_PARQUET_MAGIC):
        return "parquet"
    if _is_gzip(head):
        head = _gunzip_head(head)
    if _is_tfrecord_header(head):
        return "tfrecord"
    if head and _looks_like_text(head):
        return "csv"
    return None


def _gunzip_head(head: bytes) -> bytes:
    """The first uncompressed bytes of a gzip stream's first bytes (b"" if they are damaged)."""
    try:
        return zlib.decompressobj(31).decompress(head, _SNIFF_BYTES)
    except zlib.error:
        return b""


def _is_tfrecord_header(head: bytes) -> bool:
    return len(head) >= 12 and masked_crc(head[:8]) == struct.unpack_from("<I", head, 8)[0]


def _is_gzip(head: bytes) -> bool:
    # A plain TFRecord whose first record is 35,615+ bytes long also starts with 1f 8b; its
    # header checksum tells it apart.
    return head.startswith(_GZIP_MAGIC) and not _is_tfrecord_header(head)


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start >= len(head) - 3  # a character cut at the end of the sample
    return True


def masked_crc(data: bytes) -> int:
    """The masked CRC32C the TFRecord framing stores for `data` (its length, or its bytes)."""
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _CRC_MASK_DELTA) & 0xFFFFFFFF


# ------------------------------------------------------------------------------------------------
# Reading.


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
        raise TypeError(f"'batch_size' must be an int (got {batch_size!r}, a "
                        f"{type(batch_size).__name__})")
    if batch_size < 1:
        raise ValueError(f"'batch_size' must be at least 1 (got {batch_size})")
    fmt = detect_format(path) if fmt is None else fmt
    if fmt not in FORMATS:
        raise ValueError(f"'fmt' must be one of {', '.join(FORMATS)} or None (got {fmt!r})")
    if row_groups is not None and fmt != "parquet":
        raise ValueError(f"row_groups is for Parquet files only (got a {fmt} file: {path})")
    if fmt == "tfrecord":
        batches = _read_tfrecord(path, int(batch_size), raw_record_column)
    else:
        # An encoded row must hold every feature, not only the columns kept.
        wanted = None if raw_record_column else columns
        batches = (_read_csv(path, int(batch_size), wanted) if fmt == "csv" else
                   _read_parquet(path, int(batch_size), wanted, row_groups))
        if raw_record_column is not None:
            batches = (_with_column(b, raw_record_column, pa.array(encode_examples(b),
                                                                   pa.large_binary()), path)
                       for b in batches)
    if columns is None:
        return batches
    keep = set(columns) | ({raw_record_column} if raw_record_column else set())
    return (_select(b, keep) for b in batches)


def iter_batches(examples: Union[str, Sequence[str]], batch_size: int, split: str = "eval",
                 **read_options) -> Iterator[pa.RecordBatch]:
    """`read_batches` over every file that `resolve_files(examples, split)` names, in order.

    Example:
      >>> n = sum(b.num_rows for b in iter_batches("/data/Examples/12", 4096))  # doctest: +SKIP
    """
    for path in resolve_files(examples, split):
        yield from read_batches(path, batch_size, **read_options)


def _select(batch: pa.RecordBatch, keep: set) -> pa.RecordBatch:
    names = [n for n in batch.schema.names if n in keep]
    return pa.RecordBatch.from_arrays([batch.column(n) for n in names], names=names)


def _with_column(batch: pa.RecordBatch, name: str, values: pa.Array, path: str) -> pa.RecordBatch:
    if name in batch.schema.names:
        raise DataError(f"raw_record_column {name!r} clashes with a column of the same name in "
                        f"{path}; choose another name")
    return pa.RecordBatch.from_arrays(batch.columns + [values], names=batch.schema.names + [name])


def _open_raw(path: str):
    """The file's bytes as stored (gzip is undone by the readers, told by magic bytes)."""
    if _is_local(path):
        return open(path, "rb")  # FileNotFoundError names the path
    from apache_beam.io.filesystem import CompressionTypes

    try:
        return _filesystems().open(path, compression_type=CompressionTypes.UNCOMPRESSED)
    except FileNotFoundError:
        raise
    except Exception as e:  # Beam wraps a missing file differently on each filesystem.
        if not _filesystems().exists(path):
            raise FileNotFoundError(f"no such file: {path!r}") from e
        raise


# ---- TFRecord ----------------------------------------------------------------------------------


def _read_tfrecord(path: str, batch_size: int,
                   raw_record_column: Optional[str]) -> Iterator[pa.RecordBatch]:
    from tfx_bsl.coders import example_coder  # no TensorFlow behind it

    decoder = example_coder.ExamplesToRecordBatchDecoder()
    for records, first_index, first_offset in _record_batches(path, batch_size):
        try:
            batch = decoder.DecodeBatch(records)
        except RuntimeError:
            raise _unparsable(decoder, path, records, first_index, first_offset) from None
        if raw_record_column is not None:
            batch = _with_column(batch, raw_record_column, pa.array(records, pa.large_binary()),
                                 path)
        yield batch


def _unparsable(decoder, path: str, records: List[bytes], first_index: int,
                first_offset: int) -> DataError:
    offset = first_offset
    for i, record in enumerate(records):
        try:
            decoder.DecodeBatch([record])
        except RuntimeError as e:
            return DataError(f"cannot parse record {first_index + i} (byte offset {offset}) of "
                             f"{path} as a tf.Example: {e}")
        offset += len(record) + 16
    return DataError(f"cannot decode records {first_index}..{first_index + len(records) - 1} of "
                     f"{path} as tf.Examples, though each parses alone")


def _tfrecord_chunks(path: str) -> Iterator[bytes]:
    """The file's bytes, gunzipped if its first bytes say gzip, in chunks of about 1 MiB."""
    compressed = _is_gzip(_read_head(path, 12))
    with _open_raw(path) as raw:
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
        try:
            while True:
                chunk = stream.read(_CHUNK_BYTES)
                if not chunk:
                    return
                yield chunk
        except (EOFError, OSError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
            if not compressed:
                raise
            raise DataError(f"corrupt TFRecord file {path}: the gzip stream is damaged ({e}) "
                            f"{_NOT_A_TFRECORD_HINT}") from None


def _record_batches(path: str, batch_size: int) -> Iterator[Tuple[List[bytes], int, int]]:
    """Frames the TFRecord file and checks every checksum.

    Yields (records, index of the first record, byte offset of the first record); offsets count
    uncompressed bytes. A record is: length (uint64 LE), masked crc32c of the length (uint32 LE),
    data, masked crc32c of the data (uint32 LE).
    """
    chunks = _tfrecord_chunks(path)
    unpack_header = _TFRECORD_HEADER.unpack_from
    crc = google_crc32c.value
    lengths_seen: Dict[int, int] = {}  # length -> its verified masked crc; most files repeat them
    buf, pos, buf_offset = b"", 0, 0  # buf_offset: file offset of buf[0]
    index = 0  # of the first record not yet checked
    while True:
        records: List[bytes] = []
        first_index, first_offset = index, buf_offset + pos
        while len(records) < batch_size:
            # The per-record loop: only unpack, slice, crc and appends. The data checksums are
            # compared for the whole buffer at once, in numpy.
            n = len(buf)
            crcs: List[int] = []
            ends: List[int] = []
            append, append_crc, append_end = records.append, crcs.append, ends.append
            room = batch_size - len(records)
            need = 0
            while room:
                if pos + 12 > n:
                    need = pos + 12 - n
                    break
                length, length_crc = unpack_header(buf, pos)
                if lengths_seen.get(length) != length_crc:
                    if masked_crc(buf[pos:pos + 8]) != length_crc:
                        raise _corrupt(path, index + len(crcs), buf_offset + pos,
                                       "length checksum mismatch")
                    if len(lengths_seen) > 65536:
                        lengths_seen.clear()
                    lengths_seen[length] = length_crc
                end = pos + 12 + length
                if end + 4 > n:
                    need = end + 4 - n
                    break
                data = buf[pos + 12:end]
                append(data)
                append_crc(crc(data))
                append_end(end)
                pos = end + 4
                room -= 1
            if crcs:
                _check_data_crcs(path, buf, buf_offset, crcs, ends, records, index)
            index += len(crcs)
            if not room:
                break
            more = _read_at_least(chunks, need)
            if not more:
                if pos < n:
                    raise _corrupt(path, index, buf_offset + pos,
                                   f"the file ends inside the record ({n - pos} bytes left, "
                                   f"{need} more needed)")
                break
            buf, buf_offset, pos = buf[pos:] + more, buf_offset + pos, 0
        if records:
            yield records, first_index, first_offset
        if len(records) < batch_size:
            return


def _read_at_least(chunks: Iterator[bytes], size: int) -> bytes:
    parts, got = [], 0
    for chunk in chunks:
        parts.append(chunk)
        got += len(chunk)
        if got >= size:
            break
    return b"".join(parts)


def _check_data_crcs(path: str, buf: bytes, buf_offset: int, crcs: List[int], ends: List[int],
                     records: List[bytes], first_index: int) -> None:
    """Compares the data checksums of the last len(crcs) records, which end at `ends` in buf."""
    computed = np.array(crcs, dtype=np.uint32)
    masked = ((computed >> np.uint32(15)) | (computed << np.uint32(17))) + np.uint32(
        _CRC_MASK_DELTA)
    at = np.array(ends, dtype=np.int64)[:, None] + np.arange(4)
    stored = np.frombuffer(buf, dtype=np.uint8)[at].view("<u4").ravel()
    bad = np.flatnonzero(masked != stored)
    if bad.size:
        k = int(bad[0])
        record = records[len(records) - len(crcs) + k]
        raise _corrupt(path, first_index + k, buf_offset + ends[k] - len(record) - 12,
                       "data checksum mismatch")


def _corrupt(path: str, index: int, offset: int, what: str) -> DataError:
    return DataError(f"corrupt TFRecord file {path}: record {index} at byte offset {offset}: "
                     f"{what} {_NOT_A_TFRECORD_HINT}")


# ---- CSV and Parquet ---------------------------------------------------------------------------


def _arrow_input(path: str, compressed: bool):
    """A pyarrow input: native for local files (no GIL, no Python copies), else Beam's file."""
    if _is_local(path):
        return pa.input_stream(path, compression="gzip" if compressed else None)
    stream = pa.PythonFile(_open_raw(path), mode="r")
    return pa.CompressedInputStream(stream, "gzip") if compressed else stream


def _read_csv(path: str, batch_size: int,
              columns: Optional[Sequence[str]]) -> Iterator[pa.RecordBatch]:
    del columns  # every column is parsed; read_batches drops the unwanted ones
    head = _read_head(path)
    compressed = head.startswith(_GZIP_MAGIC)
    if compressed:
        head = _gunzip_head(head)
    # Size blocks to hold about one batch (types are inferred from the first block, so not less
    # than 1 MiB); rows are then regrouped into batches of exactly batch_size.
    row_bytes = len(head) / max(head.count(b"\n"), 1)
    block_size = int(min(max(row_bytes * batch_size * 1.25, 1 << 20), 1 << 28))
    column_types: Dict[str, pa.DataType] = {}
    rows_done = 0
    while True:
        reader = None
        try:
            reader = pa_csv.open_csv(
                _arrow_input(path, compressed),
                read_options=pa_csv.ReadOptions(block_size=block_size),
                convert_options=pa_csv.ConvertOptions(column_types=column_types))
            for batch in _rebatch(_skip_rows(reader, rows_done), batch_size):
                yield batch
                rows_done += batch.num_rows
            return
        except (pa.ArrowException, OSError) as e:
            if isinstance(e, FileNotFoundError):
                raise
            widened = _widen_csv_column(str(e), reader)
            if widened is None:
                raise DataError(f"cannot read CSV file {path} (at or after data row "
                                f"{rows_done + 1}): {e}") from None
            column_types.update(widened)  # and read again from the start, skipping what was read


def _widen_csv_column(message: str, reader) -> Optional[Dict[str, pa.DataType]]:
    """{column: wider type} for a CSV conversion error in a later block, or None."""
    match = re.match(r"In CSV column #(\d+): CSV conversion error to (\w+)", message)
    if match is None or reader is None:
        return None
    field = reader.schema.field(int(match.group(1)))
    if pa.types.is_null(field.type) or pa.types.is_integer(field.type):
        return {field.name: pa.float64()}
    if pa.types.is_string(field.type):
        return None
    return {field.name: pa.string()}


def _skip_rows(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        if rows >= batch.num_rows:
            rows -= batch.num_rows
            continue
        yield batch.slice(rows) if rows else batch
        rows = 0


def _rebatch(batches: Iterable[pa.RecordBatch], batch_size: int) -> Iterator[pa.RecordBatch]:
    """Regroups same-schema batches into batches of exactly batch_size rows (the last: fewer)."""
    pending: List[pa.RecordBatch] = []
    pending_rows = 0
    for batch in batches:
        while batch.num_rows:
            take = min(batch_size - pending_rows, batch.num_rows)
            pending.append(batch.slice(0, take))
            pending_rows += take
            batch = batch.slice(take)
            if pending_rows == batch_size:
                yield _concat(pending)
                pending, pending_rows = [], 0
    if pending_rows:
        yield _concat(pending)


def _concat(batches: List[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    table = pa.Table.from_batches(batches).combine_chunks()
    return pa.RecordBatch.from_arrays([c.chunk(0) for c in table.columns],
                                      names=table.schema.names)


def parquet_parts(path: str, min_rows: int) -> List[Tuple[int, int, int]]:
    """A Parquet file cut at row-group boundaries into parts of at least `min_rows` rows.

    Returns [(first row group, stop row group, index of the part's first row in the file)], one
    part for a file of one row group or fewer than 2 x min_rows rows. Lets one big file be read
    by several workers.
    """
    try:
        meta = pq.ParquetFile(path if _is_local(path) else _open_raw(path)).metadata
    except (pa.ArrowException, OSError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise DataError(f"cannot read Parquet file {path}: {e}") from None
    parts: List[Tuple[int, int, int]] = []
    first, first_row, rows, row = 0, 0, 0, 0
    for g in range(meta.num_row_groups):
        n = meta.row_group(g).num_rows
        rows += n
        row += n
        if rows >= min_rows and meta.num_rows - row >= min_rows:
            parts.append((first, g + 1, first_row))
            first, first_row, rows = g + 1, row, 0
    parts.append((first, meta.num_row_groups, first_row))
    return parts


def _read_parquet(path: str, batch_size: int, columns: Optional[Sequence[str]],
                  row_groups: Optional[Tuple[int, int]] = None) -> Iterator[pa.RecordBatch]:
    try:
        source = path if _is_local(path) else _open_raw(path)
        parquet = pq.ParquetFile(source)
        names = parquet.schema_arrow.names
        wanted = None if columns is None else [n for n in names if n in set(columns)]
        groups = None if row_groups is None else list(range(*row_groups))
        if groups == []:
            return
        yield from parquet.iter_batches(batch_size=batch_size, columns=wanted,
                                        row_groups=groups)
    except (pa.ArrowException, OSError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise DataError(f"cannot read Parquet file {path}: {e}") from None


# ------------------------------------------------------------------------------------------------
# Column helpers for the engine.


def column_values(batch: pa.RecordBatch, name: str,
                  required: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """Every value of a column, flattened, with the row each belongs to.

    Works on scalar columns (CSV, Parquet) and list columns (tf.Example features) alike; null
    rows, empty lists and null list items contribute no values. Vectorised through the list
    offsets: no per-row Python.

    Args:
      batch: the RecordBatch.
      name: the column.
      required: raise if the batch has no such column; otherwise a missing column (no example
        in the batch has the feature) gives empty arrays.

    Returns:
      (values, row_index): values shape [m] (int64/float32/float64/bool as stored; strings and
      bytes as an object array of str, decoded as utf-8), row_index shape [m] int64,
      non-decreasing.

    Raises:
      DataError: the column is missing and required, or holds nested lists or structs.

    Example:
      >>> b = pa.record_batch([pa.array([[1, 2], None, [3]])], names=["x"])
      >>> column_values(b, "x")
      (array([1, 2, 3]), array([0, 0, 2]))
    """
    column = _column(batch, name, required)
    if column is None:
        return np.empty(0, dtype=np.float64), np.empty(0, dtype=np.int64)
    n = len(column)
    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type) or \
            pa.types.is_fixed_size_list(column.type):
        counts = pc.fill_null(pc.list_value_length(column), 0).to_numpy(zero_copy_only=False)
        row_index = np.repeat(np.arange(n, dtype=np.int64), counts.astype(np.int64))
        values = column.flatten()
    else:
        row_index = np.arange(n, dtype=np.int64)
        values = column
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if values.null_count:
        valid = values.is_valid()
        row_index = row_index[valid.to_numpy(zero_copy_only=False)]
        values = values.filter(valid)
    return _to_numpy(values, name), row_index


def single_values(batch: pa.RecordBatch, name: str, what: str,
                  row_offset: int = 0) -> np.ndarray:
    """Exactly one value per row of a column (a label, a prediction, a weight).

    Args:
      batch: the RecordBatch.
      name: the column.
      what: what the column is, for the error message ("label", "prediction", ...).
      row_offset: added to the row numbers in error messages (the batch's first row in a file).

    Returns:
      shape [num_rows]; dtypes as `column_values`.

    Raises:
      DataError: the column is missing, or a row holds no value or several; the message names
        the column and the first such row and what it holds.

    Example:
      >>> b = pa.record_batch([pa.array([[1], [0], [1]])], names=["label"])
      >>> single_values(b, "label", "label")
      array([1, 0, 1])
    """
    values, row_index = column_values(batch, name, required=False)
    n = batch.num_rows
    if np.array_equal(row_index, np.arange(n)):
        return values
    if _column(batch, name, required=False) is None:
        raise DataError(f"{what} column {name!r} must hold exactly one value per example; no "
                        f"example in this batch has it (its columns: "
                        f"{', '.join(batch.schema.names)})")
    counts = np.bincount(row_index, minlength=n)
    row = int(np.flatnonzero(counts != 1)[0])
    held = values[row_index == row]
    shown = ", ".join(repr(v) for v in held[:5].tolist()) + (", ..." if len(held) > 5 else "")
    detail = f"{len(held)} values" + (f": [{shown}]" if len(held) else "")
    raise DataError(f"{what} column {name!r} must hold exactly one value per example; "
                    f"row {row + row_offset} holds {detail}")


def _column(batch: pa.RecordBatch, name: str, required: bool) -> Optional[pa.Array]:
    index = batch.schema.get_field_index(name)
    if index < 0:
        if required:
            raise DataError(f"column {name!r} is missing from this batch; its columns: "
                            f"{', '.join(batch.schema.names)}")
        return None
    column = batch.column(index)
    if isinstance(column, pa.ChunkedArray):  # a pa.Table column
        column = column.combine_chunks()
    return column


def _to_numpy(values: pa.Array, name: str) -> np.ndarray:
    kind = values.type
    if pa.types.is_null(kind):
        return np.empty(0, dtype=np.float64)
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        try:
            values = values.cast(pa.large_string())
        except pa.ArrowInvalid:  # not utf-8: decode each value, marking the bad bytes
            return np.array([v.decode("utf-8", "replace") for v in values.to_pylist()],
                            dtype=object)
        kind = values.type
    if pa.types.is_nested(kind):
        raise DataError(f"column {name!r} holds {kind} values; only scalars and lists of scalars "
                        f"are supported")
    return values.to_numpy(zero_copy_only=False)


# ------------------------------------------------------------------------------------------------
# Encoding rows as tf.Examples (for models that take serialized examples, on CSV or Parquet data).


def encode_examples(batch: pa.RecordBatch) -> List[bytes]:
    """Each row of a batch serialized as a tf.Example.

    Integers and booleans become int64_list features, floats float_list (float32), strings and
    bytes bytes_list; other types are written as their string form. A null value or an empty
    list leaves the feature out of that example.

    Example:
      >>> encode_examples(pa.record_batch([pa.array([3])], names=["hour"]))  # doctest: +SKIP
      [b'\\n\\r\\n\\x0b\\n\\x04hour\\x12\\x03\\x1a\\x01\\x03']
    """
    from tfx_bsl.coders import example_coder

    arrays, names = [], []
    for name, column in zip(batch.schema.names, batch.columns):
        if pa.types.is_null(column.type):
            continue
        arrays.append(_as_feature_list(column, name))
        names.append(name)
    if not arrays:
        return [b""] * batch.num_rows
    features = pa.RecordBatch.from_arrays(arrays, names=names)
    return example_coder.RecordBatchToExamplesEncoder().encode(features)


def _as_feature_list(column: pa.Array, name: str) -> pa.Array:
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        values = column.flatten()
        lengths = pc.fill_null(pc.list_value_length(column), 0).to_numpy(zero_copy_only=False)
        if values.null_count:
            raise DataError(f"cannot encode column {name!r} as a tf.Example feature: a list in "
                            f"it holds null items")
    else:  # one value per row; a null row gets a null list: the feature is left out
        lengths = column.is_valid().to_numpy(zero_copy_only=False).astype(np.int64)
        values = column.drop_null()
    kind = values.type
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind):
        values = values.cast(pa.int64())
    elif pa.types.is_floating(kind):
        values = values.cast(pa.float32())
    elif not (pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or
              pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        values = values.cast(pa.string())
    if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)):
        values = values.cast(pa.large_binary())
    offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
    return pa.LargeListArray.from_arrays(pa.array(offsets, pa.int64()), values,
                                         mask=column.is_null())
