#!/usr/bin/env bash
# The core tests on other Pythons, without the TFX stack:
#
#   tests/core/run.sh 3.12 3.13
#
# For each version: a fresh venv in .tmp/core-py<version> (uv venv), the project installed into
# it from this tree with its `sklearn` extra, plus pytest, the rest from the package registries
# (no TensorFlow, Beam, TFX, KFP); then tests/core/'s tests and check_core_env.py run there. The Python
# comes from $ASSAY_PYTHON_<major>_<minor> (e.g. ASSAY_PYTHON_3_12), else pyenv's versions, else
# python<version> on PATH; a version that cannot be found fails the run.
set -euo pipefail
cd "$(dirname "$0")/../.."
UV=${UV:-uv}
export UV_PYTHON_DOWNLOADS=never UV_LINK_MODE=copy

find_python() {
    local version=$1 var candidate
    var="ASSAY_PYTHON_${version//./_}"
    for candidate in "${!var:-}" \
            $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}/versions/$version".*/bin/python"$version" \
              2>/dev/null | sort -V -r) \
            "$(command -v "python$version" 2>/dev/null || true)"; do
        if [ -n "$candidate" ] && "$candidate" -c 'import sys' >/dev/null 2>&1; then
            echo "$candidate"; return 0
        fi
    done
    echo "tests/core/run.sh: no Python $version found (set $var)" >&2
    return 1
}

[ $# -gt 0 ] || { sed -n '2,11p' "$0" >&2; exit 2; }
for version in "$@"; do
    python=$(find_python "$version")
    venv=.tmp/core-py$version
    start=$(date +%s)
    $UV venv --quiet --clear --python "$python" "$venv"
    # --refresh-package: uv would reuse its cached build of this tree while pyproject.toml
    # stays the same; the tests must run the code as it is now.
    $UV pip install --quiet --python "$venv/bin/python" --refresh-package assay \
        --reinstall-package assay ".[sklearn]" "pytest>=8"
    installed=$(date +%s)
    ASSAY_CORE_PYTHON=$version "$venv/bin/python" -m pytest -q -p no:cacheprovider \
        tests/core/test_*.py tests/core/check_core_env.py
    echo "tests/core/run.sh: Python $version ($python): install $((installed - start)) s," \
        "tests $(($(date +%s) - installed)) s"
done
