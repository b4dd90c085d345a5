"""Publishing a results directory: written in full beside OUTPUT, then renamed into place.

OUTPUT is therefore either the previous complete result or the new complete result, never half
of one: a failed evaluation leaves what was there.

Example:
    >>> with StagedOutput("out") as staged:                          # doctest: +SKIP
    ...     staged.write_json("metrics.json", {"version": 1, "records": []})
    ...     staged.commit()
"""

from __future__ import annotations

import os
import shutil
import uuid
from typing import Any

from assay.errors import StorageError
from assay.results.result import dumps


class StagedOutput:
    """A temporary directory beside `output` that becomes `output` on commit().

    Leaving the `with` block without commit() removes the temporary directory.

    Attributes:
      output: the absolute path of the results directory.
      path: the staging directory to write into.
    """

    def __init__(self, output: str):
        self.output = os.path.abspath(output)
        parent, name = os.path.split(self.output)
        os.makedirs(parent, exist_ok=True)
        if os.path.exists(self.output) and not os.path.isdir(self.output):
            raise StorageError(f"output {output} exists and is not a directory; give a directory path (new or existing) for the results")
        self.path = os.path.join(parent, f".{name}.tmp-{uuid.uuid4().hex[:8]}")
        os.makedirs(self.path)
        self._done = False

    def write_json(self, name: str, obj: Any) -> None:
        """Writes `obj` as JSON (`assay.results.result.dumps`) to `name` inside the staging."""
        target = os.path.join(self.path, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        # No atomic writer needed: nothing reads the staging directory before commit().
        with open(target, "w", encoding="utf-8") as f:
            f.write(dumps(obj))

    def commit(self) -> None:
        """Replaces `output` with the staged directory (the old one is kept until the swap)."""
        old = None
        if os.path.exists(self.output):
            old = self.path + "-old"
            os.rename(self.output, old)
        os.rename(self.path, self.output)
        if old:
            shutil.rmtree(old, ignore_errors=True)
        self._done = True

    def __enter__(self) -> "StagedOutput":
        return self

    def __exit__(self, *exc) -> None:
        if not self._done:
            shutil.rmtree(self.path, ignore_errors=True)


__all__ = ["StagedOutput"]
