"""A feature whose extra is not installed says which extra to install (assay.extras), and
nothing is written.

Each test hides the optional package (its modules leave sys.modules for the test, and an import
finder refuses them as if they were not installed), so the same tests hold in the full
environment and in the core-only ones of tests/core/run.sh, where the packages are really absent.
"""

import struct
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

import assay
from assay.data.tfrecord import masked_crc
from assay.errors import ConfigError, exit_code
from assay.extras import MissingExtra, available, install_hint, require


class _NotInstalled:
    """A meta path finder that refuses some top-level packages, as if they were not installed."""

    def __init__(self, packages):
        self.packages = packages

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in self.packages:
            raise ModuleNotFoundError(f"No module named '{fullname}'", name=fullname)
        return None


def _hide(monkeypatch, *packages):
    for name in list(sys.modules):
        if name.split(".")[0] in packages:
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [_NotInstalled(packages)] + sys.meta_path)


@pytest.fixture
def parquet_case(tmp_path):
    rng = np.random.default_rng(3)
    n = 200
    pq.write_table(pa.table({"label": rng.integers(0, 2, n), "score": rng.random(n),
                             "miles": rng.random(n) * 10}), tmp_path / "eval.parquet")
    config = {"label": "label", "models": {"candidate": {"prediction": "score"}}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


def test_missing_extra_is_a_config_error_and_an_import_error(monkeypatch):
    _hide(monkeypatch, "tfx_bsl")
    with pytest.raises(MissingExtra, match=r"^quantiles needs tfx_bsl \(no module named "
                       r"'tfx_bsl(\.sketches)?'\): pip install 'assay\[tfrecord\]' \(on Python "
                       r"3\.10") as info:
        require("tfx_bsl.sketches", "tfrecord", "quantiles")
    assert isinstance(info.value, ConfigError) and isinstance(info.value, ImportError)
    assert exit_code(info.value) == 2
    assert install_hint("sklearn") == "pip install 'assay[sklearn]'"
    assert available("yaml") and not available("tfx_bsl.sketches")
    assert not available("assay_no_such_package.sub")


def _tfrecord(path, records):
    """TFRecord framing written here (length, masked CRCs), independent of assay's reader."""
    with open(path, "wb") as f:
        for data in records:
            length = struct.pack("<Q", len(data))
            f.write(length + struct.pack("<I", masked_crc(length)))
            f.write(data + struct.pack("<I", masked_crc(data)))


def test_tfrecord_without_tfx_bsl(monkeypatch, tmp_path, parquet_case):
    _tfrecord(tmp_path / "eval.tfrecord", [b"\n\x00"] * 3)       # three empty tf.Examples
    _hide(monkeypatch, "tfx_bsl")
    with pytest.raises(MissingExtra, match=r"reading TFRecord files of tf\.Examples needs "
                       r"tfx_bsl .*pip install 'assay\[tfrecord\]'"):
        assay.evaluate(str(parquet_case / "c.yaml"), examples=str(tmp_path / "eval.tfrecord"),
                       output=str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_beam_engine_without_beam(monkeypatch, parquet_case):
    _hide(monkeypatch, "apache_beam")
    with pytest.raises(MissingExtra, match=r"the Beam engine .*needs apache_beam .*"
                       r"pip install 'assay\[beam\]'"):
        assay.evaluate(str(parquet_case / "c.yaml"),
                       examples=str(parquet_case / "eval.parquet"),
                       output=str(parquet_case / "out"), engine="beam")
    assert not (parquet_case / "out").exists()


def test_remote_paths_without_beam(monkeypatch, parquet_case):
    _hide(monkeypatch, "apache_beam")
    with pytest.raises(MissingExtra, match=r"remote paths \(gs://, s3://, \.\.\.\) needs "
                       r"apache_beam .*'assay\[beam\]'"):
        assay.evaluate(str(parquet_case / "c.yaml"), examples="gs://a-bucket/eval.parquet",
                       output=str(parquet_case / "out"))


def test_quantile_slices_without_tfx_bsl(monkeypatch, parquet_case):
    config = yaml.safe_load((parquet_case / "c.yaml").read_text())
    config["slices"] = [{"feature": "miles", "quantiles": 4}]
    (parquet_case / "q.yaml").write_text(yaml.safe_dump(config))
    _hide(monkeypatch, "tfx_bsl")
    with pytest.raises(MissingExtra, match=r"quantile slices .*or give boundaries.* needs "
                       r"tfx_bsl .*'assay\[tfrecord\]'"):
        assay.evaluate(str(parquet_case / "q.yaml"),
                       examples=str(parquet_case / "eval.parquet"),
                       output=str(parquet_case / "out"))
    assert not (parquet_case / "out").exists()
    # Boundaries need nothing more.
    config["slices"] = [{"feature": "miles", "boundaries": [2.5, 5, 7.5]}]
    (parquet_case / "b.yaml").write_text(yaml.safe_dump(config))
    result = assay.evaluate(str(parquet_case / "b.yaml"),
                            examples=str(parquet_case / "eval.parquet"))
    table = pq.read_table(parquet_case / "eval.parquet")
    miles, label = table["miles"].to_numpy(), table["label"].to_numpy()
    counts = sorted(r["example_count"] for r in
                    (result.metrics(s) for s in result.slices()) if r)
    expected = sorted([len(label)] + [int(np.sum((miles >= lo) & (miles < hi))) for lo, hi in
                                      ((-np.inf, 2.5), (2.5, 5), (5, 7.5), (7.5, np.inf))])
    assert counts == expected


def test_saved_model_without_tensorflow(monkeypatch, tmp_path, parquet_case):
    model = tmp_path / "model"
    model.mkdir()
    (model / "saved_model.pb").write_bytes(b"")
    config = {"label": "label", "models": {"candidate": {"path": str(model)}}}
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(config))
    _hide(monkeypatch, "tensorflow")
    with pytest.raises(assay.AssayError, match=r"a TF SavedModel needs tensorflow .*"
                       r"pip install 'assay\[tensorflow\]'"):
        assay.evaluate(str(tmp_path / "m.yaml"), examples=str(parquet_case / "eval.parquet"),
                       output=str(tmp_path / "out"))


def test_cli_names_the_extra(parquet_case, tmp_path):
    """In a fresh interpreter with tfx_bsl hidden: one line on stderr, exit status 2."""
    _tfrecord(tmp_path / "eval.tfrecord", [b"\n\x00"] * 3)
    code = ("import sys; sys.modules['tfx_bsl'] = None\n"
            "from assay.cli import main\n"
            f"sys.exit(main(['evaluate', '--config', {str(parquet_case / 'c.yaml')!r}, "
            f"'--examples', {str(tmp_path / 'eval.tfrecord')!r}, "
            f"'--output', {str(tmp_path / 'out')!r}]))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "assay: error: reading TFRecord files of tf.Examples needs tfx_bsl" in proc.stderr
    assert "pip install 'assay[tfrecord]'" in proc.stderr


def test_ml_metadata_without_ml_metadata(monkeypatch):
    _hide(monkeypatch, "ml_metadata")
    monkeypatch.delitem(sys.modules, "assay.mlmd", raising=False)
    monkeypatch.delitem(sys.modules, "assay.mlmd.connection", raising=False)
    from assay import mlmd

    with pytest.raises(MissingExtra, match=r"ML Metadata \(--mlmd, assay\.mlmd\) needs "
                       r"ml_metadata .*pip install 'assay\[mlmd\]'"):
        mlmd.connect("sqlite:metadata.db")
    # Redacting a store URI (the CLI's messages and crash reports) needs no ml-metadata.
    assert mlmd.redact("mysql://ml:secret@db:3306/md") == "mysql://ml:***@db:3306/md"
