"""Quality over time (assay.history): the `history:` config, the alert rule against a hand
computation, series against the stored results, the regression budget against an anchor in a
real SQLite ML Metadata store (the budget refuses the fourth of four chained 0.8-point
regressions against a 0.02 budget), the report's section, both engines, the history JSON's
golden file.

The data: prediction columns whose accuracy is known exactly. With 1000 rows and scores of 0.9
(label 1) or 0.1 (label 0), every row is right at threshold 0.5; column p{k} turns the first
8k rows wrong, so its accuracy is 1 - 0.008 k.
"""

import json
import math
import os
import statistics
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import assay
from assay import mlmd
from assay.errors import ConfigError, ConfigTypeError
from assay.history import alerts, load_series
from assay.history.config import parse_history
from assay.history.thresholds import parse_threshold
from assay.report.history import section_html
from assay.results.result import load_result

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "golden", "history_series.json")
UPDATE = os.environ.get("ASSAY_UPDATE_GOLDEN") == "1"
N = 1000


# --------------------------------------------------------------------------------------------
# The config

def test_history_config_parses_and_writes_back():
    cfg = parse_history({"mlmd": "sqlite:md.db", "pipeline": "taxi", "results": ["a", "b"],
                         "window": 3, "k": 2, "rule": "interval", "metrics": ["auc"]})
    assert (cfg.mlmd, cfg.pipeline, cfg.results, cfg.window, cfg.k, cfg.rule, cfg.metrics) == \
        ("sqlite:md.db", "taxi", ("a", "b"), 3, 2.0, "interval", ("auc",))
    assert parse_history(cfg.to_config()) == cfg
    assert parse_history({}).results == ()        # an empty history: a first evaluation
    config = assay.load_config({"models": {"candidate": {"prediction": "p"}}, "label": "y",
                                "history": {"results": ["r1"]}})
    assert config.feature("history").results == ("r1",)


@pytest.mark.parametrize("raw, error, match", [
    ([], ConfigTypeError, r"'history' must be a mapping"),
    ({"windw": 3}, ConfigError, r"unknown key 'windw' in history; did you mean 'window'"),
    ({"window": 1}, ConfigError, r"'history.window' must be at least 2 .*got 1"),
    ({"k": 0}, ConfigError, r"'history.k' must be a positive number \(got 0\)"),
    ({"rule": "mad"}, ConfigError, r"'history.rule' must be one of sd, interval \(got 'mad'\)"),
    ({"mlmd": 3}, ConfigTypeError, r"'history.mlmd' must be a store URI"),
])
def test_history_config_errors(raw, error, match):
    with pytest.raises(error, match=match):
        parse_history(raw)


@pytest.mark.parametrize("item, match", [
    ({"metric": "auc", "max_regression_from": {"anchor": "first-blessed"}},
     r"'max_regression_from' needs 'value'"),
    ({"metric": "auc", "max_regression_from": {"anchor": 1.5, "value": 0.02}},
     r"'max_regression_from.anchor' must be first-blessed, latest-blessed, a Model artifact id "
     r"or a results directory \(got 1.5\)"),
    ({"metric": "my_score", "max_regression_from": {"value": 0.02}},
     r"the direction of 'my_score' is not known; add direction: higher"),
    ({"metric": "auc", "max_regression_from": {"value": {"relativ": 0.1}}},
     r"unknown key 'relativ' in max_regression_from.value; did you mean 'relative'"),
])
def test_budget_threshold_errors(item, match):
    with pytest.raises(ConfigError, match=match):
        parse_threshold(item)


# --------------------------------------------------------------------------------------------
# The alert rule, by hand

def _points(values, bounds=None):
    bounds = bounds or [(None, None)] * len(values)
    return [SimpleNamespace(value=v, lower=lo, upper=hi) for v, (lo, hi) in zip(values, bounds)]


def test_sd_band_is_mean_plus_minus_k_sample_sd_of_the_window():
    values = [0.50, 0.80, 0.82, 0.81, 0.79, 0.70]
    window = values[-5:-1][-3:]                    # the 3 values before the newest
    mean, sd = statistics.mean(window), statistics.stdev(window)
    band = alerts.band_of(_points(values), window=3, k=2.0, rule="sd")
    assert band.n == 3 and band.mean == pytest.approx(mean) and band.sd == pytest.approx(sd)
    assert (band.lower, band.upper) == (pytest.approx(mean - 2 * sd), pytest.approx(mean + 2 * sd))
    found = alerts.alert_for({}, "auc", _points(values), 3, 2.0, "sd")
    assert found.side == "below" and found.value == 0.70
    assert "auc on slice overall is 0.7, below the band" in found.message
    # Inside the band (mean + 1.9 sd): no alert; just outside (mean + 2.01 sd): above.
    assert alerts.alert_for({}, "auc", _points(values[:-1] + [mean + 1.9 * sd]), 3, 2.0,
                            "sd") is None
    assert alerts.alert_for({}, "auc", _points(values[:-1] + [mean + 2.01 * sd]), 3, 2.0,
                            "sd").side == "above"


def test_band_needs_two_earlier_values_and_skips_gaps():
    assert alerts.band_of(_points([0.8, 0.1]), 5, 3, "sd") is None
    # NaN and missing values are left out of the window (not zeros).
    band = alerts.band_of(_points([0.8, float("nan"), None, 0.82, 0.5]), 5, 3, "sd")
    assert band.n == 2 and band.mean == pytest.approx(0.81)
    assert alerts.alert_for({}, "auc", _points([0.8, 0.82, float("nan")]), 5, 3, "sd") is None


def test_interval_band_is_the_mean_interval_of_the_window():
    values = [0.80, 0.81, 0.79, 0.86]
    bounds = [(0.78, 0.82), (0.80, 0.83), (None, None), (0.84, 0.88)]
    band = alerts.band_of(_points(values, bounds), 5, 3, "interval")
    assert (band.lower, band.upper, band.n) == (pytest.approx(0.79), pytest.approx(0.825), 2)
    assert alerts.alert_for({"region": "n"}, "auc", _points(values, bounds), 5, 3,
                            "interval").side == "above"
    assert alerts.band_of(_points([0.8, 0.8]), 5, 3, "interval") is None


# --------------------------------------------------------------------------------------------
# Evaluations to chain

@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("history")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, N)
    right = np.where(y == 1, 0.9, 0.1)
    columns = {"label": y, "region": np.where(np.arange(N) % 2 == 0, "north", "south")}
    for k in range(5):
        p = right.copy()
        p[: 8 * k] = 1 - right[: 8 * k]
        columns[f"p{k}"] = p
    pd.DataFrame(columns).to_csv(root / "eval.csv", index=False)
    return root


def chain_config(k, store, anchor="first-blessed", extra=()):
    models = {"candidate": {"prediction": f"p{k}"}}
    if k:
        models["baseline"] = {"prediction": f"p{k - 1}"}
    return {"label": "label", "models": models, "slices": [[], ["region"]],
            "thresholds": [{"metric": "accuracy", "max_regression": 0.01},
                           {"metric": "accuracy",
                            "max_regression_from": {"anchor": anchor, "value": 0.02}},
                           *extra],
            "history": {"mlmd": store, "pipeline": "chain"}}


@pytest.fixture(scope="module")
def chain(data):
    """Four evaluations, each recorded in a SQLite ML Metadata store: accuracy 1, 0.992,
    0.984, 0.976; each run's baseline is its predecessor. Returns (results, store URI)."""
    store = f"sqlite:{data / 'metadata.sqlite'}"
    results = []
    for k in range(4):
        result = assay.evaluate(chain_config(k, store), str(data / "eval.csv"),
                                str(data / f"run{k}"))
        mlmd.record_evaluation(mlmd.connect(store), result, examples=[str(data / "eval.csv")],
                               model=str(data / f"models/m{k}"), pipeline="chain")
        results.append(result)
    return results, store


def _stored(path, metric, slice_=None):
    doc = json.loads((path / "assay_metrics.json").read_text())
    return next(r["metrics"][metric] for r in doc["records"]
                if r["model"] == "candidate" and r["slice"] == (slice_ or {}))


def test_budget_refuses_the_fourth_of_four_chained_regressions(chain, data):
    results, _ = chain
    anchor = _stored(data / "run0", "accuracy")
    assert anchor == 1.0
    outcomes = [r.validation["outcome"] for r in results]
    assert outcomes == ["FIRST_MODEL_BLESSED", "BLESSED", "BLESSED", "NOT_BLESSED"]
    budget = [[c for c in r.validation["checks"]
               if c["kind"] == "max_regression_from_absolute"][0] for r in results]
    assert budget[0]["status"] == "skipped"
    assert "no earlier evaluation is blessed" in budget[0]["reason"]
    for k in (1, 2, 3):   # the anchor's value is the check's baseline, from run0's results
        assert budget[k]["baseline"] == anchor
        assert budget[k]["candidate"] == pytest.approx(_stored(data / f"run{k}", "accuracy"))
        assert budget[k]["change"] == pytest.approx(-0.008 * k)
    assert [b["status"] for b in budget[1:]] == ["pass", "pass", "fail"]
    # Each step alone was allowed: the fourth fails only on the budget.
    steps = [c for c in results[3].validation["checks"] if c["kind"] != budget[3]["kind"]]
    assert steps and all(c["status"] == "pass" for c in steps)
    assert results[3].validation["reasons"] == [
        "accuracy (overall) regressed by 0.024 from the anchor (first-blessed: evaluation "
        f"{results[3].info['history']['anchors']['first-blessed']['label'].split()[-1]}) "
        "(1 -> 0.976), beyond the regression budget 0.02"]


def test_anchor_by_model_id_directory_and_missing(chain, data):
    _, store = chain
    from assay.mlmd.query import evaluation_history

    entries = evaluation_history(mlmd.connect(store), "chain")
    assert [e.uri for e in entries] == [str(data / f"run{k}") for k in range(4)]
    assert [e.blessed for e in entries] == [True, True, True, False]
    m1 = entries[1].model_id
    assert entries[1].model_uri == str(data / "models/m1")
    config = chain_config(4, store, anchor=m1)    # p4 against m1 (0.992): 0.032 - 0.008
    found = assay.evaluate(config, str(data / "eval.csv"))
    check = [c for c in found.validation["checks"] if c["kind"].startswith("max_regression_from")]
    assert check[0]["baseline"] == _stored(data / "run1", "accuracy")
    assert check[0]["status"] == "fail" and check[0]["change"] == pytest.approx(-0.024)
    by_dir = assay.evaluate(chain_config(4, store, anchor=str(data / "run2")),
                            str(data / "eval.csv"))
    check = [c for c in by_dir.validation["checks"] if c["kind"].startswith("max_regression_from")]
    assert check[0]["status"] == "pass" and check[0]["baseline"] == pytest.approx(0.984)
    missing = assay.evaluate(chain_config(4, store, anchor=999), str(data / "eval.csv"))
    assert "no evaluation in the history has Model artifact 999 as its candidate" in \
        " ".join(missing.validation["reasons"])
    no_dir = assay.evaluate(chain_config(4, store, anchor=str(data / "nowhere")),
                            str(data / "eval.csv"))
    assert f"the anchor '{data / 'nowhere'}' of max_regression_from cannot be read" in \
        " ".join(no_dir.validation["reasons"])


def test_blessed_anchor_needs_a_history(data):
    config = chain_config(1, None)
    del config["history"]
    found = assay.evaluate(config, str(data / "eval.csv"))
    assert not found.blessed
    assert "anchor first-blessed needs the config's `history:`" in \
        " ".join(found.validation["reasons"])


# --------------------------------------------------------------------------------------------
# Series, against the stored results

def test_series_from_ml_metadata_and_directories_match_the_stored_values(chain, data):
    _, store = chain
    from_store = load_series(mlmd=store, pipeline="chain")
    from_dirs = load_series(results=[str(data / f"run{k}") for k in range(4)])
    for series in (from_store, from_dirs):
        assert series.values("accuracy") == [_stored(data / f"run{k}", "accuracy")
                                             for k in range(4)]
        south = {"region": "south"}
        assert series.values("auc", south) == [_stored(data / f"run{k}", "auc", south)
                                               for k in range(4)]
        assert [e.blessed for e in series.evaluations] == [True, True, True, False]
    assert [e.path for e in from_store.evaluations] == [str(data / f"run{k}") for k in range(4)]
    assert from_store.evaluations[0].time is not None and from_dirs.evaluations[0].time is None
    assert from_store.evaluations[2].model == str(data / "models/m2")


def test_series_carry_the_intervals(data, tmp_path):
    config = {"label": "label", "models": {"candidate": {"prediction": "p1"}},
              "confidence": {"replicates": 20}}
    assay.evaluate(config, str(data / "eval.csv"), str(tmp_path / "ci"))
    series = load_series(results=[str(tmp_path / "ci")], metrics=["auc"])
    doc = json.loads((tmp_path / "ci" / "assay_metrics.json").read_text())
    stored = next(r for r in doc["records"] if r["model"] == "candidate" and not r["slice"])
    point = series.points("auc")[0]
    assert (point.value, point.lower, point.upper) == (
        stored["metrics"]["auc"], stored["intervals"]["auc"]["lower"],
        stored["intervals"]["auc"]["upper"])


def test_history_section_and_its_alert(chain, data):
    results, _ = chain
    section = results[3].info["history"]
    assert [e["path"] for e in section["evaluations"]] == [str(data / f"run{k}")
                                                           for k in range(3)]
    line = next(s for s in section["series"] if s["metric"] == "accuracy")
    assert [p["value"] for p in line["points"]] == pytest.approx([1, 0.992, 0.984, 0.976])
    # Earlier values 1, 0.992, 0.984: mean 0.992, sd 0.008; 0.976 is at mean - 2 sd.
    assert line["band"]["mean"] == pytest.approx(0.992)
    assert line["band"]["sd"] == pytest.approx(statistics.stdev([1, 0.992, 0.984]))
    assert section["alerts"] == []


def test_report_section_draws_series_band_anchor_and_alerts(chain):
    results, _ = chain
    page = section_html(results[3])
    assert "Quality over time" in page and page.count("<svg") == 1
    assert 'class="ar-history-anchor"' in page and "anchor: 1" in page
    assert page.count("<circle") == 4 and "No alerts." in page
    info = dict(results[3].info)
    info["history"] = dict(info["history"], alerts=[{"message": "auc <b>fell</b>"}])
    page = section_html(SimpleNamespace(info=info))
    assert "ALERT: auc &lt;b&gt;fell&lt;/b&gt;" in page
    assert section_html(SimpleNamespace(info={})) is None
    from assay.report.html import render_report

    assert "Quality over time" in render_report(results[3])


def test_engines_agree_on_the_history_section(chain, data):
    _, store = chain
    config = chain_config(2, store)
    local = assay.evaluate(config, str(data / "eval.csv"))
    beam = assay.evaluate(config, str(data / "eval.csv"), engine="beam")
    assert json.dumps(local.info["history"], sort_keys=True) == \
        json.dumps(beam.info["history"], sort_keys=True)
    assert local.validation["checks"] == beam.validation["checks"]


def _portable(doc, root):
    """The document with the test's temporary directory written as ROOT."""
    return json.loads(json.dumps(doc).replace(str(root), "ROOT"))


def test_history_json_matches_the_golden_file(chain, data):
    series = load_series(results=[str(data / f"run{k}") for k in range(4)],
                         metrics=["accuracy", "example_count"], window=2, k=1,
                         overall_only=True)
    doc = _portable(series.to_dict(), data)
    # accuracy 1, 0.992, 0.984, 0.976: the band of the last two is 0.988 +- 0.00566, so the
    # newest alerts; example_count is constant (sd 0): it does not.
    assert [a["metric"] for a in doc["alerts"]] == ["accuracy"]
    if UPDATE:
        with open(GOLDEN, "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
            f.write("\n")
    with open(GOLDEN) as f:
        assert doc == json.load(f)


def test_budget_relative_and_lower_is_better_by_hand():
    doc = {"records": [{"slice": {}, "model": "candidate", "metrics": {"log_loss": 0.33}}],
           "history": {"anchors": {"runs/a": {"label": "runs/a", "values": {"log_loss": 0.30}}}}}
    t = parse_threshold({"metric": "log_loss", "max_regression_from": {
        "anchor": "runs/a", "value": {"relative": 0.05, "absolute": 0.04}}})
    relative, absolute = sorted(t.checks(doc), key=lambda c: c.kind, reverse=True)
    # log_loss: lower is better, so 0.30 -> 0.33 is a 0.03 (10%) regression.
    assert relative.kind == "max_regression_from_relative" and relative.status == "fail"
    assert relative.change == pytest.approx(0.1)
    assert "regressed by 10% from the anchor (runs/a: runs/a) (0.3 -> 0.33), beyond the " \
           "regression budget 5%" in relative.reason
    assert absolute.status == "pass" and absolute.change == pytest.approx(0.03)
    assert parse_threshold({"metric": "log_loss", "max_regression_from": {
        "anchor": "runs/a", "value": 0.01}}).checks({"records": []})[0].reason.endswith(
        "the metrics hold no `history` section (evaluate with this threshold in the config "
        "to read the anchor)")
