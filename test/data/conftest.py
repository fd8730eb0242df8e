"""Shared fixtures for the data tests: a recording root with real synthetic episode bags."""

from __future__ import annotations

from pathlib import Path

import pytest

from robovla.data.synthetic import write_synthetic_episode


@pytest.fixture(scope="module")
def bag_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bags")
    for i in range(4):
        write_synthetic_episode(root, f"ep{i}", seed=i, duration_s=3.0, instruction=f"task {i % 2}",
                                cameras=("front", "wrist"), image_hw=(48, 64))
    return root
