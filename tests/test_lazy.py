"""assay.lazy: attributes imported when first used."""

from __future__ import annotations

import pytest


def test_a_lazy_package_attribute_imports_its_module_and_an_unknown_one_is_named():
    from assay.lazy import module_getattr

    getattr_ = module_getattr("pkg", {"ScoreCounts": "assay.metrics.curves"})
    from assay.metrics.curves import ScoreCounts

    assert getattr_("ScoreCounts") is ScoreCounts
    with pytest.raises(AttributeError, match="module 'pkg' has no attribute 'nope'"):
        getattr_("nope")
