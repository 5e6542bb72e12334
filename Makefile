# The two commands of the README: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test lint bench-quick clean
setup: $(VENV)/.kgbert-setup
$(VENV)/.kgbert-setup: setup.cfg pyproject.toml scripts/setup_env.sh
	VENV=$(VENV) bash scripts/setup_env.sh

demo: setup
	bash scripts/demo.sh $(PY)

test: setup
	$(PY) -m pytest -q -p no:cacheprovider tests

# Lint (ruff) and type check (mypy); both configured in pyproject.toml. CI runs it before `make test`.
lint: setup
	$(PY) -m ruff check .
	$(PY) -m mypy

bench-quick: setup
	bash scripts/bench_quick.sh $(PY)

clean:
	rm -rf runs/demo
