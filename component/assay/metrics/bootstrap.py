"""Poisson bootstrap replicates, accumulated in the same pass as the metrics.

With `confidence:` on, every example (or every unit: all rows with one value of the unit
column) gets a weight in each of R replicates, drawn from Poisson(1): replicate r is the data
set in which the example appears that many times. A metric's value on each replicate gives its
bootstrap distribution; the interval at `level` is the percentile interval (the (1-level)/2 and
(1+level)/2 quantiles of the replicate values, numpy's linear interpolation), and `stderr` is
the standard deviation of the replicate values (ddof=1).

Determinism. The weight of an example in replicate r is a pure function of (seed, r, key), the
key being a 64-bit hash of its identity, so it never depends on which worker or batch read it:

  * without `unit`, the identity is (file, row index within the file): assay reads whole files
    (and whole Parquet parts, which know their first row) in order, so the row index of an
    example is the same on every engine, worker count and batch size. The file is named by its
    path relative to the common directory of all input files (its base name for a single
    file), so the same files give the same intervals wherever they are stored. A hash of the
    row's content would not do: identical rows would share weights (or, with an occurrence
    counter, depend on the order in which shards are read).
  * with `unit`, the identity is the unit's value as text (str(value), utf-8): every row of a
    unit gets the same weights, in whatever file or batch it lies. A row without a unit value
    is resampled on its own (keyed by its file and row, as above).

The generator is counter-based (splitmix64's finaliser, a bijective 64-bit mixer): the key,
the seed and the replicate block are mixed into 64 random bits, split into four 16-bit
uniforms, each mapped to a Poisson(1) count by inverse CDF (a 65536-entry table; counts above 8
have probability < 1e-5 and are cut at 8).

Paired differences: every model sees the same rows with the same keys, so candidate and baseline
replicate r are the same resample and the diff's replicate r is their difference.

Accumulation. `Replicated` wraps a metric family: its accumulator holds the family's own
(the point estimate) and the replicates'. A family with a vectorised replicate form
(`replicate_accumulate`, `replicate_merge`, `replicate_values`: BinaryMetrics, see
assay.metrics.binary_replicates) gets it: weighted sums by matrix products of the [n, R] weight
matrix. Any other family (custom metrics included) gets the generic form: each replicate is a
resample in which a row appears as many times as its weight, fed to the family's own
add_grouped with the replicate as an extra grouping key, so R accumulators per slice, each
with the family's own cost (about 1x the family's cost per replicate).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

from assay.metrics.base import Metric
from assay.metrics.batch import ModelBatch

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MAX_COUNT = 8
REPLICATE_CHUNK_ROWS = 1 << 20  # rows of a generic resample handed to a family at once


def _poisson_table() -> np.ndarray:
    """uint8 [65536]: the Poisson(1) count whose CDF interval holds (u + 0.5) / 65536."""
    cdf = np.cumsum([math.exp(-1) / math.factorial(k) for k in range(_MAX_COUNT)])
    u = (np.arange(65536) + 0.5) / 65536
    return np.searchsorted(cdf, u, side="right").astype(np.uint8)


POISSON_TABLE = _poisson_table()
_TABLE32 = POISSON_TABLE.astype(np.float32)


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, elementwise on uint64 (wrapping arithmetic)."""
    x = np.asarray(x, np.uint64)
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * np.uint64(0xBF58476D1CE4E5B9)
        x = x ^ (x >> np.uint64(27))
        x = x * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def text_key(text: str) -> int:
    """A stable 64-bit key of a string (blake2b; Python's hash() differs between processes)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def row_keys(file_name: str, rows: np.ndarray) -> np.ndarray:
    """uint64 [n]: the keys of rows `rows` (int64 [n], indices within the file) of a file."""
    with np.errstate(over="ignore"):
        return mix64(np.uint64(text_key(file_name)) + mix64(np.asarray(rows, np.uint64)))


def unit_keys(values: np.ndarray) -> np.ndarray:
    """uint64 [n]: the keys of unit values (any dtype; hashed as str(value) in utf-8).

    Each distinct value is hashed once (per batch), not each row.
    """
    values = np.asarray(values)
    if values.dtype.kind == "f" and np.all(values == np.floor(values)):
        values = values.astype(np.int64)  # 7.0 read from CSV is the unit 7 of a tf.Example
    uniques, inverse = np.unique(values, return_inverse=True)
    keys = np.array([text_key("unit:" + str(v)) for v in uniques.tolist()], np.uint64)
    return keys[inverse]


def file_names(files: Sequence[str]) -> Dict[str, str]:
    """{path: its name for row keys}: the path relative to the files' common directory."""
    parts = [f.replace("\\", "/").split("/") for f in files]
    common = 0  # leading directory components that every file shares
    while all(len(p) > common + 1 and p[common] == parts[0][common] for p in parts):
        common += 1
    return {f: "/".join(p[common:]) for f, p in zip(files, parts)}


def replicate_weights(keys: np.ndarray, seed: int, replicates: int,
                      ones_column: bool = False) -> np.ndarray:
    """float32 [n, R]: Poisson(1) weights of the rows with the given keys (uint64 [n]); small
    integers, exact in float32, which halves the memory the accumulators stream through.
    With `ones_column`, [n, R + 1]: a last column of ones (the full data), so that one
    product gives the replicates' sums and the point sums together."""
    keys = np.asarray(keys, np.uint64)
    blocks = (replicates + 3) // 4
    with np.errstate(over="ignore"):
        base = mix64(keys ^ mix64(np.uint64(seed) + _GOLDEN))
        counters = (np.arange(1, blocks + 1, dtype=np.uint64) * _GOLDEN)[None, :]
        bits = mix64(base[:, None] + counters)  # [n, blocks]
    u16 = bits.astype("<u8").view("<u2").reshape(len(keys), blocks * 4)[:, :replicates]
    out = np.empty((len(keys), replicates + int(ones_column)), np.float32)
    out[:, :replicates] = _TABLE32[u16]
    if ones_column:
        out[:, replicates] = 1.0
    return out


def example_products(rows: np.ndarray, data: np.ndarray, n_rows: int, weights: np.ndarray,
                     weight_rows: Optional[np.ndarray] = None) -> np.ndarray:
    """[n_rows, R]: out[rows[i, e]] += data[i, e] * weights[weight_rows[i]] over examples i
    and their entries e: per-cell weighted sums of every replicate at once.

    Args:
      rows: int64 [n, E], the output row of each entry of each example.
      data: [n, E], its value.
      n_rows: the number of output rows.
      weights: float32 [m, R], the replicate weights (ModelBatch.replicate_weights).
      weight_rows: int64 [n], the row of `weights` of each example; None: example i is row i.

    A sparse matrix product (scipy's, when installed: about n * E * R multiply-adds, float32:
    the weights are small integers, exact, and a product is rounded at 6e-8); without scipy,
    the same sums in float64 by sorting the entries and differencing running sums (slower).
    """
    n, E = rows.shape
    try:
        import scipy.sparse as sparse
    except ImportError:  # the light core: numpy alone
        sparse = None
    if weight_rows is None:
        weight_rows = np.arange(n)
    if sparse is not None:
        m = sparse.coo_matrix((data.ravel().astype(np.float32),
                               (rows.ravel(), np.repeat(weight_rows, E))),
                              shape=(n_rows, len(weights))).tocsc()
        return m @ weights
    return _products_numpy(rows.ravel(), data.ravel(), n_rows, weights[weight_rows], E)


def _products_numpy(rows, data, n_rows, weights, E) -> np.ndarray:
    out = np.zeros((n_rows, weights.shape[1]))
    if not len(rows):
        return out
    order = np.argsort(rows, kind="stable")
    rows = rows[order]
    terms = weights[order // E].astype(np.float64) * data[order][:, None]
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    running = np.cumsum(terms, axis=0)
    ends = np.r_[starts[1:], len(rows)] - 1
    sums = running[ends]
    sums[1:] -= running[ends[:-1]]
    out[rows[starts]] = sums
    return out


# ---- intervals ---------------------------------------------------------------------------------


def percentile_interval(point: float, reps: np.ndarray, level: float) -> Dict[str, Any]:
    """{"lower", "upper", "stderr"} from the replicate values (shape [R]).

    Replicates where the metric is undefined (NaN: a resample without positives, ...) are left
    out when they are at most a tenth of them; beyond that, or when the point value itself is
    undefined, every field is NaN.
    """
    reps = np.asarray(reps, np.float64)
    finite = reps[np.isfinite(reps)]
    if not np.isfinite(point) or len(finite) < max(2, 0.9 * len(reps)):
        return {"lower": float("nan"), "upper": float("nan"), "stderr": float("nan")}
    alpha = (1.0 - level) / 2.0
    lower, upper = np.quantile(finite, [alpha, 1.0 - alpha])
    return {"lower": float(lower), "upper": float(upper), "stderr": float(np.std(finite, ddof=1))}


def interval_set(points: Mapping[str, Any], reps: Mapping[str, np.ndarray], level: float,
                 closed: Optional[Mapping[str, Mapping[str, Any]]] = None
                 ) -> Dict[str, Dict[str, Any]]:
    """{name: percentile_interval} for every numeric point value with replicates; where
    `closed` has a closed-form interval of the metric, it is added as "closed_form":
    {"method", "lower", "upper", "stderr"}."""
    names = [n for n, v in points.items() if n in reps and _is_num(v)]
    out = _intervals(names, [float(points[n]) for n in names], [reps[n] for n in names], level)
    for name in names:
        if closed and name in closed:
            c = closed[name]
            out[name]["closed_form"] = {"method": c["method"], "lower": float(c["lower"]),
                                        "upper": float(c["upper"]), "stderr": float(c["stderr"])}
    return out


def diff_intervals(points: Mapping[str, Any], base_points: Mapping[str, Any],
                   reps: Mapping[str, np.ndarray], base_reps: Mapping[str, np.ndarray],
                   level: float) -> Dict[str, Dict[str, Any]]:
    """The paired intervals of model - baseline: replicate r of the difference is replicate r
    of the model minus replicate r of the baseline (the same resample)."""
    names = [n for n, v in points.items() if n in reps and n in base_reps and _is_num(v)
             and _is_num(base_points.get(n))]
    return _intervals(names, [float(points[n]) - float(base_points[n]) for n in names],
                      [reps[n] - base_reps[n] for n in names], level)


def _intervals(names: List[str], points: List[float], reps: List[np.ndarray],
               level: float) -> Dict[str, Dict[str, Any]]:
    """percentile_interval of each name, all at once: one sort of the [metrics, R] matrix
    (undefined replicates sort last and are left out as percentile_interval says)."""
    if not names:
        return {}
    matrix = np.stack([np.asarray(r, np.float64) for r in reps])
    matrix[~np.isfinite(matrix)] = np.nan
    matrix.sort(axis=1)  # NaN last
    R = matrix.shape[1]
    count = np.sum(~np.isnan(matrix), axis=1)
    good = (count >= max(2, 0.9 * R)) & np.isfinite(points)
    alpha = (1.0 - level) / 2.0
    rows = np.arange(len(names))
    bounds = []
    for q in (alpha, 1.0 - alpha):  # numpy's "linear" quantile of each row's finite values
        pos = q * np.maximum(count - 1, 0)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, np.maximum(count - 1, 0))
        frac = pos - lo
        bounds.append(matrix[rows, lo] * (1 - frac) + matrix[rows, hi] * frac)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(matrix, axis=1) / count
        stderr = np.sqrt(np.nansum((matrix - mean[:, None]) ** 2, axis=1) / (count - 1))
    nan = float("nan")
    return {name: ({"lower": float(bounds[0][i]), "upper": float(bounds[1][i]),
                    "stderr": float(stderr[i])} if good[i] else
                   {"lower": nan, "upper": nan, "stderr": nan})
            for i, name in enumerate(names)}


def _is_num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ---- the replicated family ---------------------------------------------------------------------


@dataclasses.dataclass
class ReplicatedAcc:
    """A Replicated family's accumulator: the family's own (`point`) and the replicates' state
    (the family's replicate state, or a list of R of its accumulators)."""

    point: Any
    reps: Any

    @property
    def sums(self):  # the example count the pass reads to withhold small slices
        return getattr(self.point, "sums", None)


class Replicated(Metric):
    """A metric family with R bootstrap replicates accumulated beside it (see module doc).

    result() and plots() are the family's own, on the point accumulator; replicate_values()
    gives {name: float64 [R]}.
    """

    def __init__(self, family: Metric, replicates: int, level: float = 0.95):
        self.family = family
        self.replicates = int(replicates)
        self.level = float(level)
        self.name = getattr(family, "name", "")
        self._fast = all(callable(getattr(family, m, None)) for m in
                         ("replicate_accumulate", "replicate_merge", "replicate_values"))

    @property
    def directions(self):
        return self.family.directions

    def __getattr__(self, item):  # metric_names, names, thresholds...: the family's
        if item == "family":
            raise AttributeError(item)
        return getattr(self.family, item)

    def create(self) -> ReplicatedAcc:
        if self._fast:
            return ReplicatedAcc(self.family.create(), None)
        return ReplicatedAcc(self.family.create(),
                             [self.family.create() for _ in range(self.replicates)])

    def add(self, acc: ReplicatedAcc, batch: ModelBatch) -> ReplicatedAcc:
        return self.merge([acc, self.add_grouped(batch, np.zeros(len(batch), np.int64), 1)[0]])

    def add_grouped(self, batch: ModelBatch, group_ids: np.ndarray, n_groups: int
                    ) -> List[ReplicatedAcc]:
        group_ids = np.asarray(group_ids, np.int64)
        points = self.family.add_grouped(batch, group_ids, n_groups)
        if batch.replicate_weights is None:
            raise ValueError("Replicated needs batches with replicate_weights")
        if self._fast:
            reps = self.family.replicate_accumulate(batch, group_ids, n_groups,
                                                    self.replicates)
        else:
            weights = batch.example_replicate_weights()[:, :self.replicates]  # not the ones
            reps = self._generic(batch, group_ids, n_groups, weights)
        return [ReplicatedAcc(p, r) for p, r in zip(points, reps)]

    def _generic(self, batch, group_ids, n_groups, weights) -> List[List[Any]]:
        """Per group, R accumulators of the family: replicate r fed the resample in which row i
        appears weights[i, r] times, by add_grouped on (group, replicate) cells."""
        R = self.replicates
        out: List[List[Any]] = [[] for _ in range(n_groups)]
        step = max(1, REPLICATE_CHUNK_ROWS // max(1, len(batch)))
        for r0 in range(0, R, step):
            block = weights[:, r0:r0 + step].astype(np.int64)  # [n, b]
            b = block.shape[1]
            cells = (group_ids[:, None] * b + np.arange(b)[None, :]).ravel()
            counts = block.ravel()
            rows = np.repeat(np.repeat(np.arange(len(batch)), b), counts)
            sub = dataclasses.replace(batch.take(rows), replicate_weights=None,
                                      replicate_rows=None)
            accs = self.family.add_grouped(sub, np.repeat(cells, counts), n_groups * b)
            for g in range(n_groups):
                out[g].extend(accs[g * b:(g + 1) * b])
        return out

    def merge(self, accs: Sequence[ReplicatedAcc]) -> ReplicatedAcc:
        accs = list(accs)
        point = self.family.merge([a.point for a in accs])
        if self._fast:
            reps = self.family.replicate_merge([a.reps for a in accs])
        else:
            reps = [self.family.merge([a.reps[r] for a in accs]) for r in range(self.replicates)]
        accs[0].point, accs[0].reps = point, reps
        return accs[0]

    def result(self, acc: ReplicatedAcc) -> Dict[str, float]:
        return self.family.result(acc.point)

    def plots(self, acc: ReplicatedAcc) -> Dict[str, Any]:
        return self.family.plots(acc.point)

    def replicate_values(self, acc: ReplicatedAcc) -> Dict[str, np.ndarray]:
        """{metric name: float64 [R]}: the family's metrics on each replicate."""
        if self._fast:
            return self.family.replicate_values(acc.point, acc.reps)
        rows = [self.family.result(r) for r in acc.reps]
        names = rows[0].keys() if rows else ()
        return {n: np.array([_number(row.get(n)) for row in rows], np.float64) for n in names}

    def closed_forms(self, acc: ReplicatedAcc, level: float) -> Dict[str, Dict[str, Any]]:
        """{metric name: closed-form interval} where the family has one; else {}."""
        fn = getattr(self.family, "closed_form_intervals", None)
        return fn(acc.point, acc.reps, level) if (self._fast and fn) else {}


def _number(value: Any) -> float:
    if isinstance(value, (int, float, np.generic)) and not isinstance(value, bool):
        return float(value)
    return float("nan")


def replicated_families(families: Sequence[Metric], confidence: Optional[Any]) -> List[Metric]:
    """The families, each wrapped in Replicated when `confidence` (a ConfidenceConfig) is set."""
    if confidence is None:
        return list(families)
    return [Replicated(f, confidence.replicates, confidence.level) for f in families]


__all__ = ["POISSON_TABLE", "Replicated", "ReplicatedAcc", "diff_intervals", "example_products",
           "file_names", "interval_set", "mix64", "percentile_interval", "replicate_weights",
           "replicated_families", "row_keys", "text_key", "unit_keys"]
