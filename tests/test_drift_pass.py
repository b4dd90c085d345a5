"""Drift in the pass: assay_sketches.json per slice (checked against a slow computation on the
raw rows), shard- and engine-invariant; the drift section against a reference directory or
one from ML Metadata; drift thresholds; the API, CLI, TFX executor; golden formats."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

import assay
from assay import cli
from assay.drift.files import SKETCHES_FILE
from assay.drift.sketches import CategoricalSketch, NumericSketch
from assay.errors import ConfigError
from assay.report.drift import section_html
from test_formats import check_golden

CONFIG = {"label": "y", "models": {"candidate": {"prediction": "p"}},
          "slices": [[], ["region"]], "drift": {"features": ["amount", "region", "age"]}}


def frame(n, seed, shift=0.0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"y": rng.integers(0, 2, n), "p": np.round(rng.random(n), 4),
                       "amount": np.round(rng.lognormal(3 + shift, 1, n), 3),
                       "region": rng.choice(["north", "south", "east"], n),
                       "age": rng.integers(18, 80, n).astype(float)})
    df.loc[df.index % 17 == 0, "age"] = np.nan  # missing values, counted per slice
    return df


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("drift")
    frame(1200, 1).to_csv(root / "ref.csv", index=False)
    frame(1000, 2, shift=0.6).to_csv(root / "cur.csv", index=False)
    ref = assay.evaluate(CONFIG, str(root / "ref.csv"), str(root / "ref"), engine="local",
                         workers=1)
    cfg = dict(CONFIG, reference=str(root / "ref"), thresholds=[
        {"drift": "feature", "feature": "amount", "max_psi": 0.2, "slices": [["region"]]},
        {"drift": "prediction", "max_js": 0.1}, {"drift": "feature", "feature": "age",
                                                 "max_ks": 0.2, "min_p": 0.001}])
    cur = assay.evaluate(cfg, str(root / "cur.csv"), str(root / "cur"), engine="local",
                         workers=1)
    return root, ref, cur, cfg


def test_sketches_equal_a_slow_computation_on_the_raw_rows(runs):
    root, ref, _, _ = runs
    df = pd.read_csv(root / "ref.csv")
    doc = json.load(open(root / "ref" / SKETCHES_FILE))
    assert ref.sketches == doc
    assert [s["slice"] for s in doc["slices"]] == [{}, {"region": "east"}, {"region": "north"},
                                                   {"region": "south"}]
    for entry in doc["slices"]:
        rows = df if not entry["slice"] else df[df.region == entry["slice"]["region"]]
        slow = NumericSketch()
        for v in rows.amount:  # one value at a time: the obviously-correct way
            slow.add(np.array([v]))
        assert entry["features"]["amount"] == slow.to_json()
        age = entry["features"]["age"]
        assert (age["count"], age["missing"]) == (rows.age.notna().sum(), rows.age.isna().sum())
        counts = rows.region.value_counts()
        assert dict(entry["features"]["region"]["values"]) == counts.to_dict()
        assert entry["label"]["kind"] == "categorical"
        assert dict(entry["label"]["values"]) == {str(k): v for k, v in
                                                  rows.y.value_counts().items()}
        pred = NumericSketch().add(rows.p.to_numpy())
        assert entry["predictions"]["candidate"] == pred.to_json()
    # Without a reference, assay_metrics.json has no drift section: its format is unchanged.
    assert "drift" not in ref.info
    assert section_html(ref) == ""


def test_drift_section_thresholds_and_report(runs):
    root, _, cur, _ = runs
    section = cur.info["drift"]
    assert section["error"] is None and section["reference"]["results"] == str(root / "ref")
    rows = {(json.dumps(r["slice"]), r["column"], r["name"]): r for r in section["columns"]}
    amount = rows[("{}", "feature", "amount")]
    a, b = pd.read_csv(root / "cur.csv").amount, pd.read_csv(root / "ref.csv").amount
    from scipy import stats as sstats

    exact = sstats.ks_2samp(a, b).statistic
    assert abs(amount["statistic"] - exact) <= amount["ks_error_bound"]
    assert amount["psi"] > 0.2 and rows[("{}", "feature", "region")]["psi"] < 0.05
    # Every failed check names the slice, the column, the value and the bound.
    failed = [c for c in cur.validation["checks"] if c["status"] == "fail"]
    assert {c["slice"]["region"] for c in failed if c["metric"] == "drift feature amount"} == \
        {"east", "north", "south"}
    reason = next(r for r in cur.validation["reasons"] if "region=north" in r)
    psi_north = rows[('{"region": "north"}', "feature", "amount")]["psi"]
    assert reason == f"PSI of feature amount on region=north: {psi_north:.4g} > 0.2"
    assert cur.blessed is False
    assert all(c["status"] == "pass" for c in cur.validation["checks"]
               if c["metric"] == "drift candidate")
    page = open(root / "cur" / "report.html").read()
    assert '<section class="ar-drift">' in page and "ar-drift-hist" in page


def test_golden_sketches_and_drift_section(runs):
    root, ref, cur, _ = runs
    small = {**ref.sketches, "slices": ref.sketches["slices"][:2]}
    check_golden("sketches/basic.json", small, root)
    check_golden("drift/section.json", {**cur.info["drift"],
                                        "columns": cur.info["drift"]["columns"][:8]}, root)


def test_shard_and_engine_invariance(runs):
    root, _, cur, cfg = runs
    two = assay.evaluate(cfg, str(root / "cur.csv"), engine="local", workers=2)
    parts = root / "parts"
    parts.mkdir(exist_ok=True)
    df = pd.read_csv(root / "cur.csv")
    df.iloc[:400].to_csv(parts / "a.csv", index=False)
    df.iloc[400:].to_csv(parts / "b.csv", index=False)
    sharded = assay.evaluate(dict(cfg, batch_size=128), str(parts), engine="local", workers=2)
    beam = assay.evaluate(cfg, str(parts), engine="beam")
    for other in (two, sharded, beam):
        assert other.sketches == cur.sketches
        assert other.info["drift"] == cur.info["drift"]
        assert other.validation["reasons"] == cur.validation["reasons"]


def test_reference_errors_and_missing_reference(runs, tmp_path):
    root, _, _, cfg = runs
    with pytest.raises(ConfigError, match=r"reference .*nowhere cannot be read: .* holds no "
                                          r"assay results"):
        assay.evaluate(dict(cfg, reference=str(tmp_path / "nowhere")), str(root / "cur.csv"))
    old = tmp_path / "old"
    assay.evaluate(CONFIG, str(root / "ref.csv"), str(old))
    os.remove(old / SKETCHES_FILE)
    with pytest.raises(ConfigError, match=r"holds no assay_sketches.json"):
        assay.evaluate(dict(cfg, reference=str(old)), str(root / "cur.csv"))
    # latest-blessed without a store: the section says why, the drift checks fail with it.
    result = assay.evaluate(dict(cfg, reference="latest-blessed"), str(root / "cur.csv"))
    assert "give the store" in result.info["drift"]["error"]
    assert any("drift of feature amount" in r and "--mlmd" in r
               for r in result.validation["reasons"])


def test_cli_reference_and_mlmd_latest_blessed(runs, tmp_path):
    root, _, _, cfg = runs
    from assay import mlmd

    config = tmp_path / "config.json"
    config.write_text(json.dumps({k: v for k, v in cfg.items() if k != "reference"}))
    store_uri = f"sqlite:{tmp_path / 'mlmd.sqlite'}"
    base = ["evaluate", "--config", str(config), "--examples"]
    # Run 1 (blessed: no drift against itself) and run 2 (drifted, not blessed), recorded.
    assert cli.main(base + [str(root / "ref.csv"), "--output", str(tmp_path / "r1"),
                            "--reference", str(root / "ref"), "--mlmd", store_uri]) == 0
    assert cli.main(base + [str(root / "cur.csv"), "--output", str(tmp_path / "r2"),
                            "--reference", str(root / "ref"), "--mlmd", store_uri]) == 0
    assert assay.load_result(tmp_path / "r1").blessed is True
    assert assay.load_result(tmp_path / "r2").blessed is False
    # Each run is recorded too: "previous" then finds the latest-blessed run (not blessed).
    for source, expected in (("latest-blessed", "r1"), ("previous", "r-latest-blessed")):
        out = tmp_path / f"r-{source}"
        assert cli.main(base + [str(root / "cur.csv"), "--output", str(out), "--reference",
                                source, "--mlmd", store_uri]) == 0
        drift = assay.load_result(out).info["drift"]
        assert drift["reference"]["results"] == str(tmp_path / expected)
        assert drift["reference"]["source"] == source and drift["error"] is None
    store = mlmd.connect(store_uri)
    ids = [a.id for a in mlmd.evaluations(store)]
    assert assay.load_result(tmp_path / "r-previous").info["drift"]["reference"][
        "artifact_id"] == ids[2]
    # An empty pipeline: no reference, a stated reason.
    assert cli.main(base + [str(root / "cur.csv"), "--output", str(tmp_path / "r-none"),
                            "--reference", "latest-blessed", "--mlmd", store_uri,
                            "--mlmd-pipeline", "other"]) == 0
    none = assay.load_result(tmp_path / "r-none")
    assert none.info["drift"]["error"] == ("reference 'latest-blessed': pipeline 'other' has "
                                           "no blessed evaluation in ML Metadata")


def test_tfx_executor_measures_drift_against_a_reference(runs, tmp_path):
    root, _, _, cfg = runs
    from test_tfx import _artifact, _run_executor
    from tfx.types import standard_artifacts

    examples = _artifact(standard_artifacts.Examples, tmp_path / "examples",
                         split_names=["eval"])
    os.makedirs(os.path.join(examples.uri, "Split-eval"))
    pd.read_csv(root / "cur.csv").to_csv(os.path.join(examples.uri, "Split-eval", "d.csv"),
                                         index=False)
    outputs = {"evaluation": [_artifact(standard_artifacts.ModelEvaluation, tmp_path / "ev")],
               "blessing": [_artifact(standard_artifacts.ModelBlessing, tmp_path / "bl")]}
    props = _run_executor({"examples": [examples]}, outputs, cfg)
    assert props["blessed"] == 0
    result = assay.load_result(outputs["evaluation"][0].uri)
    local = assay.evaluate(cfg, str(root / "cur.csv"))
    assert result.info["drift"] == local.info["drift"] and result.sketches == local.sketches


def test_categorical_override_and_default_columns(runs):
    root, _, _, _ = runs
    cfg = {"label": "y", "models": {"candidate": {"prediction": "p"}}, "slices": [["region"]]}
    result = assay.evaluate(cfg, str(root / "ref.csv"))
    overall = result.sketches["slices"][0]
    # Without drift:, the slice features, the label and the predictions only.
    assert list(overall["features"]) == ["region"] and "label" in overall
    cats = assay.evaluate(dict(cfg, drift={"features": ["age"], "categorical": ["age"],
                                           "max_categories": 3}), str(root / "ref.csv"))
    age = cats.sketches["slices"][0]["features"]["age"]
    assert age["kind"] == "categorical" and len(age["values"]) == 3
    df = pd.read_csv(root / "ref.csv")
    top = CategoricalSketch(3).add(df.age.dropna().to_numpy()).to_json()
    assert age["values"] == top["values"] and age["other"] == top["other"]


def test_label_free_prediction_drift(runs, tmp_path):
    root, _, _, _ = runs
    cfg = {"models": {"candidate": {"prediction": "p"}}, "slices": [["region"]]}
    ref = tmp_path / "ref"
    assay.evaluate(cfg, str(root / "ref.csv"), str(ref))
    df = pd.read_csv(root / "cur.csv")
    df["p"] = (df.p ** 2).round(4)  # the model's scores moved down
    df.to_csv(tmp_path / "moved.csv", index=False)
    result = assay.evaluate(dict(cfg, reference=str(ref),
                                 thresholds=[{"drift": "prediction", "max_js": 0.1}]),
                            str(tmp_path / "moved.csv"))
    overall = result.sketches["slices"][0]
    assert "label" not in overall and list(overall["predictions"]) == ["candidate"]
    row = next(r for r in result.info["drift"]["columns"]
               if r["slice"] == {} and r["column"] == "prediction")
    from scipy import spatial

    p, q = np.array(row["bins"][0]), np.array(row["bins"][1])
    assert row["js"] == pytest.approx(spatial.distance.jensenshannon(p / p.sum(), q / q.sum(),
                                                                      base=2), rel=1e-9)
    assert row["js"] > 0.1 and result.blessed is False
    assert result.validation["reasons"][0].startswith(
        "JS distance of candidate's predictions on overall: ")


def test_a_spec_with_more_slices_than_max_slices_is_left_out_whatever_the_shards(runs):
    """`age` has ~60 distinct values: with max_slices 40 its spec is not sketched (said in the
    file), the others are, and the same holds on 2 shards of 128-row batches and on Beam."""
    root, _, _, _ = runs
    cfg = dict(CONFIG, slices=[[], ["region"], ["age"]],
               drift={"features": ["amount"], "max_slices": 40})
    one = assay.evaluate(cfg, str(root / "cur.csv"), engine="local", workers=1)
    specs = {tuple(sorted(s["slice"])) for s in one.sketches["slices"]}
    assert specs == {(), ("region",)}
    assert one.sketches["specs_left_out"] == {"max_slices": 40, "specs": [["age"]]}
    df = pd.read_csv(root / "cur.csv")
    assert df["age"].nunique() > 40
    (root / "parts40").mkdir(exist_ok=True)
    df.iloc[:400].to_csv(root / "parts40" / "a.csv", index=False)
    df.iloc[400:].to_csv(root / "parts40" / "b.csv", index=False)
    sharded = assay.evaluate(dict(cfg, batch_size=128), str(root / "parts40"),
                             engine="local", workers=2)
    beam = assay.evaluate(cfg, str(root / "parts40"), engine="beam")
    assert sharded.sketches == one.sketches and beam.sketches == one.sketches
    kept = assay.evaluate(dict(cfg, drift={"features": ["amount"], "max_slices": 1000}),
                          str(root / "cur.csv"), engine="local", workers=1)
    assert {tuple(sorted(s["slice"])) for s in kept.sketches["slices"]} == {
        (), ("region",), ("age",)}
    assert "specs_left_out" not in kept.sketches
