"""Episode bags as rosbag2's own tools read them: one time base, offered QoS per topic, the real distro."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rosbags.rosbag2 import Reader, StoragePlugin, Writer

from bag_checks import EXPECTED_QOS, check_bag, installed_distro, stamps
from cli_helpers import assert_ok, robovla
from robovla.data import messages as m
from robovla.data.bagfile import ros_distro
from robovla.data.episode_writer import EpisodeWriter
from robovla.data.metadata import METADATA_TOPIC, EpisodeMetadata
from robovla.data.qos_profiles import LATCHED
from robovla.data.replay import BagReplay
from robovla.data.synthetic import write_synthetic_episode
from robovla.data.typestore import typestore


def test_offline_collect_bags_have_one_time_base_qos_and_distro(tmp_path: Path) -> None:
    out = tmp_path / "demos"
    assert_ok(robovla("collect", "--offline", "--episodes", "2", "--out", str(out), "--keep-failures", timeout=300))
    bags = sorted(p for p in out.iterdir() if not p.name.startswith("_"))
    assert len(bags) == 2
    for bag in bags:
        info = check_bag(bag, installed_distro())
        assert info["starting_time"]["nanoseconds_since_epoch"] == m.BAG_T0_NS  # sim time from the bag origin
        assert 1e9 < info["duration"]["nanoseconds"] < 20e9  # seconds of sim, not years


def _data_messages(bag: Path) -> list[tuple[str, int, bytes]]:
    with Reader(bag) as reader:
        return [(c.topic, t, bytes(raw)) for c, t, raw in reader.messages() if c.topic != METADATA_TOPIC]


def test_offline_collect_in_parallel_writes_the_same_bags(tmp_path: Path) -> None:
    """--jobs 2: two processes, each its own simulator; a bag depends on its task and seed only."""
    args = ("collect", "--offline", "--episodes", "3", "--tasks", "turn_on_light,open_drawer", "--keep-failures",
            "--noise", "0.02")
    assert_ok(robovla(*args, "--out", str(tmp_path / "serial"), timeout=300))
    done = robovla(*args, "--out", str(tmp_path / "parallel"), "--jobs", "2", timeout=300)
    assert_ok(done)
    assert "3/3 successful" in done.stdout, done.stdout
    names = sorted(p.name for p in (tmp_path / "serial").iterdir() if not p.name.startswith("_"))
    assert names == sorted(p.name for p in (tmp_path / "parallel").iterdir() if not p.name.startswith("_"))
    assert len(names) == 3
    for name in names:
        serial = _data_messages(tmp_path / "serial" / name)
        assert len(serial) > 100 and serial == _data_messages(tmp_path / "parallel" / name), name


def test_collect_jobs_need_offline(tmp_path: Path) -> None:
    done = robovla("collect", "--episodes", "1", "--jobs", "2", "--out", str(tmp_path / "x"), timeout=120)
    assert done.returncode == 2 and "--jobs 2: needs --offline" in done.stderr, done.stderr


def test_live_writer_path_stamps_metadata_on_the_node_clock(tmp_path: Path) -> None:
    """As the recorder drives EpisodeWriter: receive stamps from a (sim-time) node clock that started
    before the first message arrived and ran on after the last."""
    sim_now = [42_000_000_000]
    meta = EpisodeMetadata("live", instruction="wave")
    w = EpisodeWriter(tmp_path, meta, fsync=False, clock=lambda: sim_now[0])
    sim_now[0] += 70_000_000  # the first message arrives 70 ms of sim time after the goal
    w.write_raw(m.INSTRUCTION_TOPIC, "robovla/msg/Instruction",
                typestore().serialize_cdr(m.instruction_msg("wave", sim_now[0]), "robovla/msg/Instruction"), sim_now[0])
    for i in range(30):
        sim_now[0] += 10_000_000
        w.write(m.JOINT_STATES_TOPIC, "sensor_msgs/msg/JointState", m.joint_state_msg(np.zeros(7), 0.0, sim_now[0]),
                sim_now[0])
    first, last = 42_070_000_000, sim_now[0]
    sim_now[0] += 400_000_000  # the goal is cancelled later
    bag = w.finish(True)
    info = check_bag(bag, installed_distro())
    assert info["starting_time"]["nanoseconds_since_epoch"] == first
    assert info["duration"]["nanoseconds"] == last - first == 300_000_000


def test_episode_without_data_is_stamped_by_its_clock(tmp_path: Path) -> None:
    w = EpisodeWriter(tmp_path, EpisodeMetadata("empty"), fsync=False, clock=lambda: 5_000_000_000)
    bag = w.finish(False)
    data, meta = stamps(bag)
    assert data == [] and meta == [5_000_000_000, 5_000_000_000]


def test_ros_distro_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROS_DISTRO", raising=False)
    assert ros_distro() == installed_distro() != "rosbags"
    monkeypatch.setenv("ROS_DISTRO", "rolling")
    bag = write_synthetic_episode(tmp_path, "ep", duration_s=0.5, cameras=("front",), image_hw=(16, 16))
    check_bag(bag, "rolling")


def test_replay_schedule_is_time_ordered_with_recorded_qos(tmp_path: Path) -> None:
    bag = write_synthetic_episode(tmp_path, "ep", duration_s=2.0, cameras=("front",), image_hw=(16, 16))
    with BagReplay(bag) as replay:
        qos = {t.topic: (t.qos.reliability, t.qos.durability, t.qos.depth) for t in replay.topics}
        assert qos == {t: EXPECTED_QOS[t] for t in qos}
        msgs = list(replay.messages())
    offsets = [ns for ns, _, _ in msgs]
    assert offsets[0] == 0 and offsets == sorted(offsets) and offsets[-1] == 2_000_000_000
    assert [t for _, t, _ in msgs[:2]] == [METADATA_TOPIC, m.INSTRUCTION_TOPIC]
    assert sum(t == m.JOINT_STATES_TOPIC for _, t, _ in msgs) == 101
    with BagReplay(bag, ["joint_states", "/robovla/instruction"]) as replay:
        assert [t.topic for t in replay.topics] == ["/joint_states", "/robovla/instruction"]
        assert {t for _, t, _ in replay.messages()} == {"/joint_states", "/robovla/instruction"}
    with pytest.raises(ValueError, match="no topic"):
        BagReplay(bag, ["/tf"])


def test_bag_without_recorded_qos_replays_with_the_graph_profile(tmp_path: Path) -> None:
    """Bags from before offered QoS was written: the instruction is still offered latched."""
    store = typestore()
    with Writer(tmp_path / "old", version=9, storage_plugin=StoragePlugin.MCAP) as w:
        conn = w.add_connection(m.INSTRUCTION_TOPIC, "robovla/msg/Instruction", typestore=store)
        w.write(conn, 1, store.serialize_cdr(m.instruction_msg("x", 1), "robovla/msg/Instruction"))
    with BagReplay(tmp_path / "old") as replay:
        (topic,) = replay.topics
        assert topic.qos == LATCHED


def test_bags_written_before_a_message_gained_a_field_still_read_and_replay(tmp_path: Path) -> None:
    """Instruction gained `task`; a bag recorded with the older definition embeds that definition:
    reading uses it, and replay re-encodes the message in today's layout (task = "")."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    from robovla.data.bag_reader import read_episode_bag
    from robovla.data.typestore import bag_typestore, upgrade_cdr

    bag = write_synthetic_episode(tmp_path, "new_layout", duration_s=1.0, instruction="open the drawer")
    old_store = get_typestore(Stores.ROS2_KILTED)
    old_store.register(get_types_from_msg("std_msgs/Header header\nstring episode_id\nstring instruction\nbool active\n",
                                          "robovla/msg/Instruction"))
    ours = typestore()
    old_bag = tmp_path / "old_layout"
    with Reader(bag) as src, Writer(old_bag, version=9, storage_plugin=StoragePlugin.MCAP) as w:
        conns = {}
        for c in src.connections:
            store = old_store if c.msgtype == "robovla/msg/Instruction" else ours
            conns[c.id] = w.add_connection(c.topic, c.msgtype, typestore=store if c.msgtype in store.fielddefs else ours)
        for c, ns, raw in src.messages():
            if c.msgtype == "robovla/msg/Instruction":
                msg = ours.deserialize_cdr(raw, c.msgtype)
                cls = old_store.types[c.msgtype]
                raw = old_store.serialize_cdr(cls(header=msg.header, episode_id=msg.episode_id,
                                                  instruction=msg.instruction, active=msg.active), c.msgtype)
            w.write(conns[c.id], ns, raw)
    with Reader(old_bag) as r:
        (conn,) = [c for c in r.connections if c.msgtype == "robovla/msg/Instruction"]
        raw = next(raw for _, _, raw in r.messages(connections=[conn]))
        with pytest.raises(Exception):
            ours.deserialize_cdr(raw, conn.msgtype)  # today's definition cannot parse it
        store = bag_typestore(r.connections)
        assert store is not ours and bag_typestore([c for c in r.connections if c is not conn]) is ours
        upgraded = ours.deserialize_cdr(upgrade_cdr(bytes(raw), conn.msgtype, store), conn.msgtype)
        assert upgraded.instruction == "open the drawer" and upgraded.task == "" and upgraded.active
    episode = read_episode_bag(old_bag, image_size=None)
    assert episode.instruction == "open the drawer"
    with BagReplay(old_bag, ["/robovla/instruction"]) as replay:
        (_, _, data), = list(replay.messages())
        assert ours.deserialize_cdr(data, "robovla/msg/Instruction").instruction == "open the drawer"
