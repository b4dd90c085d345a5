"""TFMA's files in every results directory, beside assay's own, as TFMA 0.47's writers name them.

    OUTPUT/
      metrics-00000-of-00001.tfrecord   MetricsForSlice, one per slice   (tfma.load_metrics)
      plots-00000-of-00001.tfrecord     PlotsForSlice, one per slice     (tfma.load_plots)
      validations.tfrecord              one ValidationResult   (tfma.load_validation_result)
      eval_config.json                  TFMA's EvalRun (JSON)  (tfma.load_eval_result)

Names, sharding and framing are those of TFMA's MetricsPlotsAndValidationsWriter (one shard,
`<key>-SSSSS-of-NNNNN.tfrecord`; validations unsharded) and EvalConfigWriter, so
`tfma.load_eval_result(OUTPUT)`, `tfma.experimental.dataframe.metrics_as_dataframes`, TFX's
`InteractiveContext.show` and the tools built on them read an assay evaluation as a TFMA one.
What the records hold: assay.results.tfma_metrics (metrics, plots) and
assay.results.tfma_validation (verdict, config). Only google.protobuf is imported (TFMA's protos
are vendored in assay.results.tfma_proto); TensorFlow never is.

Example:
    >>> frame(b"abc")[:8] == (3).to_bytes(8, "little")
    True
"""

from __future__ import annotations

import struct
from typing import Any, Iterable, Mapping, Optional, Sequence

from assay.data.tfrecord import masked_crc

METRICS_FILE = "metrics-00000-of-00001.tfrecord"
PLOTS_FILE = "plots-00000-of-00001.tfrecord"
VALIDATIONS_FILE = "validations.tfrecord"
EVAL_CONFIG_FILE = "eval_config.json"
TFMA_FILES = (METRICS_FILE, PLOTS_FILE, VALIDATIONS_FILE, EVAL_CONFIG_FILE)


def frame(data: bytes) -> bytes:
    """One TFRecord: length, masked CRC of the length, data, masked CRC of the data."""
    length = struct.pack("<Q", len(data))
    return (length + struct.pack("<I", masked_crc(length)) + data
            + struct.pack("<I", masked_crc(data)))


def tfrecord_bytes(messages: Iterable[Any]) -> bytes:
    """A whole TFRecord file of serialized protos."""
    return b"".join(frame(m.SerializeToString()) for m in messages)


def write_tfma_files(staged: Any, cfg: Any, metrics_doc: Mapping[str, Any],
                     plots_doc: Mapping[str, Any], verdict: Optional[Mapping[str, Any]],
                     thresholds: Sequence[Any], data_location: str, file_format: str) -> None:
    """Writes TFMA's four files into a StagedOutput (so they publish with the rest).

    Args:
      staged: the assay.results.publish.StagedOutput of the evaluation.
      cfg: the EvalConfig it ran with (its tfma_names name the metrics).
      metrics_doc, plots_doc: assay_metrics.json's and assay_plots.json's documents.
      verdict: validation.json's document (ValidationResult.to_dict()).
      thresholds: the thresholds checked, directions filled in.
      data_location, file_format: where the examples were read, and their format (shown by
        TFMA's views only).
    """
    from assay.results import tfma_metrics, tfma_validation

    names, weighted = dict(cfg.tfma_names), bool(cfg.weight)
    staged.write_bytes(METRICS_FILE, tfrecord_bytes(
        tfma_metrics.metrics_for_slices(metrics_doc, names, weighted)))
    staged.write_bytes(PLOTS_FILE, tfrecord_bytes(
        tfma_metrics.plots_for_slices(metrics_doc, plots_doc, weighted)))
    if verdict is not None:
        directions = {t.metric: t.direction for t in thresholds}
        staged.write_bytes(VALIDATIONS_FILE, tfrecord_bytes(
            [tfma_validation.validation_result(verdict, directions, names)]))
    staged.write_text(EVAL_CONFIG_FILE, tfma_validation.eval_run_json(
        cfg, thresholds, data_location, file_format))


__all__ = ["EVAL_CONFIG_FILE", "METRICS_FILE", "PLOTS_FILE", "TFMA_FILES", "VALIDATIONS_FILE",
           "frame", "tfrecord_bytes", "write_tfma_files"]
