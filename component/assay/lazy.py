"""Objects named "module:attribute", imported when first used.

The features that plug into the pass, the config, the thresholds and the report
(assay.engine.extensions, assay.config.features, assay.config.section_thresholds,
assay.report.sections) are listed by name, so that importing assay imports none of them.

Example:
    >>> load("json:dumps")([1])
    '[1]'
"""

from __future__ import annotations

import importlib
from typing import Any

_ABSENT = object()


def load(where: str, absent: Any = _ABSENT) -> Any:
    """The attribute `where` ("module:attribute") names, its module imported now.

    Args:
      where: "package.module:attribute".
      absent: returned when the module itself does not exist in this installation (a
        feature not built in); by default that is an error. A module that exists but fails to
        import always raises.
    """
    module, attribute = where.split(":")
    try:
        return getattr(importlib.import_module(module), attribute)
    except ModuleNotFoundError as e:
        if absent is not _ABSENT and e.name and module.startswith(e.name):
            return absent
        raise


__all__ = ["load"]
