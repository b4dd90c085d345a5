"""The drift accumulator (assay.drift.dense: one count matrix per column for every slice)
against a slow per-row computation: each slice's sketch built from its own rows, one value at a
time. Multi-valued and missing slice features, negative, zero, tiny, huge and non-finite
values, a column absent from the first batch; the same whatever the batches, shards and merge
order. A categorical column past MAX_TRACKED values merges as per-slice sketches. The pass
reuses the slice groups the extension computed."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pytest

from assay.config.schema import EvalConfig
from assay.config.slices import parse_slice_spec
from assay.drift import dense, sketches as sketch_module
from assay.drift.extension import DriftAccumulator, DriftExtension
from assay.drift.sketches import CategoricalSketch, NumericSketch
from assay.engine.slicing import slice_groups

CONFIG = {"label": "y", "models": {"candidate": {"prediction": "p"}},
          "slices": [[], ["g"], ["g", "h"], ["h"]], "drift": {"features": ["x", "g", "tag"]}}
FEATURE_KINDS = {"x": NumericSketch, "g": NumericSketch, "tag": CategoricalSketch}


def table(n=700, seed=3):
    """The rows as Python lists: x (0-2 numbers a row), g (int or None), h (0-3 strings, may
    repeat), tag (str or None), p, y."""
    rng = np.random.default_rng(seed)
    special = [0.0, -0.0, 1e-13, -1e-13, np.inf, -np.inf, np.nan, 1e6, -2.5e-4]
    x = []
    for _ in range(n):
        k = rng.integers(0, 3)
        x.append([float(rng.choice(special)) if rng.random() < 0.2 else
                  float(rng.normal(0, 30)) for _ in range(k)])
    g = [None if rng.random() < 0.1 else int(rng.integers(0, 4)) for _ in range(n)]
    h = [list(rng.choice(["a", "b", "c"], rng.integers(0, 4))) for _ in range(n)]
    tag = [None if rng.random() < 0.15 else str(rng.choice(["u", "v", "w", "z"]))
           for _ in range(n)]
    return {"x": x, "g": g, "h": h, "tag": tag, "p": rng.random(n).round(3),
            "y": rng.integers(0, 2, n)}


def view(data, lo, hi, with_x=True):
    cols = {"g": pa.array(data["g"][lo:hi], pa.int64()),
            "h": pa.array([list(v) for v in data["h"][lo:hi]], pa.list_(pa.string())),
            "tag": pa.array(data["tag"][lo:hi], pa.string())}
    if with_x:
        cols["x"] = pa.array(data["x"][lo:hi], pa.list_(pa.float64()))
    model = SimpleNamespace(predictions=data["p"][lo:hi], labels=data["y"][lo:hi])
    return SimpleNamespace(batch=pa.RecordBatch.from_pydict(cols),
                           per_model={"candidate": model})


def extension():
    cfg = EvalConfig.from_dict(CONFIG)
    return DriftExtension(SimpleNamespace(config=cfg, task="binary"))


def accumulate(ext, data, cuts, first_without_x=False):
    """One accumulator fed the rows cut into batches at `cuts` (row indices)."""
    acc = ext.create()
    for i, (lo, hi) in enumerate(zip(cuts[:-1], cuts[1:])):
        acc = ext.add(acc, view(data, lo, hi, with_x=not (first_without_x and i == 0)))
    return acc


def slow_sketches(data, without_x=0):
    """{(slice key, column): sketch json}: every row added to each of its slices singly (the
    first `without_x` rows were read without the column x: missing there)."""
    out = {}
    for i in range(len(data["g"])):
        g, hs = data["g"][i], sorted(set(data["h"][i]))
        keys = [()] + ([(("g", g),)] if g is not None else [])
        keys += [(("h", v),) for v in hs]
        keys += [(("g", g), ("h", v)) for v in hs] if g is not None else []
        values = {("feature", "x"): data["x"][i] if i >= without_x else [],
                  ("feature", "g"): [] if g is None else [g],
                  ("feature", "tag"): [] if data["tag"][i] is None else [data["tag"][i]],
                  ("prediction", "candidate"): [data["p"][i]], ("label", "label"): [data["y"][i]]}
        for key in keys:
            for column, vals in values.items():
                kind = (FEATURE_KINDS[column[1]] if column[0] == "feature" else
                        NumericSketch if column[0] == "prediction" else CategoricalSketch)
                s = out.setdefault((key, column), kind())
                if not vals:
                    s.missing += 1
                for v in vals:
                    s.add(np.array([v]))
    return {k: s.to_json() for k, s in out.items()}


def finished_json(acc, ext):
    return {k: s.to_json() for k, s in
            acc.finished(ext.drift.relative_accuracy, ext.drift.max_categories).items()}


def test_dense_accumulator_equals_the_slow_per_row_sketches_whatever_the_shards():
    data = table()
    ext = extension()
    expected = slow_sketches(data, without_x=100)
    one = accumulate(ext, data, [0, 100, 250, 400, 700], first_without_x=True)
    got = finished_json(one, ext)
    assert got.keys() == expected.keys()
    for k in expected:  # slice by slice, so that a failure names the slice and column
        assert got[k] == expected[k], k
    # Three shards (batch boundaries inside them differ), merged in two orders.
    a = accumulate(ext, data, [0, 100, 160], first_without_x=True)
    b = accumulate(ext, data, [160, 300, 333, 420])
    c = accumulate(ext, data, [420, 555, 700])
    assert finished_json(a.merge([b, c]), ext) == expected
    a = accumulate(ext, data, [0, 100, 160], first_without_x=True)
    b = accumulate(ext, data, [160, 300, 333, 420])
    c = accumulate(ext, data, [420, 555, 700])
    assert finished_json(c.merge([b]).merge([a]), ext) == expected


def test_numeric_column_merges_across_bin_layouts():
    """Two shards whose bins do not overlap (and a slice only one of them has) merge into the
    sketches of all the values; min and max too."""
    rng = np.random.default_rng(0)
    left, right = rng.uniform(1e-3, 1e-2, 50), -rng.uniform(1e4, 1e5, 40)
    a, b = dense.DenseColumn("numeric", 0.01, 100), dense.DenseColumn("numeric", 0.01, 100)
    a.grow(2)
    a.add(np.array([True, False]), None, np.zeros(50, np.int64), np.arange(50), left)
    b.grow(2)
    b.add(np.array([True, True]), np.array([0, 3]), np.repeat([0, 1], 20), np.arange(40), right)
    a.grow(3)
    assert a.merge(b, np.array([2, 0]))  # b's slice 0 is a's slice 2, b's 1 is a's 0
    got = {k: s.to_json() for k, s in a.sketches(["s0", "s1", "s2"]).items()}
    s0 = NumericSketch().add(left).add(right[20:], missing=3)
    s2 = NumericSketch().add(right[:20])
    assert got == {"s0": s0.to_json(), "s2": s2.to_json()}


def test_categorical_past_max_tracked_merges_as_per_slice_sketches(monkeypatch):
    """Each shard holds 4 values (exact); together 8 > MAX_TRACKED = 5: the shards merge as
    per-slice sketches do (folding the rarest into other), not as one matrix."""
    monkeypatch.setattr(dense, "MAX_TRACKED", 5)
    monkeypatch.setattr(sketch_module, "MAX_TRACKED", 5)
    rng = np.random.default_rng(1)
    shards = [rng.choice(list("abcd"), 60), rng.choice(list("efgh"), 50)]
    slices = [rng.integers(0, 2, 60), rng.integers(0, 2, 50)]
    cols = []
    for values, ids in zip(shards, slices):
        col = dense.DenseColumn("categorical", 0.01, 100)
        col.grow(2)
        col.add(np.array([True, True]), None, ids, np.arange(len(values)), values)
        cols.append(col)
    assert not cols[0].merge(cols[1], np.array([0, 1]))  # refused, and nothing changed
    expected = {}
    for s in (0, 1):
        parts = [CategoricalSketch().add(v[ids == s]) for v, ids in zip(shards, slices)]
        expected[s] = parts[0].merge([parts[1]]).to_json()
        assert expected[s]["approximate"] is True and expected[s]["other"] > 0
    # The accumulators: shard 2 names the slices in the other order.
    accs = [DriftAccumulator(), DriftAccumulator()]
    names = [[(("s", 0),), (("s", 1),)], [(("s", 1),), (("s", 0),)]]
    for acc, col, keys in zip(accs, cols, names):
        acc.slice_ids(keys)
        acc.columns[("feature", "f")] = col
    cols[1].take(np.array([1, 0]))
    got = accs[0].merge([accs[1]]).finished(0.01, 100)
    assert {k[0][0][1]: s.to_json() for k, s in got.items()} == expected


@pytest.mark.parametrize("batches", [[0, 700], [0, 1, 2, 699, 700]])
def test_tiny_and_whole_batches(batches):
    data = table(seed=5)
    ext = extension()
    assert finished_json(accumulate(ext, data, batches), ext) == slow_sketches(data)


def test_slice_groups_of_the_last_batch_are_reused_and_only_for_it():
    """The drift extension slices each batch before the pass does: the pass gets the same
    groups back (assay.engine.slicing keeps those of the batch sliced last); another batch,
    even one equal to it, is sliced afresh; a spec bucketed by quantiles is never reused
    (its boundaries come with the call)."""
    data = table(n=50, seed=7)
    batch = view(data, 0, 50).batch
    spec = parse_slice_spec(["g", "h"])
    first = slice_groups(batch, spec)
    assert slice_groups(batch, spec) is first
    other = view(data, 0, 40).batch
    fresh = slice_groups(other, spec)
    assert fresh is not first and len(fresh.rows) < len(first.rows)
    assert slice_groups(batch, spec) is not first  # no longer the batch sliced last
    by_rows = {k: sorted(first.rows[first.group_ids == g].tolist())
               for g, k in enumerate(first.keys)}
    again = slice_groups(batch, spec)
    assert {k: sorted(again.rows[again.group_ids == g].tolist())
            for g, k in enumerate(again.keys)} == by_rows
    quantiles = parse_slice_spec([{"feature": "g", "quantiles": 2}])
    low = slice_groups(batch, quantiles, {"g": (0.5,)})
    high = slice_groups(batch, quantiles, {"g": (2.5,)})
    assert low.keys != high.keys


def test_merging_accumulators_whose_columns_have_fewer_slices_than_the_accumulator():
    """An accumulator that merged in new slices without a column's values (the column then
    has fewer slices than the accumulator) merges on into a third one."""
    data = table(n=300, seed=9)
    data["g"] = data["g"][:100] + [None if g is None else g + 10 for g in data["g"][100:200]] \
        + data["g"][200:]  # slices of g only the middle rows have
    ext = extension()
    with_x = accumulate(ext, data, [0, 100])
    without = accumulate(ext, data, [100, 200], first_without_x=True)
    last = accumulate(ext, data, [200, 300])
    merged = with_x.merge([without])  # x's column: from with_x, whose slices are fewer
    assert len(merged.columns[("feature", "x")].present) < len(merged.keys)
    got = finished_json(last.merge([merged]), ext)
    order = list(range(200, 300)) + list(range(100))  # rows with x: those of last and with_x
    expected = slow_sketches({k: [v[i] for i in list(range(100, 200)) + order] if
                              isinstance(v, list) else v[list(range(100, 200)) + order]
                              for k, v in data.items()}, without_x=100)
    assert got == expected
