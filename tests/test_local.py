"""The local engine: same results as Beam's, its workers, its errors, and a start without Beam."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from sklearn import metrics as skm

import assay
from assay import api, cli, demo
from assay.engine import local
from assay.config.schema import ConfigError, EvalConfig
from assay.errors import DataError
from assay.engine.plan import make_plan

N = 3000


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("trips")
    demo.write_trips(str(root / "Split-eval"), N, shards=4, seed=11)
    return root


def _config(**extra):
    cfg = {"label": "label", "weight": "weight",
           "models": {"candidate": {"prediction": "prediction"},
                      "baseline": {"prediction": "old_prediction"}},
           "slices": [[], ["hour"], ["payment", "day"], {"feature": "miles", "quantiles": 4}]}
    cfg.update(extra)
    return cfg


def _records(result):
    return {(json.dumps(r["slice"], sort_keys=True), r["model"]): r for r in result.records}


def test_local_and_beam_agree_on_every_record_and_plot(shards, tmp_path):
    data = str(shards / "Split-eval")
    loc = assay.evaluate(_config(), data, str(tmp_path / "local"), engine="local", workers=2)
    beam = assay.evaluate(_config(), data, str(tmp_path / "beam"), engine="beam")
    assert loc.info["engine"] == "local" and beam.info["engine"] == "beam"
    # The quantile buckets come from the same sketch of the same values.
    assert loc.info["quantile_boundaries"] == beam.info["quantile_boundaries"]
    a, b = _records(loc), _records(beam)
    assert a.keys() == b.keys() and len(a) > 100
    for key, ra in a.items():
        assert ra.get("withheld") == b[key].get("withheld")
        for metric, value in b[key].get("metrics", {}).items():
            assert ra["metrics"][metric] == pytest.approx(value, rel=1e-12, abs=1e-12,
                                                          nan_ok=True), (key, metric)
    for slice_ in ({}, {"hour": 3}):
        pa_, pb = loc.plots(slice_), beam.plots(slice_)
        np.testing.assert_allclose(pa_["roc_curve"]["tpr"], pb["roc_curve"]["tpr"], rtol=1e-12)


def test_local_engine_matches_sklearn_on_each_hour(shards, tmp_path):
    """An independent check of the forked workers' merge: per-slice AUC from scikit-learn."""
    table = demo.make_trips(N, seed=11).to_pandas()
    result = assay.evaluate(_config(exact=True, slices=[["hour"]]), str(shards / "Split-eval"),
                            str(tmp_path / "out"), engine="local", workers=3)
    for hour, sub in table.groupby("hour"):
        # tf.Example stores floats as float32.
        pred, weight = (sub[c].astype(np.float32).astype(np.float64)
                        for c in ("prediction", "weight"))
        want = skm.roc_auc_score(sub["label"], pred, sample_weight=weight)
        got = result.metrics({"hour": int(hour)})
        assert got["auc"] == pytest.approx(want, abs=1e-9)
        assert got["example_count"] == len(sub)


def test_results_do_not_depend_on_workers_or_on_threads_versus_processes(shards, tmp_path,
                                                                           monkeypatch):
    data = str(shards / "Split-eval")
    outs = []
    for i, workers in enumerate((1, 2, 4)):
        assay.evaluate(_config(), data, str(tmp_path / str(i)), engine="local", workers=workers)
        outs.append((tmp_path / str(i) / "assay_metrics.json").read_bytes())
    monkeypatch.setattr(local, "use_processes", lambda plan, workers: False)
    assay.evaluate(_config(), data, str(tmp_path / "threads"), engine="local", workers=3)
    outs.append((tmp_path / "threads" / "assay_metrics.json").read_bytes())
    assert all(o == outs[0] for o in outs[1:])


def _fresh_python(code: str) -> str:
    """Runs `code` in a new interpreter (nothing imported yet); returns its stdout."""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_processes_only_without_loaded_models_or_threaded_libraries(shards):
    # In a fresh interpreter: this one may have imported TensorFlow or Beam for other tests.
    out = _fresh_python(
        "import dataclasses, sys\n"
        "from assay.engine import local, plan\n"
        "from assay.config import schema as config\n"
        "from assay.models import load as models\n"
        f"p = plan.make_plan(config.EvalConfig.from_dict({_config()!r}), "
        f"{str(shards / 'Split-eval')!r})\n"
        "print(local.use_processes(p, 2), local.use_processes(p, 1))\n"
        "print(local.use_processes(dataclasses.replace(p, files=p.files[:1]), 2))\n"
        "m = p.config.with_model('candidate', models.ModelSpec(path='/models/7'))\n"
        "print(local.use_processes(dataclasses.replace(p, config=m), 2))\n"
        # gRPC comes with Beam and TFX; its threads would be missing in a forked child.
        "import grpc\n"
        "print(local.use_processes(p, 2))\n")
    assert out.split() == ["True", "False", "False", "False", "False"]


def test_an_error_in_a_worker_names_the_file_and_writes_nothing(tmp_path):
    d = tmp_path / "data"
    paths = demo.write_trips(str(d), 400, shards=3, compress=False)
    raw = bytearray(open(paths[2], "rb").read())
    raw[len(raw) // 2] ^= 0xFF
    open(paths[2], "wb").write(bytes(raw))
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("earlier results")
    with pytest.raises(DataError, match=r"corrupt TFRecord file .*data_tfrecord-00002-of-00003"):
        assay.evaluate(_config(), str(d), str(out), engine="local", workers=3)
    assert sorted(os.listdir(out)) == ["keep.txt"]
    assert [p for p in os.listdir(tmp_path) if p.startswith(".out")] == []


def test_engine_choice(tmp_path):
    files = ["/data/a.gz", "/data/b.gz"]
    assert api.choose_engine("auto", files) == "local"
    assert api.choose_engine("auto", files, ["--runner=DataflowRunner"]) == "beam"
    assert api.choose_engine("auto", ["gs://bucket/a.gz"]) == "beam"
    assert api.choose_engine("beam", files) == "beam"
    with pytest.raises(ConfigError, match="engine 'local' takes no Beam pipeline arguments "
                                          r"\(got --runner, --s3_secret_access_key\)") as err:
        api.choose_engine("local", files, ["--runner=DataflowRunner",
                                           "--s3_secret_access_key=hunter2"])
    assert "hunter2" not in str(err.value)  # option values may be credentials: never echoed
    with pytest.raises(ConfigError, match="engine 'local' reads local files only "
                                          r"\(got gs://bucket/a.gz\)"):
        api.choose_engine("local", ["gs://bucket/a.gz"])
    with pytest.raises(ConfigError, match="engine must be one of auto, local, beam"):
        api.choose_engine("spark", files)
    with pytest.raises(ConfigError, match="workers is for the local engine"):
        api.choose_engine("beam", files, workers=2)
    with pytest.raises(ConfigError, match="workers must be a positive integer"):
        api.choose_engine("local", files, workers=0)


def test_cli_engine_flags(shards, tmp_path, capsys):
    config = tmp_path / "c.json"
    config.write_text(json.dumps(_config()))
    args = ["evaluate", "--config", str(config), "--examples", str(shards / "Split-eval")]
    code = cli.main(args + ["--output", str(tmp_path / "a"), "--engine", "local",
                            "--beam-pipeline-args=--runner=DirectRunner"])
    assert code == cli.EXIT_USAGE
    assert "engine 'local' takes no Beam pipeline arguments" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(args + ["--output", str(tmp_path / "b"), "--workers", "0"])
    assert "expected a positive integer, got '0'" in capsys.readouterr().err
    assert cli.main(args + ["--output", str(tmp_path / "c"), "--workers", "2"]) == 0
    assert json.loads((tmp_path / "c" / "assay_metrics.json").read_text())["engine"] == "local"


def test_forked_workers_match_one_worker_and_import_neither_beam_nor_tensorflow(shards,
                                                                                  tmp_path):
    """In a fresh interpreter the local engine forks its workers (4 shards, 2 workers): same
    bytes as one worker here, with the slices' metrics computed in the driver (a few slices)
    or in the workers (INLINE_PAIRS = 0). It starts fast because it imports neither Beam nor
    TensorFlow (a fact checked, not a timing)."""
    out = _fresh_python(
        "import sys, assay\n"
        "from assay.engine import local\n"
        f"r = assay.evaluate({_config()!r}, {str(shards / 'Split-eval')!r}, "
        f"{str(tmp_path / 'forked')!r}, workers=2)\n"
        "print('engine:', r.info['engine'])\n"
        "heavy = sorted(m for m in ('apache_beam', 'tensorflow') if m in sys.modules)\n"
        "print('imported:', heavy)\n"
        "import os\n"
        "real = local._forked_compute\n"
        "def counted(items):\n"
        "    print('computed in', os.getpid(), flush=True)\n"
        "    return real(items)\n"
        "local._forked_compute = counted\n"
        "print('driver', os.getpid(), flush=True)\n"
        f"assay.evaluate({_config()!r}, {str(shards / 'Split-eval')!r}, "
        f"{str(tmp_path / 'in-driver')!r}, workers=2)\n"
        "local.INLINE_PAIRS = 0\n"
        f"assay.evaluate({_config()!r}, {str(shards / 'Split-eval')!r}, "
        f"{str(tmp_path / 'in-workers')!r}, workers=2)\n")
    assert "engine: local" in out and "imported: []" in out
    driver = [line.split()[1] for line in out.splitlines() if line.startswith("driver")]
    computed = [line.split()[2] for line in out.splitlines() if line.startswith("computed")]
    assert len(computed) == 2 and driver[0] not in computed  # INLINE_PAIRS = 0 alone
    assay.evaluate(_config(), str(shards / "Split-eval"), str(tmp_path / "one"), workers=1)
    for name in ("assay_metrics.json", "assay_plots.json"):
        one = (tmp_path / "one" / name).read_bytes()
        for forked in ("forked", "in-driver", "in-workers"):
            assert (tmp_path / forked / name).read_bytes() == one, (forked, name)


def test_a_killed_worker_process_is_a_clear_error(shards, tmp_path):
    """A worker that dies (as the kernel's OOM killer would kill it) is named, nothing written."""
    out = tmp_path / "out"
    stdout = _fresh_python(
        "import os, signal, assay, assay.errors\n"
        "from assay.engine import local\n"
        "real = local._accumulate\n"
        "def dying(plan, w, unit, boundaries):\n"
        "    if unit[0].endswith('00002-of-00004.gz'):\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return real(plan, w, unit, boundaries)\n"
        "local._accumulate = dying\n"
        "try:\n"
        f"    assay.evaluate({_config()!r}, {str(shards / 'Split-eval')!r}, {str(out)!r},\n"
        "                   workers=2)\n"
        "except assay.errors.RunnerError as e:\n"
        "    print('error:', e, 'exit', e.exit_code)\n")
    assert "error: a worker process of the local engine died" in stdout
    assert "--workers 1" in stdout and "exit 7" in stdout
    assert not out.exists()


def test_default_workers_follow_the_container_cpu_limit(tmp_path, monkeypatch):
    v2 = tmp_path / "cpu.max"
    monkeypatch.setattr(local, "_CGROUP_CPU_FILES", (str(v2),))
    monkeypatch.setattr(local.os, "sched_getaffinity", lambda pid: set(range(32)))
    v2.write_text("150000 100000\n")  # 1.5 CPUs
    assert local.default_workers() == 2
    v2.write_text("max 100000\n")
    assert local.default_workers() == 32
    quota, period = tmp_path / "quota", tmp_path / "period"  # cgroup v1
    quota.write_text("400000\n")
    period.write_text("100000\n")
    monkeypatch.setattr(local, "_CGROUP_CPU_FILES", (str(tmp_path / "absent"),
                                                     f"{quota} {period}"))
    assert local.default_workers() == 4
    quota.write_text("-1\n")
    assert local.default_workers() == 32


def _row_grouped_parquet(path, n=100_000, group=10_000, seed=5):
    import pyarrow.parquet as pq

    table = demo.make_trips(n, seed=seed)
    pq.write_table(table, str(path), row_group_size=group)
    return table


def test_parquet_parts_cut_at_row_groups(tmp_path):
    from assay.data import parquet_parts

    path = tmp_path / "t.parquet"
    _row_grouped_parquet(path)
    assert parquet_parts(str(path), 25_000) == [(0, 3, 0), (3, 6, 30_000), (6, 10, 60_000)]
    assert parquet_parts(str(path), 60_000) == [(0, 10, 0)]
    assert parquet_parts(str(path), 1) == [(g, g + 1, g * 10_000) for g in range(10)]


def test_one_big_parquet_file_is_shared_by_the_workers(tmp_path, monkeypatch):
    from assay.engine import plan as plan_lib

    path = tmp_path / "t.parquet"
    table = _row_grouped_parquet(path)
    cfg = _config(exact=True, slices=[[], ["hour"], {"feature": "miles", "quantiles": 4}])
    whole = assay.evaluate(cfg, str(path), str(tmp_path / "whole"), engine="local")
    monkeypatch.setattr(plan_lib, "PARQUET_PART_ROWS", 20_000)
    plan = make_plan(EvalConfig.from_dict(cfg), str(path))
    assert [u[1:] for u in plan.work_units()] == [((2 * i, 2 * i + 2), 20_000 * i)
                                                  for i in range(5)]
    parts = {}
    for name, kw in (("one", {"workers": 1}), ("two", {"workers": 2}),
                     ("beam", {"engine": "beam"})):
        parts[name] = assay.evaluate(cfg, str(path), str(tmp_path / name), **kw)
    assert (tmp_path / "one" / "assay_metrics.json").read_bytes() == \
        (tmp_path / "two" / "assay_metrics.json").read_bytes()
    for name in ("one", "beam"):
        a, b = _records(parts[name]), _records(whole)
        assert a.keys() == b.keys()
        for key, ra in a.items():
            for metric, value in b[key]["metrics"].items():
                assert ra["metrics"][metric] == pytest.approx(value, rel=1e-12, abs=1e-12,
                                                              nan_ok=True), (name, key, metric)
    df = table.to_pandas()
    want = skm.roc_auc_score(df["label"], df["prediction"], sample_weight=df["weight"])
    assert parts["two"].metrics()["auc"] == pytest.approx(want, abs=1e-12)
    assert parts["two"].metrics()["example_count"] == len(df)


def test_rows_are_numbered_in_the_file_across_parts(tmp_path, monkeypatch):
    import pyarrow.parquet as pq
    from assay.engine import plan as plan_lib

    table = demo.make_trips(50_000, seed=2).to_pandas()
    table.loc[43_210, "prediction"] = float("nan")
    path = tmp_path / "bad.parquet"
    pq.write_table(pa_table(table), str(path), row_group_size=5_000)
    monkeypatch.setattr(plan_lib, "PARQUET_PART_ROWS", 10_000)
    with pytest.raises(DataError, match=r"bad.parquet, example 43210"):
        assay.evaluate(_config(), str(path), str(tmp_path / "out"), workers=2)
    assert not (tmp_path / "out").exists()


def pa_table(frame):
    import pyarrow as pa

    return pa.Table.from_pandas(frame, preserve_index=False)


def test_row_groups_and_parquet_parts_refuse_what_they_cannot_read(tmp_path, shards):
    from assay.data import parquet_parts, read_batches

    tfrecord = sorted((shards / "Split-eval").iterdir())[0]
    with pytest.raises(ValueError, match=r"row_groups is for Parquet files only \(got a "
                                         r"tfrecord file: .*data_tfrecord-00000-of-00004"):
        list(read_batches(str(tfrecord), 100, row_groups=(0, 1)))
    not_parquet = tmp_path / "x.parquet"
    not_parquet.write_bytes(b"label,prediction\n1,0.5\n")
    with pytest.raises(DataError, match=r"cannot read Parquet file .*x.parquet"):
        parquet_parts(str(not_parquet), 10)
    with pytest.raises(FileNotFoundError):
        parquet_parts(str(tmp_path / "absent.parquet"), 10)


def test_read_columns_are_what_the_config_names_or_none():
    from assay.engine.plan import read_columns

    assert read_columns(api.load_config(_config())) == (
        "day", "hour", "label", "miles", "old_prediction", "payment", "prediction", "weight")
    named = {"label": "y", "models": {"candidate": {"prediction": ["p0", "p1"]}},
             "slices": [[], ["region"]], "drift": {"features": ["age"]},
             "confidence": {"unit": "user", "replicates": 20}}
    assert read_columns(api.load_config(named)) == ("age", "p0", "p1", "region", "user", "y")
    # A loaded model, a custom metric, weak-slice discovery: any column may be read.
    loaded = dict(named, models={"candidate": {"path": "/models/m.joblib"}})
    custom = dict(named, custom_metrics=["custom_metrics:MaxError"])
    discover = dict(named, discover={"features": ["region"]})
    for config in (loaded, custom, discover):
        assert read_columns(api.load_config(config)) is None


def test_an_evaluation_that_decodes_only_its_columns_writes_the_same_bytes(shards, tmp_path,
                                                                          monkeypatch):
    """The pass decodes label, prediction and hour alone (tf.Examples of 8 features; checked:
    the narrower decoder is made), with the same outputs as a decode of every feature."""
    from assay.data import tfrecord
    from assay.engine import plan as plan_lib

    config = {"label": "label", "models": {"candidate": {"prediction": "prediction"}},
              "slices": [[], ["hour"]], "metrics": ["auc", "accuracy", "mean_label"],
              "batch_size": 100}  # several batches a file: the decoder narrows after one
    data = str(shards / "Split-eval")
    made = []
    real = tfrecord._decoder_of
    monkeypatch.setattr(tfrecord, "_decoder_of",
                        lambda coder, features, kinds: made.append(features) or
                        real(coder, features, kinds))
    assay.evaluate(config, data, str(tmp_path / "narrow"), workers=1)
    assert made and all(f == ["hour", "label", "prediction"] for f in made)
    monkeypatch.setattr(plan_lib, "read_columns", lambda config: None)
    assay.evaluate(config, data, str(tmp_path / "whole"), workers=1)
    for name in ("assay_metrics.json", "assay_plots.json"):
        assert (tmp_path / "narrow" / name).read_bytes() == \
            (tmp_path / "whole" / name).read_bytes()
