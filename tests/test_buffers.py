"""assay.data.buffers: Arrow arrays read from their buffers equal pyarrow's own conversions.

The reference for each helper is the pyarrow call it replaces (to_numpy, list_value_length +
flatten, is_valid, pa.array); the arrays cover every numeric type, sliced arrays (a non-zero
offset), empty arrays, and the cases that fall back (nulls, booleans, strings).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from assay.data.buffers import first_valid_row, large_binary_array, list_parts, numpy_values

NUMERIC = [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(), pa.uint32(),
           pa.uint64(), pa.float32(), pa.float64()]


def _same(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == want.dtype
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("kind", NUMERIC, ids=str)
def test_numeric_values_equal_to_numpy_whole_sliced_and_empty(kind):
    whole = pa.array([0, 1, 2, 3, 5, 8, 13, 21, 34, 55], type=kind)
    for array in (whole, whole.slice(3), whole.slice(2, 5), whole.slice(10), whole.slice(0, 0)):
        got, want = numpy_values(array), array.to_numpy(zero_copy_only=False)
        _same(got, want)
        assert got.flags.writeable == want.flags.writeable  # Arrow's memory: read-only views


@pytest.mark.parametrize("array", [
    pa.array([1, None, 3]), pa.array([1.5, None]), pa.array([True, False, True]),
    pa.array(["a", "b"]), pa.array(np.array([1.0, 2.0], np.float16)), pa.array([None, None]),
], ids=["int-null", "float-null", "bool", "string", "float16", "all-null"])
def test_numeric_values_fall_back_to_pyarrow_elsewhere(array):
    got, want = numpy_values(array), array.to_numpy(zero_copy_only=False)
    assert got.dtype == want.dtype
    assert [str(v) for v in got] == [str(v) for v in want]  # NaN and None compare as text


def _reference_parts(column: pa.Array):
    lengths = pc.fill_null(pc.list_value_length(column), 0).to_numpy(zero_copy_only=False)
    return lengths.astype(np.int64), column.flatten()


@pytest.mark.parametrize("large", [False, True], ids=["list", "large_list"])
def test_list_parts_equal_list_value_length_and_flatten(large):
    rows = [[1.0, 2.0], [], [3.0], [4.0, 5.0, 6.0], [7.0], [], [8.0, 9.0]]
    whole = pa.array(rows, pa.large_list(pa.float32()) if large else pa.list_(pa.float32()))
    for column in (whole, whole.slice(1), whole.slice(3, 3), whole.slice(6)):
        lengths, flat = list_parts(column)
        want_lengths, want_flat = _reference_parts(column)
        _same(lengths, want_lengths)
        assert flat.type == want_flat.type
        assert flat.equals(want_flat)


def test_list_parts_leave_null_rows_fixed_size_and_empty_lists_to_pyarrow():
    assert list_parts(pa.array([[1], None, [2]])) is None
    assert list_parts(pa.chunked_array([pa.array([[1], [2]])])) is None
    assert list_parts(pa.array([[1, 2], [3, 4]], pa.list_(pa.int64(), 2))) is None
    assert list_parts(pa.array([], pa.list_(pa.int64()))) is None
    assert list_parts(pa.array([1, 2])) is None


@pytest.mark.parametrize("values", [
    [None, None, 3, None], [1, 2], [None] * 9 + [4], [None, None], [],
    [None] * 20 + [1] + [None] * 5,
])
def test_first_valid_row_equals_is_valid(values):
    whole = pa.array(values, pa.int64())
    for column in (whole, whole.slice(1), whole.slice(min(9, len(values)))):
        valid = np.flatnonzero(np.asarray(column.is_valid()))
        assert first_valid_row(column) == (int(valid[0]) if valid.size else 0)


def test_large_binary_array_equals_pa_array():
    items = [b"abc", b"", b"\x00\xff" * 40, b"z"]
    got = large_binary_array(items)
    assert got.equals(pa.array(items, pa.large_binary()))
    assert large_binary_array([]).equals(pa.array([], pa.large_binary()))


def test_an_evaluation_of_tfrecord_files_never_imports_pandas(tmp_path):
    """pyarrow imports pandas on first to_numpy or compute call: the readers avoid them."""
    from assay.data.tfrecord import encode_examples
    from assay.results.tfma_files import frame

    rng = np.random.default_rng(0)
    n = 400
    batch = pa.record_batch([pa.array(rng.integers(0, 2, n)), pa.array(rng.random(n)),
                             pa.array(rng.integers(0, 3, n))],
                            names=["label", "prediction", "group"])
    for shard in range(2):
        with open(tmp_path / f"data-{shard}.tfrecord", "wb") as f:
            f.write(b"".join(frame(r) for r in encode_examples(batch)))
    config = {"label": "label", "models": {"candidate": {"prediction": "prediction"}},
              "slices": [[], ["group"]], "metrics": ["auc", "accuracy"]}
    script = (
        "import json, sys, assay\n"
        f"r = assay.evaluate({json.dumps(config)}, examples={str(tmp_path)!r}, "
        f"output={str(tmp_path / 'out')!r}, workers=1)\n"
        "print(json.dumps([sorted(m for m in sys.modules if m.split('.')[0] == 'pandas'), "
        "r.metrics()['auc']]))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONWARNINGS="ignore"), check=True)
    pandas_modules, auc = json.loads(out.stdout.strip().splitlines()[-1])
    assert pandas_modules == []
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(batch.column(0))
    assert auc == pytest.approx(roc_auc_score(labels, np.asarray(batch.column(1))), abs=1e-9)
