"""The local engine's work units for one big file: byte ranges of uncompressed TFRecord and CSV
files, located in parallel (`assay.data.parts`).

    raw = raw_units(plan, workers)            # None: nothing to split
    units = located_units(plan.format, raw, pool.map)

A unit is (file, ByteRange or None, index of its first row in the file), as `EvalPlan.units`.
Only the local engine splits files this way: a Beam runner splits its own sources, and Beam's
DirectRunner gives one file one bundle anyway. Results do not depend on the split: each unit's
first row index is that of an unsplit read, so row keys (and with them `confidence:` intervals)
are the same for any number of workers.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Tuple

from assay.data import files as assay_files
from assay.data import parts
from assay.data.framing import ByteRange
from assay.engine.plan import EvalPlan

Unit = Tuple[str, Optional[object], int]

# A file is cut into this many parts per worker, none smaller than MIN_PART_BYTES. One: each
# part's partials are handed over and merged, and a slice's exact score counts are kept per
# part until it outgrows max_exact there; with 4 parts a worker, 5 million CSV rows took 2-3 s
# more CPU in all (of about 19 s) for no shorter wall time on 2 workers (docs/benchmarks.md).
PARTS_PER_WORKER = 1
MIN_PART_BYTES = 1 << 23


def raw_units(plan: EvalPlan, workers: int) -> Optional[List[Unit]]:
    """The plan's units with each big local uncompressed TFRecord or CSV file cut into byte
    ranges whose starts are not yet located (first row -1); None when no file is cut."""
    if workers < 2 or plan.units or plan.format not in ("tfrecord", "csv"):
        return None
    units: List[Unit] = []
    for path in plan.files:
        cut = (parts.cut(path, plan.format, workers * PARTS_PER_WORKER, MIN_PART_BYTES)
               if assay_files.is_local(path) else [])
        units += [(path, r, -1) for r in cut] if cut else [(path, None, 0)]
    return units if len(units) > len(plan.files) else None


def _locate(unit: Unit, fmt: str) -> parts.Located:
    return parts.locate(unit[0], fmt, unit[1])


def located_units(fmt: str, raw: List[Unit], map_fn: Callable = map,
                  batch_size: int = 1) -> List[Unit]:
    """The units with each cut file's parts located (`map_fn` runs `parts.locate` on them,
    e.g. a pool's map), each starting at a multiple of `batch_size` records (`parts.join`);
    a file that may not be split (a CSV file with quotes) is one unit."""
    cut = [u for u in raw if isinstance(u[1], ByteRange)]
    found = dict(zip(((u[0], u[1]) for u in cut), map_fn(_locate, cut, [fmt] * len(cut))))
    by_file: Dict[str, List[ByteRange]] = {}
    for path, r, _ in cut:
        by_file.setdefault(path, []).append(r)
    joined = {path: parts.join(path, fmt, rs, [found[(path, r)] for r in rs], batch_size)
              for path, rs in by_file.items()}
    units: List[Unit] = []
    for path, r, first in raw:
        if not isinstance(r, ByteRange):
            units.append((path, r, first))
        elif r == by_file[path][0]:  # once per file, in order
            located = joined[path]
            units += [(path, p, p.first_index) for p in located] if located else [(path, None, 0)]
    return units
