"""Publishing results on any storage (assay.results.publish) and reading them back.

The object-store protocol is tested on tests/object_store.py's in-memory Beam filesystem
(memobj://, which behaves as GCS does: no directories, an object appears whole when its upload
is closed, no rename); local outputs on this machine's disk, with a real SIGKILL in the middle of
a pass. The S3 and GCS emulator runs of the same code are in the cloud tests.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from object_store import ObjectStore

import assay
from assay import cli, validation
from assay.data import files
from assay.errors import EXIT_STORAGE, InputNotFound, StorageError
from assay.kfp import executor as kfp_executor
from assay.report import html as report
from assay.results import publish
from assay.results.result import load_result
from assay.validation.verdict import Outcome, ValidationResult

ROOT = Path(__file__).resolve().parent.parent
COMMIT_FILE, RUNS_DIR = "_ASSAY_COMMIT.json", ".runs"   # the documented object names
OUT = "memobj://bucket/eval"
CONFIG = {"label": "label", "models": {"candidate": {"prediction": "p"}},
          "slices": [["store"]], "min_slice_size": 1,
          "thresholds": [{"metric": "auc", "min": 0.6}]}


@pytest.fixture(autouse=True)
def empty_store():
    ObjectStore.objects.clear()
    ObjectStore.missing_buckets.clear()
    yield
    ObjectStore.objects.clear()
    ObjectStore.missing_buckets.clear()


def _doc(task, n=2):
    return {"version": 1, "task": task,
            "records": [{"slice": {"store": i}, "model": "candidate",
                         "metrics": {"auc": 0.5 + i / 10}} for i in range(n)]}


def _publish(output, task, fail=False):
    with publish.StagedOutput(output) as staged:
        staged.write_json("assay_metrics.json", _doc(task))
        staged.write_json("validation.json", {"blessed": True})
        staged.write_text("blessing/BLESSED", "")
        staged.write_text("_scratch/part-0", "intermediate")
        assert staged.scratch == f"{staged.path}/_scratch"
        if fail:
            raise RuntimeError("the pass failed")
        staged.commit()
    return staged


def _under(prefix):
    return {k: v for k, v in ObjectStore.objects.items() if k.startswith(prefix)}


def _dead_pid():
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _run_id(age_s=0.0, pid=None, host=None):
    """A run id as publish makes them, started `age_s` ago, by `pid` on `host`."""
    run = publish.new_run_id(time.time() - age_s)
    stamp, this_host, _, rand = run.split("-")
    return f"{stamp}-{host or this_host}-{pid or os.getpid()}-{rand}"


# --------------------------------------------------------------------------------------------
# The object-store protocol

def test_remote_publish_writes_a_generation_and_the_commit_object_last():
    staged = _publish(OUT, "binary")
    gen = f"{OUT}/{RUNS_DIR}/{staged.run}"
    commit = json.loads(ObjectStore.objects[f"{OUT}/{COMMIT_FILE}"])
    sizes = {name: len(ObjectStore.objects[f"{gen}/{name}"])
             for name in ("assay_metrics.json", "validation.json", "blessing/BLESSED")}
    assert commit["format"] == 1 and commit["run"] == staged.run and commit["files"] == sizes
    # The scratch is gone; _RUN.json (who wrote it) stays, outside the commit's files.
    assert sorted(_under(OUT)) == sorted([f"{OUT}/{COMMIT_FILE}", f"{gen}/_RUN.json"] +
                                         [f"{gen}/{n}" for n in sizes])
    result = load_result(OUT + "/")
    assert result.task == "binary" and result.metrics({"store": 1}) == {"auc": 0.6}
    assert result.path == OUT and result.location == gen and result.blessed is True


def test_a_second_publish_replaces_the_first_whole():
    first = _publish(OUT, "binary")
    second = _publish(OUT, "regression")
    assert load_result(OUT).task == "regression"
    assert not _under(f"{OUT}/{RUNS_DIR}/{first.run}")          # the old generation is deleted
    assert json.loads(ObjectStore.objects[f"{OUT}/{COMMIT_FILE}"])["run"] == second.run


def test_a_failed_run_leaves_the_previous_result_byte_identical():
    _publish(OUT, "binary")
    before = dict(ObjectStore.objects)
    with pytest.raises(RuntimeError, match="the pass failed"):
        _publish(OUT, "regression", fail=True)
    assert ObjectStore.objects == before                          # staging and scratch removed
    assert load_result(OUT).task == "binary"


def test_a_killed_run_leaves_the_previous_result_readable():
    _publish(OUT, "binary")
    before = dict(ObjectStore.objects)
    killed = publish.StagedOutput(OUT)       # staged, never committed nor cleaned: as SIGKILL
    killed.write_json("assay_metrics.json", _doc("regression"))
    killed.write_json("validation.json", {"blessed": False})
    assert len(ObjectStore.objects) > len(before)
    assert load_result(OUT).task == "binary"
    assert load_result(OUT).metrics({"store": 0}) == {"auc": 0.5}


def test_an_interrupted_first_run_is_named_incomplete():
    killed = publish.StagedOutput(OUT)
    killed.write_json("assay_metrics.json", _doc("binary"))
    with pytest.raises(InputNotFound, match=(
            rf"^{OUT} holds an incomplete assay result: run {killed.run} was staged in "
            rf"{OUT}/\.runs/{killed.run} but never published \(_ASSAY_COMMIT\.json is "
            rf"missing\)")):
        load_result(OUT)
    with pytest.raises(InputNotFound, match="memobj://bucket/other holds no assay results"):
        load_result("memobj://bucket/other")


def test_a_commit_whose_files_are_gone_is_named_incomplete():
    staged = _publish(OUT, "binary")
    del ObjectStore.objects[f"{OUT}/{RUNS_DIR}/{staged.run}/assay_metrics.json"]
    with pytest.raises(StorageError, match=(
            rf"holds an incomplete assay result: _ASSAY_COMMIT\.json names run {staged.run}, "
            rf"but .*/assay_metrics\.json is missing \(expected \d+ bytes\)")):
        load_result(OUT)


def test_a_reader_follows_a_publish_that_happens_while_it_reads(monkeypatch):
    first = _publish(OUT, "binary")
    listed = files.file_sizes

    def publish_meanwhile(directory):
        if first.run in directory and not hasattr(publish_meanwhile, "done"):
            publish_meanwhile.done = True
            _publish(OUT, "regression")       # commits, then deletes the generation being read
        return listed(directory)

    monkeypatch.setattr(files, "file_sizes", publish_meanwhile)
    assert load_result(OUT).task == "regression"
    assert publish_meanwhile.done


def test_stale_cleanup_never_removes_the_committed_generation():
    dead, old = _dead_pid(), publish.STALE_AFTER_S + 60
    committed = _publish(OUT, "binary").run
    runs = {"dead_here": _run_id(pid=dead), "old_elsewhere": _run_id(old, host="abcdef"),
            "recent_elsewhere": _run_id(60, host="abcdef"), "alive_here": _run_id(old * 2)}
    for run in runs.values():
        ObjectStore.objects[f"{OUT}/{RUNS_DIR}/{run}/assay_metrics.json"] = b"{}"
    ObjectStore.objects[f"{OUT}/{RUNS_DIR}/not-a-run/x"] = b"kept: not ours"
    removed = publish.remove_stale(OUT)
    assert sorted(removed) == sorted([runs["dead_here"], runs["old_elsewhere"]])
    left = {k.split("/")[5] for k in _under(f"{OUT}/{RUNS_DIR}/")}
    assert left == {committed, runs["recent_elsewhere"], runs["alive_here"], "not-a-run"}
    # The committed generation is never stale, however old and dead its writer.
    ancient = _run_id(old * 3, pid=dead)
    assert publish.is_stale(ancient, committed=None)
    assert not publish.is_stale(ancient, committed=ancient)
    assert load_result(OUT).task == "binary"


def test_a_later_run_removes_the_staging_of_a_dead_run():
    _publish(OUT, "binary")
    dead_run = _run_id(pid=_dead_pid())
    ObjectStore.objects[f"{OUT}/{RUNS_DIR}/{dead_run}/assay_metrics.json"] = b"{half"
    staged = _publish(OUT, "regression")
    runs = {k.split("/")[5] for k in _under(f"{OUT}/{RUNS_DIR}/")}
    assert runs == {staged.run}


def test_remote_output_errors_write_nothing():
    ObjectStore.objects["memobj://bucket/afile"] = b"x"
    with pytest.raises(StorageError, match=r"memobj://bucket/afile: an object \(a file\) has"):
        publish.StagedOutput("memobj://bucket/afile")
    ObjectStore.missing_buckets.add("nobucket")
    with pytest.raises(StorageError, match=(
            r"cannot write the results to memobj://nobucket/eval: cannot write "
            r"memobj://nobucket/eval/\.runs/.*/_RUN\.json: .*bucket does not exist")) as e:
        publish.StagedOutput("memobj://nobucket/eval")
    assert e.value.exit_code == EXIT_STORAGE
    assert list(ObjectStore.objects) == ["memobj://bucket/afile"]


def test_blessing_marker_on_an_object_store():
    where = "memobj://bucket/blessing"
    yes, no = (ValidationResult(b, o, [], []) for b, o in ((True, Outcome.BLESSED),
                                                           (False, Outcome.NOT_BLESSED)))
    assert validation.write_blessing(where, no) == f"{where}/NOT_BLESSED"
    assert validation.write_blessing(where, yes) == f"{where}/BLESSED"
    assert ObjectStore.objects == {f"{where}/BLESSED": b""}   # never both markers


# --------------------------------------------------------------------------------------------
# Entry points: the Python API, the CLI, the report, the KFP executor

@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    """A CSV every user can read (the read-only test runs as nobody)."""
    root = Path(tempfile.mkdtemp(prefix="assay-publish-"))
    os.chmod(root, 0o755)
    rng = np.random.default_rng(5)
    label = rng.integers(0, 2, 600)
    p = np.clip(0.3 * label + rng.uniform(0, 0.7, 600), 0, 1)
    store = rng.integers(0, 3, 600)
    rows = ["label,p,store"] + [f"{a},{b:.6f},{c}" for a, b, c in zip(label, p, store)]
    (root / "eval.csv").write_text("\n".join(rows) + "\n")
    (root / "config.json").write_text(json.dumps(CONFIG))
    os.chmod(root / "eval.csv", 0o644)
    os.chmod(root / "config.json", 0o644)
    yield root
    subprocess.run(["rm", "-rf", str(root)], check=True)


def _records(result):
    return [(r["slice"], r["model"], r.get("metrics")) for r in result.records]


def test_api_and_cli_publish_to_an_object_store(examples, tmp_path, capsys):
    local = assay.evaluate(CONFIG, str(examples / "eval.csv"), str(tmp_path / "local"))
    remote = assay.evaluate(CONFIG, str(examples / "eval.csv"), OUT)
    assert remote.path == OUT and _records(load_result(OUT)) == _records(local)
    assert load_result(OUT).validation == local.validation
    gen = load_result(OUT).location
    assert ObjectStore.objects[f"{gen}/blessing/BLESSED"] == b""
    assert b"<!doctype html" in ObjectStore.objects[f"{gen}/report.html"].lower()

    code = cli.main(["evaluate", "--config", str(examples / "config.json"), "--examples",
                     str(examples / "eval.csv"), "--output", "memobj://bucket/cli"])
    assert code == 0 and _records(load_result("memobj://bucket/cli")) == _records(local)
    assert f"  metrics: {load_result('memobj://bucket/cli').location}/assay_metrics.json" in \
        capsys.readouterr().out
    # `assay report` to an object, and again into the published generation.
    assert cli.main(["report", OUT, "-o", "memobj://bucket/r/report.html"]) == 0
    assert b"BLESSED" in ObjectStore.objects["memobj://bucket/r/report.html"]
    assert report.write_report(load_result(OUT)) == f"{gen}/report.html"
    assert load_result(OUT).task == "binary"        # a rewritten report leaves it complete


def test_kfp_executor_writes_to_uris_without_mounts(examples, tmp_path):
    assert kfp_executor.artifact_path("gs://b/x") == ("/gcs/b/x" if os.path.isdir("/gcs")
                                                      else "gs://b/x")
    if not os.path.isdir("/minio"):
        assert kfp_executor.artifact_path("minio://b/x") == "s3://b/x"
    root = "memobj://bucket/kfp"
    names = {"evaluation": "system.Artifact", "metrics": "system.Metrics",
             "classification_metrics": "system.ClassificationMetrics",
             "report": "system.HTML", "blessing": "system.Artifact"}

    def art(name, schema, uri):
        return {"artifacts": [{"name": name, "uri": uri, "type": {"schemaTitle": schema},
                               "metadata": {}}]}

    task = {"inputs": {"parameterValues": {"config": json.dumps(CONFIG)},
                       "artifacts": {"examples": art("examples", "system.Dataset",
                                                     str(examples / "eval.csv"))}},
            "outputs": {"artifacts": {n: art(n, s, f"{root}/{n}") for n, s in names.items()},
                        "parameters": {"blessed": {"outputFile": str(tmp_path / "blessed")}},
                        "outputFile": str(tmp_path / "executor_output.json")}}
    output = kfp_executor.run(task)
    local = assay.evaluate(CONFIG, str(examples / "eval.csv"), str(tmp_path / "local"))
    assert output["parameterValues"] == {"blessed": True}
    assert _records(load_result(f"{root}/evaluation")) == _records(local)
    assert ObjectStore.objects[f"{root}/blessing/BLESSED"] == b""
    overall = local.metrics()
    assert json.loads(ObjectStore.objects[f"{root}/metrics"])["auc"] == pytest.approx(
        overall["auc"])
    assert b"BLESSED" in ObjectStore.objects[f"{root}/report"]


def test_tfx_executor_writes_evaluation_and_blessing_to_uris(examples):
    from tfx.dsl.components.base import base_beam_executor
    from tfx.types import artifact_utils, standard_artifacts

    from assay.tfx.executor import Executor

    def artifact(cls, uri, **props):
        a = cls()
        a.uri = uri
        for k, v in props.items():
            setattr(a, k, v)
        return a

    ex = artifact(standard_artifacts.Examples, str(examples / "tfx"),
                  split_names=artifact_utils.encode_split_names(["eval"]))
    os.makedirs(examples / "tfx" / "Split-eval", exist_ok=True)
    (examples / "tfx" / "Split-eval" / "data.csv").write_bytes(
        (examples / "eval.csv").read_bytes())
    evaluation = artifact(standard_artifacts.ModelEvaluation, "memobj://bucket/tfx/evaluation")
    blessing = artifact(standard_artifacts.ModelBlessing, "memobj://bucket/tfx/blessing")
    Executor(base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=None)).Do(
        {"examples": [ex]}, {"evaluation": [evaluation], "blessing": [blessing]},
        {"config": json.dumps(CONFIG), "eval_config": None,
         "example_splits": json.dumps(["eval"])})
    local = assay.evaluate(CONFIG, str(examples / "eval.csv"), str(examples / "tfx-local"))
    assert _records(load_result(evaluation.uri)) == _records(local)
    assert _under(blessing.uri) == {f"{blessing.uri}/BLESSED": b""}   # where Pusher looks
    assert blessing.mlmd_artifact.custom_properties["blessed"].int_value == 1


# --------------------------------------------------------------------------------------------
# Local outputs

def test_local_output_that_is_a_file_is_a_storage_error(examples, tmp_path, capsys):
    target = tmp_path / "out"
    target.write_text("not a directory")
    code = cli.main(["evaluate", "--config", str(examples / "config.json"), "--examples",
                     str(examples / "eval.csv"), "--output", str(target)])
    err = capsys.readouterr().err
    assert code == EXIT_STORAGE == 6
    assert f"cannot write the results to {target}: it is an existing file" in err
    assert sorted(os.listdir(tmp_path)) == ["out"] and target.read_text() == "not a directory"


def test_local_output_in_a_read_only_directory_is_a_storage_error(examples, tmp_path):
    ro = examples / "read-only"
    ro.mkdir(mode=0o555)
    os.chmod(ro, 0o555)
    # As root, permissions bind only another user. The interpreter lives under /root (0700),
    # so no other user can start it: fork this one, which has imported what a run needs
    # (the evaluation below), and become nobody in the child.
    assay.evaluate(CONFIG, str(examples / "eval.csv"), str(tmp_path / "warm"))
    err_path = tmp_path / "stderr"
    with open(err_path, "w") as err:
        pid = os.fork()
        if pid == 0:  # the child: nobody, running the CLI
            code = 70
            try:
                sys.stderr = err
                os.setgid(65534), os.setuid(65534)
                code = cli.main(["evaluate", "--config", str(examples / "config.json"),
                                 "--examples", str(examples / "eval.csv"),
                                 "--output", str(ro / "out")])
            finally:
                err.flush()
                os._exit(code)
    _, status = os.waitpid(pid, 0)
    stderr = err_path.read_text()
    assert os.waitstatus_to_exitcode(status) == EXIT_STORAGE, stderr[-2000:]
    assert (f"cannot write the results to {ro}/out: Permission denied ({ro}/.out.assay-"
            in stderr)
    assert os.listdir(ro) == []


def test_local_publish_swaps_atomically_and_falls_back_to_two_renames(tmp_path, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir(), (a / "x").write_text("a"), (b / "x").write_text("b")
    assert publish._exchange(str(a), str(b)) is True          # Linux, this filesystem
    assert ((a / "x").read_text(), (b / "x").read_text()) == ("b", "a")
    a.joinpath("x").unlink(), b.joinpath("x").unlink(), a.rmdir(), b.rmdir()
    out = tmp_path / "out"
    _publish(str(out), "binary")
    _publish(str(out), "regression")
    assert load_result(str(out)).task == "regression"
    monkeypatch.setattr(publish, "_exchange", lambda a, b: False)  # a filesystem without it
    _publish(str(out), "multiclass")
    assert load_result(str(out)).task == "multiclass"
    assert sorted(os.listdir(tmp_path)) == ["out"]
    assert sorted(os.listdir(out)) == ["assay_metrics.json", "blessing", "validation.json"]


def test_local_interrupted_first_run_is_named_incomplete(tmp_path):
    killed = publish.StagedOutput(str(tmp_path / "out"))
    killed.write_json("assay_metrics.json", _doc("binary"))
    with pytest.raises(InputNotFound, match=(
            rf"out holds an incomplete assay result: run {killed.run} was staged in "
            rf".*/\.out\.assay-{killed.run} but never published")):
        load_result(str(tmp_path / "out"))


class SlowMetric(assay.Metric):
    """Says (a file) that the pass has begun, then sleeps: the run is killed meanwhile."""

    name = "slow"

    def create(self):
        return 0

    def add(self, acc, batch):
        marker = os.environ.get("ASSAY_TEST_PASS_STARTED")
        if marker:
            Path(marker).write_text("started")
            time.sleep(300)
        return acc + len(batch)

    def merge(self, accs):
        return sum(accs)

    def result(self, acc):
        return {"slow": float(acc)}


def test_sigkill_in_the_middle_of_a_pass_leaves_the_previous_result(examples, tmp_path):
    out = tmp_path / "out"
    assay.evaluate(CONFIG, str(examples / "eval.csv"), str(out))
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    config = dict(CONFIG, custom_metrics=[{"class": "test_publish:SlowMetric"}])
    (tmp_path / "slow.json").write_text(json.dumps(config))
    started = tmp_path / "started"
    proc = subprocess.Popen(
        [sys.executable, "-m", "assay.cli", "evaluate", "--config", str(tmp_path / "slow.json"),
         "--examples", str(examples / "eval.csv"), "--output", str(out), "--workers", "1",
         "--allow-custom-code", "test_publish"],
        env=dict(os.environ, ASSAY_TEST_PASS_STARTED=str(started),
                 PYTHONPATH=os.pathsep.join([str(ROOT / "tests"), str(ROOT / "component")])),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 240
        while not started.exists():
            assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
            assert time.time() < deadline, "the pass never started"
            time.sleep(0.2)
        debris = [n for n in os.listdir(tmp_path) if n.startswith(".out.assay-")]
        assert len(debris) == 1                           # the run's staging, mid-pass
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before and load_result(str(out)).blessed is True
    assert os.path.isdir(tmp_path / debris[0])            # left behind by the kill ...
    assay.evaluate(CONFIG, str(examples / "eval.csv"), str(out))
    assert sorted(os.listdir(tmp_path)) == ["out", "slow.json", "started"]  # ... then removed


def test_a_local_reader_rereads_when_the_result_is_swapped_while_it_reads(tmp_path, monkeypatch):
    # assay_metrics.json of one run with the validation.json of the next would be a mix: never.
    out = str(tmp_path / "out")
    _publish(out, "binary")
    real = files.open_read
    swapped = []

    def swap_meanwhile(path, *args, **kwargs):
        if path.endswith("validation.json") and not swapped:
            swapped.append(path)
            _publish(out, "regression")           # swapped in after assay_metrics.json was read
        return real(path, *args, **kwargs)

    monkeypatch.setattr(files, "open_read", swap_meanwhile)
    result = load_result(out)
    assert swapped and result.task == "regression"
    assert result.records == _doc("regression")["records"]
