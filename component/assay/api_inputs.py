"""In-memory inputs of `assay.evaluate`: examples as a DataFrame or Arrow data, models as objects.

    with memory_inputs(examples, {"candidate": clf}, engine) as inputs:
        ...make_plan(cfg, inputs.examples)...      # a Parquet file, read like any other

A pandas DataFrame, a pyarrow Table or a RecordBatch given as examples is written once to a
temporary Parquet file (the index too, when it is not a plain RangeIndex), in row groups of
PARQUET_PART_ROWS so the local engine splits it among its workers; the evaluation then reads it
as it reads any Parquet file, so column checks, slicing and errors are the same. Model objects
are held by `assay.models.memory` under a token that stands in for their path. Everything is
released when the block ends.

In-memory inputs run on the local engine only: Beam's workers are other processes (or other
machines) that can see neither this process's objects nor its temporary files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import sys
import tempfile
from typing import Any, Dict, Iterator, List, Mapping, Optional

from assay.errors import ConfigError, DataError
from assay.models import memory

EXAMPLES_FILE = "examples.parquet"


@dataclasses.dataclass
class Inputs:
    """What the evaluation reads: `examples` (paths), the model paths (tokens for objects)."""

    examples: Any
    models: Dict[str, Optional[str]]
    location: str            # the examples as TFMA's eval_config.json shows them
    in_memory: List[str]     # what was given in memory, for the engine's error message


def tabular_kind(examples: Any) -> Optional[str]:
    """"pandas DataFrame", "pyarrow Table" or "pyarrow RecordBatch"; None for anything else
    (pandas is not imported to find out)."""
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(examples, pandas.DataFrame):
        return "pandas DataFrame"
    import pyarrow as pa

    if isinstance(examples, pa.Table):
        return "pyarrow Table"
    if isinstance(examples, pa.RecordBatch):
        return "pyarrow RecordBatch"
    return None


def _arrow_table(examples: Any, kind: str):
    """The examples as a pyarrow Table; DataError naming the column that cannot convert."""
    import pyarrow as pa

    if kind == "pandas DataFrame":
        try:
            # preserve_index=None: a RangeIndex is dropped, a named or other index kept as columns
            return pa.Table.from_pandas(examples, preserve_index=None)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as e:
            raise DataError(f"the pandas DataFrame given as examples cannot be read as Arrow "
                            f"columns: {e}; give each column one type (e.g. "
                            f"df[COLUMN].astype(str))") from e
    if kind == "pyarrow RecordBatch":
        return pa.Table.from_batches([examples])
    return examples


def _write_examples(examples: Any, kind: str, directory: str) -> str:
    import pyarrow.parquet as pq

    from assay.engine.plan import PARQUET_PART_ROWS

    table = _arrow_table(examples, kind)
    if table.num_rows == 0:
        raise DataError(f"the {kind} given as examples has no rows (columns: "
                        f"{', '.join(table.column_names) or 'none'})")
    path = os.path.join(directory, EXAMPLES_FILE)
    pq.write_table(table, path, row_group_size=PARQUET_PART_ROWS)
    return path


def check_engine(engine: str, beam_pipeline_args: Any, in_memory: List[str]) -> None:
    """Refuses the Beam engine for in-memory inputs, saying what to do instead."""
    if not in_memory or (engine != "beam" and not (engine == "auto" and beam_pipeline_args)):
        return
    why = "engine 'beam'" if engine == "beam" else "Beam pipeline arguments"
    raise ConfigError(
        f"{why} cannot take in-memory inputs ({', '.join(in_memory)}): Beam's workers are "
        f"other processes that see neither this process's objects nor its temporary files. "
        f"Use engine 'local' (the default without Beam arguments), or give files: "
        f"df.to_parquet('eval.parquet') for examples, joblib.dump(model, 'model.joblib') or "
        f"model.save('model.keras') for models")


@contextlib.contextmanager
def memory_inputs(examples: Any, models: Mapping[str, Any], engine: str = "auto",
                  beam_pipeline_args: Any = None) -> Iterator[Inputs]:
    """The evaluation's inputs with in-memory examples and models made readable (see the
    module doc); everything made here is removed or released when the block ends.

    Args:
      examples: paths, or a pandas DataFrame / pyarrow Table / RecordBatch.
      models: {name: a path, a model object or None}.
      engine, beam_pipeline_args: as `assay.evaluate` takes them (in-memory inputs refuse Beam).

    Raises:
      ConfigError: Beam was asked for with in-memory inputs.
      DataError: a DataFrame that cannot be converted to Arrow, or has no rows.
      TypeError: a model that is neither a path nor a model object.
    """
    kind = tabular_kind(examples)
    held = {name: m for name, m in models.items() if memory.is_model_object(m)}
    in_memory = ([f"examples ({kind})"] if kind else []) + [
        f"model '{name}' ({type(m).__name__})" for name, m in held.items()]
    check_engine(engine, beam_pipeline_args, in_memory)
    tokens: Dict[str, str] = {}
    directory = tempfile.mkdtemp(prefix="assay-examples-") if kind else None
    try:
        location = _location(examples, kind)
        if kind:
            examples = _write_examples(examples, kind, directory)
        for name, model in held.items():
            tokens[name] = memory.hold(model, name)
        paths = {name: tokens.get(name, m) for name, m in models.items()}
        yield Inputs(examples, paths, location, in_memory)
    finally:
        for token in tokens.values():
            memory.release(token)
        _forget_adapters(set(tokens.values()))
        if directory:
            shutil.rmtree(directory, ignore_errors=True)


def _forget_adapters(tokens: set) -> None:
    """Drops the adapters the model loader cached for held models, so the objects are freed."""
    if not tokens:
        return
    from assay.models import load

    # load's cache is keyed by spec; only the held models' entries go (others stay loaded).
    with load._SHARED_LOCK:  # noqa: SLF001 - the cache has no per-model eviction of its own
        for key in [k for k in load._SHARED if k[0].path in tokens]:  # noqa: SLF001
            del load._SHARED[key]  # noqa: SLF001


def _location(examples: Any, kind: Optional[str]) -> str:
    """The examples as given, for TFMA's eval_config.json (display only)."""
    if kind:
        rows = examples.num_rows if hasattr(examples, "num_rows") else len(examples)
        return f"<{kind}, {rows} rows>"
    items = examples if isinstance(examples, (list, tuple)) else [examples]
    return ",".join(os.fspath(e) if isinstance(e, (str, os.PathLike)) else str(e)
                    for e in items)


__all__ = ["EXAMPLES_FILE", "Inputs", "check_engine", "memory_inputs", "tabular_kind"]
