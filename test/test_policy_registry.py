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


def test_cpu_threads_set_torch_pool_of_the_process() -> None:
    import subprocess
    import sys

    with pytest.raises(ValueError, match="cpu_threads must be >= 0"):
        from robovla.policy.registry import set_cpu_threads

        set_cpu_threads(-1)
    # in a process of its own: the setting is process-wide
    code = ("from robovla.policy.registry import set_cpu_threads; assert not set_cpu_threads(1); "
            "import torch; n = torch.get_num_threads(); "
            "assert not set_cpu_threads(0) and torch.get_num_threads() == n; assert set_cpu_threads(1); "
            "print(torch.get_num_threads())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "1"
