"""ML Metadata outside TFX: records read back with the ml-metadata API (SQLite and a real MariaDB
server), lineage, `latest-blessed` resolution, TFX's own resolver over assay's records, and
concurrent writers.

The MariaDB server comes from Debian's packages (tests/mariadb.sh installs it when missing and
starts it on loopback in a temporary datadir); the MariaDB tests skip only when it cannot be
installed.
"""

import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid

import pytest
from ml_metadata import errors
from ml_metadata.proto import metadata_store_pb2 as pb

from assay import cli, mlmd
from assay.errors import ConfigError, ConfigTypeError, MetadataError, exit_code
from assay.mlmd import types as mlmd_types
from assay.results.result import EvalResult
from assay.validation import Outcome, ValidationResult
from model_fixtures import make_sklearn_model, make_tabular_data, write_csv
from fresh import loaded_modules

HERE = os.path.dirname(os.path.abspath(__file__))
MARIADB_SH = os.path.join(HERE, "mariadb.sh")
ROOT = os.path.dirname(HERE)


# --------------------------------------------------------------------------------------------
# Stores

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def mariadb():
    """mysql://assay:assay@127.0.0.1:PORT/mlmd on a server started for this module."""
    if not (shutil.which("mariadbd") and shutil.which("mariadb-install-db")):
        proc = subprocess.run([MARIADB_SH, "install"], capture_output=True, text=True,
                              timeout=900)
        if proc.returncode != 0:
            pytest.fail(f"MariaDB server cannot be installed here (tests/mariadb.sh install: "
                        f"{(proc.stderr or proc.stdout).strip()[-400:]})")
    datadir = tempfile.mkdtemp(prefix="assay-mariadb-")   # short: the socket path is limited
    proc = subprocess.run([MARIADB_SH, "start", datadir, str(_free_port())],
                          capture_output=True, text=True, timeout=180)
    try:
        assert proc.returncode == 0, f"MariaDB is installed but did not start:\n{proc.stderr}"
        yield proc.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run([MARIADB_SH, "stop", datadir], timeout=60)
        shutil.rmtree(datadir, ignore_errors=True)


@pytest.fixture(params=["sqlite", "mariadb"])
def store_uri(request, tmp_path):
    """A fresh, empty store of each kind (a new database on the MariaDB server)."""
    if request.param == "sqlite":
        return f"sqlite:{tmp_path / 'metadata.sqlite'}"
    server = request.getfixturevalue("mariadb")
    return f"{server.rsplit('/', 1)[0]}/t_{uuid.uuid4().hex[:12]}"


# --------------------------------------------------------------------------------------------
# Results to record (recording reads only the verdict and the paths; the CLI tests below record
# real evaluations)

def fake_result(path, model, baseline=None, blessed=True):
    verdict = ValidationResult(blessed, Outcome.BLESSED if blessed else Outcome.NOT_BLESSED,
                               ["the 1 check passed"] if blessed else
                               ["auc is 0.6, below the minimum 0.7"], [])
    models = {"candidate": model}
    if baseline is not None:
        models["baseline"] = baseline
    doc = {"version": 1, "task": "binary", "models": models, "examples_read": 500,
           "records": []}
    return EvalResult(doc, validation=verdict.to_dict(), config={"label": "label"},
                      path=str(path))


def trainer_model(store, pipeline, uri):
    """A Model artifact as a TFX Trainer in `pipeline` publishes it; returns its id."""
    types = mlmd_types.register_types(store)
    trainer = store.put_execution_type(pb.ExecutionType(name="tfx.components.trainer."
                                                        "component.Trainer"))
    execution = pb.Execution(type_id=trainer, last_known_state=pb.Execution.COMPLETE)
    model = pb.Artifact(type_id=types.artifacts["Model"], uri=uri, state=pb.Artifact.LIVE)
    event = pb.Event(type=pb.Event.OUTPUT)
    event.path.steps.add().key = "model"
    event.path.steps.add().index = 0
    context = pb.Context(type_id=types.contexts["pipeline"], name=pipeline)
    _, (model_id,), _ = store.put_lineage_subgraph([execution], [model], [context],
                                                   [(0, 0, event)],
                                                   reuse_context_if_already_exist=True)
    return model_id


def _keys(event):
    return [s.key for s in event.path.steps if s.HasField("key")]


def _value(prop):
    return getattr(prop, prop.WhichOneof("value"))


def build_history(store, tmp_path):
    """Three evaluations in pipeline 'taxi': m1 first (blessed), m2 vs m1 (not blessed), then
    m3 vs m1 (blessed). m1 is a Trainer output; m2 and m3 are not in the store beforehand."""
    m1, m2, m3 = (str(tmp_path / f"models/m{i}") for i in (1, 2, 3))
    examples = [str(tmp_path / "examples/Split-eval/*.tfrecord.gz")]
    m1_id = trainer_model(store, "taxi", m1)
    first = mlmd.record_evaluation(store, fake_result(tmp_path / "out1", m1), examples=examples,
                                   pipeline="taxi")
    second = mlmd.record_evaluation(store, fake_result(tmp_path / "out2", m2, m1, False),
                                    examples=examples, pipeline="taxi")
    third = mlmd.record_evaluation(store, fake_result(tmp_path / "out3", m3, m1, True),
                                   examples=examples, pipeline="taxi")
    return m1_id, first, second, third


# --------------------------------------------------------------------------------------------
# Connecting

def test_importing_assay_mlmd_does_not_import_ml_metadata():
    assert loaded_modules("import assay.mlmd, assay.cli", ("ml_metadata",)) == []


def test_store_failures_are_metadata_errors(tmp_path):
    """ml-metadata's own errors (a StatusError, or a RuntimeError for an unreachable MySQL)
    become MetadataError, exit status 5, naming what assay was doing."""
    with pytest.raises(MetadataError, match=r"^ML Metadata: connecting to "
                                            r"mysql://ml:\*\*\*@127.0.0.1:1/md failed: ") as e:
        mlmd.connect("mysql://ml:secret@127.0.0.1:1/md")
    assert exit_code(e.value) == 5 and "secret" not in str(e.value)
    store = mlmd.connect(f"sqlite:{tmp_path / 'md.sqlite'}")

    class Broken:
        def __getattr__(self, name):
            def fail(*args, **kwargs):
                raise errors.InvalidArgumentError("no such table: Artifact")
            return fail

    with pytest.raises(MetadataError, match=r"^ML Metadata: looking up the latest blessed "
                                            r"model failed: InvalidArgumentError: no such table"):
        mlmd.latest_blessed_model(Broken(), "taxi")
    with pytest.raises(MetadataError, match=r"^ML Metadata: reading artifact 7 failed"):
        mlmd.get_artifact(Broken(), 7, "Model")
    assert mlmd.latest_blessed_model(store, "taxi") is None


def test_connection_config_forms():
    sqlite = mlmd.connection_config("sqlite:///tmp/metadata.db")
    assert sqlite.sqlite.filename_uri == "/tmp/metadata.db"
    assert sqlite.sqlite.connection_mode == pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    mysql = mlmd.connection_config("mysql://ml:p%40ss@db.internal:3307/metadata")
    assert (mysql.mysql.host, mysql.mysql.port, mysql.mysql.database, mysql.mysql.user,
            mysql.mysql.password) == ("db.internal", 3307, "metadata", "ml", "p@ss")
    assert mlmd.connection_config("mariadb://ml@db/md").mysql.port == 3306
    sock = mlmd.connection_config("mysql://ml@/md?socket=/run/mysqld/mysqld.sock")
    assert sock.mysql.socket == "/run/mysqld/mysqld.sock"


@pytest.mark.parametrize("uri, error, match", [
    ("postgres://u@h/db", ConfigError, r"must be sqlite:PATH or mysql://.*got 'postgres://u@h/db'"),
    ("mysql://u:secret@h:3306/", ConfigError, r"'mysql://u:\*\*\*@h:3306/' names no database"),
    ("mysql://u@h:port/db", ConfigError, r"the port must be a number"),
    ("mysql://u@h/db?ssl=1", ConfigError, r"unknown option 'ssl'"),
    ("sqlite:", ConfigError, r"names no file"),
    ("sqlite:/no/such/dir/md.db", ConfigError, r"the directory /no/such/dir does not exist"),
    (7, ConfigTypeError, r"'--mlmd' must be a string \(got 7, a int\)"),
])
def test_connection_config_errors(uri, error, match):
    with pytest.raises(error, match=match):
        mlmd.connection_config(uri)


def test_examples_uri_is_the_tfx_artifact_directory():
    assert mlmd.examples_uri("/p/Gen/examples/3/Split-eval") == "/p/Gen/examples/3"
    assert mlmd.examples_uri("/p/Gen/examples/3/Split-eval/*.gz") == "/p/Gen/examples/3"
    assert mlmd.examples_uri("gs://b/eval.csv") == "gs://b/eval.csv"
    assert mlmd.examples_uri("data/eval.csv") == os.path.abspath("data/eval.csv")


# --------------------------------------------------------------------------------------------
# Recording, read back with the ml-metadata API

def test_records_read_back_with_lineage(store_uri, tmp_path):
    store = mlmd.connect(store_uri)
    m1_id, first, second, third = build_history(store, tmp_path)

    # Types under TFX's names; the Trainer's model was found by URI, not registered again.
    assert first.model_id == m1_id and second.baseline_id == m1_id
    models = store.get_artifacts_by_type("Model")
    assert sorted(a.uri for a in models) == sorted(str(tmp_path / f"models/m{i}")
                                                  for i in (1, 2, 3))
    (examples,) = store.get_artifacts_by_type("Examples")
    assert examples.uri == str(tmp_path / "examples")
    assert first.examples_ids == second.examples_ids == (examples.id,)
    assert len(store.get_artifacts_by_type("ModelEvaluation")) == 3

    # The blessing: TFX's custom properties, plus assay's reasons.
    (blessing,) = store.get_artifacts_by_id([second.blessing_id])
    props = {k: _value(v) for k, v in blessing.custom_properties.items()}
    assert props["blessed"] == 0
    assert props["current_model_id"] == second.model_id
    assert props["current_model"] == str(tmp_path / "models/m2")
    assert props["baseline_model_id"] == m1_id
    assert props["baseline_model"] == str(tmp_path / "models/m1")
    assert json.loads(props["assay_reasons"]) == ["auc is 0.6, below the minimum 0.7"]
    assert props["assay_outcome"] == "NOT_BLESSED"
    assert blessing.uri == str(tmp_path / "out2" / "blessing")
    assert blessing.state == pb.Artifact.LIVE
    (blessing_type,) = store.get_artifact_types_by_id([blessing.type_id])
    assert blessing_type.name == "ModelBlessing"

    # Lineage: blessing <- execution <- (model, baseline_model, examples).
    (produced,) = store.get_events_by_artifact_ids([second.blessing_id])
    assert produced.type == pb.Event.OUTPUT and _keys(produced) == ["blessing"]
    assert produced.execution_id == second.execution_id
    (execution,) = store.get_executions_by_id([second.execution_id])
    (execution_type,) = store.get_execution_types_by_id([execution.type_id])
    assert execution_type.name == "assay.Evaluator"
    assert execution.last_known_state == pb.Execution.COMPLETE
    events = store.get_events_by_execution_ids([second.execution_id])
    inputs = {_keys(e)[0]: e.artifact_id for e in events if e.type == pb.Event.INPUT}
    outputs = {_keys(e)[0]: e.artifact_id for e in events if e.type == pb.Event.OUTPUT}
    assert inputs == {"model": second.model_id, "baseline_model": m1_id,
                      "examples": examples.id}
    assert outputs == {"evaluation": second.evaluation_id, "blessing": second.blessing_id}

    # m2 was not in the store: an importer execution registered it, in the same pipeline.
    (registered,) = [e for e in store.get_events_by_artifact_ids([second.model_id])
                     if e.type == pb.Event.OUTPUT]
    (importer,) = store.get_executions_by_id([registered.execution_id])
    assert store.get_execution_types_by_id([importer.type_id])[0].name == "assay.Importer"
    (m2,) = store.get_artifacts_by_id([second.model_id])
    assert _value(m2.custom_properties["is_external"]) == 1

    # Contexts: pipeline, run and node, as TFX attaches them.
    names = {(store.get_context_types_by_id([c.type_id])[0].name, c.name)
             for c in store.get_contexts_by_execution(second.execution_id)}
    assert names == {("pipeline", "taxi"), ("pipeline_run", second.run_id),
                     ("node", "taxi.assay")}


def test_latest_blessed_model(store_uri, tmp_path):
    store = mlmd.connect(store_uri)
    assert mlmd.latest_blessed_model(store, "taxi") is None          # an empty store
    m1 = str(tmp_path / "models/m1")
    m1_id = trainer_model(store, "taxi", m1)
    assert mlmd.latest_blessed_model(store, "taxi") is None          # a model, no blessing
    first = mlmd.record_evaluation(store, fake_result(tmp_path / "o1", m1), pipeline="taxi")
    assert mlmd.latest_blessed_model(store, "taxi") == mlmd.BlessedModel(
        m1_id, m1, first.blessing_id)
    # A newer model that was not blessed does not replace it...
    mlmd.record_evaluation(store, fake_result(tmp_path / "o2", str(tmp_path / "models/m2"), m1,
                                              blessed=False), pipeline="taxi")
    assert mlmd.latest_blessed_model(store, "taxi").model_id == m1_id
    # ...a newer blessed one does; and other pipelines are not looked at.
    third = mlmd.record_evaluation(
        store, fake_result(tmp_path / "o3", str(tmp_path / "models/m3"), m1), pipeline="taxi")
    assert mlmd.latest_blessed_model(store, "taxi").model_id == third.model_id
    assert mlmd.latest_blessed_model(store, "other") is None


def test_tfx_resolver_sees_what_assay_records(tmp_path):
    """TFX's own channel resolution and LatestBlessedModelStrategy, run over assay's records,
    pick the same model as latest_blessed_model; the types are TFX's definitions."""
    from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import \
        LatestBlessedModelStrategy
    from tfx.orchestration import metadata
    from tfx.orchestration.portable.input_resolution import channel_resolver
    from tfx.proto.orchestration import pipeline_pb2
    from tfx.types import standard_artifacts

    for name, ours in mlmd.artifact_types().items():
        theirs = getattr(standard_artifacts, name)._get_artifact_type()
        assert (ours.name, ours.base_type, dict(ours.properties)) == \
            (theirs.name, theirs.base_type, dict(theirs.properties))

    uri = f"sqlite:{tmp_path / 'metadata.sqlite'}"
    store = mlmd.connect(uri)
    build_history(store, tmp_path)
    ours = mlmd.latest_blessed_model(store, "taxi")

    def channel(type_name):
        ch = pipeline_pb2.InputSpec.Channel()
        query = ch.context_queries.add()
        query.type.name = "pipeline"
        query.name.field_value.string_value = "taxi"
        ch.artifact_query.type.name = type_name
        return ch

    with metadata.Metadata(mlmd.connection_config(uri)) as handle:
        inputs = {"model": channel_resolver.resolve_single_channel(handle, channel("Model")),
                  "model_blessing": channel_resolver.resolve_single_channel(
                      handle, channel("ModelBlessing"))}
        resolved = LatestBlessedModelStrategy().resolve_artifacts(handle.store, inputs)
    assert len(inputs["model"]) == 3 and len(inputs["model_blessing"]) == 3
    assert [m.id for m in resolved["model"]] == [ours.model_id]
    assert resolved["model"][0].uri == str(tmp_path / "models/m3")
    assert [b.id for b in resolved["model_blessing"]] == [ours.blessing_id]


def test_artifact_ids_must_exist_and_have_the_right_type(tmp_path):
    store = mlmd.connect(f"sqlite:{tmp_path / 'md.sqlite'}")
    _, first, _, _ = build_history(store, tmp_path)
    with pytest.raises(ConfigError, match=r"holds no artifact with id 999"):
        mlmd.get_artifact(store, 999, "Model")
    with pytest.raises(ConfigError, match=rf"artifact {first.blessing_id} is a ModelBlessing, "
                                         r"not a Model"):
        mlmd.get_artifact(store, first.blessing_id, "Model")
    with pytest.raises(ConfigTypeError, match=r"an artifact id must be an int \(got '3', a str\)"):
        mlmd.get_artifact(store, "3", "Model")


# --------------------------------------------------------------------------------------------
# The command line, on real evaluations

CONFIG = """
label: label
models:
  candidate: {path: model.joblib}
slices: [[], [payment]]
thresholds:
  - {metric: auc, min: 0.6, max_regression: 0.01}
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlmd-cli")
    write_csv(make_tabular_data(1500, seed=7), root / "eval.csv")
    (root / "config.yaml").write_text(CONFIG)
    for name, kind in (("lr", "logistic"), ("gbm", "gbm")):
        os.makedirs(root / name)
        make_sklearn_model(root / name / "model.joblib", kind)
    return root


def _evaluate_args(files, out, model, store_uri, *more):
    return ["evaluate", "--config", str(files / "config.yaml"), "--examples",
            str(files / "eval.csv"), "--output", str(out), "--model",
            str(files / model / "model.joblib"), "--allow-pickle", "--mlmd", store_uri, *more]


def test_cli_records_and_resolves_latest_blessed(files, tmp_path, capsys):
    uri = f"sqlite:{tmp_path / 'metadata.sqlite'}"
    args = ["--baseline", "latest-blessed", "--mlmd-pipeline", "tips"]
    assert cli.main(_evaluate_args(files, tmp_path / "o1", "lr", uri, *args)) == 0
    printed = capsys.readouterr().out
    assert "pipeline 'tips' has no blessed model in ML Metadata; evaluating without a " \
           "baseline" in printed
    assert "verdict: BLESSED" in printed and "ML Metadata: execution" in printed

    store = mlmd.connect(uri)
    first = mlmd.latest_blessed_model(store, "tips")
    assert first.uri == str(files / "lr" / "model.joblib")

    # The second run compares gbm with the blessed lr model, and records that.
    assert cli.main(_evaluate_args(files, tmp_path / "o2", "gbm", uri, *args)) == 0
    printed = capsys.readouterr().out
    assert f"the latest blessed model of pipeline 'tips', artifact {first.model_id}" in printed
    result = json.loads((tmp_path / "o2" / "assay_metrics.json").read_text())
    assert result["models"]["baseline"] == first.uri
    blessings = store.get_artifacts_by_type("ModelBlessing")
    latest = max(blessings, key=lambda a: a.id)
    assert _value(latest.custom_properties["baseline_model_id"]) == first.model_id
    verdict = json.loads((tmp_path / "o2" / "validation.json").read_text())
    assert _value(latest.custom_properties["blessed"]) == int(verdict["blessed"])
    assert latest.uri == str(tmp_path / "o2" / "blessing")


def test_cli_mlmd_usage_errors(files, tmp_path, capsys):
    base = ["evaluate", "--config", str(files / "config.yaml"), "--examples",
            str(files / "eval.csv"), "--output", str(tmp_path / "o")]
    with pytest.raises(SystemExit) as e:
        cli.main(base + ["--baseline", "latest-blessed"])
    assert e.value.code == cli.EXIT_USAGE
    assert "--baseline latest-blessed needs --mlmd" in capsys.readouterr().err
    assert cli.main(base + ["--mlmd", "postgres://h/db"]) == cli.EXIT_USAGE
    assert "'--mlmd' must be sqlite:PATH or mysql://" in capsys.readouterr().err
    uri = f"sqlite:{tmp_path / 'md.sqlite'}"
    assert cli.main(base + ["--mlmd", uri, "--model-artifact-id", "41"]) == cli.EXIT_USAGE
    assert "holds no artifact with id 41" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


# --------------------------------------------------------------------------------------------
# Concurrent writers on one MariaDB store

def _record_many(uri, root, worker, count, barrier):
    store = mlmd.connect(uri)
    for i in range(count):
        # Both workers record evaluations of the same new model and examples at the same moment,
        # so both look them up, miss, and register them at once.
        barrier.wait()
        mlmd.record_evaluation(store, fake_result(f"{root}/w{worker}-{i}", f"{root}/model-{i}"),
                               examples=[f"{root}/examples-{i}"], pipeline="race")


def test_concurrent_evaluations_on_mariadb_both_land(files, mariadb, tmp_path, capsys):
    uri = f"{mariadb.rsplit('/', 1)[0]}/race_{uuid.uuid4().hex[:8]}"
    mlmd.connect(uri)   # creates the schema; the writers below race on everything else
    # Two processes record 2 x 6 evaluations, in lockstep...
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2, timeout=120)
    writers = [ctx.Process(target=_record_many, args=(uri, str(tmp_path), w, 6, barrier))
               for w in range(2)]
    for w in writers:
        w.start()
    # ...while two evaluations run at once (threads: Beam is already imported here) and
    # record themselves in the same store.
    codes = {}

    def evaluate(i, model):
        codes[i] = cli.main(_evaluate_args(files, tmp_path / f"out{i}", model, uri,
                                           "--mlmd-pipeline", "race"))

    threads = [threading.Thread(target=evaluate, args=(i, m))
               for i, m in enumerate(("lr", "gbm"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    for w in writers:
        w.join(120)
    assert codes == {0: 0, 1: 0}, capsys.readouterr().err[-2000:]
    assert [w.exitcode for w in writers] == [0, 0]

    store = mlmd.connect(uri)
    executions = store.get_executions_by_type("assay.Evaluator")
    assert len(executions) == 2 + 12
    outputs_of = {a.uri for a in store.get_artifacts_by_type("ModelEvaluation")}
    assert {str(tmp_path / "out0"), str(tmp_path / "out1")} <= outputs_of
    # Registered at once by both writers, yet one artifact per URI (without the external id
    # and the retry, this store ends up with 11 or 12 Model artifacts, not 6).
    models = [a.uri for a in store.get_artifacts_by_type("Model")]
    assert sorted(u for u in models if "/model-" in u) == \
        [str(tmp_path / f"model-{i}") for i in range(6)]
    examples = store.get_artifacts_by_type("Examples")
    assert sorted(a.uri for a in examples) == sorted(
        [str(files / "eval.csv")] + [str(tmp_path / f"examples-{i}") for i in range(6)])
    for execution in executions:
        events = store.get_events_by_execution_ids([execution.id])
        assert sorted(_keys(e)[0] for e in events) == ["blessing", "evaluation", "examples",
                                                       "model"]


def test_report_compares_a_pipelines_evaluations_from_ml_metadata(files, tmp_path, capsys):
    uri = f"sqlite:{tmp_path / 'metadata.sqlite'}"
    for i, model in enumerate(("lr", "gbm")):
        assert cli.main(_evaluate_args(files, tmp_path / f"o{i}", model, uri,
                                       "--mlmd-pipeline", "tips")) == 0
    out = tmp_path / "history.html"
    assert cli.main(["report", "--mlmd", uri, "--mlmd-pipeline", "tips", "-o", str(out)]) == 0
    page = out.read_text()
    ids = [a.id for a in mlmd.evaluations(mlmd.connect(uri), "tips")]
    assert len(ids) == 2 and ids == sorted(ids)
    assert f"evaluation {ids[0]}" in page and f"evaluation {ids[1]}" in page
    for i in range(2):
        auc = json.loads((tmp_path / f"o{i}" / "assay_metrics.json").read_text())["records"][0][
            "metrics"]["auc"]
        assert repr(auc) in page or f"{auc}" in page
    capsys.readouterr()
    assert cli.main(["report", "--mlmd", uri, "--mlmd-pipeline", "nope", "-o",
                     str(tmp_path / "x.html")]) == cli.EXIT_USAGE
    assert "pipeline 'nope' has no assay evaluations" in capsys.readouterr().err
