"""A deterministic synthetic workload (taxi trips: will the rider tip?), and the CLI demo.

`make_trips(n, seed)` gives the same Arrow table for the same (n, seed) on every machine:
features hour (0-23), day (1-7), payment (5 strings), miles (float), a 0/1 label, a weight, and
two precomputed predictions: `prediction` (a good model) and `old_prediction` (a worse one).

`python -m assay.demo` writes it as TFRecord shards and evaluates it with the CLI.
"""

from __future__ import annotations

import gzip
import os
import struct
import sys
from typing import List, Optional, Sequence

import numpy as np
import pyarrow as pa

PAYMENTS = np.array(["cash", "credit_card", "dispute", "mobile", "no_charge"], dtype=object)


def make_trips(n: int, seed: int = 0) -> pa.Table:
    """The synthetic trips table, shape [n] rows."""
    rng = np.random.default_rng(seed)
    hour = rng.integers(0, 24, n)
    day = rng.integers(1, 8, n)
    payment = PAYMENTS[rng.choice(5, n, p=[0.3, 0.45, 0.03, 0.17, 0.05])]
    miles = np.round(rng.gamma(2.0, 2.0, n), 2)
    logit = (-0.6 + 1.4 * (payment == "credit_card") + 0.7 * (payment == "mobile")
             - 1.5 * (payment == "cash") + 0.08 * miles + 0.5 * np.sin(hour / 24 * 2 * np.pi)
             - 0.15 * (day >= 6))
    p_true = 1 / (1 + np.exp(-logit))
    label = (rng.random(n) < p_true).astype(np.int64)
    noise = rng.normal(0, 0.6, n)
    prediction = 1 / (1 + np.exp(-(logit + noise)))
    # The older model ignores the hour and over-trusts mobile payments.
    old_logit = logit - 0.5 * np.sin(hour / 24 * 2 * np.pi) + 0.9 * (payment == "mobile")
    old_prediction = 1 / (1 + np.exp(-(old_logit + rng.normal(0, 0.9, n))))
    weight = np.round(rng.uniform(0.5, 2.0, n), 3)
    return pa.table({
        "hour": hour.astype(np.int64), "day": day.astype(np.int64),
        "payment": pa.array(payment.tolist(), pa.string()), "miles": miles.astype(np.float64),
        "label": label, "weight": weight, "prediction": prediction.astype(np.float64),
        "old_prediction": old_prediction.astype(np.float64),
    })


def to_examples(table: pa.Table) -> List[bytes]:
    """Serialized tf.Examples of the table's rows (floats as float32, strings as bytes)."""
    from assay.data.tfrecord import encode_examples

    return [record for batch in table.to_batches(max_chunksize=65536)
            for record in encode_examples(batch)]


def write_tfrecord(path: str, records: Sequence[bytes], compress: bool = False) -> None:
    """Writes records in the TFRecord framing (gzip-compressed when `compress`)."""
    from assay.data.tfrecord import masked_crc

    opener = gzip.open if compress else open
    with opener(path, "wb") as f:
        for rec in records:
            length = struct.pack("<Q", len(rec))
            f.write(length + struct.pack("<I", masked_crc(length)) + rec +
                    struct.pack("<I", masked_crc(rec)))


def write_trips(directory: str, n: int, shards: int = 1, seed: int = 0,
                compress: bool = True) -> List[str]:
    """Writes make_trips(n, seed) as TFRecord shards; returns their paths."""
    os.makedirs(directory, exist_ok=True)
    records = to_examples(make_trips(n, seed))
    paths = []
    for i in range(shards):
        suffix = ".gz" if compress else ""
        path = os.path.join(directory, f"data_tfrecord-{i:05d}-of-{shards:05d}{suffix}")
        write_tfrecord(path, records[i::shards], compress)
        paths.append(path)
    return paths


DEMO_CONFIG = """\
# assay demo: does the new tip model beat the old one, overall and slice by slice?
label: label
weight: weight
models:
  candidate: {prediction: prediction}
  baseline: {prediction: old_prediction}
slices:
  - []
  - [payment]
  - [hour]
  - [payment, day]
  - {day: 6}
  - {feature: miles, boundaries: [1, 2, 5, 10]}
min_slice_size: 100
thresholds:
  - {metric: auc, min: 0.70, max_regression: 0.01}
  - {metric: log_loss, max_regression: {relative: 0.05}}
  - {metric: auc, slices: [[payment]], min: 0.55}
  - {metric: recall, slices: [{day: 6}], min: 0.6}
"""


def main(argv: Optional[Sequence[str]] = None) -> int:
    from assay import cli

    root = os.path.abspath(os.environ.get("ASSAY_DEMO_DIR", "demo-output"))
    data = os.path.join(root, "data", "Split-eval")
    config = os.path.join(root, "config.yaml")
    print(f"assay demo: writing 100,000 synthetic trips to {data}")
    write_trips(data, 100_000, shards=4)
    with open(config, "w", encoding="utf-8") as f:
        f.write(DEMO_CONFIG)
    args = ["evaluate", "--config", config, "--examples", data,
            "--output", os.path.join(root, "results")] + list(argv or [])
    print("$ assay " + " ".join(args))
    return cli.main(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
