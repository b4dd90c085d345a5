"""The `sensitivity` section as a pass extension (assay.engine.extensions).

The permuted models are scored by the pass itself (assay.perturb.scoring), so this extension
accumulates nothing: its extract() reads the finished records and ranks the features
(assay.perturb.importance).
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional


def extension(plan: Any) -> Optional["SensitivityExtension"]:
    """The extension when the plan's config has `sensitivity:`, else None."""
    cfg = plan.config.feature("sensitivity")
    return None if cfg is None else SensitivityExtension(plan.task, cfg)


class Nothing:
    """The accumulator of an extension that needs none: merges into itself."""

    def merge(self, others: List["Nothing"]) -> "Nothing":
        return self


class SensitivityExtension:
    """create / add / extract of the `sensitivity` section (picklable)."""

    def __init__(self, task: str, cfg: Any):
        self.task, self.cfg = task, cfg

    def create(self) -> Nothing:
        return Nothing()

    def add(self, acc: Nothing, view: Any) -> Nothing:
        return acc

    def extract(self, acc: Nothing, doc: Mapping[str, Any]) -> Dict[str, Any]:
        from assay.perturb.importance import sensitivity_section

        return sensitivity_section(doc["records"], self.cfg, self.task)


__all__ = ["SensitivityExtension", "extension"]
