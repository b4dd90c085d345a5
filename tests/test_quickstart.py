"""README's "Quick start", run literally: its code blocks as written, in a copy of the repository
(the files a clone has: tracked and not ignored) and a fresh virtual environment that the
block's own `pip install .` fills from the package registries. Every ```text block is the
expected stdout of the block before it (the last command of a sh block), with `$PWD` standing
for the copy's path. The bundled data is checked against its generator and scikit-learn.
"""

import csv
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TIMEOUT_S = 900


def quickstart_blocks(readme):
    """[(language, code)] of the blocks between '## Quick start' and the next heading."""
    start = readme.index("\n## Quick start\n")
    rest = readme[start + 1:]
    end = re.search(r"\n#{1,6} ", rest[3:])
    section = rest[:end.start() + 3] if end else rest
    return re.findall(r"^```(\w+)\n(.*?)^```$", section, flags=re.M | re.S)


def _copy_of_the_clone(dest):
    """The files `git clone` would give (tracked, plus new files not ignored), copied."""
    names = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, names):
        src = os.path.join(ROOT, name)
        if os.path.isfile(src):                 # a file deleted in the tree is still listed
            os.makedirs(os.path.dirname(os.path.join(dest, name)), exist_ok=True)
            shutil.copy2(src, os.path.join(dest, name))


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """(the copy's path, the environment of a shell with a fresh venv activated)."""
    root = tmp_path_factory.mktemp("quickstart") / "assay"
    _copy_of_the_clone(str(root))
    venv = root / "venv"
    base = getattr(sys, "_base_executable", None) or sys.executable
    subprocess.run([base, "-m", "venv", str(venv)], check=True, timeout=TIMEOUT_S)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(VIRTUAL_ENV=str(venv), PATH=f"{venv / 'bin'}:{os.environ['PATH']}")
    return root, env


def _run(argv, root, env):
    proc = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT_S)
    assert proc.returncode == 0, f"{argv[-1]!r} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_the_quick_start_as_written(clone):
    root, env = clone
    with open(os.path.join(ROOT, "README.md")) as f:
        blocks = quickstart_blocks(f.read())
    assert [lang for lang, _ in blocks] == ["sh", "text", "python", "text"], blocks
    outputs = []
    for lang, code in blocks:
        if lang == "sh":                        # each command as a user types it
            for line in filter(str.strip, code.splitlines()):
                stdout = _run(["bash", "-c", line], root, env)
            outputs.append(stdout)
        elif lang == "python":
            outputs.append(_run([str(root / "venv" / "bin" / "python"), "-c", code], root, env))
        else:
            expected = code.replace("$PWD", str(root)).rstrip("\n").splitlines()
            assert outputs, "a text block before any command"
            assert outputs[-1].rstrip("\n").splitlines() == expected
    # The venv holds the core only: none of the TFX stack came with `pip install .`.
    listed = _run(["pip", "list", "--format=freeze"], root, env).lower()
    for heavy in ("tensorflow", "apache-beam", "tfx", "kfp", "ml-metadata", "scikit-learn"):
        assert f"\n{heavy}==" not in "\n" + listed, heavy
    assert os.path.isfile(root / "out" / "report.html")


def test_the_bundled_data_is_what_the_generator_writes(tmp_path):
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    try:
        import make_quickstart_data
    finally:
        sys.path.pop(0)
    make_quickstart_data.main(str(tmp_path / "eval.csv"))
    with open(tmp_path / "eval.csv", "rb") as ours, \
            open(os.path.join(ROOT, "examples", "eval.csv"), "rb") as bundled:
        assert ours.read() == bundled.read()


def test_the_numbers_shown_are_scikit_learns():
    """The README's overall AUCs and the west slice's difference, from scikit-learn."""
    from sklearn.metrics import accuracy_score, roc_auc_score

    with open(os.path.join(ROOT, "examples", "eval.csv")) as f:
        rows = list(csv.DictReader(f))
    y = np.array([int(r["clicked"]) for r in rows])
    score = np.array([float(r["score"]) for r in rows])
    old = np.array([float(r["old_score"]) for r in rows])
    west = np.array([r["region"] == "west" for r in rows])
    with open(os.path.join(ROOT, "README.md")) as f:
        blocks = quickstart_blocks(f.read())
    shown_cli, shown_python = blocks[1][1], blocks[3][1]
    assert f"overall auc: {roc_auc_score(y, score):.6g}\n" in shown_cli
    assert f"overall accuracy: {accuracy_score(y, score > 0.5):.6g}\n" in shown_cli
    assert f"overall example_count: {len(y)}\n" in shown_cli
    lines = shown_python.splitlines()
    assert lines[1] == f"{round(roc_auc_score(y, score), 4)} {round(roc_auc_score(y, old), 4)}"
    diff = roc_auc_score(y[west], score[west]) - roc_auc_score(y[west], old[west])
    assert lines[2] == f"{round(diff, 4)}"
