"""A Kubeflow Pipelines (v2) monitoring pipeline: `assay monitor` as a recurring step.

    fresh data (no labels) --> assay monitor --history /gcs/BUCKET/monitor/runs
                                 exit 0: fine; 8: an alert; 4: a failed check (drift...)

Each scheduled run evaluates the day's data with the serving model, appends the results to the
history directory (a bucket mounted in the pod, e.g. Vertex AI's /gcs/BUCKET/...: the runs must
outlive the pod), compares them with the previous run (drift, `reference:`) and with the
trailing window (alerts), and fails the step on an alert or a failed check, which KFP shows and
can notify on. The recurring run is the body that `kfp.Client().create_recurring_run(...)`
sends to the KFP API (V2beta1RecurringRun, with the compiled pipeline inline):

    python pipelines/kfp_monitor.py -o monitor.yaml --recurring monitor_recurring.yaml
    kfp recurring-run create ... (or upload monitor.yaml and schedule it in the UI)
"""

# No `from __future__ import annotations`: KFP reads the components' annotations as objects.
import argparse
import json
import os
import sys

import yaml
from kfp import compiler, dsl

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "component"))
from assay.kfp import DEFAULT_IMAGE  # noqa: E402

PIPELINE_NAME = "assay-monitor"
CRON = "0 0 6 * * *"  # KFP's six-field cron (seconds first): every day at 06:00 UTC
# A label-free config: the prediction's distribution per slice, drift against the previous
# run, alerts on the mean prediction and the positive rate. One line (see kfp_pipeline.py).
CONFIG = json.dumps({
    "slices": [[], ["payment"]],
    "history": {"metrics": ["mean_prediction", "positive_rate@0.5"], "window": 7, "k": 3},
    "thresholds": [{"drift": "prediction", "max_js": 0.1}],
})


def monitor_component(image: str = DEFAULT_IMAGE):
    """The `assay monitor` step, as a KFP container component in the assay image."""

    @dsl.container_component
    def assay_monitor(examples: str, model: str, history: str, config: str = CONFIG):
        return dsl.ContainerSpec(
            image=image,
            command=["sh", "-c", 'printf "%s" "$0" > /tmp/monitor.json && exec assay monitor '
                     '--config /tmp/monitor.json --examples "$1" --model "$2" --history "$3"',
                     config, examples, model, history])

    return assay_monitor


def build_pipeline(image: str = DEFAULT_IMAGE):
    step = monitor_component(image)

    @dsl.pipeline(name=PIPELINE_NAME, description="assay monitor on fresh data, on a schedule")
    def monitor_pipeline(examples: str = "/gcs/my-bucket/fresh/latest/*.csv",
                         model: str = "/gcs/my-bucket/serving/model",
                         history: str = "/gcs/my-bucket/monitor/runs"):
        step(examples=examples, model=model, history=history).set_display_name("assay monitor")

    return monitor_pipeline


def compile_pipeline(path: str, image: str = DEFAULT_IMAGE) -> str:
    """Compiles the pipeline to KFP's IR YAML at `path`."""
    compiler.Compiler().compile(build_pipeline(image), path)
    return path


def recurring_run(pipeline_yaml: str, cron: str = CRON, experiment_id: str = "") -> dict:
    """The KFP API body of the recurring run (V2beta1RecurringRun, as a dict): the compiled
    pipeline inline, a cron trigger, one run at a time, no catch-up of missed runs."""
    import kfp_server_api as api

    with open(pipeline_yaml) as f:
        spec = yaml.safe_load(f)
    body = api.V2beta1RecurringRun(
        display_name=f"{PIPELINE_NAME} (daily)", description="scheduled assay monitor",
        pipeline_spec=spec, experiment_id=experiment_id or None,
        trigger=api.V2beta1Trigger(cron_schedule=api.V2beta1CronSchedule(cron=cron)),
        max_concurrency="1", no_catchup=True, mode="ENABLE")
    return api.ApiClient().sanitize_for_serialization(body)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default="kfp_monitor.yaml")
    parser.add_argument("--recurring", help="also write the recurring run's body (YAML)")
    parser.add_argument("--cron", default=CRON)
    parser.add_argument("--image", default=DEFAULT_IMAGE)
    args = parser.parse_args(argv)
    print(compile_pipeline(args.output, args.image))
    if args.recurring:
        with open(args.recurring, "w") as f:
            yaml.safe_dump(recurring_run(args.output, args.cron), f, sort_keys=False)
        print(args.recurring)
    return 0


if __name__ == "__main__":
    sys.exit(main())
