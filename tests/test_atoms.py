"""Nested slicing specs accumulated once at the finest spec and folded into the others
(assay.engine.atoms), against the pass that adds every batch to every spec, and against
scikit-learn on the filtered rows."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import roc_auc_score

import assay
from assay.config.slices import SliceColumn, SliceSpec
from assay.engine import atoms
from assay.engine.atoms import atom_specs


def _spec(*features, boundaries=None, values=()):
    return SliceSpec(tuple(SliceColumn(f, boundaries if f == "miles" else None)
                           for f in features), tuple(values))


def test_the_finest_spec_serves_the_plain_specs_it_holds():
    specs = [_spec(), _spec("hour"), _spec("day"), _spec("hour", "day")]
    got = atom_specs(specs)
    assert got.finest == 3 and got.derived == {0, 1, 2, 3}
    # A spec that fixes a value or buckets a feature is added directly, never derived.
    specs = [_spec(), _spec("day", values=(("hour", 3),)), _spec("miles", boundaries=(1.0,)),
             _spec("day"), _spec("day", "hour")]
    got = atom_specs(specs)
    assert got.finest == 4 and got.derived == {0, 3, 4}
    # No spec holds every feature of the others, or nothing to derive: no atoms.
    assert atom_specs([_spec("hour"), _spec("day")]) is None
    assert atom_specs([_spec(), _spec("hour"), _spec("day")]) is None
    assert atom_specs([_spec("hour", "day")]) is None
    assert atom_specs([_spec(), _spec()]) is None


def _write(root, seed: int, extra: bool = False):
    """Two Parquet files. The first: every row has one hour and one day (atoms apply). The
    second: some rows lack a day, and in its last rows day is a list with two values for a
    few rows (those batches are added to every spec directly). extra: with a number (miles,
    some missing) and a category (payment)."""
    rng = np.random.default_rng(seed)
    paths = []
    for k in range(2):
        n = 3000
        hour = rng.integers(0, 6, n)
        day = [[int(d)] for d in rng.integers(0, 4, n)]
        if k == 1:
            for i in rng.choice(n // 2, 40, replace=False):
                day[i] = []
            for i in rng.choice(np.arange(n // 2, n), 40, replace=False):
                day[i] = [int(rng.integers(0, 4)), 4]
        p = np.round(rng.random(n), 3 if k == 0 else 12)  # ties, then continuous
        y = (rng.random(n) < p).astype(np.int64)
        w = rng.exponential(1.0, n)
        table = pa.table({"hour": hour, "day": pa.array(day, pa.list_(pa.int64())),
                          "label": y, "weight": w, "prediction": p,
                          "old_prediction": np.clip(p + rng.normal(0, 0.2, n), 0, 1)})
        if extra:
            miles = rng.lognormal(1, 1, n)
            table = table.append_column("miles", pa.array(miles, mask=rng.random(n) < 0.1))
            table = table.append_column("payment", pa.array(
                rng.choice(["cash", "card", "app"], n)))
        path = root / f"part-{k}.parquet"
        pq.write_table(table, path, row_group_size=1000)
        paths.append(str(path))
    return paths


def _records(result):
    return {(str(r["slice"]), r["model"]): r.get("metrics") for r in result.records}


ORDERS = {
    "derived first": [[], ["hour"], ["day"], {"day": 2}, ["day", "hour"]],
    # Slices that a spec with fixed values yields first are added to directly, never folded
    # into: (day 2) and (day 3, hour 1), a slice of the finest spec too.
    "fixed first": [{"day": 2}, {"hour": 1, "day": 3}, [], ["hour", "day"], ["day"], ["hour"]],
}


@pytest.mark.parametrize("order", sorted(ORDERS))
@pytest.mark.parametrize("num_buckets, pool_cap, weighted", [
    (10000, None, True), (60, None, True), (60, 7, True), (200, None, True), (60, 7, False),
    (200, None, False)])
def test_folded_atoms_give_the_results_of_every_spec_added(tmp_path, monkeypatch, num_buckets,
                                                            pool_cap, weighted, order):
    """With 60 buckets (the exact-score cap) some slices are bucketed, some not, and some
    atoms are while their coarser slices are too: the same records as without atoms. With a
    pool cap of 7 entries, the exact counts merge during the batches and during the fold.
    With 200, the atoms stay exact while the slices they make up are bucketed. Unweighted, the
    counts are whole (held narrow; a bucketed slice's exact atoms are summed over every chunk,
    then added once)."""
    if pool_cap is not None:
        from assay.metrics import binary_dense

        monkeypatch.setattr(binary_dense, "_POOL_CAP", pool_cap)
    paths = _write(tmp_path, seed=7)
    cfg = {"label": "label", "weight": "weight",
           "models": {"candidate": {"prediction": "prediction"},
                      "baseline": {"prediction": "old_prediction"}},
           "slices": ORDERS[order],
           "metrics": ["example_count", "auc", "auc_pr", "accuracy", "log_loss", "calibration",
                       "mean_prediction"],
           "batch_size": 500, "num_buckets": num_buckets}
    if not weighted:
        del cfg["weight"]
    folded = []
    fold = atoms.Atoms.fold

    def counting(self, *args, **kwargs):
        folded.append(len(self.images))
        return fold(self, *args, **kwargs)

    monkeypatch.setattr(atoms.Atoms, "fold", counting)
    with_atoms = _records(assay.evaluate(cfg, examples=paths, workers=1))
    assert folded and max(folded) == 24  # 6 hours x 4 days: the atoms were used
    monkeypatch.setattr(atoms.Atoms, "of", classmethod(lambda cls, specs: None))
    direct = _records(assay.evaluate(cfg, examples=paths, workers=1))
    assert with_atoms.keys() == direct.keys() and len(direct) > 60
    for key, metrics in direct.items():
        assert with_atoms[key].keys() == metrics.keys(), key
        for name, value in metrics.items():
            assert with_atoms[key][name] == pytest.approx(value, rel=1e-12, nan_ok=True), \
                (key, name)


@pytest.mark.parametrize("weighted", [True, False])
def test_a_derived_slice_against_scikit_learn(tmp_path, weighted):
    """[hour] slices, derived from [day, hour] atoms, against roc_auc_score on their rows."""
    paths = _write(tmp_path, seed=3)
    cfg = {"label": "label", "weight": "weight",
           "models": {"candidate": {"prediction": "prediction"}},
           "slices": [[], ["hour"], ["day", "hour"]], "metrics": ["example_count", "auc"]}
    if not weighted:
        del cfg["weight"]
    got = _records(assay.evaluate(cfg, examples=paths, workers=1))
    table = pa.concat_tables([pq.read_table(p) for p in paths])
    hour = table.column("hour").to_numpy()
    y, p = table.column("label").to_numpy(), table.column("prediction").to_numpy()
    w = table.column("weight").to_numpy() if weighted else np.ones(len(table))
    for h in range(6):
        rows = hour == h
        metrics = got[(str({"hour": h}), "candidate")]
        assert metrics["example_count"] == rows.sum()
        assert metrics["auc"] == pytest.approx(
            roc_auc_score(y[rows], p[rows], sample_weight=w[rows]), abs=1e-9)
    overall = got[(str({}), "candidate")]
    assert overall["auc"] == pytest.approx(roc_auc_score(y, p, sample_weight=w), abs=1e-9)


@pytest.mark.parametrize("order", sorted(ORDERS))
def test_drift_sketches_from_atoms_equal_every_spec_added(tmp_path, monkeypatch, order):
    """The drift extension's sketches (assay_sketches.json), with atoms and without: the
    same, for features with missing values and a categorical one, and batches that atoms do
    not serve (a missing or multi-valued day)."""
    from assay.drift import extension

    paths = _write(tmp_path, seed=11, extra=True)
    cfg = {"label": "label", "models": {"candidate": {"prediction": "prediction"}},
           "slices": ORDERS[order], "metrics": ["example_count"],
           "drift": {"features": ["hour", "day", "miles", "payment"]}, "batch_size": 500}
    folded = []
    fold = extension.DriftAccumulator.fold

    def counting(self):
        folded.append(len(self.atoms))
        return fold(self)

    monkeypatch.setattr(extension.DriftAccumulator, "fold", counting)
    with_atoms = assay.evaluate(cfg, examples=paths, workers=1).sketches
    assert max(folded) == 24  # the atoms were used
    monkeypatch.setattr(extension, "atom_specs", lambda specs: None)
    direct = assay.evaluate(cfg, examples=paths, workers=1).sketches
    assert len(direct["slices"]) > 30
    key = lambda s: json.dumps(s["slice"], sort_keys=True)  # noqa: E731
    assert sorted(with_atoms["slices"], key=key) == sorted(direct["slices"], key=key)
    assert {k: v for k, v in with_atoms.items() if k != "slices"} == \
        {k: v for k, v in direct.items() if k != "slices"}
