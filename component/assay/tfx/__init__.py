"""assay's TFX component: `Evaluator`, a drop-in for `tfx.components.Evaluator`.

    from assay.tfx import Evaluator

    evaluator = Evaluator(examples=example_gen.outputs["examples"],
                          model=trainer.outputs["model"],
                          baseline_model=resolver.outputs["model"],
                          config="eval_config.yaml")          # or eval_config=tfma.EvalConfig(...)

See `assay.tfx.component` for the parameters and `assay.tfx.executor` for what is written.
"""

from assay.tfx.component import Evaluator, EvaluatorSpec

__all__ = ["Evaluator", "EvaluatorSpec"]
