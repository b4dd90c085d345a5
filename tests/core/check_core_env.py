"""The core environment itself: collected only when named on the command line, as
tests/core/run.sh does in its Python 3.12 and 3.13 venvs (the full suite on 3.10 has all these
packages, so this file is not named test_*.py).
"""

import importlib.util
import os
import sys

import pytest

import assay


@pytest.mark.parametrize("package", ["tensorflow", "apache_beam", "tfx", "tfx_bsl", "kfp",
                                     "ml_metadata", "tensorflow_model_analysis"])
def test_the_tfx_stack_is_not_installed(package):
    assert importlib.util.find_spec(package) is None, f"{package} is installed"


def test_this_is_the_python_and_the_installed_package_run_sh_meant():
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert version == os.environ["ASSAY_CORE_PYTHON"]
    # The package as `pip install` put it in this venv, not the source tree.
    assert os.path.realpath(assay.__file__).startswith(os.path.realpath(sys.prefix))
