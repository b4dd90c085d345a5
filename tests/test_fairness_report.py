"""The report's fairness section (assay.report.fairness), read back with an HTML parser and
checked against the per-group rates computed here in numpy and the fairness section's values."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

import assay
from group_data import group_frame
from assay.report.fairness import _LABEL, _PAD, _W, section_html

SPAN = _W - _LABEL - 2 * _PAD


class Parsed(HTMLParser):
    """The svg bars and lines (with their titles), table cells and list items of a fragment."""

    def __init__(self, text):
        super().__init__()
        self.charts, self.cells, self.items, self.h3 = [], [], [], []
        self._open = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg":
            self.charts.append({"label": a["aria-label"], "rects": [], "lines": []})
        elif tag == "rect":
            self.charts[-1]["rects"].append(float(a["width"]))
        elif tag == "line":
            self.charts[-1]["lines"].append(float(a["x1"]))
        self._open = tag

    def handle_data(self, data):
        if self._open == "td":
            self.cells.append(data)
        elif self._open == "li":
            self.items.append(data)
        elif self._open == "h3":
            self.h3.append(data)

    def handle_endtag(self, tag):
        self._open = None


@pytest.fixture(scope="module")
def frame():
    return group_frame(4, 800, ["x", "y", "z"], lift=0.3, shift=0.15)


@pytest.fixture(scope="module")
def result(frame):
    return assay.evaluate({"label": "y", "models": {"candidate": {"prediction": "p"}},
                           "fairness": {"groups": [["g"]], "thresholds": [0.4, 0.6]},
                           "thresholds": [{"metric": "demographic_parity_ratio@0.4",
                                           "across": ["g"], "min": 0.99}]}, frame)


def test_bars_are_the_group_rates_at_the_first_threshold(frame, result):
    page = Parsed(section_html(result))
    assert page.h3 == ["g"]
    labels = [c["label"] for c in page.charts]
    assert labels == ["g: positive_rate@0.4", "g: true_positive_rate@0.4",
                      "g: false_positive_rate@0.4"]
    pred = frame.p > 0.4
    groups = sorted(frame.g.unique())
    order = [r["slice"]["g"] for r in result.records
             if r["model"] == "candidate" and r["slice"].get("g")]
    expected = {k: pred[frame.g == k].mean() for k in groups}
    widths = page.charts[0]["rects"]
    assert widths == pytest.approx([SPAN * expected[k] for k in order], abs=0.06)
    # The reference line sits at the overall rate (reference: overall).
    assert page.charts[0]["lines"][0] == pytest.approx(_LABEL + SPAN * pred.mean(), abs=0.06)
    tpr = {k: pred[(frame.g == k) & (frame.y == 1)].mean() for k in groups}
    assert page.charts[1]["rects"] == pytest.approx([SPAN * tpr[k] for k in order], abs=0.06)


def test_table_lists_every_group_metric_and_the_failed_check(result):
    page = Parsed(section_html(result))
    section = result.info["fairness"]["group_metrics"]["candidate"]["g"]
    rows = [page.cells[i:i + 5] for i in range(0, len(page.cells), 5)]
    table = {(r[1], r[2]): float(r[3]) for r in rows}
    assert len(table) == 16  # 4 metrics x 2 thresholds x 2 methods
    for method in ("between_groups", "to_reference"):
        for name, value in section[method].items():
            assert table[(name, method.replace("_", " "))] == pytest.approx(value, rel=1e-3)
    assert len(page.items) == 1 and "demographic_parity_ratio@0.4" in page.items[0]
    assert "below the minimum 0.99" in page.items[0]


def test_no_section_without_fairness(frame):
    res = assay.evaluate({"label": "y", "models": {"candidate": {"prediction": "p"}}}, frame)
    assert section_html(res) == ""


def test_label_free_section_shows_positive_rates_only(frame):
    res = assay.evaluate({"models": {"candidate": {"prediction": "p"}},
                          "fairness": {"groups": [["g"]], "thresholds": [0.5],
                                       "reference": {"g": "x"}}}, frame)
    page = Parsed(section_html(res))
    assert [c["label"] for c in page.charts] == ["g: positive_rate@0.5"]
    x_rate = (frame.p[frame.g == "x"] > 0.5).mean()
    assert page.charts[0]["lines"][0] == pytest.approx(_LABEL + SPAN * x_rate, abs=0.06)
    assert "Without a label" in section_html(res)


def test_the_full_report_holds_the_section(result):
    from assay.report.html import render_report

    page = render_report(result)
    assert page.count('<section class="ar-fairness">') == 1
    assert "g: positive_rate@0.4" in page
