"""Turn a policy spec string (a node parameter, a CLI flag) into a Policy.

Specs:
  ``scripted`` / ``scripted:<pattern>[:<m/s>]``   the placeholder ScriptedPolicy (no learning at all)
  ``<checkpoint dir>``                    a trained VLA checkpoint (robovla.policy.vla)
  ``package.module:factory``              any importable factory returning a Policy
"""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path
from typing import Any

from robovla.policy.base import Policy

log = logging.getLogger(__name__)


def load_policy(spec: str, **kwargs: Any) -> Policy:
    """Build the policy named by `spec`; kwargs go to its constructor (dt, horizon, device...)."""
    spec = spec.strip()
    if not spec:
        raise ValueError("policy spec is empty: use 'scripted', a checkpoint dir or 'module:factory'")
    if spec == "scripted" or spec.startswith("scripted:"):
        from robovla.policy.scripted import ScriptedPolicy

        pattern, _, speed = (spec.partition(":")[2] or "hold").partition(":")
        options = _only(kwargs, ScriptedPolicy.KWARGS)
        if speed:  # scripted:<pattern>:<m/s>, e.g. scripted:forward:0.2 (fault benchmarks)
            try:
                options["speed"] = float(speed)
            except ValueError:
                raise ValueError(f"policy spec {spec!r}: speed {speed!r} is not a number (m/s)") from None
        return ScriptedPolicy(pattern=pattern, **options)
    path = Path(spec).expanduser()
    if path.is_dir():
        from robovla.policy.vla import VLAPolicy

        return VLAPolicy.from_checkpoint(path, **kwargs)
    if ":" in spec and not spec.startswith("/"):
        module_name, _, attr = spec.partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"policy spec {spec!r}: cannot import {module_name}:{attr} ({exc})") from exc
        policy = factory(**kwargs)
        if not isinstance(policy, Policy):
            raise TypeError(f"policy spec {spec!r} returned {type(policy).__name__}, not a Policy")
        return policy
    raise ValueError(
        f"policy spec {spec!r} is neither 'scripted[:pattern]', an existing checkpoint directory, "
        "nor 'module:factory'"
    )


def set_cpu_threads(threads: int) -> bool:
    """torch's intra-op threads for this process; 0 leaves torch's default (one per core), and so
    does a process that has not imported torch (a scripted placeholder). True if it was set.

    Why: a sim graph shares the machine's cores with the sim, the control process and, under
    `robovla eval --jobs N`, other graphs. torch's default pool then spins for cores that are busy:
    one step of the demo VLA took 19 ms of CPU with 1 thread and 328 ms with 2 on a loaded 2-core
    machine (medians of a 100-step VLAPolicy.step loop over 64 px windows, 2026-12-02).
    Process-wide, as torch's setting is."""
    if threads < 0:
        raise ValueError(f"cpu_threads must be >= 0 (0: torch's default), got {threads}")
    torch = sys.modules.get("torch")
    if not threads or torch is None:
        return False
    torch.set_num_threads(threads)
    return True


def _only(kwargs: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if k in allowed}
