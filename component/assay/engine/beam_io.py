"""Where the Beam engine's workers put their results, and how the driver reads them back.

    scratch = scratch_location(default, beam_pipeline_args)     # a place every worker can reach
    pcoll | WriteRecords(join(scratch, "slices"), worker_args)  # sharded, by Beam's file sink
    records = read_records(join(scratch, "slices"))             # on the driver, every shard
    remove_scratch(scratch)

The results of a pass travel through the pipeline into files written by Beam's file sink
(`FileBasedSink`: each bundle writes a temporary shard, the sink renames them into place when
every bundle is done), with the number of shards chosen by the runner. So they reach the driver
on any runner, including those whose workers have disks of their own (Dataflow, Flink, Spark,
Beam's portable runner), and no single element holds every slice.

A record is one pickled Python object in TFRecord framing (length, masked CRC32C, data, masked
CRC32C), read back with `assay.data.tfrecord`, which checks every checksum. The scratch
location is written by this run only, under a fresh unique name, and removed when it ends.

Workers started by an external worker pool (and some runners' workers) do not get the
pipeline's options for their file systems: a worker's first s3:// access fails with "Must
provide one of client or options". `set_worker_options` gives them the pipeline's arguments;
every DoFn and the sink call it before touching a file.
"""

from __future__ import annotations

import logging
import pickle
import struct
import uuid
from typing import Any, Iterator, List, Sequence

from apache_beam import coders
from apache_beam import transforms as beam_transforms
from apache_beam.io import iobase
from apache_beam.io.filebasedsink import FileBasedSink
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions

from assay.data import files, options
from assay.data.tfrecord import masked_crc, record_batches
from assay.errors import StorageError

SUFFIX = ".records"
_READ_BATCH = 4096  # records framed at a time when reading back



def set_worker_options(args: Sequence[str]) -> None:
    """Gives this process's Beam FileSystems the pipeline's options (s3:// endpoint, keys...),
    through `assay.data.options.set_options`. A no-op without arguments, so that a worker of a
    runner that does pass its options keeps them."""
    if args:
        options.set_options(args)


def scratch_location(default: str, beam_pipeline_args: Sequence[str]) -> str:
    """A fresh directory for the pass's intermediate files, reachable by every worker.

    `default` (a staging place beside the output) when it is remote, or when no
    `--temp_location` is given; otherwise a new directory under `--temp_location`: a runner
    whose workers have disks of their own (Dataflow, Flink, Spark) needs a location they share,
    and an output on the driver's local disk is not one.
    """
    temp = PipelineOptions(list(beam_pipeline_args)).view_as(GoogleCloudOptions).temp_location
    if temp and not files.is_remote(default):
        return files.join(temp, f"assay-pass-{uuid.uuid4().hex[:12]}")
    return default


class _RecordSink(FileBasedSink):
    """Beam's file sink writing pickled objects in TFRecord framing; sets the workers'
    filesystem options before each of its steps (they run on workers)."""

    def __init__(self, prefix: str, worker_args: Sequence[str]):
        super().__init__(prefix, coder=coders.BytesCoder(), file_name_suffix=SUFFIX,
                         num_shards=0, mime_type="application/octet-stream",
                         compression_type=CompressionTypes.UNCOMPRESSED)
        self._worker_args = tuple(worker_args)

    def write_encoded_record(self, file_handle, encoded_value: bytes) -> None:
        length = struct.pack("<Q", len(encoded_value))
        file_handle.write(length + struct.pack("<I", masked_crc(length)) + encoded_value
                          + struct.pack("<I", masked_crc(encoded_value)))

    def open(self, temp_path):
        set_worker_options(self._worker_args)
        return super().open(temp_path)

    def initialize_write(self):
        set_worker_options(self._worker_args)
        return super().initialize_write()

    def open_writer(self, init_result, uid):
        set_worker_options(self._worker_args)
        return super().open_writer(init_result, uid)

    def pre_finalize(self, init_result, writer_results):
        set_worker_options(self._worker_args)
        return super().pre_finalize(init_result, writer_results)

    def finalize_write(self, init_result, writer_results, pre_finalize_results):
        set_worker_options(self._worker_args)
        return super().finalize_write(init_result, writer_results, pre_finalize_results)


class WriteRecords(beam_transforms.PTransform):
    """Writes every element, pickled, to shards `prefix`-SSSSS-of-NNNNN.records.

    Input: any picklable objects. Output: the shard names (Beam's Write result).
    """

    def __init__(self, prefix: str, worker_args: Sequence[str]):
        super().__init__()
        self._prefix = prefix
        self._worker_args = tuple(worker_args)

    def expand(self, pcoll):
        return (pcoll
                | "Pickle" >> beam_transforms.Map(pickle.dumps, protocol=4)
                | "Write" >> iobase.Write(_RecordSink(self._prefix, self._worker_args)))


def shard_paths(prefix: str) -> List[str]:
    """The shards written under `prefix`, sorted."""
    return sorted(files.match(f"{prefix}-*-of-*{SUFFIX}"))


def read_records(prefix: str) -> Iterator[Any]:
    """Every object written by WriteRecords(prefix), shard by shard."""
    for path in shard_paths(prefix):
        for records, _, _ in record_batches(path, _READ_BATCH):
            for data in records:
                yield pickle.loads(data)



def remove_scratch(path: str) -> None:
    """Removes the scratch directory; a failure is logged, not raised (the pass's outcome,
    success or error, matters more than its leftovers)."""
    try:
        files.remove_tree(path)
    except (OSError, StorageError) as e:
        logging.getLogger(__name__).warning("could not remove the scratch directory %s: %s",
                                            path, e)
