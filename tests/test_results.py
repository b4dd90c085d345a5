"""The results format: EvalResult lookups, the records `assemble` builds, staged publishing."""

from __future__ import annotations

import json
import math
import os

import pytest

from assay.engine.assemble import _sort_value, assemble, diff_metrics, withheld_reason
from assay.results.publish import StagedOutput
from assay.results.result import EvalResult, load_result


def _per_model(n, auc):
    return {"candidate": {"metrics": {"example_count": n, "auc": auc}, "plots": {"p": [n]}},
            "baseline": {"metrics": {"example_count": n, "auc": auc - 0.1}, "plots": {}}}


def test_lookups_match_slice_values_as_validation_does():
    result = EvalResult({"records": [
        {"slice": {}, "model": "candidate", "metrics": {"auc": 0.8}},
        {"slice": {"hour": 3, "day": "mon"}, "model": "candidate", "metrics": {"auc": 0.7}},
        {"slice": {"hour": 3, "day": "mon"}, "model": "diff", "metrics": {"auc": 0.01}}]},
        {"records": [{"slice": {"hour": 3, "day": "mon"}, "model": "candidate",
                      "plots": {"roc_curve": {}}}]})
    for wanted in ({"hour": 3, "day": "mon"}, {"day": "mon", "hour": "3"},
                   {"hour": 3.0, "day": "mon"}):
        assert result.metrics(wanted) == {"auc": 0.7}
        assert result.metrics(wanted, "diff") == {"auc": 0.01}
        assert result.plots(wanted) == {"roc_curve": {}}
    assert result.metrics() == result.metrics({}) == {"auc": 0.8}
    assert result.slices() == [{}, {"hour": 3, "day": "mon"}]
    with pytest.raises(KeyError, match=r"no record for slice \{'hour': 4\} and model"):
        result.metrics({"hour": 4})
    with pytest.raises(KeyError, match="no plots for slice"):
        result.plots({})


def test_withheld_records_carry_their_example_count():
    records, plots = assemble([((("store", "a"),), _per_model(7, 0.9)), ((), _per_model(90, 0.8))],
                              [[], ["store"]], ["candidate", "baseline"], min_slice_size=10)
    assert [(r["slice"], r["model"]) for r in records] == [
        ({}, "candidate"), ({}, "baseline"), ({}, "diff"),
        ({"store": "a"}, "candidate"), ({"store": "a"}, "baseline"), ({"store": "a"}, "diff")]
    why = "withheld: 7 examples, fewer than min_slice_size 10"
    assert withheld_reason(7, 10) == why
    assert records[3:] == [{"slice": {"store": "a"}, "model": m, "withheld": why,
                            "example_count": 7} for m in ("candidate", "baseline", "diff")]
    assert records[2]["metrics"] == {"example_count": 0, "auc": pytest.approx(0.1)}
    assert plots == [{"slice": {}, "model": "candidate", "plots": {"p": [90]}}]
    result = EvalResult({"records": records})
    with pytest.raises(KeyError, match="was withheld: withheld: 7 examples"):
        result.metrics({"store": "a"})


def test_assemble_writes_integer_counts_and_the_reason_of_each_undefined_value():
    nan = float("nan")
    per_model = {
        "candidate": {"metrics": {"example_count": 8.0, "weighted_example_count": 7.5,
                                  "tp@0.5": 0.0, "fp@0.5": 0.0, "fn@0.5": 3.0, "tn@0.5": 5.0,
                                  "precision": nan, "recall": 0.0}, "plots": {}},
        "baseline": {"metrics": {"example_count": 8.0, "weighted_example_count": 7.5,
                                 "tp@0.5": 2.0, "fp@0.5": 1.0, "fn@0.5": 1.0, "tn@0.5": 4.0,
                                 "precision": 2 / 3, "recall": 2 / 3}, "plots": {}}}
    records, _ = assemble([((), per_model)], [[]], ["candidate", "baseline"], min_slice_size=1)
    cand, base, diff = records
    # Counts: ints where whole (8, 0, 3, 5); the fractional weighted count stays a float.
    assert [type(cand["metrics"][k]) for k in ("example_count", "tp@0.5", "fn@0.5")] == [int] * 3
    assert cand["metrics"]["weighted_example_count"] == 7.5
    assert type(base["metrics"]["precision"]) is float
    # NaN stays NaN in memory (validation reads it); "undefined" says why.
    assert math.isnan(cand["metrics"]["precision"]) and "undefined" not in base
    assert cand["undefined"] == {"precision": "no predicted positives (no prediction above 0.5)"}
    assert diff["undefined"] == {"precision": "the candidate's precision is undefined: no "
                                              "predicted positives (no prediction above 0.5)"}
    assert diff["metrics"]["example_count"] == 0 and type(diff["metrics"]["tp@0.5"]) is int


def test_slices_are_ordered_by_spec_then_value():
    values = ["b", "[5, 10)", 10, "(-inf, 1)", "a", 2, True, "[1, 5)", 2.5]
    assert sorted(values, key=_sort_value) == [True, 2, 2.5, 10, "(-inf, 1)", "[1, 5)",
                                               "[5, 10)", "a", "b"]
    results = [(((("day", d),)), _per_model(50, 0.8)) for d in (10, 2, 1)]
    results.append(((("pay", "cash"),), _per_model(50, 0.8)))
    records, _ = assemble(results, [["pay"], ["day"]], ["candidate"], min_slice_size=1)
    assert [r["slice"] for r in records] == [{"pay": "cash"}, {"day": 1}, {"day": 2},
                                             {"day": 10}]


def test_diff_metrics_subtracts_shared_numbers_only():
    assert diff_metrics({"a": 3.0, "b": 1, "c": "x", "d": True, "e": 1.0},
                        {"a": 1.0, "b": 0.5, "c": "y", "d": False}) == {"a": 2.0, "b": 0.5}


def test_staged_output_replaces_the_directory_only_on_commit(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with StagedOutput(str(out)) as staged:
        staged.write_json("assay_metrics.json", {"version": 1, "records": [{"x": float("nan")}]})
        # Written strict (RFC 8259): NaN as null.
        assert json.loads(open(os.path.join(staged.path, "assay_metrics.json")).read(),
                          parse_constant=lambda c: 1 / 0) == {"version": 1,
                                                              "records": [{"x": None}]}
    assert sorted(os.listdir(tmp_path)) == ["out"] and (out / "old.txt").exists()
    with StagedOutput(str(out)) as staged:
        staged.write_json("assay_metrics.json", {"version": 1, "task": "binary", "records": []})
        staged.commit()
    assert sorted(os.listdir(tmp_path)) == ["out"]
    assert sorted(os.listdir(out)) == ["assay_metrics.json"]
    assert json.loads((out / "assay_metrics.json").read_text()) == {
        "version": 1, "task": "binary", "records": []}
    assert load_result(str(out)).task == "binary"


def test_load_result_reads_results_written_before_the_assay_prefix(tmp_path):
    # Results of earlier versions named the files metrics.json and plots.json.
    record = {"slice": {}, "model": "candidate", "metrics": {"auc": 0.75}}
    (tmp_path / "metrics.json").write_text(json.dumps(
        {"version": 1, "task": "binary", "records": [record]}))
    (tmp_path / "plots.json").write_text(json.dumps(
        {"records": [{"slice": {}, "model": "candidate", "plots": {"roc_curve": [1]}}]}))
    result = load_result(str(tmp_path))
    assert result.metrics()["auc"] == 0.75 and result.plots()["roc_curve"] == [1]
    # Where both are present (a new run in an old directory), the new names win.
    (tmp_path / "assay_metrics.json").write_text(json.dumps(
        {"version": 1, "task": "binary", "records": [dict(record, metrics={"auc": 0.5})]}))
    assert load_result(str(tmp_path)).metrics()["auc"] == 0.5


def test_load_result_refuses_other_versions(tmp_path):
    (tmp_path / "assay_metrics.json").write_text('{"version": 7, "records": []}')
    with pytest.raises(ValueError, match="has format version 7; this assay reads versions 1, 2"):
        load_result(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="holds no assay results"):
        load_result(str(tmp_path / "none"))
