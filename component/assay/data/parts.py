"""One big uncompressed TFRecord or CSV file read by several workers, in byte ranges.

    raw = cut(path, "tfrecord", parts=8)             # ByteRanges at fixed offsets, not located
    found = [locate(path, "tfrecord", r) for r in raw]    # in parallel, one per worker
    parts = join(path, "tfrecord", raw, found)       # exact starts and first record indices

A part owns the records (or CSV lines) that START in its byte range, so every record is read
exactly once. `locate` finds a part's first record from the checksums alone
(`framing.resynchronise`) and walks the length fields (no data read into Python, no decoding)
to count the part's records and find where the next part's first record starts. `join` then
checks that each part starts exactly where the walk from the part before it ended: a walk from
the file's start follows the true chain, while a resynchronisation may have been fooled by a
payload that holds a valid-looking record (a tf.Example with a serialized tf.Example in a bytes
feature); a part whose start is wrong is located again from where the walk ended. Each part's
first record index then follows, so that row keys (file name, row index: the bootstrap's and
the extensions') and the record numbers in errors are those of an unsplit read.

The cost: the walk reads the file's length fields once more (about 0.1 s per 200,000 records,
spread over the workers). CSV files are cut at line ends; a file that holds a quote character
(a quoted field may hold a newline) or a blank line (Arrow skips it, which would shift the row
numbers) is not split. Gzipped files cannot be split: a gzip stream is decompressed from its
start only. Parquet files are split by row groups elsewhere (`assay.data.tabular`).
"""

from __future__ import annotations

import logging
import mmap
import os
from typing import List, Optional, Sequence, Tuple

import numpy as np

from assay.data.framing import LENGTH, ByteRange, resynchronise, walk_starts

_LOG = logging.getLogger("assay.data")

# A CSV part's lines are scanned in blocks of this many bytes (compared in the CPU's cache), on
# the memory map itself: about 4x faster than copying the part out and searching the copy.
_SCAN_BLOCK = 1 << 18
_QUOTE, _LF, _CR = ord('"'), ord("\n"), ord("\r")
_WALK_WINDOW = _RELEASE_EVERY = 1 << 25  # bytes walked or scanned between releases of pages

# (first record or line start, how many start in the range, where the first after it starts,
#  why the file must not be split or None)
Located = Tuple[int, int, int, Optional[str]]


def _mapped(path: str) -> mmap.mmap:
    with open(path, "rb") as f:
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


def cut(path: str, fmt: str, parts: int, min_bytes: int = 1 << 23) -> List[ByteRange]:
    """`parts` byte ranges of about equal size (none under `min_bytes`), starts not located.

    Returns [] for a file too small to split, or that cannot be split (gzipped).
    """
    from assay.data.framing import GZIP_MAGIC, is_gzipped

    size = os.path.getsize(path)
    parts = min(parts, size // max(min_bytes, 1))
    if parts < 2:
        return []
    with open(path, "rb") as f:
        head = f.read(12)
    if (is_gzipped(head) if fmt == "tfrecord" else head.startswith(GZIP_MAGIC)):
        return []
    edges = [size * k // parts for k in range(parts + 1)]
    return [ByteRange(a, b, -1) for a, b in zip(edges[:-1], edges[1:])]


def locate(path: str, fmt: str, raw: ByteRange, start: Optional[int] = None) -> Located:
    """Where part `raw`'s first record starts (from `start` if known, else found), how many
    records start in the range, and where the first record after the range starts."""
    data = _mapped(path)
    try:
        if fmt == "tfrecord":
            if start is None:
                start = 0 if raw.start == 0 else resynchronise(data, raw.start)
            count, end = _walk(data, start, raw.stop)
            return start, count, end, None
        return _locate_lines(data, raw, start)
    finally:
        try:
            data.close()
        except BufferError:  # an array of an interrupted scan still holds it: closed when freed
            pass


def _release(data: mmap.mmap, start: int, stop: int) -> None:
    """Drops the pages of data[start:stop] from this process (they stay in the page cache):
    a part is read once, and its mapped pages would otherwise count in the worker's resident
    memory until the map is closed (the part's size: hundreds of MB)."""
    low = start - start % mmap.ALLOCATIONGRANULARITY
    if stop > low and hasattr(data, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
        data.madvise(mmap.MADV_DONTNEED, low, stop - low)


def _walk(data: mmap.mmap, start: int, stop: int) -> Tuple[int, int]:
    """`walk_starts` over a window of _WALK_WINDOW bytes at a time, each window's pages
    released once walked."""
    count, pos = 0, start
    while True:
        upto = min(stop, pos + _WALK_WINDOW)
        n, after = walk_starts(data, pos, upto)
        _release(data, pos, min(after, len(data)))
        count, pos = count + n, after
        if upto >= stop or n == 0:
            return count, pos


def line_start(data, pos: int) -> int:
    """Where the first line that starts at or after `pos` begins, in `data` (bytes or a memory
    map of the file): `pos` itself after a newline (or at 0), else just after the next newline;
    len(data) when no line starts there."""
    if pos <= 0:
        return 0
    if pos >= len(data):
        return len(data)
    return (data.find(b"\n", pos - 1) + 1) or len(data)


def _locate_lines(data: mmap.mmap, raw: ByteRange, start: Optional[int]) -> Located:
    if start is None:  # the first line that starts in the range (the header is no data row)
        start = line_start(data, max(raw.start, 1))
    end = line_start(data, raw.stop)
    if start >= raw.stop:  # no line starts in the range
        return start, 0, start, None
    count, refused = _scan_lines(data, start, end)
    return start, count, end, refused


def _scan_lines(data: mmap.mmap, start: int, end: int) -> Tuple[int, Optional[str]]:
    """(how many lines data[start:end] holds, why the file must not be split or None), where
    `start` begins a line: a quote character, or a blank line ("\\n\\n" or "\\n\\r\\n", also
    at `start`), refuses it. Block by block on the memory map, no copy; each block's view
    reaches two bytes back, so that a blank line across two blocks is seen."""
    whole = np.frombuffer(data, np.uint8)
    if end > start and (whole[start] == _LF or (whole[start] == _CR and end - start > 1
                                                and whole[start + 1] == _LF)):
        return 0, "it holds a blank line"
    count, released = 0, start
    for off in range(start, end, _SCAN_BLOCK):
        low, high = max(start, off - 2), min(off + _SCAN_BLOCK, end)
        block = whole[low:high]
        if (block == _QUOTE).any():
            return 0, "it holds a quote character (a quoted field may hold a newline)"
        lf = block == _LF
        if (lf[1:] & lf[:-1]).any():
            return 0, "it holds a blank line"
        cr = block == _CR
        if cr.any() and (lf[:-2] & cr[1:-1] & lf[2:]).any():
            return 0, "it holds a blank line"
        count += int(np.count_nonzero(lf[off - low:]))
        if low - released >= _RELEASE_EVERY:
            _release(data, released, low)
            released = low
    if end > start and whole[end - 1] != _LF:  # the file's last line, with no newline
        count += 1
    return count, None


def join(path: str, fmt: str, raw: Sequence[ByteRange], found: Sequence[Located],
         batch_size: int = 1) -> List[ByteRange]:
    """The located parts, each starting where the walk from the part before it ended, with
    their first record's index; [] when the file must be read whole.

    Each part then starts at a record whose index is a multiple of `batch_size`, so that its
    batches are those of an unsplit read (which batch-wise steps, such as permutations within
    a batch, need), and ends where the next one starts.
    """
    starts: List[Tuple[int, int]] = []  # (offset, index) of each part's first record
    index, expected = 0, None
    for part, (start, count, end, refused) in zip(raw, found):
        if expected is not None and start != expected:  # a fooled resynchronisation
            start, count, end, refused = locate(path, fmt, part, expected)
        if refused:
            _LOG.info("%s is read by one worker, not split: %s", path, refused)
            return []
        if count:
            starts.append((start, index))
        index += count
        expected = end
    aligned = [starts[0]] if starts else []
    data = _mapped(path) if len(starts) > 1 else None
    try:
        for k, (start, first) in enumerate(starts[1:], 1):
            skip = -first % batch_size
            limit = starts[k + 1][1] if k + 1 < len(starts) else index
            if first + skip < limit:  # else its records go to the part before
                aligned.append((_skip(data, fmt, start, skip), first + skip))
    finally:
        if data is not None:
            data.close()
    stops = [offset for offset, _ in aligned[1:]] + [raw[-1].stop if raw else 0]
    return [ByteRange(offset, stop, first) for (offset, first), stop in zip(aligned, stops)]


def _skip(data: mmap.mmap, fmt: str, pos: int, records: int) -> int:
    """The offset of the record (or line) `records` after the one starting at `pos`."""
    for _ in range(records):
        if fmt == "tfrecord":
            pos += 16 + LENGTH.unpack_from(data, pos)[0]
        else:
            pos = data.find(b"\n", pos) + 1
    return pos
