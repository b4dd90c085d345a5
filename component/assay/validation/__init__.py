"""Validation: from the metrics of each slice and the configured thresholds, decide whether the
candidate model may ship, say why, and record the verdict where pipelines look for it.

    records.py   the metrics records, indexed by model, spec and slice
    checks.py    the checks of one threshold on the slices it names (Check)
    verdict.py   validate(): every check, and the verdict rules (Outcome, ValidationResult)
    gate.py      with `confidence`: each check decided on its interval (pass / fail /
                 inconclusive), p-values, Holm or intersection-union over slices;
                 gate_words.py its sentences
    blessing.py  the BLESSED / NOT_BLESSED marker and the ModelBlessing properties

The thresholds and options themselves are config: assay.config.thresholds and
assay.config.validation. Directions of
built-in metrics: assay.metrics.registry.

Example:
    >>> from assay.validation import parse_thresholds, validate, ValidationOptions
    >>> ts = parse_thresholds([{"metric": "auc", "slices": [{"region": "north"}], "min": 0.65}])
    >>> recs = [{"slice": {"region": "north"}, "model": "candidate", "metrics": {"auc": 0.612}}]
    >>> validate(recs, ts, ValidationOptions(), has_baseline=False).reasons
    ['auc on slice region=north is 0.612, below the minimum 0.65']
"""

from assay.config.thresholds import MaxGap, SliceSelector, Threshold, parse_thresholds
from assay.config.validation import (ValidationConfig, ValidationOptions, parse_validation,
                                     with_declared_directions)
from assay.metrics.registry import HIGHER, LOWER
from assay.metrics.registry import metric_direction
from assay.validation.blessing import (BLESSED_FILE, NOT_BLESSED_FILE, blessing_properties,
                                       write_blessing)
from assay.validation.checks import FAIL, PASS, SKIPPED, Check
from assay.validation.verdict import FORMAT_VERSION, Outcome, ValidationResult, validate

__all__ = ["BLESSED_FILE", "Check", "FAIL", "FORMAT_VERSION", "HIGHER", "LOWER", "MaxGap",
           "NOT_BLESSED_FILE", "Outcome", "PASS", "SKIPPED", "SliceSelector", "Threshold",
           "ValidationConfig", "ValidationOptions", "ValidationResult", "blessing_properties",
           "metric_direction", "parse_thresholds", "parse_validation", "validate",
           "with_declared_directions", "write_blessing"]
