"""Episode bags: written with rosbags, readable by generic rosbag2 readers, crash safe, bad input named."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore

from cli_helpers import install_env
from robovla.data import messages as m
from robovla.data.bag_reader import EpisodeError, read_episode_bag
from robovla.data.dataset import DataConfig, load_episodes
from robovla.data.episode_writer import INCOMPLETE_DIR, EpisodeWriter, recover_incomplete
from robovla.data.metadata import EpisodeMetadata
from robovla.data.synthetic import write_synthetic_episode



def test_bag_is_a_standard_rosbag2_episode(bag_root: Path) -> None:
    bag = bag_root / "ep0"
    assert sorted(p.name for p in bag.iterdir()) == ["ep0.mcap", "metadata.yaml"]
    info = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["storage_identifier"] == "mcap"
    topics = {t["topic_metadata"]["name"]: t["topic_metadata"]["type"] for t in info["topics_with_message_count"]}
    assert topics["/joint_states"] == "sensor_msgs/msg/JointState"
    assert topics["/camera/front/image_raw"] == "sensor_msgs/msg/Image"
    assert topics["/robovla/arm_command"] == "robovla/msg/ArmCommand"
    assert topics["/robovla/episode_metadata"] == "robovla/msg/EpisodeMetadata"
    assert '"instruction": "task 0"' in info["custom_data"]["robovla.episode"]
    # a reader that knows nothing about robovla decodes our custom types from the definitions in the bag
    with AnyReader([bag], default_typestore=get_typestore(Stores.ROS2_KILTED)) as reader:
        conns = [c for c in reader.connections if c.topic == "/robovla/episode_metadata"]
        metas = [reader.deserialize(raw, c.msgtype) for c, _, raw in reader.messages(connections=conns)]
        assert [x.finished for x in metas] == [False, True]
        assert metas[-1].success and metas[-1].instruction == "task 0"
        assert metas[-1].camera_names == ["front", "wrist"]
        js = [c for c in reader.connections if c.topic == "/joint_states"]
        first = next(reader.deserialize(raw, c.msgtype) for c, _, raw in reader.messages(connections=js))
        assert list(first.name)[-1] == m.GRIPPER_JOINT and len(first.position) == 8


def test_read_episode_streams(bag_root: Path) -> None:
    raw = read_episode_bag(bag_root / "ep1", image_size=(32, 32))
    assert not raw.incomplete and raw.metadata.success
    assert raw.instruction == "task 1"
    assert raw.joint_q.shape == (151, 7)
    assert set(raw.camera_frames) == {"front", "wrist"}
    assert raw.camera_frames["front"].shape == (46, 32, 32, 3)
    assert raw.gripper.min() == 0.0 and raw.gripper.max() == 1.0
    assert len(raw.command_t) == 151 and len(raw.twist_t) == 151


def test_compressed_images_are_decoded(tmp_path: Path) -> None:
    write_synthetic_episode(tmp_path, "jpeg", compressed=True, duration_s=1.0, image_hw=(48, 64))
    raw = read_episode_bag(tmp_path / "jpeg", image_size=None)
    frames = raw.camera_frames["front"]
    from robovla.data.synthetic import frame_image

    assert frames.shape == (16, 48, 64, 3)
    assert np.abs(frames[5].astype(int) - frame_image(5, 48, 64)).mean() < 8  # JPEG, lossy


_KILLED_RECORDER = """
import sys, time, numpy as np
from robovla.data.synthetic import write_synthetic_episode
from robovla.data.episode_writer import EpisodeWriter
from robovla.data.metadata import EpisodeMetadata
from robovla.data import messages as m
root = sys.argv[1]
write_synthetic_episode(root, "done_a", duration_s=1.0, seed=1)
write_synthetic_episode(root, "done_b", duration_s=1.0, seed=2)
w = EpisodeWriter(root, EpisodeMetadata("interrupted", instruction="never finished"), flush_interval_s=0.05)
i = 0
while True:
    ns = time.time_ns()
    w.write(m.JOINT_STATES_TOPIC, "sensor_msgs/msg/JointState", m.joint_state_msg(np.full(7, 0.01 * i), 0.0, ns), ns)
    w.write(m.camera_topic("front"), "sensor_msgs/msg/Image", m.image_msg(np.full((24, 32, 3), i % 255, np.uint8), ns), ns)
    i += 1
    if i == 40:
        print("RECORDING", flush=True)
    time.sleep(0.005)
"""


def test_sigkill_mid_episode_keeps_finished_episodes(tmp_path: Path) -> None:
    env = install_env()
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_RECORDER, str(tmp_path)], stdout=subprocess.PIPE,
                            env=env, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "RECORDING"
        time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    # every finished episode is complete and readable; the killed one never looks finished
    assert sorted(p.name for p in tmp_path.iterdir()) == [INCOMPLETE_DIR, "done_a", "done_b"]
    for name in ("done_a", "done_b"):
        raw = read_episode_bag(tmp_path / name)
        assert raw.metadata.finished and len(raw.joint_t) == 51
    assert (tmp_path / INCOMPLETE_DIR / "interrupted").is_dir()
    cfg = DataConfig(cache_dir=str(tmp_path / "cache"), image_size=32, window=2, chunk=2)
    assert sorted(e.episode_id for e in load_episodes(tmp_path, cfg).episodes) == ["done_a", "done_b"]
    # salvage: a normal bag, clearly marked incomplete, holding the data flushed before the kill
    recovered = recover_incomplete(tmp_path)
    assert recovered == [tmp_path / "interrupted"]
    raw = read_episode_bag(tmp_path / "interrupted", image_size=None)
    assert raw.incomplete and not raw.metadata.finished and not raw.metadata.success
    assert raw.metadata.instruction == "never finished"
    assert "recovered" in raw.metadata.operator_notes
    assert len(raw.joint_t) >= 40
    assert np.allclose(raw.joint_q[:, 0], 0.01 * np.arange(len(raw.joint_t)))
    info = yaml.safe_load((tmp_path / "interrupted" / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["custom_data"]["robovla.incomplete"] == "true"
    assert not any((tmp_path / INCOMPLETE_DIR).glob("interrupted"))
    # skipped unless asked for
    cfg2 = DataConfig(cache_dir=str(tmp_path / "cache"), image_size=32, window=2, chunk=2, include_incomplete=True)
    rep = load_episodes(tmp_path, cfg)
    assert any("interrupted" in p and "incomplete" in p for p in rep.problems)
    assert "interrupted" in {e.episode_id for e in load_episodes(tmp_path, cfg2).episodes}


def test_writer_refuses_to_overwrite(bag_root: Path) -> None:
    with pytest.raises(FileExistsError, match="ep0"):
        EpisodeWriter(bag_root, EpisodeMetadata("ep0"))
    with pytest.raises(ValueError, match="episode id"):
        EpisodeWriter(bag_root, EpisodeMetadata("../escape"))


def _bad_root(tmp_path: Path) -> Path:
    root = tmp_path / "mixed"
    write_synthetic_episode(root, "good", duration_s=1.0)
    write_synthetic_episode(root, "truncated", duration_s=1.0)
    mcap = root / "truncated" / "truncated.mcap"
    data = mcap.read_bytes()
    mcap.write_bytes(data[: len(data) // 2])
    write_synthetic_episode(root, "nocamera", duration_s=1.0, cameras=())
    with EpisodeWriter(root, EpisodeMetadata("empty"), fsync=False) as w:
        w.finish(True)
    return root


def test_bad_bags_are_named_and_skipped(tmp_path: Path) -> None:
    root = _bad_root(tmp_path)
    with pytest.raises(EpisodeError, match="truncated"):
        read_episode_bag(root / "truncated")
    with pytest.raises(EpisodeError, match=r"empty.*/joint_states"):
        read_episode_bag(root / "empty")
    cfg = DataConfig(cache_dir=str(tmp_path / "cache"), image_size=32, window=2, chunk=2)
    rep = load_episodes(root, cfg)
    assert [e.episode_id for e in rep.episodes] == ["good"]
    problems = "\n".join(rep.problems)
    assert "truncated" in problems and "corrupt or truncated" in problems
    assert "nocamera" in problems and "no camera topic for" in problems
    assert "empty" in problems and "/joint_states" in problems


def test_record_cli_recovers_aborted_episode(tmp_path: Path) -> None:
    from robovla.cli.main import main as cli_main

    w = EpisodeWriter(tmp_path, EpisodeMetadata("aborted", instruction="stopped early"), fsync=False)
    ns = time.time_ns()
    for i in range(5):
        w.write(m.JOINT_STATES_TOPIC, "sensor_msgs/msg/JointState", m.joint_state_msg(np.zeros(7), 0.0, ns + i), ns + i)
    w.abort()
    assert cli_main(["record", "--recover", str(tmp_path)]) == 0
    raw = read_episode_bag(tmp_path / "aborted", image_size=None)
    assert raw.incomplete and len(raw.joint_t) == 5 and raw.metadata.instruction == "stopped early"
