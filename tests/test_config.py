"""EvalConfig: the documented YAML form parses, round-trips, and bad configs get clear errors."""

import textwrap

import pytest

from assay.config.schema import ConfigError, EvalConfig, SliceColumn, SliceSpec, parse_slice_spec

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
    ({"slices": [[3]]}, TypeError, r"slices\[0\]\[0\] must be a feature name"),
    ({"min_slice_size": "30"}, TypeError, r"'min_slice_size' must be an integer \(got '30', a str\)"),
    ({"min_slice_size": 0}, ConfigError, r"'min_slice_size' must be at least 1"),
    ({"decision_thresholds": [1.5]}, ConfigError, r"must lie in \[0, 1\] \(got 1.5\)"),
    ({"task": "classification"}, ConfigError, r"'task' must be one of binary, multiclass"),
    ({"exact": "yes"}, TypeError, r"'exact' must be true or false"),
    ({"label_vocabulary": ["a"]}, ConfigError, r"at least two distinct"),
    ({"models": {"candidate": {"path": "m", "transform": "tanh"}}}, ConfigError,
     r"transform must be one of none, sigmoid, softmax"),
])
def test_bad_configs_name_the_problem(raw, error, match):
    full = _base()
    full.update(raw)
    if "lable" in raw:
        del full["label"]
    with pytest.raises(error, match=match):
        EvalConfig.from_dict(full)


def test_missing_label_and_models():
    with pytest.raises(ConfigError, match="needs 'label'"):
        EvalConfig.from_dict({"models": {"candidate": {"prediction": "p"}}})
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
