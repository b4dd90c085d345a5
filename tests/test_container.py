"""The container image: built from the Dockerfile as written, and run as a pipeline runs it.

The session fixture `image` makes sure a Docker engine answers (tests/docker.sh installs Debian's
docker.io and starts dockerd when none runs; a daemon it started is stopped at the end of the
session), makes sure the base image exists (on a machine that cannot reach a registry,
tests/docker.sh builds a TEST-ONLY stand-in for python:3.10.13-slim-bookworm), and builds the
image once per session; every test uses that one image. The slim image (`--target slim`, no
TensorFlow, Beam or TFX) is built once per session too, and runs one evaluation. Docker's layer cache (kept in the
engine's data root between sessions) makes a rebuild on an unchanged tree take seconds.

If the engine cannot start or the image does not build, every test here FAILS, with the reason:
these tests are never skipped.

Every container runs as the image's user (uid 10001) with a read-only root filesystem, a tmpfs
/tmp, no network, the data mounted read-only and only the output directory writable: as in a
locked-down pipeline pod.
"""

# No `from __future__ import annotations`: KFP reads the pipeline's annotations as objects.
import json
import math
import os
import subprocess
import time
import uuid
from typing import NamedTuple

import numpy as np
import pandas as pd
import pytest
import yaml

import file_tree

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DOCKER = os.environ.get("ASSAY_TEST_DOCKER", "/usr/bin/docker")   # Debian's client (BuildKit)
IMAGE = os.environ.get("ASSAY_TEST_IMAGE", "assay:container-test")
SLIM_IMAGE = os.environ.get("ASSAY_TEST_SLIM_IMAGE", "assay:container-test-slim")
UID = 10001
BUILD_TIMEOUT_S = 1800
RUN_TIMEOUT_S = 600
# What every container of these tests gets (kfp.local's DockerRunner too, see `locked_down`).
LOCKDOWN = ["--read-only", "--tmpfs", "/tmp", "--network", "none"]


def _run(argv, timeout, **kwargs):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, **kwargs)


def _fail(what, proc):
    pytest.fail(f"{what} (exit status {proc.returncode}):\n{proc.stdout[-6000:]}",
                pytrace=False)


def _docker_sh(*args, timeout=900):
    return _run(["bash", os.path.join(HERE, "docker.sh"), *args], timeout)


@pytest.fixture(scope="session")
def engine():
    """A Docker engine that answers; started (and later stopped) here when none runs."""
    proc = _docker_sh("install")
    if proc.returncode != 0:
        _fail("CONTAINER TESTS CANNOT RUN: tests/docker.sh install (docker.io, debootstrap, "
              "iptables) failed", proc)
    proc = _docker_sh("start", timeout=120)
    if proc.returncode != 0:
        _fail("CONTAINER TESTS CANNOT RUN: the Docker engine did not start "
              "(tests/docker.sh start)", proc)
    words = proc.stdout.split()
    started = words[words.index("started") + 1] if "started" in words else None
    yield
    if started:
        _docker_sh("stop", started, timeout=60)


@pytest.fixture(scope="session")
def base_image(engine):
    proc = _docker_sh("base-image")
    if proc.returncode != 0:
        _fail("CONTAINER TESTS CANNOT RUN: no base image python:3.10.13-slim-bookworm "
              "(tests/docker.sh base-image)", proc)


def _build(tag, *args):
    """`docker build` of the Dockerfile as written (args: e.g. --target slim), tagged `tag`."""
    previous = _image_id(tag)
    start = time.monotonic()
    env = dict(os.environ, DOCKER_BUILDKIT="1")
    proc = _run([DOCKER, "build", "--network=host", "--progress=plain", *args, "-t", tag, ROOT],
                BUILD_TIMEOUT_S, env=env)
    if proc.returncode != 0:
        _fail(f"THE IMAGE {tag} DID NOT BUILD from the Dockerfile", proc)
    seconds = time.monotonic() - start
    if previous and previous != _image_id(tag):     # the last session's image, now untagged
        _run([DOCKER, "image", "rm", previous], 120)
    # Keep the engine's data root bounded across sessions: build cache unused for a day goes
    # (each uv.lock change leaves a 3 GB venv layer behind).
    _run([DOCKER, "builder", "prune", "-f", "--filter", "unused-for=24h"], 300)
    size = _run([DOCKER, "image", "inspect", "-f", "{{.Size}}", tag], 60).stdout.strip()
    print(f"\nbuilt {tag} in {seconds:.0f} s ({int(size or 0) / 1e9:.2f} GB)")
    return tag


@pytest.fixture(scope="session")
def image(base_image):
    """The full image (the Dockerfile's default target), built once per session: IMAGE."""
    return _build(IMAGE)


@pytest.fixture(scope="session")
def slim_image(base_image):
    """The slim image (`--target slim`: no TensorFlow, Beam, TFX), once per session."""
    return _build(SLIM_IMAGE, "--target", "slim")


def _image_id(tag):
    proc = _run([DOCKER, "image", "inspect", "-f", "{{.Id}}", tag], 60)
    return proc.stdout.strip() if proc.returncode == 0 else None


def docker_run(image, *args, mounts=(), name=None, entrypoint=None, timeout=RUN_TIMEOUT_S):
    """`docker run` locked down (LOCKDOWN, the image's own user); mounts: (host, path, mode)."""
    argv = [DOCKER, "run", *LOCKDOWN]
    argv += ["--name", name] if name else ["--rm"]
    for host, path, mode in mounts:
        argv += ["-v", f"{host}:{path}:{mode}"]
    if entrypoint:
        argv += ["--entrypoint", entrypoint]
    return _run(argv + [image, *args], timeout)


def _writable_by_the_image(path):
    """The image runs as uid 10001: a host directory it writes to must let it."""
    for dirpath, dirs, _ in os.walk(path):
        os.chmod(dirpath, 0o777)


def _readable(path):
    """pytest makes its temporary directories 0700; the container's user must read the data."""
    for dirpath, _, files in os.walk(path):
        os.chmod(dirpath, 0o755)
        for f in files:
            os.chmod(os.path.join(dirpath, f), 0o644)


# --------------------------------------------------------------------------------------------
# A case whose shape the test makes up

class Case(NamedTuple):
    data: str                 # a directory: eval.csv, model.joblib, baseline.joblib, config.yaml
    df: pd.DataFrame
    features: list
    label: str
    score: str                # the baseline's prediction column
    specs: list               # the two slicing specs
    min_slice_size: int
    candidate: np.ndarray     # the candidate's predictions, computed here
    baseline_model: np.ndarray   # baseline.joblib's predictions (for the KFP run)
    blessed: bool             # the verdict the thresholds must give
    config: dict


def make_case(root, seed) -> Case:
    """Random feature columns (count and names), two slice columns (one string with a rare value
    that min_slice_size withholds, one integer), a binary label, a prediction column; a
    scikit-learn LogisticRegression saved with joblib as the candidate and a worse one as the
    baseline model (for the KFP run). The thresholds are placed from scikit-learn's values so
    that the verdict is known: BLESSED or NOT_BLESSED, as the seed draws."""
    import joblib
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1200, 2000))
    k = int(rng.integers(2, 6))
    features = [f"f{i}_{rng.integers(1000)}" for i in range(k)]
    x = rng.normal(size=(n, k))
    regions = ["north", "south", "east", "west"][:int(rng.integers(2, 5))]
    p = np.full(len(regions) + 1, 0.985 / len(regions))
    p[-1] = 0.015                                          # "rare": withheld
    region = rng.choice(regions + ["rare"], n, p=p)
    tier = rng.integers(0, int(rng.integers(2, 4)), n)
    coef = rng.normal(0, 1.5, k)
    coef *= max(1.0, 2.5 / np.linalg.norm(coef))          # a candidate clearly better than chance
    logit = x @ coef + 0.7 * (region == regions[0]) - 0.3 * tier
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    label, score = f"label_{rng.integers(100)}", f"score_{rng.integers(100)}"
    df = pd.DataFrame(x, columns=features)
    df["region"], df["tier"], df[label] = region, tier, y
    df[score] = np.round(1 / (1 + np.exp(-(0.4 * logit + rng.normal(0, 1, n)))), 6)

    train = rng.random(n) < 0.4
    candidate = LogisticRegression().fit(df.loc[train, features], y[train])
    # The baseline model learnt from shuffled labels: clearly worse than the candidate.
    weak = LogisticRegression().fit(df.loc[train, features[:1]], rng.permutation(y[train]))
    os.makedirs(root, exist_ok=True)
    df.to_csv(os.path.join(root, "eval.csv"), index=False)
    joblib.dump(candidate, os.path.join(root, "model.joblib"))
    joblib.dump(weak, os.path.join(root, "baseline.joblib"))
    cand = candidate.predict_proba(df[features])[:, 1]
    base = weak.predict_proba(df[features[:1]])[:, 1]

    blessed = bool(rng.integers(0, 2))
    auc = roc_auc_score(y, cand)
    specs = [["region"], ["region", "tier"]]
    min_slice_size = 40
    config = {
        "label": label,
        "models": {"candidate": {"path": "/data/model.joblib", "features": features},
                   "baseline": {"prediction": score}},
        "slices": specs,
        "min_slice_size": min_slice_size,
        # Far from the boundary: 0.05 below the candidate's AUC, or 0.05 above it.
        "thresholds": [{"metric": "auc",
                        "min": round(float(auc) + (-0.05 if blessed else 0.05), 4)}],
    }
    with open(os.path.join(root, "config.yaml"), "w") as f:
        yaml.safe_dump(config, f)
    _readable(root)
    return Case(root, df, features, label, score, specs, min_slice_size, cand, base, blessed,
                config)


def expected_slices(case):
    """({slice key: row mask} of the overall slice and every slice min_slice_size keeps,
    {slice key: size} of the slices it withholds)."""
    kept, withheld = {(): np.ones(len(case.df), bool)}, {}
    for spec in case.specs:
        for values, rows in case.df.groupby(spec).groups.items():
            values = values if isinstance(values, tuple) else (values,)
            key = tuple(sorted(zip(spec, (v.item() if hasattr(v, "item") else v
                                          for v in values))))
            if len(rows) >= case.min_slice_size:
                kept[key] = case.df.index.isin(rows)
            else:
                withheld[key] = len(rows)
    return kept, withheld


def sklearn_metrics(y, p):
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

    out = {"example_count": float(len(y)), "mean_label": float(np.mean(y)),
           "mean_prediction": float(np.mean(p)),
           "accuracy": accuracy_score(y, p >= 0.5),
           "log_loss": log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1])}
    if 0 < y.sum() < len(y):
        out["auc"] = roc_auc_score(y, p)
    return out


def check_metrics_against_sklearn(case, metrics_doc):
    records = {(tuple(sorted(r["slice"].items())), r["model"]): r
               for r in metrics_doc["records"]}
    kept, withheld = expected_slices(case)
    assert withheld, "the case has no slice below min_slice_size"
    for key, size in withheld.items():
        record = records[(key, "candidate")]
        assert "metrics" not in record and record["example_count"] == size, record
    assert {key for key, model in records if model == "candidate"} == set(kept) | set(withheld)
    y = case.df[case.label].to_numpy()
    for key, mask in kept.items():
        for model, pred in (("candidate", case.candidate),
                            ("baseline", case.df[case.score].to_numpy())):
            ours = records[(key, model)]["metrics"]
            for name, value in sklearn_metrics(y[mask], pred[mask]).items():
                assert ours[name] == pytest.approx(value, rel=1e-6, abs=1e-9), \
                    f"{name} of {model} on slice {dict(key)}"


@pytest.fixture(scope="module")
def case(tmp_path_factory, request):
    seed = int(os.environ.get("ASSAY_TEST_SEED", uuid.uuid4().int % 100000))
    print(f"\ncontainer case seed: {seed} (rerun with ASSAY_TEST_SEED={seed})")
    # A shape drawn at random each run, but always one the tests can judge: the next seeds are
    # tried until the case has a withheld slice and a baseline model clearly worse than the
    # candidate (so verdicts sit far from their boundaries).
    for attempt in range(50):
        case = make_case(str(tmp_path_factory.mktemp("container-data")), seed + attempt)
        if _usable(case):
            return case
    raise AssertionError(f"no usable case from seed {seed} in 50 tries")


def _usable(case) -> bool:
    from sklearn.metrics import roc_auc_score

    y = case.df[case.label].to_numpy()
    gap = roc_auc_score(y, case.candidate) - roc_auc_score(y, case.baseline_model)
    return gap > 0.15 and bool(expected_slices(case)[1])


# --------------------------------------------------------------------------------------------
# The image itself

def test_image_runs_as_uid_10001_without_a_compiler(image):
    config = json.loads(_run([DOCKER, "image", "inspect", "-f", "{{json .Config}}", image],
                             60).stdout)
    assert config["User"] in (str(UID), f"{UID}:{UID}")
    proc = docker_run(image, "-c", "id -u; id -g; echo $HOME; "
                      "for c in gcc g++ cc c++ clang cpp make uv; do command -v $c; done; "
                      "touch /opt/assay/x 2>/dev/null && echo ROOT-WRITABLE; "
                      "touch /tmp/x && echo TMP-WRITABLE", entrypoint="sh")
    assert proc.returncode == 0, proc.stdout
    lines = proc.stdout.split()
    assert lines[:3] == [str(UID), str(UID), "/home/assay"], proc.stdout
    assert lines[3:] == ["TMP-WRITABLE"], f"a compiler, uv, or a writable root:\n{proc.stdout}"


def test_images_hold_the_package_as_it_is_in_the_tree(image, slim_image):
    """Every .py file of assay in both images equals the working tree's: a build must never
    install an older wheel from a cache (uv keys a local project's wheel on pyproject.toml)."""
    source = os.path.join(ROOT, "component", "assay")
    want = {k: v for k, v in file_tree.digests(source).items() if k.endswith(".py")}
    script = ("import hashlib, os, assay; root = os.path.dirname(assay.__file__)\n"
              "for d, _, fs in os.walk(root):\n"
              "    for f in fs:\n"
              "        if f.endswith('.py'):\n"
              "            p = os.path.join(d, f)\n"
              "            print(os.path.relpath(p, root), "
              "hashlib.sha256(open(p, 'rb').read()).hexdigest())\n")
    for built in (image, slim_image):
        proc = docker_run(built, "-c", script, entrypoint="python")
        assert proc.returncode == 0, proc.stdout
        got = dict(line.split(" ") for line in proc.stdout.strip().splitlines())
        stale = sorted(k for k in want if got.get(k) != want[k])
        assert not stale and set(got) == set(want), (built, stale[:10])


def test_entrypoint_usage(image):
    proc = docker_run(image)                                   # CMD ["--help"]
    assert proc.returncode == 0, proc.stdout
    assert "usage: assay" in proc.stdout and "evaluate" in proc.stdout
    proc = docker_run(image, "evaluate", "--help")
    assert proc.returncode == 0 and "--allow-pickle" in proc.stdout, proc.stdout
    proc = docker_run(image, "kfp")                            # no --executor-input
    assert proc.returncode == 2 and "--executor-input" in proc.stdout, proc.stdout
    proc = docker_run(image, "--help", entrypoint="assay")     # the console script
    assert proc.returncode == 0 and "usage: assay" in proc.stdout, proc.stdout
    # A command after the ENTRYPOINT runs as that command (how kfp.local's DockerRunner passes
    # the component's command: as Docker's CMD).
    proc = docker_run(image, "python", "/opt/assay/container/entrypoint.py", "kfp", "--help")
    assert proc.returncode == 0 and "--executor-input" in proc.stdout, proc.stdout
    proc = docker_run(image, "id", "-un")
    assert proc.returncode == 0 and proc.stdout.strip() == "assay", proc.stdout


# --------------------------------------------------------------------------------------------
# `assay evaluate` in the container

def test_evaluate_in_the_container(image, case, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    _writable_by_the_image(str(out))
    before = file_tree.digests(case.data)
    name = f"assay-test-{uuid.uuid4().hex[:12]}"
    try:
        proc = docker_run(image, "evaluate", "--config", "/data/config.yaml",
                          "--examples", "/data/eval.csv", "--output", "/out/eval",
                          "--allow-pickle", "--fail-on-not-blessed",
                          mounts=[(case.data, "/data", "ro"), (str(out), "/out", "rw")],
                          name=name)
        # Nothing written outside the output directory: no change in the container's
        # filesystem (its root is read-only; /tmp is a tmpfs) and none in the data.
        # (`docker diff` lists the mount points Docker itself made: /data and /out.)
        diff = _run([DOCKER, "diff", name], 60)
        assert diff.returncode == 0, diff.stdout
        assert set(diff.stdout.split("\n")) - {"A /data", "A /out", ""} == set(), diff.stdout
    finally:
        _run([DOCKER, "rm", "-f", name], 60)
    assert proc.returncode == (0 if case.blessed else 4), proc.stdout
    verdict = "BLESSED" if case.blessed else "NOT_BLESSED"
    assert f"verdict: {verdict}" in proc.stdout, proc.stdout
    assert file_tree.digests(case.data) == before
    assert sorted(os.listdir(out)) == ["eval"]

    result = out / "eval"
    validation = json.loads((result / "validation.json").read_text())
    assert validation["blessed"] is case.blessed and validation["outcome"] == verdict
    assert os.listdir(result / "blessing") == [verdict]
    check_metrics_against_sklearn(case, json.loads((result / "assay_metrics.json").read_text()))
    assert (result / "report.html").read_text().lstrip().lower().startswith("<!doctype html")
    owners = {os.stat(os.path.join(d, f)).st_uid for d, _, fs in os.walk(result) for f in fs}
    assert owners == {UID}


# --------------------------------------------------------------------------------------------
# The KFP component through kfp.local's DockerRunner

@pytest.fixture
def locked_down(monkeypatch, case):
    """kfp.local's DockerRunner (kfp 2.13) takes no container options: it mounts the pipeline
    root read-write and runs the image with Docker's defaults. Give its containers what a
    locked-down pod has: no network, a read-only root with a tmpfs /tmp, and the data (the
    imported artifacts) mounted read-only at the same path. The task directories kfp.local
    creates on the host are made writable for the image's user (a cluster's volume would be)."""
    from docker.models.containers import ContainerCollection
    from kfp.local import docker_task_handler

    original = ContainerCollection.run
    runs = []

    def run(self, image, command=None, **kwargs):
        volumes = dict(kwargs.pop("volumes", None) or {})
        for root in volumes:
            _writable_by_the_image(root)
        volumes[case.data] = {"bind": case.data, "mode": "ro"}
        container = original(self, image, command, volumes=volumes, network_mode="none",
                             read_only=True, tmpfs={"/tmp": ""}, **kwargs)
        runs.append({"image": image, "volumes": volumes, "container": container})
        return container

    monkeypatch.setattr(ContainerCollection, "run", run)
    assert docker_task_handler.run_docker_container   # the function that calls it
    yield runs
    for r in runs:                          # kfp.local leaves its containers behind
        r["container"].remove(force=True)


def test_kfp_component_with_the_docker_runner(image, case, tmp_path, locked_down):
    from kfp import dsl, local
    from sklearn.metrics import roc_auc_score

    from assay.kfp import evaluator_component

    # The config as a config_file artifact; the models as Model artifacts (directories holding
    # one model file), as the pipeline's train step makes them. Every input is wired: kfp.local
    # cannot leave an optional input artifact unwired (see test_kfp.py).
    config = dict(case.config)
    config["models"] = {"candidate": {"features": case.features},
                        "baseline": {"features": case.features[:1]}}
    # Now the baseline is the weak model: add a regression check, far from its boundary too.
    y = case.df[case.label].to_numpy()
    gap = roc_auc_score(y, case.candidate) - roc_auc_score(y, case.baseline_model)
    assert gap > 0.1, "the case's baseline model is not clearly worse"
    config["thresholds"] = case.config["thresholds"] + [
        {"metric": "auc", "max_regression": 0.01}]
    for name, src in (("config", None), ("candidate", "model.joblib"),
                      ("baseline", "baseline.joblib")):
        os.makedirs(os.path.join(case.data, name), exist_ok=True)
        if src:
            os.link(os.path.join(case.data, src), os.path.join(case.data, name, "model.joblib"))
    with open(os.path.join(case.data, "config", "config.yaml"), "w") as f:
        yaml.safe_dump(config, f)
    _readable(case.data)

    component = evaluator_component(image=image)

    @dsl.pipeline
    def evaluate_in_a_container() -> NamedTuple(
            "Outputs", blessed=bool, metrics=dsl.Metrics, report=dsl.HTML,
            blessing=dsl.Artifact, evaluation=dsl.Artifact):
        examples = dsl.importer(artifact_uri=os.path.join(case.data, "eval.csv"),
                                artifact_class=dsl.Dataset)
        model = dsl.importer(artifact_uri=os.path.join(case.data, "candidate"),
                             artifact_class=dsl.Model)
        baseline = dsl.importer(artifact_uri=os.path.join(case.data, "baseline"),
                                artifact_class=dsl.Model)
        config_file = dsl.importer(artifact_uri=os.path.join(case.data, "config"),
                                   artifact_class=dsl.Artifact)
        task = component(examples=examples.output, model=model.output,
                         baseline_model=baseline.output, config_file=config_file.output,
                         allow_pickle=True)
        outputs = NamedTuple("Outputs", blessed=bool, metrics=dsl.Metrics, report=dsl.HTML,
                             blessing=dsl.Artifact, evaluation=dsl.Artifact)
        return outputs(blessed=task.outputs["blessed"], metrics=task.outputs["metrics"],
                       report=task.outputs["report"], blessing=task.outputs["blessing"],
                       evaluation=task.outputs["evaluation"])

    pipeline_root = tmp_path / "pipeline-root"
    pipeline_root.mkdir()
    local.init(runner=local.DockerRunner(), pipeline_root=str(pipeline_root),
               raise_on_error=True)
    before = file_tree.digests(case.data)
    outputs = evaluate_in_a_container().outputs
    assert len(locked_down) == 1 and locked_down[0]["image"] == image
    assert file_tree.digests(case.data) == before

    # The verdict the thresholds give: the minimum AUC as the seed drew it, and the regression
    # check passes (the candidate is clearly better than the baseline).
    verdict = "BLESSED" if case.blessed else "NOT_BLESSED"
    assert outputs["blessed"] is case.blessed
    assert os.listdir(outputs["blessing"].path) == [verdict]
    assert outputs["blessing"].metadata["blessed"] == int(case.blessed)
    assert outputs["blessing"].metadata["assay_outcome"] == verdict
    assert type(outputs["metrics"]).__name__ == "Metrics"
    scalars = outputs["metrics"].metadata
    assert scalars["auc"] == pytest.approx(roc_auc_score(y, case.candidate), rel=1e-9)
    assert scalars["example_count"] == len(case.df)
    report = open(outputs["report"].path).read()
    assert report.lstrip().lower().startswith("<!doctype html") and verdict in report
    metrics_doc = json.load(open(os.path.join(outputs["evaluation"].path, "assay_metrics.json")))
    base = next(r["metrics"] for r in metrics_doc["records"]
                if r["slice"] == {} and r["model"] == "baseline")
    assert base["auc"] == pytest.approx(roc_auc_score(y, case.baseline_model), rel=1e-9)
    assert math.isfinite(scalars["log_loss"])


# --------------------------------------------------------------------------------------------
# The slim image

TFX_STACK = ("tensorflow", "apache_beam", "tfx", "tfx_bsl", "kfp", "ml_metadata",
             "tensorflow_model_analysis")


def _installed(image, modules):
    code = ("import importlib.util as u, json; "
            f"print(json.dumps([m for m in {list(modules)!r} if u.find_spec(m)]))")
    proc = docker_run(image, "-c", code, entrypoint="python")
    assert proc.returncode == 0, proc.stdout
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_slim_image_evaluates_without_the_tfx_stack(slim_image, image, case, tmp_path):
    """The slim image holds none of the TFX stack (the full one holds all of it), runs as the
    same locked-down user, and evaluates the case (a joblib model and a prediction column) with
    scikit-learn's values, as the full image does."""
    assert _installed(slim_image, TFX_STACK + ("sklearn", "xgboost", "lightgbm")) == [
        "sklearn", "xgboost", "lightgbm"]
    assert _installed(image, TFX_STACK) == list(TFX_STACK)
    sizes = {tag: int(_run([DOCKER, "image", "inspect", "-f", "{{.Size}}", tag], 60).stdout)
             for tag in (image, slim_image)}
    print(f"\nimage sizes: full {sizes[image] / 1e9:.2f} GB, slim {sizes[slim_image] / 1e9:.2f} GB")
    assert sizes[slim_image] < sizes[image] / 2

    out = tmp_path / "out"
    out.mkdir()
    _writable_by_the_image(str(out))
    proc = docker_run(slim_image, "evaluate", "--config", "/data/config.yaml",
                      "--examples", "/data/eval.csv", "--output", "/out/eval",
                      "--allow-pickle", mounts=[(case.data, "/data", "ro"),
                                                (str(out), "/out", "rw")])
    assert proc.returncode == 0, proc.stdout
    verdict = "BLESSED" if case.blessed else "NOT_BLESSED"
    assert f"verdict: {verdict}" in proc.stdout, proc.stdout
    result = out / "eval"
    assert json.loads((result / "validation.json").read_text())["outcome"] == verdict
    assert os.listdir(result / "blessing") == [verdict]
    check_metrics_against_sklearn(case, json.loads((result / "assay_metrics.json").read_text()))
    owners = {os.stat(os.path.join(d, f)).st_uid for d, _, fs in os.walk(result) for f in fs}
    assert owners == {UID}

    # What it lacks is named: a TFRecord file needs tfx-bsl, the `tfrecord` extra (exit 2).
    from assay.data.tfrecord import masked_crc

    tfrecord = tmp_path / "tfrecord"
    tfrecord.mkdir()
    with open(tfrecord / "eval.tfrecord", "wb") as f:
        for data in [b"\n\x00"] * 3:                          # three empty tf.Examples
            length = len(data).to_bytes(8, "little")
            f.write(length + masked_crc(length).to_bytes(4, "little"))
            f.write(data + masked_crc(data).to_bytes(4, "little"))
    _readable(str(tfrecord))
    proc = docker_run(slim_image, "evaluate", "--config", "/data/config.yaml",
                      "--examples", "/records/eval.tfrecord", "--output", "/out/records",
                      "--allow-pickle", mounts=[(case.data, "/data", "ro"),
                                                (str(tfrecord), "/records", "ro"),
                                                (str(out), "/out", "rw")])
    assert proc.returncode == 2, proc.stdout
    assert "reading TFRecord files of tf.Examples needs tfx_bsl" in proc.stdout, proc.stdout
    assert "pip install 'assay[tfrecord]'" in proc.stdout, proc.stdout
    assert not (out / "records").exists()
