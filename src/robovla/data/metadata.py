"""Episode metadata: what a demonstration was (instruction, outcome, robot, rates, notes).

It travels twice inside each bag so nothing depends on a side file: as a
robovla/msg/EpisodeMetadata message on /robovla/episode_metadata (readable by any ROS 2 tool) and
as the bag's `custom_data` in metadata.yaml (shown by `ros2 bag info`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

METADATA_TOPIC = "/robovla/episode_metadata"
METADATA_TYPE = "robovla/msg/EpisodeMetadata"
CUSTOM_DATA_KEY = "robovla.episode"
GEN3_ROBOT = "kinova_gen3_7dof+robotiq_2f_85"  # what episodes of this project's arm are tagged with


@dataclass
class EpisodeMetadata:
    episode_id: str
    instruction: str = ""
    robot: str = ""
    finished: bool = False
    success: bool = False
    operator_notes: str = ""
    camera_names: list[str] = field(default_factory=list)
    camera_rate_hz: float = 0.0
    control_rate_hz: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EpisodeMetadata:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)

    def to_msg(self, stamp_ns: int) -> Any:
        from robovla.data.messages import header
        from robovla.data.typestore import typestore

        cls = typestore().types[METADATA_TYPE]
        return cls(
            header=header(stamp_ns, ""),
            episode_id=self.episode_id,
            instruction=self.instruction,
            robot=self.robot,
            finished=self.finished,
            success=self.success,
            operator_notes=self.operator_notes,
            camera_names=list(self.camera_names),
            camera_rate_hz=float(self.camera_rate_hz),
            control_rate_hz=float(self.control_rate_hz),
            extra_json=json.dumps(self.extra, sort_keys=True),
        )

    @classmethod
    def from_msg(cls, msg: Any) -> EpisodeMetadata:
        try:
            extra = json.loads(msg.extra_json) if msg.extra_json else {}
        except json.JSONDecodeError:
            extra = {"extra_json": msg.extra_json}
        return cls(
            episode_id=msg.episode_id,
            instruction=msg.instruction,
            robot=msg.robot,
            finished=bool(msg.finished),
            success=bool(msg.success),
            operator_notes=msg.operator_notes,
            camera_names=list(msg.camera_names),
            camera_rate_hz=float(msg.camera_rate_hz),
            control_rate_hz=float(msg.control_rate_hz),
            extra=extra,
        )
