"""LeRobot v3.0 export: round trips, the format facts LeRobot relies on (docs/data.md), streamed video."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from lerobot_helpers import edit_info, episode

from robovla.data.bag_reader import EpisodeError
from robovla.data.dataset import DataConfig, WindowDataset, load_episodes
from robovla.data.lerobot import VALID_KEY, export_lerobot, import_lerobot, read_tasks, tasks_table
from robovla.data.lerobot_check import validate_lerobot
from robovla.data.lerobot_stats import QUANTILES, STAT_KEYS, sample_indices
from robovla.data.video import VideoReader

EP_FILE = "meta/episodes/chunk-000/file-000.parquet"


def test_lerobot_round_trip(bag_root: Path, tmp_path: Path) -> None:
    cfg = DataConfig(image_size=48, cameras=["front", "wrist"], cache_dir=str(tmp_path / "cache"), window=2, chunk=2)
    eps = load_episodes(bag_root, cfg).episodes
    out = export_lerobot(eps, tmp_path / "lerobot", fps=cfg.rate_hz)
    info = json.loads((out / "meta" / "info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["total_episodes"] == 4 and info["total_frames"] == 124
    assert info["features"]["observation.images.front"]["dtype"] == "video"
    assert (out / "data/chunk-000/file-000.parquet").is_file()
    assert (out / "videos/observation.images.wrist/chunk-000/file-000.mp4").is_file()
    table = pq.read_table(out / "data/chunk-000/file-000.parquet")
    assert {"timestamp", "frame_index", "episode_index", "index", "task_index", "action"} <= set(table.column_names)
    assert sorted(read_tasks(out).values()) == ["task 0", "task 1"]
    assert validate_lerobot(out) == []

    back = import_lerobot(out, cameras=["front", "wrist"], image_size=48)
    assert len(back) == len(eps)
    for a, b in zip(eps, back):
        assert a.instruction == b.instruction
        np.testing.assert_array_equal(a.actions, b.actions)
        np.testing.assert_array_equal(a.state, b.state)
        np.testing.assert_array_equal(a.action_valid, b.action_valid)
        err = np.abs(np.asarray(a.images, dtype=np.int16) - b.images)
        assert err.mean() < 12  # h264 yuv420p is lossy on this high-frequency test pattern
        # frames stay in order: each decoded frame is closest to its own source frame
        shifted = np.abs(np.asarray(a.images[1:], dtype=np.int16) - b.images[:-1]).mean()
        assert err.mean() < shifted
    # and the imported dataset trains like bags do (via load_episodes' LeRobot detection)
    rep = load_episodes([out], cfg)
    assert len(rep.episodes) == 4 and len(WindowDataset(rep.episodes, 2, 2)) == 120


def test_format_facts_tasks_info_and_validation(tmp_path: Path) -> None:
    out = export_lerobot([episode(0, instruction="pick the red block"), episode(1, instruction="open the drawer"),
                          episode(2, instruction="pick the red block")], tmp_path / "ds", fps=10)
    # tasks: the task string is the pandas index ("task"), task_index the one column, rows in index order
    t = pq.read_table(out / "meta/tasks.parquet")
    meta = json.loads(t.schema.metadata[b"pandas"])
    assert meta["index_columns"] == ["task"] and [c["name"] for c in meta["columns"]] == ["task_index", "task"]
    assert t.column("task").to_pylist() == ["pick the red block", "open the drawer"]
    assert t.column("task_index").to_pylist() == [0, 1]
    frames = pq.read_table(out / "data/chunk-000/file-000.parquet")
    assert sorted(set(frames.column("task_index").to_pylist())) == [0, 1]
    # info.json: what LeRobot's DatasetInfo takes
    info = json.loads((out / "meta/info.json").read_text())
    assert isinstance(info["fps"], int) and info["fps"] == 10 and info["splits"] == {"train": "0:3"}
    assert info["video_path"] == "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
    for key in ("timestamp", "frame_index", "episode_index", "index", "task_index"):
        assert info["features"][key]["shape"] == [1] and "names" in info["features"][key]
    video = info["features"]["observation.images.front"]
    assert video["shape"] == [48, 64, 3] and video["info"]["video.fps"] == 10 and video["info"]["is_depth_map"] is False
    # a plain-column tasks table (what robovla wrote before) is what LeRobot misreads: validation names it
    assert validate_lerobot(out) == []
    pq.write_table(t.replace_schema_metadata(None), out / "meta/tasks.parquet")
    problems = validate_lerobot(out)
    assert len(problems) == 1 and "pandas index" in problems[0]
    with pytest.raises(ValueError, match="integer"):
        export_lerobot([episode(0)], tmp_path / "bad_fps", fps=7.5)
    with pytest.raises(FileExistsError):
        export_lerobot([episode(0)], out, fps=10)


def test_stats_quantiles_and_image_stats(tmp_path: Path) -> None:
    eps = [episode(i, n=20 + 7 * i) for i in range(3)]
    out = export_lerobot(eps, tmp_path / "ds", fps=10)
    stats = json.loads((out / "meta/stats.json").read_text())
    feats = ("action", "observation.state", "observation.images.front", VALID_KEY, "timestamp", "frame_index",
             "episode_index", "index", "task_index")
    for key in feats:
        assert set(stats[key]) == set(STAT_KEYS), key
    assert list(QUANTILES) == ["q01", "q10", "q50", "q90", "q99"]
    rows = pq.read_table(out / EP_FILE).to_pylist()
    for ep, row in zip(eps, rows):
        for name, q in QUANTILES.items():  # per episode: smallest value whose empirical CDF reaches q
            np.testing.assert_allclose(row[f"stats/action/{name}"],
                                       np.quantile(ep.actions, q, axis=0, method="inverted_cdf"), rtol=1e-6)
        np.testing.assert_allclose(row["stats/action/mean"], ep.actions.mean(0), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(row["stats/action/std"], ep.actions.std(0), rtol=1e-5)
        assert row["stats/action/count"] == [len(ep)] and row["stats/timestamp/max"] == [pytest.approx((len(ep) - 1) / 10)]
        # images: per RGB channel over the sampled frames, scaled to [0, 1], shaped (3, 1, 1)
        px = ep.images[sample_indices(len(ep)), 0].reshape(-1, 3)
        mean = np.asarray(row["stats/observation.images.front/mean"])
        assert mean.shape == (3, 1, 1)
        np.testing.assert_allclose(mean[:, 0, 0], px.mean(0) / 255, rtol=1e-9)
        np.testing.assert_allclose(np.asarray(row["stats/observation.images.front/q90"])[:, 0, 0],
                                   np.quantile(px, 0.9, axis=0, method="inverted_cdf") / 255)
        assert row["stats/observation.images.front/count"] == [len(sample_indices(len(ep)))]
    # the dataset's stats merge the episodes' as LeRobot does
    all_a = np.concatenate([e.actions for e in eps])
    counts = np.array([len(e) for e in eps], dtype=float)
    np.testing.assert_allclose(stats["action"]["mean"], all_a.mean(0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(stats["action"]["std"], all_a.std(0), rtol=1e-5)
    np.testing.assert_allclose(stats["action"]["min"], all_a.min(0), rtol=1e-6)
    assert stats["action"]["count"] == [len(all_a)]
    np.testing.assert_allclose(stats["action"]["q01"], sum(c * np.asarray(r["stats/action/q01"])
                                                           for c, r in zip(counts, rows)) / counts.sum())
    img = {k: np.asarray(v) for k, v in stats["observation.images.front"].items()}
    assert img["q99"].shape == (3, 1, 1) and 0 <= img["min"].min() and img["max"].max() <= 1
    # LeRobot's frame sampling for image stats: all of a short episode, n**0.75 of a long one
    assert len(sample_indices(50)) == 50 and len(sample_indices(1000)) == 177 and len(sample_indices(10**6)) == 10_000


def _merge_like_aggregate(a: Path, b: Path, out: Path) -> None:
    """Two datasets into one as LeRobot's aggregate_datasets does: tasks unified in first-seen order and
    each frame's task_index re-mapped through its task string; B's episodes, frames and files after A's (its
    data and video go to file-001, as aggregate does when a file reaches its size limit)."""
    shutil.copytree(a, out)
    info_a, info_b = (json.loads((d / "meta/info.json").read_text()) for d in (a, b))
    tasks_a, tasks_b = read_tasks(a), read_tasks(b)
    unified = list(dict.fromkeys([tasks_a[i] for i in sorted(tasks_a)] + [tasks_b[i] for i in sorted(tasks_b)]))
    new_id = {t: i for i, t in enumerate(unified)}
    e0, f0 = info_a["total_episodes"], info_a["total_frames"]
    data = pq.read_table(b / "data/chunk-000/file-000.parquet")
    shifted = {"task_index": [new_id[tasks_b[t]] for t in data.column("task_index").to_pylist()],
               "episode_index": [e + e0 for e in data.column("episode_index").to_pylist()],
               "index": [i + f0 for i in data.column("index").to_pylist()]}
    for name, values in shifted.items():
        data = data.set_column(data.schema.get_field_index(name), name, pa.array(values, type=pa.int64()))
    pq.write_table(data, out / "data/chunk-000/file-001.parquet")
    for v in (b / "videos").iterdir():
        shutil.copy(v / "chunk-000/file-000.mp4", out / "videos" / v.name / "chunk-000/file-001.mp4")
    rows = pq.read_table(b / EP_FILE).to_pylist()
    for r in rows:
        r["episode_index"] += e0
        r["dataset_from_index"] += f0
        r["dataset_to_index"] += f0
        r["data/file_index"] = 1
        for k in [k for k in r if k.startswith("videos/") and k.endswith("/file_index")]:
            r[k] = 1
    pq.write_table(pa.Table.from_pylist(rows), out / "meta/episodes/chunk-000/file-001.parquet")
    pq.write_table(tasks_table(unified), out / "meta/tasks.parquet")
    info_a.update(total_episodes=e0 + info_b["total_episodes"], total_frames=f0 + info_b["total_frames"],
                  total_tasks=len(unified), splits={"train": f"0:{e0 + info_b['total_episodes']}"})
    (out / "meta/info.json").write_text(json.dumps(info_a))


def test_tasks_round_trip_through_an_aggregate_like_merge(tmp_path: Path) -> None:
    a = [episode(0, instruction="pick the red block"), episode(1, instruction="open the drawer")]
    b = [episode(2, instruction="open the drawer"), episode(3, instruction="wipe the table"),
         episode(4, instruction="pick the red block")]
    export_lerobot(a, tmp_path / "A", fps=10)
    export_lerobot(b, tmp_path / "B", fps=10)
    assert read_tasks(tmp_path / "B") == {0: "open the drawer", 1: "wipe the table", 2: "pick the red block"}
    _merge_like_aggregate(tmp_path / "A", tmp_path / "B", tmp_path / "merged")
    assert read_tasks(tmp_path / "merged") == {0: "pick the red block", 1: "open the drawer", 2: "wipe the table"}
    assert validate_lerobot(tmp_path / "merged") == []
    back = import_lerobot(tmp_path / "merged", cameras=["front"], image_size=None)
    assert [e.instruction for e in back] == [e.instruction for e in a + b]
    for src, got in zip(a + b, back):  # the second file's episodes come from the second video
        np.testing.assert_array_equal(src.actions, got.actions)
        assert np.abs(src.images.astype(np.int16) - got.images).mean() < 8


def test_multi_episode_mp4_decodes_one_episode_in_chunks(tmp_path: Path) -> None:
    eps = [episode(i, n=30) for i in range(4)]
    out = export_lerobot(eps, tmp_path / "ds", fps=10)
    rows = pq.read_table(out / EP_FILE).to_pylist()
    key = "videos/observation.images.front/"
    assert [r[key + "file_index"] for r in rows] == [0, 0, 0, 0]  # one file holds all four
    assert [r[key + "from_timestamp"] for r in rows] == [0.0, 3.0, 6.0, 9.0]
    path = out / "videos/observation.images.front/chunk-000/file-000.mp4"
    with VideoReader(path) as reader:
        times = rows[2][key + "from_timestamp"] + np.arange(30) / 10
        chunks = list(reader.read(times, 0.025, chunk=8))
        assert [len(c) for _, c in chunks] == [8, 8, 8, 6] and [o for o, _ in chunks] == [0, 8, 16, 24]
        got = np.concatenate([c for _, c in chunks])
        err = np.abs(got.astype(np.int16) - eps[2].images[:, 0]).mean()
        assert err < 8 and err < np.abs(got.astype(np.int16) - eps[1].images[:, 0]).mean()
        assert reader.seeks == 1 and reader.decoded <= 30 + 2  # from the keyframe before, not from the start
        decoded = reader.decoded
        # the next episode continues where this one stopped: no seek, only its own frames decoded
        nxt = np.concatenate([c for _, c in reader.read(rows[3][key + "from_timestamp"] + np.arange(30) / 10,
                                                         0.025, chunk=8)])
        assert reader.seeks == 1 and reader.decoded - decoded == 30
        assert np.abs(nxt.astype(np.int16) - eps[3].images[:, 0]).mean() < 8
        # going back seeks; a time past the end is a clear error
        list(reader.read(np.arange(3) / 10, 0.025))
        assert reader.seeks == 2
        with pytest.raises(ValueError, match=r"no frame at 12\.5"):
            list(reader.read(np.array([11.9, 12.5]), 0.025))


def test_video_files_rotate_at_the_size_limit(tmp_path: Path) -> None:
    eps = [episode(i, n=30) for i in range(5)]
    out = export_lerobot(eps, tmp_path / "ds", fps=10, video_files_size_in_mb=0.02)
    rows = pq.read_table(out / EP_FILE).to_pylist()
    files = [r["videos/observation.images.front/file_index"] for r in rows]
    assert files[0] == 0 and files[-1] > 0 and files == sorted(files)
    assert validate_lerobot(out) == []
    back = import_lerobot(out, cameras=["front"], image_size=None)
    for src, got in zip(eps, back):
        assert np.abs(src.images.astype(np.int16) - got.images).mean() < 8


def test_image_type_dataset_imports(tmp_path: Path) -> None:
    eps = [episode(i, n=12, cams=("front", "wrist")) for i in range(2)]
    out = export_lerobot(eps, tmp_path / "img", fps=10, use_videos=False)
    info = json.loads((out / "meta/info.json").read_text())
    assert info["features"]["observation.images.wrist"]["dtype"] == "image" and info["video_path"] is None
    assert not (out / "videos").exists() and validate_lerobot(out) == []
    back = import_lerobot(out, cameras=["front", "wrist"], image_size=None)
    for src, got in zip(eps, back):
        np.testing.assert_array_equal(src.images, got.images)  # PNG: lossless
        assert src.instruction == got.instruction
    rep = load_episodes([out], DataConfig(image_size=32, cameras=["wrist"], cache_dir=str(tmp_path / "c")))
    assert len(rep.episodes) == 2 and rep.episodes[0].images.shape == (12, 1, 32, 32, 3)


def test_lerobot_bad_action_dims(tmp_path: Path) -> None:
    out = export_lerobot([episode(0)], tmp_path / "le", fps=10)
    edit_info(out, lambda i: i["features"]["action"].update(shape=[6], names=list("abcdef")))
    with pytest.raises(EpisodeError, match=r"le.*'action' has 6 dims"):
        import_lerobot(out, cameras=["front"], action_space="ee_delta")
    edit_info(out, lambda i: i["features"]["action"].update(shape=[7], names=None))
    with pytest.raises(EpisodeError, match="no video or image for camera 'top'.*camera_map"):
        import_lerobot(out, cameras=["top", "side"], action_space="ee_delta")


def test_dataset_cli_export_validate_info(bag_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from robovla.cli.main import main as cli_main

    out = tmp_path / "exported"
    assert cli_main(["dataset", "export-lerobot", "--data", str(bag_root), "--out", str(out), "--cameras", "front",
                     "--image-size", "32", "--cache-dir", str(tmp_path / "cache")]) == 0
    assert json.loads(capsys.readouterr().out)["episodes"] == 4
    assert cli_main(["dataset", "validate", str(out)]) == 0
    assert cli_main(["dataset", "info", str(out), "--json"]) == 0
    desc = json.loads(capsys.readouterr().out.split("\n", 1)[1])  # after validate's line
    assert desc["episodes"] == 4 and desc["action_names_say"] == "ee_delta" and desc["robovla_reads"] == "yes"
    pq.write_table(pq.read_table(out / "meta/tasks.parquet").replace_schema_metadata(None), out / "meta/tasks.parquet")
    assert cli_main(["dataset", "validate", str(out)]) == 1
    assert "pandas index" in capsys.readouterr().out
    assert cli_main(["dataset", "export-lerobot", "--data", str(bag_root), "--out", str(out)]) == 1  # exists
