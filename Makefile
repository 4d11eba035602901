# The two commands of the README, plus the benchmark. Each sets itself up first (scripts/bootstrap.sh).
.PHONY: demo test bench setup chaos cancel-chaos

setup:
	@bash scripts/bootstrap.sh

demo: setup
	@bash scripts/demo.sh

test: setup
	@.venv/bin/python scripts/run_tests.py $(SUITES)

# Benchmark B1-B6 and P1 against the simulator (B5 is the fleet scan, P1 the progress lines; docs/performance.md); figures in .work/bench/results.json.
# BENCH_ARGS="--quick" or "--scenario B3" to run less.
bench: setup
	@.venv/bin/python benchmarks/run.py $(BENCH_ARGS)

# Crash-and-resume trials (tests/integration/test_chaos.py): CHAOS_TRIALS seeded kills from CHAOS_BASE_SEED
# (a fresh base each time unless given); replay one trial with CHAOS_SEED=<seed>. Every trial prints its seed.
CHAOS_TRIALS ?= 20
chaos: setup
	@CHAOS_TRIALS=$(CHAOS_TRIALS) CHAOS_BASE_SEED=$${CHAOS_BASE_SEED:-$$(date +%s)} \
		.venv/bin/python -m pytest -q -p no:cacheprovider -n 2 -rA tests/integration/test_chaos.py -k killed_at_a_random_moment

# Cancel trials (tests/integration/test_cancel.py): a cancel at a seeded random moment of a 12-instance move,
# CANCEL_TRIALS of them from CANCEL_BASE_SEED (fresh unless given); replay one with CANCEL_SEED=<seed>.
CANCEL_TRIALS ?= 10
cancel-chaos: setup
	@CANCEL_TRIALS=$(CANCEL_TRIALS) CANCEL_BASE_SEED=$${CANCEL_BASE_SEED:-$$(date +%s)} \
		.venv/bin/python -m pytest -q -p no:cacheprovider -n 2 -rA tests/integration/test_cancel.py -k random_moment
