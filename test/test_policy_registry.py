"""Policy specs: the placeholder's pattern and speed, and clear errors."""

from __future__ import annotations

import pytest

from robovla.policy.registry import load_policy


def test_scripted_specs() -> None:
    p = load_policy("scripted:forward:0.2", dt=0.1, horizon=5)
    assert p.name == "scripted:forward" and p.speed == 0.2 and p.horizon == 5
    assert load_policy("scripted").pattern == "hold"
    with pytest.raises(ValueError, match="is not a number"):
        load_policy("scripted:forward:fast")
    with pytest.raises(ValueError, match="unknown ScriptedPolicy pattern"):
        load_policy("scripted:juggle")
