"""Shared, module-scoped simulator fixtures (MuJoCo model compile + renderer are the slow part)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")


@pytest.fixture(scope="module")
def env():
    from robovla.sim.env import Gen3SimEnv

    e = Gen3SimEnv()
    yield e
    e.close()
