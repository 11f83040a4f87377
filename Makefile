# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOOPBACK := ../shared/tools/loopback-only
# Ray probes cloud metadata addresses at start-up; run it where only loopback exists.
RUN := $(if $(wildcard $(LOOPBACK)),$(LOOPBACK),)

# Debian fonts the realistic corpus uses (display fonts for flyers, web fonts for pages).
REALWORLD_FONTS := fonts-dejavu-core fonts-liberation2 fonts-urw-base35 fonts-bebas-neue fonts-lobster \
	fonts-league-spartan fonts-roboto-unhinted fonts-comfortaa fonts-lato fonts-open-sans

.PHONY: install demo test test-fast check clean realworld-deps line-roles

$(BIN)/karaoke-pipeline: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/karaoke-pipeline

demo: install  ## parse the bundled sample screenshots offline
	$(RUN) $(BIN)/karaoke-pipeline parse examples/screenshots --backend local --out out/samples.json

test: install  ## the whole test suite
	$(RUN) $(BIN)/python -m pytest $(PYTEST_ARGS)

# The tiers `test-fast` leaves out (markers registered in pyproject.toml).
SLOW_TIERS := ray or serve or browser or cluster or live_gemini

test-fast: install  ## every test that needs no Ray, Serve or browser: for use between changes
	$(RUN) $(BIN)/python -m pytest -m 'not ($(SLOW_TIERS))' $(PYTEST_ARGS)

check: install  ## lint, format check and types, as in CI
	$(BIN)/ruff check pipeline serve bench tests
	$(BIN)/ruff format --check pipeline serve bench tests
	$(BIN)/mypy pipeline serve bench

realworld-deps:  ## Chromium and fonts for python -m pipeline.testing.realworld (as root; quick when present)
	dpkg -s chromium $(REALWORLD_FONTS) >/dev/null 2>&1 || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium $(REALWORLD_FONTS))

line-roles: install  ## refit pipeline/line_roles/model.json from the committed table; LINE_ROLES_ARGS=--build renders + OCRs it anew
	$(RUN) $(BIN)/python -m pipeline.line_roles.train $(LINE_ROLES_ARGS)

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
