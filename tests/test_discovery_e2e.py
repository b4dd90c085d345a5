"""Weak-slice discovery through every entry point: assay.evaluate on the local engine and on
Beam (the same section), the CLI, the TFX executor; the gate refusing a planted regression; the
section's format (golden file tests/golden/discovered.json).

The data: prediction columns with a planted weak slice (region=north & segment=b, where the
candidate is right on 50% of the examples and the baseline on 90%), written as two CSV files
(two shards: the split and the merge must not depend on them).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

import assay
from assay import cli
from test_discovery_pass import planted
from test_formats import check_golden

PLANTED = {"region": "north", "segment": "b"}
CONFIG = {"label": "y", "models": {"candidate": {"prediction": "p"},
                                   "baseline": {"prediction": "b"}},
          "slices": [[]],
          "discover": {"features": ["region", "segment", {"feature": "amount", "quantiles": 3}],
                       "max_features": 2, "min_size": 60, "top": 5, "error": "regression"},
          "thresholds": [{"discovered": "regression", "max_regression": 0.02}]}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("discovery")
    cols = planted(3000, seed=5)
    frame = pd.DataFrame({k: cols[k] for k in ("region", "segment", "amount", "y", "p", "b")})
    os.makedirs(root / "eval")
    frame.iloc[:1700].to_csv(root / "eval" / "part-0.csv", index=False)
    frame.iloc[1700:].to_csv(root / "eval" / "part-1.csv", index=False)
    with open(root / "config.json", "w") as f:
        json.dump(CONFIG, f)
    return root


@pytest.fixture(scope="module")
def local(data):
    return assay.evaluate(CONFIG, str(data / "eval"), str(data / "local"), engine="local",
                          workers=2)


def test_local_pass_finds_and_gates_the_planted_regression(local):
    section = local.info["discovered"]
    confirmed = [s for s in section["slices"] if s["confirmed"]]
    assert PLANTED in [s["slice"] for s in confirmed]
    assert section["examples"] == 3000 and section["settings"]["loss"] == "log_loss"
    verdict = local.validation
    assert not verdict["blessed"]
    assert any(r.startswith("discovered slice region=north, segment=b (size ")
               and "above max_regression 0.02" in r for r in verdict["reasons"])
    planted_slice = next(s for s in confirmed if s["slice"] == PLANTED)
    m = planted_slice["metrics"]
    assert m["candidate"]["accuracy"] < m["baseline"]["accuracy"]  # what the plant did


def test_beam_engine_gives_the_same_section(local, data):
    beam = assay.evaluate(CONFIG, str(data / "eval"), str(data / "beam"), engine="beam")
    a, b = local.info["discovered"], beam.info["discovered"]
    assert [s["slice"] for s in a["slices"]] == [s["slice"] for s in b["slices"]]
    for x, y in zip(a["slices"], b["slices"]):
        assert x["size"] == y["size"] and x["confirmed"] == y["confirmed"]
        for key in ("error", "rest_error", "effect", "p_value", "q_value", "score"):
            assert x[key] == pytest.approx(y[key], rel=1e-9, abs=1e-12), key
    assert beam.validation["reasons"] == local.validation["reasons"]


def test_section_is_written_and_matches_its_golden_file(local, data):
    with open(data / "local" / "assay_metrics.json") as f:
        written = json.load(f)["discovered"]
    assert written == json.loads(json.dumps(local.info["discovered"]))
    check_golden("discovered.json", written, data)


def test_report_shows_the_discovered_slices(local, data):
    page = (data / "local" / "report.html").read_text()
    assert "Discovered weak slices" in page
    assert "region = north, segment = b" in page and 'href="#ar-discovered-0"' in page


def test_cli_writes_the_same_section(local, data, tmp_path):
    code = cli.main(["evaluate", "--config", str(data / "config.json"), "--examples",
                     str(data / "eval"), "--output", str(tmp_path / "out")])
    assert code == 0  # not blessed, but the CLI only fails on it when asked
    with open(tmp_path / "out" / "assay_metrics.json") as f:
        section = json.load(f)["discovered"]
    assert section == json.loads(json.dumps(local.info["discovered"]))


def test_tfx_executor_runs_discovery_and_writes_not_blessed(local, data, tmp_path):
    from tfx.types import standard_artifacts
    from tfx.dsl.components.base import base_beam_executor

    from assay.tfx.executor import Executor
    from tfx_artifacts import artifact, executor_outputs

    examples = artifact(standard_artifacts.Examples, tmp_path, "examples",
                        split_names=json.dumps(["eval"]))
    os.symlink(data / "eval", os.path.join(examples.uri, "Split-eval"))
    model = artifact(standard_artifacts.Model, tmp_path, "model")
    outputs = executor_outputs(tmp_path)
    props = {"config": json.dumps(CONFIG), "eval_config": None,
             "example_splits": json.dumps(["eval"])}
    Executor(base_beam_executor.BaseBeamExecutor.Context()).Do(
        {"examples": [examples], "model": [model]}, outputs, props)
    assert os.listdir(outputs["blessing"][0].uri) == ["NOT_BLESSED"]
    result = assay.load_result(outputs["evaluation"][0].uri)
    found = result.info["discovered"]
    assert [s["slice"] for s in found["slices"]] == \
        [s["slice"] for s in local.info["discovered"]["slices"]]


def test_a_missing_feature_is_a_config_error_naming_it(data):
    bad = dict(CONFIG, discover={"features": ["regoin"]})
    with pytest.raises(assay.ConfigError, match=r"'discover.features' names 'regoin', which is "
                                                r"not a column of the examples; they have: "
                                                r"amount, b, p, region, segment, y"):
        assay.evaluate(bad, str(data / "eval"), engine="local", workers=1)


def test_regression_without_a_baseline_follows_first_model(data):
    alone = dict(CONFIG, models={"candidate": {"prediction": "p"}})
    result = assay.evaluate(alone, str(data / "eval"), engine="local", workers=1)
    assert result.info["discovered"]["unavailable"].endswith("no baseline model was evaluated")
    [check] = result.validation["checks"]
    assert check["status"] == "skipped"
    assert result.validation["blessed"]  # first_model: bless (the default), as without baseline


def test_without_discover_there_is_no_section(data):
    plain = {k: v for k, v in CONFIG.items() if k not in ("discover", "thresholds")}
    result = assay.evaluate(plain, str(data / "eval"), engine="local", workers=1)
    assert "discovered" not in result.info
    assert np.isfinite(result.metrics()["auc"])


def _frame(n=2400, seed=11):
    rng = np.random.default_rng(seed)
    g = rng.choice(["a", "b", "c"], n)
    y = rng.integers(0, 3, n)
    p = np.full((n, 3), 0.1)
    p[np.arange(n), y] = 0.8
    wrong = (g == "b") & (rng.random(n) < 0.5)
    p[wrong] = np.roll(p[wrong], 1, axis=1)
    v = rng.normal(size=n)
    return pd.DataFrame({"g": g, "h": rng.integers(0, 4, n), "y": y, "p0": p[:, 0],
                         "p1": p[:, 1], "p2": p[:, 2], "v": v,
                         "pv": v + rng.normal(size=n) * np.where(g == "b", 2.0, 0.5)})


def test_multiclass_and_regression_models_through_the_api():
    from sklearn.metrics import accuracy_score, mean_absolute_error

    frame = _frame()
    rows = (frame.g == "b").to_numpy()
    multi = {"label": "y", "models": {"candidate": {"prediction": ["p0", "p1", "p2"]}},
             "discover": {"features": ["g", "h"], "min_size": 50, "top": 3,
                          "error": "zero_one"}}
    found = assay.evaluate(multi, frame).info["discovered"]["slices"]
    weak = next(s for s in found if s["slice"] == {"g": "b"})
    assert weak["confirmed"] and weak["examples"] == rows.sum()
    assert all(s["slice"]["g"] == "b" for s in found if s["confirmed"])
    pred = frame[["p0", "p1", "p2"]].to_numpy().argmax(1)
    assert weak["metrics"]["candidate"]["accuracy"] == pytest.approx(
        accuracy_score(frame.y[rows], pred[rows]))
    reg = {"label": "v", "models": {"candidate": {"prediction": "pv"}},
           "discover": {"features": ["g", {"feature": "h", "quantiles": 2}], "min_size": 50,
                        "top": 3, "error": "absolute_error"}}
    found = assay.evaluate(reg, frame).info["discovered"]
    assert found["overall_error"] == pytest.approx(
        mean_absolute_error(frame.v, frame.pv), rel=1e-6)
    weak = found["slices"][0]
    assert weak["slice"] == {"g": "b"} and weak["confirmed"]
    assert weak["metrics"]["candidate"]["mae"] == pytest.approx(
        mean_absolute_error(frame.v[rows], frame.pv[rows]))


def test_kfp_executor_runs_discovery_with_the_config_parameter(local, data, tmp_path):
    """The KFP step: the config (a STRUCT parameter) carries `discover:` and the gate; the
    step writes the same section and refuses the candidate."""
    from assay.kfp import executor
    from test_kfp import hand_built_executor_input

    task = hand_built_executor_input(
        tmp_path / "task", {"examples": ("system.Dataset", str(data / "eval"))},
        {"config": CONFIG, "beam_pipeline_args": [], "force_bless": ""})
    executor.run(task)
    evaluation = tmp_path / "task" / "evaluation"
    result = assay.load_result(str(evaluation))
    assert [s["slice"] for s in result.info["discovered"]["slices"]] == \
        [s["slice"] for s in local.info["discovered"]["slices"]]
    assert result.blessed is False
    assert any(r.startswith("discovered slice region=north, segment=b")
               for r in result.validation["reasons"])


def test_confirmed_slices_carry_their_roc_curves_and_the_report_draws_them(local, data):
    """Each confirmed slice's ROC curve (thinned to <= 51 points) lies on scikit-learn's
    roc_curve of the slice's examples, ends at (0, 0) and (1, 1), and its area matches the
    slice's auc; the report draws one polyline per model."""
    from sklearn.metrics import auc as area, roc_curve

    frame = pd.concat([pd.read_csv(data / "eval" / f) for f in ("part-0.csv", "part-1.csv")])
    item = next(s for s in local.info["discovered"]["slices"] if s["slice"] == PLANTED)
    rows = frame[(frame.region == "north") & (frame.segment == "b")]
    for model, column in (("candidate", "p"), ("baseline", "b")):
        curve = item["plots"][model]["roc_curve"]
        assert 2 <= len(curve["fpr"]) <= 51
        assert (curve["fpr"][0], curve["tpr"][0]) == (0.0, 0.0)
        assert (curve["fpr"][-1], curve["tpr"][-1]) == (1.0, 1.0)
        fpr, tpr, _ = roc_curve(rows.y, rows[column], drop_intermediate=False)
        for x, y in zip(curve["fpr"], curve["tpr"]):  # every kept point is on the full curve
            assert any(abs(x - a) < 1e-9 and abs(y - b) < 1e-9 for a, b in zip(fpr, tpr)), (x, y)
        assert area(curve["fpr"], curve["tpr"]) == pytest.approx(area(fpr, tpr), abs=0.02)
    page = (data / "local" / "report.html").read_text()
    assert page.count('class="ar-discovered-plot"') == sum(
        1 for s in local.info["discovered"]["slices"] if s["confirmed"])
