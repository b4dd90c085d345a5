"""`assay history` and `assay monitor` from the command line, the monitoring KFP pipeline (its
recurring run compiled, no cluster), and the budget through the KFP executor.

Monitoring data: a label-free config on a prediction column whose mean is set exactly (m - 0.05
and m + 0.05 alternating), so the alert rule's band is computed by hand.
"""

import json
import os
import statistics
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

import assay
from assay import cli
from assay.history.monitor import EXIT_ALERT, HISTORY_FILE

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "pipelines"))

MEANS = [0.30, 0.31, 0.29, 0.60]
MONITOR = "models: {candidate: {prediction: score}}\nslices: [[], [region]]\n" \
          "history: {metrics: [mean_prediction], window: 5, k: 3}\n"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    root = tmp_path_factory.mktemp("monitor")
    for i, m in enumerate(MEANS):
        n = 400
        pd.DataFrame({"score": m + np.where(np.arange(n) % 2 == 0, -0.05, 0.05),
                      "region": np.where(np.arange(n) % 4 < 2, "north", "south")}
                     ).to_csv(root / f"day{i}.csv", index=False)
    (root / "monitor.yaml").write_text(MONITOR)
    (root / "gated.yaml").write_text(MONITOR + "thresholds: [{metric: mean_prediction, "
                                               "max: 0.5}]\n")
    return root


@pytest.fixture(scope="module")
def monitored(fresh):
    """Four label-free monitor runs (r0..r3) into one history; returns their exit codes."""
    codes = []
    for i in range(4):
        codes.append(cli.main(["monitor", "--config", str(fresh / "monitor.yaml"), "--examples",
                               str(fresh / f"day{i}.csv"), "--history", str(fresh / "runs"),
                               "--run", f"r{i}"]))
    return codes


def test_monitor_alerts_on_the_shifted_day_only(monitored, fresh, capsys):
    # r2: band of (0.30, 0.31) is 0.305 +- 3 * 0.00707, 0.29 inside; r3: band of (0.30, 0.31,
    # 0.29) is 0.30 +- 0.03, 0.60 above.
    window = MEANS[:3]
    assert statistics.mean(window) + 3 * statistics.stdev(window) < MEANS[3]
    assert monitored == [0, 0, 0, EXIT_ALERT]
    r3 = json.loads((fresh / "runs" / "r3" / "assay_metrics.json").read_text())
    (alert,) = r3["history"]["alerts"]
    assert alert["side"] == "above" and alert["value"] == pytest.approx(0.60)
    assert alert["band"]["mean"] == pytest.approx(0.30)
    assert alert["band"]["sd"] == pytest.approx(statistics.stdev(window))
    # Label-free: no label in the config; drift against the previous run.
    config = json.loads((fresh / "runs" / "r3" / "config.json").read_text())
    assert "label" not in config and config["reference"] == str(fresh / "runs" / "r2")
    assert config["history"]["results"] == [str(fresh / "runs" / f"r{i}") for i in range(3)]
    assert "drift" in r3


def test_monitor_history_file_holds_every_run(monitored, fresh):
    doc = json.loads((fresh / "runs" / HISTORY_FILE).read_text())
    assert [e["label"] for e in doc["evaluations"]] == ["r0", "r1", "r2", "r3"]
    line = next(s for s in doc["series"] if s["metric"] == "mean_prediction" and not s["slice"])
    stored = [next(r["metrics"]["mean_prediction"] for r in json.loads(
        (fresh / "runs" / f"r{i}" / "assay_metrics.json").read_text())["records"]
        if r["model"] == "candidate" and not r["slice"]) for i in range(4)]
    assert [p["value"] for p in line["points"]] == stored == pytest.approx(MEANS)


def test_monitor_exits_4_on_a_failed_check_and_refuses_a_run_twice(monitored, fresh, capsys):
    args = ["monitor", "--config", str(fresh / "gated.yaml"), "--examples",
            str(fresh / "day3.csv"), "--history", str(fresh / "runs")]
    assert cli.main(args + ["--run", "r4"]) == cli.EXIT_NOT_BLESSED
    assert "FAILED: mean_prediction is 0.6, above the maximum 0.5" in capsys.readouterr().out
    assert cli.main(args + ["--run", "r4"]) == cli.EXIT_USAGE
    assert "already has a run named 'r4'" in capsys.readouterr().err


def test_history_command_table_and_json(monitored, fresh, tmp_path, capsys):
    runs = [str(fresh / "runs" / f"r{i}") for i in range(4)]
    code = cli.main(["history", *runs, "--metric", "mean_prediction", "--fail-on-alert"])
    out = capsys.readouterr().out
    assert code == EXIT_ALERT
    lines = out.splitlines()
    assert lines[0].split() == ["evaluation", "blessed", "mean_prediction"]
    assert [line.split()[2] for line in lines[1:5]] == [f"{m:.4f}" for m in MEANS]
    assert lines[5].startswith("ALERT: mean_prediction on slice overall is 0.6 in r3, above")
    assert cli.main(["history", *runs[:3], "--json", str(tmp_path / "h.json"), "-q",
                     "--all-slices"]) == 0
    doc = json.loads((tmp_path / "h.json").read_text())
    assert doc["alerts"] == [] and len(doc["evaluations"]) == 3
    assert {json.dumps(s["slice"]) for s in doc["series"]} == {
        "{}", '{"region": "north"}', '{"region": "south"}'}
    assert cli.main(["history", *runs, "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["rule"] == {"rule": "sd", "window": 5, "k": 3.0}


def test_history_command_usage_errors(capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        cli.main(["history"])
    assert e.value.code == cli.EXIT_USAGE
    assert "give results directories, or --mlmd STORE" in capsys.readouterr().err
    assert cli.main(["history", str(tmp_path), "--window", "1"]) == cli.EXIT_USAGE
    assert "'history.window' must be at least 2" in capsys.readouterr().err
    assert cli.main(["history", str(tmp_path / "none")]) != 0
    assert str(tmp_path / "none") in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# The monitoring pipeline

def test_monitor_pipeline_and_its_recurring_run_compile(tmp_path):
    import kfp_monitor

    path = kfp_monitor.compile_pipeline(str(tmp_path / "monitor.yaml"), "reg/assay:9")
    spec = yaml.safe_load(open(path))
    (executor,) = spec["deploymentSpec"]["executors"].values()
    assert executor["container"]["image"] == "reg/assay:9"
    assert "exec assay monitor --config /tmp/monitor.json" in executor["container"]["command"][2]
    body = kfp_monitor.recurring_run(path, cron="0 0 6 * * *")
    assert body["trigger"] == {"cron_schedule": {"cron": "0 0 6 * * *"}}
    assert body["pipeline_spec"] == spec and body["max_concurrency"] == "1"
    assert body["no_catchup"] is True and body["mode"] == "ENABLE"
    # The step's config is assay's, label-free, and parses.
    config = json.loads(kfp_monitor.CONFIG)
    parsed = assay.load_config(dict(config, models={"candidate": {"prediction": "p"}}))
    assert parsed.label is None or not parsed.label
    assert parsed.feature("history").metrics == ("mean_prediction", "positive_rate@0.5")
    assert kfp_monitor.main(["-o", str(tmp_path / "m.yaml"), "--recurring",
                             str(tmp_path / "r.yaml")]) == 0
    assert yaml.safe_load(open(tmp_path / "r.yaml"))["trigger"] == body["trigger"]


def test_budget_through_the_kfp_executor(tmp_path):
    """The config reaches the KFP step unchanged: the budget's anchor is a results directory."""
    from assay.kfp import executor
    from test_kfp import hand_built_executor_input

    n = 600
    y = np.arange(n) % 2
    right = np.where(y == 1, 0.8, 0.2)
    late = right.copy()
    late[:30] = 1 - right[:30]                     # accuracy 0.95
    pd.DataFrame({"label": y, "early": right, "late": late}).to_csv(tmp_path / "e.csv",
                                                                    index=False)
    anchor = assay.evaluate({"label": "label", "models": {"candidate": {"prediction": "early"}}},
                            str(tmp_path / "e.csv"), str(tmp_path / "anchor"))
    task = hand_built_executor_input(
        tmp_path / "task", {"examples": ("system.Dataset", str(tmp_path / "e.csv"))},
        {"config": {"label": "label", "models": {"candidate": {"prediction": "late"}},
                    "thresholds": [{"metric": "accuracy", "max_regression_from": {
                        "anchor": str(tmp_path / "anchor"), "value": 0.02}}]}})
    executor.run(task)
    verdict = json.loads((tmp_path / "task" / "evaluation" / "validation.json").read_text())
    (check,) = verdict["checks"]
    assert check["baseline"] == anchor.metrics()["accuracy"] == 1.0
    assert check["candidate"] == pytest.approx(0.95) and check["status"] == "fail"
    assert verdict["blessed"] is False


def test_monitor_records_in_ml_metadata_and_reads_the_history_from_it(fresh, tmp_path, capsys):
    store = f"sqlite:{tmp_path / 'md.sqlite'}"
    args = ["monitor", "--config", str(fresh / "monitor.yaml"), "--history",
            str(tmp_path / "runs"), "--mlmd", store, "--mlmd-pipeline", "mon"]
    for i in range(3):
        assert cli.main(args + ["--examples", str(fresh / f"day{i}.csv"), "--run", f"r{i}"]) == 0
    from assay.history import load_series

    series = load_series(mlmd=store, pipeline="mon", metrics=["mean_prediction"])
    assert [e.path for e in series.evaluations] == [str(tmp_path / "runs" / f"r{i}")
                                                    for i in range(3)]
    assert series.values("mean_prediction") == pytest.approx(MEANS[:3])
    r2 = json.loads((tmp_path / "runs" / "r2" / "assay_metrics.json").read_text())
    # Each earlier run once (from the store), not twice (store and directory).
    assert [e["path"] for e in r2["history"]["evaluations"]] == \
        [str(tmp_path / "runs" / f"r{i}") for i in range(2)]
    doc = json.loads((tmp_path / "runs" / HISTORY_FILE).read_text())
    assert [e["evaluation_id"] is not None for e in doc["evaluations"]] == [True] * 3
