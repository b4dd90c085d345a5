"""The config's JSON Schema (`assay schema`): a valid draft 2020-12 schema, generated from the
config's dataclasses, that every config example of the README passes, as EvalConfig.from_dict
does; and that refuses what from_dict refuses for its form (unknown keys, wrong types)."""

import dataclasses
import os
import re

import jsonschema
import pytest
import yaml

from assay.config.jsonschema import config_schema
from assay.config.schema import EvalConfig
from assay.config.validation import VALIDATION_KEYS
from assay.errors import ConfigError

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")
BASE = {"label": "label", "models": {"candidate": {"prediction": "p"}}}


@pytest.fixture(scope="module")
def validator():
    schema = config_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def readme_configs():
    """(line, mapping) of every YAML block of the README that is a mapping: whole configs, and
    fragments (a section's keys), which are completed with BASE's label and models."""
    text = open(README, encoding="utf-8").read()
    found = []
    for m in re.finditer(r"```ya?ml\n(.*?)```", text, re.S):
        raw = yaml.safe_load(m.group(1))
        if isinstance(raw, dict):
            found.append((text[:m.start()].count("\n") + 1, raw))
    return found


def test_the_readme_has_config_examples():
    # A whole config, the models section, thresholds: the test below covers real examples.
    keys = set().union(*(raw for _, raw in readme_configs()))
    assert {"label", "models", "slices", "thresholds", "custom_metrics"} <= keys


@pytest.mark.parametrize("line, raw", readme_configs(), ids=lambda v: str(v)[:12])
def test_every_readme_config_validates_with_the_schema_and_from_dict(validator, line, raw):
    config = dict(BASE, **raw)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(config)]
    assert not errors, f"README line {line}: {errors}"
    EvalConfig.from_dict(config)  # raises ConfigError on a config assay refuses


def test_the_schema_has_one_property_per_config_field_and_validation_key():
    """Generated, not written twice: every EvalConfig field is a key (validation's are spread
    out as in the YAML form), and the keys of features that parse themselves
    (assay.config.features)."""
    from assay.config.features import FEATURES, schemas

    fields = {f.name for f in dataclasses.fields(EvalConfig)} - {"validation", "feature_configs"}
    assert set(schemas()) <= set(FEATURES)
    assert set(config_schema()["properties"]) == fields | set(VALIDATION_KEYS) | set(schemas())


@pytest.mark.parametrize("change, path", [
    ({"min_slice_sise": 3}, []),                                             # a typo
    ({"min_slice_size": "3"}, ["min_slice_size"]),                           # a string
    ({"task": "binari"}, ["task"]),
    ({"thresholds": [{"metric": "auc", "mni": 0.5}]}, ["thresholds"]),
    ({"models": {"candidate": {"prediction": "p", "transfrom": "sigmoid"}}}, ["models"]),
    ({"models": {"candidate": {"prediction": "p", "allow_pickle": True}}}, ["models"]),
    ({"models": {"baseline": {"prediction": "p"}}}, ["models"]),             # no candidate
    ({"slices": [3]}, ["slices", 0]),
    ({"decision_thresholds": "0.5"}, ["decision_thresholds"]),
])
def test_the_schema_refuses_what_from_dict_refuses(validator, change, path):
    config = dict(BASE, **change)
    errors = list(validator.iter_errors(config))
    assert errors and any(list(e.absolute_path)[:len(path)] == path for e in errors), errors
    with pytest.raises((ConfigError, TypeError)):
        EvalConfig.from_dict(config)


def test_loose_forms_from_dict_reads_are_in_the_schema(validator):
    config = dict(BASE, decision_thresholds=0.3, top_k=5, metrics="auc", weight=None,
                  models={"candidate": "model_dir", "baseline": None},
                  custom_metrics=["mypkg.m:C"], confidence=True, on_no_thresholds=None,
                  thresholds=[{"metric": "auc", "max_regression": {"relative": 0.1}},
                              {"metric": "my_score", "max": 1, "direction": "lower"}])
    assert not list(validator.iter_errors(config))
    EvalConfig.from_dict(config)


def test_the_published_schema_file_is_the_generated_one():
    """docs/config.schema.json is what `assay schema` prints (regenerate it with
    `assay schema -o docs/config.schema.json` after changing the config)."""
    import json

    path = os.path.join(os.path.dirname(README), "docs", "config.schema.json")
    assert json.load(open(path, encoding="utf-8")) == config_schema()
