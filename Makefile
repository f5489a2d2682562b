# The project's vocabulary. 'make run' and 'make test' are the two a newcomer needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint deps venv asterisk asterisk-stop prompts bench simulate clean vendor screens

run: asterisk  ## provision and start Asterisk, then the service (SQLite by default)
	$(BIN)/hotline1022 db upgrade
	$(BIN)/hotline1022 info
	$(BIN)/hotline1022 serve

# In 4 processes: the real-Asterisk tests mostly wait (load ~0.3 on 2 cores in one process).
# --dist loadfile keeps each module in one worker, so a module's Asterisk stack is built once
# per database as in one process; --no-loadscope-reorder keeps the order tests/conftest.py
# gives (the long Asterisk and browser modules first). Ports: simulation/ports.py.
TEST_WORKERS ?= 4

test: deps venv lint  ## everything, including the real-Asterisk tests on both databases
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=25

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

deps:  ## Debian packages that are missing (sip-tester, mmdebstrap, espeak-ng, sox)
	./scripts/install-deps.sh

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

asterisk: deps venv  ## Asterisk >= 20 (system or cached sid chroot), config rendered, started
	$(BIN)/hotline1022 asterisk start

asterisk-stop: venv
	$(BIN)/hotline1022 asterisk stop

vendor:  ## the pages' third-party files from registry.npmjs.org, checked against their checksums
	$(PYTHON) scripts/vendor.py

screens: venv  ## screenshots of the pages in docs/screens/ (Playwright, Debian's chromium)
	HOTLINE1022_SCREENS=docs/screens $(BIN)/pytest -q -m browser tests/web/test_screens.py \
		tests/web/test_conferences_browser.py \
		tests/web/test_calls_evidence_browser.py tests/web/test_coaching_browser.py

prompts: deps venv  ## Vietnamese prompt sound files from their text (espeak-ng + sox)
	$(BIN)/hotline1022 prompts

# The peak hour runs in real time by default (~80 min): app_queue re-checks a waiting caller
# once a second, so a time scale S quantises waits to S seconds. Quicker, coarser:
#   make bench BENCH_PEAK_ARGS="--time-scale 10"
BENCH_PEAK_ARGS ?=

bench: deps venv  ## benchmarks (~200 min, most of it the real-time peak hour); figures in bench/results/
	$(BIN)/python bench/simulate_calls.py --calls 600 --rate 20 --agents 60
	$(BIN)/python bench/ami_events.py --profile --record
	$(BIN)/python bench/ivr_agi_vs_dialplan.py
	$(BIN)/python bench/api_load.py
	$(BIN)/python bench/simulate_peak.py $(BENCH_PEAK_ARGS)
	$(BIN)/python bench/dispatch_day.py
	$(BIN)/python bench/chaos.py
	$(BIN)/python bench/events_viewers.py --viewers 200 --rate 50 --seconds 30 --record
	$(BIN)/python bench/conference_capacity.py
	$(BIN)/python bench/pop_latency.py --agents 8 --calls 120 --rate 1 --record
	$(BIN)/python bench/boards_load.py --record
	$(BIN)/python bench/recording_cost.py --record
	$(BIN)/python bench/stats_queries.py
	$(BIN)/python bench/dispatch_figures.py
	$(BIN)/python bench/surge.py
	$(BIN)/python bench/surge_peak.py --citizens 21263 --minutes 10 --warmup 2 --time-scale 5

simulate: deps venv
	$(BIN)/hotline1022 simulate --calls 100 --rate 2 --agents 10

clean:
	-$(BIN)/hotline1022 asterisk stop
	rm -rf $(VENV) var
