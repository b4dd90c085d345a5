"""Data, models and results on real object stores: an S3 server (moto) and a GCS emulator, both
started on 127.0.0.1 by tests/cloud_servers.py.

Each evaluation reads its examples, its model (and its config) from a bucket and publishes its
results into the same bucket; the records must equal those of the local engine on local copies
of the same files (within 1e-9), one slice must match scikit-learn computed on the rows of that
slice, and the bucket must hold one complete result and nothing else from the run.

S3 is reached through Beam's S3 pipeline options (the --beam-pipeline-args a user gives); GCS
through STORAGE_EMULATOR_HOST (the first GCS access of a process waits about 20 s while Beam
looks for Google credentials, then connects anonymously).
"""

from __future__ import annotations

import json
import math
import shlex
from pathlib import Path

import pytest
from sklearn.metrics import roc_auc_score

import assay
from assay.errors import StorageError
import model_fixtures as mf
from cloud_servers import cloud_store, gcs_server, s3_server  # noqa: F401 (fixtures)

CONFIG = {"label": "label",
          "slices": [[], ["payment"]],
          "thresholds": [{"metric": "auc", "min": 0.5},
                         {"metric": "auc", "max_regression": 0.5}]}
SLICE_CHECKED = {"payment": "Cash"}


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """Local files: two TFRecord shards, a candidate and a baseline joblib model, a config."""
    d = tmp_path_factory.mktemp("cloud")
    df = mf.make_tabular_data(1200, seed=11)
    (d / "data").mkdir()
    mf.write_tfrecord(df.iloc[:700], d / "data" / "part-00000.tfrecord.gz", gzip=True)
    mf.write_tfrecord(df.iloc[700:], d / "data" / "part-00001.tfrecord.gz", gzip=True)
    mf.make_sklearn_model(d / "candidate.joblib", "logistic")
    mf.make_sklearn_model(d / "baseline.joblib", "gbm")
    return d, df


def _config(model: str, baseline: str) -> dict:
    return dict(CONFIG, models={"candidate": {"path": model}, "baseline": {"path": baseline}})


@pytest.fixture(scope="module")
def local_result(case, tmp_path_factory):
    d, _ = case
    out = tmp_path_factory.mktemp("local") / "eval"
    return assay.evaluate(_config(str(d / "candidate.joblib"), str(d / "baseline.joblib")),
                          str(d / "data"), str(out), allow_pickle=True, engine="local")


def _by_key(result):
    return {(json.dumps(r["slice"], sort_keys=True), r["model"]): r for r in result.records}


def assert_same_records(got, want, tol=1e-9):
    """Every record of `want` is in `got`, each metric within `tol` (NaN equals NaN)."""
    got, want = _by_key(got), _by_key(want)
    assert sorted(got) == sorted(want)
    for key, w in want.items():
        g = got[key]
        assert g.get("withheld") == w.get("withheld"), key
        assert sorted(g.get("metrics", {})) == sorted(w.get("metrics", {})), key
        for name, value in w.get("metrics", {}).items():
            if isinstance(value, float) and math.isnan(value):
                assert math.isnan(g["metrics"][name]), (key, name)
            else:
                assert g["metrics"][name] == pytest.approx(value, rel=tol, abs=tol), (key, name)


def _upload_case(store, case):
    """The case's files in a new bucket; returns (bucket, {name: url})."""
    d, _ = case
    bucket = store.make_bucket()
    root = f"{store.scheme}://{bucket}"
    urls = {"data": store.upload(d / "data", f"{root}/data"),
            "candidate": store.upload(d / "candidate.joblib", f"{root}/models/1/model.joblib"),
            "baseline": store.upload(d / "baseline.joblib", f"{root}/models/0/model.joblib"),
            "output": f"{root}/eval"}
    config = _config(urls["candidate"], urls["baseline"])
    store.put(bucket, "config.json", json.dumps(config).encode())
    urls["config"] = f"{root}/config.json"
    return bucket, urls


def assert_complete_in_bucket(store, bucket, local_result, prefix="eval/"):
    """The bucket holds each file of the local result once under `prefix`, and no staging
    debris (no pass scratch, no temporary files)."""
    keys = store.keys(bucket, prefix)
    local = sorted(p.relative_to(local_result.path).as_posix()
                   for p in Path(local_result.path).rglob("*") if p.is_file())
    assert local, "the local run wrote nothing"
    for name in local:
        holding = [k for k in keys if k == prefix + name or k.endswith("/" + name)]
        assert len(holding) == 1, f"{name}: {holding} in {keys}"
    debris = [k for k in keys if "/_pass/" in k or ".tmp" in k or k.endswith(".pickle")]
    assert not debris, f"staging debris left in the bucket: {debris}"
    blessing = [k for k in keys if k.endswith(("/BLESSED", "/NOT_BLESSED"))]
    assert len(blessing) == 1 and blessing[0].rsplit("/", 2)[-2] == "blessing", keys
    return keys


def _check_against_sklearn(result, case):
    """The candidate's auc on one slice equals scikit-learn's on that slice's rows."""
    d, df = case
    rows = (df["payment"] == SLICE_CHECKED["payment"]).to_numpy()
    score = mf.reference_sklearn(d / "candidate.joblib", df)
    want = roc_auc_score(df["label"].to_numpy()[rows], score[rows])
    assert result.metrics(SLICE_CHECKED)["auc"] == pytest.approx(want, rel=1e-9)
    assert result.metrics(SLICE_CHECKED)["example_count"] == rows.sum()


def test_the_api_reads_and_publishes_on_the_store(store_case):
    store, bucket, urls, local_result, case = store_case
    result = assay.evaluate(urls["config"], urls["data"], urls["output"], allow_pickle=True,
                            beam_pipeline_args=store.beam_args)
    assert result.info["engine"] == "beam"  # remote data: the Beam engine
    assert_same_records(result, local_result)
    _check_against_sklearn(result, case)
    assert_complete_in_bucket(store, bucket, local_result)

    again = assay.load_result(urls["output"])  # read back from the bucket
    assert_same_records(again, local_result)
    assert again.blessed is local_result.blessed is True
    assert again.validation["blessed"] is True


def test_the_cli_reads_and_publishes_on_the_store(store_case, capsys):
    from assay import cli

    store, bucket, urls, local_result, case = store_case
    output = urls["output"] + "-cli"
    argv = ["evaluate", "--config", urls["config"], "--examples", urls["data"],
            "--model", urls["candidate"], "--baseline", urls["baseline"], "--allow-pickle",
            "--output", output]
    if store.beam_args:
        argv += ["--beam-pipeline-args", shlex.join(store.beam_args)]
    assert cli.main(argv) == 0, capsys.readouterr().err
    assert output in capsys.readouterr().out
    result = assay.load_result(output)
    assert_same_records(result, local_result)
    _check_against_sklearn(result, case)
    assert_complete_in_bucket(store, bucket, local_result, prefix="eval-cli/")


@pytest.fixture
def store_case(cloud_store, case, local_result):
    bucket, urls = _upload_case(cloud_store, case)
    return cloud_store, bucket, urls, local_result, case


def test_a_tf_saved_model_on_the_store_gives_the_local_records(cloud_store, case,
                                                              tmp_path_factory):
    d, df = case
    artifact = tmp_path_factory.mktemp("trainer") / "model"
    mf.make_tfx_saved_model(artifact)
    bucket = cloud_store.make_bucket()
    root = f"{cloud_store.scheme}://{bucket}"
    remote_model = cloud_store.upload(artifact, f"{root}/Trainer/model/7")
    remote_data = cloud_store.upload(d / "data", f"{root}/data")
    config = {"label": "label", "models": {"candidate": {"path": remote_model}},
              "slices": [[], ["payment"]], "thresholds": [{"metric": "auc", "min": 0.5}]}
    result = assay.evaluate(config, remote_data, f"{root}/eval",
                            beam_pipeline_args=cloud_store.beam_args)
    local = assay.evaluate(dict(config, models={"candidate": {"path": str(artifact)}}),
                           str(d / "data"), str(artifact.parent / "eval"), engine="local")
    assert_same_records(result, local)
    rows = (df["payment"] == SLICE_CHECKED["payment"]).to_numpy()
    score = mf.reference_saved_model(artifact, df)
    want = roc_auc_score(df["label"].to_numpy()[rows], score[rows])
    # The SavedModel computes in float32: scores agree to float32, areas to about 1e-6.
    assert result.metrics(SLICE_CHECKED)["auc"] == pytest.approx(want, abs=1e-6)
    assert_complete_in_bucket(cloud_store, bucket, local)


def test_a_bucket_that_does_not_exist_is_named(cloud_store, case):
    d, _ = case
    bucket = cloud_store.make_bucket()
    root = f"{cloud_store.scheme}://{bucket}"
    data = cloud_store.upload(d / "data", f"{root}/data")
    config = dict(CONFIG, models={"candidate": {"prediction": "hour"}}, thresholds=[],
                  task="regression")  # hour (0-23) as a prediction of the 0/1 label
    missing = f"no-such-bucket-{bucket[-6:]}"
    with pytest.raises(StorageError,
                       match=rf"cannot (read|list) {cloud_store.scheme}://{missing}/data: bucket "
                             rf"'{missing}' does not exist"):
        assay.evaluate(config, f"{cloud_store.scheme}://{missing}/data", f"{root}/eval",
                       beam_pipeline_args=cloud_store.beam_args)
    with pytest.raises(StorageError, match=rf"{missing}.*(does not exist|NoSuchBucket|404)"):
        assay.evaluate(config, data, f"{cloud_store.scheme}://{missing}/eval",
                       beam_pipeline_args=cloud_store.beam_args)
    assert cloud_store.keys(bucket, "eval") == []


def test_the_options_reach_the_drivers_reads(s3_server, case):
    """The driver's own reads (listing, sniffing) reach the server through set_options; without
    any options Beam's S3 filesystem cannot even be built. (assay.evaluate calls set_options with
    its beam_pipeline_args: see the tests above.)"""
    from assay.data import files, options

    d, _ = case
    bucket = s3_server.make_bucket()
    data = s3_server.upload(d / "data", f"s3://{bucket}/data")
    try:
        options.set_options(s3_server.beam_args)
        assert options.current_args() == tuple(s3_server.beam_args)
        assert [files.basename(p) for p in files.list_dir(data)[0]] == \
            ["part-00000.tfrecord.gz", "part-00001.tfrecord.gz"]
        assert files.read_head(f"{data}/part-00000.tfrecord.gz", 2) == b"\x1f\x8b"  # gzip
        files.write_text(f"s3://{bucket}/marker/EMPTY", "")  # Beam's S3 writer cannot do this
        assert s3_server.get(bucket, "marker/EMPTY") == b""
        with pytest.raises(TypeError, match="must be a list of strings"):
            options.set_options(" ".join(s3_server.beam_args))
    finally:
        options.set_options([])


def test_the_portable_runner_with_external_workers_reads_and_publishes_on_the_store(
        store_case, tmp_path):
    """Beam's PortableRunner, its workers started by an external worker pool (separate
    processes that get neither the pipeline's filesystem options nor the driver's environment
    changes, except what the pool is started with: STORAGE_EMULATOR_HOST for GCS)."""
    from beam_workers import WorkerPool

    store, bucket, urls, local_result, case = store_case
    with WorkerPool(tmp_path / "pool", env=store.env) as pool:
        result = assay.evaluate(urls["config"], urls["data"], urls["output"], allow_pickle=True,
                                beam_pipeline_args=pool.pipeline_args(*store.beam_args))
    assert result.info["engine"] == "beam"
    assert_same_records(result, local_result)
    _check_against_sklearn(result, case)
    assert_complete_in_bucket(store, bucket, local_result)
    assert_same_records(assay.load_result(urls["output"]), local_result)
    assert result.blessed is True


def test_the_tfx_component_runs_with_its_pipeline_root_in_the_emulated_bucket(
        gcs_server, case, tmp_path):
    """LocalDagRunner with pipeline_root gs://... on the emulator: TFX makes its artifact
    directories through assay.tfx.filesystem (TensorFlow's gs:// ignores the emulator, and
    TensorFlow has no s3:// at all); the Evaluator's evaluation and blessing land in the bucket."""
    from tfx import v1 as tfx

    import assay.tfx
    from assay.tfx import filesystem

    d, df = case
    split = tmp_path / "examples" / "Split-eval"
    split.mkdir(parents=True)
    mf.write_tfrecord(df, split / "data_tfrecord-00000-of-00001.gz", gzip=True)
    mf.make_tfx_saved_model(tmp_path / "model", df)
    bucket = gcs_server.make_bucket()
    root = f"gs://{bucket}"
    examples = gcs_server.upload(tmp_path / "examples", f"{root}/inputs/Examples/1")
    model = gcs_server.upload(tmp_path / "model", f"{root}/inputs/Model/1")
    config = {"label": "label", "models": {"candidate": {}}, "slices": [[], ["payment"]],
              "thresholds": [{"metric": "auc", "min": 0.5}]}

    filesystem.register(["gs://"])
    importer = tfx.dsl.Importer(source_uri=examples, properties={"split_names": '["eval"]'},
                                artifact_type=tfx.types.standard_artifacts.Examples
                                ).with_id("examples")
    model_importer = tfx.dsl.Importer(source_uri=model,
                                      artifact_type=tfx.types.standard_artifacts.Model
                                      ).with_id("model")
    evaluator = assay.tfx.Evaluator(examples=importer.outputs["result"],
                                    model=model_importer.outputs["result"], config=config)
    tfx.orchestration.LocalDagRunner().run(tfx.dsl.Pipeline(
        pipeline_name="cloud", pipeline_root=f"{root}/root",
        components=[importer, model_importer, evaluator],
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            str(tmp_path / "metadata.sqlite"))))

    keys = gcs_server.keys(bucket, "root/")
    blessing = [k for k in keys if k.startswith("root/Evaluator/blessing/")]
    assert [k.rsplit("/", 1)[1] for k in blessing] == ["BLESSED"], keys
    evaluation = {k.split("/")[3] for k in keys if k.startswith("root/Evaluator/evaluation/")}
    assert len(evaluation) == 1, keys
    result = assay.load_result(f"{root}/root/Evaluator/evaluation/{evaluation.pop()}")
    local = assay.evaluate(dict(config, models={"candidate": {"path": str(tmp_path / "model")}}),
                           str(split), str(tmp_path / "local"), engine="local")
    assert_same_records(result, local)
    assert result.blessed is True


def test_tfx_fileio_reaches_s3_through_the_plugin(s3_server):
    """tfx.dsl.io.fileio on s3:// (which TensorFlow 2.16 lacks): the operations TFX's
    orchestration and components use, checked against the objects boto3 sees."""
    from tfx.dsl.io import fileio

    from assay.data import options
    from assay.tfx import filesystem

    bucket = s3_server.make_bucket()
    root = f"s3://{bucket}/root"
    try:
        filesystem.register(["s3://"], s3_server.beam_args)
        fileio.makedirs(f"{root}/a/b")
        with fileio.open(f"{root}/a/b/x.txt", "w") as f:
            f.write("hello")
        with fileio.open(f"{root}/a/y.bin", "wb") as f:
            f.write(b"\x00\x01")
        assert s3_server.keys(bucket) == ["root/a/b/x.txt", "root/a/y.bin"]
        assert fileio.exists(f"{root}/a") and fileio.isdir(f"{root}/a")
        assert not fileio.isdir(f"{root}/a/y.bin") and not fileio.exists(f"{root}/nope")
        assert sorted(fileio.listdir(f"{root}/a")) == ["b", "y.bin"]
        assert list(fileio.walk(root)) == [(root, ["a"], []), (f"{root}/a", ["b"], ["y.bin"]),
                                           (f"{root}/a/b", [], ["x.txt"])]
        with fileio.open(f"{root}/a/b/x.txt") as f:
            assert f.read() == "hello"
        fileio.copy(f"{root}/a/y.bin", f"{root}/c.bin")
        fileio.rename(f"{root}/a", f"{root}/moved")
        assert s3_server.keys(bucket) == ["root/c.bin", "root/moved/b/x.txt", "root/moved/y.bin"]
        assert s3_server.get(bucket, "root/c.bin") == b"\x00\x01"
        fileio.rmtree(f"{root}/moved")
        fileio.remove(f"{root}/c.bin")
        assert s3_server.keys(bucket) == []
    finally:
        options.set_options([])


def test_the_kfp_executor_reads_and_publishes_on_the_store(s3_server, case, local_result,
                                                           tmp_path, capsys):
    """The KFP entrypoint (`kfp --executor-input JSON`) with its examples, model and baseline
    artifacts and every output artifact on the S3 server, as on Kubeflow with no bucket mounts
    (Beam's S3 options in `beam_pipeline_args`): the evaluation lands complete in the bucket
    (read back with load_result), the metrics are the local run's, the blessing marker and the
    KFP outputs are in the bucket, and the executor output file says BLESSED."""
    import yaml

    from assay import kfp as assay_kfp
    from assay.data import options
    from assay.kfp import executor

    d, _ = case
    bucket = s3_server.make_bucket()
    root = f"s3://{bucket}"
    s3_server.upload(d / "data", f"{root}/data")
    s3_server.upload(d / "candidate.joblib", f"{root}/models/1/model.joblib")
    s3_server.upload(d / "baseline.joblib", f"{root}/models/0/model.joblib")
    comp = yaml.safe_load(open(assay_kfp.COMPONENT_YAML))["components"]["comp-assay-evaluate"]
    outputs = comp["outputDefinitions"]

    def artifact(name, schema, uri):
        return {"artifacts": [{"name": name, "uri": uri, "metadata": {},
                               "type": {"schemaTitle": schema, "schemaVersion": "0.0.1"}}]}

    task = {"inputs": {
        "parameterValues": {"config": json.dumps(CONFIG), "allow_pickle": True,
                            "beam_pipeline_args": s3_server.beam_args},
        "artifacts": {"examples": artifact("examples", "system.Dataset", f"{root}/data"),
                      "model": artifact("model", "system.Model", f"{root}/models/1"),
                      "baseline_model": artifact("baseline_model", "system.Model",
                                                 f"{root}/models/0")}},
        "outputs": {
            "artifacts": {name: artifact(name, spec["artifactType"]["schemaTitle"],
                                         f"{root}/task/{name}")
                          for name, spec in outputs["artifacts"].items()},
            "parameters": {name: {"outputFile": str(tmp_path / "parameters" / name)}
                           for name in outputs["parameters"]},
            "outputFile": str(tmp_path / "executor_output.json")}}
    try:
        code = executor.main(["--executor-input", json.dumps(task)])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        result = assay.load_result(f"{root}/task/evaluation")
        assert_same_records(result, local_result)
        assert result.blessed is local_result.blessed is True
        assert_complete_in_bucket(s3_server, bucket, local_result, prefix="task/evaluation/")
    finally:
        options.set_options([])
    keys = s3_server.keys(bucket, "task/")
    assert "task/blessing/BLESSED" in keys and "task/blessing/NOT_BLESSED" not in keys
    metrics = json.loads(s3_server.get(bucket, "task/metrics"))
    assert metrics["auc"] == pytest.approx(local_result.metrics()["auc"], rel=1e-9)
    assert b"BLESSED" in s3_server.get(bucket, "task/report")
    assert json.loads(s3_server.get(bucket, "task/classification_metrics"))
    written = json.loads((tmp_path / "executor_output.json").read_text())
    assert written["parameterValues"] == {"blessed": True}
    assert written["artifacts"]["blessing"]["artifacts"][0]["metadata"]["blessed"] == 1
    assert not [k for k in s3_server.keys(bucket) if ".tmp" in k or "/_pass/" in k]
