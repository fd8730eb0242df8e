"""Windows that carry images for their newest frame only are completed from the frame cache."""

from __future__ import annotations

import numpy as np
import pytest

from robovla.control.frame_cache import FrameCache
from robovla.policy.types import Observation, ObservationWindow


def _obs(t: float, images: bool = True, episode: str = "e1") -> Observation:
    img = {"front": np.full((4, 4, 3), int(t * 10), np.uint8)} if images else {}
    return Observation(stamp=t, images=img, joint_positions=np.zeros(7), gripper=0.0, ee_pose=np.zeros(7),
                       episode_id=episode)


def _window(stamps: list[float], valid: list[bool], episode: str = "e1") -> ObservationWindow:
    obs = [_obs(t, images=(i == len(stamps) - 1), episode=episode) for i, t in enumerate(stamps)]
    return ObservationWindow(tuple(obs), np.array(valid), episode)


def test_windows_are_completed_from_earlier_newest_frames() -> None:
    cache = FrameCache()
    w1 = cache.complete(_window([0.1, 0.1, 0.1], [False, False, True]))  # padded start of an episode
    assert all(o.images["front"][0, 0, 0] == 1 for o in w1.observations)
    cache.complete(_window([0.1, 0.1, 0.2], [False, True, True]))
    w3 = cache.complete(_window([0.1, 0.2, 0.3], [True, True, True]))
    assert [int(o.images["front"][0, 0, 0]) for o in w3.observations] == [1, 2, 3]
    assert w3.valid.all() and cache.missing == 0


def test_a_frame_never_seen_is_padded_and_masked() -> None:
    cache = FrameCache()
    cache.complete(_window([0.1], [True]))
    # the window with newest 0.2 was lost: 0.2 is filled from its nearest neighbour and masked
    w = cache.complete(_window([0.1, 0.2, 0.3], [True, True, True]))
    assert list(w.valid) == [True, False, True] and cache.missing == 1
    assert int(w.observations[1].images["front"][0, 0, 0]) in (1, 3)


def test_a_new_episode_starts_a_new_cache() -> None:
    cache = FrameCache()
    cache.complete(_window([0.1], [True], episode="a"))
    w = cache.complete(_window([0.1, 0.2], [True, True], episode="b"))
    assert list(w.valid) == [False, True], "episode b never sent frame 0.1"
    with pytest.raises(ValueError, match="no images"):
        FrameCache().complete(ObservationWindow((_obs(0.5, images=False),), np.array([True]), "c"))


def test_capacity_bounds_memory() -> None:
    cache = FrameCache(capacity=3)
    for i in range(10):
        cache.put(_obs(float(i)))
    assert cache.get(6.0) is None and cache.get(9.0).stamp == 9.0
    with pytest.raises(ValueError, match="capacity"):
        FrameCache(capacity=0)


def test_a_window_message_converts_only_frames_the_cache_lacks() -> None:
    from robovla.nodes.common.convert import msg_to_window, observation_to_msg, window_to_msg

    cache = FrameCache()
    names = [f"j{i}" for i in range(7)]
    older, newest = _obs(0.1), _obs(0.2)
    cache.complete(ObservationWindow((older,), np.array([True]), "e1"))
    stripped = observation_to_msg(_obs(0.1, images=False), names)
    msg = window_to_msg(ObservationWindow((older, newest), np.array([True, True]), "e1"),
                        [stripped, observation_to_msg(newest, names)])
    window = cache.complete(msg_to_window(msg, known=cache.get))
    assert window.observations[0] is older, "the cached frame is reused, not converted again"
    assert int(window.observations[1].images["front"][0, 0, 0]) == 2 and cache.missing == 0
    msg.episode_id = "e2"  # another episode never reuses e1's frames
    assert msg_to_window(msg, known=cache.get).observations[0].images == {}
