"""`EvalResult.to_dataframe()` (assay.results.frame): one row per (slice, model, metric), checked
against the records by hand and, end to end, against scikit-learn on each slice's rows."""

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import assay
from assay.results.result import EvalResult


def _doc(records):
    return {"version": 2, "task": "binary", "records": records}


RECORDS = [
    {"slice": {}, "model": "candidate", "metrics": {"auc": 0.9, "example_count": 10},
     "intervals": {"auc": {"lower": 0.8, "upper": 0.95, "stderr": 0.04}}},
    {"slice": {}, "model": "diff", "metrics": {"auc": 0.01, "example_count": 0}},
    {"slice": {"hour": 3}, "model": "candidate", "metrics": {"auc": None, "example_count": 4}},
    {"slice": {"hour": 5}, "model": "candidate", "withheld": "withheld: 2 examples",
     "example_count": 2},
    {"slice": {"hour": 3, "model": "b"}, "model": "candidate",
     "metrics": {"auc": 0.7, "example_count": 3}},
]


def test_the_frame_has_a_row_per_slice_model_and_metric_with_bounds():
    frame = EvalResult(_doc(RECORDS)).to_dataframe()
    assert list(frame.columns) == ["hour", "slice_model", "slice", "model", "metric", "value",
                                   "lower", "upper"]
    # 2 metrics in each of the 4 records with metrics; the withheld slice gives no row.
    assert len(frame) == 8
    rows = {(r.slice, r.model, r.metric): r for r in frame.itertuples()}
    auc = rows[("overall", "candidate", "auc")]
    assert (auc.value, auc.lower, auc.upper) == (0.9, 0.8, 0.95)
    assert auc.hour is None and auc.slice_model is None
    assert math.isnan(rows[("overall", "diff", "auc")].lower)  # no interval for that record
    assert math.isnan(rows[("hour=3", "candidate", "auc")].value)  # null -> NaN
    both = rows[("hour=3, model=b", "candidate", "auc")]
    assert (both.hour, both.slice_model, both.value) == (3, "b", 0.7)
    assert frame["value"].dtype == np.float64


def test_without_intervals_there_are_no_bound_columns():
    records = [{k: v for k, v in r.items() if k != "intervals"} for r in RECORDS[:3]]
    frame = EvalResult(_doc(records)).to_dataframe()
    assert list(frame.columns) == ["hour", "slice", "model", "metric", "value"]
    expected = [(None, "overall", "candidate", "auc", 0.9),
                (None, "overall", "candidate", "example_count", 10),
                (None, "overall", "diff", "auc", 0.01),
                (None, "overall", "diff", "example_count", 0),
                (3, "hour=3", "candidate", "auc", "nan"),
                (3, "hour=3", "candidate", "example_count", 4)]
    got = [tuple("nan" if isinstance(v, float) and math.isnan(v) else v for v in row)
           for row in frame.itertuples(index=False)]
    assert got == expected


def test_an_empty_result_gives_an_empty_frame_with_the_fixed_columns():
    frame = EvalResult(_doc([])).to_dataframe()
    assert list(frame.columns) == ["slice", "model", "metric", "value"] and frame.empty


@pytest.fixture(scope="module")
def evaluated():
    rng = np.random.default_rng(5)
    n = 800
    y = rng.integers(0, 2, n)
    df = pd.DataFrame({"y": y, "p": np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1),
                       "q": rng.random(n), "hour": rng.integers(0, 3, n),
                       "region": rng.choice(["north", "south"], n)})
    config = {"label": "y", "models": {"candidate": {"prediction": "p"},
                                       "baseline": {"prediction": "q"}},
              "slices": [[], ["hour"], ["hour", "region"]]}
    return df, assay.evaluate(config, df)


def test_each_rows_value_is_the_metric_on_that_slices_rows(evaluated):
    df, result = evaluated
    frame = result.to_dataframe()
    assert list(frame.columns)[:2] == ["hour", "region"]
    auc = frame[frame.metric == "auc"]
    checked = 0
    for row in auc.itertuples():
        rows = df
        if row.hour is not None:
            rows = rows[rows.hour == row.hour]
        if row.region is not None:
            rows = rows[rows.region == row.region]
        cand, base = roc_auc_score(rows.y, rows.p), roc_auc_score(rows.y, rows.q)
        expected = {"candidate": cand, "baseline": base, "diff": cand - base}[row.model]
        assert row.value == pytest.approx(expected, abs=2e-3), row
        checked += 1
    # 1 + 3 + 6 slices, three models each
    assert checked == 30
    # The frame agrees with the result's own look-ups.
    one = auc[(auc.hour == 2) & (auc.region == "south") & (auc.model == "candidate")]
    assert one.value.item() == result.metrics({"hour": 2, "region": "south"})["auc"]
    assert one.slice.item() == "hour=2, region=south"
