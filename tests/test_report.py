"""The HTML report: content checked from the page itself (its plain HTML and its embedded JSON)
for binary, multi-class and regression results from the engine, with and without a baseline,
blessed and not blessed; comparisons; the notebook fragment; the command line."""

from __future__ import annotations

import json
import math
import os
import re
import time
from html.parser import HTMLParser
from typing import Dict, List, Optional

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import assay
from assay import cli, demo
from assay.report import data as page_data
from assay.report import html as report
from assay.results.result import EvalResult
from report_fixtures import big_result
from fresh import loaded_modules


# ------------------------------------------------------------------------------------------
# A small DOM, to read the page as a browser would parse it

class Node:
    def __init__(self, tag: str, attrs: Dict[str, str], parent: Optional["Node"]):
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: List["Node | str"] = []

    @property
    def classes(self) -> List[str]:
        return self.attrs.get("class", "").split()

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self):
        for c in self.children:
            if isinstance(c, Node):
                yield c
                yield from c.iter()

    def find_all(self, tag: Optional[str] = None, cls: Optional[str] = None,
                 **attrs) -> List["Node"]:
        return [n for n in self.iter() if (tag is None or n.tag == tag) and
                (cls is None or cls in n.classes) and
                all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def find(self, tag: Optional[str] = None, cls: Optional[str] = None, **attrs) -> "Node":
        found = self.find_all(tag, cls, **attrs)
        assert found, f"no <{tag or '*'} class={cls} {attrs}>"
        return found[0]


class _Builder(HTMLParser):
    VOID = {"meta", "br", "input", "img", "hr", "link", "col"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.cur = Node("#root", {}, None)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs}, self.cur)
        self.cur.children.append(node)
        if tag not in self.VOID:
            self.cur = node

    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def parse(page: str) -> Node:
    b = _Builder()
    b.feed(page)
    b.close()
    return b.root


def embedded(page: str) -> dict:
    """The JSON document the page's script draws from, read as the script reads it."""
    return json.loads(parse(page).find("script", "ar-data").text())


def rows_of(table: Node) -> List[List[str]]:
    return [[td.text() for td in tr.find_all("td")] for tr in table.find("tbody").find_all("tr")]


def metric_names(result: EvalResult) -> List[str]:
    return list(dict.fromkeys(m for r in result.records if r["model"] == "candidate"
                              for m in r.get("metrics", {})))


def close(got, want, rel=1e-5):
    if want is None or (isinstance(want, float) and math.isnan(want)):
        return got is None
    return got == pytest.approx(want, rel=rel, abs=1e-12)


# ------------------------------------------------------------------------------------------
# Results from the engine

@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    trips = demo.make_trips(8000, seed=4)
    pq.write_table(trips, str(root / "trips.parquet"))
    rng = np.random.default_rng(5)
    n, k = 3000, 3
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.4 * np.eye(k)[y]
    old_logits = rng.normal(size=(n, k)) + 1.6 * np.eye(k)[y]
    offsets = pa.array(np.arange(0, n * k + 1, k, dtype=np.int32))

    def proba(z):
        p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
        return pa.ListArray.from_arrays(offsets, pa.array(p.ravel()))

    region = rng.choice(["north", "south", "east"], n, p=[0.5, 0.49, 0.01])
    pq.write_table(pa.table({
        "y": y, "region": region, "proba": proba(logits), "old_proba": proba(old_logits),
        "target": logits[:, 0] * 3 + 10, "estimate": logits[:, 0] * 2.5 + 10.3,
        "old_estimate": logits[:, 0] * 2 + 10.5}), str(root / "tabular.parquet"))
    return root


BINARY = {
    "label": "label", "weight": "weight",
    "models": {"candidate": {"prediction": "prediction"},
               "baseline": {"prediction": "old_prediction"}},
    "slices": [[], ["payment"], ["hour"], ["payment", "day"]],
    "min_slice_size": 50,
    "thresholds": [{"metric": "auc", "min": 0.7, "max_regression": 0.01},
                   {"metric": "auc", "slices": [["payment"]], "min": 0.565},
                   {"metric": "auc", "max_gap": {"across": ["payment"], "value": 0.015}}],
}


@pytest.fixture(scope="module")
def binary(data_dir):
    """Binary, with a baseline; NOT_BLESSED: auc on payment=cash, the gap across payment."""
    return assay.evaluate(BINARY, str(data_dir / "trips.parquet"), str(data_dir / "binary"))


@pytest.fixture(scope="module")
def binary_first_model(data_dir):
    """Binary, no baseline; BLESSED (auc above its minimum; the change check is skipped)."""
    config = dict(BINARY, models={"candidate": {"prediction": "prediction"}},
                  slices=[["payment"]], thresholds=[{"metric": "auc", "min": 0.7,
                                                     "max_regression": 0.01}])
    return assay.evaluate(config, str(data_dir / "trips.parquet"), str(data_dir / "first"))


@pytest.fixture(scope="module")
def multiclass(data_dir):
    """Multi-class, with a (better) baseline; NOT_BLESSED by its accuracy regression."""
    config = {"label": "y", "models": {"candidate": {"prediction": "proba"},
                                       "baseline": {"prediction": "old_proba"}},
              "label_vocabulary": ["cat", "dog", "bird"], "slices": [["region"]],
              "min_slice_size": 50,
              "thresholds": [{"metric": "accuracy", "max_regression": 0.01}]}
    return assay.evaluate(config, str(data_dir / "tabular.parquet"), str(data_dir / "mc"))


@pytest.fixture(scope="module")
def regression(data_dir):
    """Regression, no baseline; BLESSED by rmse below its maximum."""
    config = {"label": "target", "task": "regression", "slices": [["region"]],
              "models": {"candidate": {"prediction": "estimate"}},
              "thresholds": [{"metric": "rmse", "max": 1.0}]}
    return assay.evaluate(config, str(data_dir / "tabular.parquet"), str(data_dir / "rg"))


@pytest.fixture(scope="module")
def regression_with_baseline(data_dir):
    """Regression with a baseline and no thresholds: NOT_BLESSED (nothing shows it may ship)."""
    config = {"label": "target", "task": "regression", "slices": [["region"]],
              "models": {"candidate": {"prediction": "estimate"},
                         "baseline": {"prediction": "old_estimate"}}}
    return assay.evaluate(config, str(data_dir / "tabular.parquet"), str(data_dir / "rgb"))


# ------------------------------------------------------------------------------------------
# The verdict

def test_the_verdict_comes_first_with_each_failed_check(binary):
    page = report.render_report(binary)
    dom = parse(page)
    assert binary.blessed is False
    body = dom.find("div", "assay-report")
    first_section = next(n for n in body.iter() if n.tag == "section")
    assert "ar-verdict" in first_section.classes
    assert first_section.attrs["data-blessed"] == "false"
    assert first_section.find(cls="ar-badge").text() == "NOT_BLESSED"
    assert "NOT_BLESSED" in dom.find("title").text()
    reasons = [li.text() for li in first_section.find("ul", "ar-reasons").find_all("li")]
    assert reasons == binary.validation["reasons"]

    failed = [c for c in binary.validation["checks"] if c["status"] == "fail"]
    assert {(c["kind"], report.slice_label(c["slice"])) for c in failed} >= {
        ("min", "payment=cash"), ("max_gap", "overall")}
    rows = rows_of(first_section.find("table", "ar-failed"))
    assert len(rows) == len(failed)
    for row, c in zip(rows, failed):
        status, where, metric, kind, threshold, cand, base, change, reason = row
        assert status == "fail" and metric == c["metric"] and reason == c["reason"]
        if c["kind"] == "max_gap":
            assert where == "across [payment]" and kind == "max gap"
        else:
            assert where == report.slice_label(c["slice"]) and kind == c["kind"]
            assert base == report.fmt(c["baseline"])
        assert threshold == report.fmt(c["threshold"])
        assert cand == report.fmt(c["candidate"])
    every = rows_of(first_section.find("details", "ar-allchecks").find("table"))
    assert [r[0] for r in every] == [c["status"] for c in binary.validation["checks"]]


def test_blessed_first_model_says_so_and_lists_the_skipped_check(binary_first_model):
    page = report.render_report(binary_first_model)
    verdict = parse(page).find("section", "ar-verdict")
    assert binary_first_model.blessed is True
    assert verdict.attrs["data-blessed"] == "true" and "ar-ok" in verdict.classes
    assert verdict.find(cls="ar-badge").text() == "BLESSED"
    assert not verdict.find_all("table", "ar-failed")
    statuses = [r[0] for r in rows_of(verdict.find("table", "ar-checks"))]
    assert sorted(statuses) == ["pass", "skipped"]
    assert "no baseline" in parse(page).find("p", "ar-summary").text()


def test_no_validation_is_a_stated_non_verdict(binary):
    bare = EvalResult({**binary.info, "records": binary.records},
                      {"records": binary.plot_records}, None, path=binary.path)
    verdict = parse(report.render_report(bare)).find("section", "ar-verdict")
    assert verdict.find(cls="ar-badge").text() == "NO VERDICT"
    assert "Validation did not run" in verdict.text()


# ------------------------------------------------------------------------------------------
# The slice tables

def test_one_table_per_spec_with_a_row_per_slice(binary):
    page = report.render_report(binary)
    data = embedded(page)["result"]
    names = metric_names(binary)
    assert data["metrics"] == names
    assert [s["name"] for s in data["specs"]] == [
        s["name"] for s in binary.info["slicing_specs"]]
    by_label = {s["k"]: s for s in data["slices"]}
    assert len(by_label) == len(binary.slices())

    payment = next(s for s in data["specs"] if s["name"] == "payment")
    assert [data["slices"][j]["k"] for j in payment["rows"]] == [
        f"payment={p}" for p in sorted(demo.PAYMENTS)]
    for record in binary.records:
        s = by_label[report.slice_label(record["slice"])]
        assert s["s"] == record["slice"]
        if "withheld" in record:
            assert s["h"] == record["withheld"] and s["c"] is None
            continue
        for name, value in record["metrics"].items():
            at = names.index(name)
            if record["model"] == "diff":   # the page computes it: the same doubles
                assert s["c"][at] - s["b"][at] == value, (record["slice"], name)
            else:
                key = {"candidate": "c", "baseline": "b"}[record["model"]]
                assert s[key][at] == value, (record["slice"], key, name)
    assert by_label["overall"]["n"] == binary.metrics()["example_count"]


def test_static_table_rows_show_values_failures_and_withheld_slices(binary):
    page = report.render_report(binary)
    dom, data = parse(page), embedded(page)["result"]
    shown = data["default_metrics"]
    assert shown[0] == "auc"   # the metric the thresholds check comes first
    sections = {s.find("h2").children[0].strip(): s for s in dom.find_all("section", "ar-spec")}
    assert list(sections) == [s["name"] for s in data["specs"]]

    table = sections["payment"].find("table", "ar-slices")
    heads = [th.text() for th in table.find("thead").find_all("tr")[0].find_all("th")]
    assert heads == ["Slice", "Examples"] + shown
    cash = table.find("tr", data_slice=str(next(
        j for j, s in enumerate(data["slices"]) if s["k"] == "payment=cash")))
    assert "ar-fail" in cash.classes
    cells = [td for td in cash.find_all("td")]
    values = binary.metrics({"payment": "cash"})
    baseline = binary.metrics({"payment": "cash"}, "baseline")
    auc_at = 2 + 3 * shown.index("auc")
    assert cells[0].text() == "payment=cash"
    assert cells[1].text() == report.fmt(values["example_count"])
    assert cells[auc_at].text() == report.fmt(values["auc"])
    assert "ar-bad" in cells[auc_at].classes
    assert cells[auc_at].attrs["title"].startswith("auc on slice payment=cash is")
    assert cells[auc_at + 1].text() == report.fmt(baseline["auc"])
    assert cells[auc_at + 2].text() == report.fmt(values["auc"] - baseline["auc"], signed=True)

    withheld = [r for r in binary.records if r["model"] == "candidate" and "withheld" in r]
    assert withheld, "the fixture should have slices below min_slice_size"
    cross = sections["payment x day"]
    marked = {tr.find("td").text(): tr for tr in cross.find_all("tr", "ar-withheld")}
    for r in withheld:
        row = marked[report.slice_label(r["slice"])]
        assert row.find("td", "ar-why").text() == r["withheld"]
    small = [tr for tr in cross.find_all("tr", "ar-small")]
    assert all(data["slices"][int(tr.attrs["data-slice"])]["n"] < data["small_slice_size"]
               for tr in small)
    assert "auc varies by" in sections["payment"].find("p", "ar-gap").text()


def test_large_specs_keep_the_page_small_and_fast():
    result = big_result(5000)
    t0 = time.perf_counter()
    page = report.render_report(result)
    seconds = time.perf_counter() - t0
    data = embedded(page)["result"]
    store = next(s for s in data["specs"] if s["name"] == "store")
    assert len(store["rows"]) == 5000
    section = parse(page).find_all("section", "ar-spec")[1]
    static_rows = section.find("table", "ar-slices").find("tbody").find_all("tr")
    assert len(static_rows) == report.STATIC_ROWS
    assert "The first 50 of 5,000 slices" in section.text()
    # The plots of the overall slice and of the failing slices come first within the budget.
    with_plots = [s for s in data["slices"] if s["p"] is not None]
    assert data["slices"][0]["p"] == 0 and data["plots_left_out"] > 0
    assert len(with_plots) + data["plots_left_out"] == sum(1 for s in data["slices"] if not s["h"])
    failing = [s for s in data["slices"] if s["f"]]
    assert all(s["p"] is not None for s in failing[:50])
    plots_bytes = len(json.dumps(data["plots"], separators=(",", ":")))
    assert plots_bytes < report.PAGE_PLOT_BUDGET * 1.2
    print(f"\n5,000 slices: rendered in {seconds:.2f} s, {len(page) / 1e6:.1f} MB")
    assert len(page) < 8e6 and seconds < 20


# ------------------------------------------------------------------------------------------
# Plots

def test_binary_plots_are_the_results_curves(binary):
    data = embedded(report.render_report(binary))["result"]
    for s in data["slices"]:
        if s["h"]:
            assert s["p"] is None
            continue
        plots = data["plots"][s["p"]]
        for model in ("candidate", "baseline"):
            want = binary.plots(s["s"], model)
            idx = page_data._thin(len(want["roc_curve"]["fpr"]))
            got = plots[model]
            assert got["roc"]["x"] == pytest.approx([want["roc_curve"]["fpr"][i] for i in idx],
                                                    abs=5e-5)
            assert got["roc"]["y"] == pytest.approx([want["roc_curve"]["tpr"][i] for i in idx],
                                                    abs=5e-5)
            pr = page_data._thin(len(want["pr_curve"]["recall"]))
            assert got["pr"]["y"] == pytest.approx(
                [want["pr_curve"]["precision"][i] for i in pr], abs=5e-5)
            cal = want["calibration"]
            assert got["cal"]["bins"] == cal["bins"]
            assert all(close(g, w, 1e-3) or (g is None and w is None) or abs(g - w) < 5e-5
                       for g, w in zip(got["cal"]["l"], cal["mean_label"]))
    # Every slice of this small result has its plots; none was left out.
    assert data["plots_left_out"] == 0


def test_multiclass_report_has_the_confusion_matrices(multiclass):
    page = report.render_report(multiclass)
    dom, data = parse(page), embedded(page)["result"]
    assert multiclass.task == "multiclass" and data["class_names"] == ["cat", "dog", "bird"]
    assert multiclass.blessed is False
    assert dom.find(cls="ar-badge").text() == "NOT_BLESSED"
    assert "accuracy" in rows_of(dom.find("table", "ar-failed"))[0][2]
    assert data["default_metrics"][0] == "accuracy" and "f1_macro" in data["default_metrics"]
    overall = data["slices"][0]
    cm = data["plots"][overall["p"]]
    for model in ("candidate", "baseline"):
        want = multiclass.plots({}, model)["confusion_matrix"]
        assert cm[model]["cm"]["labels"] == want["labels"]
        np.testing.assert_allclose(np.array(cm[model]["cm"]["m"], dtype=float),
                                   np.array(want["matrix"]), rtol=1e-4)
    east = next(s for s in data["slices"] if s["k"] == "region=east")
    assert east["h"].startswith("withheld:") and east["n"] < 50


def test_regression_report_without_a_baseline(regression):
    page = report.render_report(regression)
    dom, data = parse(page), embedded(page)["result"]
    assert regression.blessed is True and dom.find(cls="ar-badge").text() == "BLESSED"
    assert data["has_baseline"] is False
    assert all(s["b"] is None for s in data["slices"])
    table = dom.find("section", "ar-spec").find("table", "ar-slices")
    assert len(table.find("thead").find_all("tr")) == 1   # no cand / base / delta sub-columns
    assert [th.text() for th in table.find_all("th")][:3] == ["Slice", "Examples", "rmse"]
    res = data["plots"][data["slices"][0]["p"]]
    assert set(res) == {"candidate"}
    want = regression.plots({})["residuals"]
    idx = page_data._thin(len(want["quantiles"]))
    assert res["candidate"]["res"]["v"] == pytest.approx([want["values"][i] for i in idx],
                                                         rel=1e-4)


def test_regression_report_with_a_baseline_and_no_thresholds(regression_with_baseline):
    result = regression_with_baseline
    page = report.render_report(result)
    dom, data = parse(page), embedded(page)["result"]
    assert dom.find(cls="ar-badge").text() == "NOT_BLESSED"
    assert "no thresholds are configured" in dom.find("ul", "ar-reasons").text()
    north = next(s for s in data["slices"] if s["k"] == "region=north")
    rmse = data["metrics"].index("rmse")
    assert north["c"][rmse] - north["b"][rmse] == result.metrics({"region": "north"},
                                                                 "diff")["rmse"]
    assert set(data["plots"][north["p"]]) == {"candidate", "baseline"}


# ------------------------------------------------------------------------------------------
# Comparisons

def test_compare_charts_each_metric_per_result_in_the_given_order(
        binary, binary_first_model, data_dir):
    results = [binary_first_model, binary]
    page = report.render_report(results, labels=["v1", "v2"])
    dom, data = parse(page), embedded(page)
    assert data["kind"] == "compare"
    assert [r["label"] for r in data["runs"]] == ["v1", "v2"]
    assert [r["blessed"] for r in data["runs"]] == [True, False]
    tl = data["timeline"]
    overall = next(s for s in tl["slices"] if s["k"] == "overall")
    auc = tl["metrics"].index("auc")
    assert [v[auc] for v in overall["c"]] == pytest.approx(
        [r.metrics()["auc"] for r in results], rel=1e-5)
    assert overall["b"][0] is None and overall["b"][1][auc] == pytest.approx(
        binary.metrics({}, "baseline")["auc"], rel=1e-5)
    hour = next(s for s in tl["slices"] if s["k"] == "hour=3")
    assert hour["c"][0] is None            # the first run did not slice by hour
    runs = rows_of(dom.find("table", "ar-runs"))
    assert [r[:2] for r in runs] == [["v1", "BLESSED"], ["v2", "NOT_BLESSED"]]
    assert data["result"]["path"] == binary.path   # the full report is the last one's
    assert "Latest result: v2" in dom.find("h2", "ar-latest").text()
    # Labels default to the directory names.
    assert report.run_labels(results) == ["first", "binary"]


# ------------------------------------------------------------------------------------------
# Self-contained and safe

def test_the_page_needs_nothing_from_the_network(binary):
    page = report.render_report(binary)
    dom = parse(page)
    for node in dom.iter():
        for attr in ("src", "href", "action", "data"):
            assert attr not in node.attrs, (node.tag, node.attrs)
    assert not dom.find_all("link") and not dom.find_all("iframe")
    scripts = [s.text() for s in dom.find_all("script") if "ar-data" not in s.classes]
    assert len(scripts) == 1
    for word in ("http://", "https://", "fetch(", "XMLHttpRequest", "import(", "localStorage",
                 "document.cookie", "eval("):
        assert word not in scripts[0] and word not in dom.find("style").text()


def test_slice_values_are_escaped_and_read_back_intact(binary):
    nasty = '</script><script>alert("x")</script><b>&'
    records = [dict(r, slice={"name": nasty}) if r["slice"] == {"payment": "cash"} else r
               for r in binary.records]
    plots = [dict(p, slice={"name": nasty}) if p["slice"] == {"payment": "cash"} else p
             for p in binary.plot_records]
    result = EvalResult({**binary.info, "records": records, "slicing_specs": [
        {"name": "overall", "spec": []}, {"name": "name", "spec": ["name"]}]},
        {"records": plots}, binary.validation, path=binary.path)
    page = report.render_report(result)
    assert "<script>alert" not in page
    assert len(re.findall(r"<script", page)) == 2
    data = embedded(page)["result"]
    assert any(s["s"] == {"name": nasty} and s["k"] == f"name={nasty}" for s in data["slices"])
    cells = [td.text() for td in parse(page).find_all("td", "ar-sl")]
    assert f"name={nasty}" in cells


def test_nan_and_infinite_values():
    records = [{"slice": {}, "model": "candidate",
                "metrics": {"example_count": 10.0, "auc": float("nan"), "calibration": float("inf"),
                            "mean_label": 0.0}}]
    data = report.report_data(EvalResult({"version": 1, "task": "binary", "records": records}))
    s = data["result"]["slices"][0]
    names = data["result"]["metrics"]
    assert s["c"][names.index("auc")] is None
    assert s["c"][names.index("calibration")] == "Infinity"
    assert report.fmt(float("nan")) == "NaN" and report.fmt(float("-inf")) == "-∞"
    json.dumps(data, allow_nan=False)  # the embedded document is strict JSON


def test_withheld_slice_shows_its_count_from_the_record_not_the_reason_text():
    records = [{"slice": {}, "model": "candidate", "metrics": {"example_count": 500, "auc": 0.8}},
               {"slice": {"store": "a"}, "model": "candidate", "withheld": "withheld: too few",
                "example_count": 7}]
    result = EvalResult({"version": 1, "task": "binary", "min_slice_size": 30,
                         "records": records})
    page = report.render_report(result)
    row = next(s for s in embedded(page)["result"]["slices"] if s["s"] == {"store": "a"})
    assert row["n"] == 7 and row["h"] == "withheld: too few"
    cells = parse(page).find("tr", "ar-withheld").find_all("td")
    assert [c.text() for c in cells] == ["store=a", "7", "withheld: too few"]


def test_the_report_does_not_import_the_results_format():
    # The report takes EvalResult objects; EvalResult renders itself in a notebook through the
    # report. One direction only, so no import circle.
    assert loaded_modules("import assay.report.html", ("assay.results",)) == \
        ["assay.results", "assay.results.slices"]


def test_fmt():
    assert report.fmt(0.773142335) == "0.7731"
    assert report.fmt(100000.0) == "100,000"
    assert report.fmt(0.0394, signed=True) == "+0.0394"
    assert report.fmt(-0.0612, signed=True) == "-0.0612"
    assert report.fmt(None) == "NaN" and report.fmt(2.5e-7) == "2.5e-7"
    # The page's script writes numbers by the same rule (tests/test_report_browser.py checks
    # the two agree): 4 significant digits in plain form below 1e6, ties away from zero.
    assert report.fmt(12345.6) == "12350" and report.fmt(-12345.6) == "-12350"
    assert report.fmt(1234.5) == "1235" and report.fmt(1.0625) == "1.063"
    assert report.fmt(1234567.8) == "1.235e+6" and report.fmt(1.2e-5) == "1.2e-5"
    assert report.fmt(999999.7) == "1000000" and report.fmt(-0.0) == "0"


# ------------------------------------------------------------------------------------------
# Files, notebook, command line

def test_write_report_writes_into_the_results_by_default(binary, tmp_path):
    path = report.write_report(binary)
    assert path == os.path.join(binary.path, report.REPORT_FILE)
    page = open(path, encoding="utf-8").read()
    assert page.startswith("<!DOCTYPE html>") and embedded(page)["result"]["path"] == binary.path
    assert not [f for f in os.listdir(binary.path) if f.startswith(".report.")]
    assert os.stat(path).st_mode & 0o044 == 0o044   # readable by others, like the results
    other = report.write_report(binary, str(tmp_path / "sub" / "r.html"))
    assert os.path.exists(other)
    with pytest.raises(ValueError, match="comparison report needs an output file"):
        report.write_report([binary, binary])
    with pytest.raises(TypeError, match=r"must be an EvalResult \(got 42, a int\)"):
        report.render_report(42)
    # Reading a directory is the caller's job (assay.load_result): the report takes results.
    with pytest.raises(TypeError, match="read a results directory with assay.load_result"):
        report.write_report(binary.path)
    with pytest.raises(TypeError, match="must be an EvalResult"):
        report.render_report([binary, binary.path])


def test_notebook_fragment_is_scoped_and_unique(binary):
    one, two = report.render_notebook(binary), binary._repr_html_()
    for fragment in (one, two):
        assert "<html" not in fragment and "<body" not in fragment
        dom = parse(fragment)
        root = dom.find("div", "assay-report")
        assert root.attrs["id"].startswith("assay-")
        # The verdict and the tables are plain HTML, for notebooks that do not run scripts.
        assert root.find(cls="ar-badge").text() == "NOT_BLESSED"
        assert root.find_all("table", "ar-slices")
        css = root.find("style").text()
        css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
        selectors = re.findall(r"(?:^|})\s*([^{}@/]+?)\s*{", css)
        assert selectors and all(all(part.strip().startswith(".assay-report")
                                     for part in sel.split(","))
                                 for sel in selectors), selectors
    assert parse(one).find("div", "assay-report").attrs["id"] != \
        parse(two).find("div", "assay-report").attrs["id"]
    data = embedded(one)["result"]
    assert len(json.dumps(data["plots"])) <= report.NOTEBOOK_PLOT_BUDGET * 1.2


def test_cli_report_and_compare(binary, binary_first_model, tmp_path, capsys):
    out = tmp_path / "r.html"
    assert cli.main(["report", binary.path, "-o", str(out)]) == 0
    assert f"report written to {out}" in capsys.readouterr().out
    assert embedded(out.read_text())["kind"] == "single"
    compare = tmp_path / "c.html"
    assert cli.main(["report", "--compare", binary_first_model.path, binary.path,
                     "--labels", "old", "new", "-o", str(compare)]) == 0
    assert [r["label"] for r in embedded(compare.read_text())["runs"]] == ["old", "new"]
    for bad in ([], [binary.path, "--compare", binary.path],
                ["--compare", binary.path, "--labels", "a", "b"]):
        with pytest.raises(SystemExit) as e:
            cli.main(["report", *bad])
        assert e.value.code == cli.EXIT_USAGE
    assert cli.main(["report", str(tmp_path / "nothing")]) == cli.EXIT_USAGE
    assert "holds no assay results" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------
# Confidence intervals (`confidence:`): interval bars in the tables and charts

@pytest.fixture(scope="module")
def binary_with_intervals(data_dir):
    """BINARY with intervals and a noise-aware gate."""
    config = dict(BINARY, confidence={"replicates": 20, "seed": 1}, on_inconclusive="pass")
    return assay.evaluate(config, str(data_dir / "trips.parquet"),
                          str(data_dir / "binary_ci"))


def test_intervals_are_embedded_per_slice_only_when_present(binary, binary_with_intervals):
    assert all("ci" not in s and "di" not in s
               for s in page_data.report_data(binary)["result"]["slices"])
    data = page_data.report_data(binary_with_intervals)["result"]
    metrics = data["metrics"]
    records = {(json.dumps(r["slice"], sort_keys=True), r["model"]): r
               for r in binary_with_intervals.records}
    auc = metrics.index("auc")
    shown = 0
    for s in data["slices"]:
        if s["h"]:
            assert "ci" not in s
            continue
        key = json.dumps(s["s"], sort_keys=True)
        for field, model in (("ci", "candidate"), ("di", "diff")):
            iv = records[(key, model)]["intervals"]["auc"]
            assert s[field][auc] == [iv["lower"], iv["upper"]]
            shown += 1
    assert shown > 4


def test_the_page_shows_interval_text_and_inconclusive_checks(binary_with_intervals):
    page = report.render_report(binary_with_intervals)
    checks = binary_with_intervals.validation["checks"]
    assert all(c["outcome"] in ("pass", "fail", "inconclusive") for c in checks)
    unsure = sum(c["outcome"] == "inconclusive" for c in checks)
    summary = parse(page).find_all("details", "ar-allchecks")[0].find_all("summary")[0].text()
    assert summary.endswith(f"({unsure:,} inconclusive)") == (unsure > 0)
    # The script that draws them is in the page (the browser test draws them).
    assert ".ar-whisker" in page and "ciText" in page
