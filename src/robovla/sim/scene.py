"""MJCF of the tabletop scene: Gen3 7-DoF arm, a 2F-85-like gripper, table, blocks, bowl,
drawer, button + light, and two cameras.

The arm bodies use the URDF joint origins of kortex_description (the same numbers as
`robovla.control.kinematics`), so the MuJoCo end-effector matches the published kinematics;
the link shapes are capsules (no meshes are shipped). The robot's base_link is the world
origin and the table top is z = 0, so base_link coordinates are world coordinates.

Collision bits: static (1/1), arm+gripper (2/1, never self-colliding), free objects (1/15),
articulated objects (4/2), bowl (8/2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from robovla.control.kinematics import (
    GEN3_JOINT_NAMES,
    JOINT_EFFORT_LIMITS,
    JOINT_POSITION_LIMITS,
)

if TYPE_CHECKING:
    from robovla.sim.embodiment import Embodiment

#: Block colours (name -> rgba); the instructions name blocks by colour.
BLOCK_COLORS: dict[str, tuple[float, float, float, float]] = {
    "red": (0.85, 0.12, 0.1, 1.0),
    "green": (0.15, 0.7, 0.2, 1.0),
    "blue": (0.15, 0.3, 0.85, 1.0),
}
BLOCK_HALF = 0.02  # 4 cm cubes
BLOCK_MASS = 0.05

BOWL_RADIUS = 0.075  # inner radius of the wall ring
BOWL_WALL_HEIGHT = 0.04
BOWL_BASE = 0.008

#: Drawer: slides toward the robot (-x) by up to DRAWER_TRAVEL; handle plate on its front top.
DRAWER_POS = (0.62, -0.40)  # centre of the closed drawer box (x, y)
DRAWER_SIZE = (0.09, 0.10, 0.05)  # half sizes
DRAWER_TRAVEL = 0.20
HANDLE_HALF = (0.03, 0.006, 0.02)

#: Button (press to toggle the light) and light positions.
BUTTON_POS = (0.50, 0.42)
BUTTON_TRAVEL = 0.012
BUTTON_PRESS_DEPTH = 0.007  # depression that counts as a press
LIGHT_POS = (0.62, 0.42)
LIGHT_OFF_RGBA = (0.25, 0.25, 0.2, 1.0)
LIGHT_ON_RGBA = (1.0, 0.95, 0.3, 1.0)

#: Gripper: fingers slide along the tool y axis; each travels FINGER_TRAVEL from open.
FINGER_TRAVEL = 0.0425  # 85 mm stroke
GRIPPER_CLOSED_KNUCKLE = 0.8  # robotiq_85_left_knuckle_joint value when fully closed
TCP_OFFSET = 0.13  # tool centre point along the end_effector_link z axis (m)

CAMERA_NAMES = ("front", "wrist")

# kortex_description gen3 7dof joint origins: (child body, xyz, quat wxyz).
_S = float(np.sqrt(0.5))
_ARM_CHAIN = (
    ("shoulder_link", (0.0, 0.0, 0.15643), (0.0, 1.0, 0.0, 0.0)),
    ("half_arm_1_link", (0.0, 0.005375, -0.12838), (_S, _S, 0.0, 0.0)),
    ("half_arm_2_link", (0.0, -0.21038, -0.006375), (_S, -_S, 0.0, 0.0)),
    ("forearm_link", (0.0, 0.006375, -0.21038), (_S, _S, 0.0, 0.0)),
    ("spherical_wrist_1_link", (0.0, -0.20843, -0.006375), (_S, -_S, 0.0, 0.0)),
    ("spherical_wrist_2_link", (0.0, 0.00017505, -0.10593), (_S, _S, 0.0, 0.0)),
    ("bracelet_link", (0.0, -0.10593, -0.00017505), (_S, -_S, 0.0, 0.0)),
)
_LINK_MASS = (1.377, 1.164, 1.164, 0.931, 0.678, 0.678, 0.5)
_LINK_RADIUS = (0.055, 0.05, 0.05, 0.045, 0.04, 0.04, 0.04)


@dataclass(frozen=True)
class SceneOptions:
    """What the MJCF builder needs to know (the rest are published facts above)."""

    timestep: float = 0.002
    image_size: int = 224
    front_camera_pos: tuple[float, float, float] = (1.15, 0.65, 0.85)
    front_camera_target: tuple[float, float, float] = (0.35, -0.02, 0.12)
    front_fovy: float = 55.0
    wrist_fovy: float = 75.0


def _fmt(v) -> str:
    return " ".join(f"{float(x):.6g}" for x in v)


def _look_at_xyaxes(pos, target, up=(0.0, 0.0, 1.0)) -> str:
    fwd = np.asarray(target, float) - np.asarray(pos, float)
    fwd /= np.linalg.norm(fwd)
    x = np.cross(fwd, up)
    x /= np.linalg.norm(x)
    y = np.cross(x, fwd)
    return _fmt(np.concatenate([x, y]))


def _arm_xml() -> str:
    """Nested bodies base_link -> ... -> end_effector_link -> gripper."""
    lines: list[str] = []
    for i, (name, pos, quat) in enumerate(_ARM_CHAIN):
        nxt = _ARM_CHAIN[i + 1][1] if i + 1 < len(_ARM_CHAIN) else (0.0, 0.0, -0.061525)
        lo, hi = JOINT_POSITION_LIMITS[i]
        limited = np.isfinite(lo)
        rng = f'range="{lo} {hi}" limited="true"' if limited else 'limited="false"'
        lines.append(f'<body name="{name}" pos="{_fmt(pos)}" quat="{_fmt(quat)}" gravcomp="1">')
        lines.append(
            f'<joint name="{GEN3_JOINT_NAMES[i]}" axis="0 0 1" {rng} damping="{0.5 if i < 4 else 0.2}" '
            f'armature="0.1" frictionloss="0.0"/>'
        )
        lines.append(
            f'<geom class="arm" type="capsule" fromto="0 0 0 {_fmt(nxt)}" size="{_LINK_RADIUS[i]}" '
            f'mass="{_LINK_MASS[i]}" rgba="0.75 0.75 0.78 1"/>'
        )
    # end effector + gripper
    lines.append('<body name="end_effector_link" pos="0 0 -0.061525" quat="0 1 0 0" gravcomp="1">')
    lines.append('<site name="ee_site" pos="0 0 0" size="0.005" rgba="1 0 0 0"/>')
    lines.append(
        '<geom class="arm" type="cylinder" fromto="0 0 0 0 0 0.06" size="0.04" mass="0.5" rgba="0.15 0.15 0.15 1"/>'
    )
    lines.append('<geom class="arm" type="box" pos="0 0 0.075" size="0.022 0.055 0.015" mass="0.2" rgba="0.2 0.2 0.2 1"/>')
    lines.append(
        '<camera name="wrist" pos="0.065 0 0.06" xyaxes="0 -1 0 -0.966 0 -0.259" fovy="{wrist_fovy}"/>'
    )
    lines.append(f'<site name="tcp" pos="0 0 {TCP_OFFSET}" size="0.006" rgba="0 1 0 0"/>')
    for side, sign in (("left", 1.0), ("right", -1.0)):
        lines.append(
            f'<body name="{side}_finger" pos="0 {sign * (FINGER_TRAVEL + 0.007):.4f} 0.09" gravcomp="1">'
        )
        lines.append(
            f'<joint name="{side}_finger_joint" type="slide" axis="0 {-sign:.0f} 0" range="0 {FINGER_TRAVEL}" '
            f'damping="5" armature="0.01"/>'
        )
        lines.append(
            '<geom class="finger" type="box" pos="0 0 0.025" size="0.012 0.007 0.03" mass="0.05" rgba="0.1 0.1 0.1 1"/>'
        )
        lines.append("</body>")
    lines.append("</body>")  # end_effector_link
    lines.extend(["</body>"] * len(_ARM_CHAIN))
    return "\n".join(lines)


def _bowl_xml() -> str:
    lines = ['<body name="bowl" mocap="true" pos="0.5 0.2 0">']
    lines.append(
        f'<geom class="bowl" type="cylinder" pos="0 0 {BOWL_BASE / 2}" size="{BOWL_RADIUS + 0.01} {BOWL_BASE / 2}" '
        'rgba="0.9 0.9 0.85 1"/>'
    )
    n = 12
    seg = 2 * np.pi * (BOWL_RADIUS + 0.005) / n / 2 + 0.002
    for k in range(n):
        a = 2 * np.pi * k / n
        x, y = (BOWL_RADIUS + 0.005) * np.cos(a), (BOWL_RADIUS + 0.005) * np.sin(a)
        quat = (np.cos(a / 2), 0, 0, np.sin(a / 2))
        lines.append(
            f'<geom class="bowl" type="box" pos="{x:.4f} {y:.4f} {BOWL_WALL_HEIGHT / 2}" quat="{_fmt(quat)}" '
            f'size="0.005 {seg:.4f} {BOWL_WALL_HEIGHT / 2}" rgba="0.9 0.9 0.85 1"/>'
        )
    lines.append("</body>")
    return "\n".join(lines)


def _drawer_xml() -> str:
    dx, dy = DRAWER_POS
    hx, hy, hz = DRAWER_SIZE
    wall = 0.008
    lines = [
        # cabinet: back wall, two side walls and a roof-less housing (static)
        f'<geom class="static" type="box" pos="{dx + hx + 0.01} {dy} {hz + 0.005}" size="0.01 {hy + 0.02} {hz + 0.005}" rgba="0.55 0.4 0.25 1"/>',
        f'<geom class="static" type="box" pos="{dx} {dy + hy + 0.015} {hz + 0.005}" size="{hx + 0.02} 0.01 {hz + 0.005}" rgba="0.55 0.4 0.25 1"/>',
        f'<geom class="static" type="box" pos="{dx} {dy - hy - 0.015} {hz + 0.005}" size="{hx + 0.02} 0.01 {hz + 0.005}" rgba="0.55 0.4 0.25 1"/>',
        f'<body name="drawer" pos="{dx} {dy} {hz + 0.003}">',
        f'<joint name="drawer_joint" type="slide" axis="-1 0 0" range="0 {DRAWER_TRAVEL}" damping="8" frictionloss="0.3"/>',
        f'<geom class="articulated" type="box" pos="0 0 {-hz + wall / 2}" size="{hx} {hy} {wall / 2}" mass="0.3" rgba="0.7 0.55 0.35 1"/>',
        f'<geom class="articulated" type="box" pos="{-hx + wall / 2} 0 0" size="{wall / 2} {hy} {hz}" mass="0.1" rgba="0.75 0.6 0.4 1"/>',
        f'<geom class="articulated" type="box" pos="{hx - wall / 2} 0 0" size="{wall / 2} {hy} {hz}" mass="0.1" rgba="0.7 0.55 0.35 1"/>',
        f'<geom class="articulated" type="box" pos="0 {hy - wall / 2} 0" size="{hx} {wall / 2} {hz}" mass="0.1" rgba="0.7 0.55 0.35 1"/>',
        f'<geom class="articulated" type="box" pos="0 {-hy + wall / 2} 0" size="{hx} {wall / 2} {hz}" mass="0.1" rgba="0.7 0.55 0.35 1"/>',
        f'<geom name="drawer_handle" class="articulated" type="box" pos="{-hx + 0.01} 0 {hz + HANDLE_HALF[2]}" '
        f'size="{_fmt(HANDLE_HALF)}" mass="0.05" rgba="0.3 0.3 0.3 1"/>',
        f'<site name="drawer_handle_site" pos="{-hx + 0.01} 0 {hz + HANDLE_HALF[2]}" size="0.004"/>',
        "</body>",
    ]
    return "\n".join(lines)


def _button_xml() -> str:
    bx, by = BUTTON_POS
    lx, ly = LIGHT_POS
    return "\n".join(
        [
            f'<geom class="static" type="box" pos="{bx} {by} 0.02" size="0.04 0.04 0.02" rgba="0.3 0.3 0.35 1"/>',
            f'<body name="button" pos="{bx} {by} 0.04">',
            f'<joint name="button_joint" type="slide" axis="0 0 -1" range="0 {BUTTON_TRAVEL}" stiffness="60" '
            'springref="0" damping="1"/>',
            f'<geom class="articulated" type="cylinder" pos="0 0 {BUTTON_TRAVEL / 2 + 0.004}" size="0.022 {BUTTON_TRAVEL / 2 + 0.004}" '
            'mass="0.02" rgba="0.85 0.1 0.1 1"/>',
            "</body>",
            f'<geom class="static" type="cylinder" pos="{lx} {ly} 0.03" size="0.012 0.03" rgba="0.3 0.3 0.35 1"/>',
            f'<geom name="light" class="visual" type="sphere" pos="{lx} {ly} 0.075" size="0.025" rgba="{_fmt(LIGHT_OFF_RGBA)}"/>',
        ]
    )


def _blocks_xml() -> str:
    lines = []
    for k, (name, rgba) in enumerate(BLOCK_COLORS.items()):
        lines.append(f'<body name="{name}_block" pos="{0.45 + 0.1 * k} 0 {BLOCK_HALF}">')
        lines.append(f'<freejoint name="{name}_block_joint"/>')
        lines.append(
            f'<geom class="object" type="box" size="{BLOCK_HALF} {BLOCK_HALF} {BLOCK_HALF}" mass="{BLOCK_MASS}" '
            f'rgba="{_fmt(rgba)}"/>'
        )
        lines.append("</body>")
    return "\n".join(lines)


def build_mjcf(options: SceneOptions | None = None, embodiment: Embodiment | None = None) -> str:
    """The full scene as an MJCF string (the Gen3 unless another `embodiment` is given)."""
    o = options or SceneOptions()
    if embodiment is not None and embodiment.name != "gen3":
        return _dh_scene(o, embodiment)
    act = []
    kp = (1500.0, 1500.0, 1000.0, 1000.0, 400.0, 400.0, 300.0)
    for i, name in enumerate(GEN3_JOINT_NAMES):
        eff = JOINT_EFFORT_LIMITS[i]
        act.append(
            f'<position name="{name}_servo" joint="{name}" kp="{kp[i]}" kv="{kp[i] / 25:.1f}" '
            f'forcerange="{-eff} {eff}" forcelimited="true" ctrllimited="false"/>'
        )
    act.append(
        f'<position name="gripper_servo" joint="left_finger_joint" kp="1500" kv="15" ctrlrange="0 {FINGER_TRAVEL}" '
        'forcerange="-60 60" forcelimited="true"/>'
    )
    arm = _arm_xml().replace("{wrist_fovy}", f"{o.wrist_fovy}")
    front_xy = _look_at_xyaxes(o.front_camera_pos, o.front_camera_target)
    return _scene_xml(
        o, "robovla_gen3_tabletop", arm, act, ("left_finger_joint", "right_finger_joint"),
        f'<camera name="front" pos="{_fmt(o.front_camera_pos)}" xyaxes="{front_xy}" fovy="{o.front_fovy}"/>',
        '<geom class="visual" type="cylinder" pos="0 0 0.06" size="0.055 0.06" rgba="0.2 0.2 0.22 1"/>',
    )


def _scene_xml(o: SceneOptions, model: str, arm: str, act: list[str], fingers: tuple[str, str], front: str,
               base: str) -> str:
    """Everything around the arm (table, objects, light, front camera) with the arm and actuators given."""
    return f"""<mujoco model="{model}">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{o.timestep}" integrator="implicitfast" cone="elliptic" impratio="10"/>
  <visual>
    <global offwidth="{o.image_size}" offheight="{o.image_size}"/>
    <quality shadowsize="0" offsamples="0"/>
    <headlight ambient="0.45 0.45 0.45" diffuse="0.6 0.6 0.6" specular="0.1 0.1 0.1"/>
  </visual>
  <default>
    <geom solref="0.004 1" solimp="0.95 0.99 0.001"/>
    <default class="static"><geom contype="1" conaffinity="1" friction="0.8 0.005 0.0001"/></default>
    <default class="arm"><geom contype="2" conaffinity="1" friction="1.0 0.005 0.0001"/></default>
    <default class="finger"><geom contype="2" conaffinity="1" friction="1.5 0.01 0.001" condim="4"/></default>
    <default class="object"><geom contype="1" conaffinity="15" friction="1.0 0.01 0.001" condim="4"/></default>
    <default class="articulated"><geom contype="4" conaffinity="2" friction="1.0 0.005 0.0001"/></default>
    <default class="bowl"><geom contype="8" conaffinity="2" friction="0.8 0.005 0.0001"/></default>
    <default class="visual"><geom contype="0" conaffinity="0"/></default>
  </default>
  <asset>
    <texture name="floor" type="2d" builtin="checker" rgb1="0.35 0.35 0.38" rgb2="0.3 0.3 0.33" width="64" height="64"/>
    <material name="floor" texture="floor" texrepeat="8 8"/>
  </asset>
  <equality>
    <joint joint1="{fingers[0]}" joint2="{fingers[1]}" polycoef="0 1 0 0 0" solref="0.004 1"/>
  </equality>
  <worldbody>
    <light name="top" pos="0.4 0 1.5" dir="0 0 -1" diffuse="0.5 0.5 0.5" castshadow="false"/>
    <geom name="floor" class="visual" type="plane" pos="0 0 -0.75" size="3 3 0.1" material="floor"/>
    <geom name="table" class="static" type="box" pos="0.35 0 -0.025" size="0.65 0.75 0.025" rgba="0.78 0.7 0.58 1"/>
    {front}
    <body name="base_link" pos="0 0 0">
      {base}
{_arm_xml_placeholder()}
    </body>
{_blocks_xml()}
{_bowl_xml()}
{_drawer_xml()}
{_button_xml()}
  </worldbody>
  <actuator>
    {chr(10).join(act)}
  </actuator>
</mujoco>
""".replace("__ARM__", arm)


def _arm_xml_placeholder() -> str:
    return "__ARM__"


# ---------------------------------------------------------------- other embodiments (a DH chain)
_DH_LINK_MASS = (4.97, 0.65, 3.23, 3.59, 1.23, 1.67, 0.74)  # Panda link masses (approximate)
_DH_LINK_RADIUS = (0.06, 0.06, 0.055, 0.055, 0.05, 0.045, 0.04)


def _fmt_exact(v) -> str:
    """Full precision: the DH frames' sines and cosines, so MuJoCo's bodies match the kinematics to 1e-12."""
    return " ".join(f"{float(x):.17g}" for x in v)


def _quat_wxyz(r: np.ndarray) -> tuple[float, float, float, float]:
    from robovla.control.kinematics import rotation_to_quaternion

    x, y, z, w = rotation_to_quaternion(r)
    return (w, x, y, z)


def _segment(name_radius: float, mass: float, to: np.ndarray) -> str:
    """A link's capsule from its origin to the next joint (a sphere where they coincide)."""
    if np.linalg.norm(to) < 1e-6:
        return f'<geom class="arm" type="sphere" size="{name_radius}" mass="{mass}" rgba="0.92 0.92 0.92 1"/>'
    return (f'<geom class="arm" type="capsule" fromto="0 0 0 {_fmt_exact(to)}" size="{name_radius}" mass="{mass}" '
            'rgba="0.92 0.92 0.92 1"/>')


def _dh_arm_xml(emb: Embodiment) -> str:
    """Nested bodies from the embodiment's DH chain (one body per DH frame, joint about its z), then
    end_effector_link (the tool frame of its kinematics) with a parallel gripper, TCP site and wrist camera."""
    chain = emb.chain
    assert chain is not None and chain.modified, "the DH scene builder takes Craig (modified) DH chains"
    lines: list[str] = []
    for i in range(chain.n):
        link = chain.link(i, 0.0)
        nxt = chain.link(i + 1, 0.0)[:3, 3] if i + 1 < chain.n else chain.tool[:3, 3]
        lo, hi = emb.joint_position_limits[i]
        lines.append(f'<body name="{emb.joint_names[i].replace("joint", "link")}" pos="{_fmt_exact(link[:3, 3])}" '
                     f'quat="{_fmt_exact(_quat_wxyz(link[:3, :3]))}" gravcomp="1">')
        lines.append(f'<joint name="{emb.joint_names[i]}" axis="0 0 1" range="{lo} {hi}" limited="true" '
                     f'damping="{0.5 if i < 4 else 0.2}" armature="0.1" frictionloss="0.0"/>')
        lines.append(_segment(_DH_LINK_RADIUS[i], _DH_LINK_MASS[i], nxt))
    tool = chain.tool
    cam = emb.cameras
    assert cam is not None
    travel, (lf, rf), (lb, rb) = emb.finger_travel, emb.finger_joints, emb.finger_bodies
    lines += [
        f'<body name="end_effector_link" pos="{_fmt_exact(tool[:3, 3])}" quat="{_fmt_exact(_quat_wxyz(tool[:3, :3]))}" gravcomp="1">',
        '<site name="ee_site" pos="0 0 0" size="0.005" rgba="1 0 0 0"/>',
        # the hand: a flat housing across the finger direction (y), as the Franka Hand
        '<geom class="arm" type="cylinder" fromto="0 0 0 0 0 0.01" size="0.04" mass="0.1" rgba="0.2 0.2 0.2 1"/>',
        '<geom class="arm" type="box" pos="0 0 0.035" size="0.03 0.1 0.025" mass="0.6" rgba="0.95 0.95 0.95 1"/>',
        f'<camera name="wrist" pos="{_fmt(cam.wrist_pos)}" '
        f'xyaxes="{_look_at_xyaxes(cam.wrist_pos, cam.wrist_target, cam.wrist_up)}" fovy="{cam.wrist_fovy}"/>',
        f'<site name="tcp" pos="0 0 {emb.tcp_offset}" size="0.006" rgba="0 1 0 0"/>',
    ]
    for body, joint, sign in ((lb, lf, 1.0), (rb, rf, -1.0)):
        lines += [
            f'<body name="{body}" pos="0 {sign * (travel + 0.006):.4f} 0.0584" gravcomp="1">',
            f'<joint name="{joint}" type="slide" axis="0 {-sign:.0f} 0" range="0 {travel}" damping="5" armature="0.01"/>',
            '<geom class="finger" type="box" pos="0 0 0.028" size="0.01 0.006 0.027" mass="0.05" rgba="0.15 0.15 0.15 1"/>',
            "</body>",
        ]
    lines.append("</body>")  # end_effector_link
    lines.extend(["</body>"] * chain.n)
    return "\n".join(lines)


def _dh_scene(o: SceneOptions, emb: Embodiment) -> str:
    """The tabletop with another arm: same table, objects and light; the embodiment's own cameras."""
    act = []
    for i, name in enumerate(emb.joint_names):
        kp, eff = emb.servo_kp[i], emb.joint_effort_limits[i]
        act.append(f'<position name="{name}_servo" joint="{name}" kp="{kp}" kv="{kp / 25:.1f}" '
                   f'forcerange="{-eff} {eff}" forcelimited="true" ctrllimited="false"/>')
    act.append(f'<position name="gripper_servo" joint="{emb.finger_joints[0]}" kp="1500" kv="15" '
               f'ctrlrange="0 {emb.finger_travel}" forcerange="-70 70" forcelimited="true"/>')
    cam = emb.cameras
    assert cam is not None and emb.chain is not None
    front = (f'<camera name="front" pos="{_fmt(cam.front_pos)}" '
             f'xyaxes="{_look_at_xyaxes(cam.front_pos, cam.front_target)}" fovy="{cam.front_fovy}"/>')
    base_top = emb.chain.link(0, 0.0)[2, 3]
    base = (f'<geom class="visual" type="cylinder" fromto="0 0 0 0 0 {base_top:.6g}" size="0.065" '
            'rgba="0.92 0.92 0.92 1"/>')
    return _scene_xml(o, f"robovla_{emb.name}_tabletop", _dh_arm_xml(emb), act, emb.finger_joints, front, base)
