# The two commands of the README: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test bench-quick clean
setup: $(VENV)/.kgbert-setup
$(VENV)/.kgbert-setup: setup.cfg pyproject.toml scripts/setup_env.sh
	VENV=$(VENV) bash scripts/setup_env.sh

demo: setup
	bash scripts/demo.sh $(PY)

test: setup
	$(PY) -m pytest -q -p no:cacheprovider tests

bench-quick: setup
	bash scripts/bench_quick.sh $(PY)

clean:
	rm -rf runs/demo
