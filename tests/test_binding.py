"""Model binding: one rule (assay.config.binding), the same bound specs from all three entry
points: `assay.evaluate(model=, baseline=)`, the TFX executor's `resolve_config` and the KFP
executor's `_config`."""

import json
import logging

import pytest
import yaml

import assay.api
from assay.config.binding import bind_models
from assay.config.models import ModelSpec
from assay.config.schema import ConfigError, EvalConfig

M, B = "/models/7", "/models/6"

# (config models, model path, baseline path, the expected bound specs by name). Each case is one
# part of the rule in assay.config.binding's docstring.
CASES = {
    "a given path replaces the config's and keeps the other keys": (
        {"candidate": {"path": "/old", "signature": "serving_features", "output": "probs",
                       "features": ["a", "b"], "transform": "sigmoid"}}, M, None,
        {"candidate": ModelSpec(path=M, signature="serving_features", output="probs",
                                features=("a", "b"), transform="sigmoid")}),
    "a prediction column wins over a given path": (
        {"candidate": {"prediction": "p", "transform": "sigmoid"},
         "baseline": {"prediction": ["q0", "q1"]}}, M, B,
        {"candidate": ModelSpec(prediction="p", transform="sigmoid"),
         "baseline": ModelSpec(prediction=("q0", "q1"))}),
    "a spec without path or prediction gets the path; a new baseline copies the candidate": (
        {"candidate": {"output": "probabilities", "batch_size": 64}}, M, B,
        {"candidate": ModelSpec(path=M, output="probabilities", batch_size=64),
         "baseline": ModelSpec(path=B, output="probabilities", batch_size=64)}),
    "a baseline path replaces the baseline's own path, keeping its keys": (
        {"candidate": {"path": "/c"}, "baseline": {"path": "/old", "signature": "s"}}, None, B,
        {"candidate": ModelSpec(path="/c"), "baseline": ModelSpec(path=B, signature="s")}),
    "a baseline template without a baseline path is dropped (a first model)": (
        {"candidate": {"output": "probabilities"}, "baseline": {"output": "probabilities"}},
        M, None, {"candidate": ModelSpec(path=M, output="probabilities")}),
    "no models section: the given paths become the models": (
        None, M, B, {"candidate": ModelSpec(path=M), "baseline": ModelSpec(path=B)}),
    "a config path is kept when no path is given": (
        {"candidate": "/fixed"}, None, None, {"candidate": ModelSpec(path="/fixed")}),
}


def _raw(models):
    raw = {"label": "y", "slices": [["hour"]]}
    if models is not None:
        raw["models"] = models
    return raw


class _Bound(Exception):
    """Raised by the fake make_plan to stop assay.evaluate with the config it was given."""


def _via_api(raw, model, baseline, monkeypatch, tmp_path):
    def stop(cfg, examples):
        raise _Bound(cfg)

    monkeypatch.setattr(assay.api, "make_plan", stop)
    with pytest.raises(_Bound) as bound:
        assay.evaluate(raw, examples="unused.csv", output=str(tmp_path / "out"), model=model,
                       baseline=baseline)
    return bound.value.args[0]


def _via_tfx(raw, model, baseline, monkeypatch, tmp_path):
    import tfx.types  # noqa: F401
    from assay.tfx import executor

    return EvalConfig.from_dict(executor.resolve_config(json.dumps(raw), None, model, baseline))


def _via_kfp(raw, model, baseline, monkeypatch, tmp_path):
    from assay.kfp import executor

    task = executor.ExecutorInput(inputs={}, parameters={"config": yaml.safe_dump(raw)},
                                  outputs={}, parameter_files={}, output_file="")
    return EvalConfig.from_dict(executor._config(task, model, baseline))


ENTRY_POINTS = {"api": _via_api, "tfx": _via_tfx, "kfp": _via_kfp}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_entry_point_binds_models_by_the_one_rule(case, entry, monkeypatch, tmp_path):
    models, model, baseline, expected = CASES[case]
    cfg = ENTRY_POINTS[entry](_raw(models), model, baseline, monkeypatch, tmp_path)
    assert cfg.model_specs == expected


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_a_candidate_without_path_prediction_or_model_is_refused(entry, monkeypatch, tmp_path):
    raw = _raw({"candidate": {"output": "probabilities"}})
    with pytest.raises(ConfigError, match=r"models.candidate reads no prediction column, so it "
                                          r"needs the 'model' input .* or --model"):
        ENTRY_POINTS[entry](raw, None, None, monkeypatch, tmp_path)


def test_a_path_not_run_for_a_prediction_column_is_said(caplog):
    with caplog.at_level(logging.WARNING, logger="assay.config.binding"):
        bound = bind_models(_raw({"candidate": {"prediction": "p"}}), model=M)
    assert bound["models"] == {"candidate": {"prediction": "p"}}
    assert f"models.candidate reads predictions from the column 'p'; the model given for it " \
           f"({M}) is not run" in caplog.text


def test_binding_leaves_its_input_alone_and_is_idempotent():
    raw = _raw({"candidate": {"output": "o"}, "baseline": "/b0"})
    before = json.dumps(raw, sort_keys=True)
    once = bind_models(raw, M, B)
    assert json.dumps(raw, sort_keys=True) == before
    assert bind_models(once, M, B) == once
    assert once["models"] == {"candidate": {"output": "o", "path": M}, "baseline": {"path": B}}


def test_api_binds_the_same_way_from_an_eval_config_and_a_file(monkeypatch, tmp_path):
    raw = _raw({"candidate": {"path": "/old", "output": "probs"}})
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    expected = {"candidate": ModelSpec(path=M, output="probs"),
                "baseline": ModelSpec(path=B, output="probs")}
    for config in (EvalConfig.from_dict(raw), str(path)):
        assert _via_api(config, M, B, monkeypatch, tmp_path).model_specs == expected


def test_a_binding_error_in_a_file_names_the_file(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text("label: y\nmodels: {candidate: {output: probabilities}}\n")
    with pytest.raises(ConfigError, match=r"pipeline.yaml: models.candidate reads no prediction"):
        assay.api.load_config(str(path))
