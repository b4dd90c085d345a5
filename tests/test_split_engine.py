"""DirectRunner arguments (a TFX pipeline's) run the local engine, with their worker count."""

import json

import pytest

import assay
from assay import api, demo
from assay.engine import local
from assay.engine.runner_args import direct_runner_only, direct_workers
from assay.errors import ConfigError

FILES = ["/data/a.gz", "/data/b.gz"]
# What TFX's BaseBeamExecutor adds to a component's arguments (tfx.utils.dependency_utils,
# telemetry_utils), in the forms it writes them.
TFX_ADDS = ["--extra_package=/tmp/tfx-sdist/tfx_ephemeral-1.16.0.tar.gz", "--labels",
            "tfx_executor=assay-tfx-executor-executor", "--labels", "tfx_version=1-16-0"]


@pytest.mark.parametrize("args,engine,workers", [
    ([], "local", None),
    (["--direct_num_workers=2"], "local", 2),
    (["--direct_running_mode=multi_processing", "--direct_num_workers=0"], "local", None),
    (["--runner=DirectRunner", "--direct_running_mode", "in_memory"], "local", None),
    (["--runner=direct", "--direct_num_workers", "3"] + TFX_ADDS, "local", 3),
    (["--direct_running_mode=multi_threading"] + TFX_ADDS, "local", None),
    (["--runner=DataflowRunner", "--project=p"], "beam", None),
    (["--runner=PortableRunner", "--job_endpoint=embed"], "beam", None),
    (["--direct_num_workers=2", "--temp_location=gs://bucket/tmp"], "beam", None),
    (["--direct_num_workers=2", "--s3_endpoint_url=http://127.0.0.1:9000"], "beam", None),
    (["--direct_running_mode=multi_tasking"], "beam", None),  # not a mode: Beam says so
    (["--direct_num_workers=-1"], "beam", None),
    (["direct_num_workers=2"], "beam", None),
])
def test_the_engine_for_each_kind_of_beam_arguments(args, engine, workers):
    assert api.choose_engine("auto", FILES, args) == engine
    assert direct_runner_only(args) is (engine == "local")
    assert direct_workers(args) == workers
    assert api.choose_engine("beam", FILES, args) == "beam"  # an explicit engine still wins


def test_remote_data_keep_beam_whatever_the_arguments():
    assert api.choose_engine("auto", ["gs://bucket/a.gz"], ["--direct_num_workers=2"]) == "beam"
    with pytest.raises(ConfigError, match="workers is for the local engine, and this "
                                          r"evaluation runs on Beam"):
        api.choose_engine("auto", FILES, ["--runner=DataflowRunner"], workers=2)
    assert api.choose_engine("auto", FILES, ["--direct_num_workers=1"], workers=2) == "local"


@pytest.fixture(scope="module")
def trips(tmp_path_factory):
    root = tmp_path_factory.mktemp("trips")
    demo.write_trips(str(root / "Split-eval"), 2000, shards=3, seed=4)
    return str(root / "Split-eval")


CONFIG = {"label": "label", "models": {"candidate": {"prediction": "prediction"}},
          "slices": [[], ["hour"]]}


def test_direct_runner_arguments_run_locally_with_their_worker_count(trips, tmp_path,
                                                                     monkeypatch):
    seen = []
    run_local = local.run_local
    monkeypatch.setattr(local, "run_local",
                        lambda plan, workers=None: seen.append(workers) or run_local(plan, workers))
    args = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
    fast = assay.evaluate(CONFIG, trips, str(tmp_path / "a"), beam_pipeline_args=args)
    beam = assay.evaluate(CONFIG, trips, str(tmp_path / "b"), beam_pipeline_args=args,
                          engine="beam")
    assert seen == [2]
    assert fast.info["engine"] == "local" and beam.info["engine"] == "beam"
    by_slice = {json.dumps(r["slice"]): r["metrics"] for r in beam.records}
    for record in fast.records:
        for metric, value in by_slice[json.dumps(record["slice"])].items():
            assert record["metrics"][metric] == pytest.approx(value, rel=1e-9, nan_ok=True)


def test_the_cli_runs_direct_runner_arguments_locally(trips, tmp_path):
    from assay import cli

    config = tmp_path / "config.json"
    config.write_text(json.dumps(CONFIG))
    code = cli.main(["evaluate", "--config", str(config), "--examples", trips, "--output",
                     str(tmp_path / "out"), "--beam-pipeline-args",
                     "--direct_running_mode=in_memory --direct_num_workers=1"])
    assert code == 0
    metrics = json.loads((tmp_path / "out" / "assay_metrics.json").read_text())
    assert metrics["engine"] == "local"


def test_the_tfx_executor_runs_a_direct_runner_pipeline_locally(trips, tmp_path, monkeypatch):
    """TFX's BaseBeamExecutor adds its staging options (here --sdk_container_image, which keeps
    it from building its sdist); the pipeline's DirectRunner arguments still run locally."""
    from tfx.dsl.components.base import base_beam_executor
    from tfx.types import standard_artifacts

    from assay.tfx.executor import Executor
    from tfx_artifacts import artifact, executor_outputs

    seen = []
    run_local = local.run_local
    monkeypatch.setattr(local, "run_local",
                        lambda plan, workers=None: seen.append(workers) or run_local(plan, workers))
    examples = artifact(standard_artifacts.Examples, tmp_path, "examples",
                        split_names='["eval"]')
    examples.uri = trips[:-len("/Split-eval")]
    outputs = executor_outputs(tmp_path)
    context = base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=[
        "--direct_running_mode=multi_processing", "--direct_num_workers=2",
        "--sdk_container_image=unused"])
    Executor(context).Do({"examples": [examples]}, outputs,
                         {"config": json.dumps(CONFIG), "eval_config": None,
                          "example_splits": json.dumps(["eval"])})
    result = assay.load_result(outputs["evaluation"][0].uri)
    assert result.info["engine"] == "local" and seen == [2]
    assert result.metrics({})["example_count"] == 2000


def test_the_tfx_executor_builds_no_sdist_for_direct_runner_arguments(monkeypatch):
    """TFX's BaseBeamExecutor packages TFX for remote workers whenever Beam arguments are given;
    assay's executor skips that for DirectRunner arguments, and keeps it for other runners."""
    from tfx.dsl.components.base import base_beam_executor
    from tfx.utils import dependency_utils

    from assay.tfx.executor import Executor

    built = []
    monkeypatch.setattr(dependency_utils, "build_ephemeral_package",
                        lambda: built.append(1) or "/tmp/tfx_ephemeral.tar.gz")
    direct = ["--direct_running_mode=multi_processing", "--direct_num_workers=0"]
    executor = Executor(base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=direct))
    assert built == [] and executor._beam_pipeline_args == direct
    other = ["--runner=DataflowRunner", "--project=p"]
    executor = Executor(base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=other))
    assert built == [1]
    assert executor._beam_pipeline_args[:2] == other
    assert "--extra_package=/tmp/tfx_ephemeral.tar.gz" in executor._beam_pipeline_args
