"""EvalConfig: the documented YAML form parses, round-trips, and bad configs get clear errors."""

import textwrap

import pytest

from assay.config.schema import EvalConfig
from assay.config.slices import SliceColumn, SliceSpec, parse_slice_spec
from assay.errors import ConfigError, ConfigTypeError
from fresh import loaded_modules

ISSUE_EXAMPLE = """
label: label
weight: weight                      # optional
models:
  candidate: {path: serving_model_dir}        # or {prediction: pred_column}
  baseline: {prediction: old_prediction}      # optional
slices:
  - []                              # overall; always computed even if not listed
  - [hour]
  - [hour, day]
  - {day: 3}
  - {feature: miles, boundaries: [0, 1, 5, 10]}
metrics: [auc, accuracy, log_loss]  # optional; defaults per task
min_slice_size: 30
"""


def _base(**extra):
    raw = {"label": "label", "models": {"candidate": {"prediction": "p"}}}
    raw.update(extra)
    return raw


def test_documented_example_parses(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(ISSUE_EXAMPLE)
    cfg = EvalConfig.from_file(str(path))
    assert cfg.label == "label" and cfg.weight == "weight"
    assert cfg.model_specs["candidate"].path == "serving_model_dir"
    assert cfg.model_specs["baseline"].prediction == "old_prediction"
    assert cfg.slices == (
        SliceSpec(),
        SliceSpec(columns=(SliceColumn("hour"),)),
        SliceSpec(columns=(SliceColumn("hour"), SliceColumn("day"))),
        SliceSpec(values=(("day", 3),)),
        SliceSpec(columns=(SliceColumn("miles", boundaries=(0.0, 1.0, 5.0, 10.0)),)),
    )
    assert cfg.metrics == ("auc", "accuracy", "log_loss")
    assert cfg.min_slice_size == 30


def test_overall_always_first_and_not_repeated():
    cfg = EvalConfig.from_dict(_base(slices=[["hour"], []]))
    assert cfg.slices[0].is_overall and len(cfg.slices) == 2


def test_round_trip_through_dict_and_json(tmp_path):
    cfg = EvalConfig.from_dict(_base(
        weight="w", slices=[["a", {"feature": "m", "quantiles": 4}],
                            {"keys": ["b"], "values": {"c": "x"}}, {"d": 1}],
        decision_thresholds=[0.3, 0.5], exact=True, min_slice_size=5,
        models={"candidate": {"path": "m", "signature": "s", "features": ["a", "b"]},
                "baseline": {"prediction": ["p0", "p1"]}}))
    again = EvalConfig.from_dict(cfg.to_dict())
    assert again == cfg
    path = tmp_path / "c.json"
    path.write_text(cfg.to_json())
    assert EvalConfig.from_file(str(path)) == cfg


def test_general_slice_form_combines_keys_and_values():
    spec = parse_slice_spec({"keys": ["hour", {"feature": "miles", "quantiles": 3}],
                             "values": {"day": 3}})
    assert spec.values == (("day", 3),)
    assert spec.columns == (SliceColumn("hour"), SliceColumn("miles", quantiles=3))
    assert spec.features == ("day", "hour", "miles")


@pytest.mark.parametrize("raw, error, match", [
    ({"lable": "x"}, ConfigError, r"unknown key 'lable' in the config; did you mean 'label'\?"),
    ({"slices": [["hour"]], "min_slice_sise": 3}, ConfigError,
     r"unknown key 'min_slice_sise'.*did you mean 'min_slice_size'"),
    ({"models": {"candidate": {"predicton": "p"}}}, ConfigError,
     r"unknown key 'predicton' in models.candidate; did you mean 'prediction'"),
    ({"models": {"canddate": {"prediction": "p"}}}, ConfigError,
     r"unknown key 'canddate' in models; did you mean 'candidate'"),
    ({"models": {"candidate": {"prediction": "p", "path": "m"}}}, ConfigError,
     r"exactly one of 'path'.*or 'prediction'"),
    ({"models": {"baseline": {"prediction": "p"}}}, ConfigError, r"needs a 'candidate'"),
    ({"slices": [{}]}, ConfigError, r"slices\[0\] is an empty mapping"),
    ({"slices": [None]}, ConfigError, r"slices\[0\] is empty"),
    ({"slices": [{"feature": "m"}]}, ConfigError, r"exactly one of 'boundaries'"),
    ({"slices": [{"feature": "m", "boundaries": [2, 1]}]}, ConfigError, r"strictly increasing"),
    ({"slices": [{"feature": "m", "quantiles": 1}]}, ConfigError, r"at least 2"),
    ({"slices": [["a", "a"]]}, ConfigError, r"names feature 'a' twice"),
    ({"slices": [[3]]}, ConfigTypeError, r"slices\[0\]\[0\] must be a feature name"),
    ({"min_slice_size": "30"}, ConfigTypeError,
     r"'min_slice_size' must be an integer \(got '30', a str\)"),
    ({"min_slice_size": 0}, ConfigError, r"'min_slice_size' must be at least 1"),
    ({"decision_thresholds": [1.5]}, ConfigError, r"must lie in \[0, 1\] \(got 1.5\)"),
    ({"task": "classification"}, ConfigError, r"'task' must be one of binary, multiclass"),
    ({"exact": "yes"}, ConfigTypeError, r"'exact' must be true or false"),
    ({"label_vocabulary": ["a"]}, ConfigError, r"at least two distinct"),
    ({"models": {"candidate": {"path": "m", "transform": "tanh"}}}, ConfigError,
     r"'models.candidate.transform' must be one of none, sigmoid, softmax \(got 'tanh'\)"),
])
def test_bad_configs_name_the_problem(raw, error, match):
    full = _base()
    full.update(raw)
    if "lable" in raw:
        del full["label"]
    with pytest.raises(error, match=match):
        EvalConfig.from_dict(full)


def test_missing_label_and_models():
    # No label is a label-free evaluation (tests/test_label_free.py), not an error.
    assert EvalConfig.from_dict({"models": {"candidate": {"prediction": "p"}}}).label is None
    with pytest.raises(ConfigError, match="needs 'models'"):
        EvalConfig.from_dict({"label": "y"})


def test_file_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("label: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml is not valid YAML"):
        EvalConfig.from_file(str(path))
    path.write_text(textwrap.dedent("""
        label: y
        models: {candidate: {prediction: p}}
        slicez: [[a]]
    """))
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown key 'slicez'.*'slices'"):
        EvalConfig.from_file(str(path))


# ---------------------------------------------------------------------------------------------
# Typed, immutable config all the way down


def test_model_spec_keeps_a_tuple_prediction_and_is_hashable():
    from assay.config.models import ModelSpec, parse_model

    spec = parse_model("candidate", {"prediction": ("p_no", "p_yes"), "features": ["a"]})
    assert spec.prediction == ("p_no", "p_yes") and spec.features == ("a",)
    assert ModelSpec(prediction=["p_no", "p_yes"]) == ModelSpec(prediction=("p_no", "p_yes"))
    assert len({spec, parse_model("candidate", {"prediction": ["p_no", "p_yes"],
                                                "features": ("a",)})}) == 1
    cfg = EvalConfig.from_dict(_base(models={"candidate": {"prediction": ("p_no", "p_yes")}}))
    assert cfg.to_dict()["models"] == {"candidate": {"prediction": ["p_no", "p_yes"]}}
    assert EvalConfig.from_dict(cfg.to_dict()) == cfg


def test_a_config_is_hashable_and_equal_configs_hash_alike():
    raw = _base(slices=[["hour"], {"feature": "m", "boundaries": [0, 1]}, {"day": 3}],
                models={"candidate": {"path": "m", "features": ["a", "b"]},
                        "baseline": {"prediction": ["p0", "p1"]}},
                custom_metrics=[{"class": "pkg.mod:Max", "columns": ["a", "b"],
                                 "options": {"k": [1, 2]}}])
    cfg = EvalConfig.from_dict(raw)
    assert hash(cfg) == hash(EvalConfig.from_dict(raw))
    assert {cfg, EvalConfig.from_dict(raw)} == {cfg}
    # The custom metric's arguments are frozen inside, and given to the class as written.
    assert cfg.custom_metrics[0].kwargs == {"columns": ["a", "b"], "options": {"k": [1, 2]}}
    assert EvalConfig.from_dict(cfg.to_dict()) == cfg


def test_a_config_built_directly_with_lists_is_stored_with_tuples():
    from assay.config.models import ModelSpec

    cfg = EvalConfig(label="y", models=[("candidate", ModelSpec(prediction="p"))],
                     decision_thresholds=[0.3, 0.5], slices=[SliceSpec()])
    assert cfg.decision_thresholds == (0.3, 0.5) and isinstance(cfg.models, tuple)
    hash(cfg)


@pytest.mark.parametrize("raw, match", [
    ({"models": {"candidate": {"prediction": 3}}},
     r"'models.candidate.prediction' must be a list of column names \(got 3, a int\)"),
    ({"slices": [{"feature": "m", "boundaries": [0, "1"]}]},
     r"'slices\[0\].boundaries\[\]' must be a number \(got '1', a str\)"),
    ({"slices": [{"day": [3]}]}, r"'slices\[0\].day' must be a string, number or boolean"),
    ({"slices": "hour"}, r"'slices' must be a list of slicing specs \(got 'hour', a str\)"),
    ({"slices": [7]}, r"slices\[0\] must be a list of features, a mapping or a bucketing"),
    ({"top_k": [2.5]}, r"'top_k\[\]' must be an integer \(got 2.5, a float\)"),
    ({"models": {"candidate": {"path": "m", "batch_size": "8"}}},
     r"'models.candidate.batch_size' must be an int \(got '8', a str\)"),
])
def test_wrong_types_are_config_type_errors(raw, match):
    with pytest.raises(ConfigTypeError, match=match):
        EvalConfig.from_dict(_base(**raw))


def test_one_number_checker_takes_numpy_numbers_and_refuses_nan():
    import numpy as np
    spec = parse_slice_spec({"feature": "m", "boundaries": [np.float32(0.5), np.int64(2)]})
    assert spec.columns[0].boundaries == (0.5, 2.0)
    with pytest.raises(ConfigError, match=r"'slices\[0\].boundaries\[\]' must be a finite number"):
        parse_slice_spec({"feature": "m", "boundaries": [0, float("inf")]})
    # A slice value is canonical (results.slices): 3.0 names slice 3, NaN names none.
    assert parse_slice_spec({"day": 3.0}) == parse_slice_spec({"day": 3})
    with pytest.raises(ConfigError, match=r"'slices\[0\].day' must be a finite number"):
        parse_slice_spec({"day": float("nan")})


def test_the_overall_slice_has_the_one_name():
    from assay.results.slices import OVERALL, slice_label

    assert SliceSpec().name == OVERALL == slice_label({})


def test_every_config_loader_reads_yaml_the_same_way(tmp_path):
    """One loader (assay.config.values.load_mapping) behind from_file and the adapters."""
    from assay.config.parse import read_config_file

    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    match = r"list.yaml must be a YAML/JSON mapping \(got list"
    with pytest.raises(ConfigError, match=match):
        EvalConfig.from_file(str(path))
    with pytest.raises(ConfigError, match=match):
        read_config_file(str(path))
    path.write_text("")
    with pytest.raises(ConfigError, match=r"config file .*list.yaml is empty"):
        EvalConfig.from_file(str(path))


def test_config_package_exports_cheaply():
    assert loaded_modules(
        "import assay.config as c; c.EvalConfig, c.ModelSpec, c.SliceSpec, c.bind_models, "
        "c.ConfigError",
        ("tensorflow", "apache_beam", "ml_metadata", "tfx", "kfp", "yaml", "assay.models")) == []


def test_allow_pickle_is_the_callers_opt_in_never_config():
    """A config cannot allow pickles (README Security); the caller's opt-in is never written."""
    from assay.api import apply_overrides
    from assay.config.binding import bound_config
    from assay.config.models import ModelSpec

    for value in (True, False, "yes"):
        with pytest.raises(ConfigError, match=r"models.baseline.allow_pickle cannot be set in a "
                                              r"config: .* pass --allow-pickle \(CLI\)"):
            EvalConfig.from_dict({"label": "y", "models": {
                "candidate": {"prediction": "p"},
                "baseline": {"path": "m.joblib", "allow_pickle": value}}})
    cfg = apply_overrides({"label": "y", "models": {"candidate": {"path": "m.joblib"}}},
                          baseline="old.joblib", allow_pickle=True)
    assert [s.allow_pickle for _, s in cfg.models] == [True, True]
    assert cfg.to_dict()["models"] == {"candidate": {"path": "m.joblib"},
                                       "baseline": {"path": "old.joblib"}}
    # A spec built in Python keeps its opt-in when a path is bound to it, and a baseline run
    # like the candidate inherits it.
    built = EvalConfig(label="y", models=(("candidate", ModelSpec(path="a", allow_pickle=True)),))
    bound = bound_config(built, model="b.joblib", baseline="c.joblib")
    assert [(n, s.path, s.allow_pickle) for n, s in bound.models] == [
        ("candidate", "b.joblib", True), ("baseline", "c.joblib", True)]


# ---- issue 14: every problem at once; what thresholds name, checked when the config is read --


def test_every_config_problem_is_reported_at_once_each_with_its_place():
    raw = _base(min_slice_sise=3, min_slice_size="x", slices=[["hour"], 3], task="binari",
                thresholds=[{"metric": "auc", "mni": 0.5}, {"metric": "auc", "min": "0.7"},
                            {"metric": "auc", "min": 0.5}],
                first_model="maybe")
    with pytest.raises(ConfigError) as e:
        EvalConfig.from_dict(raw)
    message = str(e.value)
    lines = message.splitlines()
    assert lines[0] == "7 problems in the config:"
    expected = ["unknown key 'min_slice_sise' in the config; did you mean 'min_slice_size'?",
                "'task' must be one of binary, multiclass, regression, multilabel (got "
                "'binari'); did you mean 'binary'?",
                "'min_slice_size' must be an integer (got 'x', a str)",
                "slices[1] must be a list of features",
                "thresholds[0] (auc): unknown key 'mni' in this threshold; did you mean 'min'?",
                "thresholds[1] (auc): 'min' must be a number (got '0.7', a str)",
                "'first_model' must be one of bless, reject (got 'maybe')"]
    assert len(lines) == 1 + len(expected)
    for line, fragment in zip(lines[1:], expected):
        assert line.startswith("  - ") and fragment in line, (line, fragment)


def test_one_problem_keeps_its_own_message_and_type():
    with pytest.raises(ConfigTypeError, match=r"^thresholds\[2\] \(auc\): 'min' must be a "
                                              r"number \(got '0.7', a str\)$"):
        EvalConfig.from_dict(_base(thresholds=[{"metric": "auc", "min": 0.5},
                                               {"metric": "auc", "min": 0.6},
                                               {"metric": "auc", "min": "0.7"}]))


@pytest.mark.parametrize("extra, message", [
    ({"thresholds": [{"metric": "acu", "min": 0.5}]},
     r"thresholds\[0\] \(acu\): metric 'acu' is not a metric assay computes; nearest: auc"),
    ({"task": "binary", "thresholds": [{"metric": "rmse", "max": 1}]},
     r"thresholds\[0\] \(rmse\): metric 'rmse' is not computed for a binary task"),
    ({"metrics": ["auc"], "thresholds": [{"metric": "log_loss", "max": 1}]},
     r"metric 'log_loss' is left out by 'metrics:', which lists only auc; add log_loss"),
    ({"slices": [["hour"]], "thresholds": [{"metric": "auc", "min": 0.5,
                                             "slices": [{"houre": 3}]}]},
     r"slice houre=3: no slicing spec in 'slices' gives it \(slices: overall, hour\); add "
     r"\[houre\] to slices; nearest: hour"),
    ({"slices": [{"day": 3}], "thresholds": [{"metric": "auc", "min": 0.5,
                                              "slices": [{"day": 4}]}]},
     r"slice day=4: no slicing spec in 'slices' gives it"),
    ({"thresholds": [{"metric": "auc", "max_gap": {"across": ["region"], "value": 0.1}}]},
     r"max_gap.across \['region'\] is not among the slicing specs \(slices: overall\)"),
])
def test_thresholds_on_what_is_not_computed_fail_when_read(extra, message):
    with pytest.raises(ConfigError, match=message):
        EvalConfig.from_dict(_base(**extra))


def test_thresholds_on_what_is_computed_pass():
    cfg = EvalConfig.from_dict(_base(
        slices=[["hour"], {"day": 3}, ["hour", "day"], {"feature": "miles",
                                                         "boundaries": [1, 5]}],
        metrics=["auc", "recall"],
        thresholds=[{"metric": "auc", "min": 0.5, "slices": [{"hour": 3}, {"day": 3.0},
                                                             {"day": 3, "hour": 1}]},
                    {"metric": "recall", "slices": [["hour"], {"miles": "[1, 5)"}], "min": 0},
                    {"metric": "example_count", "min": 10},
                    {"metric": "auc", "max_gap": {"across": ["day", "hour"], "value": 0.2}}]))
    assert len(cfg.validation.thresholds) == 4


def test_custom_metric_names_wait_for_the_metrics_to_load():
    cfg = EvalConfig.from_dict(_base(custom_metrics=["mypkg.metrics:MaxError"],
                                     thresholds=[{"metric": "max_error", "max": 1,
                                                  "direction": "lower"}]))
    assert cfg.validation.thresholds[0].metric == "max_error"


@pytest.mark.parametrize("tfma, assay_name", [("AUC", "auc_tfma"), ("BinaryAccuracy", "accuracy"),
                                              ("MeanSquaredError", "mse"),
                                              ("ExampleCount", "example_count")])
def test_tfma_metric_spellings_are_aliases(tfma, assay_name):
    cfg = EvalConfig.from_dict(_base(metrics=[tfma], thresholds=[{"metric": tfma, "min": 0}]))
    assert cfg.validation.thresholds[0].metric == assay_name
    assert cfg.metrics == (assay_name,)
    assert EvalConfig.from_dict(cfg.to_dict()) == cfg


def test_an_assay_name_is_never_aliased():
    # `accuracy` is assay's own name (TFMA's Accuracy is an alias of it, not the reverse).
    cfg = EvalConfig.from_dict(_base(thresholds=[{"metric": "accuracy", "min": 0}]))
    assert cfg.validation.thresholds[0].metric == "accuracy"


def test_exponent_numbers_read_as_numbers_in_yaml_and_in_the_written_config(tmp_path):
    """PyYAML reads `1e-10` (YAML 1.1: no dot) as a string; assay reads it as JSON and YAML 1.2
    do, so the config.json that assay writes reads back as the same config."""
    from assay.api import load_config

    raw = {"label": "y", "models": {"candidate": {"prediction": "p"}},
           "thresholds": [{"metric": "auc", "max_regression": 1e-10, "min": 5E-1}]}
    cfg = EvalConfig.from_dict(raw)
    (tmp_path / "config.json").write_text(cfg.to_json())
    assert load_config(str(tmp_path / "config.json")) == cfg
    (tmp_path / "c.yaml").write_text("label: y\nmodels: {candidate: {prediction: p}}\n"
                                     "thresholds:\n  - {metric: auc, max_regression: 1e-10, "
                                     "min: 5E-1}\n")
    assert load_config(str(tmp_path / "c.yaml")) == cfg
