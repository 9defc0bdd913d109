# The two README commands: `make demo` and `make test`. Both set up .venv on first use.
# `make check` is a contributor's inner loop: lint, format check and the fast tests (no sandboxed batches,
# notebook runs or training), in under 3 minutes on 2 cores.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check install lint release clean

SLOW_TESTS := test_demo test_demo_pipeline test_verify test_adversarial test_nbgrader_cycle test_notebooks \
	test_nbgrade test_notebook_review test_release_notebooks test_gradescope_export test_batch test_submit \
	test_cluster test_timeouts test_feedback_html

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,cluster]'
	@command -v bwrap >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && apt-get install -y -qq bubblewrap) >/dev/null 2>&1; } || \
	  echo "note: bubblewrap not installed; the grader will fall back to rlimits only"
	@ldconfig -p 2>/dev/null | grep -q 'libseccomp\.so\.2' || { [ "$$(id -u)" = 0 ] && \
	  command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && apt-get install -y -qq libseccomp2) >/dev/null 2>&1; } || \
	  echo "note: libseccomp not installed; the sandbox will run without its keyring filter"
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m autograder.demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q -n 2 --timeout 900

check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q -n 2 --timeout 300 -m "not slow" $(SLOW_TESTS:%=--ignore=tests/%.py)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

release: $(STAMP)
	$(BIN)/autograder release --out build/release

clean:
	rm -rf build .pytest_cache
