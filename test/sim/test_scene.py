"""The MJCF arm reproduces the published Gen3 kinematics."""

from __future__ import annotations

import mujoco
import numpy as np

from robovla.control import kinematics as kin
from robovla.sim import scene


def test_mjcf_end_effector_matches_forward_kinematics_at_10_configs() -> None:
    model = mujoco.MjModel.from_xml_string(scene.build_mjcf())
    data = mujoco.MjData(model)
    adr = [model.jnt_qposadr[model.joint(n).id] for n in kin.GEN3_JOINT_NAMES]
    site = model.site("ee_site").id
    rng = np.random.default_rng(7)
    lo = np.where(np.isfinite(kin.JOINT_POSITION_LIMITS[:, 0]), kin.JOINT_POSITION_LIMITS[:, 0], -np.pi)
    hi = np.where(np.isfinite(kin.JOINT_POSITION_LIMITS[:, 1]), kin.JOINT_POSITION_LIMITS[:, 1], np.pi)
    configs = [np.zeros(7), kin.HOME_POSITION] + list(rng.uniform(lo, hi, size=(8, 7)))
    for q in configs:
        data.qpos[adr] = q
        mujoco.mj_forward(model, data)
        fk = kin.forward_kinematics(q)
        assert np.linalg.norm(data.site_xpos[site] - fk[:3, 3]) < 1e-3
        rot = data.site_xmat[site].reshape(3, 3)
        assert np.linalg.norm(kin.rotation_vector(rot @ fk[:3, :3].T)) < 1e-3


def test_mjcf_joint_limits_match_published_limits() -> None:
    model = mujoco.MjModel.from_xml_string(scene.build_mjcf())
    for i, name in enumerate(kin.GEN3_JOINT_NAMES):
        j = model.joint(name)
        lo, hi = kin.JOINT_POSITION_LIMITS[i]
        if np.isfinite(lo):
            assert j.limited[0] == 1 and np.allclose(j.range, [lo, hi])
        else:
            assert j.limited[0] == 0
        act = model.actuator(f"{name}_servo")
        assert np.isclose(act.forcerange[1], kin.JOINT_EFFORT_LIMITS[i])


def test_scene_has_objects_and_cameras() -> None:
    model = mujoco.MjModel.from_xml_string(scene.build_mjcf())
    for body in ("red_block", "green_block", "blue_block", "bowl", "drawer", "button"):
        model.body(body)
    for cam in scene.CAMERA_NAMES:
        model.camera(cam)
