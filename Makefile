# The two commands of the README: `make demo` and `make test`.
VENV ?= .venv
PYTHON ?= python3.11
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint install clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/deepq train CartPole-v1 --run-dir runs/demo --overwrite
	$(BIN)/deepq eval runs/demo --episodes 100
	$(BIN)/deepq plot runs/demo --out runs/demo/learning_curve.png

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

test: lint
	SDL_VIDEODRIVER=dummy $(BIN)/python -m pytest -n 2 --durations=10

clean:
	rm -rf $(VENV) runs .pytest_cache
