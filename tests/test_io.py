"""Tests of assay.data (files, formats, tfrecord, tabular, columns, read).

Files are written here with TensorFlow's own TFRecord writer and pyarrow.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from object_store import ObjectStore, upload

from assay import data as io
from assay.data import files, framing, tfrecord
from assay.errors import DataError
from fresh import loaded_modules

import tensorflow as tf

# Each example: hour int, miles float, payment string, tags multi-valued strings, extra only on
# some examples (so batches differ in columns), label int.
ROWS = [
    {"hour": 3, "miles": 1.5, "payment": "Cash", "tags": ["a", "b"], "label": 1},
    {"hour": 7, "miles": 0.25, "payment": "Credit Card", "tags": [], "label": 0},
    {"hour": 23, "miles": 12.0, "payment": "Dispute", "tags": ["c"], "label": 1, "extra": [5, 6]},
    {"hour": 0, "miles": 3.75, "payment": "Cash", "label": 0},
    {"hour": 11, "miles": 8.5, "payment": "No Charge", "tags": ["d", "e", "f"], "label": 1},
] * 5  # 25 examples


def serialize(row: dict) -> bytes:
    example = tf.train.Example()
    for name, value in row.items():
        values = value if isinstance(value, list) else [value]
        feature = example.features.feature[name]
        if name in ("miles",):
            feature.float_list.value.extend(values)
        elif name in ("payment", "tags"):
            feature.bytes_list.value.extend(v.encode() for v in values)
        else:
            feature.int64_list.value.extend(values)
    return example.SerializeToString()


def write_tfrecord(path, records, gzipped=False) -> str:
    with tf.io.TFRecordWriter(str(path), "GZIP" if gzipped else None) as writer:
        for record in records:
            writer.write(record)
    return str(path)


def record_offsets(records):
    """Byte offset of each record in an uncompressed TFRecord file."""
    return np.concatenate([[0], np.cumsum([len(r) + 16 for r in records])])[:-1]


def read_all(path, batch_size, **kwargs):
    return list(io.read_batches(str(path), batch_size, **kwargs))


def values_by_row(batches, name, n_rows):
    """[list of values of row i] over consecutive batches, via column_values."""
    out = [[] for _ in range(n_rows)]
    start = 0
    for batch in batches:
        values, rows = io.column_values(batch, name)
        for value, row in zip(values.tolist(), rows.tolist()):
            out[start + row].append(value)
        start += batch.num_rows
    return out


def expected_by_row(name, rows=ROWS):
    out = []
    for row in rows:
        value = row.get(name, [])
        out.append(value if isinstance(value, list) else [value])
    return out


@pytest.fixture(scope="module")
def records():
    return [serialize(row) for row in ROWS]


# ---- TFRecord -----------------------------------------------------------------------------------


@pytest.mark.parametrize("gzipped", [False, True])
def test_tfrecord_values_equal_what_was_written(tmp_path, records, gzipped):
    path = write_tfrecord(tmp_path / ("data.tfrecord.gz" if gzipped else "data.tfrecord"),
                          records, gzipped)
    batches = read_all(path, 100)
    assert len(batches) == 1 and batches[0].num_rows == len(ROWS)
    for name in ("hour", "miles", "payment", "tags", "label", "extra"):
        assert values_by_row(batches, name, len(ROWS)) == expected_by_row(name)
    np.testing.assert_array_equal(io.single_values(batches[0], "label", "label"),
                                  [r["label"] for r in ROWS])
    payments = io.single_values(batches[0], "payment", "slice")
    assert payments.dtype == object and payments[1] == "Credit Card"


def test_gzip_is_told_by_its_magic_bytes_not_its_name(tmp_path, records):
    gz_named_plain = write_tfrecord(tmp_path / "a.tfrecord", records, gzipped=True)
    plain_named_gz = write_tfrecord(tmp_path / "b.gz", records, gzipped=False)
    for path in (gz_named_plain, plain_named_gz):
        (batch,) = read_all(path, 100)
        assert values_by_row([batch], "hour", len(ROWS)) == expected_by_row("hour")


def test_a_large_first_record_starting_with_gzip_magic_is_read_as_plain(tmp_path):
    # A record of length 0x..8b1f starts the file with bytes 1f 8b, as gzip does.
    overhead = len(serialize({"payment": "x" * 0x8000})) - 0x8000
    text = "x" * (0x8B1F - overhead)
    record = serialize({"payment": text})
    assert len(record) == 0x8B1F
    path = write_tfrecord(tmp_path / "big.tfrecord", [record])
    with open(path, "rb") as f:
        assert f.read(2) == b"\x1f\x8b"
    (batch,) = read_all(path, 10)
    assert io.single_values(batch, "payment", "payment")[0] == text


@pytest.mark.parametrize("batch_size", [1, 3, 7, 24, 25, 1000])
def test_batches_hold_batch_size_rows_and_concatenate_to_the_same_values(tmp_path, records,
                                                                          batch_size):
    path = write_tfrecord(tmp_path / "data.tfrecord.gz", records, gzipped=True)
    batches = read_all(path, batch_size)
    sizes = [b.num_rows for b in batches]
    assert sum(sizes) == len(ROWS)
    assert all(s == batch_size for s in sizes[:-1]) and 0 < sizes[-1] <= batch_size
    for name in ("hour", "miles", "payment", "tags", "extra"):
        assert values_by_row(batches, name, len(ROWS)) == expected_by_row(name)


def test_batches_span_buffer_refills(tmp_path, monkeypatch):
    # Records larger than a read chunk, and chunk boundaries inside headers and checksums.
    monkeypatch.setattr(framing, "_CHUNK_BYTES", 7)
    rows = [{"hour": i, "payment": "p" * (i * 3)} for i in range(40)]
    path = write_tfrecord(tmp_path / "data.tfrecord", [serialize(r) for r in rows])
    batches = read_all(path, 6)
    assert [b.num_rows for b in batches] == [6] * 6 + [4]
    assert values_by_row(batches, "payment", 40) == expected_by_row("payment", rows)


def test_raw_record_column_holds_the_serialized_records(tmp_path, records):
    path = write_tfrecord(tmp_path / "data.tfrecord", records)
    batches = read_all(path, 10, raw_record_column="__raw__")
    raw = [r for b in batches for r in b.column("__raw__").to_pylist()]
    assert raw == records
    assert batches[0].schema.field("__raw__").type == pa.large_binary()
    with pytest.raises(DataError, match=r"raw_record_column 'hour' clashes with a column"):
        read_all(path, 10, raw_record_column="hour")


def test_columns_keeps_only_the_named_columns(tmp_path, records):
    path = write_tfrecord(tmp_path / "data.tfrecord", records)
    (batch,) = read_all(path, 100, columns=["label", "hour", "not_there"])
    assert sorted(batch.schema.names) == ["hour", "label"]


def _retyped(record: bytes, name: str, int64=None, data=None) -> bytes:
    """The record with feature `name` replaced by int64 or bytes values."""
    example = tf.train.Example.FromString(record)
    example.features.feature[name].Clear()
    if int64 is not None:
        example.features.feature[name].int64_list.value.extend(int64)
    else:
        example.features.feature[name].bytes_list.value.extend(data)
    return example.SerializeToString()


@pytest.mark.parametrize("batch_size", [1, 2, 3, 7, 12])
def test_columns_decode_only_those_features_and_each_as_without_columns(tmp_path, records,
                                                                        batch_size):
    """Once a batch has shown each named feature's type, the others are not decoded: every
    batch then equals the same batch decoded whole, less the other columns (the check: the
    decoder switched, since a feature's type change outside the columns no longer stops the
    read). `extra` is on every fifth example only: batches without it have no column for it,
    as without `columns`; `tags` is empty or missing on some. A named feature in no example
    (`never`) has no type to decode it by: every batch is then decoded whole."""
    changed = records[:-1] + [_retyped(records[-1], "payment", int64=[7])]  # was bytes_list
    path = write_tfrecord(tmp_path / "data.tfrecord", changed)
    named = ["extra", "hour", "label", "tags"]
    got = read_all(path, batch_size, columns=named)
    whole = read_all(write_tfrecord(tmp_path / "same.tfrecord", records), batch_size)
    assert len(got) == len(whole)
    for batch, full in zip(got, whole):
        want = [n for n in full.schema.names if n in named]
        assert batch.schema.names == want
        assert batch.equals(pa.RecordBatch.from_arrays([full.column(n) for n in want], want))
    for whole_read in (None, named + ["never"]):  # read whole: the change is found
        with pytest.raises(DataError, match="feature 'payment' changes type"):
            read_all(path, batch_size, columns=whole_read)


@pytest.mark.parametrize("batch_size", [1, 4, 10])
def test_a_named_feature_that_changes_type_after_the_switch_is_said_as_before(tmp_path, records,
                                                                             batch_size):
    changed = list(records)
    changed[22] = _retyped(records[22], "hour", data=[b"late"])
    path = write_tfrecord(tmp_path / "data.tfrecord", changed)
    message = (r"feature 'hour' changes type in .*data.tfrecord: it is int64_list in record 0 "
               r"\(the first with it\) and bytes_list in record 22")
    for columns in (None, ["hour", "label"]):
        with pytest.raises(DataError, match=message):
            read_all(path, batch_size, columns=columns)


def test_an_empty_tfrecord_file_gives_no_batches(tmp_path):
    path = write_tfrecord(tmp_path / "empty.tfrecord.gz", [], gzipped=True)
    assert read_all(path, 10) == []


def flip_byte(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x40]))


def test_a_flipped_data_byte_is_a_data_checksum_mismatch(tmp_path, records):
    path = write_tfrecord(tmp_path / "data.tfrecord", records)
    offsets = record_offsets(records)
    flip_byte(path, offsets[17] + 12 + 5)
    with pytest.raises(DataError, match=rf"corrupt TFRecord file {path}: record 17 at byte offset "
                                        rf"{offsets[17]}: data checksum mismatch \(the file may "
                                        r"be truncated or not a TFRecord file\)"):
        read_all(path, 4)


@pytest.mark.parametrize("chunk_bytes", [7, 300])
@pytest.mark.parametrize("record", [0, 17, 24])
def test_corruption_is_located_when_batches_span_buffer_refills(tmp_path, records, monkeypatch,
                                                                chunk_bytes, record):
    monkeypatch.setattr(framing, "_CHUNK_BYTES", chunk_bytes)
    path = write_tfrecord(tmp_path / "data.tfrecord.gz", records, True)
    offsets = record_offsets(records)
    data = bytearray(gzip.decompress(open(path, "rb").read()))
    for field, at in (("data", offsets[record] + 12 + 3), ("length", offsets[record] + 1)):
        corrupt = bytearray(data)
        corrupt[at] ^= 0x01
        with open(path, "wb") as f:
            f.write(gzip.compress(bytes(corrupt)))
        with pytest.raises(DataError, match=rf"record {record} at byte offset {offsets[record]}: "
                                            rf"{field} checksum mismatch"):
            read_all(path, 10)


def test_a_flipped_length_byte_is_a_length_checksum_mismatch(tmp_path, records):
    path = write_tfrecord(tmp_path / "data.tfrecord", records)
    offsets = record_offsets(records)
    flip_byte(path, offsets[9])
    with pytest.raises(DataError, match=rf"record 9 at byte offset {offsets[9]}: length checksum"):
        read_all(path, 100)


@pytest.mark.parametrize("cut", [3, 14, 40])  # inside the header, the data, the data checksum
def test_a_truncated_file_names_the_last_record(tmp_path, records, cut):
    path = write_tfrecord(tmp_path / "data.tfrecord", records)
    offsets = record_offsets(records)
    end = offsets[24] + (cut if cut < 40 else len(records[24]) + 14)
    with open(path, "r+b") as f:
        f.truncate(end)
    with pytest.raises(DataError, match=rf"corrupt TFRecord file .*data.tfrecord: record 24 at "
                                        rf"byte offset {offsets[24]}: the file ends inside"):
        read_all(path, 10)


def test_a_damaged_gzip_stream_names_the_file(tmp_path, records):
    path = write_tfrecord(tmp_path / "data.tfrecord.gz", records, gzipped=True)
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size - 10)
    with pytest.raises(DataError, match=r"corrupt TFRecord file .*data.tfrecord.gz: the gzip"):
        read_all(path, 10)


def test_an_unparsable_example_names_its_record_and_offset(tmp_path, records):
    bad = records[:2] + [b"\xff\xff\xff not a proto"] + records[2:]
    path = write_tfrecord(tmp_path / "data.tfrecord", bad)
    offset = record_offsets(bad)[2]
    with pytest.raises(DataError, match=rf"cannot parse record 2 \(byte offset {offset}\) of "
                                        rf".*data.tfrecord as a tf.Example"):
        read_all(path, 100)


def test_a_csv_file_read_as_tfrecord_is_reported_as_not_a_tfrecord(tmp_path):
    path = tmp_path / "data.tfrecord"
    path.write_text("hour,label\n" + "1,0\n" * 10)
    with pytest.raises(DataError, match=r"record 0 at byte offset 0: length checksum mismatch "
                                        r"\(the file may be truncated or not a TFRecord file\)"):
        read_all(path, 10)


# ---- CSV and Parquet ----------------------------------------------------------------------------

TABLE = pa.table({
    "hour": pa.array([3, 7, None, 0, 11] * 4, pa.int64()),
    "miles": pa.array([1.5, 0.25, 12.0, 3.75, 8.5] * 4),
    "payment": pa.array(["Cash", "Credit Card", "Dispute", "Cash", "No Charge"] * 4),
    "label": pa.array([1, 0, 1, 0, 1] * 4, pa.int64()),
})


def write_csv(path, table=TABLE, gzipped=False) -> str:
    pa_csv.write_csv(table, str(path))
    if gzipped:
        data = open(path, "rb").read()
        with gzip.open(path, "wb") as f:
            f.write(data)
    return str(path)


@pytest.mark.parametrize("name,gzipped", [("data.csv", False), ("data.csv.gz", True),
                                          ("data.csv", True)])
@pytest.mark.parametrize("batch_size", [1, 3, 20, 1000])
def test_csv_values_and_batch_sizes(tmp_path, name, gzipped, batch_size):
    path = write_csv(tmp_path / name, gzipped=gzipped)
    batches = read_all(path, batch_size)
    sizes = [b.num_rows for b in batches]
    assert sum(sizes) == 20 and all(s == batch_size for s in sizes[:-1])
    assert pa.Table.from_batches(batches).equals(TABLE)


def test_csv_column_whose_type_changes_after_the_first_block_is_widened(tmp_path):
    n = 60_000  # about 1.6 MB: more than the first block, from which types are inferred
    lines = ["count,name"] + [f"{i},{'x' * 20}" for i in range(n)] + ["1.5,last"]
    path = tmp_path / "data.csv"
    path.write_text("\n".join(lines) + "\n")
    batches = read_all(path, 25_000)
    assert [b.num_rows for b in batches] == [25_000, 25_000, 10_001]
    counts = np.concatenate([io.single_values(b, "count", "count") for b in batches])
    np.testing.assert_array_equal(counts, list(range(n)) + [1.5])


def test_a_ragged_csv_names_the_file(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n3\n")
    with pytest.raises(DataError, match=r"cannot read CSV file .*bad.csv: line 3 has 1 field but "
                                        r"the header \(line 1\) names 2 columns: '3'"):
        read_all(path, 10)


@pytest.mark.parametrize("batch_size", [1, 6, 1000])
def test_parquet_values_batch_sizes_and_columns(tmp_path, batch_size):
    path = str(tmp_path / "data.parquet")
    pq.write_table(TABLE, path, row_group_size=8)
    batches = read_all(path, batch_size)
    assert all(b.num_rows <= batch_size for b in batches)
    assert pa.Table.from_batches(batches).equals(TABLE)
    (batch, *_) = read_all(path, 1000, columns=["label", "nope"])
    assert batch.schema.names == ["label"]


def test_a_corrupt_parquet_file_names_the_file(tmp_path):
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"PAR1 this is not really parquet")
    with pytest.raises(DataError, match=r"cannot read Parquet file .*bad.parquet"):
        read_all(path, 10)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_raw_record_column_encodes_csv_and_parquet_rows_as_examples(tmp_path, fmt):
    from tfx_bsl.coders.example_coder import ExamplesToRecordBatchDecoder

    path = str(tmp_path / f"data.{fmt}")
    write_csv(path) if fmt == "csv" else pq.write_table(TABLE, path)
    (batch,) = read_all(path, 100, raw_record_column="raw", columns=["label"])
    assert batch.schema.names == ["label", "raw"]
    decoded = ExamplesToRecordBatchDecoder().DecodeBatch(batch.column("raw").to_pylist())
    for name in TABLE.column_names:
        expected = [[] if v is None else [v] for v in TABLE.column(name).to_pylist()]
        assert values_by_row([decoded], name, 20) == expected


# ---- Finding files and telling formats ----------------------------------------------------------


@pytest.fixture()
def artifact(tmp_path, records):
    """A TFX Examples artifact: Split-eval with two gzipped shards, Split-train with one."""
    root = tmp_path / "Examples" / "7"
    (root / "Split-eval").mkdir(parents=True)
    (root / "Split-train").mkdir()
    write_tfrecord(root / "Split-eval" / "data_tfrecord-00000-of-00002.gz", records[:10], True)
    write_tfrecord(root / "Split-eval" / "data_tfrecord-00001-of-00002.gz", records[10:], True)
    write_tfrecord(root / "Split-train" / "data_tfrecord-00000-of-00001.gz", records[:3], True)
    (root / "Split-eval" / "_SUCCESS").write_text("")
    return root


def test_resolve_files_of_an_artifact_a_split_directory_a_glob_and_a_list(artifact):
    eval_files = [str(artifact / "Split-eval" / f"data_tfrecord-0000{i}-of-00002.gz")
                  for i in range(2)]
    train_file = str(artifact / "Split-train" / "data_tfrecord-00000-of-00001.gz")
    assert io.resolve_files(str(artifact)) == eval_files
    assert io.resolve_files(str(artifact), split="train") == [train_file]
    assert io.resolve_files(str(artifact / "Split-eval")) == eval_files
    assert io.resolve_files(str(artifact / "Split-eval" / "data_tfrecord-*.gz")) == eval_files
    assert io.resolve_files(str(artifact / "Split-eval" / "*")) == eval_files  # no _SUCCESS
    assert io.resolve_files([train_file, eval_files[1], str(artifact)]) == eval_files + [train_file]
    assert io.resolve_files(eval_files[0]) == eval_files[:1]


def test_iter_batches_reads_every_shard_in_order(artifact):
    batches = list(io.iter_batches(str(artifact), 4))
    assert [b.num_rows for b in batches] == [4, 4, 2, 4, 4, 4, 3]
    values = np.concatenate([io.single_values(b, "hour", "hour") for b in batches])
    np.testing.assert_array_equal(values, [r["hour"] for r in ROWS])


def test_resolve_files_says_what_is_missing(tmp_path, artifact):
    with pytest.raises(FileNotFoundError, match=r"no such file or directory: '.*nope.tfrecord'"):
        io.resolve_files(str(tmp_path / "nope.tfrecord"))
    with pytest.raises(FileNotFoundError, match=r"no files match '.*Split-eval/\*.csv'"):
        io.resolve_files(str(artifact / "Split-eval" / "*.csv"))
    with pytest.raises(FileNotFoundError, match=r"without split 'test' \(no 'Split-test' folder\); "
                                                r"its splits are: Split-eval, Split-train"):
        io.resolve_files(str(artifact), split="test")
    other = tmp_path / "other"
    (other / "sub").mkdir(parents=True)
    (other / "notes.txt").write_bytes(b"\x00\x01binary")
    with pytest.raises(FileNotFoundError, match=r"holds no TFRecord, CSV or Parquet files; "
                                                r"it contains: notes.txt, sub/"):
        io.resolve_files(str(other))
    with pytest.raises(FileNotFoundError, match=r"empty list"):
        io.resolve_files([])


@pytest.mark.parametrize("name,fmt", [
    ("a.tfrecord", "tfrecord"), ("a.tfrecords", "tfrecord"), ("a.tfrecord.gz", "tfrecord"),
    ("data_tfrecord-00000-of-00001.gz", "tfrecord"), ("a.csv", "csv"), ("a.csv.gz", "csv"),
    ("a.parquet", "parquet"), ("a.pq", "parquet"), ("data_parquet-00000-of-00001", "parquet"),
])
def test_detect_format_from_the_name(name, fmt):
    assert io.detect_format(f"/does/not/matter/{name}") == fmt


def test_detect_format_from_the_content(tmp_path, records):
    assert io.detect_format(write_tfrecord(tmp_path / "x1", records)) == "tfrecord"
    assert io.detect_format(write_tfrecord(tmp_path / "x2", records, gzipped=True)) == "tfrecord"
    assert io.detect_format(write_csv(tmp_path / "x3")) == "csv"
    assert io.detect_format(write_csv(tmp_path / "x4.gz", gzipped=True)) == "csv"
    pq.write_table(TABLE, str(tmp_path / "x5"))
    assert io.detect_format(str(tmp_path / "x5")) == "parquet"
    (tmp_path / "x6.bin").write_bytes(b"\x00\x01\x02\x03 binary")
    with pytest.raises(DataError, match=r"cannot tell the format of .*x6.bin: .*starts with "
                                        r"b'\\x00\\x01\\x02\\x03 binary'.*pass the format"):
        io.detect_format(str(tmp_path / "x6.bin"))
    assert issubclass(DataError, ValueError)


def test_read_batches_checks_its_arguments(tmp_path):
    path = write_csv(tmp_path / "a.csv")
    with pytest.raises(ValueError, match=r"'batch_size' must be at least 1 \(got 0\)"):
        io.read_batches(path, 0)
    with pytest.raises(TypeError, match=r"'batch_size' must be an int \(got '10', a str\)"):
        io.read_batches(path, "10")
    with pytest.raises(ValueError, match=r"'fmt' must be one of tfrecord, csv, parquet or None "
                                         r"\(got 'json'\)"):
        io.read_batches(path, 10, fmt="json")
    with pytest.raises(FileNotFoundError):
        read_all(tmp_path / "missing.csv", 10)


# ---- Column helpers -----------------------------------------------------------------------------


def test_column_values_of_list_columns_with_null_and_empty_rows():
    batch = pa.record_batch([
        pa.array([[1, 2], None, [], [3]], pa.large_list(pa.int64())),
        pa.array([[b"a"], [b"b", b"\xc3\xa9"], None, None], pa.large_list(pa.large_binary())),
    ], names=["x", "s"])
    values, rows = io.column_values(batch, "x")
    np.testing.assert_array_equal(values, [1, 2, 3])
    np.testing.assert_array_equal(rows, [0, 0, 3])
    values, rows = io.column_values(batch.slice(1), "s")  # offsets of a sliced batch
    assert values.tolist() == ["b", "é"] and values.dtype == object
    np.testing.assert_array_equal(rows, [0, 0])


def test_column_values_of_scalar_columns_drop_nulls():
    batch = pa.record_batch([pa.array([1.5, None, 3.0]), pa.array(["u", "v", None])],
                            names=["f", "s"])
    values, rows = io.column_values(batch, "f")
    np.testing.assert_array_equal(values, [1.5, 3.0])
    np.testing.assert_array_equal(rows, [0, 2])
    assert io.column_values(batch, "s")[0].tolist() == ["u", "v"]


def test_column_values_of_a_missing_column():
    batch = pa.record_batch([pa.array([1])], names=["a"])
    values, rows = io.column_values(batch, "b")
    assert values.size == 0 and rows.size == 0
    with pytest.raises(DataError, match=r"column 'b' is missing from this batch; its columns: a"):
        io.column_values(batch, "b", required=True)
    nested = pa.record_batch([pa.array([[[1]], [[2]]])], names=["n"])
    with pytest.raises(DataError, match=r"column 'n' holds list<item: int64> values"):
        io.column_values(nested, "n")


def test_single_values_names_the_column_and_the_first_bad_row():
    batch = pa.record_batch([
        pa.array([[1], [0], [], [1]]),
        pa.array([[0.5], [0.1, 0.2], [0.3], [0.4]]),
        pa.array([1, 0, None, 1]),
    ], names=["label", "pred", "scalar"])
    with pytest.raises(DataError, match=r"label column 'label' must hold exactly one value per "
                                        r"example; row 2 holds 0 values$"):
        io.single_values(batch, "label", "label")
    with pytest.raises(DataError, match=r"row 101 holds 2 values: \[0.1, 0.2\]"):
        io.single_values(batch, "pred", "prediction", row_offset=100)
    with pytest.raises(DataError, match=r"row 2 holds 0 values"):
        io.single_values(batch, "scalar", "weight")
    with pytest.raises(DataError, match=r"weight column 'w' must hold exactly one value per "
                                        r"example; no example in this batch has it"):
        io.single_values(batch, "w", "weight")
    np.testing.assert_array_equal(io.single_values(batch.slice(0, 2), "label", "label"), [1, 0])
    assert io.single_values(batch.slice(0, 0), "label", "label").size == 0


def test_io_does_not_import_tensorflow():
    assert loaded_modules("import assay.data; from tfx_bsl.coders import example_coder",
                          ("tensorflow",)) == []


# ---- A filesystem that is not local -------------------------------------------------------------


def test_an_object_store_works_as_a_local_directory(artifact, tmp_path):
    root = "memobj://bucket/Examples/7"
    ObjectStore.objects.clear()
    upload(artifact, root)
    ObjectStore.objects["memobj://bucket/data.csv.gz"] = open(
        write_csv(tmp_path / "a.csv.gz", gzipped=True), "rb").read()
    pq.write_table(TABLE, str(tmp_path / "a.parquet"))
    ObjectStore.objects["memobj://bucket/t/data"] = (tmp_path / "a.parquet").read_bytes()

    eval_files = [f"{root}/Split-eval/data_tfrecord-0000{i}-of-00002.gz" for i in range(2)]
    assert io.resolve_files(root) == eval_files
    assert io.resolve_files(root + "/Split-eval/") == eval_files
    assert io.resolve_files(root + "/Split-*/*.gz", split="ignored") == sorted(
        eval_files + [f"{root}/Split-train/data_tfrecord-00000-of-00001.gz"])
    with pytest.raises(FileNotFoundError, match=r"its splits are: Split-eval, Split-train"):
        io.resolve_files(root, split="test")
    with pytest.raises(FileNotFoundError, match=r"no such file or directory: 'memobj://bucket/x'"):
        io.resolve_files("memobj://bucket/x")

    batches = list(io.iter_batches(root, 4))
    values = np.concatenate([io.single_values(b, "hour", "hour") for b in batches])
    np.testing.assert_array_equal(values, [r["hour"] for r in ROWS])
    assert pa.Table.from_batches(read_all("memobj://bucket/data.csv.gz", 7)).equals(TABLE)
    assert io.detect_format("memobj://bucket/t/data") == "parquet"
    assert pa.Table.from_batches(read_all("memobj://bucket/t/data", 7)).equals(TABLE)


# ---- The one filesystem layer -----------------------------------------------------------------


@pytest.mark.parametrize("path, remote", [
    ("gs://bucket/model", True), ("s3://b/k", True), ("memobj://bucket/x", True),
    ("hdfs://namenode/data", True), ("/data/eval", False), ("eval.csv", False),
    # A local path that merely contains "://" is local: models once called it remote.
    ("/data/odd://name", False), ("runs/2024-01-01T00://x", False)])
def test_is_remote_is_one_rule_a_scheme_at_the_start(path, remote):
    assert files.is_remote(path) is remote
    assert files.is_local(path) is not remote


def test_local_copy_of_a_remote_file_and_a_remote_directory(tmp_path):
    ObjectStore.objects.clear()
    src = tmp_path / "src"
    (src / "variables").mkdir(parents=True)
    (src / "saved_model.pb").write_bytes(b"pb" * 1000)
    (src / "variables" / "variables.index").write_bytes(b"\x00\x01")
    upload(src, "memobj://bucket/m")
    upload(src / "saved_model.pb", "memobj://bucket/one.pb")
    out = tmp_path / "out"
    out.mkdir()

    assert files.local_copy(str(src), str(out)) == str(src)  # local: no copy
    copied = files.local_copy("memobj://bucket/m", str(out))
    assert (copied, sorted(p.relative_to(copied).as_posix() for p in Path(copied).rglob("*"))) \
        == (str(out / "m"), ["saved_model.pb", "variables", "variables/variables.index"])
    assert (Path(copied) / "saved_model.pb").read_bytes() == b"pb" * 1000
    one = files.local_copy("memobj://bucket/one.pb", str(out))
    assert Path(one).read_bytes() == b"pb" * 1000
    assert files.exists("memobj://bucket/m") and files.is_dir("memobj://bucket/m")
    assert not files.exists("memobj://bucket/nothing")


def test_list_dir_hides_marker_files_unless_asked(tmp_path):
    for name in ("a.csv", "_SUCCESS", ".a.csv.crc"):
        (tmp_path / name).write_text("x")
    (tmp_path / "Split-eval").mkdir()
    paths, subdirs = files.list_dir(str(tmp_path))
    assert ([Path(p).name for p in paths], subdirs) == (["a.csv"], ["Split-eval"])
    paths, _ = files.list_dir(str(tmp_path), hidden=True)
    assert [Path(p).name for p in paths] == [".a.csv.crc", "_SUCCESS", "a.csv"]


# ---- Class codes of string labels ---------------------------------------------------------------


def per_example_codes(values, vocabulary):
    """The reference: one dict lookup per example (how labels were mapped before)."""
    index = {}
    for i, v in enumerate(vocabulary):
        index.setdefault(v, i)
    text = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in values]
    return np.array([index.get(t, -1) for t in text], dtype=np.int64)


@pytest.mark.parametrize("kind", ["str", "bytes", "numpy_str", "numpy_bytes", "mixed"])
def test_vocabulary_codes_equal_the_per_example_mapping(kind):
    rng = np.random.default_rng(7)
    vocabulary = ("Cash", "Credit Card", "Dispute", "No Charge", "Ünknown")
    pool = list(vocabulary) + ["cash", "Prcard", "", "Credit Card "]  # unknown look-alikes
    words = [pool[i] for i in rng.integers(0, len(pool), 5000)]
    values = {
        "str": np.array(words, dtype=object),
        "bytes": np.array([w.encode() for w in words], dtype=object),
        "numpy_str": np.array(words),
        "numpy_bytes": np.array([w.encode() for w in words]),
        "mixed": np.array([w.encode() if i % 2 else w for i, w in enumerate(words)] + [b"\xff"],
                          dtype=object),
    }[kind]
    codes = io.vocabulary_codes(values, vocabulary)
    assert codes.dtype == np.int64
    np.testing.assert_array_equal(codes, per_example_codes(values, vocabulary))
    assert (codes == -1).sum() > 1000 and set(codes.tolist()) == {-1, 0, 1, 2, 3, 4}
    assert io.vocabulary_codes(values[:0], vocabulary).shape == (0,)
