"""Bad inputs end in one clear error of assay's tree, never a traceback (issue 12).

Operating-system errors on inputs (a symlink loop, a dangling symlink, a directory or a FIFO
where a file is needed, permissions as an unprivileged user), corrupt model files (candidate and
baseline), ML Metadata stores that are not usable, and data errors that used to name the wrong
problem (a tf.Example feature that changes type, a CSV row with too many fields, a directory
of several formats). Each case checks the exit code, the message (path and cause), that no
traceback was printed and that nothing was written.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap

import numpy as np
import pyarrow as pa
import pytest

import assay
from assay import cli, demo
from assay.data.read import read_batches, resolve_files
from assay.data.tfrecord import encode_examples
from assay.errors import DataError, InputNotFound
from model_fixtures import make_sklearn_model, make_tabular_data, write_csv, write_parquet

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG = "label: label\nmodels:\n  candidate: {prediction: p}\nslices: [[day]]\n"
MODEL_CONFIG = ("label: label\nmodels:\n  candidate: {features: [hour, day, payment, miles]}\n"
                "  baseline: {features: [hour, day, payment, miles]}\n")


@pytest.fixture()
def data(tmp_path):
    df = make_tabular_data(200, seed=1)
    df["p"] = np.clip(df["miles"] / 20, 0, 1)
    (tmp_path / "config.yaml").write_text(CONFIG)
    write_csv(df, tmp_path / "eval.csv")
    return tmp_path


def run_cli(capsys, *argv):
    """(exit status, stdout, stderr) of `assay ...` run in this process."""
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def evaluate_args(data, output, **overrides):
    args = {"--config": str(data / "config.yaml"), "--examples": str(data / "eval.csv"),
            "--output": str(output)}
    args.update(overrides)
    return ["evaluate"] + [item for pair in args.items() for item in pair]


def assert_refused(capsys, argv, status, *fragments, output=None):
    got, out, err = run_cli(capsys, *argv)
    assert got == status, (got, out, err)
    assert "Traceback" not in err and "internal error" not in err, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    if output is not None:
        assert not os.path.exists(output)
    return err


# --------------------------------------------------------------------------------------------
# Operating-system errors on inputs

@pytest.mark.parametrize("which", ["--examples", "--config", "--model"])
def test_a_symlink_loop_is_named_as_a_loop_not_as_a_missing_file(data, capsys, which):
    loop = data / "loop"
    os.symlink(data / "loop2", loop)
    os.symlink(loop, data / "loop2")
    if which == "--model":
        (data / "config.yaml").write_text(MODEL_CONFIG)
    out = data / "out"
    argv = evaluate_args(data, out, **{which: str(loop)})
    assert_refused(capsys, argv, 6, f"cannot read '{loop}'", "symbolic links form a loop",
                   output=out)


def test_a_dangling_symlink_is_missing_and_names_its_target(data, capsys):
    link = data / "eval_link.csv"
    os.symlink(data / "gone.csv", link)
    out = data / "out"
    assert_refused(capsys, evaluate_args(data, out, **{"--examples": str(link)}), 2,
                   f"'{link}' is a symbolic link to '{data / 'gone.csv'}', which does not exist",
                   output=out)
    with pytest.raises(InputNotFound):
        resolve_files(str(link))


def test_a_directory_where_a_file_is_needed(data, capsys):
    (data / "config_dir.yaml").mkdir()
    out = data / "out"
    assert_refused(capsys, evaluate_args(data, out, **{"--config": str(data / "config_dir.yaml")}),
                   6, f"cannot read '{data / 'config_dir.yaml'}': it is a directory", output=out)


@pytest.mark.parametrize("which", ["--examples", "--config", "--model"])
def test_a_fifo_is_refused_at_once_instead_of_blocking(data, which):
    fifo = data / ("model.joblib" if which == "--model" else "pipe.csv")
    os.mkfifo(fifo)
    argv = evaluate_args(data, data / "out", **{which: str(fifo)}) + ["--allow-pickle"]
    if which == "--model":
        (data / "config.yaml").write_text(MODEL_CONFIG)
    # In a subprocess: before the fix, opening the FIFO waited for a writer forever.
    proc = subprocess.run([sys.executable, "-m", "assay.cli", *argv], capture_output=True,
                          text=True, timeout=120)
    if which == "--model":
        assert proc.returncode == 3, proc.stderr
        assert (f"candidate model: model path '{fifo}' is not a regular file or a directory "
                f"(a FIFO") in proc.stderr
    else:
        assert proc.returncode == 6, proc.stderr
        assert f"cannot read '{fifo}': it is not a regular file (a FIFO" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (data / "out").exists()


def test_unreadable_inputs_as_an_unprivileged_user():
    """Root reads everything, so a child process drops to uid 65534 (nobody) after importing
    what it needs (the interpreter lives under /root, which nobody may not enter)."""
    if os.getuid() != 0:
        pytest.fail("this test needs root, to drop to user 65534; run the tests as root")
    top = tempfile.mkdtemp(prefix="assay-perm-")
    try:
        os.chmod(top, 0o755)
        df = make_tabular_data(50, seed=2)
        df["p"] = 0.5
        write_csv(df, os.path.join(top, "eval.csv"))
        os.makedirs(os.path.join(top, "closed"))
        shutil.copy(os.path.join(top, "eval.csv"), os.path.join(top, "closed", "eval.csv"))
        with open(os.path.join(top, "config.yaml"), "w") as f:
            f.write(CONFIG)
        shutil.copy(os.path.join(top, "config.yaml"), os.path.join(top, "secret.yaml"))
        os.chmod(os.path.join(top, "eval.csv"), 0o000)
        os.chmod(os.path.join(top, "secret.yaml"), 0o000)
        os.chmod(os.path.join(top, "closed"), 0o000)
        os.makedirs(os.path.join(top, "readonly"))
        open(os.path.join(top, "store.db"), "wb").close()
        os.chmod(os.path.join(top, "store.db"), 0o444)
        script = textwrap.dedent(f"""
            import os
            import assay, assay.api, assay.engine.local, assay.data.read, pyarrow.csv
            import assay.mlmd.connection, assay.mlmd.types, sqlite3, errno, stat
            from assay.errors import AssayError, exit_code
            os.chdir({top!r})
            os.setgid(65534); os.setuid(65534)
            for config, examples in [("config.yaml", "eval.csv"), ("config.yaml", "closed"),
                                     ("config.yaml", "closed/eval.csv"),
                                     ("secret.yaml", "eval.csv")]:
                try:
                    assay.evaluate(config, examples, "out", engine="local", workers=1)
                    print("no error")
                except AssayError as e:
                    print(exit_code(e), type(e).__name__, e)
            from assay.mlmd.connection import connect
            for store in ("readonly/new.db", "store.db"):
                try:
                    connect("sqlite:" + store)
                    print("no error")
                except AssayError as e:
                    print(exit_code(e), type(e).__name__, e)
        """)
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.strip().splitlines()
        uid_note = "permission denied (assay runs as user id 65534)"
        assert lines == [
            f"6 StorageError cannot read 'eval.csv': {uid_note}",
            f"6 StorageError cannot read 'closed': {uid_note}",
            f"6 StorageError cannot read 'closed/eval.csv': {uid_note}",
            f"6 StorageError cannot read 'secret.yaml': {uid_note}",
            "5 MetadataError cannot create the ML Metadata store 'readonly/new.db' (SQLite): "
            "its directory is not writable (assay runs as user id 65534)",
            "5 MetadataError cannot open the ML Metadata store 'store.db' (SQLite) for reading "
            "and writing: permission denied (assay runs as user id 65534)"], \
            proc.stdout + proc.stderr
        assert not os.path.exists(os.path.join(top, "out"))
    finally:
        for sub in ("closed",):
            os.chmod(os.path.join(top, sub), 0o755)
        shutil.rmtree(top, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Corrupt model files

@pytest.fixture(scope="module")
def good_model(tmp_path_factory):
    return make_sklearn_model(tmp_path_factory.mktemp("model") / "model.joblib")


def _truncated_joblib(good_model, directory):
    path = directory / "truncated.joblib"
    blob = open(good_model, "rb").read()
    path.write_bytes(blob[:len(blob) // 2])
    return path


def _garbage_saved_model(good_model, directory):
    path = directory / "saved"
    path.mkdir()
    (path / "saved_model.pb").write_bytes(b"\x08\x01this is not a SavedModel protocol buffer")
    return path


def _not_a_zip_keras(good_model, directory):
    path = directory / "model.keras"
    path.write_bytes(b"PK\x03\x04 but not really a zip file")
    return path


CORRUPT = {"truncated joblib": (_truncated_joblib, "cannot load the candidate model at"),
           "saved_model.pb that does not parse": (_garbage_saved_model,
                                                   "cannot load the candidate model at"),
           "keras file that is not a zip": (_not_a_zip_keras,
                                            "candidate model: cannot load the Keras model at")}


@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_a_corrupt_candidate_is_a_model_error_naming_it(data, good_model, capsys, case):
    make, message = CORRUPT[case]
    bad = make(good_model, data)
    write_csv(make_tabular_data(100, seed=4), data / "eval.csv")
    (data / "config.yaml").write_text(MODEL_CONFIG)
    out = data / "out"
    err = assert_refused(capsys, evaluate_args(data, out, **{"--model": str(bad),
                                                           "--baseline": str(good_model)})
                         + ["--allow-pickle"], 3, f"{message} '{bad}'", output=out)
    assert len(err.strip().splitlines()) == 1 or err.count("assay: error:") == 1


@pytest.mark.parametrize("policy", ["fail", "ignore"])
def test_a_corrupt_baseline_follows_baseline_failure(data, good_model, capsys, policy):
    bad = _truncated_joblib(good_model, data)
    write_csv(make_tabular_data(100, seed=4), data / "eval.csv")
    (data / "config.yaml").write_text(
        MODEL_CONFIG + f"baseline_failure: {policy}\nthresholds: [{{metric: auc, max_regression: 0.1}}]\n")
    out = data / "out"
    status, _, err = run_cli(capsys, *evaluate_args(data, out, **{"--model": str(good_model),
                                                                  "--baseline": str(bad)}),
                             "--allow-pickle")
    assert status == 0, err
    result = assay.load_result(str(out))
    written = json.loads((out / "assay_metrics.json").read_text())["baseline_error"]
    assert f"cannot load the baseline model at '{bad}': " in written, written
    assert result.blessed is (policy == "ignore"), result.validation


# --------------------------------------------------------------------------------------------
# Data errors that must name the right problem

def _examples_with_day(days):
    """Serialized tf.Examples with label, p and a `day` of each given Python type."""
    records = []
    for i, day in enumerate(days):
        column = pa.array([day])
        batch = pa.RecordBatch.from_arrays([pa.array([i % 2]), pa.array([0.25]), column],
                                           names=["label", "p", "day"])
        records.extend(encode_examples(batch))
    return records


@pytest.mark.parametrize("batch_size", [1, 3, 4, 1000])
def test_a_feature_that_changes_type_names_both_types_and_records(tmp_path, batch_size):
    path = str(tmp_path / "eval.tfrecord")
    demo.write_tfrecord(path, _examples_with_day([1, 2, 3, 4, 5, "mon", 7]), compress=False)
    # The same message at every batch size: inside one batch and across batches.
    with pytest.raises(DataError, match=(r"feature 'day' changes type in .*eval.tfrecord: it is "
                                         r"int64_list in record 0 \(the first with it\) and "
                                         r"bytes_list in record 5")):
        for _ in read_batches(path, batch_size):
            pass


def test_a_feature_that_changes_type_in_the_cli(tmp_path, capsys):
    path = str(tmp_path / "eval.tfrecord.gz")
    demo.write_tfrecord(path, _examples_with_day([2.5] * 10 + [3] * 5), compress=True)
    (tmp_path / "config.yaml").write_text(CONFIG)
    out = tmp_path / "out"
    assert_refused(capsys, ["evaluate", "--config", str(tmp_path / "config.yaml"), "--examples",
                            path, "--output", str(out)], 3,
                   "feature 'day' changes type", "float_list in record 0",
                   "int64_list in record 10", output=out)


@pytest.mark.parametrize("compressed", [False, True])
def test_a_csv_row_with_too_many_fields_is_reported_at_its_line(tmp_path, compressed):
    # Line 1 header; 2 a row; 3-4 one row whose quoted field holds a newline; 5 blank; 6 a row;
    # 7 the bad row. Arrow had reported "data row 1".
    text = 'a,b,label,p\n1,2,1,0.5\n3,"x\ny",0,0.2\n\n5,6,0,0.1\n7,8,1,0.4,extra\n9,9,0,0.3\n'
    path = tmp_path / ("bad.csv.gz" if compressed else "bad.csv")
    path.write_bytes(gzip.compress(text.encode()) if compressed else text.encode())
    with pytest.raises(DataError, match=(r"bad.csv(.gz)?: line 7 has 5 fields but the header "
                                         r"\(line 1\) names 4 columns: '7,8,1,0.4,extra'")):
        for _ in read_batches(str(path), 2):
            pass


def test_a_csv_row_far_into_a_big_file_is_reported_at_its_line(tmp_path):
    rows = ["a,b"] + [f"{i},{i}" for i in range(200_000)]
    rows[150_001] = "1,2,3"  # line 150,002 of the file
    path = tmp_path / "big.csv"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"big.csv: line 150002 has 3 fields"):
        for _ in read_batches(str(path), 4096):
            pass


def test_a_directory_of_several_formats_is_refused_listing_them(data, capsys):
    mixed = data / "mixed"
    mixed.mkdir()
    df = make_tabular_data(60, seed=5)
    df["p"] = 0.5
    write_csv(df, mixed / "a.csv")
    write_parquet(df, mixed / "b.parquet")
    write_parquet(df, mixed / "part-0")  # no extension: told by its bytes
    out = data / "out"
    assert_refused(capsys, evaluate_args(data, out, **{"--examples": str(mixed)}), 3,
                   "the examples are files of 2 formats (csv: 1 file(s), e.g. "
                   f"{mixed / 'a.csv'}; parquet: 2 file(s), e.g. {mixed / 'b.parquet'})",
                   output=out)
    # One format: read, every row counted.
    os.remove(mixed / "a.csv")
    status, _, err = run_cli(capsys, *evaluate_args(data, out, **{"--examples": str(mixed)}))
    assert status == 0, err
    assert assay.load_result(str(out)).metrics()["example_count"] == 120


# --------------------------------------------------------------------------------------------
# ML Metadata stores that cannot be used

def _tables(path):
    with sqlite3.connect(path) as db:
        return sorted(r[0] for r in db.execute("SELECT name FROM sqlite_master "
                                               "WHERE type = 'table'"))


def test_unusable_sqlite_stores_are_metadata_errors_naming_the_store(data, capsys):
    not_sqlite = data / "notes.db"
    not_sqlite.write_text("these are my notes, not a database\n")
    foreign = data / "app.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE users (name TEXT)")
    clash = data / "clash.db"  # a table of ML Metadata's name with other columns
    with sqlite3.connect(clash) as db:
        db.execute("CREATE TABLE Artifact (x TEXT)")
    (data / "store_dir").mkdir()
    loop = data / "loop.db"
    os.symlink(loop, loop)
    cases = [(not_sqlite, "is not an SQLite database (it starts with b'these are my not')"),
             (foreign, "is an SQLite database but not an ML Metadata store: it has no MLMDEnv "
                       "table holding a schema version (its tables: users)"),
             (clash, "not an ML Metadata store: it has no MLMDEnv table holding a schema "
                     "version (its tables: Artifact)"),
             (data / "store_dir", "it is a directory"),
             (loop, "its symbolic links form a loop")]
    for store, problem in cases:
        out = data / "out"
        assert_refused(capsys, evaluate_args(data, out) + ["--mlmd", f"sqlite:{store}"], 5,
                       f"the ML Metadata store '{store}' (SQLite)", problem, output=out)
    # An ML Metadata store of a newer schema, and one whose Artifact table was replaced.
    from assay import mlmd

    newer, broken = data / "newer.db", data / "broken.db"
    for store in (newer, broken):
        mlmd.connect(f"sqlite:{store}")
    with sqlite3.connect(newer) as db:
        db.execute("UPDATE MLMDEnv SET schema_version = 99")
    with sqlite3.connect(broken) as db:
        db.execute("DROP TABLE Artifact")
        db.execute("CREATE TABLE Artifact (x TEXT)")
    for store, problem in ((newer, "MLMD database version 99 is greater than library version"),
                           (broken, "missing tables: artifact_table")):
        assert_refused(capsys, evaluate_args(data, data / "out") + ["--mlmd", f"sqlite:{store}"],
                       5, f"ML Metadata: connecting to sqlite:{store} failed: ", problem,
                       output=data / "out")
    # Nothing was added to the databases that are someone else's.
    assert _tables(foreign) == ["users"] and _tables(clash) == ["Artifact"]
    assert not_sqlite.read_text() == "these are my notes, not a database\n"



# --------------------------------------------------------------------------------------------
# No silent surprises (issue 14): logits on 0/1 labels, thresholds on what is not computed,
# a config given as examples


@pytest.fixture(scope="module")
def logits(tmp_path_factory):
    """0/1 labels with logit predictions (most outside [0, 1]), as Parquet."""
    root = tmp_path_factory.mktemp("logits")
    rng = np.random.default_rng(7)
    n = 1500
    label = rng.integers(0, 2, n)
    logit = rng.normal(0, 2, n) + 1.5 * label
    write_parquet(__import__("pandas").DataFrame(
        {"label": label, "logit": logit, "day": rng.integers(1, 8, n)}), root / "eval.parquet")
    return root, label, logit


def _logit_config(**spec):
    return {"label": "label", "models": {"candidate": {"prediction": "logit", **spec}}}


def test_logits_on_0_1_labels_are_refused_with_the_ways_out(logits, tmp_path):
    root, _, _ = logits
    with pytest.raises(assay.ConfigError, match=r"holds 0/1 labels, but \d+% of the "
                       r"candidate's predictions .* lie outside \[0, 1\]") as e:
        assay.evaluate(_logit_config(), str(root / "eval.parquet"), str(tmp_path / "out"))
    for way_out in ("transform: sigmoid", "outputs: scores", "task: regression"):
        assert way_out in str(e.value)
    assert not (tmp_path / "out").exists()


def test_each_way_out_of_the_logits_error_evaluates(logits, tmp_path):
    from sklearn.metrics import mean_squared_error, roc_auc_score

    root, label, logit = logits
    examples = str(root / "eval.parquet")
    # A sigmoid keeps the order of the scores: the same AUC as on the logits.
    sig = assay.evaluate(_logit_config(transform="sigmoid"), examples, str(tmp_path / "sig"))
    assert sig.task == "binary"
    assert sig.metrics()["auc"] == pytest.approx(roc_auc_score(label, logit), abs=1e-9)
    scores = assay.evaluate(_logit_config(outputs="scores"), examples, str(tmp_path / "sc"))
    assert scores.task == "binary"
    reg = assay.evaluate(dict(_logit_config(), task="regression"), examples,
                         str(tmp_path / "reg"))
    assert reg.metrics()["mse"] == pytest.approx(mean_squared_error(label, logit), rel=1e-9)


def test_logits_error_in_the_cli_is_a_config_error(logits, tmp_path, capsys):
    root, _, _ = logits
    (tmp_path / "c.yaml").write_text("label: label\nmodels: {candidate: {prediction: logit}}\n")
    assert_refused(capsys, ["evaluate", "--config", str(tmp_path / "c.yaml"), "--examples",
                            str(root / "eval.parquet"), "--output", str(tmp_path / "out")],
                   cli.EXIT_USAGE, "transform: sigmoid", output=tmp_path / "out")


def test_a_threshold_on_a_metric_of_another_task_fails_before_the_pass(logits, tmp_path,
                                                                       monkeypatch):
    """Without `task:`, the task is known after the first batch: the check runs there, before
    any worker starts (the pass would raise if it ran)."""
    from assay.engine import local

    def no_pass(*args, **kwargs):
        raise AssertionError("the pass ran")

    monkeypatch.setattr(local, "run_local", no_pass)
    root, _, _ = logits
    cfg = dict(_logit_config(transform="sigmoid"),
               thresholds=[{"metric": "rmse", "max": 1.0}, {"metric": "auc", "min": 0.5}])
    with pytest.raises(assay.ConfigError, match=r"thresholds\[0\] \(rmse\): metric 'rmse' is "
                                                r"not computed for this binary task"):
        assay.evaluate(cfg, str(root / "eval.parquet"), str(tmp_path / "out"))


@pytest.mark.parametrize("name, what", [("config.yaml", "a YAML file"),
                                        ("config.json", "a JSON file"),
                                        ("model.joblib", "a joblib model")])
def test_a_non_data_file_given_as_examples_is_named_as_such(data, capsys, name, what):
    path = data / "given" / name
    path.parent.mkdir()
    shutil.copy(data / "config.yaml", path)
    assert_refused(capsys, evaluate_args(data, data / "out", **{"--examples": str(path)}),
                   cli.EXIT_USAGE, f"{path} is {what}, not examples (expected TFRecord, CSV "
                   f"or Parquet files)", output=data / "out")


def test_an_explicit_format_is_trusted_whatever_the_name(data, tmp_path):
    shutil.copy(data / "eval.csv", data / "eval.txt.json")
    result = assay.evaluate(dict(label="label", models={"candidate": {"prediction": "p"}},
                                 format="csv"), str(data / "eval.txt.json"), str(tmp_path / "o"))
    assert result.info["examples_read"] == 200
