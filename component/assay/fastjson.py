"""Compact strict JSON, written with orjson where it is installed (it comes with the beam and
tfx extras: apache-beam[gcp]), with json otherwise: the same values either way.

    text = compact({"fpr": [0.0, 0.25], "auc": float("nan")}, json_fallback)
    # '{"fpr":[0.0,0.25],"auc":null}'

The results' plot curves and the report's data are mostly floats, which json's encoder writes
through float.__repr__ one at a time: about 0.4 s for the 400 curves of a 200-slice evaluation
with a baseline, against 0.03 s with orjson (both write the shortest text that reads back as
the same float; only the form may differ, 9.7e-05 against 0.000097). Where orjson cannot write a
value (an integer past 64 bits, a key that is not a string: json writes 1e-05 where orjson
would write 0.00001), json does, so no document is refused that json accepts, and keys are
json's. numpy values become the Python values their `item()` / `tolist()` give, as on the json
path: a float32 0.1 is written 0.10000000149011612 by both.

Files are read back with orjson too (`loads`: a 4.6 MB plots file in about 0.05 s, the check
below included, against 0.16 s with json), to the same values as json's: where a document holds
an integer of 19 digits or more (past 64 bits, orjson would read it as a float) or anything
orjson refuses (NaN, a lone surrogate, 1e400), json reads it, and json's error is the one
raised.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Union

# orjson, imported on first use (not a core dependency: the core installs without it); None
# where it is not installed, False before the first look.
_orjson: Any = False


def fast_encoder() -> Any:
    """The orjson module, or None where it is not installed."""
    global _orjson
    if _orjson is False:
        try:
            import orjson
        except ImportError:  # the core install: json alone
            orjson = None
        _orjson = orjson
    return _orjson


def json_value(value: Any) -> Any:
    """The JSON-writable form of a value neither encoder writes itself (the `default` of both):
    a numpy array's tolist(), a numpy scalar's item(), a set's list; TypeError naming it else."""
    if getattr(value, "ndim", 0) and hasattr(value, "tolist"):  # a numpy array
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"cannot write {value!r} ({type(value).__name__}) as JSON")


def compact(value: Any, fallback: Callable[[Any], str]) -> str:
    """`value` as compact JSON with every non-finite number null; `fallback(value)` (json)
    where orjson is missing or cannot write it."""
    orjson = fast_encoder()
    if orjson is not None:
        try:
            return orjson.dumps(value, default=json_value).decode("utf-8")
        except TypeError:  # orjson.JSONEncodeError
            pass
    return fallback(value)


# An integer of 19 digits or more (the shortest orjson reads as a float is
# -9223372036854775809) is a run of 19 digits after neither a digit nor a point: a float's
# digits before its point are 17 at most (then an exponent), while after it orjson writes more
# (0.00009183111238087463). Found with bytes.translate and bytes.find, C loops (about 5 ms a MB,
# where a regular expression took 10-25 ms): digits to "d", the point kept, every other byte "x".
_CLASSES = bytes(ord("d") if chr(b).isdigit() and b < 128 else b if b == ord(".") else ord("x")
                 for b in range(256))
_LONG_INTEGER = b"x" + b"d" * 19


def _long_integer(raw: bytes) -> bool:
    """Whether the JSON text `raw` holds an integer of 19 digits or more (or looks to)."""
    return raw[:19].isdigit() or raw.translate(_CLASSES).find(_LONG_INTEGER) >= 0


def loads(data: Union[bytes, str]) -> Any:
    """The JSON document in `data` (UTF-8 bytes, or text), as json.loads reads it."""
    orjson = fast_encoder()
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if orjson is not None and not _long_integer(raw):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:  # json's reading (or its error), below
            pass
    return json.loads(data if isinstance(data, str) else data.decode("utf-8"))


__all__ = ["compact", "fast_encoder", "json_value", "loads"]
