"""The registry of metric directions: every name a family produces has a declared direction, the
registry agrees with a hand-written table, and custom metrics declare theirs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assay.config.thresholds import parse_thresholds
from assay.config.validation import ValidationConfig, with_declared_directions
from assay.errors import ConfigError
from assay.metrics import (BinaryMetrics, Metric, MulticlassMetrics, RegressionMetrics,
                           metric_direction, metric_info)
from assay.metrics.batch import ModelBatch
from assay.metrics.registry import (HEADLINE_METRICS, declared_directions, headline_metrics,
                                    task_directions)
from assay.validation import ValidationOptions, validate
from fresh import loaded_modules

FAMILIES = [
    BinaryMetrics(),
    BinaryMetrics(thresholds=(0.25, 0.5, 0.7, 1)),
    BinaryMetrics(thresholds=(0, 0.125)),
    MulticlassMetrics(["a", "b"], top_k=(1, 3)),
    MulticlassMetrics(["cat", "dog", "bird", "fish", "a b", "2"], top_k=(1, 2, 5, 10)),
    RegressionMetrics(),
    RegressionMetrics(quantiles=(0.0, 0.001, 0.05, 0.5, 0.999, 1.0)),
]


def _batch(family) -> ModelBatch:
    """A small batch the family accepts, so result() lists the names it really produces."""
    rng = np.random.default_rng(0)
    n = 50
    if isinstance(family, MulticlassMetrics):
        k = family.num_classes
        p = rng.dirichlet(np.ones(k), n)
        return ModelBatch(rng.integers(0, k, n), p, np.ones(n))
    labels = rng.integers(0, 2, n).astype(float)
    return ModelBatch(labels, rng.uniform(0, 1, n), np.ones(n))


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f"{f.name}-{len(f.metric_names())}")
def test_every_name_a_family_produces_has_a_declared_direction(family):
    produced = family.result(family.add(family.create(), _batch(family)))
    assert list(produced) == family.metric_names()
    assert set(family.directions) == set(produced)
    for name, direction in family.directions.items():
        assert direction in ("higher", "lower", None), name
        # The registry knows every produced name, with the family's own direction.
        assert metric_info(name) == (True, direction), name


def test_families_agree_on_the_names_they_share():
    seen = {}
    for family in FAMILIES:
        for name, direction in family.directions.items():
            assert seen.setdefault(name, direction) == direction, name


def test_task_directions_match_the_families_defaults():
    assert task_directions("binary") == BinaryMetrics().directions
    assert task_directions("regression") == RegressionMetrics().directions
    assert task_directions("multiclass", (3,), ("a", "b", "c", "d")) == \
        MulticlassMetrics(["a", "b", "c", "d"]).directions


# Written by hand from the definitions, not from the code.
HAND_TABLE = {
    "auc": "higher", "auc_pr": "higher", "log_loss": "lower", "false_positive_rate": "lower",
    "specificity": "higher", "calibration": None, "mean_label": None, "example_count": None,
    "tp@0.5": "higher", "fn@0.25": "lower", "fp@1": "lower", "accuracy@0": "higher",
    "top_1_accuracy": "higher", "top_12_accuracy": "higher", "auc_micro": "higher",
    "f1/cat": "higher", "recall/2": "higher", "precision_weighted": "higher",
    "mse": "lower", "mape": "lower", "r2": "higher", "residual_p99.9": None,
    "residual_p00.1": None,
}
NOT_BUILT_IN = ["my_score", "fp", "tp", "auc@0.5", "precision@high", "precision@0.50",
                "precision@1.5", "log_loss_macro", "top_0_accuracy", "top_k_accuracy",
                "residual_p5", "residual_p101", "precision/", ""]


@pytest.mark.parametrize("name,direction", sorted(HAND_TABLE.items()))
def test_metric_direction_agrees_with_a_hand_written_table(name, direction):
    assert metric_info(name) == (True, direction)
    assert metric_direction(name) == direction


@pytest.mark.parametrize("name", NOT_BUILT_IN)
def test_names_no_family_produces_are_not_built_in(name):
    assert metric_info(name) == (False, None)


def test_headline_metrics_are_produced_by_their_task_with_default_options():
    for task, names in HEADLINE_METRICS.items():
        options = ((3,), ("a", "b", "c", "d")) if task == "multiclass" else ()
        produced = task_directions(task, *options)
        assert set(names) <= set(produced), task
        assert len(set(names)) == len(names), task      # the CLI once named accuracy twice
    assert headline_metrics(None) == () and headline_metrics("binary")[0] == "auc"


# ------------------------------------------------------------------------------------------
# Custom metrics declare their directions


class Latency(Metric):
    name = "latency"
    directions = {"latency_ms": "lower", "latency_count": None}

    def create(self):
        return 0.0

    def add(self, acc, batch):
        return acc

    def merge(self, accs):
        return sum(accs)

    def result(self, acc):
        return {"latency_ms": acc, "latency_count": 0.0}


def test_a_declared_direction_replaces_direction_in_the_threshold():
    raw = {"thresholds": [{"metric": "latency_ms", "max_regression": 5}]}
    with pytest.raises(ConfigError, match=r"latency_ms is not a built-in metric"):
        ValidationConfig.parse(raw)                          # no custom metric in the config
    parsed = ValidationConfig.parse(raw, undeclared_ok=True)  # the config names custom metrics
    assert parsed.thresholds[0].direction is None
    t, = with_declared_directions(parsed.thresholds, declared_directions([Latency()]))
    assert t.direction == "lower"
    records = [{"slice": {}, "model": "candidate", "metrics": {"latency_ms": 112.0}},
               {"slice": {}, "model": "baseline", "metrics": {"latency_ms": 100.0}}]
    verdict = validate(records, (t,), ValidationOptions(), has_baseline=True)
    assert verdict.reasons == ["latency_ms rose by 12 against the baseline (100 -> 112), more "
                               "than the 5 allowed"]


def test_an_undeclared_direction_is_still_required():
    parsed = ValidationConfig.parse({"thresholds": [
        {"metric": "latency_count", "max_regression": 1}]}, undeclared_ok=True)
    with pytest.raises(ConfigError, match=r"thresholds\[0\] \(latency_count\): a max_regression "
                                          r"on latency_count needs 'direction: higher'"):
        with_declared_directions(parsed.thresholds, declared_directions([Latency()]))
    with pytest.raises(ConfigError, match=r"needs 'direction: higher' or 'direction: lower'"):
        validate([], parsed.thresholds, None, has_baseline=True)


def test_a_direction_that_contradicts_the_declaration_is_refused():
    ts = parse_thresholds([{"metric": "latency_ms", "max_regression": 5, "direction": "higher"}])
    with pytest.raises(ConfigError, match=r"'direction' is 'higher' but the custom metric "
                                          r"declares 'lower'"):
        with_declared_directions(ts, declared_directions([Latency()]))


@pytest.mark.parametrize("directions,message", [
    (["latency_ms"], r"must be a mapping of metric name"),
    ({"latency_ms": "down"}, r"'the 'directions' of custom metric 'bad'\['latency_ms'\]' must be "
                             r"one of higher, lower \(got 'down'\)"),
])
def test_malformed_declarations_are_config_errors(directions, message):
    bad = Latency()
    bad.name, bad.directions = "bad", directions
    with pytest.raises(ConfigError, match=message):
        declared_directions([bad])


class MaxAbsError(Metric):
    """Importable as test_directions:MaxAbsError; declares that a lower max_abs_error is better."""

    name = "max_abs_error"
    directions = {"max_abs_error": "lower"}

    def create(self):
        return []

    def add(self, acc, batch):
        return acc + np.abs(batch.predictions - batch.labels).tolist()

    def merge(self, accs):
        return [e for acc in accs for e in acc]

    def result(self, acc):
        return {"max_abs_error": max(acc, default=float("nan"))}


def test_evaluate_uses_the_direction_a_custom_metric_declares(tmp_path):
    import assay

    data = tmp_path / "data.csv"
    data.write_text("y,p,q\n0,0.1,0.5\n1,0.8,0.9\n0,0.3,0.2\n1,0.6,0.95\n")
    config = {"label": "y", "models": {"candidate": {"prediction": "q"},
                                       "baseline": {"prediction": "p"}},
              "custom_metrics": ["test_directions:MaxAbsError"],
              "thresholds": [{"metric": "max_abs_error", "max_regression": 0.05}]}
    result = assay.evaluate(config, str(data), str(tmp_path / "out"), write_report=False,
                            engine="local", workers=1, allow_custom_code=["test_directions"])
    # candidate 0.5 vs baseline 0.4: a rise, and lower is better, so it fails.
    assert result.validation["reasons"] == [
        "max_abs_error rose by 0.1 against the baseline (0.4 -> 0.5), more than the 0.05 allowed"]
    written = json.loads((tmp_path / "out" / "config.json").read_text())
    assert written["thresholds"] == config["thresholds"]          # written as given


def test_the_registry_and_the_config_import_no_numpy():
    assert loaded_modules(
        "import assay.metrics.registry, assay.config.schema, assay.config.validation",
        ("numpy", "pyarrow")) == []
