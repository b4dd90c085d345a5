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
    assert any("below the minimum 0.99" in line for line in lines)
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
                     "--runner=DirectRunner --direct_num_workers=3")
    assert code == 0
    options = seen[0]
    assert options.view_as(StandardOptions).runner == "DirectRunner"
    assert options.view_as(DirectOptions).direct_num_workers == 3
    # Beam arguments choose the Beam engine (--engine auto), and assay_metrics.json records it.
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
