# The two commands of the README: `make demo` and `make test`.
VENV ?= .venv
PYTHON ?= python3.11
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint docs install clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev,docs,stats,minatar,ray]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/deepq train CartPole-v1 --run-dir runs/demo --overwrite
	$(BIN)/deepq eval runs/demo --episodes 100
	$(BIN)/deepq plot runs/demo --out runs/demo/learning_curve.png

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 DISABLE_MKDOCS_2_WARNING=true $(BIN)/mkdocs build --strict --quiet

test: lint docs
	SDL_VIDEODRIVER=dummy $(BIN)/python -m pytest -n 2 --durations=10 --nbmake docs tests

clean:
	rm -rf $(VENV) runs site .pytest_cache
