"""Slices withheld by min_slice_size: their records hold the reason and the example count, as
always, and nothing else is computed for them (issue 12: a high-cardinality slice feature spent
most of a run computing metrics and plots that were then thrown away)."""

import functools
import json
import math
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import assay
from assay.engine import passes
from assay.engine.assemble import assemble, withheld_reason

MIN_SIZE = 30
BIG = {0: 100, 1: 60, 2: 30, 3: 45}  # value of g -> rows: kept (30 is not fewer than 30)
SMALL = 200  # values of g with 1 to 29 rows each: withheld


@pytest.fixture(params=["local", "beam"])
def evaluate(request):
    """assay.evaluate on one engine (the local one with two worker processes)."""
    if request.param == "local":
        return functools.partial(assay.evaluate, engine="local", workers=2, write_report=False)
    return functools.partial(assay.evaluate, engine="beam", write_report=False)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Three Parquet shards; each slice's rows spread over them (so slices are merged)."""
    rng = np.random.default_rng(3)
    g = [v for v, n in BIG.items() for _ in range(n)]
    g += [100 + i for i in range(SMALL) for _ in range(1 + i % 29)]
    g = np.array(g)
    n = len(g)
    y = rng.integers(0, 2, n)
    p = np.clip(0.4 * y + 0.6 * rng.random(n), 0, 1).round(3)
    old = np.clip(0.2 * y + 0.8 * rng.random(n), 0, 1).round(3)
    order = rng.permutation(n)
    root = tmp_path_factory.mktemp("withheld")
    paths = []
    for i, part in enumerate(np.array_split(order, 3)):
        path = str(root / f"part-{i}.parquet")
        pq.write_table(pa.table({"g": g[part], "y": y[part], "p": p[part], "old": old[part]}),
                       path)
        paths.append(path)
    return paths


def _config(min_slice_size, **extra):
    return dict({"label": "y", "task": "binary",
                 "models": {"candidate": {"prediction": "p"}, "baseline": {"prediction": "old"}},
                 "slices": [[], ["g"]], "min_slice_size": min_slice_size}, **extra)


def _same(a, b):
    """Equal JSON-like values, floats up to 1e-9 (the Beam engine may merge in another order),
    NaN equal to NaN."""
    if isinstance(a, float) or isinstance(b, float):
        return (isinstance(a, (int, float)) and isinstance(b, (int, float))
                and (math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
                     or (math.isnan(a) and math.isnan(b))))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    return a == b


def _withheld_as_today(full_records):
    """The records of a run with min_slice_size MIN_SIZE, made from those of a run that withheld
    nothing: a slice below MIN_SIZE (the candidate's count) keeps its reason and count only."""
    counts = {json.dumps(r["slice"], sort_keys=True): int(r["metrics"]["example_count"])
              for r in full_records if r["model"] == "candidate"}
    out = []
    for r in full_records:
        count = counts[json.dumps(r["slice"], sort_keys=True)]
        if r["slice"] and count < MIN_SIZE:
            r = {"slice": r["slice"], "model": r["model"],
                 "withheld": withheld_reason(count, MIN_SIZE), "example_count": count}
        out.append(r)
    return out


def test_withheld_records_equal_those_filtered_from_a_full_run(evaluate, data, tmp_path):
    full = evaluate(_config(1), data, str(tmp_path / "full"))
    cut = evaluate(_config(MIN_SIZE), data, str(tmp_path / "cut"))
    assert not any("withheld" in r for r in full.records)
    expected = _withheld_as_today(full.records)
    assert len(cut.records) == len(expected) == 3 * (1 + len(BIG) + SMALL)
    assert sum("withheld" in r for r in cut.records) == 3 * SMALL
    for got, want in zip(cut.records, expected):
        assert _same(got, want), (got, want)
    # The plots of the kept slices only, the same as in the full run.
    plots = lambda out: json.load(  # noqa: E731
        open(os.path.join(out, "assay_plots.json")))["records"]
    kept = {json.dumps(r["slice"], sort_keys=True) for r in cut.records if "metrics" in r}
    full_plots = [r for r in plots(str(tmp_path / "full"))
                  if json.dumps(r["slice"], sort_keys=True) in kept]
    cut_plots = plots(str(tmp_path / "cut"))
    assert len(cut_plots) == 2 * (1 + len(BIG)) and _same(cut_plots, full_plots)


class CountingMetric(assay.Metric):
    """Counts the examples of a slice; appends a line to the file `log` on each result() and
    plots() call (a file: the local engine's workers are forked processes)."""

    name = "counting"
    directions = {"counted": None}

    def __init__(self, log):
        self.log = log

    def create(self):
        return 0

    def add(self, acc, batch):
        return acc + len(batch)

    def merge(self, accs):
        return sum(accs)

    def _note(self, what, acc):
        with open(self.log, "a", encoding="ascii") as f:
            f.write(f"{what} {acc}\n")

    def result(self, acc):
        self._note("result", acc)
        return {"counted": float(acc)}

    def plots(self, acc):
        self._note("plots", acc)
        return {}


def test_no_metric_or_plot_is_computed_for_a_withheld_slice(evaluate, data, tmp_path):
    log = tmp_path / "calls.txt"
    cfg = _config(MIN_SIZE, custom_metrics=[{"class": "test_withheld:CountingMetric",
                                             "log": str(log)}])
    result = evaluate(cfg, data, str(tmp_path / "out"), allow_custom_code=["test_withheld"])
    calls = log.read_text().split()
    kept = 1 + len(BIG)  # the overall slice and the big ones, each for two models
    assert sorted(calls[0::2]) == ["plots"] * 2 * kept + ["result"] * 2 * kept
    assert min(int(c) for c in calls[1::2]) >= MIN_SIZE
    withheld = [r for r in result.records if "withheld" in r]
    assert len(withheld) == 3 * SMALL
    assert {r["example_count"] for r in withheld} == set(range(1, 30))
    assert result.metrics({"g": 2}, "candidate")["counted"] == 30.0


def test_slice_result_gives_the_count_alone_below_min_slice_size():
    from assay.metrics.binary import BinaryMetrics
    from assay.metrics.batch import ModelBatch

    fam = BinaryMetrics()
    batch = ModelBatch(np.array([0., 1., 1.]), np.array([.2, .7, .4]), np.ones(3))
    accs = {"candidate": [fam.add(fam.create(), batch)]}
    key = (("g", 1),)
    assert passes.example_count([fam], accs) == 3
    assert passes.slice_result([fam], key, accs, 4) == 3
    assert passes.slice_result([fam], (), accs, 4)["candidate"]["metrics"]["example_count"] == 3
    full = passes.slice_result([fam], key, accs, 3)
    assert full["candidate"]["metrics"]["example_count"] == 3
    # assemble gives the same records from the count alone as from the computed metrics.
    computed = passes.compute_slice([fam], accs)
    assert assemble([(key, 3)], [["g"]], ["candidate"], 4) == \
        assemble([(key, computed)], [["g"]], ["candidate"], 4)
    with pytest.raises(ValueError, match="without metrics"):
        assemble([(key, 3)], [["g"]], ["candidate"], 3)
