"""The `assay` command line: arguments, exit status, messages, and the console script.

Exit statuses come from assay.errors' exception tree only: 2 config/usage, 3 data/model,
4 NOT_BLESSED with --fail-on-not-blessed, 5 ML Metadata, 6 storage, 70 a bug (the traceback in a
crash report file).
"""

import json
import os
import subprocess
import sys

import pytest

from assay import cli, demo
from assay.errors import MetadataError

CONFIG = """
label: label
weight: weight
models:
  candidate: {prediction: prediction}
  baseline: {prediction: old_prediction}
slices: [[payment]]
thresholds:
  - {metric: auc, min: 0.6, max_regression: 0.01}
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    demo.write_trips(str(root / "Split-eval"), 2000, shards=2, seed=3)
    (root / "config.yaml").write_text(CONFIG)
    return root


def test_evaluate_prints_summary_and_verdict(data, tmp_path, capsys):
    out = tmp_path / "out"
    code = cli.main(["evaluate", "--config", str(data / "config.yaml"), "--examples",
                     str(data / "Split-eval"), "--output", str(out), "--fail-on-not-blessed"])
    lines = capsys.readouterr().out.splitlines()
    verdict = json.loads((out / "validation.json").read_text())
    # The demo's candidate beats the old model well above the 0.6 minimum: BLESSED.
    assert verdict["blessed"] is True and code == 0
    assert lines[0] == f"assay: binary evaluation written to {out}"
    assert any(line.startswith("  overall auc: 0.") for line in lines)
    assert "  verdict: BLESSED" in lines and "  verdict: NOT_BLESSED" not in lines
    assert os.listdir(out / "blessing") == ["BLESSED"]


def test_not_blessed_exit_status_and_force_bless(data, tmp_path, capsys):
    cfg = tmp_path / "strict.yaml"
    cfg.write_text(CONFIG.replace("min: 0.6", "min: 0.99"))
    args = ["evaluate", "--config", str(cfg), "--examples", str(data / "Split-eval"),
            "--output", str(tmp_path / "out")]
    assert cli.main(args + ["--fail-on-not-blessed"]) == cli.EXIT_NOT_BLESSED == 4
    lines = capsys.readouterr().out.splitlines()
    assert "  verdict: NOT_BLESSED" in lines and "  verdict: BLESSED" not in lines
    # The failing check, with its values (its reason's words are in validation.json).
    assert any(line.startswith("    FAIL auc on overall (min 0.99): candidate 0.")
               for line in lines), lines
    assert cli.main(args) == 0  # without the flag the verdict does not change the status
    assert cli.main(args + ["--fail-on-not-blessed", "--force-bless", "INC-7: approved"]) == 0
    verdict = json.loads((tmp_path / "out" / "validation.json").read_text())
    assert verdict["blessed"] and verdict["forced"] == "INC-7: approved"


def _evaluate(data, tmp_path, config=None, *more):
    return cli.main(["evaluate", "--config", str(config or data / "config.yaml"), "--examples",
                     str(data / "Split-eval"), "--output", str(tmp_path / "out"), *more])


def test_errors_are_one_line_with_status(data, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(CONFIG + "min_slice_sise: 3\n")
    assert _evaluate(data, tmp_path, bad) == cli.EXIT_USAGE == 2
    err = capsys.readouterr().err
    assert err.startswith("assay: error:") and err.count("\n") == 1    # no traceback
    assert "did you mean 'min_slice_size'" in err
    code = cli.main(["evaluate", "--config", str(data / "config.yaml"), "--examples",
                     str(tmp_path / "nothing-here-*.gz"), "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE
    assert err.startswith("assay: error:") and "nothing-here-*.gz" in err and \
        "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_a_missing_config_file_is_a_usage_error(data, tmp_path, capsys):
    assert _evaluate(data, tmp_path, tmp_path / "nope.yaml") == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err == f"assay: error: config file {tmp_path / 'nope.yaml'} does not exist\n"


def test_a_typo_in_a_threshold_key_is_a_config_error(data, tmp_path, capsys):
    """It used to exit 3 ("bad data"): the validation error was a ValueError."""
    bad = tmp_path / "typo.yaml"
    bad.write_text(CONFIG.replace("min: 0.6", "mni: 0.6"))
    assert _evaluate(data, tmp_path, bad) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("assay: error:") and "'mni'" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_an_internal_error_is_a_bug_with_its_traceback(data, tmp_path, capsys, monkeypatch):
    """An exception outside assay's tree is not the user's fault: it used to be reported as
    bad usage (TypeError) or bad data (ValueError), in one line, without a traceback. Then the
    whole traceback went to stderr; now stderr gets one short paragraph, and the traceback, the
    command line (password redacted) and the version go to the crash report file it names."""
    def broken(*args, **kwargs):
        raise TypeError("unsupported operand type(s) for +: 'int' and 'str'")

    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr("assay.api.evaluate", broken)
    monkeypatch.setattr("assay.mlmd.connect", lambda uri: object())
    monkeypatch.setattr(cli, "_mlmd_inputs", lambda store, args: {
        "config": args.config, "model": None, "baseline": None, "examples": args.examples})
    code = _evaluate(data, tmp_path, None, "--mlmd", "mysql://ml:s3cr3t@127.0.0.1:1/md")
    assert code == cli.EXIT_BUG == 70
    err = capsys.readouterr().err
    assert "Traceback" not in err and "s3cr3t" not in err
    lines = err.rstrip().splitlines()
    assert lines[0] == ("assay: internal error: TypeError: unsupported operand type(s) for +: "
                        "'int' and 'str'") and len(lines) == 2, err
    crash = sorted(tmp_path.glob("assay-crash-*.txt"))
    assert len(crash) == 1 and crash[0].name.split("-")[2].isdigit()
    assert f"the traceback is in {crash[0]}. Please report it" in lines[1]
    assert f"(exit status {cli.EXIT_BUG})" in lines[1]
    report = crash[0].read_text()
    assert "Traceback (most recent call last)" in report and "in broken" in report
    assert "TypeError: unsupported operand type(s) for +: 'int' and 'str'" in report
    assert "command: assay evaluate --config " in report and "assay 0.1.0" in report
    assert "mysql://ml:***@127.0.0.1:1/md" in report and "s3cr3t" not in report


def test_an_unreachable_ml_metadata_store_exits_5(data, tmp_path, capsys):
    """ml-metadata raises a plain RuntimeError when it cannot reach MySQL: that used to escape
    the CLI as a crash; it is a MetadataError now, exit status 5, the password redacted."""
    code = _evaluate(data, tmp_path, None, "--mlmd", "mysql://ml:secret@127.0.0.1:1/md")
    assert code == cli.EXIT_METADATA == 5
    err = capsys.readouterr().err
    assert err.startswith("assay: error: ML Metadata: connecting to "
                          "mysql://ml:***@127.0.0.1:1/md failed: ")
    assert "secret" not in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_ml_metadata_errors_after_the_evaluation_exit_5(data, tmp_path, capsys, monkeypatch):
    def full_disk(*args, **kwargs):
        raise MetadataError("ML Metadata: recording the evaluation failed: database is full")

    monkeypatch.setattr("assay.mlmd.record.record_evaluation", full_disk)
    code = _evaluate(data, tmp_path, None, "--mlmd", f"sqlite:{tmp_path / 'md.sqlite'}")
    assert code == cli.EXIT_METADATA
    assert capsys.readouterr().err == (
        f"assay: error: the results are in {tmp_path / 'out'}, but recording them in ML "
        f"Metadata failed: ML Metadata: recording the evaluation failed: database is full\n")
    assert (tmp_path / "out" / "assay_metrics.json").exists()


def test_beam_pipeline_args_reach_beam(data, tmp_path, monkeypatch):
    from apache_beam.options.pipeline_options import DirectOptions, StandardOptions

    from assay.engine import beam

    seen = []

    class Recorded(beam.PipelineOptions):
        def __init__(self, flags=None, **kwargs):
            super().__init__(flags, **kwargs)
            seen.append(self)

    monkeypatch.setattr(beam, "PipelineOptions", Recorded)
    code = _evaluate(data, tmp_path, None, "--beam-pipeline-args",
                     "--runner=DirectRunner --direct_num_workers=3", "--engine", "beam")
    assert code == 0
    options = seen[0]
    assert options.view_as(StandardOptions).runner == "DirectRunner"
    assert options.view_as(DirectOptions).direct_num_workers == 3
    # --engine beam: DirectRunner arguments alone would run the local engine (issue 17), and
    # assay_metrics.json records the engine.
    assert json.loads((tmp_path / "out" / "assay_metrics.json").read_text())["engine"] == "beam"


def test_missing_arguments_are_argparse_usage_errors(data, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["evaluate", "--config", str(data / "config.yaml")])
    assert e.value.code == cli.EXIT_USAGE
    assert "the following arguments are required: --output" in capsys.readouterr().err


def test_console_script(data, tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "assay")
    proc = subprocess.run([exe, "evaluate", "--config", str(data / "config.yaml"), "--examples",
                           str(data / "Split-eval" / "*.gz"), "--output", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "2 examples" not in proc.stdout
    doc = json.loads((tmp_path / "out" / "assay_metrics.json").read_text())
    assert doc["examples_read"] == 2000


# ---- what the command line prints: version, summary, -v / -q, the progress bar -------------


@pytest.fixture(scope="module")
def parquet(tmp_path_factory):
    """The demo trips as one Parquet file of several row groups, and a config with a failing
    slice check (payment=cash needs auc >= 0.99)."""
    import pyarrow.parquet as pq

    root = tmp_path_factory.mktemp("cli_parquet")
    table = demo.make_trips(3000, seed=5)
    pq.write_table(table, str(root / "trips.parquet"), row_group_size=500)
    (root / "config.yaml").write_text(CONFIG.replace("slices: [[payment]]", "slices: [[payment]]")
                                      + "  - {metric: auc, slices: [{payment: cash}], min: 0.99}\n")
    return root, table


def _parquet_args(parquet, out, *more):
    root, _ = parquet
    return ["evaluate", "--config", str(root / "config.yaml"), "--examples",
            str(root / "trips.parquet"), "--output", str(out), *more]


def test_version(capsys):
    import assay

    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.startswith(f"assay {assay.__version__} (Python 3.")


def test_format_value_prints_counts_as_integers():
    from assay.cli_output import format_value

    assert format_value("example_count", 3e6) == "3000000"     # not 3e+06
    assert format_value("tp@0.5", 1244.0) == "1244"
    assert format_value("weighted_example_count", 1244.5) == "1244.5"
    assert format_value("auc", 0.123456789) == "0.123457"


def test_summary_states_task_counts_report_and_failing_checks(parquet, tmp_path, capsys):
    from sklearn.metrics import roc_auc_score

    out = tmp_path / "out"
    assert cli.main(_parquet_args(parquet, out)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"assay: binary evaluation written to {out}"
    assert lines[1] == ("  task: binary (inferred from the data: 0/1 labels and predictions "
                        "in [0, 1])")
    assert "  overall example_count: 3000" in lines          # an integer, read from Parquet
    assert f"  report:  {out / 'report.html'}" in lines and (out / "report.html").exists()
    # The failing check, with the candidate's and the baseline's AUC on payment=cash and
    # their difference, against scikit-learn on the same rows.
    t = parquet[1].to_pandas()
    cash = t[t.payment == "cash"]
    cand = roc_auc_score(cash.label, cash.prediction, sample_weight=cash.weight)
    base = roc_auc_score(cash.label, cash.old_prediction, sample_weight=cash.weight)
    failing = [line for line in lines if line.startswith("    FAIL auc on payment=cash")]
    assert len(failing) == 1, lines
    numbers = dict(part.strip().split(" ") for part in failing[0].split("): ")[1].split(","))
    assert float(numbers["candidate"]) == pytest.approx(cand, abs=1e-5)
    assert float(numbers["baseline"]) == pytest.approx(base, abs=1e-5)
    assert float(numbers["difference"]) == pytest.approx(cand - base, abs=1e-5)
    assert "(min 0.99)" in failing[0] and "  verdict: NOT_BLESSED" in lines


def test_summary_says_a_task_set_in_the_config(parquet, tmp_path, capsys):
    cfg = tmp_path / "task.yaml"
    cfg.write_text(CONFIG + "task: binary\n")
    root, _ = parquet
    assert cli.main(["evaluate", "--config", str(cfg), "--examples", str(root / "trips.parquet"),
                     "--output", str(tmp_path / "out")]) == 0
    assert "  task: binary (set in the config (task))" in capsys.readouterr().out.splitlines()


def test_quiet_prints_nothing_and_verbose_logs_under_the_assay_logger(parquet, tmp_path,
                                                                       capsys):
    assert cli.main(_parquet_args(parquet, tmp_path / "q", "-q")) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert (tmp_path / "q" / "validation.json").exists()
    assert cli.main(["-v"] + _parquet_args(parquet, tmp_path / "v")) == 0
    captured = capsys.readouterr()
    assert "assay: INFO: evaluating " in captured.err and "trips.parquet" in captured.err
    assert captured.out.startswith("assay: binary evaluation written to")
    import logging

    assert logging.getLogger("assay").level == logging.INFO
    cli.main(["-q"] + _parquet_args(parquet, tmp_path / "q"))
    assert logging.getLogger("assay").level == logging.ERROR


def _run_on_pty(args, timeout=300):
    """Runs the console script with stderr on a pseudo-terminal of 0 x 0 (as `script` gives);
    returns (exit status, stdout, what the terminal received)."""
    import pty
    import select

    exe = os.path.join(os.path.dirname(sys.executable), "assay")
    master, slave = pty.openpty()
    proc = subprocess.Popen([exe, *args], stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    seen, out = b"", b""
    while True:
        ready, _, _ = select.select([master, proc.stdout], [], [], timeout)
        if not ready:
            proc.kill()
            raise AssertionError(f"no output for {timeout} s")
        if proc.stdout in ready:
            chunk = proc.stdout.read1(65536)
            out += chunk
            if not chunk and proc.poll() is not None:
                break
        if master in ready:
            try:
                seen += os.read(master, 65536)
            except OSError:  # the child closed the terminal
                pass
    os.close(master)
    return proc.wait(), out.decode(), seen.decode("utf-8", "replace")


def test_a_progress_bar_on_a_terminal_and_none_otherwise(parquet, tmp_path):
    code, out, terminal = _run_on_pty(_parquet_args(parquet, tmp_path / "tty"))
    assert code == 0 and out.startswith("assay: binary evaluation written to")
    # The total comes from the Parquet metadata; the last refresh shows every row read.
    assert "assay: evaluating (local engine)" in terminal
    assert "3.00k/3.00k" in terminal, terminal[-500:]
    # With stderr a pipe (CI, logs): no bar at all.
    exe = os.path.join(os.path.dirname(sys.executable), "assay")
    proc = subprocess.run([exe, *_parquet_args(parquet, tmp_path / "pipe")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_the_progress_counts_examples_and_slices_of_both_engines(parquet, tmp_path):
    """The bar's counts come from the engines: forked local workers and Beam's in-process
    runner count every example once, and the local engine every slice computed."""
    import io

    import assay
    from assay.progress import ProgressBar

    root, table = parquet
    for engine, workers in (("local", 2), ("beam", None)):
        with ProgressBar(io.StringIO(), total=table.num_rows) as bar:
            result = assay.evaluate(str(root / "config.yaml"), str(root / "trips.parquet"),
                                    str(tmp_path / engine), engine=engine, workers=workers)
        examples, slices = bar.final
        assert examples == table.num_rows == result.info["examples_read"]
        if engine == "local":
            assert slices == len(result.slices()) == 1 + len(set(table["payment"].to_pylist()))


def test_schema_command_prints_the_config_schema(tmp_path, capsys):
    from assay.config.jsonschema import config_schema

    assert cli.main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == config_schema()
    assert cli.main(["schema", "-o", str(tmp_path / "s.json")]) == 0
    assert json.loads((tmp_path / "s.json").read_text()) == config_schema()


def test_a_reader_that_leaves_early_is_not_a_crash(parquet, tmp_path):
    """`assay evaluate ... | head -1`: the pipe closes before the summary is written; that used
    to be reported as an internal error with a crash report."""
    exe = os.path.join(os.path.dirname(sys.executable), "assay")
    proc = subprocess.Popen([exe, *_parquet_args(parquet, tmp_path / "out")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before anything is printed
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 0, err
    assert "internal error" not in err and "BrokenPipeError" not in err, err
    assert (tmp_path / "out" / "validation.json").exists()
