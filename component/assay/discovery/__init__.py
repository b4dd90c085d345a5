"""Weak-slice discovery: SliceLine's search, confirmed on a held-out half (numpy only).

``discover(errors, features)`` returns the slices where a per-example error is high, each tested
against its complement on examples the search never saw. ``search`` is the bare SliceLine search
over integer codes; ``counts`` holds the per-slice counts it needs, which merge across shards;
``DiscoveryAccumulator`` is the add / merge / extract form a pass can hold per shard.
"""

from assay.discovery.accumulate import DiscoveryAccumulator, discovered_section
from assay.discovery.discover import DiscoveredSlice, confirmation_half, discover
from assay.discovery.errors import per_example_error

__all__ = ["DiscoveredSlice", "DiscoveryAccumulator", "confirmation_half", "discover",
           "discovered_section", "per_example_error"]
