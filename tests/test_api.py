"""The public API of the package: `assay.validate` re-judges a stored evaluation; the names
the package exports."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import roc_auc_score

import assay


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """A binary evaluation of a prediction column on 400 random rows, blessed by auc >= 0."""
    d = tmp_path_factory.mktemp("api")
    rng = np.random.default_rng(7)
    label = rng.integers(0, 2, 400)
    score = np.clip(0.35 * label + rng.random(400) * 0.65, 0, 1)
    region = rng.choice(["north", "south"], 400)
    pq.write_table(pa.table({"label": label, "p": score, "region": region}), d / "data.parquet")
    config = {"label": "label", "models": {"candidate": {"prediction": "p"}},
              "slices": [[], ["region"]], "thresholds": [{"metric": "auc", "min": 0.0}]}
    assay.evaluate(config, str(d / "data.parquet"), str(d / "out"), write_report=False)
    return d / "out", config, label, score, region


def test_validate_with_the_evaluations_own_config_gives_its_verdict(evaluated):
    out, _, _, _, _ = evaluated
    verdict = assay.validate(str(out))
    written = json.loads((out / "validation.json").read_text())
    assert verdict.blessed is True and written["blessed"] is True
    assert verdict.to_dict() == written


def test_validate_with_stricter_thresholds_refuses_and_names_the_slice(evaluated):
    out, config, label, score, region = evaluated
    north = region == "north"
    auc_north = roc_auc_score(label[north], score[north])
    stricter = dict(config, thresholds=[
        {"metric": "auc", "slices": [{"region": "north"}], "min": round(auc_north + 0.01, 4)}])
    verdict = assay.validate(assay.load_result(str(out)), stricter)
    assert verdict.blessed is False
    assert len(verdict.reasons) == 1
    assert "auc on slice region=north" in verdict.reasons[0]
    assert f"{auc_north:.4f}"[:5] in verdict.reasons[0]
    # Nothing was written: the stored verdict is unchanged.
    assert json.loads((out / "validation.json").read_text())["blessed"] is True
    forced = assay.validate(str(out), stricter, force_bless="hotfix")
    assert forced.blessed is True


def test_validate_refuses_a_bad_threshold_as_a_config_error(evaluated):
    out, config, _, _, _ = evaluated
    with pytest.raises(assay.ConfigError, match="unknown key 'mni'"):
        assay.validate(str(out), dict(config, thresholds=[{"metric": "auc", "mni": 0.5}]))
    with pytest.raises(assay.ConfigError, match="holds no assay results"):
        assay.validate(str(out / "nope"))


def test_the_package_exports_its_api_lazily():
    for name in ("evaluate", "validate", "load_config", "load_result", "EvalConfig",
                 "EvalResult", "ValidationResult", "Metric", "ModelBatch", "AssayError",
                 "ConfigError", "DataError", "ModelError"):
        assert name in assay.__all__ and getattr(assay, name) is not None
    assert issubclass(assay.ModelError, assay.AssayError)
    with pytest.raises(AttributeError, match="no attribute 'evalute'"):
        assay.evalute  # noqa: B018
