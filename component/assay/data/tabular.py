"""CSV and Parquet files as Arrow RecordBatches, streamed.

    for batch in read_csv("eval.csv.gz", batch_size=4096): ...
    for batch in read_parquet("eval.parquet", 4096, columns=None, row_groups=(0, 3)): ...

Columns are as typed in the file (CSV: inferred from the first block; a column whose later rows
do not fit that type is widened, int to float to string, and the file is read again from where
it failed). Local files are read by pyarrow natively (no GIL, no Python copies); remote ones
through the filesystem layer.
"""

from __future__ import annotations

import io
import mmap
import os
import re
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import pyarrow as pa
import pyarrow.csv as pa_csv

from assay.data.files import is_remote, open_read, read_head
from assay.data.formats import gunzip_head
from assay.data.parts import line_start
from assay.data.tfrecord import GZIP_MAGIC, ByteRange
from assay.errors import DataError


def _arrow_input(path: str, compressed: bool):
    """A pyarrow input: native for local files, else the filesystem layer's file."""
    if not is_remote(path):
        return pa.input_stream(path, compression="gzip" if compressed else None)
    stream = pa.PythonFile(open_read(path), mode="r")
    return pa.CompressedInputStream(stream, "gzip") if compressed else stream


def read_csv(path: str, batch_size: int, part: Optional[ByteRange] = None
             ) -> Iterator[pa.RecordBatch]:
    """Streams a CSV file (plain or gzipped, told by its bytes) with a header line, or the lines
    that start in `part` of an uncompressed local one (`assay.data.parts`).

    Batches hold exactly batch_size rows, except the last.

    Raises:
      DataError: the file cannot be parsed; names the file and the first data row affected.
    """
    head = read_head(path)
    compressed = head.startswith(GZIP_MAGIC)
    if compressed:
        head = gunzip_head(head)
    # Size blocks to hold about one batch (types are inferred from the first block, so not less
    # than 1 MiB); rows are then regrouped into batches of exactly batch_size.
    row_bytes = len(head) / max(head.count(b"\n"), 1)
    block_size = int(min(max(row_bytes * batch_size * 1.25, 1 << 20), 1 << 28))
    column_types: Dict[str, pa.DataType] = {}
    rows_done = 0
    names = None if part is None else _header_names(head, path)
    while True:
        reader = None
        try:
            reader = pa_csv.open_csv(
                _arrow_input(path, compressed) if part is None else _part_input(path, part),
                read_options=pa_csv.ReadOptions(block_size=block_size, column_names=names),
                convert_options=pa_csv.ConvertOptions(column_types=column_types))
            _check_names(reader.schema, path)
            for batch in rebatch(_skip_rows(reader, rows_done), batch_size):
                yield batch
                rows_done += batch.num_rows
            return
        except (pa.ArrowException, OSError) as e:
            if isinstance(e, FileNotFoundError):
                raise
            widened = _widen_csv_column(str(e), reader)
            if widened is None:
                located = _ragged_row(path, compressed) if "columns, got" in str(e) else None
                first = part.first_index if part is not None else 0
                raise DataError(located or f"cannot read CSV file {path} (at or after data row "
                                           f"{first + rows_done + 1}): {e}") from None
            column_types.update(widened)  # and read again from the start, skipping what was read


def _header_names(head: bytes, path: str) -> List[str]:
    """The column names of the header line (a part of the file starts after it)."""
    line = head[:head.find(b"\n") + 1] if b"\n" in head else head
    return pa_csv.read_csv(pa.BufferReader(line)).schema.names


def _part_input(path: str, part: ByteRange):
    """The bytes of the lines that start in `part` (the last ends after part.stop), read from
    the file as the reader asks for them (a memory map would keep every page of the part in the
    worker's resident memory until the part is done)."""
    end = os.path.getsize(path)
    if part.stop < end:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            end = line_start(m, part.stop)
    return pa.PythonFile(io.BufferedReader(_Range(path, part.start, end), 1 << 20), mode="r")


class _Range(io.RawIOBase):
    """Bytes start..stop-1 of a local file, as a readable raw stream."""

    def __init__(self, path: str, start: int, stop: int):
        self._file = open(path, "rb")
        self._file.seek(start)
        self._left = stop - start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self._left)
        if n <= 0:
            return 0
        got = self._file.readinto(memoryview(buffer)[:n]) or 0
        self._left -= got
        return got

    def close(self) -> None:
        self._file.close()
        super().close()


def _check_names(schema: pa.Schema, path: str) -> None:
    """DataError for a header that is not UTF-8 text (Arrow keeps such names as raw bytes,
    which no column lookup can match)."""
    for i in range(len(schema)):
        try:
            schema.field(i).name
        except UnicodeDecodeError as e:
            raise DataError(f"cannot read CSV file {path}: the name of column {i + 1} in the "
                            f"header (line 1) is not UTF-8 text ({e.reason} at byte {e.start}"
                            f" of the name)") from None


def _ragged_row(path: str, compressed: bool) -> Optional[str]:
    """Where the first row with more or fewer fields than the header is: its line in the file.

    Arrow's streaming reader does not know the line of a row it rejects (and a quoted field
    may hold newlines), so on this error only the file is scanned again with Python's csv
    module, which counts physical lines.
    """
    import csv
    import gzip
    import io

    with open_read(path) as raw:
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
        text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="")
        reader = csv.reader(text)
        header, start = None, 1
        try:
            for row in reader:
                if not row:  # a blank line; Arrow skips them too
                    start = reader.line_num + 1
                    continue
                if header is None:
                    header = row
                elif len(row) != len(header):
                    shown = ",".join(row)
                    shown = shown if len(shown) <= 80 else shown[:77] + "..."
                    return (f"cannot read CSV file {path}: line {start} has {len(row)} field{'s' * (len(row) != 1)} "
                            f"but the header (line 1) names {len(header)} columns: {shown!r}")
                start = reader.line_num + 1
        except (csv.Error, OSError, EOFError):
            return None
    return None


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


def rebatch(batches: Iterable[pa.RecordBatch], batch_size: int) -> Iterator[pa.RecordBatch]:
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


def _parquet_file(path: str) -> "pa.parquet.ParquetFile":
    import pyarrow.parquet as pq  # here: 10 ms to import, which TFRecord and CSV runs skip

    return pq.ParquetFile(open_read(path) if is_remote(path) else path)


def _parquet_error(path: str, error: Exception) -> Exception:
    if isinstance(error, FileNotFoundError):
        return error
    return DataError(f"cannot read Parquet file {path}: {error}")


def parquet_parts(path: str, min_rows: int) -> List[Tuple[int, int, int]]:
    """A Parquet file cut at row-group boundaries into parts of at least `min_rows` rows.

    Returns [(first row group, stop row group, index of the part's first row in the file)], one
    part for a file of one row group or fewer than 2 x min_rows rows. Lets one big file be read
    by several workers.

    Example:
      >>> parquet_parts("eval.parquet", 1_000_000)  # doctest: +SKIP
      [(0, 4, 0), (4, 7, 1048576)]
    """
    try:
        meta = _parquet_file(path).metadata
    except (pa.ArrowException, OSError) as e:
        raise _parquet_error(path, e) from None
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


def read_parquet(path: str, batch_size: int, columns: Optional[Sequence[str]],
                 row_groups: Optional[Tuple[int, int]] = None) -> Iterator[pa.RecordBatch]:
    """Streams a Parquet file, or row groups first..stop-1 of it; batches end at row groups.

    Raises:
      DataError: the file is not a readable Parquet file.
    """
    try:
        parquet = _parquet_file(path)
        names = parquet.schema_arrow.names
        wanted = None if columns is None else [n for n in names if n in set(columns)]
        groups = None if row_groups is None else list(range(*row_groups))
        if groups == []:
            return
        read = 0
        for batch in parquet.iter_batches(batch_size=batch_size, columns=wanted,
                                          row_groups=groups):
            read += batch.num_rows
            yield batch
    except (pa.ArrowException, OSError) as e:
        raise _parquet_error(path, e) from None
    # A damaged page header can end a column chunk early without any error from pyarrow.
    meta = parquet.metadata
    expected = sum(meta.row_group(g).num_rows
                   for g in (groups if groups is not None else range(meta.num_row_groups)))
    if read != expected:
        raise DataError(f"corrupt Parquet file {path}: its footer says "
                        f"{expected} rows{' in the row groups read' if groups else ''}, but "
                        f"{read} could be read (a damaged page?)")
