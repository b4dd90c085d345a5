"""The in-run figures of an assay run, from its `--timings` files (assay.timings).

    summary = stage_times.summarise([doc, doc, doc])   # one --timings document per repeat
    summary["metrics_cpu_s"], summary["pass_wall_s"]

Ratios of two runs' end-to-end times against a floor measured in a third process are
ill-conditioned: the floor is most of each run, so a few percent of drift between processes
moves the difference by tens of percent. The in-run figures need no subtraction:

  - metrics part (target (c)): CPU seconds of accumulate + merge + compute + write, that is
    everything but reading and decoding, predicting and startup, best of the repeats.
  - pass (target (b)): the loop the floor runs plus assay's slicing and metrics, best of the
    repeats. With one worker the pass runs in the driver's merge span (assay.timings'
    "driver"), whose CPU is that of every thread of the process: a TensorFlow model predicts
    on TensorFlow's own threads, which the stages' thread CPU clocks do not see. The floor's
    loop_cpu_s is the same clock around its loop. Its wall seconds (read + predict +
    accumulate) are kept too, against the floor's loop_s.
"""

from __future__ import annotations

import json
import os
from typing import Dict, List, Optional, Sequence

METRICS_PART = ("accumulate", "merge", "compute", "write")
PASS = ("read", "predict", "accumulate")


def _sum(doc: Dict, stages: Sequence[str], clock: str) -> float:
    return sum(doc["stages"][s][clock] for s in stages)


def load(paths: Sequence[str]) -> List[Dict]:
    """The --timings documents that exist among `paths` (a failed run writes none)."""
    docs = []
    for path in paths:
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                docs.append(json.load(f))
    return docs


def summarise(docs: Sequence[Dict]) -> Optional[Dict]:
    """The best (smallest) of each in-run figure over the repeats; None without documents.

    Example:
        >>> stages = {s: {"cpu_s": 1.0, "wall_s": 2.0} for s in PASS + ("merge", "compute",
        ...                                                              "write")}
        >>> summarise([{"stages": stages}])["metrics_cpu_s"]
        4.0
    """
    if not docs:
        return None
    best = min(docs, key=lambda d: _sum(d, METRICS_PART, "cpu_s"))
    spans = [d["driver"]["merge"]["process_cpu_s"] for d in docs
             if "merge" in d.get("driver", {})]
    return {"metrics_cpu_s": _sum(best, METRICS_PART, "cpu_s"),
            "pass_cpu_s": min(_sum(d, PASS, "cpu_s") for d in docs),
            "pass_process_cpu_s": min(spans) if len(spans) == len(docs) else None,
            "pass_wall_s": min(_sum(d, PASS, "wall_s") for d in docs),
            "stages": best["stages"], "repeats": len(docs)}


def metrics_part(run: Optional[Dict]) -> Optional[float]:
    """The metrics part's CPU seconds of a bench run (its "timings" summary), or None."""
    t = (run or {}).get("timings")
    return t["metrics_cpu_s"] if t else None


def pass_process_cpu(run: Optional[Dict]) -> Optional[float]:
    """The pass's CPU seconds, every thread (one worker: the driver's merge span), or None."""
    t = (run or {}).get("timings")
    return t.get("pass_process_cpu_s") if t else None


def pass_wall(run: Optional[Dict]) -> Optional[float]:
    """The pass's wall seconds (read + predict + accumulate) of a bench run, or None."""
    t = (run or {}).get("timings")
    return t["pass_wall_s"] if t else None
