"""Golden files: assay's on-disk formats are contracts (DESIGN.md, principle 7).

A small deterministic evaluation (a binary task with a baseline, a weight and two slicing specs,
and a regression task) is written, recorded in ML Metadata and run through the KFP executor;
what lands on disk is compared with the reviewed files in tests/golden/:

    binary/assay_metrics.json, assay_plots.json, validation.json, config.json, files.json (the
    results directory's files and the blessing marker), mlmd.json (the ModelEvaluation, ModelBlessing
    and execution properties that --mlmd records), kfp/executor_output.json, kfp/metrics,
    kfp/classification_metrics, kfp/files.json (the parameter file and the blessing marker);
    regression/ the same results files; undefined/assay_metrics.json: values that are not
    finite (null, with the reason in "undefined": format version 2).

Every file is read with a strict parser (RFC 8259: NaN or Infinity fail the test).

Only what legitimately varies is normalised: absolute paths (-> <TMP>), the assay version, the
engine name, and floats, rounded to 12 significant digits (summation order may differ in the
last bits between machines). Everything else, key names, nesting, list order, types and values,
must match: a change to a format shows up as a failing test and a diff.

To accept a deliberate format change, rewrite the golden files and review the diff:

    ASSAY_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/test_formats.py
    git diff tests/golden/
"""

import json
import math
import os

import pytest

from assay import api, mlmd
from assay.kfp import executor

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
UPDATE = os.environ.get("ASSAY_UPDATE_GOLDEN") == "1"

BINARY_CONFIG = {
    "label": "label",
    "weight": "weight",
    "models": {"candidate": {"prediction": "prediction"},
               "baseline": {"prediction": "old_prediction"}},
    "slices": [[], ["payment"], ["hour"]],
    "min_slice_size": 25,
    "calibration_bins": 4,
    "decision_thresholds": [0.5, 0.7],
    "thresholds": [
        {"metric": "auc", "min": 0.6, "max_regression": 0.01},
        {"metric": "recall", "slices": [["payment"]], "min": 0.81},   # fails: mobile
        {"metric": "log_loss", "max_regression": {"relative": 0.05}},
        {"metric": "auc", "slices": [{"hour": 3}], "min": 0.5},         # fails: withheld
    ],
}

REGRESSION_CONFIG = {
    "label": "fare",
    "models": {"candidate": {"prediction": "predicted_fare"}},
    "slices": [["region"]],
    "min_slice_size": 10,
    "thresholds": [{"metric": "rmse", "max": 2.0}, {"metric": "r2", "min": 0.5}],
}

# Slice g=a holds positives only, g=b negatives only; the baseline never predicts a positive.
UNDEFINED_CONFIG = {
    "label": "label",
    "models": {"candidate": {"prediction": "prediction"},
               "baseline": {"prediction": "old_prediction"}},
    "slices": [["g"]],
    "decision_thresholds": [0.5],
    "min_slice_size": 1,
}


# --------------------------------------------------------------------------------------------
# Deterministic data: integer arithmetic, no random generator, so every machine and numpy
# version writes the same bytes.

def binary_rows(n=160):
    """payment: 3 values; hour: 0-3, hour 3 rare (withheld below min_slice_size); scores on a
    0.05 grid so the curves stay short."""
    rows = []
    for i in range(n):
        payment = ("card", "cash", "mobile")[i % 3]
        hour = 3 if i % 10 == 0 else i % 3
        label = 1 if (i * 37) % 100 < 35 + 10 * (i % 3) else 0
        noise = ((i * 53) % 11) / 20          # 0 .. 0.5
        old_noise = ((i * 29) % 13) / 20      # 0 .. 0.6
        prediction = round(min(0.95, 0.05 + 0.4 * label + noise), 2)
        old_prediction = round(min(0.95, 0.05 + 0.3 * label + old_noise), 2)
        weight = (1.0, 0.5, 2.0)[i % 3 if i % 7 else 0]
        rows.append((payment, hour, label, weight, prediction, old_prediction))
    return ["payment,hour,label,weight,prediction,old_prediction"] + [
        ",".join(str(v) for v in row) for row in rows]


def undefined_rows(n=24):
    rows = ["g,label,prediction,old_prediction"]
    for i in range(n):
        g = "ab"[i % 2]
        rows.append(f"{g},{1 if g == 'a' else 0},{(i % 6) / 6 + 0.05:.4f},0.5")
    return rows


def regression_rows(n=60):
    rows = ["region,fare,predicted_fare"]
    for i in range(n):
        fare = 5 + (i * 7) % 23 / 2
        rows.append(f"{('north', 'south')[i % 2]},{fare},{fare + ((i * 11) % 9 - 4) / 4}")
    return rows


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("golden")
    (root / "binary.csv").write_text("\n".join(binary_rows()) + "\n")
    (root / "regression.csv").write_text("\n".join(regression_rows()) + "\n")
    (root / "undefined.csv").write_text("\n".join(undefined_rows()) + "\n")
    return root


@pytest.fixture(scope="module")
def binary(root):
    return api.evaluate(BINARY_CONFIG, str(root / "binary.csv"), str(root / "binary"),
                        engine="local", workers=1)


# --------------------------------------------------------------------------------------------
# Normalising and comparing

def normalise(value, root):
    """What may legitimately differ between runs, replaced; floats to 12 significant digits."""
    if isinstance(value, dict):
        return {k: ("<ENGINE>" if k == "engine" else
                    "<VERSION>" if k == "assay_version" else normalise(v, root))
                for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v, root) for v in value]
    if isinstance(value, float):
        return value if not math.isfinite(value) else float(f"{value:.12g}")
    if isinstance(value, str):
        return value.replace(str(root), "<TMP>")
    return value


def check_golden(name, doc, root):
    """Compares `doc` (JSON-able), normalised, with tests/golden/NAME."""
    text = json.dumps(normalise(doc, root), indent=1, sort_keys=True, allow_nan=False) + "\n"
    path = os.path.join(GOLDEN, name)
    if UPDATE:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    if not os.path.exists(path):
        pytest.fail(f"no golden file {path}; write it with ASSAY_UPDATE_GOLDEN=1 and review it")
    with open(path, encoding="utf-8") as f:
        expected = f.read()
    if text != expected:
        # pytest shows the first differing lines; the whole new text is in the message's tail.
        assert text.splitlines() == expected.splitlines(), (
            f"{name} differs from its golden file: a format change? If deliberate, rerun with "
            f"ASSAY_UPDATE_GOLDEN=1 and review `git diff tests/golden/`")


def _not_json(constant):
    raise ValueError(f"{constant} is not JSON (RFC 8259): a non-finite number must be null")


def read_json(path):
    """The file, parsed strictly: NaN, Infinity and -Infinity are refused."""
    with open(path, encoding="utf-8") as f:
        return json.load(f, parse_constant=_not_json)


def listing(directory):
    """Every file under `directory`, relative, sorted; with the size of the empty markers."""
    out = {}
    for parent, _, files in os.walk(directory):
        for name in files:
            path = os.path.join(parent, name)
            rel = os.path.relpath(path, directory)
            out[rel] = os.path.getsize(path) if os.path.basename(parent) == "blessing" \
                else "present"
    return dict(sorted(out.items()))


# --------------------------------------------------------------------------------------------
# The results directory

@pytest.mark.parametrize("name", ["assay_metrics.json", "assay_plots.json",
                                  "validation.json", "config.json"])
def test_binary_results_files(binary, root, name):
    check_golden(f"binary/{name}", read_json(os.path.join(binary.path, name)), root)


def test_binary_results_directory_and_blessing_marker(binary, root):
    # The data make a known verdict: the candidate's auc rises, but recall fails on
    # payment=mobile (0.8036 < 0.81), and hour=3 is withheld (16 examples < 25).
    assert binary.blessed is False
    assert binary.validation["reasons"] == [
        "recall on slice payment=mobile is 0.8036, below the minimum 0.81",
        "slice hour=3 was withheld (16 examples, fewer than min_slice_size 25), so auc cannot "
        "be checked there"]
    files = listing(binary.path)
    assert files["blessing/NOT_BLESSED"] == 0
    check_golden("binary/files.json", files, root)


def test_regression_results_files(root):
    result = api.evaluate(REGRESSION_CONFIG, str(root / "regression.csv"),
                          str(root / "regression"), engine="local", workers=1)
    for name in ("assay_metrics.json", "assay_plots.json", "validation.json", "config.json"):
        check_golden(f"regression/{name}", read_json(os.path.join(result.path, name)), root)
    check_golden("regression/files.json", listing(result.path), root)


def test_undefined_values_are_null_with_their_reason(root):
    result = api.evaluate(UNDEFINED_CONFIG, str(root / "undefined.csv"),
                          str(root / "undefined"), engine="local", workers=1)
    doc = read_json(os.path.join(result.path, "assay_metrics.json"))
    assert doc["version"] == 2
    assert doc["records"][3]["undefined"]["auc"] == (
        "no negative labels (the ROC curve needs both classes)")
    check_golden("undefined/assay_metrics.json", doc, root)


# --------------------------------------------------------------------------------------------
# ML Metadata: what --mlmd records

def _properties(message):
    return {key: getattr(value, value.WhichOneof("value"))
            for key, value in sorted(message.custom_properties.items())}


def test_ml_metadata_properties(binary, root):
    store = mlmd.connect(f"sqlite:{root / 'metadata.sqlite'}")
    recorded = mlmd.record_evaluation(
        store, binary, examples=[str(root / "binary.csv")], model=str(root / "models/2"),
        baseline=str(root / "models/1"), pipeline="golden", run_id="golden-run")
    evaluation, blessing = store.get_artifacts_by_id([recorded.evaluation_id,
                                                      recorded.blessing_id])
    (execution,) = store.get_executions_by_id([recorded.execution_id])
    doc = {
        "blessing": {"uri": blessing.uri, "properties": _properties(blessing)},
        "evaluation": {"uri": evaluation.uri, "properties": _properties(evaluation)},
        "execution": _properties(execution),
        "ids": {"model": recorded.model_id, "baseline": recorded.baseline_id,
                "examples": list(recorded.examples_ids)},
    }
    # The execution's config is a JSON string: compared as JSON, so floats are normalised too.
    doc["execution"]["config"] = json.loads(doc["execution"]["config"])
    doc["blessing"]["properties"]["assay_reasons"] = json.loads(
        doc["blessing"]["properties"]["assay_reasons"])
    check_golden("binary/mlmd.json", doc, root)


# --------------------------------------------------------------------------------------------
# The KFP executor's outputs

def _artifact(name, schema, uri):
    return {"artifacts": [{"name": name, "type": {"schemaTitle": schema}, "uri": uri,
                           "metadata": {}}]}


def kfp_executor_input(task, examples, config):
    """The executor input KFP's launcher sends the component (see the shipped YAML)."""
    outputs = {"evaluation": "system.Artifact", "metrics": "system.Metrics",
               "classification_metrics": "system.ClassificationMetrics",
               "report": "system.HTML", "blessing": "system.Artifact"}
    return {
        "inputs": {"parameterValues": {"config": config, "beam_pipeline_args": [],
                                       "allow_pickle": False, "force_bless": ""},
                   "artifacts": {"examples": _artifact("examples", "system.Dataset",
                                                       examples)}},
        "outputs": {"artifacts": {name: _artifact(name, schema, f"{task}/{name}")
                                  for name, schema in outputs.items()},
                    "parameters": {"blessed": {"outputFile": f"{task}/parameters/blessed"}},
                    "outputFile": f"{task}/executor_output.json"}}


def test_kfp_executor_output(root):
    task = root / "kfp"
    executor.run(kfp_executor_input(task, str(root / "binary.csv"), json.dumps(BINARY_CONFIG)))
    check_golden("kfp/executor_output.json", read_json(task / "executor_output.json"), root)
    check_golden("kfp/metrics", read_json(task / "metrics"), root)
    check_golden("kfp/classification_metrics", read_json(task / "classification_metrics"),
                 root)
    files = listing(task)
    files = {k: v for k, v in files.items() if not k.startswith("evaluation/")}
    files["parameters/blessed"] = (task / "parameters" / "blessed").read_text()
    check_golden("kfp/files.json", files, root)
