"""Model-suite fixtures: tiny models are built once per module and shared."""

from __future__ import annotations

import logging

import pytest
import transformers

transformers.logging.set_verbosity_error()
logging.getLogger("robovla.model.vla").setLevel(logging.ERROR)


@pytest.fixture(scope="module")
def model_cache() -> dict:
    return {}
