"""The drift extension of the pass (assay.engine.extensions): per-slice sketches of the features,
the label and each model's predictions, in the same read as the metrics.

It is on for every evaluation: with `drift: {features: [...]}` it sketches those features;
without, the slice features. The label (when the config has one) and every model's
predictions are always sketched. Slices are those of the config's slicing specs (a spec that
buckets by quantiles is left out: its boundaries are computed in the same pass) and the
overall slice. The sketches go to assay_sketches.json (assay.drift.files); with `reference:`,
the drift statistics against the reference's sketches go to the "drift" section of
assay_metrics.json (assay.drift.section).
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

import numpy as np

from assay import data as assay_io
from assay.drift.config import DriftConfig
from assay.drift.dense import DenseColumn, group_values
from assay.drift.sketches import new_sketch
from assay.config.slices import SliceSpec
from assay.engine import slicing
from assay.engine.atoms import atom_specs

# A sketched column: ("feature", name), ("prediction", model name) or ("label", "label").
Column = Tuple[str, str]
FEATURE, PREDICTION, LABEL = "feature", "prediction", "label"
_ATOM = "\x00atom"  # the feature name of an atom's key: (("\x00atom", its slice key),)


class DriftAccumulator:
    """The sketches of one shard, or of shards merged: a DenseColumn per column (every slice
    at once, indexed by the slice ids of `keys`), kept dense through merges; per-slice
    sketches ({(slice key, column): sketch}) only for what cannot merge densely (a categorical
    column past MAX_TRACKED values) and at the end. Also the missing rows of columns not yet
    seen with a value (their kind is unknown until a value comes). Merges exactly:
    shard-invariant."""

    def __init__(self):
        self.keys: List[Any] = []          # slice id -> slice key
        self.ids: Dict[Any, int] = {}      # slice key -> slice id
        self.columns: Dict[Column, DenseColumn] = {}
        self.sketches: Dict[Tuple[Any, Column], Any] = {}
        self.unseen: Dict[Tuple[Any, Column], int] = {}
        # Per spec (its features): the slices seen, until there are more than max_slices;
        # then the spec is in `dropped` and no longer sketched (see DriftExtension.add).
        self.spec_keys: Dict[Tuple[str, ...], set] = {}
        self.dropped: set = set()
        # Atoms (assay.engine.atoms): slices of the finest spec that batches were added to
        # alone, keyed (ATOM, its key), each with the keys of the slices it is folded into
        # (`fold`, before the accumulator is read, merged or sent).
        self.atoms: Dict[Any, List[Any]] = {}

    def __getstate__(self) -> Dict[str, Any]:
        self.fold()
        return self.__dict__

    def fold(self) -> None:
        """Adds every atom to the slices it makes up, then forgets the atoms."""
        if not self.atoms:
            return
        src, dst = [], []
        for atom, targets in self.atoms.items():
            for t in targets:
                if t in self.ids:  # else its spec was dropped
                    src.append(self.ids[atom])
                    dst.append(self.ids[t])
        for dense in self.columns.values():
            dense.grow(len(self.keys))
            if src:
                dense.fold(np.array(src, np.int64), np.array(dst, np.int64))
        for item, n in [(k, n) for k, n in self.unseen.items() if k[0] in self.atoms]:
            del self.unseen[item]
            for t in self.atoms[item[0]]:
                key = (t, item[1])
                self.unseen[key] = self.unseen.get(key, 0) + n
        atoms, self.atoms = self.atoms, {}
        self._keep([i for i, key in enumerate(self.keys) if key not in atoms])

    def slice_ids(self, keys: List[Any]) -> np.ndarray:
        """The id of each slice key (new ids for new keys)."""
        for key in keys:
            if key not in self.ids:
                self.ids[key] = len(self.keys)
                self.keys.append(key)
        return np.array([self.ids[k] for k in keys], dtype=np.int64)

    def _settle(self, column: Column, dense: DenseColumn) -> None:
        """Adds a dense column's per-slice sketches to `sketches`."""
        for key, sketch in dense.sketches(self.keys).items():
            item = (key, column)
            if item in self.sketches:
                self.sketches[item].merge([sketch])
            else:
                self.sketches[item] = sketch

    def merge(self, others: Iterable["DriftAccumulator"]) -> "DriftAccumulator":
        self.fold()
        for o in others:
            o.fold()
            ids = self.slice_ids(o.keys)
            for column, theirs in o.columns.items():
                mine = self.columns.get(column)
                if mine is None:
                    mine = self.columns[column] = DenseColumn(theirs.kind, theirs.accuracy,
                                                              theirs.top)
                mine.grow(len(self.keys))
                if not mine.merge(theirs, ids):  # too many categories: merged as sketches
                    self._settle(column, mine)
                    del self.columns[column]
                    o._settle(column, theirs)
            for k, s in o.sketches.items():
                if k in self.sketches:
                    self.sketches[k].merge([s])
                else:
                    self.sketches[k] = s
            for k, n in o.unseen.items():
                self.unseen[k] = self.unseen.get(k, 0) + n
            self.dropped |= o.dropped
            for spec, keys in o.spec_keys.items():
                self.spec_keys.setdefault(spec, set()).update(keys)
        return self

    def drop_specs(self, max_slices: int) -> None:
        """Leaves out the specs with more than max_slices slices. A spec is dropped when any
        shard, or all of them together, saw more than max_slices of its slices: that is, when
        the data has more; so the result does not depend on how the data was split."""
        self.fold()
        self.dropped |= {s for s, keys in self.spec_keys.items() if len(keys) > max_slices}
        if not self.dropped:
            return
        gone = lambda key: _spec_of(key) in self.dropped  # noqa: E731
        self._keep([i for i, key in enumerate(self.keys) if not gone(key)])
        self.sketches = {k: v for k, v in self.sketches.items() if not gone(k[0])}
        self.unseen = {k: v for k, v in self.unseen.items() if not gone(k[0])}
        for spec in self.dropped:
            self.spec_keys[spec] = set()

    def _keep(self, keep: List[int]) -> None:
        """Keeps only the slices `keep` (ids, in order), renumbered."""
        n = len(self.keys)
        if len(keep) < n:
            for dense in self.columns.values():
                dense.grow(n)  # a row for every id before taking
                dense.take(np.array(keep, dtype=np.int64))
            self.keys = [self.keys[i] for i in keep]
            self.ids = {key: i for i, key in enumerate(self.keys)}

    def finished(self, accuracy: float, top: int) -> Dict[Tuple[Any, Column], Any]:
        """The sketches with the unseen rows added as missing (a column never seen with a
        value is a numeric sketch of missing rows only)."""
        self.fold()
        for column, dense in self.columns.items():
            dense.grow(len(self.keys))
            self._settle(column, dense)
        self.columns = {}
        out = dict(self.sketches)
        for k, n in self.unseen.items():
            if k not in out:
                out[k] = new_sketch("numeric", accuracy, top)
            out[k].missing += n
        return out


def _spec_of(key: Any) -> Tuple[str, ...]:
    """The features of a slice key ((feature, value), ...): the spec it belongs to."""
    return tuple(sorted(f for f, _ in key))


def _spec_ok(spec: Any) -> bool:
    return not any(c.quantiles is not None for c in spec.columns)


class DriftExtension:
    """create / add / extract for the pass (see assay.engine.extensions)."""

    def __init__(self, plan: Any):
        cfg = plan.config
        self.drift: DriftConfig = cfg.feature("drift") or DriftConfig()
        self.reference = cfg.feature("reference")
        self.task = getattr(plan, "task", None)
        self.has_label = bool(getattr(cfg, "label", None))
        self.specs = [s for s in cfg.slices if _spec_ok(s) and not s.is_overall]
        if self.drift.features is not None:
            features = list(self.drift.features)
        else:
            features = [f for s in cfg.slices for f in s.features]
        self.features = list(dict.fromkeys(features))
        # Nested specs (assay.engine.atoms): index 0 is the overall slice, i the spec i - 1.
        self._atom = atom_specs([SliceSpec()] + self.specs)
        self._finest = self.specs[self._atom.finest - 1] if self._atom is not None else None
        self._finest_features = (tuple(sorted(self._finest.features))
                                 if self._finest is not None else None)

    def create(self) -> DriftAccumulator:
        return DriftAccumulator()

    def add(self, acc: DriftAccumulator, view: Any) -> DriftAccumulator:
        batch = view.batch
        n = batch.num_rows
        if not n:
            return acc
        columns = self._columns(batch, view.per_model)
        pairs = self._pairs(acc, batch, n)
        for column, (values, rows, kind) in columns.items():
            self._add_column(acc, column, kind, values, rows, n, *pairs)
        return acc

    def _pairs(self, acc: DriftAccumulator, batch: Any, n: int
               ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, slices, sizes): pair j puts batch row rows[j] in slice id slices[j], for
        the overall slice and every spec's slices (each slice once); sizes[s]: its rows.
        Where the finest of nested specs gives each row one slice, the slices that derive
        from it get no pairs: the rows go to its slices alone, as atoms (`_atom_groups`)."""
        atom = self._atom_groups(acc, batch, n)
        derived = set()  # the slices folded from atoms, each registered here
        groupings = []
        if atom is None:
            groupings.append((np.arange(n, dtype=np.int64), np.zeros(n, np.int64),
                              [slicing.OVERALL_KEY]))
        else:
            derived.add(slicing.OVERALL_KEY)
            acc.slice_ids([slicing.OVERALL_KEY])
        done = {slicing.OVERALL_KEY}
        for j, spec in enumerate(self.specs):
            features = tuple(sorted(spec.features))
            if features in acc.dropped:
                continue
            g = slicing.slice_groups(batch, spec)
            keys = self._canonical(g.keys)
            new = [k for k in keys if k not in acc.ids]  # the others are in spec_keys
            seen = acc.spec_keys.setdefault(features, set())
            seen.update(new)
            if len(seen) > self.drift.max_slices:  # too many slices: not sketched at all
                acc.dropped.add(features)
                acc.drop_specs(self.drift.max_slices)
                continue
            fresh = [i for i, k in enumerate(keys) if k not in done]
            if not fresh:
                continue
            done.update(keys[i] for i in fresh)
            if atom is not None and j + 1 in self._atom.derived:
                derived.update(keys[i] for i in fresh)
                acc.slice_ids([keys[i] for i in fresh])
                continue
            if len(fresh) < len(keys):
                keep = np.isin(g.group_ids, fresh)
                g_rows, g_ids = g.rows[keep], g.group_ids[keep]
            else:
                g_rows, g_ids = g.rows, g.group_ids
            groupings.append((g_rows, g_ids, keys))
        if atom is not None:
            groupings.append((atom.rows, atom.group_ids, self._atom_keys(acc, atom, derived)))
        # Slice ids only now: dropping a spec above renumbers the slices.
        slices = np.concatenate([acc.slice_ids(keys)[ids] for _, ids, keys in groupings])
        rows = np.concatenate([rows for rows, _, _ in groupings])
        return rows, slices, np.bincount(slices, minlength=len(acc.keys))

    def _atom_groups(self, acc: DriftAccumulator, batch: Any, n: int) -> Optional[Any]:
        """The finest spec's groups when atoms serve this batch: nested specs, the finest not
        dropped, and each row in exactly one of its slices (assay.engine.atoms)."""
        if self._atom is None or self._finest_features in acc.dropped or not n:
            return None
        g = slicing.slice_groups(batch, self._finest)
        if len(g.rows) != n or np.bincount(g.rows, minlength=n).max() != 1:
            return None
        return g

    def _atom_keys(self, acc: DriftAccumulator, atom: Any, derived: set) -> List[Any]:
        """The accumulator's keys of the atoms (registered with the slices they are folded
        into: those of `derived`, the slices a derived spec yielded first)."""
        out = []
        for key in self._canonical(atom.keys):
            item = ((_ATOM, key),)
            if item not in acc.atoms:
                images = (tuple(kv for kv in key if kv[0] in f) for f in self._atom.features)
                acc.atoms[item] = sorted({t for t in images if t in derived}, key=repr)
            out.append(item)
        return out

    def _canonical(self, keys: List[Any]) -> List[Any]:
        """Each slice key with its features in name order (as specs name them in any order);
        remembered, since the same keys come back every batch."""
        return [slicing.canonical(key) for key in keys]

    def _columns(self, batch: Any, per_model: Mapping[str, Any]
                 ) -> Dict[Column, Tuple[np.ndarray, np.ndarray, Optional[str]]]:
        """{column: (values [m], row of each value [m], kind or None when no value came)}."""
        out: Dict[Column, Tuple[np.ndarray, np.ndarray, Optional[str]]] = {}
        names = set(batch.schema.names)
        n = batch.num_rows
        for f in self.features:
            if f in names:
                values, rows = assay_io.column_values(batch, f)
            else:
                values, rows = np.zeros(0), np.zeros(0, np.int64)
            out[(FEATURE, f)] = (values, rows, self._kind(f, values))
        every = np.arange(n, dtype=np.int64)
        for model, mb in per_model.items():
            pred = np.asarray(mb.predictions)
            if pred.ndim == 2:  # class scores: the predicted class, by its index
                out[(PREDICTION, model)] = (pred.argmax(axis=1), every, "categorical")
            elif pred.ndim == 1:
                out[(PREDICTION, model)] = (pred, every, "numeric")
        first = next(iter(per_model.values()), None)
        labels = None if first is None or not self.has_label else getattr(first, "labels", None)
        if labels is not None and np.ndim(labels) == 1 and len(labels) == n:
            kind = "numeric" if self.task == "regression" else "categorical"
            out[(LABEL, "label")] = (np.asarray(labels), every, kind)
        return out

    def _kind(self, feature: str, values: np.ndarray) -> Optional[str]:
        if feature in self.drift.categorical:
            return "categorical"
        if not len(values):
            return None
        return "numeric" if values.dtype.kind in "iuf" else "categorical"

    def _add_column(self, acc: DriftAccumulator, column: Column, kind: Optional[str],
                    values: np.ndarray, rows: np.ndarray, n: int, p_rows: np.ndarray,
                    p_slices: np.ndarray, sizes: np.ndarray) -> None:
        """Adds one column's values to the sketches of every slice of the batch."""
        if len(rows) == n and np.array_equal(rows, np.arange(n)):  # one value a row
            missing, index, slices = None, p_rows, p_slices
        else:
            has = np.zeros(n, dtype=bool)
            has[rows] = True
            missing = sizes - np.bincount(p_slices[has[p_rows]], minlength=len(sizes))
            slices, index = group_values(rows, p_rows, p_slices)
        if column not in acc.columns and kind is not None and len(values):
            acc.columns[column] = DenseColumn(kind, self.drift.relative_accuracy,
                                              self.drift.max_categories)
        dense = acc.columns.get(column)
        if dense is None:
            for s in np.flatnonzero(missing):
                item = (acc.keys[s], column)
                acc.unseen[item] = acc.unseen.get(item, 0) + int(missing[s])
            return
        dense.grow(len(acc.keys))
        dense.add(sizes > 0, missing, slices, index, values)

    def extract(self, acc: DriftAccumulator, doc: Mapping[str, Any]) -> Dict[str, Any]:
        from assay.drift.files import sketches_document
        from assay.drift.section import drift_section

        acc.drop_specs(self.drift.max_slices)
        sketches = sketches_document(acc.finished(self.drift.relative_accuracy,
                                                  self.drift.max_categories), self.drift)
        if acc.dropped:  # said in the file, so that a reader knows why they are missing
            sketches["specs_left_out"] = {
                "max_slices": self.drift.max_slices,
                "specs": [list(s) for s in sorted(acc.dropped)]}
        section: Dict[str, Any] = {"sketches": sketches}
        if self.reference is not None:
            section.update(drift_section(sketches, self.reference))
        return section


def extension(plan: Any) -> DriftExtension:
    """The factory EXTENSIONS names: drift sketches are on for every evaluation."""
    return DriftExtension(plan)


__all__ = ["DriftAccumulator", "DriftExtension", "FEATURE", "LABEL", "PREDICTION", "extension"]
