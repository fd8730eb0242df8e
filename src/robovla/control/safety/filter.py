"""SafetyFilter: folds every command through the configured rules; SafeCommand: what came out and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from robovla.control.safety.config import SafetyConfig
from robovla.control.safety.rules import RULES, Action, Command, Context, SafetyRule


class Applied(NamedTuple):
    """A rule that acted on a command (rules that passed it are not listed)."""

    rule: str
    action: Action
    reason: str


@dataclass
class SafeCommand:
    linear: np.ndarray  # (3,) m/s
    angular: np.ndarray  # (3,) rad/s
    gripper: float  # 0..1
    applied: list[Applied] = field(default_factory=list)  # in order; empty if it passed untouched

    @property
    def stopped(self) -> bool:
        """The arm must stop: a rule refused the command (the twist is zero)."""
        return bool(self.applied) and self.applied[-1].action is Action.STOP

    @property
    def stopped_by(self) -> str | None:
        return self.applied[-1].rule if self.stopped else None

    @property
    def notes(self) -> list[str]:
        """One line per rule that acted, for logs."""
        return [f"{a.rule} {a.action}: {a.reason}" for a in self.applied]

    @property
    def modified(self) -> bool:
        return bool(self.applied)


class SafetyFilter:
    def __init__(self, cfg: SafetyConfig) -> None:
        self.cfg = cfg
        self.rules: list[SafetyRule] = [RULES[name](cfg) for name in cfg.rules]
        self.tool = np.asarray(cfg.tool_offset, float)
        self._has_tool = bool(np.any(self.tool))

    def filter(
        self, linear: np.ndarray, angular: np.ndarray, gripper: float, ee: np.ndarray | None
    ) -> SafeCommand:
        """Make a base-frame velocity command (flange twist) safe.

        `ee` is the end-effector pose, a 4x4 transform in base_link (or just its position, for a
        flange-only check; None skips the rules that need a pose). With the pose and a tool_offset,
        the fingertip rules apply at the fingertip moving at v + omega x r. On a stop the twist
        is zero and the gripper target 0 (kinova_control sends no gripper goal on a stop)."""
        cmd = Command(
            np.asarray(linear, dtype=np.float64).reshape(3).copy(),
            np.asarray(angular, dtype=np.float64).reshape(3).copy(),
            float(gripper),
        )
        ctx = self._context(ee)
        applied: list[Applied] = []
        for rule in self.rules:
            verdict = rule.apply(cmd, ctx)
            if verdict.action is Action.PASS:
                continue
            applied.append(Applied(rule.name, verdict.action, verdict.reason))
            if verdict.action is Action.STOP:
                return SafeCommand(np.zeros(3), np.zeros(3), 0.0, applied)
            cmd = verdict.command
        return SafeCommand(cmd.linear, cmd.angular, cmd.gripper, applied)

    def _context(self, ee: np.ndarray | None) -> Context:
        if ee is None:
            return Context(True, None, None)
        pose = np.asarray(ee, dtype=np.float64)
        if not np.isfinite(pose).all():
            return Context(False, None, None)
        if pose.shape in ((3,), (3, 1)):
            return Context(True, pose.reshape(3), None)
        flange = pose[:3, 3]
        tip = flange + pose[:3, :3] @ self.tool if pose.shape == (4, 4) and self._has_tool else None
        return Context(True, flange, tip)

    def within_limits(self, linear: np.ndarray, angular: np.ndarray) -> bool:
        """For tests and monitors: is a published command inside the configured caps?"""
        eps = 1e-6
        return bool(
            np.all(np.isfinite(linear))
            and np.all(np.isfinite(angular))
            and np.linalg.norm(linear) <= self.cfg.max_linear_speed + eps
            and np.linalg.norm(angular) <= self.cfg.max_angular_speed + eps
        )
