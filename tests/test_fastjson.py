"""orjson writes and reads the results' JSON where installed (assay.fastjson): the same values
as json's path, bit for bit, for every document of a real evaluation and for the edge values
(numpy scalars and arrays, non-finite numbers, sets, integers past 64 bits, number keys), and
json's errors for bad documents."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assay import api
from assay import fastjson
from assay.results.result import dumps

from test_strict_json import BINARY_CONFIG, _json_texts, binary_table, strict_loads


def _same(a, b, where="$"):
    """a and b are the same JSON values, floats compared bit for bit (so -0.0 is not 0.0)."""
    assert type(a) is type(b), f"{where}: {a!r} against {b!r}"
    if isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} against {list(b)}"
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), f"{where}: {len(a)} items against {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, float):
        assert a.hex() == b.hex(), f"{where}: {a!r} against {b!r}"
    else:
        assert a == b, f"{where}: {a!r} against {b!r}"


def test_the_full_install_writes_with_orjson():
    # The suite runs with every extra (Python 3.10): the fast path is the one under test.
    assert fastjson.fast_encoder() is not None


EDGES = {
    "records": [
        {"f64": np.float64(0.1), "f32": np.float32(0.1), "i64": np.int64(-7),
         "u8": np.uint8(255), "flag": np.bool_(True), "arr": np.array([0.5, np.nan, np.inf]),
         "arr32": np.array([[0.1, -0.0]], np.float32), "nan": float("nan"),
         "ninf": -math.inf, "tiny": 5e-324, "big": 1.7976931348623157e308, "neg0": -0.0,
         "small": 9.711566475672526e-05, "set": {3}, "tuple": (1, "a"),
         "text": "é</script>\u2028", "none": None},
        {1: "number key", 1e-05: "float key",
         "nested": {"x": [np.float32(np.nan), 1e16, 123456789.125]}},
        {"nested": {"x": [np.float32(np.nan), 1e16, 123456789.125, np.float16(0.1)]}},
        {"wide": 2 ** 70, "f32": np.float32(0.1)},  # orjson refuses the record: json writes it
    ],
    "version": 2,
}


def test_edge_values_write_the_same_as_json(monkeypatch):
    fast = dumps(EDGES)
    # The first record went through orjson (the others, with a number key or 2**70, json).
    assert fastjson.compact(EDGES["records"][0], lambda v: "json") != "json"
    assert fastjson.compact(EDGES["records"][2], lambda v: "json") != "json"
    assert fastjson.compact(EDGES["records"][1], lambda v: "json") == "json"
    assert '"1e-05":"float key"' in fast
    monkeypatch.setattr(fastjson, "_orjson", None)
    slow = dumps(EDGES)
    _same(strict_loads(fast), strict_loads(slow))
    assert strict_loads(slow)["records"][0]["f32"] == 0.10000000149011612
    # One record a line either way.
    assert fast.count("\n") == slow.count("\n")


def test_a_value_orjson_refuses_is_written_by_json():
    # 2**70 and a tuple key: orjson cannot write them; json's path writes (or refuses) them.
    text = fastjson.compact({"n": 2 ** 70}, lambda v: json.dumps(v, separators=(",", ":")))
    assert json.loads(text) == {"n": 2 ** 70}
    with pytest.raises(TypeError, match="keys must be"):
        fastjson.compact({(1, 2): 0}, lambda v: json.dumps(v))
    with pytest.raises(TypeError, match=r"cannot write <object object at .*> \(object\) as JSON"):
        dumps({"records": [{"x": object()}]})


def test_the_report_data_take_numpy_values_either_way(monkeypatch):
    from assay.report.html import _json_for_script

    data = {"v": np.float32(0.1), "a": np.array([1, 2], np.int64), "s": {"x"}, "t": "</b>"}
    fast = _json_for_script(data)
    monkeypatch.setattr(fastjson, "_orjson", None)
    slow = _json_for_script(data)
    _same(json.loads(fast), json.loads(slow))
    assert json.loads(slow) == {"v": 0.10000000149011612, "a": [1, 2], "s": ["x"], "t": "</b>"}
    assert "<" not in fast and "<" not in slow


def test_an_evaluation_writes_the_same_documents_either_way(tmp_path, monkeypatch):
    """Every JSON document of an evaluation with a baseline, undefined metrics and fractional
    weights (assay_metrics.json, assay_plots.json, the sketches, validation.json, the report's
    data): the same values with orjson as with json."""
    data = binary_table()
    pq.write_table(pa.table(data), str(tmp_path / "b.parquet"))
    api.evaluate(BINARY_CONFIG, str(tmp_path / "b.parquet"), str(tmp_path / "fast"),
                 engine="local", workers=1)
    monkeypatch.setattr(fastjson, "_orjson", None)
    api.evaluate(BINARY_CONFIG, str(tmp_path / "b.parquet"), str(tmp_path / "slow"),
                 engine="local", workers=1)
    fast, slow = _json_texts(str(tmp_path / "fast")), _json_texts(str(tmp_path / "slow"))
    assert set(fast) == set(slow)
    assert {"assay_metrics.json", "assay_plots.json", "report.html#0"} <= set(fast)
    for name in fast:
        doc = strict_loads(fast[name])
        if name == "report.html#0":  # where the output was written: the run's directory
            doc["result"].pop("path", None)
            other = strict_loads(slow[name])
            other["result"].pop("path", None)
        else:
            other = strict_loads(slow[name])
        _same(doc, other, name)
    plots = strict_loads(fast["assay_plots.json"])["records"]
    assert any(isinstance(v, float) for r in plots for v in
               r["plots"].get("roc_curve", {}).get("fpr", [])), "no curve was compared"
    assert os.path.getsize(tmp_path / "fast" / "assay_plots.json") > 1000


# ---- reading -----------------------------------------------------------------------------------

READ_EDGES = [
    '{"a": 9223372036854775807, "b": -9223372036854775808, "c": 18446744073709551615}',
    "18446744073709551616", "-9223372036854775809", "123456789012345678901234567890",
    '[1, 123456789012345678901]', '{"n":-98765432109876543210}', ' \n\t12345678901234567890',
    '{"tiny": 5e-324, "f": 0.00009183111238087463, "g": 1.2345678901234567e+19, "h": 1e16}',
    '[NaN, Infinity, -Infinity]', '"\\ud800"', "1e400", '{"a": 1, "a": 2}', "-0", "-0.0",
    '{"x": "12345678901234567890", "y": "\\u00e9\\u2028", "z": null, "t": true}',
    "[0.1e1, 1E5, 2.2250738585072011e-308, 1.7976931348623157e308]",
]


@pytest.mark.parametrize("text", READ_EDGES)
def test_reading_gives_json_values(text):
    for data in (text, text.encode("utf-8")):
        _same(fastjson.loads(data), json.loads(text), repr(text))


def test_integers_past_64_bits_are_read_by_json():
    # orjson reads 18446744073709551616 as 1.8446744073709552e+19: the guard sends it to json.
    assert fastjson._long_integer(b"[1, 18446744073709551616]")
    assert fastjson._long_integer(b"-9223372036854775809")
    assert fastjson.loads(b"[1, 18446744073709551616]") == [1, 2 ** 64]
    assert not fastjson._long_integer(b"[0.00009183111238087463, 1.2345678901234567e+19]")
    assert not fastjson._long_integer(b'{"n": 922337203685477580}')  # 18 digits: orjson's


def test_floats_read_back_bit_for_bit():
    bits = np.random.default_rng(7).integers(0, 2 ** 64, 20_000, dtype=np.uint64)
    values = [v for v in bits.view(np.float64).tolist() if math.isfinite(v)]
    values += [5e-324, -0.0, 1e16, 1e-05, 2.0 ** 63, 0.1, 1 / 3]
    for text in (json.dumps(values), fastjson.fast_encoder().dumps(values).decode("ascii")):
        _same(fastjson.loads(text.encode("ascii")), values)


@pytest.mark.parametrize("text", ['{"a": 1,}', "", "\ufeff{}", '{"a": tru}', "[1] x"])
def test_bad_documents_raise_jsons_error(text):
    with pytest.raises(ValueError) as expected:
        json.loads(text)
    for data in (text, text.encode("utf-8")):
        with pytest.raises(type(expected.value)) as got:
            fastjson.loads(data)
        assert str(got.value) == str(expected.value)
    with pytest.raises(UnicodeDecodeError):  # not UTF-8, as before
        fastjson.loads(b'{"a": "\xff"}')


def test_an_evaluation_reads_back_the_same_either_way(tmp_path, monkeypatch):
    """Every JSON file of an evaluation, read with orjson (no long integer in them) and with
    json: the same values, bit for bit; load_result gives the same result both ways."""
    from assay.results.result import load_result

    data = binary_table()
    pq.write_table(pa.table(data), str(tmp_path / "b.parquet"))
    api.evaluate(BINARY_CONFIG, str(tmp_path / "b.parquet"), str(tmp_path / "out"),
                 engine="local", workers=1)
    names = [n for n in sorted(os.listdir(tmp_path / "out")) if n.endswith(".json")]
    assert {"assay_metrics.json", "assay_plots.json", "validation.json"} <= set(names)
    for name in names:
        raw = (tmp_path / "out" / name).read_bytes()
        assert not fastjson._long_integer(raw), name
        _same(fastjson.loads(raw), json.loads(raw.decode("utf-8")), name)
    fast = load_result(str(tmp_path / "out"))
    monkeypatch.setattr(fastjson, "_orjson", None)
    slow = load_result(str(tmp_path / "out"))
    _same(fast.records, slow.records)
    _same(fast.plot_records, slow.plot_records)
    _same(fast.sketches, slow.sketches)
