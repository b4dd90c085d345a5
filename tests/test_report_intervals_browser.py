"""The report's interval bars in a real browser (headless Chromium, as in
tests/test_report_browser.py): with `confidence:` each value and change cell shows its interval
and the bar chart draws a whisker per slice; without it, neither appears."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

import assay
from assay import demo
from assay.report import html as report
from test_report_browser import TRIPS_CONFIG, Browser, find_chromium, js_spec  # noqa: F401


@pytest.fixture(scope="module")
def browser():
    binary = find_chromium()
    if binary is None:
        pytest.fail("no Chromium found (install it with tests/install_chromium.sh, or set "
                    "ASSAY_CHROMIUM): the report's browser tests need a real browser")
    with Browser(binary) as b:
        yield b


@pytest.fixture(scope="module")
def trips_with_intervals(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser_ci")
    pq.write_table(demo.make_trips(6_000, seed=2), str(root / "trips.parquet"))
    config = dict(TRIPS_CONFIG, confidence={"replicates": 20})
    result = assay.evaluate(config, str(root / "trips.parquet"), str(root / "out"))
    return result, report.write_report(result)


def test_interval_text_in_cells_and_whiskers_in_the_bar_chart(browser, trips_with_intervals):
    result, path = trips_with_intervals
    browser.open(path)
    assert browser.errors() == []
    names = list(dict.fromkeys(m for r in result.records if r["model"] == "candidate"
                               for m in r.get("metrics", {})))
    auc = names.index("auc")
    ivs = {json.dumps(r["slice"], sort_keys=True): r["intervals"]["auc"]
           for r in result.records if r["model"] == "candidate" and "intervals" in r
           and list(r["slice"]) == ["payment"]}
    # The payment table: the auc cell of each row holds "[lower, upper]" as the page formats it.
    cells = browser.evaluate(f"""(() => {{
        const v = {js_spec('payment')};
        return v.view.map(j => [JSON.stringify(v.R.slices[j].s),
                                v.R.slices[j].ci ? v.R.slices[j].ci[{auc}] : null]);
    }})()""")
    assert len(cells) >= 3
    for key, ci in cells:
        iv = ivs[json.dumps(json.loads(key), sort_keys=True)]
        assert ci == [iv["lower"], iv["upper"]]
    texts = browser.evaluate(f"[...{js_spec('payment')}.section.querySelectorAll('.ar-ci')]"
                             ".map(e => e.textContent)")
    assert len(texts) >= len(cells) and all(t.startswith("[") and ", " in t for t in texts)
    # The bar chart of auc: one whisker per bar, its ends at the interval's ends.
    browser.evaluate(f"""(() => {{ const v = {js_spec('payment')};
        v.barMetric = {auc}; v.barModel = 'c'; v.renderBars(); }})()""")
    bars = browser.evaluate(f"{js_spec('payment')}.section.querySelectorAll('.ar-bar').length")
    whiskers = browser.evaluate(
        f"[...{js_spec('payment')}.section.querySelectorAll('.ar-bar .ar-whisker')]"
        ".map(p => p.getBBox().width)")
    assert bars == len(cells) and len(whiskers) == bars
    assert all(w > 0 for w in whiskers)
    note = browser.evaluate(f"{js_spec('payment')}.section.querySelector('.ar-barchart h4')"
                            ".textContent")
    assert "whiskers: confidence intervals" in note


def test_no_intervals_no_whiskers(browser, tmp_path):
    pq.write_table(demo.make_trips(3_000, seed=3), str(tmp_path / "trips.parquet"))
    result = assay.evaluate(TRIPS_CONFIG, str(tmp_path / "trips.parquet"), str(tmp_path / "o"))
    browser.open(report.write_report(result))
    assert browser.errors() == []
    assert browser.evaluate("document.querySelectorAll('.ar-ci, .ar-whisker').length") == 0
