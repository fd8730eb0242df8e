"""Simulator settings (YAML-loadable) for the env core, the sim node and the benchmarks."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import yaml


@dataclass
class SimConfig:
    """Rates, limits, rendering and arm of the MuJoCo tabletop (the Gen3 unless `embodiment` says).

    The twist limits default to ros2_kortex's twist_limits.yaml (0.5 m/s, 1.74 rad/s); commands
    arrive at control_hz and physics runs at 1/physics_dt between them.
    """

    physics_dt: float = 0.002  # 500 Hz physics
    control_hz: float = 50.0  # command / observation rate of the env core
    image_size: int = 224
    cameras: tuple[str, ...] = ("front", "wrist")
    max_linear_speed: float = 0.5  # m/s, like the kortex driver
    max_angular_speed: float = 1.74  # rad/s, like the kortex driver
    gripper_speed: float = 0.15  # m/s of each finger (full stroke in ~0.3 s)
    ik_damping: float = 0.01
    init_joint_noise: float = 0.03  # rad, uniform, on the ready pose at reset
    max_episode_s: float = 15.0
    ready_tcp: tuple[float, float, float] = (0.42, 0.0, 0.30)  # tool centre point at reset
    embodiment: str = "gen3"  # the arm in the scene: gen3 | panda (robovla.sim.embodiment)

    def __post_init__(self) -> None:
        self.cameras = tuple(self.cameras)
        self.ready_tcp = tuple(float(v) for v in self.ready_tcp)  # type: ignore[assignment]
        if self.physics_dt <= 0 or self.control_hz <= 0:
            raise ValueError("physics_dt and control_hz must be positive")
        ratio = 1.0 / (self.control_hz * self.physics_dt)
        if abs(ratio - round(ratio)) > 1e-6 or round(ratio) < 1:
            raise ValueError(
                f"control period 1/{self.control_hz} s must be a whole number of physics steps of {self.physics_dt} s"
            )
        from robovla.sim.embodiment import get_embodiment

        get_embodiment(self.embodiment)  # a clear error for an unknown arm
        unknown = set(self.cameras) - {"front", "wrist"}
        if unknown:
            raise ValueError(f"unknown camera(s) {sorted(unknown)}; the scene has 'front' and 'wrist'")

    @property
    def control_dt(self) -> float:
        return 1.0 / self.control_hz

    @property
    def substeps(self) -> int:
        return int(round(1.0 / (self.control_hz * self.physics_dt)))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SimConfig":
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown sim config key(s): {sorted(unknown)}")
        return cls(**data)

    @classmethod
    def from_yaml(cls, path: str | Path) -> "SimConfig":
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of sim settings")
        return cls.from_dict(data.get("sim", data))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["cameras"] = list(self.cameras)
        d["ready_tcp"] = list(self.ready_tcp)
        return d


def camera_due(step: int, control_hz: float, camera_hz: float) -> bool:
    """Whether control step `step` renders a camera frame, so frames come at camera_hz on average.

    A fixed "every round(control_hz / camera_hz) steps" would turn 20 Hz into 25 Hz at 50 Hz
    control; counting frames owed keeps the mean rate exact (20 Hz: periods of 40 and 60 ms).
    """
    if camera_hz >= control_hz:
        return True
    ratio = camera_hz / control_hz
    return step == 0 or int(step * ratio + 1e-9) != int((step - 1) * ratio + 1e-9)
