"""Telling the format of a data file: "tfrecord", "csv" or "parquet".

    detect_format("Split-eval/data_tfrecord-00000-of-00001.gz")   # 'tfrecord', by its name
    detect_format("gs://bucket/export/part-0")                    # by its first bytes

The name decides when it can; otherwise the first 64 KiB: Parquet's magic, a valid TFRecord header
(plain or gzipped), or UTF-8 text without NUL bytes (CSV).
"""

from __future__ import annotations

import zlib
from typing import Optional

from assay.data.files import HEAD_BYTES, basename, read_head
from assay.data.tfrecord import is_gzipped, is_tfrecord_header
from assay.errors import DataError

FORMATS = ("tfrecord", "csv", "parquet")

_PARQUET_MAGIC = b"PAR1"


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
    fmt = format_from_name(path)
    if fmt is not None:
        return fmt
    head = read_head(path)
    fmt = format_from_content(head)
    if fmt is not None:
        return fmt
    if basename(path).lower().endswith(".gz"):
        return "tfrecord"
    what = "is empty" if not head else f"starts with {head[:16]!r}"
    raise DataError(
        f"cannot tell the format of {path}: its name has no known extension (.tfrecord, "
        f".tfrecords, .gz, .csv, .parquet, .pq) and it {what}, which is neither a TFRecord, a CSV "
        f"nor a Parquet file; pass the format explicitly (fmt='tfrecord' | 'csv' | 'parquet')")


def format_or_none(path: str) -> Optional[str]:
    """`detect_format`, or None for a file that is none of the formats."""
    try:
        return detect_format(path)
    except DataError:
        return None


def format_from_name(path: str) -> Optional[str]:
    """The format the file's name says, or None."""
    name = basename(path).lower()
    stem = name[:-3] if name.endswith(".gz") else name
    if stem.endswith(".csv"):
        return "csv"
    if stem.endswith((".parquet", ".pq")) or name.startswith("data_parquet"):
        return "parquet"
    if stem.endswith((".tfrecord", ".tfrecords")) or "tfrecord" in name:
        return "tfrecord"
    return None


def format_from_content(head: bytes) -> Optional[str]:
    """The format the file's first bytes show, or None."""
    if head.startswith(_PARQUET_MAGIC):
        return "parquet"
    if is_gzipped(head):
        head = gunzip_head(head)
    if is_tfrecord_header(head):
        return "tfrecord"
    if head and _looks_like_text(head):
        return "csv"
    return None


def gunzip_head(head: bytes) -> bytes:
    """The first uncompressed bytes of a gzip stream's first bytes (b"" if they are damaged)."""
    try:
        return zlib.decompressobj(31).decompress(head, HEAD_BYTES)
    except zlib.error:
        return b""


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start >= len(head) - 3  # a character cut at the end of the sample
    return True
