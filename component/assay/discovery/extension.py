"""Weak-slice discovery as a pass extension (assay.engine.extensions): the `discovered` section.

Per batch, the candidate's per-example error (or, with `error: regression`, its loss minus the
baseline's on the same example: rows where either model has no valid prediction were already
left out by the pass), the searched feature columns and the rows' stable keys go into an
ExampleStore; the stores of every shard merge in file order, and at extract SliceLine searches
the discovery half and the other half confirms (assay.discovery.discover). The half of an
example depends only on its key (its file's name and row), so both engines, any number of
workers and any batch size give the same section.

Weights: the search and the tests count examples, unweighted (SliceLine's sizes and mean
errors are counts and plain means); the headline metrics of a confirmed slice use the weights,
as every other metric of the evaluation does.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from assay.discovery.config import DiscoverConfig
from assay.discovery.errors import task_loss
from assay.discovery.examples import ExampleStore
from assay.errors import ConfigError

CANDIDATE, BASELINE = "candidate", "baseline"


def extension(plan: Any) -> Optional["DiscoveryExtension"]:
    """The extension when the plan's config has `discover:`, else None.

    With `error: regression` and no baseline evaluated (none configured, the first model of a
    pipeline, or one that failed to load), the section says so in "unavailable" and holds no
    slices; a `{discovered: regression}` gate is then skipped, like a change threshold with no
    baseline (the verdict follows `first_model`).

    Raises:
      ConfigError: the error does not fit the task.
    """
    cfg = plan.config.feature("discover")
    if cfg is None:
        return None
    if plan.config.label is None:  # label-free evaluation: no per-example error to search
        raise ConfigError(f"'discover' searches slices by a per-example error ({cfg.error}), "
                          f"which needs a label; this config has none (give 'label', or leave "
                          f"'discover' out)")
    return DiscoveryExtension(plan, cfg, cfg.loss_for(plan.task))


class DiscoveryExtension:
    """create / add / extract of the `discovered` section (picklable: built on each worker)."""

    def __init__(self, plan: Any, cfg: DiscoverConfig, loss: str):
        self.plan, self.cfg, self.loss = plan, cfg, loss
        self.paired = cfg.error == "regression"
        self.models = (CANDIDATE, BASELINE) if plan.config.has_baseline else (CANDIDATE,)
        self.unavailable = None
        if self.paired and not plan.config.has_baseline:
            self.unavailable = ("error: regression compares the candidate with the baseline, "
                                "and no baseline model was evaluated")

    def create(self) -> ExampleStore:
        return ExampleStore(self.cfg.features)

    def add(self, acc: ExampleStore, view: Any) -> ExampleStore:
        """Adds one batch (an assay.engine.extensions.BatchView)."""
        if self.unavailable:
            return acc
        cand = view.per_model[CANDIDATE]
        error = self._loss(cand)
        if self.paired:
            error = error - self._loss(view.per_model[BASELINE])
        weights = cand.weights if self.plan.config.weight else None
        acc.add_batch(view.batch, error, view.row_keys,
                      {m: view.per_model[m] for m in self.models if m in view.per_model},
                      weights)
        return acc

    def _loss(self, mb: Any):
        return task_loss(self.plan.task, self.loss, mb.labels, mb.predictions,
                         self.cfg.threshold)

    def extract(self, acc: ExampleStore, doc: Any) -> Dict[str, Any]:
        """The `discovered` section (assay.discovery.section), from every shard's examples."""
        from assay.discovery.section import build_section
        from assay.metrics.registry import headline_metrics

        settings = self.cfg.to_config()
        settings["error"] = "regression" if self.paired else self.loss
        if self.paired:
            settings["loss"] = self.loss
        if self.unavailable:
            return {"settings": settings, "examples": 0, "overall_error": None, "slices": [],
                    "unavailable": self.unavailable}
        family = self.plan.metric_families()[0]  # the task's built-in metrics
        families = {m: family for m in self.models if m in acc.labels}
        return build_section(acc, settings, paired=self.paired, families=families,
                             headline=headline_metrics(self.plan.task))


__all__ = ["DiscoveryExtension", "extension"]
