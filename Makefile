# The two commands of the README, plus the benchmark. Each sets itself up first (scripts/bootstrap.sh).
.PHONY: demo test bench setup

setup:
	@bash scripts/bootstrap.sh

demo: setup
	@bash scripts/demo.sh

test: setup
	@.venv/bin/python scripts/run_tests.py $(SUITES)
