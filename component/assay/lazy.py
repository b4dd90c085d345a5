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
from typing import Any, Callable, Dict

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


def module_getattr(package: str, names: Dict[str, str]) -> Callable[[str], Any]:
    """A package's `__getattr__` (PEP 562) that imports `names[attribute]`, the module holding
    an attribute of the same name, when the attribute is first asked for.

    Example (in a package's __init__.py):
        __getattr__ = module_getattr(__name__, {"Series": "assay.history.series"})
    """
    def __getattr__(name: str) -> Any:
        if name in names:
            return getattr(importlib.import_module(names[name]), name)
        raise AttributeError(f"module '{package}' has no attribute '{name}'")

    return __getattr__


__all__ = ["load", "module_getattr"]
