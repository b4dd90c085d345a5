"""A TFX pipeline on the Palmer penguins data, gated by assay's Evaluator.

    CsvExampleGen -> Trainer (penguin_trainer.py) ---------------------------> Pusher
                          \\                                                  /
       Resolver(LatestBlessedModelStrategy) -> assay Evaluator (blessing) ---

Run with LocalDagRunner and a SQLite ML Metadata store under `work_dir`:

    python pipelines/penguin_tfx.py --work-dir demo-output/tfx            # a good model
    python pipelines/penguin_tfx.py --work-dir demo-output/tfx --degrade  # a worse one

`work_dir` holds data/penguins.csv, metadata.sqlite, pipeline_root/ (every artifact) and
serving/ (what Pusher pushed). Each run trains a model; the Resolver hands the latest blessed
model to the Evaluator as the baseline, and Pusher pushes only a blessed model.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Dict, List, Optional

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

PIPELINE_NAME = "penguin_assay"
HERE = os.path.dirname(os.path.abspath(__file__))
MODULE_FILE = os.path.join(HERE, "penguin_trainer.py")
SPECIES = ["Adelie", "Chinstrap", "Gentoo"]

# assay's config: the model's `probabilities` output against the species label, overall, per
# species and per island. The candidate's path comes from the Trainer's Model artifact, the
# baseline's from the Resolver.
ASSAY_CONFIG: Dict[str, Any] = {
    "label": "species",
    "label_vocabulary": SPECIES,
    "models": {"candidate": {"output": "probabilities"}},
    "slices": [["species"], ["island"]],
    "min_slice_size": 10,
    "thresholds": [
        {"metric": "accuracy", "min": 0.85, "max_regression": 0.05},
        {"metric": "accuracy", "slices": [["species"], ["island"]], "min": 0.7},
    ],
}


def write_penguins_csv(data_dir: str) -> str:
    """Writes the penguins (rows with missing values dropped: 333) to data_dir/penguins.csv."""
    import palmerpenguins

    os.makedirs(data_dir, exist_ok=True)
    frame = palmerpenguins.load_penguins().dropna()
    for column in ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"):
        frame[column] = frame[column].astype(float)  # floats in every row, for CsvExampleGen
    path = os.path.join(data_dir, "penguins.csv")
    frame.to_csv(path, index=False)
    return path


def create_pipeline(work_dir: str, *, degrade: bool = False, train_steps: int = 150,
                    config: Optional[Dict[str, Any]] = None,
                    beam_pipeline_args: Optional[List[str]] = None):
    """The pipeline, its artifacts and metadata under `work_dir`.

    Args:
      work_dir: where data/, metadata.sqlite, pipeline_root/ and serving/ live.
      degrade: train a deliberately worse model (shuffled labels, one step).
      train_steps: training steps of a normal model.
      config: assay's config (default ASSAY_CONFIG).
      beam_pipeline_args: Beam options of the Beam components (ExampleGen, assay Evaluator).
    """
    from tfx import v1 as tfx

    from assay.tfx import Evaluator

    data_dir = os.path.join(work_dir, "data")
    if not os.path.exists(os.path.join(data_dir, "penguins.csv")):
        write_penguins_csv(data_dir)
    example_gen = tfx.components.CsvExampleGen(input_base=data_dir)
    trainer = tfx.components.Trainer(
        module_file=MODULE_FILE,
        examples=example_gen.outputs["examples"],
        train_args=tfx.proto.TrainArgs(num_steps=1 if degrade else train_steps),
        eval_args=tfx.proto.EvalArgs(num_steps=0),
        custom_config={"degrade": degrade})
    model_resolver = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id("latest_blessed_model_resolver")
    evaluator = Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=model_resolver.outputs["model"],
        config=config or ASSAY_CONFIG)
    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(
                base_directory=os.path.join(work_dir, "serving"))))
    return tfx.dsl.Pipeline(
        pipeline_name=PIPELINE_NAME,
        pipeline_root=os.path.join(work_dir, "pipeline_root"),
        components=[example_gen, trainer, model_resolver, evaluator, pusher],
        enable_cache=False,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            os.path.join(work_dir, "metadata.sqlite")),
        beam_pipeline_args=beam_pipeline_args or [])


def run(work_dir: str, **kwargs) -> None:
    """Runs the pipeline once with LocalDagRunner (see create_pipeline for the arguments)."""
    from tfx import v1 as tfx

    tfx.orchestration.LocalDagRunner().run(create_pipeline(work_dir, **kwargs))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work-dir", default=os.path.join("demo-output", "tfx"))
    parser.add_argument("--degrade", action="store_true",
                        help="train a deliberately worse model")
    parser.add_argument("--train-steps", type=int, default=150)
    args = parser.parse_args(argv)
    run(os.path.abspath(args.work_dir), degrade=args.degrade, train_steps=args.train_steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
