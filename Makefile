# assay: `make demo` runs the main job, `make test` the tests; both set up the environment first.
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy
# Compile bytecode at install time: where PYTHONDONTWRITEBYTECODE is set, every process would
# otherwise compile Beam's and TensorFlow's modules again at each start.
export UV_COMPILE_BYTECODE := 1
PYTHON := .venv/bin/python
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")

.PHONY: setup demo test test-core test-deps bench clean

# The Pythons the core (no TFX stack) is tested on besides 3.10 (tests/core/run.sh).
CORE_PYTHONS ?= 3.12 3.13

setup: .venv/.assay-installed

.venv/.assay-installed: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen --all-extras
	@touch $@

demo: setup
	$(PYTHON) pipelines/run_demo.py

# The browser (report), MariaDB (ML Metadata) and container tests use Debian's packages. They
# are never skipped: without their real parts they fail, and in CI (CI=true) `make test` stops
# here when an install fails. The container tests (tests/test_container.py) need docker.io,
# debootstrap and iptables; they start dockerd themselves (tests/docker.sh start) and stop it when they are done.
test-deps:
	@sh tests/install_chromium.sh >/dev/null 2>&1 || { echo "ERROR: chromium could not be installed (tests/install_chromium.sh): the browser tests will fail" >&2; [ "$$CI" != true ] || exit 1; }
	@bash tests/mariadb.sh install >/dev/null 2>&1 || { echo "ERROR: mariadb-server could not be installed (tests/mariadb.sh install): the MariaDB tests will fail" >&2; [ "$$CI" != true ] || exit 1; }
	@log=$$(mktemp); bash tests/docker.sh install >"$$log" 2>&1 || { tail -n 20 "$$log" >&2; \
	  echo "ERROR: docker.io, debootstrap and iptables could not be installed (tests/docker.sh install): the container tests will fail" >&2; \
	  rm -f "$$log"; [ "$$CI" != true ] || exit 1; }; rm -f "$$log"

# The full suite on Python 3.10 (every extra installed), then the core tests (tests/core/) in
# fresh venvs on CORE_PYTHONS with only the core, scikit-learn and pytest.
test: setup test-deps
	$(PYTHON) -m pytest -n 2 --dist loadfile -q
	@$(MAKE) --no-print-directory test-core

test-core:
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
	UV="$(UV)" bash tests/core/run.sh $(CORE_PYTHONS)

bench: setup
	$(PYTHON) bench/run.py
	$(PYTHON) bench/confidence.py
	$(PYTHON) bench/gate_sim.py
	$(PYTHON) bench/discovery.py

clean:
	rm -rf .venv .tmp/core-py* demo-output
