"""Atoms: the slices of nested slicing specs accumulated once, at the finest of them.

    atoms = Atoms.of(config.slices)                 # None: no spec holds the others' features
    groups = atoms.batch_groups(batch, boundaries)  # None: add this batch to every spec
    ids = atoms.slice_ids(groups.keys, real_ids)    # the atoms' ids, in a state of their own
    atoms.fold(states, families, n_ids)             # at the end: each atom into its slices

`slices: [[], [hour], [day], [hour, day]]` puts each example in one slice of every spec: four
(slice, row) pairs a row, and for the metrics that accumulate every slice at once
(BinaryMetrics, `assay.metrics.binary_dense`) four times the work of one spec. When one spec
(the finest, here [hour, day]) slices by every feature that the others slice by, and a batch
gives each of its rows exactly one slice of it (every sliced feature present, with one value),
each row's slice of a coarser spec follows from its slice of the finest. Such a batch is added
to the finest spec's slices alone, kept apart as atoms; at the end of the file (or bundle)
each atom is added to its images, the slices whose keys are the atom's key restricted to their
spec's features (the finest spec's own slice among them). The counts are sums, and a slice's
exact score counts are bucketed exactly when their union outgrows max_exact, as when every
batch is added to every slice; only the order of float summation differs, as when partials
from several workers are merged.

Specs that bucket a feature or fix a value are never derived (their keys hold interval labels
or the fixed value): every batch is added to them directly, and so is every batch where some
row has no slice of the finest spec or several (a missing or multi-valued feature). Other
metric families (per-slice partials) and the other extensions see every spec as before; the
drift sketches keep atoms of their own the same way (`assay.drift.extension`).
"""

from __future__ import annotations

import dataclasses
from typing import AbstractSet, Any, Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pyarrow as pa

from assay.config.slices import SliceSpec
from assay.engine import slicing


@dataclasses.dataclass(frozen=True)
class AtomSpecs:
    """finest: the index of the finest spec among the config's slices; derived: the indices of
    the specs derived from it (itself included); features: each derived spec's features."""

    finest: int
    derived: FrozenSet[int]
    features: Tuple[FrozenSet[str], ...]


def atom_specs(specs: Sequence[SliceSpec]) -> Optional[AtomSpecs]:
    """The specs that atoms serve, or None: fewer than two plain specs (no bucketing, no fixed
    value), or none of them slicing by every feature the others slice by."""
    plain = [i for i, s in enumerate(specs)
             if not s.values and not any(c.bucketed for c in s.columns)
             and len(set(s.features)) == len(s.features)]
    if len(plain) < 2:
        return None
    union = set().union(*(specs[i].features for i in plain))
    finest = next((i for i in plain if set(specs[i].features) == union), None)
    if finest is None or not union:
        return None
    return AtomSpecs(finest, frozenset(plain),
                     tuple(frozenset(specs[i].features) for i in sorted(plain)))


class Atoms:
    """The atoms of one accumulator (`assay.engine.passes.SliceAccumulator`): their ids (by
    canonical key), their images among the accumulator's slice ids, and per model the dense
    states (one per dense family, None for the others) that hold them."""

    def __init__(self, specs: AtomSpecs, spec_list: Sequence[SliceSpec]):
        self.specs = specs
        self.finest = spec_list[specs.finest]
        self.ids: Dict[Tuple, int] = {}
        self.images: List[List[int]] = []
        self.own: List[int] = []  # each atom's own slice id (of the finest spec)
        self.states: Dict[str, List[Any]] = {}

    @classmethod
    def of(cls, spec_list: Sequence[SliceSpec]) -> Optional["Atoms"]:
        specs = atom_specs(spec_list)
        return None if specs is None else cls(specs, spec_list)

    def batch_groups(self, batch: pa.RecordBatch, boundaries: Mapping[str, Sequence[float]]
                     ) -> Optional[slicing.SliceGroups]:
        """The finest spec's groups of `batch` when they hold each row exactly once, else None
        (the batch is then added to every spec)."""
        n = batch.num_rows
        groups = slicing.slice_groups(batch, self.finest, boundaries)
        if len(groups.rows) != n or not n:
            return None
        if np.bincount(groups.rows, minlength=n).max() != 1:
            return None
        return groups

    def derives(self, spec_index: int) -> bool:
        return spec_index in self.specs.derived

    def slice_ids(self, canonical: Sequence[Tuple], real_ids: Mapping[Tuple, int],
                  derived: AbstractSet[Tuple]) -> np.ndarray:
        """The atom id of each canonical key of the finest spec's groups (new ids for new
        ones, whose images are looked up in `real_ids`: the accumulator's slice ids by
        canonical key, where this batch's slices of every derived spec already are).
        `derived`: the batch's slices that a derived spec yielded first; a slice that another
        spec yields first ({day: 3} before [day]) is added to directly, never folded into."""
        out = np.empty(len(canonical), np.int64)
        for g, key in enumerate(canonical):
            aid = self.ids.get(key)
            if aid is None:
                aid = self.ids[key] = len(self.images)
                self.images.append(self._images(key, real_ids, derived))
                self.own.append(real_ids[key] if key in derived else -1)
            out[g] = aid
        return out

    def _images(self, key: Tuple, real_ids: Mapping[Tuple, int], derived: AbstractSet[Tuple]
                ) -> List[int]:
        images = set()
        for features in self.specs.features:
            image = tuple(kv for kv in key if kv[0] in features)
            if image not in derived:
                continue
            sid = real_ids.get(image)
            if sid is None:  # every row of the atom is in that slice, registered before
                raise RuntimeError(f"assay: slice {image!r} of atom {key!r} was not registered")
            images.add(sid)
        return sorted(images)

    def model_states(self, model: str, families: Sequence[Any], dense: Sequence[bool]
                     ) -> List[Any]:
        states = self.states.get(model)
        if states is None:
            states = self.states[model] = [f.dense_create() if d else None
                                           for f, d in zip(families, dense)]
        return states

    def fold(self, states: Dict[str, List[Any]], families: Sequence[Any],
             dense: Sequence[bool], n_ids: int) -> None:
        """Adds every atom to its images in `states` (made where missing), then forgets the
        atoms: what they held is in `states` alone."""
        for model, atom_states in self.states.items():
            mine = states.get(model)
            if mine is None:
                mine = states[model] = [f.dense_create() if d else None
                                        for f, d in zip(families, dense)]
            for fam, state, atoms in zip(families, mine, atom_states):
                if atoms is not None:
                    fam.dense_fold(state, atoms, self.images, self.own, n_ids)
        self.ids, self.images, self.own, self.states = {}, [], [], {}


__all__ = ["AtomSpecs", "Atoms", "atom_specs"]
