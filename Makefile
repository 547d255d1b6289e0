# Every target sets up what it needs: a Python >= 3.12 (tools/find-python.sh, or
# PYTHON=...), a virtual environment in .venv and the package with its test extras.

VENV := .venv
VENV_PYTHON := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install test demo clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py
	@python=$$(tools/find-python.sh) || exit 1; \
	if [ ! -x $(VENV_PYTHON) ]; then echo "Creating $(VENV) with $$python"; "$$python" -m venv $(VENV); fi
	$(VENV_PYTHON) -m pip install --quiet --upgrade pip
	$(VENV_PYTHON) -m pip install --quiet -e '.[test]'
	touch $@

test: install
	$(VENV_PYTHON) -m pytest $(PYTEST_ARGS)

demo: install
	$(VENV_PYTHON) -m pynenc_fastmem demo

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
