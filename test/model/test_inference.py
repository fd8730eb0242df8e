"""Single-step inference: VLM once per NEW frame, instruction tokenised once per episode, registry."""

from __future__ import annotations

import numpy as np
import pytest

from robovla.model import build_vla
from robovla.policy.base import Policy
from robovla.policy.registry import load_policy
from robovla.policy.vla import VLAPolicy
from vla_helpers import make_observation, stats, tiny_cfg, window_from


@pytest.fixture(scope="module")
def policy_head_model():
    return build_vla(tiny_cfg("paligemma", "policy_head_continuous", window=4, head="gpt",
                              cameras=["front", "wrist"]), stats())


def test_vlm_once_per_new_frame(policy_head_model):
    policy = VLAPolicy(policy_head_model)
    assert isinstance(policy, Policy)
    bb = policy_head_model.backbone
    obs = [make_observation(policy_head_model.cfg, 0.1 * i, seed=i) for i in range(9)]
    for episode in range(2):
        policy.reset()
        bb.reset_counters()
        tok_before = policy.tokenizations
        for i in range(1, len(obs) + 1):
            calls, seqs = bb.vlm_calls, bb.vlm_sequences
            chunk = policy.step(window_from(obs[:i], 4), "stack the yellow block")
            assert bb.vlm_calls - calls == 1  # one batched VLM call per step
            assert bb.vlm_sequences - seqs == 1  # ...encoding exactly the one new frame
            assert chunk.extras["vlm_calls"] == 1.0
        assert bb.vlm_sequences == len(obs)  # 9 frames, window 4: 9 VLM frames, not 9*4
        assert bb.vlm_images == len(obs) * 2  # two cameras per frame
        assert policy.tokenizations - tok_before == 1  # instruction tokenised once per episode
    # the same window again (no new frame): no VLM call at all
    calls = bb.vlm_calls
    policy.step(window_from(obs, 4), "stack the yellow block")
    assert bb.vlm_calls == calls


def test_recompute_baseline_counts_window(policy_head_model):
    """Without the cache (model.predict) every step re-encodes the whole window."""
    import torch

    from vla_helpers import window_to_batch

    bb = policy_head_model.backbone
    bb.reset_counters()
    obs = [make_observation(policy_head_model.cfg, 0.1 * i, seed=i) for i in range(6)]
    for i in range(1, 7):
        w = window_from(obs[:i], 4)
        policy_head_model.predict(window_to_batch(w, policy_head_model.cfg), torch.as_tensor(w.valid)[None],
                                  "stack the yellow block")
    assert bb.vlm_sequences == 6 * 4


def test_new_instruction_invalidates_cache(policy_head_model):
    policy = VLAPolicy(policy_head_model)
    obs = [make_observation(policy_head_model.cfg, 0.1 * i, seed=i) for i in range(3)]
    w = window_from(obs, 4)
    a = policy.step(w, "open the drawer").actions
    seqs = policy_head_model.backbone.vlm_sequences
    b = policy.step(w, "close the drawer slowly").actions
    assert policy_head_model.backbone.vlm_sequences - seqs == 3  # all frames re-encoded
    assert not np.allclose(a, b)


def test_registry_loads_checkpoint_dir(policy_head_model, tmp_path):
    policy_head_model.save_checkpoint(tmp_path / "ckpt")
    policy = load_policy(str(tmp_path / "ckpt"), dt=0.5, horizon=3)  # node kwargs are ignored
    assert isinstance(policy, VLAPolicy) and policy.name == "vla:paligemma/policy_head_continuous"
    obs = [make_observation(policy_head_model.cfg, 0.0, seed=0)]
    chunk = policy.step(window_from(obs, 4), "lift it")
    assert chunk.horizon == policy_head_model.cfg.chunk and chunk.dt == policy_head_model.cfg.dt
    assert np.all(np.abs(chunk.actions[:, :6]) <= 0.05)  # raw units of the statistics (~±0.02 m)
    assert set(np.unique(chunk.actions[:, 6])) <= {0.0, 1.0}


def test_torch_compile_matches_eager():
    """The optional torch.compile path (inductor, CPU here) answers like eager mode."""
    import copy

    model = build_vla(tiny_cfg("paligemma", "policy_head_continuous", window=2, head="mlp"), stats())
    eager, compiled = VLAPolicy(model), VLAPolicy(copy.deepcopy(model), compile=True)
    obs = [make_observation(model.cfg, 0.1 * i, seed=i) for i in range(4)]
    for policy in (eager, compiled):
        policy.reset()
    for i in range(1, len(obs) + 1):
        window = window_from(obs[:i], 2)
        a = eager.step(window, "open the drawer").actions
        b = compiled.step(window, "open the drawer").actions
        # inductor fuses and reorders float32 ops: equal to within 50 um / 50 urad per step
        np.testing.assert_allclose(b, a, rtol=0, atol=5e-5)
