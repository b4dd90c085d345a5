"""slice_groups against a slow, obviously-correct per-row reference."""

import itertools

import numpy as np
import pyarrow as pa
import pytest

from assay.config.slices import parse_slice_spec
from assay.engine.slicing import bucket_labels, slice_groups


def _reference(rows_values, spec, labels_for):
    """{slice key: sorted rows} computed row by row."""
    out = {}
    for r, row in enumerate(rows_values):
        ok = all(v in (row.get(k) or []) for k, v in spec.values)
        if not ok:
            continue
        per_col = []
        for c in spec.columns:
            vals = row.get(c.feature) or []
            if c.bucketed:
                vals = [labels_for(c, v) for v in vals if v == v]
            per_col.append(sorted(set(vals), key=str))
        for combo in itertools.product(*per_col):
            key = tuple(spec.values) + tuple((c.feature, v) for c, v in zip(spec.columns, combo))
            out.setdefault(key, []).append(r)
    return out


def _batch(rows_values, types):
    arrays = []
    for name, typ in types.items():
        arrays.append(pa.array([row.get(name) for row in rows_values], pa.list_(typ)))
    return pa.RecordBatch.from_arrays(arrays, list(types))


@pytest.mark.parametrize("spec_raw", [
    [], ["a"], ["a", "b"], ["t"], ["t", "a"], ["a", "t", "b"], {"b": 2}, {"t": "y"},
    {"keys": ["a"], "values": {"b": 1}}, {"keys": ["t"], "values": {"a": "p"}},
    {"feature": "m", "boundaries": [0, 1.5, 3]}, ["b", {"feature": "m", "boundaries": [2]}],
])
def test_slice_groups_match_row_by_row_reference(spec_raw):
    rng = np.random.default_rng(11)
    rows = []
    for _ in range(400):
        row = {"a": [str(rng.choice(["p", "q", "r"]))], "b": [int(rng.integers(0, 3))],
               "m": [float(np.round(rng.uniform(-1, 4), 1))]}
        tags = list(rng.choice(["x", "y", "z"], size=rng.integers(0, 4)))
        row["t"] = tags  # multi-valued, possibly empty, possibly repeated
        if rng.random() < 0.1:
            row["a"] = []  # missing value
        if rng.random() < 0.05:
            row["m"] = None
        rows.append(row)
    batch = _batch(rows, {"a": pa.string(), "b": pa.int64(), "m": pa.float64(), "t": pa.string()})
    spec = parse_slice_spec(spec_raw)

    def labels_for(col, v):
        labels = bucket_labels(col.boundaries)
        return labels[int(np.searchsorted(col.boundaries, v, side="right"))]

    want = _reference(rows, spec, labels_for)
    groups = slice_groups(batch, spec)
    got = {}
    for g, key in enumerate(groups.keys):
        got[key] = sorted(groups.rows[groups.group_ids == g].tolist())
    if spec.is_overall:
        want = {(): list(range(len(rows)))}
    assert got == want
    for key in groups.keys:  # plain Python values: ints stay ints
        for _, v in key:
            assert type(v) in (int, str, float)


def test_bucket_labels():
    assert bucket_labels([0, 1.5, 10]) == ["(-inf, 0)", "[0, 1.5)", "[1.5, 10)", "[10, inf)"]


def test_missing_feature_gives_no_slices():
    batch = pa.RecordBatch.from_arrays([pa.array([1, 2])], ["a"])
    groups = slice_groups(batch, parse_slice_spec(["zzz"]))
    assert groups.keys == [] and len(groups.rows) == 0


@pytest.mark.parametrize("wanted, column, rows", [
    ("3", pa.array([1, 3, 3, 5]), [1, 2]),              # a string value against numbers
    (3, pa.array(["3", "4", "3", "x"]), [0, 2]),        # a number against strings
    (3, pa.array([3.0, 2.5, 3.0, 1.0]), [0, 2]),        # 3 and 3.0 are the same value
    ("cash", pa.array(["card", "cash", None, "cash"]), [1, 3]),
    (True, pa.array([True, False, True, True]), [0, 2, 3]),
    (1, pa.array([True, False, True, True]), []),       # a number never matches a bool
])
def test_fixed_values_match_as_results_and_validation_match_them(wanted, column, rows):
    from assay.results.slices import values_match

    batch = pa.RecordBatch.from_arrays([column], ["f"])
    groups = slice_groups(batch, parse_slice_spec({"f": wanted}))
    got = groups.rows.tolist()
    assert got == rows
    # The rule is the one of assay.results.slices, value by value.
    assert got == [i for i, v in enumerate(column.to_pylist())
                   if v is not None and values_match(wanted, v)]
    assert groups.keys == ([(("f", wanted),)] if rows else [])
