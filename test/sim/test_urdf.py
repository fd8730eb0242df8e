"""The URDF the sim publishes for RViz describes the same arm as the MuJoCo model."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation

from robovla.control import kinematics as kin
from robovla.sim import scene
from robovla.sim.urdf import ARM_LINKS, gen3_urdf


def _transform(xyz: str, rpy: str) -> np.ndarray:
    t = np.eye(4)
    t[:3, :3] = Rotation.from_euler("xyz", [float(v) for v in rpy.split()]).as_matrix()
    t[:3, 3] = [float(v) for v in xyz.split()]
    return t


def test_urdf_chain_matches_mujoco_at_random_configurations() -> None:
    model = mujoco.MjModel.from_xml_string(scene.build_mjcf())
    data = mujoco.MjData(model)
    root = ET.fromstring(gen3_urdf(model))
    assert [l.get("name") for l in root.findall("link")] == list(ARM_LINKS)
    joints = root.findall("joint")
    movable = [j for j in joints if j.get("type") != "fixed"]
    assert [j.get("name") for j in movable] == list(kin.GEN3_JOINT_NAMES)
    for j in movable:
        if j.get("type") == "revolute":
            lim = j.find("limit")
            assert float(lim.get("lower")) < 0 < float(lim.get("upper")) and float(lim.get("velocity")) > 1.0
    rng = np.random.default_rng(0)
    qadr = [model.jnt_qposadr[model.joint(n).id] for n in kin.GEN3_JOINT_NAMES]
    for _ in range(10):
        q = rng.uniform(-1.5, 1.5, 7)
        data.qpos[qadr] = q
        mujoco.mj_kinematics(model, data)
        pose = np.eye(4)
        for j in joints:
            o = j.find("origin")
            pose = pose @ _transform(o.get("xyz"), o.get("rpy"))
            if j.get("type") != "fixed":
                axis = np.array([float(v) for v in j.find("axis").get("xyz").split()])
                rot = np.eye(4)
                rot[:3, :3] = Rotation.from_rotvec(axis * q[kin.GEN3_JOINT_NAMES.index(j.get("name"))]).as_matrix()
                pose = pose @ rot
            child = model.body(j.find("child").get("link")).id
            np.testing.assert_allclose(pose[:3, 3], data.xpos[child], atol=1e-5)
            np.testing.assert_allclose(pose[:3, :3], data.xmat[child].reshape(3, 3), atol=1e-5)
    assert root.find("link/visual/geometry/cylinder") is not None, "links carry the simulator's shapes"
