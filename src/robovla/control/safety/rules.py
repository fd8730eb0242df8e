"""The safety rules: each looks at one command and passes it, clips it, or stops the arm.

Modelled on nav2's collision_monitor: small named rules, listed in config in the order they
apply, and a filter that folds the command through them and reports which rule acted and why.
A new rule is a class here registered under its name, its fields in SafetyConfig, a YAML entry
and a test. Rules never change a command in place: a clip returns a new Command.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from robovla.control.safety.limits import clip_norm, cross

if TYPE_CHECKING:
    from robovla.control.safety.config import SafetyConfig


class Action(StrEnum):
    PASS = "pass"
    CLIP = "clip"  # the command was changed and goes out
    STOP = "stop"  # nothing goes out: the arm is stopped; later rules do not run


@dataclass(frozen=True, slots=True)
class Command:
    linear: np.ndarray  # (3,) m/s, base_link, at the flange
    angular: np.ndarray  # (3,) rad/s, base_link
    gripper: float  # 0 open .. 1 closed


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    reason: str = ""
    command: Command | None = None  # CLIP: the changed command


PASS = Verdict(Action.PASS)


def clip(command: Command, reason: str) -> Verdict:
    return Verdict(Action.CLIP, reason, command)


def stop(reason: str) -> Verdict:
    return Verdict(Action.STOP, reason)


@dataclass(frozen=True, slots=True)
class Context:
    """Where the command acts: computed once per command by the filter, read by every rule."""

    pose_finite: bool  # False: the end-effector pose given has NaN or inf in it
    flange: np.ndarray | None  # (3,) base_link; None without a (finite) pose
    tip: np.ndarray | None  # (3,) fingertip (tool_offset); None without a 4x4 pose or with a zero offset


class SafetyRule(ABC):
    """One named check. Built once from SafetyConfig, reading only its own fields."""

    name: ClassVar[str]

    def __init__(self, cfg: SafetyConfig) -> None:
        self.cfg = cfg

    @abstractmethod
    def apply(self, cmd: Command, ctx: Context) -> Verdict: ...


RULES: dict[str, type[SafetyRule]] = {}  # name -> rule; the registration order is the default order


def register(cls: type[SafetyRule]) -> type[SafetyRule]:
    if cls.name in RULES:
        raise ValueError(f"safety rule {cls.name!r} registered twice")
    RULES[cls.name] = cls
    return cls


@register
class NonFinite(SafetyRule):
    """NaN or inf velocity or pose: stop (every later rule compares numbers, and NaN passes all
    comparisons). A non-finite gripper target becomes open: the arm may still move."""

    name = "non_finite"

    def apply(self, cmd: Command, ctx: Context) -> Verdict:
        if not (np.isfinite(cmd.linear).all() and np.isfinite(cmd.angular).all()):
            return stop("non-finite velocity")
        if not ctx.pose_finite:
            return stop("non-finite end-effector pose")
        if not math.isfinite(cmd.gripper):
            return clip(Command(cmd.linear, cmd.angular, 0.0), "non-finite gripper target: kept open")
        return PASS


class _SpeedCap(SafetyRule):
    part: ClassVar[str]  # "linear" or "angular": the part of the command capped
    limit_field: ClassVar[str]  # the SafetyConfig field holding the cap

    def __init__(self, cfg: SafetyConfig) -> None:
        super().__init__(cfg)
        self.limit = float(getattr(cfg, self.limit_field))

    def apply(self, cmd: Command, ctx: Context) -> Verdict:
        vec, n = clip_norm(getattr(cmd, self.part), self.limit)
        if n <= self.limit:
            return PASS
        if self.part == "linear":
            out = Command(vec, cmd.angular, cmd.gripper)
        else:
            out = Command(cmd.linear, vec, cmd.gripper)
        return clip(out, f"{self.part} speed {n:.3f} clipped to {self.limit:.3f}")


@register
class LinearSpeed(_SpeedCap):
    """|v| at the flange <= max_linear_speed, direction kept."""

    name, part, limit_field = "linear_speed", "linear", "max_linear_speed"


@register
class AngularSpeed(_SpeedCap):
    """|omega| <= max_angular_speed, axis kept."""

    name, part, limit_field = "angular_speed", "angular", "max_angular_speed"


@register
class FingertipSpeed(SafetyRule):
    """|v + omega x r| at the fingertip <= max_linear_speed: a rotation alone moves the tips.
    Scales the whole twist, so the motion keeps its shape."""

    name = "fingertip_speed"

    def apply(self, cmd: Command, ctx: Context) -> Verdict:
        if ctx.tip is None:
            return PASS
        v_tip = cmd.linear + cross(cmd.angular, ctx.tip - ctx.flange)
        n = math.sqrt(float(v_tip @ v_tip))
        limit = self.cfg.max_linear_speed
        if n <= limit:
            return PASS
        s = limit / n
        return clip(Command(cmd.linear * s, cmd.angular * s, cmd.gripper),
                    f"fingertip speed {n:.3f} clipped to {limit:.3f}")


def _approach_limited(lin: np.ndarray, point: np.ndarray, swing: np.ndarray, lo: np.ndarray,
                      hi: np.ndarray, lookahead: float) -> np.ndarray:
    """`lin` with each axis slowed so that `point`, moving at lin + swing, reaches an edge of
    [lo, hi] no sooner than `lookahead`: it comes to the edge and no further. Motion back inside
    is never changed (the bounds are never tighter than zero on the side that leads inwards)."""
    floor = np.minimum((lo - point) / lookahead - swing, 0.0)
    ceil = np.maximum((hi - point) / lookahead - swing, 0.0)
    return np.clip(lin, floor, ceil)


def _slowed(before: np.ndarray, after: np.ndarray) -> str:
    return "".join("xyz"[a] for a in range(3) if after[a] != before[a])


@register
class FlangeBox(SafetyRule):
    """The flange stays in [workspace_min, workspace_max] (lookahead_s ahead)."""

    name = "flange_box"

    def __init__(self, cfg: SafetyConfig) -> None:
        super().__init__(cfg)
        self.lo, self.hi = np.asarray(cfg.workspace_min, float), np.asarray(cfg.workspace_max, float)
        self.zero = np.zeros(3)

    def apply(self, cmd: Command, ctx: Context) -> Verdict:
        if ctx.flange is None:
            return PASS
        lin = _approach_limited(cmd.linear, ctx.flange, self.zero, self.lo, self.hi, self.cfg.lookahead_s)
        axes = _slowed(cmd.linear, lin)
        if not axes:
            return PASS
        return clip(Command(lin, cmd.angular, cmd.gripper), f"motion along {axes} slowed at the box edge")


@register
class FingertipBox(SafetyRule):
    """The fingertip stays in the box with the table plane (table_z + table_margin) as its floor.

    A tool-down descent stopped at the flange leaves 2F-85 fingers ~13 cm lower, so the box and
    the table hold here too. Of a rotation that would swing the tip past an edge within
    lookahead_s, only the part that does is removed (the tip's speed towards face n is
    omega . (r x n), linear in omega): a yaw near the table, which moves the tips sideways, is
    kept, so a grasp can still align with its object. Then the linear approach is slowed to the
    edge, with the remaining swing counted."""

    name = "fingertip_box"

    def __init__(self, cfg: SafetyConfig) -> None:
        super().__init__(cfg)
        self.lo, self.hi = np.asarray(cfg.workspace_min, float), np.asarray(cfg.workspace_max, float)
        self.lo[2] = cfg.table_z + cfg.table_margin

    def apply(self, cmd: Command, ctx: Context) -> Verdict:
        if ctx.tip is None:
            return PASS
        t, r, ang, reasons = self.cfg.lookahead_s, ctx.tip - ctx.flange, cmd.angular, []
        if ang.any():
            limited = self._rotation_limited(ang, ctx.tip, r, t)
            if not np.array_equal(limited, ang):
                ang = limited
                reasons.append("rotation limited: the part that would swing the fingertips past the box/table "
                               "edge removed")
        swing = cross(ang, r)
        lin = _approach_limited(cmd.linear, ctx.tip, swing, self.lo, self.hi, t)
        axes = _slowed(cmd.linear, lin)
        if axes:
            reasons.append(f"motion along {axes} slowed at the box/table edge")
        if not reasons:
            return PASS
        return clip(Command(lin, ang, cmd.gripper), "; ".join(reasons))

    def _rotation_limited(self, ang: np.ndarray, tip: np.ndarray, r: np.ndarray, t: float) -> np.ndarray:
        """`ang` projected onto {omega: the tip reaches no face within t}, one half-space per face:
        omega . (r x e_i) >= (lo_i - tip_i) / t (capped at 0: swinging back inside is free) and
        <= (hi_i - tip_i) / t likewise. A few sweeps of projections settle the corner cases."""
        ang = ang.copy()
        for _ in range(3):
            changed = False
            for i in range(3):
                axis = np.zeros(3)
                axis[i] = 1.0
                a = cross(r, axis)  # tip speed along +e_i = ang . a
                a2 = float(a @ a)
                if a2 < 1e-12:
                    continue
                speed = float(ang @ a)
                low = min((self.lo[i] - tip[i]) / t, 0.0)
                high = max((self.hi[i] - tip[i]) / t, 0.0)
                if speed < low - 1e-12:
                    ang += (low - speed) / a2 * a
                    changed = True
                elif speed > high + 1e-12:
                    ang += (high - speed) / a2 * a
                    changed = True
            if not changed:
                break
        return ang


@register
class GripperRange(SafetyRule):
    """Gripper target in [0, max_gripper]."""

    name = "gripper_range"

    def apply(self, cmd: Command, ctx: Context) -> Verdict:
        g = min(max(cmd.gripper, 0.0), self.cfg.max_gripper)
        if g == cmd.gripper:
            return PASS
        return clip(Command(cmd.linear, cmd.angular, g),
                    f"gripper target {cmd.gripper:.3f} clipped to [0, {self.cfg.max_gripper}]")
