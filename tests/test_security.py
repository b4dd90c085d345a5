"""Security (issue 12): a config cannot run code, secrets never leak, the report never runs
what the data holds.

- Pickled models are code: only the caller's opt-in (--allow-pickle, allow_pickle=True, the
  TFX and KFP components' allow_pickle) loads them; `allow_pickle` in a config is a ConfigError
  from every entry point, and a joblib file whose unpickling creates a file must not create it.
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
# Pickled models need the caller's opt-in: a config cannot give it

PICKLE_REFUSAL = ("models.candidate.allow_pickle cannot be set in a config: loading a "
                  "joblib/pickle model runs code, and a config is data (it may come from a "
                  "pipeline parameter or a form), so only whoever runs assay can allow it; if you "
                  "trust the model, remove allow_pickle from the config and pass --allow-pickle "
                  "(CLI), allow_pickle=True (assay.evaluate) or the allow_pickle parameter of the "
                  "TFX or KFP component")


class _TouchOnLoad:
    """Unpickling this calls open(MARKER, "w"): the marker file exists iff it was loaded."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture()
def pickles(data):
    """(tmp, exploit.joblib, its marker, a real sklearn model.joblib); nothing loaded yet."""
    import joblib

    from model_fixtures import make_sklearn_model

    tmp, _ = data
    marker = tmp / "unpickled"
    exploit = str(tmp / "exploit.joblib")
    joblib.dump(_TouchOnLoad(marker), exploit)
    assert not marker.exists()
    os.makedirs(tmp / "model")
    return tmp, exploit, marker, make_sklearn_model(tmp / "model" / "model.joblib")


def _pickle_config(path, **spec):
    return {"label": "label", "models": {"candidate": {"path": path, **spec}},
            "slices": [[], ["payment"]], "on_no_thresholds": "bless"}


def test_a_config_cannot_allow_pickle_from_the_api(pickles):
    tmp, exploit, marker, _ = pickles
    config = _pickle_config(exploit, allow_pickle=True)
    (tmp / "c.yaml").write_text(f"label: label\nmodels:\n  candidate: {{path: {exploit}, "
                                f"allow_pickle: true}}\n")
    (tmp / "c.json").write_text(json.dumps(config))
    for given in (config, str(tmp / "c.yaml"), str(tmp / "c.json"),
                  _pickle_config(exploit, allow_pickle=False)):
        for allow in (False, True):  # the caller's opt-in does not make the key valid
            with pytest.raises(ConfigError) as e:
                assay.evaluate(given, str(tmp / "eval.csv"), str(tmp / "out"),
                               allow_pickle=allow, engine="local", workers=1)
            assert PICKLE_REFUSAL in str(e.value)
    for build in (assay.load_config, assay.EvalConfig.from_dict):
        with pytest.raises(ConfigError, match="allow_pickle cannot be set in a config"):
            build(config)
    assert not marker.exists() and not (tmp / "out").exists()
    # Without the key and without the opt-in, the model is refused before it is read.
    with pytest.raises(Exception, match=r"refusing to load .*exploit.joblib.*--allow-pickle"):
        assay.evaluate(_pickle_config(exploit), str(tmp / "eval.csv"), str(tmp / "out"),
                       engine="local", workers=1)
    assert not marker.exists()
    # The caller's opt-in does load it (so the marker above would have shown a load).
    with pytest.raises(Exception):
        assay.evaluate(_pickle_config(exploit), str(tmp / "eval.csv"), str(tmp / "out"),
                       allow_pickle=True, engine="local", workers=1)
    assert marker.exists()


def test_the_callers_opt_in_loads_the_model_and_is_not_written_as_config(pickles):
    tmp, _, _, model = pickles
    result = assay.evaluate(_pickle_config(model), str(tmp / "eval.csv"), str(tmp / "out"),
                            allow_pickle=True, engine="local", workers=1)
    assert result.metrics()["example_count"] == 300
    written = json.loads((tmp / "out" / "config.json").read_text())
    assert written["models"] == {"candidate": {"path": model}}
    # The results' config.json runs again, with the opt-in given again.
    assay.evaluate(str(tmp / "out" / "config.json"), str(tmp / "eval.csv"), str(tmp / "out2"),
                   allow_pickle=True, engine="local", workers=1)


def test_a_config_cannot_allow_pickle_from_the_cli(pickles, capsys):
    tmp, exploit, marker, model = pickles
    (tmp / "bad.yaml").write_text(f"label: label\nmodels:\n  candidate: {{path: {exploit}, "
                                  f"allow_pickle: true}}\n")
    argv = ["evaluate", "--examples", str(tmp / "eval.csv"), "--output", str(tmp / "out")]
    for extra in ([], ["--allow-pickle"]):
        assert cli.main(argv + ["--config", str(tmp / "bad.yaml")] + extra) == 2
        assert PICKLE_REFUSAL in capsys.readouterr().err
    assert not marker.exists() and not (tmp / "out").exists()
    (tmp / "good.yaml").write_text("label: label\nmodels:\n  candidate: {}\n"
                                   "on_no_thresholds: bless\n")
    assert cli.main(argv + ["--config", str(tmp / "good.yaml"), "--model", model]) == 3
    assert "refusing to load" in capsys.readouterr().err
    assert cli.main(argv + ["--config", str(tmp / "good.yaml"), "--model", model,
                            "--allow-pickle"]) == 0
    assert assay.load_result(str(tmp / "out")).metrics()["example_count"] == 300


def test_a_config_cannot_allow_pickle_in_the_kfp_executor(pickles, capsys):
    from assay.kfp import executor
    from test_kfp import hand_built_executor_input

    tmp, exploit, marker, model = pickles

    def task(root, config, model_path, allow):
        return hand_built_executor_input(
            tmp / root, {"examples": ("system.Dataset", str(tmp / "eval.csv")),
                         "model": ("system.Model", model_path)},
            {"config": json.dumps(config), "allow_pickle": allow})

    os.makedirs(tmp / "exploit_dir")
    shutil.copy(exploit, tmp / "exploit_dir" / "model.joblib")
    bad = {"label": "label", "models": {"candidate": {"allow_pickle": True}}}
    for allow in (False, True):
        doc = task(f"bad{allow}", bad, str(tmp / "exploit_dir"), allow)
        assert executor.main(["--executor-input", json.dumps(doc)]) == 2
        assert PICKLE_REFUSAL in capsys.readouterr().err
    assert not marker.exists()
    good = {"label": "label", "models": {"candidate": {}}, "on_no_thresholds": "bless"}
    doc = task("refused", good, os.path.dirname(model), False)
    assert executor.main(["--executor-input", json.dumps(doc)]) == 3
    doc = task("allowed", good, os.path.dirname(model), True)
    assert executor.main(["--executor-input", json.dumps(doc)]) == 0


def test_a_config_cannot_allow_pickle_in_the_tfx_component_and_executor(pickles):
    from tfx.dsl.components.base import base_beam_executor
    from tfx.types import artifact_utils, channel, standard_artifacts

    from assay.errors import ConfigTypeError, ModelError
    from assay.tfx import Evaluator
    from assay.tfx.executor import Executor

    tmp, exploit, marker, model = pickles
    examples = channel.Channel(type=standard_artifacts.Examples)
    model_channel = channel.Channel(type=standard_artifacts.Model)
    bad = {"label": "label", "models": {"candidate": {"allow_pickle": True}},
           "on_no_thresholds": "bless"}
    good = {"label": "label", "models": {"candidate": {}}, "on_no_thresholds": "bless"}
    for allow in (False, True):
        with pytest.raises(ConfigError) as e:
            Evaluator(examples=examples, model=model_channel, config=bad, allow_pickle=allow)
        assert PICKLE_REFUSAL in str(e.value)
    with pytest.raises(ConfigTypeError, match="'allow_pickle' must be True or False"):
        Evaluator(examples=examples, model=model_channel, config=good, allow_pickle="yes")
    assert Evaluator(examples=examples, model=model_channel,
                     config=good).exec_properties["allow_pickle"] is False
    assert Evaluator(examples=examples, model=model_channel, config=good,
                     allow_pickle=True).exec_properties["allow_pickle"] is True

    def artifact(cls, uri, **kw):
        a = cls()
        a.uri = str(uri)
        if cls is not standard_artifacts.Model:  # a Model artifact here is the joblib file
            os.makedirs(a.uri, exist_ok=True)
        for k, v in kw.items():
            setattr(a, k, v)
        return a

    ex = artifact(standard_artifacts.Examples, tmp / "examples",
                  split_names=artifact_utils.encode_split_names(["eval"]))
    os.makedirs(tmp / "examples" / "Split-eval")
    shutil.copy(tmp / "eval.csv", tmp / "examples" / "Split-eval" / "data.csv")
    exploit_model = artifact(standard_artifacts.Model, exploit, id=1)

    def run(config, model_artifact, name, **props):
        outputs = {"evaluation": [artifact(standard_artifacts.ModelEvaluation, tmp / name)],
                   "blessing": [artifact(standard_artifacts.ModelBlessing, tmp / f"{name}-b")]}
        Executor(base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=None)).Do(
            {"examples": [ex], "model": [model_artifact]}, outputs,
            {"config": json.dumps(config), "eval_config": None,
             "example_splits": json.dumps(["eval"]), **props})
        return outputs["evaluation"][0].uri

    for allow in (False, True):
        with pytest.raises(ConfigError) as e:
            run(bad, exploit_model, f"bad-{allow}", allow_pickle=allow)
        assert PICKLE_REFUSAL in str(e.value)
    assert not marker.exists()
    real = artifact(standard_artifacts.Model, model, id=2)
    with pytest.raises(ModelError, match="refusing to load"):
        run(good, real, "refused")
    uri = run(good, real, "allowed", allow_pickle=True)
    assert assay.load_result(uri).metrics()["example_count"] == 300


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
    assert (tmp / "out" / "assay_metrics.json").exists() and (tmp / "compare.html").exists()
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
