"""The report's table of every model on the overall slice, for evaluations of more than two
models or with cross-model metrics (flip rates, ...): one row per model (candidate, baseline,
the benchmarks) and one per diff against the baseline ("diff", "diff:NAME").

    MODEL_TABLE = {"metrics": [names], "rows": [{"model": name, "diff": bool,
                   "v": [value per metric, null where the record has none]}]}

Two-model evaluations without cross-model metrics have none (the slice tables show both
models), so their reports do not change.

Example:
    >>> table = model_table([
    ...     {"slice": {}, "model": "candidate", "metrics": {"auc": 0.8}},
    ...     {"slice": {}, "model": "previous", "metrics": {"auc": 0.7}}], ["auc"])
    >>> [(r["model"], r["v"]) for r in table["rows"]]
    [('candidate', [0.8]), ('previous', [0.7])]
"""

from __future__ import annotations

import html
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from assay.config.model_names import BASELINE, CANDIDATE, diff_of
from assay.metrics.cross_names import is_cross_name


def model_table(records: Sequence[Mapping[str, Any]], metrics: Sequence[str]
                ) -> Optional[Dict[str, Any]]:
    """MODEL_TABLE of the overall slice's records, showing `metrics` (and every cross-model
    metric found); None when there are two models or fewer and no cross-model metric."""
    overall = [r for r in records if not r.get("slice") and "metrics" in r]
    models = [r["model"] for r in overall]
    cross = list(dict.fromkeys(n for r in overall for n in r["metrics"] if is_cross_name(n)))
    own = [m for m in models if diff_of(m) is None]
    if len([m for m in own if m not in (CANDIDATE, BASELINE)]) == 0 and not cross:
        return None
    names = [m for m in metrics if not is_cross_name(m)] + cross
    rows = [{"model": r["model"], "diff": diff_of(r["model"]) is not None,
             "v": [r["metrics"].get(n) for n in names]} for r in overall]
    return {"metrics": names, "rows": rows}


def model_table_html(table: Optional[Mapping[str, Any]], fmt: Callable[..., str]) -> str:
    """The table as plain HTML ("" for None); `fmt` formats a number as the report does."""
    if not table:
        return ""
    e = lambda v: html.escape(str(v), quote=True)  # noqa: E731 - a one-line local helper
    head = "".join(f"<th>{e(m)}</th>" for m in table["metrics"])
    body: List[str] = []
    for row in table["rows"]:
        label = f"{diff_of(row['model'])} vs baseline" if row["diff"] else row["model"]
        # A diff row's changes are signed; its cross-model metrics are plain values.
        cells = "".join(
            f'<td class="ar-num">{e(fmt(v, signed=row["diff"] and not is_cross_name(n)))}</td>'
            if v is not None else "<td></td>" for n, v in zip(table["metrics"], row["v"]))
        body.append(f'<tr class="ar-model-row"><td class="ar-sl">{e(label)}</td>{cells}</tr>')
    return (f'<section class="ar-models"><h2>Every model, overall</h2>'
            f'<table class="ar-t ar-models-t"><thead><tr><th>Model</th>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></section>')


__all__ = ["model_table", "model_table_html"]
