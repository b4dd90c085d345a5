"""What a directory holds, for tests that check that a run changed (or wrote) nothing else."""

import hashlib
import os
from typing import Dict


def contents(root) -> Dict[str, bytes]:
    """{path relative to root: bytes} of every file under root."""
    out = {}
    for base, _, names in os.walk(root):
        for name in names:
            path = os.path.join(base, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = f.read()
    return out


def digests(root) -> Dict[str, str]:
    """{path relative to root: sha256 hex} of every file under root."""
    return {path: hashlib.sha256(data).hexdigest() for path, data in contents(root).items()}
