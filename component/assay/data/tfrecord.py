"""TFRecord files of tf.Examples: framing, checksums, decoding, and encoding rows as tf.Examples.

    for batch in read_tfrecord("eval.tfrecord.gz", batch_size=4096, raw_record_column=None):
        ...                                   # every feature a list column

A record is: length (uint64 LE), masked crc32c of the length (uint32 LE), data, masked crc32c of
the data (uint32 LE). Every checksum is checked; a bad one names the record and its byte offset.
tf.Examples are decoded without a schema, as TFX does when it has none: every feature becomes a
list column (large_list<int64 | float | large_binary>), and a batch in which no example has a
feature has no column for it.

TensorFlow is never imported: tfx-bsl's coders do the (de)serialization. The framing (and the
parts of one big file that several workers read) is `assay.data.framing`.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import pyarrow as pa

from assay.data.buffers import first_valid_row, large_binary_array
from assay.data.columns import list_lengths, select, with_column
from assay.data.framing import (GZIP_MAGIC, ByteRange, is_gzipped, is_tfrecord_header,
                                masked_crc, record_batches)
from assay.errors import DataError

__all__ = ["GZIP_MAGIC", "ByteRange", "encode_examples", "is_gzipped", "is_tfrecord_header",
           "masked_crc", "read_tfrecord", "record_batches"]


def read_tfrecord(path: str, batch_size: int, raw_record_column: Optional[str],
                  part: Optional[ByteRange] = None,
                  columns: Optional[Sequence[str]] = None) -> Iterator[pa.RecordBatch]:
    """Streams a TFRecord file (plain or gzipped) of tf.Examples as RecordBatches.

    Args:
      path: the file.
      batch_size: rows per batch (the last may have fewer).
      raw_record_column: if given, a large_binary column of this name holds each record.
      part: only the records that start in this byte range of an uncompressed file
        (`assay.data.framing.record_parts`); None for the whole file.
      columns: if given, the features the caller reads: once a batch has shown the type of
        each, the others are no longer decoded (a batch may still hold more columns than
        these; the caller selects). Each decoded feature is as without `columns`, and a
        feature that no example of a batch has is left out as before.

    Raises:
      DataError: a corrupt or truncated file, a record that is not a tf.Example, or a feature
        whose type (int64_list, float_list, bytes_list) changes between records in the file
        (named, with the first record of each type).
    """
    from assay.extras import require  # tfx-bsl: no TensorFlow behind it

    example_coder = require("tfx_bsl.coders.example_coder", "tfrecord",
                            "reading TFRecord files of tf.Examples")

    decoder = every = example_coder.ExamplesToRecordBatchDecoder()
    kinds: Dict[str, Tuple[str, int]] = {}  # feature -> (its kind, the first record with it)
    wanted = sorted(set(columns)) if columns is not None else None
    for records, first_index, first_offset in record_batches(path, batch_size, part):
        if decoder is every and wanted is not None and all(c in kinds for c in wanted):
            decoder = _decoder_of(example_coder, wanted, kinds)
        batch = _decoded(decoder, records)
        if batch is None and decoder is not every:  # a read feature of another type? Said
            decoder, wanted = every, None  # as without `columns` (every column from here)
            batch = _decoded(decoder, records)
        if batch is None:
            for i, record in enumerate(records):  # a feature whose type changes inside the batch?
                try:
                    _check_kinds(decoder.DecodeBatch([record]), first_index + i, kinds, path)
                except RuntimeError:
                    break
            raise _unparsable(decoder, path, records, first_index, first_offset)
        if decoder is not every:  # a feature no example of the batch has: no column
            batch = select(batch, [c.name for c, a in zip(batch.schema, batch.columns)
                                   if a.null_count < len(a)])
        _check_kinds(batch, first_index, kinds, path)
        yield _with_records(batch, records, raw_record_column, path)


def _decoded(decoder: Any, records: List[bytes]) -> Optional[pa.RecordBatch]:
    """The decoded batch, or None when the decoder refuses a record."""
    try:
        return decoder.DecodeBatch(records)
    except RuntimeError:
        return None


def _with_records(batch: pa.RecordBatch, records: List[bytes], raw_record_column: Optional[str],
                  path: str) -> pa.RecordBatch:
    if raw_record_column is None:
        return batch
    return with_column(batch, raw_record_column, large_binary_array(records), path)


_SCHEMA_TYPES = {"int64_list": "INT", "float_list": "FLOAT", "bytes_list": "BYTES"}


def _decoder_of(example_coder: Any, features: List[str], kinds: Dict[str, Tuple[str, int]]
                ) -> Any:
    """A decoder of `features` alone (sorted, as the decoder without a schema orders its
    columns), each of the kind it had so far."""
    from tensorflow_metadata.proto.v0 import schema_pb2  # protobuf messages: no TensorFlow

    schema = schema_pb2.Schema()
    for name in features:
        feature = schema.feature.add()
        feature.name = name
        feature.type = schema_pb2.FeatureType.Value(_SCHEMA_TYPES[kinds[name][0]])
    return example_coder.ExamplesToRecordBatchDecoder(schema.SerializeToString())


_KIND_NAMES = {"int64": "int64_list", "float": "float_list", "large_binary": "bytes_list",
               "binary": "bytes_list"}


def _check_kinds(batch: pa.RecordBatch, first_index: int, kinds: Dict[str, Tuple[str, int]],
                 path: str) -> None:
    """Records each feature's kind (int64_list, float_list, bytes_list) and the first record
    that has it; DataError when a feature's kind differs from an earlier record's.

    Without this, a feature that changes type between batches would slice its values as
    different keys (1 and b"1"), and one that changes inside a batch would fail to decode with
    a message that names neither the feature nor the records.
    """
    for field, column in zip(batch.schema, batch.columns):
        value_type = getattr(field.type, "value_type", None)
        kind = _KIND_NAMES.get(str(value_type))
        if kind is None:  # no example in the batch has a value: a null column
            continue
        seen = kinds.get(field.name)
        if seen is None or seen[0] != kind:
            row = first_index + first_valid_row(column)
            if seen is None:
                kinds[field.name] = (kind, row)
                continue
            raise DataError(
                f"feature {field.name!r} changes type in {path}: it is {seen[0]} in record "
                f"{seen[1]} (the first with it) and {kind} in record {row}; every tf.Example "
                f"must give a feature the same type (records count from 0)")


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
    from assay.extras import require

    example_coder = require("tfx_bsl.coders.example_coder", "tfrecord",
                            "encoding rows as tf.Examples (for a SavedModel)")
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
    lengths, values = list_lengths(column)
    if values.null_count:
        raise DataError(f"cannot encode column {name!r} as a tf.Example feature: a list in "
                        f"it holds null items")
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
