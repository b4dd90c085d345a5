"""The benchmark's results as markdown, written between markers into docs/benchmarks.md.

    text = render(results)                      # results: the dict bench/run.py writes as JSON
    replace_between_markers("docs/benchmarks.md", text)
"""

from __future__ import annotations

import os
from typing import Dict, List, Optional

BEGIN = "<!-- bench:results:begin (written by bench/run.py; edits here are replaced) -->"
END = "<!-- bench:results:end -->"


def _n(value: Optional[float], digits: int = 3) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def _count(n: Optional[int]) -> str:
    return "-" if n is None else f"{n:,}"


def _ratio(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.2f}x" if value < 100 else f"{value:,.0f}x"


def _table(header: List[str], rows: List[List[str]]) -> List[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def render(results: Dict) -> str:
    m = results["machine"]
    lines = [
        f"Measured {results['date']} with `{results['command']}`",
        f"(git {results.get('git', '?')}).",
        "",
        f"Machine: {m['nproc']} cores ({m['cpu']}), {m['memory_gb']} GB memory, {m['platform']}, "
        f"Python {m['python']}; load average {m['load_average'][0]:.1f} at the start and "
        f"{results.get('load_average_end', [float('nan')])[0]:.1f} at the end (a quiet machine "
        f"is near 0).",
        "",
        f"TFRecord files {'gzipped' if results.get('compressed', True) else 'uncompressed'}; "
        f"Python bytecode: {results.get('bytecode', 'unknown')}.",
        "",
    ]
    if results.get("notes"):
        lines += [f"> {note}" for note in results["notes"]] + [""]
    lines += ["### Runs", ""]
    rows = []
    for r in results["rows"]:
        rows.append([r["workload"], r["what"], _count(r.get("examples")), _n(r.get("wall_s")),
                     _n(r.get("examples_per_s")), _n(r.get("peak_rss_mb")),
                     _n(r.get("peak_pss_mb")), _ratio(r.get("vs_tfma")),
                     _ratio(r.get("vs_floor")), r.get("note", "")])
    lines += _table(["workload", "what", "examples", "wall s", "examples/s", "peak RSS MB",
                     "peak PSS MB", "speed vs TFMA", "time vs floor", "note"], rows)
    lines += ["", "### Targets", ""]
    rows = []
    for t in results["targets"]:
        verdict = {True: "pass", False: "**miss**", None: "n/a"}[t.get("passed")]
        rows.append([t["target"], t["measured"], t["goal"], verdict])
    lines += _table(["target", "measured", "goal", "verdict"], rows)
    lines += ["", "### Correctness (assay against the reference, every slice)", ""]
    rows = []
    metrics = ["example_count", "auc", "accuracy", "precision", "recall", "mean_label",
               "mean_prediction", "auc_pr"]
    for c in results["checks"]:
        diffs = c.get("max_abs_diff", {})
        rows.append([c["workload"], c["reference"], str(c.get("compared", "-"))] +
                    [_n(diffs.get(k), 2) if k in diffs else "-" for k in metrics] +
                    ["match" if c.get("ok") else "**differ**"])
    lines += _table(["workload", "reference", "(slice, model) pairs"] +
                    [f"max abs diff {k}" for k in metrics] + ["verdict"], rows)
    lines.append("")
    return "\n".join(lines)


def replace_between_markers(path: str, text: str) -> None:
    """Puts text between BEGIN and END in the file (appending the markers if absent)."""
    current = ""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            current = f.read()
    block = f"{BEGIN}\n{text}\n{END}"
    if BEGIN in current and END in current:
        head, rest = current.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        new = head + block + tail
    else:
        new = current.rstrip("\n") + ("\n\n" if current else "") + block + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(new)
