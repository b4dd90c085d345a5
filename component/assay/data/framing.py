"""TFRecord framing: records out of a stream of bytes, every checksum checked, cheaply.

    for records, first_index, first_offset in record_batches("eval.tfrecord", 8192): ...
    part = ByteRange(start=1 << 26, stop=1 << 27, first_index=331_117)   # from record_parts
    for records, first_index, first_offset in record_batches("eval.tfrecord", 8192, part): ...

A record is: length (uint64 LE), masked crc32c of the length (uint32 LE), data, masked crc32c of
the data (uint32 LE). The only per-record Python is a tight walk along the length fields; the
length checksums are then checked in numpy for a whole buffer at once (a table-driven CRC32C of
the 8 length bytes of every record), and the data checksums by google-crc32c over the records
(one C call each) compared in numpy. A bad checksum still names the first bad record and its
byte offset, as the per-record loop did: the walk only follows lengths up to the first bad one.

One big uncompressed file can be read by several workers (`record_parts`): a part owns the
records that START in its byte range. The driver walks the length fields of the whole file once
(no data read into Python, no decoding: about 0.15 s per million records) to learn where each
part's first record starts and its index in the file, so that row keys (file, row index) and
record numbers in errors are the same as in an unsplit read. `resynchronise` finds the first
record start at or after any offset from the checksums alone; it is not what parts rely on,
because a record's payload may itself hold a valid-looking record (a tf.Example with a
serialized tf.Example in a bytes feature), which no amount of local checking tells apart from a
real one: only a walk from the file's start is certain. Gzipped files cannot be split (a gzip
stream can only be decompressed from its start).
"""

from __future__ import annotations

import gzip
import struct
import zlib
from typing import Iterator, List, NamedTuple, Optional, Tuple

import google_crc32c
import numpy as np

from assay.data.files import open_read, read_head
from assay.errors import DataError

GZIP_MAGIC = b"\x1f\x8b"
_CHUNK_BYTES = 1 << 22  # one buffered read
LENGTH = struct.Struct("<Q")
_CRC_MASK_DELTA = 0xA282EAD8
NOT_A_TFRECORD_HINT = "(the file may be truncated or not a TFRecord file)"


def _crc32c_table() -> np.ndarray:
    poly = 0x82F63B78  # CRC32C (Castagnoli), reflected
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> np.uint32(1)) ^ np.uint32(poly),
                         table >> np.uint32(1)).astype(np.uint32)
    return table


_TABLE = _crc32c_table()


class ByteRange(NamedTuple):
    """A part of an uncompressed file: the records (or lines) that start at byte offsets
    start..stop-1; `start` is where the first of them starts, `first_index` its index in the
    file (records or data rows counted from 0)."""

    start: int
    stop: int
    first_index: int


def masked_crc(data: bytes) -> int:
    """The masked CRC32C the TFRecord framing stores for `data` (its length, or its bytes)."""
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _CRC_MASK_DELTA) & 0xFFFFFFFF


def _mask(crc: np.ndarray) -> np.ndarray:
    return ((crc >> np.uint32(15)) | (crc << np.uint32(17))) + np.uint32(_CRC_MASK_DELTA)


def masked_crcs_of_lengths(raw: np.ndarray) -> np.ndarray:
    """uint32 [n]: the masked CRC32C of each row of `raw` (uint8 [n, 8], the length fields)."""
    crc = np.full(raw.shape[0], 0xFFFFFFFF, dtype=np.uint32)
    for j in range(raw.shape[1]):
        crc = _TABLE[(crc ^ raw[:, j]) & np.uint32(0xFF)] ^ (crc >> np.uint32(8))
    return _mask(crc ^ np.uint32(0xFFFFFFFF))


def is_tfrecord_header(head: bytes) -> bool:
    """True when `head` starts with a TFRecord length and its valid checksum."""
    return len(head) >= 12 and masked_crc(head[:8]) == struct.unpack_from("<I", head, 8)[0]


def is_gzipped(head: bytes) -> bool:
    """True when a file starting with `head` is gzip-compressed.

    A plain TFRecord whose first record is 35,615+ bytes long also starts with 1f 8b; its header
    checksum tells it apart.
    """
    return head.startswith(GZIP_MAGIC) and not is_tfrecord_header(head)


def _chunks(path: str, start: int = 0) -> Iterator[bytes]:
    """The file's bytes from `start`, gunzipped if its first bytes say gzip, in chunks."""
    compressed = is_gzipped(read_head(path, 12))
    with open_read(path) as raw:
        if start:
            raw.seek(start)  # parts are of uncompressed files only
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
                            f"{NOT_A_TFRECORD_HINT}") from None


def walk(buf: bytes, pos: int, limit: int) -> Tuple[List[bytes], int]:
    """Follows the length fields from `pos`: (the data of the whole records in buf that start
    before `limit`, the position after the last).

    The one per-record Python loop: nothing but an unpack, a slice and an append. The checksums
    are checked afterwards, for all the records at once; where a length is corrupt the walk
    may run on through garbage, but the first bad length checksum is then the corrupt one.
    """
    records: List[bytes] = []
    append = records.append
    unpack = LENGTH.unpack_from
    n = len(buf)
    limit = min(limit - 1, n - 12)  # a record starts before `limit`, its header fits
    while pos <= limit:
        data = pos + 12
        pos = data + 4 + unpack(buf, pos)[0]
        if pos > n:
            return records, data - 12
        append(buf[data:pos - 4])
    return records, pos


def bad_length_crc(arr: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> int:
    """The position in `starts` of the first header whose length checksum fails, or -1.

    Files repeat a few lengths: each distinct one is checksummed once.
    """
    if not starts.size:
        return -1
    stored = arr[(starts + 8)[:, None] + np.arange(4)].copy().view("<u4").ravel()
    distinct, inverse = np.unique(lengths, return_inverse=True)
    raw = distinct.astype("<u8").view(np.uint8).reshape(-1, 8)
    bad = np.flatnonzero(masked_crcs_of_lengths(raw)[inverse] != stored)
    return int(bad[0]) if bad.size else -1


def walk_starts(data, start: int, stop: int) -> Tuple[int, int]:
    """(how many records start in start..stop-1, where the first after them starts), following
    the length fields from `start` (a record start) in `data` (bytes or an mmap of the file).

    No checksum is checked: the reader of the part checks them all.
    """
    unpack = LENGTH.unpack_from
    limit = min(stop - 1, len(data) - 12)
    count, pos = 0, start
    while pos <= limit:
        count += 1
        pos += 16 + unpack(data, pos)[0]
    return count, pos


def resynchronise(data, offset: int, window: int = 1 << 16) -> int:
    """The first offset at or after `offset` in `data` (bytes or an mmap of a whole file) where
    a record's length checksum and data checksum both check; len(data) if there is none.

    Payload bytes that look like framing may fool it (see the module's docstring).
    """
    size = len(data)
    arr = np.frombuffer(data, dtype=np.uint8)
    while offset + 16 <= size:
        top = min(offset + window, size - 16)  # candidate starts: offset..top
        at = np.arange(offset, top + 1, dtype=np.int64)
        heads = arr[at[:, None] + np.arange(12)]
        stored = heads[:, 8:12].copy().view("<u4").ravel()
        for k in np.flatnonzero(masked_crcs_of_lengths(heads[:, :8]) == stored).tolist():
            pos = offset + k
            length = LENGTH.unpack_from(data, pos)[0]
            end = pos + 12 + length
            if end + 4 <= size and masked_crc(data[pos + 12:end]) == \
                    struct.unpack_from("<I", data, end)[0]:
                return pos
        offset = top + 1
    return size


def record_batches(path: str, batch_size: int, part: Optional[ByteRange] = None
                   ) -> Iterator[Tuple[List[bytes], int, int]]:
    """Frames the TFRecord file (or the records starting in `part`) and checks every checksum.

    Yields (records, index of the first record in the file, byte offset of the first record);
    offsets count uncompressed bytes.
    """
    start, stop, index = part if part is not None else (0, 1 << 62, 0)
    chunks = _chunks(path, start)
    crc = google_crc32c.value
    buf, pos, buf_offset = b"", 0, start  # buf_offset: file offset of buf[0]
    pending: List[bytes] = []
    offsets: List[int] = []  # the file offset of each pending record
    while True:
        records, end = walk(buf, pos, stop - buf_offset)
        arr = np.frombuffer(buf, dtype=np.uint8)
        lengths = np.fromiter(map(len, records), np.int64, len(records))
        starts = pos + np.concatenate([[0], np.cumsum(lengths + 16)])[:len(records)]
        bad = bad_length_crc(arr, starts, lengths)
        if bad >= 0:
            raise corrupt(path, index + bad, buf_offset + int(starts[bad]),
                          "length checksum mismatch")
        # The header after the last whole record, if complete: check it before reading more, so
        # that a corrupt length is named as such, not as a file that ends too soon.
        if end + 12 <= len(buf) and end + buf_offset < stop and \
                masked_crc(buf[end:end + 8]) != struct.unpack_from("<I", buf, end + 8)[0]:
            raise corrupt(path, index + len(records), buf_offset + end,
                          "length checksum mismatch")
        if records:
            computed = _mask(np.fromiter(map(crc, records), np.uint32, len(records)))
            ends = starts + 12 + lengths
            stored = arr[ends[:, None] + np.arange(4)].copy().view("<u4").ravel()
            wrong = np.flatnonzero(computed != stored)
            if wrong.size:
                k = int(wrong[0])
                raise corrupt(path, index + k, buf_offset + int(starts[k]),
                              "data checksum mismatch")
            pending += records
            offsets += (starts + buf_offset).tolist()
            index += len(records)
            while len(pending) >= batch_size:
                yield pending[:batch_size], index - len(pending), offsets[0]
                del pending[:batch_size], offsets[:batch_size]
        pos = end
        if buf_offset + pos >= stop:
            break
        more = next(chunks, b"")
        if not more:
            if pos < len(buf):
                need = 12 if pos + 12 > len(buf) else 16 + LENGTH.unpack_from(buf, pos)[0]
                raise corrupt(path, index, buf_offset + pos,
                              f"the file ends inside the record ({len(buf) - pos} bytes left, "
                              f"{need - (len(buf) - pos)} more needed)")
            break
        buf, buf_offset, pos = buf[pos:] + more, buf_offset + pos, 0
    if pending:
        yield pending, index - len(pending), offsets[0]


def corrupt(path: str, index: int, offset: int, what: str) -> DataError:
    """The DataError for a framing error at record `index`, byte `offset` of `path`."""
    return DataError(f"corrupt TFRecord file {path}: record {index} at byte offset {offset}: "
                     f"{what} {NOT_A_TFRECORD_HINT}")
