"""The blessing: the marker file TFX's Pusher reads, and the properties of the ModelBlessing.

A ModelBlessing artifact's directory holds an empty `BLESSED` or `NOT_BLESSED` file (never
both); its ML Metadata custom properties are those of `blessing_properties`.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Optional

from assay.config.values import type_name
from assay.data import files
from assay.validation.verdict import ValidationResult

BLESSED_FILE = "BLESSED"
NOT_BLESSED_FILE = "NOT_BLESSED"


def write_blessing(directory: str, result: ValidationResult) -> str:
    """Writes an empty BLESSED or NOT_BLESSED file into `directory` (TFX's ModelBlessing layout).

    The other marker is removed first, so the directory never holds both. Locally the marker is
    written to a temporary file and renamed into place; on an object store (gs://, s3://, any
    Beam scheme) it is one empty object, written through Beam's FileSystems
    (assay.data.files.write_text). Returns the marker's path.

    Raises:
      StorageError: the directory cannot be written; names it and the cause.

    Example:
        >>> import tempfile
        >>> from assay.validation.verdict import Outcome
        >>> d = tempfile.mkdtemp()
        >>> r = ValidationResult(True, Outcome.BLESSED, [], [])
        >>> os.path.basename(write_blessing(d, r)), sorted(os.listdir(d))
        ('BLESSED', ['BLESSED'])
    """
    name, other = ((BLESSED_FILE, NOT_BLESSED_FILE) if result.blessed
                   else (NOT_BLESSED_FILE, BLESSED_FILE))
    files.remove(files.join(directory, other))
    return files.write_text(files.join(directory, name), "")


def blessing_properties(result: ValidationResult, current_model: Optional[str] = None,
                        current_model_id: Optional[int] = None,
                        baseline_model: Optional[str] = None,
                        baseline_model_id: Optional[int] = None) -> Dict[str, Any]:
    """Custom properties of the ModelBlessing artifact, as TFX's Evaluator sets them.

    `blessed` (int 1 / 0), `current_model` / `baseline_model` (URIs) and `current_model_id` /
    `baseline_model_id` (MLMD artifact ids) where known; plus `assay_outcome`, `assay_reasons`
    (a JSON list of strings) and, when forced, `assay_forced` (the force_bless reason).

    Example:
        >>> from assay.validation.verdict import Outcome
        >>> r = ValidationResult(False, Outcome.NOT_BLESSED, ["auc is 0.6, below the minimum"], [])
        >>> blessing_properties(r, current_model="gs://m/1", current_model_id=7)["blessed"]
        0
    """
    props: Dict[str, Any] = {"blessed": 1 if result.blessed else 0}
    for key, value in (("current_model", current_model), ("baseline_model", baseline_model)):
        if value is not None:
            if not isinstance(value, str):
                raise TypeError(f"{key!r} must be a URI string (got {value!r}, a "
                                f"{type_name(value)})")
            props[key] = value
    for key, value in (("current_model_id", current_model_id),
                       ("baseline_model_id", baseline_model_id)):
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{key!r} must be an int artifact id (got {value!r}, a "
                                f"{type_name(value)})")
            props[key] = value
    props["assay_outcome"] = result.outcome.value
    props["assay_reasons"] = json.dumps(list(result.reasons))
    if result.forced is not None:
        props["assay_forced"] = result.forced
    return props


__all__ = ["BLESSED_FILE", "NOT_BLESSED_FILE", "blessing_properties", "write_blessing"]
