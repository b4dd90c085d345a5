# assay: `make demo` runs the main job, `make test` the tests; both set up the environment first.
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy
PYTHON := .venv/bin/python
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")

.PHONY: setup demo test bench clean

setup: .venv/.assay-installed

.venv/.assay-installed: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen
	@touch $@

demo: setup
	$(PYTHON) -m assay.demo

test: setup
	$(PYTHON) -m pytest -n 2 --dist loadfile -q

bench: setup
	$(PYTHON) bench/run.py

clean:
	rm -rf .venv demo-output
