"""A Kubeflow Pipelines (v2) pipeline gated by assay: data -> train -> assay -> If(blessed) -> push.

    make-data --> train (baseline: miles only) ---------------\\
              \\-> train (candidate: every feature) --> assay --> If(blessed) --> push
              \\-> eval_data ------------------------------/

Compile it to KFP's IR YAML and submit that file (KFP UI, `kfp.Client().create_run_from_
pipeline_package`, or Vertex AI Pipelines):

    python pipelines/kfp_pipeline.py                          # writes kfp_pipeline.yaml
    python pipelines/kfp_pipeline.py --image REGISTRY/assay:0.1.0 -o pipeline.yaml

Every step runs in the assay image (built from the Dockerfile): the lightweight Python steps use
it as their base image, since it already holds pandas, scikit-learn and joblib. The baseline
here is a second, simpler model trained in the same run, so the example is self-contained; in
production the baseline is the model being served, brought in with
`dsl.importer(artifact_uri=..., artifact_class=dsl.Model)`.
"""

# No `from __future__ import annotations`: KFP reads the components' annotations as objects.
import argparse
import json
import os
import sys
from typing import List

from kfp import compiler, dsl
from kfp.dsl import Dataset, Input, Model, Output

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "component"))
from assay.kfp import DEFAULT_IMAGE, evaluator_component  # noqa: E402

PIPELINE_NAME = "assay-train-evaluate-push"
FEATURES = ["hour", "day", "payment", "miles"]
# The assay config: YAML or JSON text. One line, because kfp 2.13 copies parameter defaults
# into the compiled file's header comment unescaped, and a multi-line default breaks the YAML.
CONFIG = json.dumps({
    "label": "label",
    "slices": [[], ["payment"], ["hour"]],
    "min_slice_size": 50,
    "thresholds": [
        {"metric": "auc", "min": 0.65, "max_regression": 0.01},
        {"metric": "log_loss", "max_regression": {"relative": 0.05}},
        {"metric": "auc", "slices": [["payment"]], "min": 0.55},
    ],
})


def make_data(train_data: Output[Dataset], eval_data: Output[Dataset], rows: int = 4000,
              seed: int = 0):
    """Synthetic taxi trips as CSV: hour, day, payment, miles and whether a tip was given."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    n = 2 * rows
    hour, day = rng.integers(0, 24, n), rng.integers(1, 8, n)
    miles = np.round(rng.gamma(2.0, 2.5, n), 2)
    card = rng.random(n) < 0.3 + 0.5 * (miles > 5)
    payment = np.where(card, "Credit Card", rng.choice(["Cash", "Mobile", "Dispute"], n))
    logit = -1.5 + 0.2 * miles + 1.2 * ((hour >= 17) & (hour <= 22)) + 0.8 * card - 0.1 * (day - 4)
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    df = pd.DataFrame({"hour": hour, "day": day, "payment": payment, "miles": miles,
                       "label": label})
    df.iloc[:rows].to_csv(train_data.path, index=False)
    df.iloc[rows:].to_csv(eval_data.path, index=False)


def train(data: Input[Dataset], model: Output[Model], features: List[str]):
    """A scikit-learn logistic regression on `features`, saved as model.joblib in the artifact."""
    import os

    import joblib
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    df = pd.read_csv(data.path)
    text = [f for f in features if df[f].dtype == object]
    numeric = [f for f in features if f not in text]
    prepare = ColumnTransformer([("numeric", StandardScaler(), numeric),
                                 ("text", OneHotEncoder(handle_unknown="ignore"), text)])
    estimator = make_pipeline(prepare, LogisticRegression(max_iter=500))
    estimator.fit(df[features], df["label"])
    os.makedirs(model.path, exist_ok=True)
    joblib.dump(estimator, os.path.join(model.path, "model.joblib"))
    model.metadata["framework"] = "scikit-learn"
    model.metadata["features"] = features


def push(model: Input[Model], serving_dir: str) -> str:
    """Copies the blessed model to `serving_dir` (a mounted volume here; a registry or a bucket
    in a real deployment), under a new version directory; returns that directory."""
    import os
    import shutil
    import time

    target = os.path.join(serving_dir, str(int(time.time())))
    shutil.copytree(model.path, target)
    return target


def lightweight_components(image: str = DEFAULT_IMAGE):
    """make_data, train and push as KFP lightweight components running in `image`."""
    return tuple(dsl.component(base_image=image)(f) for f in (make_data, train, push))


def build_pipeline(image: str = DEFAULT_IMAGE):
    """The pipeline, every step running in `image`."""
    assay_evaluate = evaluator_component(image)
    make_data_op, train_op, push_op = lightweight_components(image)

    @dsl.pipeline(name=PIPELINE_NAME, description=(
        "Train a candidate and a baseline, evaluate the candidate with assay, push it only when "
        "assay blesses it."))
    def train_evaluate_push(config: dict = json.loads(CONFIG), serving_dir: str = "/mnt/serving",
                            rows: int = 4000):
        data = make_data_op(rows=rows)
        baseline = train_op(data=data.outputs["train_data"], features=["miles"])
        baseline.set_display_name("train-baseline")
        candidate = train_op(data=data.outputs["train_data"], features=FEATURES)
        candidate.set_display_name("train-candidate")
        evaluation = assay_evaluate(
            examples=data.outputs["eval_data"], model=candidate.outputs["model"],
            baseline_model=baseline.outputs["model"], config=config, allow_pickle=True)
        with dsl.If(evaluation.outputs["blessed"] == True, name="blessed"):  # noqa: E712
            push_op(model=candidate.outputs["model"], serving_dir=serving_dir)

    return train_evaluate_push


def compile_pipeline(path: str, image: str = DEFAULT_IMAGE) -> str:
    """Compiles the pipeline to KFP's IR YAML at `path`."""
    compiler.Compiler().compile(build_pipeline(image), path)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default="kfp_pipeline.yaml",
                        help="the IR YAML to write (default: kfp_pipeline.yaml)")
    parser.add_argument("--image", default=DEFAULT_IMAGE,
                        help=f"the assay image every step runs in (default: {DEFAULT_IMAGE})")
    args = parser.parse_args(argv)
    print(compile_pipeline(args.output, args.image))
    return 0


if __name__ == "__main__":
    sys.exit(main())
