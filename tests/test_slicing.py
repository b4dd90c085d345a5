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
    # one value a row (the join is skipped), then a column with rows missing, multi-valued
    ["b", "c"], ["c", "b", "a"], ["b", "c", "t"], ["t", "b", "c"],
])
def test_slice_groups_match_row_by_row_reference(spec_raw):
    rows, batch = _rows_and_batch()
    _check_spec(rows, batch, spec_raw)


def test_specs_sliced_one_after_another_share_column_codes():
    """A batch's column codes are made once for all its specs (slicing's memo of the batch
    sliced last): every spec, sliced in turn on one batch, still matches the reference."""
    from assay.engine import slicing

    rows, batch = _rows_and_batch()
    specs = [["a", "b"], ["b"], ["a"], ["t", "a"], ["b", "c", "t"], ["c", "b", "a"], ["t"],
             {"feature": "m", "boundaries": [0, 1.5, 3]}, ["b", {"feature": "m",
                                                                  "boundaries": [2]}]]
    for spec_raw in specs:
        _check_spec(rows, batch, spec_raw)
    memo = slicing._LAST.value[1]
    assert sum(1 for k in memo if isinstance(k, tuple) and k[0] == "column") == 6
    assert slicing.canonical((("b", 1), ("a", "p"))) == (("a", "p"), ("b", 1))


def _rows_and_batch():
    rng = np.random.default_rng(11)
    rows = []
    for _ in range(400):
        row = {"a": [str(rng.choice(["p", "q", "r"]))], "b": [int(rng.integers(0, 3))],
               "m": [float(np.round(rng.uniform(-1, 4), 1))]}
        tags = list(rng.choice(["x", "y", "z"], size=rng.integers(0, 4)))
        row["t"] = tags  # multi-valued, possibly empty, possibly repeated
        row["c"] = [int(rng.integers(0, 2))]
        if rng.random() < 0.1:
            row["a"] = []  # missing value
        if rng.random() < 0.05:
            row["m"] = None
        rows.append(row)
    batch = _batch(rows, {"a": pa.string(), "b": pa.int64(), "m": pa.float64(), "t": pa.string(),
                          "c": pa.int64()})
    return rows, batch


def _check_spec(rows, batch, spec_raw):
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


# ---- empty batches: every row skipped as invalid, or a file of zero rows -----------------------

_EMPTY_SPECS = [[], ["a"], ["a", "b"], ["t"], ["t", "a"], {"b": 1},
                {"keys": ["a"], "values": {"b": 1}}, {"feature": "m", "boundaries": [0, 1.5, 3]},
                ["b", {"feature": "m", "quantiles": 4}], ["a", "b", "t"]]


@pytest.mark.parametrize("spec_raw", _EMPTY_SPECS)
def test_empty_batch_gives_no_slice(spec_raw):
    rows = [{"a": ["p"], "b": [1], "m": [0.5], "t": ["x", "y"]}]
    batch = _batch(rows, {"a": pa.string(), "b": pa.int64(), "m": pa.float64(), "t": pa.string(),
                          "c": pa.int64()})
    empty = batch.slice(0, 0)
    spec = parse_slice_spec(spec_raw)
    groups = slice_groups(empty, spec, {"m": (0.2, 1.0, 2.0)})
    assert len(groups.rows) == 0 and len(groups.group_ids) == 0
    # The overall slice exists with no rows (its accumulators then hold nothing); every other
    # spec yields no slice at all, as for a batch none of whose rows has the feature.
    assert groups.keys == ([()] if spec.is_overall else [])
    # A non-empty batch of the same spec still slices (the empty case changed nothing else).
    assert slice_groups(batch, spec, {"m": (0.2, 1.0, 2.0)}).keys


def test_empty_batch_slices_like_a_batch_whose_rows_lack_the_feature():
    batch = _batch([{"a": ["p"], "t": []}, {"a": ["q"], "t": []}],
                   {"a": pa.string(), "t": pa.string()})
    groups = slice_groups(batch, parse_slice_spec(["a", "t"]))  # no row has a value of t
    assert groups.keys == [] and len(groups.rows) == 0


@pytest.fixture(params=["local", "beam"])
def engine(request):
    return request.param


def test_batches_whose_rows_are_all_skipped_flow_through_every_slice(engine, tmp_path):
    """Whole batches of invalid rows (skipped) and a file of zero rows, on both engines: each
    slice's metrics are those of its valid rows (scikit-learn on the filtered subset)."""
    import pyarrow.parquet as pq
    from sklearn import metrics as skm

    import assay

    rng = np.random.default_rng(5)
    n = 600
    label = rng.integers(0, 2, n)
    pred = np.clip(0.35 * label + 0.65 * rng.random(n), 0, 1)
    pred[:200] = 3.0  # the first two batches of 100 rows: every row invalid
    pred[450:500] = np.nan
    table = pa.table({"label": label, "p": pred, "day": rng.integers(0, 3, n),
                      "miles": rng.uniform(0, 10, n),
                      "tags": [list(rng.choice(["a", "b"], rng.integers(1, 3))) for _ in range(n)]})
    data = tmp_path / "data"
    data.mkdir()
    pq.write_table(table, str(data / "part-0.parquet"), row_group_size=100)
    pq.write_table(table.slice(0, 0), str(data / "part-1.parquet"))  # zero rows
    cfg = {"label": "label", "models": {"candidate": {"prediction": "p"}}, "task": "binary",
           "invalid_values": "skip", "batch_size": 100,
           "slices": [[], ["day"], {"feature": "miles", "boundaries": [5]},
                      {"feature": "miles", "quantiles": 2}, ["day", "tags"],
                      {"keys": ["tags"], "values": {"day": 1}}]}
    result = assay.evaluate(cfg, str(data), str(tmp_path / "out"), engine=engine)
    assert result.info["skipped_examples"] == {
        "prediction of model 'candidate' is outside [0, 1] (binary task); binary predictions "
        "are probabilities: if the model outputs logits, set transform: sigmoid, or outputs: "
        "scores to take them as TFMA does": 200,
        "prediction of model 'candidate' is NaN or infinite": 50}
    df = table.to_pandas()
    df = df[(df.p <= 1) & df.p.notna()]
    tags = df.tags.map(list)
    subsets = {(): df, (("day", 2),): df[df.day == 2],
               (("miles", "[5, inf)"),): df[df.miles >= 5],
               (("day", 1), ("tags", "b")): df[(df.day == 1) & tags.map(lambda t: "b" in t)]}
    for key, sub in subsets.items():
        got = result.metrics(dict(key))
        assert got["example_count"] == len(sub)
        assert got["auc"] == pytest.approx(skm.roc_auc_score(sub.label, sub.p), abs=1e-9)


def test_slice_keys_keep_each_batch_value_type():
    """Equal values of other types (1, 1.0, True) in another batch give keys of their own type,
    though the keys of a batch's slices are remembered across batches."""
    spec = parse_slice_spec(["b", "c"])
    for typ, values in ((pa.int64(), [1, 0]), (pa.float64(), [1.0, 0.0]),
                        (pa.bool_(), [True, False]), (pa.int64(), [1, 0])):
        rows = [{"b": [values[i % 2]], "c": [values[i // 2 % 2]]} for i in range(8)]
        groups = slice_groups(_batch(rows, {"b": typ, "c": typ}), spec)
        assert sorted(groups.keys) == sorted((("b", u), ("c", v)) for u in values for v in values)
        for key in groups.keys:
            assert all(type(v) is type(values[0]) for _, v in key)
