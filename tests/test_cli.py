"""The `assay` command line: arguments, exit status, messages, and the console script."""

import json
import os
import subprocess
import sys

import pytest

from assay import cli, demo

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
    printed = capsys.readouterr().out
    verdict = json.loads((out / "validation.json").read_text())
    assert code == (0 if verdict["blessed"] else cli.EXIT_NOT_BLESSED)
    assert f"written to {out}" in printed
    assert "overall auc:" in printed
    assert ("BLESSED" in printed)
    assert (out / "blessing" / ("BLESSED" if verdict["blessed"] else "NOT_BLESSED")).exists()


def test_not_blessed_exit_status_and_force_bless(data, tmp_path, capsys):
    cfg = tmp_path / "strict.yaml"
    cfg.write_text(CONFIG.replace("min: 0.6", "min: 0.99"))
    args = ["evaluate", "--config", str(cfg), "--examples", str(data / "Split-eval"),
            "--output", str(tmp_path / "out")]
    assert cli.main(args + ["--fail-on-not-blessed"]) == cli.EXIT_NOT_BLESSED
    printed = capsys.readouterr().out
    assert "NOT_BLESSED" in printed and "below the minimum 0.99" in printed
    assert cli.main(args) == 0  # without the flag the verdict does not change the status
    assert cli.main(args + ["--fail-on-not-blessed", "--force-bless", "INC-7: approved"]) == 0
    verdict = json.loads((tmp_path / "out" / "validation.json").read_text())
    assert verdict["blessed"] and verdict["forced"] == "INC-7: approved"


def test_errors_are_one_line_with_status(data, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(CONFIG + "min_slice_sise: 3\n")
    code = cli.main(["evaluate", "--config", str(bad), "--examples", str(data / "Split-eval"),
                     "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE
    assert "assay: error:" in err and "did you mean 'min_slice_size'" in err
    code = cli.main(["evaluate", "--config", str(data / "config.yaml"), "--examples",
                     str(tmp_path / "nothing-here-*.gz"), "--output", str(tmp_path / "out")])
    assert code == cli.EXIT_USAGE
    assert "nothing-here-*.gz" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_beam_pipeline_args_are_passed_through(data, tmp_path):
    code = cli.main(["evaluate", "--config", str(data / "config.yaml"), "--examples",
                     str(data / "Split-eval"), "--output", str(tmp_path / "out"),
                     "--beam-pipeline-args", "--runner=DirectRunner --direct_num_workers=1"])
    assert code == 0
    with pytest.raises(SystemExit):
        cli.main(["evaluate", "--config", str(data / "config.yaml")])  # missing arguments


def test_console_script(data, tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "assay")
    proc = subprocess.run([exe, "evaluate", "--config", str(data / "config.yaml"), "--examples",
                           str(data / "Split-eval" / "*.gz"), "--output", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "2 examples" not in proc.stdout
    doc = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert doc["examples_read"] == 2000
