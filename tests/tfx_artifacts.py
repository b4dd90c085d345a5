"""TFX artifacts for tests that call assay's TFX executor directly (as TFX's launcher would)."""

from __future__ import annotations

import os


def artifact(cls, root, name, **attrs):
    """An artifact of type `cls` whose URI is the new directory root/name, with `attrs` set."""
    a = cls()
    a.uri = os.path.join(str(root), name)
    os.makedirs(a.uri, exist_ok=True)
    for key, value in attrs.items():
        setattr(a, key, value)
    return a


def executor_outputs(root):
    """The Evaluator's outputs: {"evaluation": [ModelEvaluation], "blessing": [ModelBlessing]}."""
    from tfx.types import standard_artifacts

    return {"evaluation": [artifact(standard_artifacts.ModelEvaluation, root, "evaluation")],
            "blessing": [artifact(standard_artifacts.ModelBlessing, root, "blessing")]}
