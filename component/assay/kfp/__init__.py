"""assay as a Kubeflow Pipelines (v2) component.

    from assay.kfp import evaluator_component, load_component
    evaluate = evaluator_component()         # the factory; image=DEFAULT_IMAGE unless given
    evaluate = load_component()              # the same component, from the shipped YAML

    @dsl.pipeline
    def train_and_ship():
        task = evaluate(examples=data.outputs["eval"], model=train.outputs["model"],
                        label="label", slices=[[], ["payment"]],
                        thresholds=[{"metric": "auc", "min": 0.7}])
        with dsl.If(task.outputs["blessed"] == True):
            push(model=train.outputs["model"])

The component runs the assay image's entrypoint (container/entrypoint.py), which reads KFP's
executor input and writes the executor output itself (`assay.kfp.executor`); the image needs no
KFP SDK. Importing `assay.kfp` does not import kfp either: the factory imports it when called.
"""

_LAZY = {
    "evaluator_component": ("assay.kfp.component", "evaluator_component"),
    "load_component": ("assay.kfp.component", "load_component"),
    "write_component_yaml": ("assay.kfp.component", "write_component_yaml"),
    "COMPONENT_YAML": ("assay.kfp.component", "COMPONENT_YAML"),
    "DEFAULT_IMAGE": ("assay.kfp.component", "DEFAULT_IMAGE"),
    "IMAGE_REPOSITORY": ("assay.kfp.component", "IMAGE_REPOSITORY"),
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'assay.kfp' has no attribute '{name}'")
