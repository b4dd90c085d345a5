"""What a config without `label` asks that needs one (checked when the config is built:
assay.config.schema.EvalConfig); the names themselves are in assay.metrics.label_free_names."""

from __future__ import annotations

from typing import List

from assay.metrics.label_free_names import label_free_metric_info, needs_label_message


def label_free_problems(config) -> List[str]:
    """What a config without a label asks that needs one: thresholds and `metrics:` naming a
    built-in metric that needs a label, a multilabel task, ranking metrics.

    Args:
      config: an assay.config.schema.EvalConfig whose label is None.
    """
    from assay.config.section_thresholds import SectionThreshold
    from assay.metrics.cross_names import is_cross_name
    from assay.metrics.registry import metric_info

    def needs_label(name: str) -> bool:
        return (not is_cross_name(name) and not label_free_metric_info(name)[0]
                and metric_info(name)[0])

    problems = []
    if config.task == "multilabel":
        problems.append("task multilabel needs a label (the classes of each example); this "
                        "config has none")
    if config.query_key is not None:
        problems.append("ranking metrics (query_key) need a label; this config has none")
    for name in config.metrics or ():
        if needs_label(name):
            problems.append(f"metrics: {needs_label_message(name)}")
    for i, t in enumerate(config.validation.thresholds):
        if not isinstance(t, SectionThreshold) and needs_label(t.metric):
            problems.append(f"thresholds[{i}]: {needs_label_message(t.metric)}")
    return problems


__all__ = ["label_free_problems"]
