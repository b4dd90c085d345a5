# assay: `make demo` runs the main job, `make test` the tests; both set up the environment first.
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy
# Compile bytecode at install time: where PYTHONDONTWRITEBYTECODE is set, every process would
# otherwise compile Beam's and TensorFlow's modules again at each start.
export UV_COMPILE_BYTECODE := 1
PYTHON := .venv/bin/python
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")

.PHONY: setup demo test test-deps bench clean

setup: .venv/.assay-installed

.venv/.assay-installed: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen
	@touch $@

demo: setup
	$(PYTHON) pipelines/run_demo.py

# The browser (report) and MariaDB (ML Metadata) tests use Debian's packages; the tests say
# clearly when they are skipped because these cannot be installed.
test-deps:
	-@sh tests/install_chromium.sh >/dev/null 2>&1 || echo "note: chromium could not be installed; browser tests will be skipped"
	-@bash tests/mariadb.sh install >/dev/null 2>&1 || echo "note: mariadb-server could not be installed; MariaDB tests will be skipped"

test: setup test-deps
	$(PYTHON) -m pytest -n 2 --dist loadfile -q

bench: setup
	$(PYTHON) bench/run.py

clean:
	rm -rf .venv demo-output
