"""The report's discovered-slices section (assay.report.discovered), parsed back with the
standard library's HTML parser: the values shown, the order, the links, the escaping."""

from __future__ import annotations

import types
from html.parser import HTMLParser

from assay.report.discovered import section_html


class _Tables(HTMLParser):
    """Rows of cell texts per table, every href, and the id of each row."""

    def __init__(self):
        super().__init__()
        self.tables, self.hrefs, self.row_ids = [], [], []
        self._cell = None
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._depth += 1
            if self._depth == 1:
                self.tables.append([])
        elif tag == "tr" and self._depth == 1:
            self.tables[-1].append([])
            self.row_ids.append(attrs.get("id"))
        elif tag in ("td", "th") and self._depth == 1:
            self._cell = []
        elif tag in ("td", "th") and self._cell is not None:  # a nested table's cell
            self._cell.append(" ")
        elif tag == "a":
            self.hrefs.append(attrs.get("href"))

    def handle_endtag(self, tag):
        if tag == "table":
            self._depth -= 1
        elif tag in ("td", "th") and self._depth == 1 and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _slice(name, size, error, rest, confirmed, q, metrics=None):
    s = {"slice": name, "size": size, "examples": 2 * size, "error": error,
         "rest_error": rest, "effect": error - rest, "p_value": q / 4, "q_value": q,
         "confirmed": confirmed, "score": 0.3}
    if metrics:
        s["metrics"] = metrics
    return s


SECTION = {"settings": {"error": "regression", "loss": "log_loss", "q": 0.05},
           "examples": 5000, "overall_error": 0.01,
           "slices": [
               _slice({"hour": 3}, 80, 0.3, 0.1, False, 0.4),
               _slice({"region": "<north>", "seg": "b&c"}, 120, 0.5, 0.02, True, 0.001,
                      {"candidate": {"auc": 0.61, "accuracy": 0.55},
                       "baseline": {"auc": 0.9, "accuracy": 0.9}}),
               _slice({"amount": "[12.5, 40.0)"}, 300, 0.2, 0.0, True, 0.02,
                      {"candidate": {"auc": 0.7}})]}


def _render(section):
    return section_html(types.SimpleNamespace(info={"discovered": section}))


def test_table_shows_values_confirmed_first_and_links_to_metrics():
    page = _render(SECTION)
    parsed = _Tables()
    parsed.feed(page)
    table, metrics = parsed.tables
    assert table[0] == ["slice", "size", "error", "rest", "effect", "p", "q", "confirmed", ""]
    assert table[1] == ["region = <north>, seg = b&c", "120", "0.5", "0.02", "0.48", "0.00025",
                        "0.001", "yes", "metrics and plots"]
    assert [r[0] for r in table[1:]] == ["region = <north>, seg = b&c", "amount = [12.5, 40.0)",
                                         "hour = 3"]
    assert table[3][7:] == ["no", ""]
    assert parsed.hrefs == ["#ar-discovered-0", "#ar-discovered-1"]
    # Each link's target is the details row of the same slice, holding its metrics.
    ids = [i for i in parsed.row_ids if i]
    assert ids == ["ar-discovered-0", "ar-discovered-1"]
    assert metrics[0][0] == "region = <north>, seg = b&c (240 examples)"
    assert metrics[0][1].split() == ["model", "auc", "accuracy", "candidate", "0.61", "0.55",
                                     "baseline", "0.9", "0.9"]
    assert "2 confirmed of 3 reported" in page
    assert "paired regression (candidate log_loss - baseline)" in page


def test_values_are_escaped():
    page = _render(SECTION)
    assert "&lt;north&gt;" in page and "<north>" not in page
    assert "b&amp;c" in page
    evil = dict(SECTION, settings={"error": "<script>alert(1)</script>", "q": 0.05})
    assert "<script>" not in _render(evil)


def test_nothing_without_a_section_and_a_line_without_slices():
    assert section_html(types.SimpleNamespace(info={})) is None
    empty = _render(dict(SECTION, slices=[]))
    assert "No slice scored above the rest." in empty and "<table" not in empty


def test_an_unavailable_search_says_why():
    page = _render(dict(SECTION, slices=[], unavailable="no baseline <model> was evaluated"))
    assert "Not searched: no baseline &lt;model&gt; was evaluated." in page
