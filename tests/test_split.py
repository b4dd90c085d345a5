"""One big uncompressed TFRecord or CSV file read in byte ranges by several workers.

References: the records and rows of an unsplit read (every byte offset as a split point), a
resynchronisation checked against the true record starts, and the evaluation on one worker.
"""

import json
import logging
import struct

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest

import assay
from assay import demo
from assay.data import framing, parts, read_batches
from assay.data.framing import ByteRange, masked_crc, record_batches
from assay.engine import split
from assay.errors import DataError


def frame(payload: bytes) -> bytes:
    length = struct.pack("<Q", len(payload))
    return (length + struct.pack("<I", masked_crc(length)) + payload +
            struct.pack("<I", masked_crc(payload)))


def write(path, payloads):
    path.write_bytes(b"".join(frame(p) for p in payloads))
    return str(path)


def true_starts(payloads):
    return list(np.cumsum([0] + [len(p) + 16 for p in payloads])[:-1])


# Plain payloads; and adversarial ones, each holding a whole valid record (the framing of the
# payload before it), which a resynchronisation from the checksums alone takes for a real one.
PLAIN = [bytes([i]) * (3 + 5 * i) for i in range(9)]
ADVERSARIAL = [b"xy" + frame(b"inner-%d" % i) + b"z" * (i % 3) for i in range(7)]


def read_in_two(path, fmt, cut_at):
    size = len(open(path, "rb").read())
    raw = [ByteRange(0, cut_at, -1), ByteRange(cut_at, size, -1)]
    return parts.join(path, fmt, raw, [parts.locate(path, fmt, r) for r in raw])


@pytest.mark.parametrize("window", [None, 1, 40])
@pytest.mark.parametrize("payloads", [PLAIN, ADVERSARIAL], ids=["plain", "adversarial"])
def test_every_split_point_reads_every_record_once_with_its_index(tmp_path, monkeypatch,
                                                                  payloads, window):
    if window:  # the walk in windows, each one's pages released after it (as at 32 MB)
        monkeypatch.setattr(parts, "_WALK_WINDOW", window)
    path = write(tmp_path / "data.tfrecord", payloads)
    size = len(open(path, "rb").read())
    starts = true_starts(payloads)
    for cut_at in range(1, size):
        got, indices, offsets = [], [], []
        for part in read_in_two(path, "tfrecord", cut_at):
            for records, first, offset in record_batches(path, 2, part):
                got += records
                indices += range(first, first + len(records))
                offsets.append(offset)
        assert got == payloads, cut_at
        assert indices == list(range(len(payloads))), cut_at
        assert set(offsets) <= set(starts), cut_at


@pytest.mark.parametrize("fmt", ["tfrecord", "csv"])
def test_parts_start_on_batch_boundaries_and_give_the_unsplit_batches(tmp_path, fmt):
    if fmt == "tfrecord":
        path = write(tmp_path / "data.tfrecord", [b"r%d" % i * (1 + i % 4) for i in range(23)])
    else:
        (tmp_path / "data.csv").write_text(CSV_TEXT)
        path = str(tmp_path / "data.csv")
    size = len(open(path, "rb").read())

    def batches(part=None):
        return [b.to_pylist() for b in read_batches(path, 3, fmt=fmt, row_groups=part)] \
            if fmt == "csv" else [r for r, _, _ in record_batches(path, 3, part)]

    whole = batches()
    for cuts in ([size // 2], [size // 4, size // 2, 3 * size // 4], [7, 8, size - 9]):
        edges = [0] + cuts + [size]
        raw = [ByteRange(a, b, -1) for a, b in zip(edges[:-1], edges[1:])]
        located = parts.join(path, fmt, raw, [parts.locate(path, fmt, r) for r in raw], 3)
        assert all(p.first_index % 3 == 0 for p in located), cuts
        assert [p.stop for p in located[:-1]] == [p.start for p in located[1:]], cuts
        assert [b for p in located for b in batches(p)] == whole, cuts


def test_resynchronisation_finds_the_next_record_start(tmp_path):
    path = write(tmp_path / "data.tfrecord", PLAIN)
    data = open(path, "rb").read()
    starts = true_starts(PLAIN)
    for offset in range(len(data)):
        want = next((s for s in starts if s >= offset), len(data))
        assert framing.resynchronise(data, offset, window=7) == want, offset


def test_an_embedded_record_fools_resynchronisation_but_not_the_parts(tmp_path):
    path = write(tmp_path / "data.tfrecord", ADVERSARIAL)
    data = open(path, "rb").read()
    inner = true_starts(ADVERSARIAL)[1] + 12 + 2  # the record inside the second payload
    assert framing.resynchronise(data, inner - 1) == inner  # looks like a record start
    located = read_in_two(path, "tfrecord", inner - 1)
    assert [p.start for p in located] == true_starts(ADVERSARIAL)[:1] + \
        true_starts(ADVERSARIAL)[2:3]
    assert [p.first_index for p in located] == [0, 2]


def test_a_corrupt_record_in_a_part_is_named_as_in_an_unsplit_read(tmp_path):
    payloads = [b"p" * 20] * 12
    data = bytearray(b"".join(frame(p) for p in payloads))
    offset = true_starts(payloads)[8]
    data[offset + 14] ^= 1  # a data byte of record 8
    path = tmp_path / "data.tfrecord"
    path.write_bytes(bytes(data))
    want = rf"record 8 at byte offset {offset}: data checksum mismatch"
    with pytest.raises(DataError, match=want):
        list(record_batches(str(path), 5))
    located = read_in_two(str(path), "tfrecord", true_starts(payloads)[6] + 3)
    assert [p.first_index for p in located] == [0, 7]
    with pytest.raises(DataError, match=want):
        list(record_batches(str(path), 5, located[1]))


# Lines of different lengths (every split point is tried: keep it short, each is a read).
CSV_TEXT = ("hour,payment,miles\n" + "".join(
    f"{i % 24},{'cash' if i % 3 else 'card'},{i * 0.25}\n" for i in range(0, 40, 5)))


@pytest.mark.parametrize("newline_at_end", [True, False])
def test_csv_every_split_point_reads_every_row_once(tmp_path, newline_at_end):
    text = CSV_TEXT if newline_at_end else CSV_TEXT.rstrip("\n")
    path = tmp_path / "data.csv"
    path.write_text(text)
    want = pa_csv.read_csv(str(path)).to_pylist()
    for cut_at in range(1, len(text)):
        rows, firsts = [], []
        for part in read_in_two(str(path), "csv", cut_at):
            firsts.append((part.first_index, len(rows)))
            for batch in read_batches(str(path), 7, fmt="csv", row_groups=part):
                rows += pa.Table.from_batches([batch]).to_pylist()
        assert rows == want, cut_at
        assert all(first == done for first, done in firsts), cut_at


@pytest.mark.parametrize("text,why", [
    ('a,b\n1,"x\ny"\n2,z\n' * 4, "quote character"),
    ("a,b\n1,x\n\n2,z\n" * 4, "blank line"),
    ("a,b\r\n1,x\r\n\r\n2,z\r\n" * 4, "blank line")])
def test_csv_with_quotes_or_blank_lines_is_not_split_and_says_so(tmp_path, caplog, text, why):
    path = tmp_path / "data.csv"
    path.write_text(text)
    with caplog.at_level(logging.INFO, logger="assay.data"):
        assert read_in_two(str(path), "csv", len(text) // 2) == []
    assert f"{path} is read by one worker, not split: it holds a {why}" in caplog.text


def test_line_start_is_the_first_line_beginning_at_or_after_a_position():
    text = b"ab\ncd\nef"  # lines begin at 0, 3 and 6
    assert [parts.line_start(text, pos) for pos in range(10)] == [0, 3, 3, 3, 6, 6, 6, 8, 8, 8]


def _lines_reference(text: bytes, start: int, end: int):
    """A part's line count and refusal, as a copy of it searched with bytes methods and a
    regular expression tells them (what the block scan must agree with)."""
    import re

    chunk = text[start:end]
    if b'"' in chunk:
        return 0, "quote"
    if re.search(rb"\n\r?\n", chunk) or chunk.startswith((b"\n", b"\r\n")):
        return 0, "blank"
    return chunk.count(b"\n") + (not chunk.endswith(b"\n")), None


@pytest.mark.parametrize("block", [1, 2, 3, 5, 8, 1 << 18])
def test_csv_block_scan_agrees_with_a_search_of_the_copy(tmp_path, monkeypatch, block):
    """Every (start, end) of random texts, block boundaries anywhere: a blank line or "\\r\\n"
    across two blocks, at the part's start or end, a last line with no newline."""
    import mmap

    monkeypatch.setattr(parts, "_SCAN_BLOCK", block)
    monkeypatch.setattr(parts, "_RELEASE_EVERY", block)  # pages released as the scan goes
    rng = np.random.default_rng(block)
    alphabet = [b"a", b"1", b",", b"\n", b"\r\n", b"\r", b'"']
    cases = 0
    for trial in range(40):
        weights = [4, 4, 2, 3, 2, 0.3, 0.2 if trial % 4 == 0 else 0]
        text = b"".join(rng.choice(alphabet, size=int(rng.integers(1, 30)),
                                   p=np.array(weights) / sum(weights)))
        path = tmp_path / f"t{trial}.csv"
        path.write_bytes(text)
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            for start in range(len(text)):
                for end in range(start + 1, len(text) + 1):
                    count, refused = parts._scan_lines(data, start, end)
                    want_count, want_why = _lines_reference(text, start, end)
                    assert bool(refused) == bool(want_why), (text, start, end, refused)
                    assert count == want_count, (text, start, end)
                    if refused and b'"' not in text[start:end]:
                        assert "blank line" in refused
                    cases += 1
    assert cases > 1000


def test_gzipped_and_small_files_are_not_cut(tmp_path):
    demo.write_tfrecord(str(tmp_path / "a.gz"), [b"x" * 100] * 100, compress=True)
    demo.write_tfrecord(str(tmp_path / "a.tfrecord"), [b"x" * 100] * 100)
    assert parts.cut(str(tmp_path / "a.gz"), "tfrecord", 4, min_bytes=100) == []
    assert len(parts.cut(str(tmp_path / "a.tfrecord"), "tfrecord", 4, min_bytes=100)) == 4
    assert parts.cut(str(tmp_path / "a.tfrecord"), "tfrecord", 4, min_bytes=1 << 20) == []


# ---- the evaluation: one file, several workers -------------------------------------------------

N = 4000


@pytest.fixture(scope="module")
def one_file(tmp_path_factory):
    root = tmp_path_factory.mktemp("one")
    table = demo.make_trips(N, seed=5)
    demo.write_tfrecord(str(root / "eval.tfrecord"), demo.to_examples(table))
    table.to_pandas().to_csv(root / "eval.csv", index=False)  # unquoted: it can be split
    return root


CONFIG = {"label": "label", "models": {"candidate": {"prediction": "prediction"},
                                       "baseline": {"prediction": "old_prediction"}},
          "slices": [[], ["hour"], ["payment"]], "exact": True, "batch_size": 100,
          "confidence": {"replicates": 20, "seed": 7}}


def _records(result):
    return {(json.dumps(r["slice"], sort_keys=True), r["model"]): r for r in result.records}


@pytest.fixture()
def small_parts(monkeypatch):
    monkeypatch.setattr(split, "MIN_PART_BYTES", 4096)
    monkeypatch.setattr(split, "PARTS_PER_WORKER", 4)  # several parts a worker, merged in order
    seen = []
    located = split.located_units

    def spy(fmt, raw, map_fn=map, batch_size=1):
        seen.append(located(fmt, raw, map_fn, batch_size))
        return seen[-1]

    monkeypatch.setattr(split, "located_units", spy)
    return seen


@pytest.mark.parametrize("name", ["eval.tfrecord", "eval.csv"])
def test_intervals_do_not_depend_on_the_number_of_workers(one_file, tmp_path, small_parts, name):
    path = str(one_file / name)
    one = assay.evaluate(CONFIG, path, str(tmp_path / "w1"), engine="local", workers=1)
    two = assay.evaluate(CONFIG, path, str(tmp_path / "w2"), engine="local", workers=2)
    three = assay.evaluate(CONFIG, path, str(tmp_path / "w3"), engine="local", workers=3)
    assert [len(units) for units in small_parts] == [8, 12]  # the file was split
    assert [u[2] for u in small_parts[0]] == sorted(u[2] for u in small_parts[0])
    a = _records(one)
    assert a["{}", "candidate"]["metrics"]["example_count"] == N
    for other in (two, three):
        b = _records(other)
        assert a.keys() == b.keys()
        for key, ra in a.items():
            assert ra.get("intervals") and ra["intervals"].keys() == b[key]["intervals"].keys()
            # Bootstrap counts are integers: the same row keys give the very same draws.
            assert ra["intervals"]["example_count"] == b[key]["intervals"]["example_count"]
            for name, interval in ra["intervals"].items():
                for field in ("lower", "upper", "stderr"):
                    # Other batch boundaries: float32 sums of weight x prediction (see
                    # test_intervals.py), which a stderr amplifies; other row keys would move
                    # them by ~1e-2.
                    assert b[key]["intervals"][name][field] == pytest.approx(
                        interval[field], rel=1e-4, abs=1e-6, nan_ok=True), (key, name)
            for metric, value in ra["metrics"].items():
                assert b[key]["metrics"][metric] == pytest.approx(value, rel=1e-12,
                                                                  nan_ok=True), (key, metric)


def test_split_file_on_local_engine_equals_beam(one_file, tmp_path, small_parts):
    path = str(one_file / "eval.tfrecord")
    config = {**CONFIG, "confidence": None}
    loc = assay.evaluate(config, path, str(tmp_path / "local"), engine="local", workers=2)
    beam = assay.evaluate(config, path, str(tmp_path / "beam"), engine="beam")
    assert len(small_parts[0]) == 8
    a, b = _records(loc), _records(beam)
    assert a.keys() == b.keys()
    for key, ra in a.items():
        for metric, value in b[key]["metrics"].items():
            assert ra["metrics"][metric] == pytest.approx(value, rel=1e-9, nan_ok=True)
