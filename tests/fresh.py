"""Which modules an import statement loads, asked of a fresh interpreter (this one has loaded
TensorFlow, Beam and the rest for other tests)."""

import json
import os
import subprocess
import sys
from typing import List, Sequence


def loaded_modules(statement: str, watched: Sequence[str]) -> List[str]:
    """The top-level packages or modules of `watched` that `statement` leaves in sys.modules.

    A watched name matches itself and its submodules ("assay.results" matches
    "assay.results.slices"); the result lists the modules found, sorted.
    """
    code = (f"import sys, json\n{statement}\n"
            f"watched = {list(watched)!r}\n"
            "found = sorted(m for m in sys.modules\n"
            "               if any(m == w or m.startswith(w + '.') for w in watched))\n"
            "print(json.dumps(found))\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])
