"""URDF of the simulated Gen3 arm, generated from the MJCF model itself.

RViz's RobotModel display needs a URDF on /robot_description (on a real arm, ros2_kortex's
robot_state_publisher provides it). The sim publishes this one: joint origins, axes and limits
are read from the compiled MuJoCo model, so the two can never disagree, and the link visuals are
the same capsules the simulator renders (as URDF cylinders). Link names are the TF frames the
sim publishes.
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation

from robovla.control import kinematics as kin

ARM_LINKS = (
    "base_link", "shoulder_link", "half_arm_1_link", "half_arm_2_link", "forearm_link",
    "spherical_wrist_1_link", "spherical_wrist_2_link", "bracelet_link", "end_effector_link",
)


def quat_to_rpy(q: np.ndarray) -> tuple[float, float, float]:
    """MuJoCo (w, x, y, z) -> URDF fixed-axis roll, pitch, yaw."""
    roll, pitch, yaw = Rotation.from_quat(np.asarray(q, dtype=float), scalar_first=True).as_euler("xyz")
    return float(roll), float(pitch), float(yaw)


def _origin(pos: np.ndarray, quat: np.ndarray) -> str:
    xyz = " ".join(f"{v:.6f}" for v in pos)
    rpy = " ".join(f"{v:.6f}" for v in quat_to_rpy(quat))
    return f'<origin xyz="{xyz}" rpy="{rpy}"/>'


def _visuals(model: mujoco.MjModel, body: int) -> list[str]:
    out = []
    for g in range(model.ngeom):
        if model.geom_bodyid[g] != body:
            continue
        kind, size = int(model.geom_type[g]), model.geom_size[g]
        if kind in (int(mujoco.mjtGeom.mjGEOM_CAPSULE), int(mujoco.mjtGeom.mjGEOM_CYLINDER)):
            shape = f'<cylinder radius="{size[0]:.4f}" length="{2 * size[1]:.4f}"/>'
        elif kind == int(mujoco.mjtGeom.mjGEOM_BOX):
            shape = f'<box size="{2 * size[0]:.4f} {2 * size[1]:.4f} {2 * size[2]:.4f}"/>'
        elif kind == int(mujoco.mjtGeom.mjGEOM_SPHERE):
            shape = f'<sphere radius="{size[0]:.4f}"/>'
        else:
            continue
        rgba = " ".join(f"{v:.2f}" for v in model.geom_rgba[g])
        out.append(f"    <visual>{_origin(model.geom_pos[g], model.geom_quat[g])}<geometry>{shape}</geometry>"
                   f'<material name="m{g}"><color rgba="{rgba}"/></material></visual>')
    return out


def gen3_urdf(model: mujoco.MjModel, name: str = "gen3_robovla_sim") -> str:
    lines = ['<?xml version="1.0"?>', f"<robot name={quoteattr(name)}>"]
    for link in ARM_LINKS:
        body = model.body(link).id
        lines += [f'  <link name="{link}">', *_visuals(model, body), "  </link>"]
    for parent, child in zip(ARM_LINKS[:-1], ARM_LINKS[1:]):
        body = model.body(child).id
        origin = _origin(model.body_pos[body], model.body_quat[body])
        if model.body_jntnum[body] == 0:
            lines.append(f'  <joint name="{child}_fixed" type="fixed"><parent link="{parent}"/>'
                         f'<child link="{child}"/>{origin}</joint>')
            continue
        j = model.body_jntadr[body]
        jname = model.joint(j).name
        i = kin.GEN3_JOINT_NAMES.index(jname)
        axis = " ".join(f"{v:.6f}" for v in model.jnt_axis[j])
        velocity = kin.JOINT_VELOCITY_LIMITS[i]
        if model.jnt_limited[j]:
            lo, hi = model.jnt_range[j]
            kind, limit = "revolute", f'<limit lower="{lo:.6f}" upper="{hi:.6f}" effort="{kin.JOINT_EFFORT_LIMITS[i]}" velocity="{velocity:.4f}"/>'
        else:
            kind, limit = "continuous", f'<limit effort="{kin.JOINT_EFFORT_LIMITS[i]}" velocity="{velocity:.4f}"/>'
        lines.append(f'  <joint name="{jname}" type="{kind}"><parent link="{parent}"/><child link="{child}"/>'
                     f'{origin}<axis xyz="{axis}"/>{limit}</joint>')
    lines.append("</robot>")
    return "\n".join(lines) + "\n"
