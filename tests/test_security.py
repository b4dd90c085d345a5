"""Security (issue 12): a config cannot run code, secrets never leak, the report never runs
what the data holds.

- Custom metrics are code: a config naming one needs the caller's opt-in naming its module
  (--allow-custom-code, allow_custom_code=, the TFX and KFP parameters), and the class must be
  an assay.Metric subclass before anything is called. The exploit from the issue,
  `{class: "subprocess:Popen", args: ["touch", FILE]}`, must not create FILE.
- An ML Metadata URL's password is never printed, logged or written: the CLI runs against an
  unreachable port and against a real MariaDB (tests/mariadb.sh) with a user whose password is
  distinctive; stdout, stderr, every output file and every ML Metadata property are searched.
- Hostile slice values (script tags, quotes, a 20,000-character string) in a report opened in
  headless Chromium: nothing executes (window.__pwned stays undefined), the values show as
  text.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid

import numpy as np
import pandas as pd
import pytest

import assay
from assay import cli
from assay.errors import ConfigError
from model_fixtures import make_tabular_data, write_csv

HERE = os.path.dirname(os.path.abspath(__file__))
MARIADB_SH = os.path.join(HERE, "mariadb.sh")


@pytest.fixture()
def data(tmp_path):
    df = make_tabular_data(300, seed=8)
    df["p"] = np.clip(df["miles"] / 20, 0, 1)
    write_csv(df, tmp_path / "eval.csv")
    return tmp_path, df


def popen_config(marker):
    return {"label": "label", "models": {"candidate": {"prediction": "p"}},
            "custom_metrics": [{"class": "subprocess:Popen", "args": ["touch", str(marker)]}]}


# --------------------------------------------------------------------------------------------
# Custom code needs an opt-in; the class is checked before it is called

def test_the_popen_exploit_runs_nothing_without_an_opt_in(data, capsys):
    tmp, _ = data
    marker = tmp / "pwned"
    (tmp / "config.json").write_text(json.dumps(popen_config(marker)))
    argv = ["evaluate", "--config", str(tmp / "config.json"), "--examples", str(tmp / "eval.csv"),
            "--output", str(tmp / "out")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert ("custom_metrics[0] names 'subprocess:Popen': loading it imports and runs code from "
            "module 'subprocess', which needs an explicit opt-in (none is allowed now); if you "
            "trust it, pass --allow-custom-code subprocess (CLI)") in err
    # Even allowed, a class that is not an assay.Metric is never called.
    assert cli.main(argv + ["--allow-custom-code", "subprocess"]) == 2
    err = capsys.readouterr().err
    assert ("custom metric 'subprocess:Popen' is not an assay.Metric and lacks create, add, "
            "add_grouped, merge, result, plots; subclass assay.Metric") in err
    assert "(got the class subprocess.Popen)" in err
    assert not marker.exists() and not (tmp / "out").exists()


@pytest.mark.parametrize("allowed, ok", [(None, False), ([], False), (["custom_metricsx"], False),
                                         (["custom"], False), (["custom_metrics"], True),
                                         ("os,custom_metrics", True)])
def test_only_the_named_modules_and_their_submodules_are_allowed(data, allowed, ok):
    tmp, df = data
    config = {"label": "label", "models": {"candidate": {"prediction": "p"}},
              "custom_metrics": ["custom_metrics:MaxError"]}
    run = lambda: assay.evaluate(config, str(tmp / "eval.csv"), str(tmp / "out"),  # noqa: E731
                                 allow_custom_code=allowed, engine="local", workers=1,
                                 write_report=False)
    if not ok:
        with pytest.raises(ConfigError, match=r"custom_metrics\[0\] names "
                                              r"'custom_metrics:MaxError'.*explicit opt-in"):
            run()
        return
    result = run()
    assert result.metrics()["max_error"] == pytest.approx(
        np.max(np.abs(df["p"] - df["label"])), rel=1e-12)


def test_an_allowed_module_list_is_checked():
    from assay.engine.prepare import parse_allowed_modules

    assert parse_allowed_modules("a, b.c,,a") == ("a", "b.c")
    assert parse_allowed_modules(["x", "y,z"]) == ("x", "y", "z")
    with pytest.raises(ConfigError, match=r"Python module names such as mypkg.metrics "
                                          r"\(got 'os; rm'\)"):
        parse_allowed_modules(["os; rm"])


def test_the_tfx_component_takes_the_opt_in_and_refuses_at_definition(tmp_path):
    from tfx.types import channel, standard_artifacts

    from assay.tfx import Evaluator

    examples = channel.Channel(type=standard_artifacts.Examples)
    config = popen_config(tmp_path / "pwned")
    with pytest.raises(ConfigError, match=r"needs an explicit opt-in .*allow_custom_code "
                                          r"parameter of the TFX or KFP component"):
        Evaluator(examples=examples, config=config)
    with pytest.raises(ConfigError, match=r"'subprocess:Popen' is not an assay.Metric"):
        from assay.engine.prepare import load_custom_metric
        load_custom_metric("subprocess:Popen", {"args": ["touch", str(tmp_path / "pwned")]})
    ok = Evaluator(examples=examples, config={
        "label": "label", "models": {"candidate": {"prediction": "p"}},
        "custom_metrics": ["custom_metrics:MaxError"]}, allow_custom_code=["custom_metrics"])
    assert json.loads(ok.exec_properties["allow_custom_code"]) == ["custom_metrics"]
    assert not (tmp_path / "pwned").exists()


def test_the_kfp_executor_refuses_custom_code_without_its_parameter(data, capsys):
    from assay.kfp import executor
    from test_kfp import hand_built_executor_input

    tmp, _ = data
    marker = tmp / "pwned"
    task = hand_built_executor_input(
        tmp / "task", {"examples": ("system.Dataset", str(tmp / "eval.csv"))},
        {"config": json.dumps(popen_config(marker))})
    assert executor.main(["--executor-input", json.dumps(task)]) == 2
    assert "explicit opt-in" in capsys.readouterr().err
    task["inputs"]["parameterValues"]["allow_custom_code"] = ["subprocess"]
    assert executor.main(["--executor-input", json.dumps(task)]) == 2
    assert "is not an assay.Metric" in capsys.readouterr().err
    assert not marker.exists()


# --------------------------------------------------------------------------------------------
# Secrets: an ML Metadata password is never printed, logged or written

PASSWORD = "Zq7-unguessable-" + uuid.uuid4().hex[:10]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def mariadb_secret_uri():
    """mysql://leaky:PASSWORD@127.0.0.1:PORT/mlmd on a MariaDB server started here."""
    if not (shutil.which("mariadbd") and shutil.which("mariadb-install-db")):
        pytest.fail("MariaDB is not installed: run tests/mariadb.sh install (as root)")
    datadir = tempfile.mkdtemp(prefix="assay-mdb-")
    port = _free_port()
    proc = subprocess.run([MARIADB_SH, "start", datadir, str(port)], capture_output=True,
                          text=True, timeout=180)
    try:
        assert proc.returncode == 0, f"MariaDB did not start:\n{proc.stderr}"
        create = subprocess.run(
            ["mariadb", "--no-defaults", f"--socket={datadir}/mysqld.sock", "-u",
             subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip(),
             "-e", f"CREATE USER 'leaky'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'; "
                   f"GRANT ALL PRIVILEGES ON *.* TO 'leaky'@'127.0.0.1';"],
            capture_output=True, text=True, timeout=60)
        assert create.returncode == 0, create.stderr
        yield f"mysql://leaky:{PASSWORD}@127.0.0.1:{port}/mlmd"
    finally:
        subprocess.run([MARIADB_SH, "stop", datadir], timeout=60)
        shutil.rmtree(datadir, ignore_errors=True)


def _run_cli(*argv, cwd):
    return subprocess.run([sys.executable, "-m", "assay.cli", *argv], capture_output=True,
                          text=True, timeout=600, cwd=cwd,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="0", GLOG_v="1"))


def _files_holding(root, secret):
    hits = []
    for base, _, names in os.walk(root):
        for name in names:
            path = os.path.join(base, name)
            with open(path, "rb") as f:
                if secret.encode() in f.read():
                    hits.append(path)
    return hits


def test_a_password_in_an_unreachable_store_url_is_never_shown(data):
    tmp, _ = data
    (tmp / "config.yaml").write_text("label: label\nmodels:\n  candidate: {prediction: p}\n")
    uri = f"mysql://leaky:{PASSWORD}@127.0.0.1:{_free_port()}/mlmd"
    proc = _run_cli("evaluate", "--config", "config.yaml", "--examples", "eval.csv", "--output",
                    "out", "--mlmd", uri, cwd=tmp)
    assert proc.returncode == 5, proc.stderr
    assert "mysql://leaky:***@127.0.0.1" in proc.stderr
    assert PASSWORD not in proc.stdout + proc.stderr
    assert _files_holding(tmp, PASSWORD) == []


def test_a_password_in_a_real_store_url_is_never_shown_or_recorded(data, mariadb_secret_uri):
    from assay import mlmd

    tmp, _ = data
    (tmp / "config.yaml").write_text(
        "label: label\nmodels:\n  candidate: {prediction: p}\nslices: [[day]]\n"
        "thresholds: [{metric: auc, min: 0.5}]\n")
    runs = [_run_cli("evaluate", "--config", "config.yaml", "--examples", "eval.csv",
                     "--output", "out", "--mlmd", mariadb_secret_uri, "--mlmd-pipeline", "p1",
                     cwd=tmp),
            _run_cli("evaluate", "--config", "config.yaml", "--examples", "eval.csv",
                     "--output", "out2", "--mlmd", mariadb_secret_uri, "--mlmd-pipeline", "p1",
                     "--baseline", "latest-blessed", cwd=tmp),
            _run_cli("report", "--mlmd", mariadb_secret_uri, "--mlmd-pipeline", "p1", "-o",
                     "compare.html", cwd=tmp)]
    for proc in runs:
        assert proc.returncode == 0, proc.stderr
        assert PASSWORD not in proc.stdout + proc.stderr
    assert "ML Metadata: execution" in runs[0].stdout
    assert (tmp / "out" / "metrics.json").exists() and (tmp / "compare.html").exists()
    assert _files_holding(tmp, PASSWORD) == []
    # Nor in anything recorded in the store.
    store = mlmd.connect(mariadb_secret_uri)
    recorded = [*store.get_artifacts(), *store.get_executions(), *store.get_contexts()]
    assert len(recorded) >= 6
    for item in recorded:
        assert PASSWORD not in str(item), item


# --------------------------------------------------------------------------------------------
# The report: hostile slice values are shown, never run

HOSTILE = ["<img src=x onerror=window.__pwned=1>",
           "</script><script>window.__pwned=1</script>",
           "\"'><svg onload=window.__pwned=1>",
           "javascript:window.__pwned=1",
           "${window.__pwned=1}{{constructor.constructor('window.__pwned=1')()}}",
           "<iframe srcdoc='<script>parent.__pwned=1</script>'>",
           "x" * 20_000 + "<script>window.__pwned=1</script>"]


def test_hostile_slice_values_do_not_run_in_the_report(tmp_path):
    from test_report_browser import Browser, find_chromium

    binary = find_chromium()
    if binary is None:
        pytest.fail("no Chromium: install it with tests/install_chromium.sh (or set "
                    "ASSAY_CHROMIUM); this test needs a real browser")
    rng = np.random.default_rng(3)
    n = 100 * len(HOSTILE)
    df = pd.DataFrame({"label": rng.integers(0, 2, n), "p": rng.random(n),
                       "q": rng.random(n), "where": np.repeat(HOSTILE, 100)})
    df.to_parquet(tmp_path / "eval.parquet")
    config = {"label": "label", "models": {"candidate": {"prediction": "p"},
                                           "baseline": {"prediction": "q"}},
              "slices": [[], ["where"]],
              "thresholds": [{"metric": "auc", "min": 0.99, "slices": [["where"]]}]}
    result = assay.evaluate(config, str(tmp_path / "eval.parquet"), str(tmp_path / "out"),
                            engine="local", workers=1)
    page = tmp_path / "out" / "report.html"
    with Browser(binary) as browser:
        browser.send("Runtime.enable")
        browser.send("Log.enable")
        browser.open(str(page))
        # Open every row, tab and button the page offers, where a handler could inject HTML.
        browser.evaluate("""(() => {
            for (const el of document.querySelectorAll('tr, button, summary, [role=tab], '
                                                       + '[data-slice], th')) {
                try { el.click(); } catch (e) {}
            }
            return true; })()""")
        browser.evaluate("new Promise(r => setTimeout(r, 500))")
        assert browser.evaluate("typeof window.__pwned") == "undefined"
        assert browser.evaluate("document.querySelectorAll('img[src=x], svg[onload], "
                                "iframe').length") == 0
        text = browser.evaluate("document.body.innerText")
        assert HOSTILE[0] in text and "</script><script>window.__pwned=1</script>" in text
        assert [e for e in browser.errors() if "__pwned" in e] == []
        # The probe itself works: the same value put into the page as HTML does run.
        browser.evaluate(f"document.body.insertAdjacentHTML('beforeend', {json.dumps(HOSTILE[0])})")
        browser.evaluate("new Promise(r => setTimeout(r, 300))")
        assert browser.evaluate("window.__pwned") == 1
    assert len(result.slices()) == 1 + len(HOSTILE)
