"""Strict JSON (format version 2): every JSON file parses with RFC 8259 parsers, a non-finite
value is null with its reason, counts are integers, and load_result reads versions 1 and 2.

The reasons are checked against scikit-learn: a metric is null exactly where scikit-learn
finds it undefined (precision_score with zero_division=nan, roc_auc_score raising on one
class, r2_score on one sample), and the strict parsers are Python's json with NaN/Infinity
refused and node's JSON.parse (node must be installed; set ASSAY_NO_NODE=1 on a machine
without it, and only the Python parser runs).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sklearn.metrics as skm

from assay import api
from assay.kfp import outputs as kfp_outputs
from assay.results import undefined
from assay.results.result import dumps, load_result

THRESHOLDS = (0.5, 0.99)
BINARY_CONFIG = {
    "label": "label", "weight": "w",
    "models": {"candidate": {"prediction": "p"}, "baseline": {"prediction": "q"}},
    "slices": [[], ["g"]], "min_slice_size": 1, "decision_thresholds": list(THRESHOLDS),
    "thresholds": [
        # The baseline predicts nothing positive: tp@0.5 rises from 0, an infinite change.
        {"metric": "tp@0.5", "max_regression": {"relative": 0.1}},
        # g=a holds positives only: its auc is undefined.
        {"metric": "auc", "slices": [["g"]], "min": 0.5},
    ],
}


def _refuse(constant):
    raise ValueError(f"not RFC 8259 JSON: {constant}")


def strict_loads(text):
    """json.loads that refuses NaN, Infinity and -Infinity (as JSON.parse does)."""
    return json.loads(text, parse_constant=_refuse)


def binary_table():
    """g=a: positives only; g=b: negatives only; g=c: both, with fractional weights. The
    baseline q = 0.5 is never above 0.5: it predicts nothing positive."""
    g = np.array(list("abc") * 20)
    i = np.arange(60)
    label = np.where(g == "a", 1, np.where(g == "b", 0, i % 2))
    p = (i % 10) / 10 + 0.05
    w = np.where((g == "c") & (i % 6 == 2), 0.25, 1.0)
    return {"g": g, "label": label, "p": p, "q": np.full(60, 0.5), "w": w}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("strict")


@pytest.fixture(scope="module")
def binary(root):
    data = binary_table()
    pq.write_table(pa.table(data), str(root / "b.parquet"))
    result = api.evaluate(BINARY_CONFIG, str(root / "b.parquet"), str(root / "binary"),
                          engine="local", workers=1)
    return result, data


def _metrics_doc(result):
    with open(os.path.join(result.path, "assay_metrics.json"), encoding="utf-8") as f:
        return strict_loads(f.read())


def _json_texts(directory):
    """{relative path: text} of every JSON document written: the .json files and the
    report's embedded data."""
    out = {}
    for parent, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(parent, name)
            if name.endswith(".json"):
                with open(path, encoding="utf-8") as f:
                    out[os.path.relpath(path, directory)] = f.read()
    with open(os.path.join(directory, "report.html"), encoding="utf-8") as f:
        html = f.read()
    embedded = re.findall(r'<script type="application/json" class="ar-data">(.*?)</script>',
                          html, re.S)
    assert embedded, "the report embeds no JSON data"
    for i, text in enumerate(embedded):
        out[f"report.html#{i}"] = text
    return out


def _node_parses(texts):
    """Runs node's JSON.parse on each text; returns {name: error} of those it rejects."""
    if os.environ.get("ASSAY_NO_NODE") == "1":
        return {}
    node = shutil.which("node")
    assert node, "node is not installed: install it, or set ASSAY_NO_NODE=1 to skip its check"
    script = ("const docs = JSON.parse(require('fs').readFileSync(0, 'utf8')); const bad = {};"
              "for (const [k, v] of Object.entries(docs)) { try { JSON.parse(v); }"
              " catch (e) { bad[k] = String(e); } } console.log(JSON.stringify(bad));")
    done = subprocess.run([node, "-e", script], input=json.dumps(texts), text=True,
                          capture_output=True, check=True, timeout=60)
    return json.loads(done.stdout)


# --------------------------------------------------------------------------------------------
# Every file is strict

def test_every_json_output_parses_with_strict_parsers(binary, root):
    result, _ = binary
    texts = _json_texts(result.path)
    assert {"assay_metrics.json", "assay_plots.json", "validation.json", "config.json",
            "eval_config.json"} <= set(texts)
    for text in texts.values():
        strict_loads(text)
    assert _node_parses(texts) == {}
    # The data do hold undefined values: the strictness is not for want of them.
    assert any("undefined" in r for r in _metrics_doc(result)["records"])


def test_node_rejects_what_version_1_wrote():
    # The check has teeth: bare NaN (version 1) fails both parsers.
    text = json.dumps({"auc": float("nan")})
    with pytest.raises(ValueError, match="not RFC 8259 JSON: NaN"):
        strict_loads(text)
    if os.environ.get("ASSAY_NO_NODE") != "1":
        assert set(_node_parses({"v1": text})) == {"v1"}


def test_writer_turns_numpy_and_python_non_finite_values_into_null():
    doc = {"a": np.float32("nan"), "b": [1.0, float("inf")], "c": np.array([np.nan, 2.0]),
           "records": [{"x": -math.inf, "y": np.float64(0.5)}], "n": np.int64(3)}
    text = dumps(doc)
    assert strict_loads(text) == {"a": None, "b": [1.0, None], "c": [None, 2.0],
                                  "records": [{"x": None, "y": 0.5}], "n": 3}
    assert strict_loads(dumps({"a": float("nan")})) == {"a": None}


# --------------------------------------------------------------------------------------------
# Null and the reason, against scikit-learn

def _reference(data, g, model):
    """{name: reason scikit-learn implies, or None when it finds the metric defined}."""
    keep = np.ones(60, bool) if g is None else data["g"] == g
    y, w = data["label"][keep], data["w"][keep]
    score = data["p" if model == "candidate" else "q"][keep]
    out = {}
    for t in THRESHOLDS:
        pred = (score > t).astype(int)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            precision = skm.precision_score(y, pred, sample_weight=w, zero_division=np.nan)
            recall = skm.recall_score(y, pred, sample_weight=w, zero_division=np.nan)
        out[f"precision@{t}"] = (f"no predicted positives (no prediction above {t})"
                                 if math.isnan(precision) else None)
        out[f"recall@{t}"] = "no positive labels" if math.isnan(recall) else None
    try:
        skm.roc_auc_score(y, score, sample_weight=w)
        out["auc"] = None
    except ValueError:  # "Only one class present in y_true"
        which = "positive" if y.max() == 0 else "negative"
        out["auc"] = f"no {which} labels (the ROC curve needs both classes)"
    return out


@pytest.mark.parametrize("g", [None, "a", "b", "c"])
@pytest.mark.parametrize("model", ["candidate", "baseline"])
def test_null_exactly_where_scikit_learn_finds_the_metric_undefined(binary, g, model):
    result, data = binary
    doc = _metrics_doc(result)
    (record,) = [r for r in doc["records"]
                 if r["model"] == model and r["slice"] == ({} if g is None else {"g": g})]
    reasons = record.get("undefined", {})
    nulls = {k for k, v in record["metrics"].items() if v is None}
    assert nulls == set(reasons)
    for name, want in _reference(data, g, model).items():
        assert reasons.get(name) == want, name
        assert (record["metrics"][name] is None) == (want is not None), name


def test_diff_records_name_the_model_whose_value_is_undefined(binary):
    result, _ = binary
    doc = _metrics_doc(result)
    (diff,) = [r for r in doc["records"] if r["model"] == "diff" and r["slice"] == {"g": "a"}]
    reasons = diff["undefined"]
    assert reasons["precision@0.5"] == ("the baseline's precision@0.5 is undefined: no predicted "
                                        "positives (no prediction above 0.5)")
    assert reasons["auc"] == ("the candidate's and the baseline's auc are undefined: no "
                              "negative labels (the ROC curve needs both classes)")
    assert diff["metrics"]["auc"] is None and diff["metrics"]["recall@0.5"] is not None


def test_counts_are_integers_where_whole(binary):
    result, data = binary
    for r in _metrics_doc(result)["records"]:
        m, g = r["metrics"], r["slice"].get("g")
        keep = np.ones(60, bool) if g is None else data["g"] == g
        if r["model"] == "diff":
            assert m["example_count"] == 0 and type(m["example_count"]) is int
            continue
        assert type(m["example_count"]) is int and m["example_count"] == int(keep.sum())
        weight = float(data["w"][keep].sum())
        assert m["weighted_example_count"] == weight
        assert type(m["weighted_example_count"]) is (int if weight.is_integer() else float)
        for t in THRESHOLDS:
            score = data["p" if r["model"] == "candidate" else "q"][keep]
            tp = float((data["w"][keep] * data["label"][keep] * (score > t)).sum())
            assert m[f"tp@{t}"] == tp and type(m[f"tp@{t}"]) is (int if tp.is_integer() else float)
    # g=c has fractional weights: its weighted count stays a float (12.5).
    assert result.metrics({"g": "c"})["weighted_example_count"] == 12.5


def test_validation_json_holds_null_where_the_check_met_a_non_finite_value(binary):
    result, _ = binary
    checks = result.validation["checks"]
    (inf_change,) = [c for c in checks if c["metric"] == "tp@0.5"]
    assert inf_change["baseline"] == 0 and inf_change["change"] is None
    assert "infinite relative change" in inf_change["reason"]
    (nan_value,) = [c for c in checks if c["metric"] == "auc" and c["slice"] == {"g": "a"}]
    assert nan_value["candidate"] is None and nan_value["status"] == "fail"
    assert "is NaN" in nan_value["reason"]


# --------------------------------------------------------------------------------------------
# Reading versions 1 and 2

def _as_version_1(doc):
    """The document as version 1 wrote it: bare NaN, float counts, no "undefined"."""
    doc = json.loads(json.dumps(doc))
    doc["version"] = 1
    for r in doc["records"]:
        r.pop("undefined", None)
        if "metrics" in r:
            r["metrics"] = {k: float("nan") if v is None else float(v)
                            for k, v in r["metrics"].items()}
    return doc


def _same(a, b):
    return all((isinstance(v, float) and math.isnan(v) and math.isnan(b[k])) or v == b[k]
               for k, v in a.items()) and a.keys() == b.keys()


def test_load_result_reads_version_1_and_2_with_the_same_values(binary, root):
    result, _ = binary
    v1 = root / "v1"
    shutil.copytree(result.path, v1)
    text = json.dumps(_as_version_1(_metrics_doc(result)), allow_nan=True)
    assert "NaN" in text and '"example_count": 60.0' in text
    (v1 / "assay_metrics.json").write_text(text)
    old, new = load_result(str(v1)), load_result(result.path)
    assert old.info["version"] == 1 and new.info["version"] == 2
    assert [(r["slice"], r["model"]) for r in old.records] == \
        [(r["slice"], r["model"]) for r in new.records]
    for r in new.records:
        assert _same(new.metrics(r["slice"], r["model"]), old.metrics(r["slice"], r["model"]))
    # Users' code keeps working: undefined values are float('nan'), as in version 1.
    assert math.isnan(new.metrics({"g": "a"})["auc"])
    assert new.undefined({"g": "a"})["auc"].startswith("no negative labels")
    assert old.undefined({"g": "a"}) == {}


def test_load_result_refuses_a_version_it_does_not_know(tmp_path):
    (tmp_path / "assay_metrics.json").write_text('{"version": 3, "records": []}')
    with pytest.raises(ValueError, match="has format version 3; this assay reads versions 1, 2"):
        load_result(str(tmp_path))


def test_infinities_and_other_members_round_trip():
    inf, nan = math.inf, math.nan
    record = {"slice": {}, "model": "candidate",
              "metrics": {"example_count": 4.0, "ratio": inf, "low": -inf, "auc": nan,
                          "mean_label": 1.0, "weighted_example_count": 4.0},
              "intervals": {"auc": [nan, nan], "ratio": [1.0, inf], "mean_label": [0.9, 1.0]}}
    (done,) = undefined.finish_records([record])
    assert done["undefined"] == {
        "ratio": "not finite (Infinity)", "low": "not finite (-Infinity)",
        "auc": "no negative labels (the ROC curve needs both classes)",
        "intervals/auc": "no negative labels (the ROC curve needs both classes)",
        "intervals/ratio": "not finite (Infinity)"}
    text = dumps({"version": 2, "records": [done]})
    read = undefined.restore_record(strict_loads(text)["records"][0])
    assert read["metrics"]["ratio"] == inf and read["metrics"]["low"] == -inf
    assert math.isnan(read["metrics"]["auc"]) and read["metrics"]["example_count"] == 4
    assert math.isnan(read["intervals"]["auc"][0]) and read["intervals"]["ratio"] == [1.0, inf]
    assert read["intervals"]["mean_label"] == [0.9, 1.0]


# --------------------------------------------------------------------------------------------
# The reasons of the other families

def test_multiclass_per_class_reasons_match_scikit_learn(tmp_path):
    y = np.array([0, 1, 0, 1, 0, 1, 2, 2, 0, 1, 2, 0])
    proba = np.array([[.8, .1, .1], [.2, .7, .1], [.1, .1, .8]])[y]
    proba[6] = [.6, .2, .2]
    region = np.array(["x"] * 6 + ["y"] * 6)
    offsets = pa.array(np.arange(0, 37, 3, dtype=np.int32))
    pq.write_table(pa.table({"y": y, "r": region, "proba": pa.ListArray.from_arrays(
        offsets, pa.array(proba.ravel()))}), str(tmp_path / "mc.parquet"))
    result = api.evaluate({"label": "y", "models": {"candidate": {"prediction": "proba"}},
                           "slices": [["r"]], "min_slice_size": 1},
                          str(tmp_path / "mc.parquet"), str(tmp_path / "mc"), engine="local",
                          workers=1)
    for r in ("x", "y"):
        keep = region == r
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p, rc, _, _ = skm.precision_recall_fscore_support(
                y[keep], proba[keep].argmax(1), labels=[0, 1, 2], zero_division=np.nan)
        reasons = result.undefined({"r": r})
        for c in range(3):
            assert reasons.get(f"precision/{c}") == (
                f"no example predicted as class {c}" if math.isnan(p[c]) else None)
            assert reasons.get(f"recall/{c}") == (
                f"no example of class {c}" if math.isnan(rc[c]) else None)
    assert "recall/2" in result.undefined({"r": "x"})  # the data reach the rule


def test_regression_r2_of_one_example(tmp_path):
    (tmp_path / "r.csv").write_text("g,y,p\n" + "".join(
        f"{'a' if i else 'b'},{i % 5},{i % 4}\n" for i in range(20)))
    result = api.evaluate({"label": "y", "models": {"candidate": {"prediction": "p"}},
                           "slices": [["g"]], "min_slice_size": 1, "task": "regression"},
                          str(tmp_path / "r.csv"), str(tmp_path / "r"), engine="local",
                          workers=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert math.isnan(skm.r2_score([0.0], [0.0]))  # scikit-learn: undefined on one sample
    assert result.undefined({"g": "b"}) == {"r2": "fewer than two examples"}
    assert result.undefined({"g": "a"}) == {} and math.isnan(result.metrics({"g": "b"})["r2"])


@pytest.mark.parametrize("metrics, name, want", [
    ({"example_count": 0, "auc": math.nan}, "auc", "no examples in the slice"),
    ({"example_count": 3, "weighted_example_count": 0.0}, "log_loss",
     "the slice's examples all have weight 0"),
    ({"example_count": 3, "weighted_example_count": 3.0, "mean_label": 0.0}, "calibration",
     "no positive labels (the weighted label sum is 0)"),
    ({"example_count": 3, "weighted_example_count": 3.0, "tp@0.3": 0, "fp@0.3": 0,
      "fn@0.3": 0, "tn@0.3": 3}, "f1", "no positive labels and no predicted positives (above 0.3)"),
    ({"example_count": 3}, "f1_macro", "f1 is undefined for every class"),
    ({"example_count": 3}, "ndcg@5", None),
])
def test_metric_reason_rules(metrics, name, want):
    assert undefined.metric_reason(name, metrics) == want


def test_kfp_metadata_stays_strict_and_integer():
    class Result:
        task = "binary"
        info, config = {}, {}

        def metrics(self, slice_, model):
            return {"example_count": 60, "weighted_example_count": 12.0, "auc": math.nan}

    scalar = kfp_outputs.scalar_metrics(Result())
    assert scalar == {"example_count": 60, "weighted_example_count": 12}
    assert type(scalar["weighted_example_count"]) is int
    strict_loads(kfp_outputs.to_json(scalar))
    # Any other metadata with a non-finite number is written strict too, not refused.
    assert kfp_outputs.to_json({"b": [np.float64("nan")], "a": math.inf}) == \
        '{"a": null, "b": [null]}'
