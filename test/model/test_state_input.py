"""Proprioception as an optional model input (VLAConfig.state_input): training, inference, checkpoints."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from robovla.model import build_vla, load_vla
from robovla.model.vla import state_features
from robovla.policy.vla import VLAPolicy
from vla_helpers import make_batch, make_observation, stats, tiny_cfg, window_from, window_to_batch

CONTINUOUS = ("policy_head_continuous", "one_step_continuous", "interleaved_continuous")


def _observations(cfg, joints: np.ndarray, n: int = 4) -> list:
    out = []
    for i in range(n):
        o = make_observation(cfg, 0.1 * i, seed=i)
        out.append(dataclasses.replace(o, joint_positions=joints + 0.01 * i, gripper=0.5))
    return out


def test_state_features_are_bounded_and_wrap_free() -> None:
    s = torch.tensor([[0.1, -0.2, 3.0, 0.0, 1.0, -1.0, 2.0, 1.0]])
    f = state_features(s)
    assert f.shape == (1, 15) and float(f.abs().max()) <= 1.0
    wrapped = s.clone()
    wrapped[0, :7] += 2 * np.pi
    assert torch.allclose(state_features(wrapped), f, atol=1e-5)  # a joint's angle, not its winding
    with pytest.raises(ValueError, match="7 joints \\+ gripper"):
        state_features(torch.zeros(1, 7))


@pytest.mark.parametrize("formulation", CONTINUOUS)
def test_state_reaches_the_prediction_and_gets_gradients(formulation: str) -> None:
    torch.manual_seed(0)
    model = build_vla(tiny_cfg(formulation=formulation, state_input=True), stats())
    batch = make_batch(model.cfg, b=2, seed=1)
    batch["state"] = torch.rand(2, model.cfg.window, 8)
    out = model.compute_loss(batch)
    out["loss"].backward()
    grads = [p.grad for p in model.state_proj.parameters()]
    assert all(g is not None and float(g.abs().sum()) > 0 for g in grads)
    model.eval()
    a = model.predict(batch["images"], batch["valid"], batch["instruction"], state=batch["state"])
    b = model.predict(batch["images"], batch["valid"], batch["instruction"], state=batch["state"] + 0.5)
    assert a.shape == (2, model.cfg.chunk, 7)
    assert not torch.allclose(a[..., :6], b[..., :6])


def test_missing_or_malformed_state_is_a_clear_error() -> None:
    model = build_vla(tiny_cfg(state_input=True), stats())
    batch = make_batch(model.cfg, b=2)
    del batch["state"]
    with pytest.raises(KeyError, match="state_input"):
        model.compute_loss(batch)
    batch["state"] = torch.zeros(2, model.cfg.window + 1, 8)
    with pytest.raises(ValueError, match="state must have shape"):
        model.compute_loss(batch)
    with pytest.raises(ValueError, match="none was given"):
        model.predict(batch["images"], batch["valid"], batch["instruction"])


def test_discrete_formulation_refuses_state_input() -> None:
    with pytest.raises(ValueError, match="state_input needs a continuous formulation"):
        tiny_cfg(formulation="one_step_discrete", state_input=True)


def test_policy_reads_joints_from_the_window_and_matches_the_model(tmp_path) -> None:
    torch.manual_seed(0)
    model = build_vla(tiny_cfg(window=4, state_input=True), stats())
    policy = VLAPolicy(model)
    cfg = model.cfg
    obs_a = _observations(cfg, np.full(7, 0.2))
    obs_b = _observations(cfg, np.full(7, -0.4))
    chunk_a = policy.step(window_from(obs_a, 4), "open the drawer")
    policy.reset()
    chunk_b = policy.step(window_from(obs_b, 4), "open the drawer")
    assert not np.allclose(chunk_a.actions[:, :6], chunk_b.actions[:, :6])
    # the cached per-frame path equals recomputing the window with the same state
    window = window_from(obs_a, 4)
    state = torch.tensor(np.stack([np.append(o.joint_positions, o.gripper) for o in window.observations]),
                         dtype=torch.float32)
    ref = model.predict(window_to_batch(window, cfg), torch.from_numpy(window.valid).unsqueeze(0), "open the drawer",
                        state=state.unsqueeze(0))
    np.testing.assert_allclose(chunk_a.actions, ref[0].numpy(), atol=1e-5)
    # a checkpoint keeps the state projection
    model.save_checkpoint(tmp_path / "ckpt")
    again = VLAPolicy(load_vla(tmp_path / "ckpt"))
    np.testing.assert_allclose(again.step(window, "open the drawer").actions, chunk_a.actions, atol=1e-5)


def test_policy_rejects_non_finite_joints() -> None:
    model = build_vla(tiny_cfg(window=2, state_input=True), stats())
    obs = _observations(model.cfg, np.zeros(7), n=2)
    obs[-1] = dataclasses.replace(obs[-1], joint_positions=np.array([0, 0, np.nan, 0, 0, 0, 0.0]))
    with pytest.raises(ValueError, match="7 finite joint positions"):
        VLAPolicy(model).step(window_from(obs, 2), "open the drawer")
