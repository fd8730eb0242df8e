"""Importing other robots' LeRobot datasets: camera/feature maps, what `names` allow, the train CLI path."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import yaml
from lerobot_helpers import edit_info, episode

from robovla.cli.main import main as cli_main
from robovla.data.bag_reader import EpisodeError
from robovla.data.dataset import DataConfig, load_episodes
from robovla.data.lerobot import classify_action_names, export_lerobot, import_lerobot

SO100_ACTION = ["shoulder_pan.pos", "shoulder_lift.pos", "elbow_flex.pos", "wrist_flex.pos", "wrist_roll.pos",
                "gripper.pos", "spare"]


@pytest.fixture(scope="module")
def laptop_ds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset whose camera is called 'laptop' (as in LeRobot's koch/so100 recordings)."""
    root = tmp_path_factory.mktemp("lerobot_import")
    return export_lerobot([episode(i, n=16, cams=("laptop",), instruction=f"task {i % 2}") for i in range(4)],
                          root / "laptop", fps=10)


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_camera_map(laptop_ds: Path, tmp_path: Path) -> None:
    eps = import_lerobot(laptop_ds, cameras=["front"], camera_map={"laptop": "front"}, image_size=32)
    assert len(eps) == 4 and eps[0].camera_names == ["front"] and eps[0].images.shape == (16, 1, 32, 32, 3)
    full = import_lerobot(laptop_ds, cameras=["front"], camera_map={"observation.images.laptop": "front"},
                          image_size=32)
    np.testing.assert_array_equal(eps[1].images, full[1].images)
    with pytest.raises(EpisodeError, match=r"camera_map names camera 'phone'.*cameras: \['laptop'\]"):
        import_lerobot(laptop_ds, cameras=["front"], camera_map={"phone": "front"})
    with pytest.raises(EpisodeError, match="not a camera being loaded"):
        import_lerobot(laptop_ds, cameras=["front"], camera_map={"laptop": "wrist"})
    with pytest.raises(EpisodeError, match="no video or image for camera 'wrist'.*--camera-map laptop=wrist"):
        import_lerobot(laptop_ds, cameras=["front", "wrist"], camera_map={"laptop": "front"})
    # through DataConfig (what `robovla train --camera-map` sets)
    cfg = DataConfig(image_size=32, cameras=["front"], camera_map={"laptop": "front"}, cache_dir=str(tmp_path / "c"))
    rep = load_episodes([laptop_ds], cfg)
    assert len(rep.episodes) == 4 and rep.problems == []
    assert sorted({e.instruction for e in rep.episodes}) == ["task 0", "task 1"]
    with pytest.raises(ValueError, match="THEIRS: OURS"):
        DataConfig(camera_map=["laptop"])  # type: ignore[arg-type]


def test_action_names_decide(laptop_ds: Path, tmp_path: Path) -> None:
    ds = _copy(laptop_ds, tmp_path / "joint")
    edit_info(ds, lambda i: i["features"]["action"].update(names=SO100_ACTION))
    for space in ("auto", "ee_delta"):  # joint-space is refused whatever the user declares
        with pytest.raises(EpisodeError, match=r"feature 'action' holds joint-space actions \(names \['shoulder_pan"):
            import_lerobot(ds, cameras=["laptop"], action_space=space)
    edit_info(ds, lambda i: i["features"]["action"].update(names=["x", "y", "z", "roll", "pitch", "yaw", "gripper"]))
    with pytest.raises(EpisodeError, match="absolute end-effector poses.*action_space=ee_delta"):
        import_lerobot(ds, cameras=["laptop"])
    edit_info(ds, lambda i: i["features"]["action"].update(names={"motors": [f"motor_{k}" for k in range(7)]}))
    with pytest.raises(EpisodeError, match="names do not say what they are"):
        import_lerobot(ds, cameras=["laptop"])
    # declared deltas: imported, and the declaration is logged
    eps = import_lerobot(ds, cameras=["laptop"], action_space="ee_delta", image_size=32)
    assert len(eps) == 4
    cases = {
        ("delta_x", "delta_y", "delta_z", "delta_roll", "delta_pitch", "delta_yaw", "gripper_open"): "ee_delta",
        ("dx", "dy", "dz", "drx", "dry", "drz", "grip"): "ee_delta",
        ("dy", "dx", "dz", "droll", "dpitch", "dyaw", "gripper"): "misordered",
        ("vx", "vy", "vz", "wx", "wy", "wz", "gripper_vel"): "velocity",
        ("x", "y", "z", "qx", "qy", "qz", "qw"): "absolute",
        ("joint_1", "joint_2", "joint_3", "joint_4", "joint_5", "joint_6", "gripper"): "joint",
    }
    for names, kind in cases.items():
        assert classify_action_names(list(names)) == kind, names


def test_state_is_checked_never_padded(laptop_ds: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ds = _copy(laptop_ds, tmp_path / "six")
    edit_info(ds, lambda i: i["features"]["observation.state"].update(
        shape=[6], names=SO100_ACTION[:6]))
    with caplog.at_level(logging.WARNING):
        eps = import_lerobot(ds, cameras=["laptop"], image_size=32)
    assert "'observation.state' (6-D" in caplog.text and "not used" in caplog.text
    assert np.isnan(eps[0].state).all() and eps[0].metadata["lerobot_state"] is None  # unknown, not zeros
    with pytest.raises(EpisodeError, match=r"'observation.state' \(6-D.*model.state_input"):
        import_lerobot(ds, cameras=["laptop"], require_state=True)
    with pytest.raises(ValueError, match="no usable state"):
        export_lerobot(eps, tmp_path / "re_export", fps=10)
    # robovla's own state (7 joints + gripper) is used as it is
    ok = import_lerobot(laptop_ds, cameras=["laptop"], image_size=32, require_state=True)
    np.testing.assert_array_equal(ok[0].state, episode(0, n=16, cams=("laptop",)).state)


def test_feature_map(laptop_ds: Path, tmp_path: Path) -> None:
    ds = _copy(laptop_ds, tmp_path / "renamed")
    edit_info(ds, lambda i: i["features"].update({"actions.ee": i["features"]["action"]}))
    with pytest.raises(EpisodeError, match="feature_map names 'nope'"):
        import_lerobot(ds, cameras=["laptop"], feature_map={"nope": "action"})
    with pytest.raises(EpisodeError, match="robovla's features are"):
        import_lerobot(ds, cameras=["laptop"], feature_map={"actions.ee": "actions"})
    # the mapped feature is the one read (its column must then exist in the data files)
    with pytest.raises(EpisodeError, match=r"no column\(s\) \['actions.ee'\]"):
        import_lerobot(ds, cameras=["laptop"], feature_map={"actions.ee": "action"})


def test_train_cli_with_camera_map(laptop_ds: Path, tmp_path: Path) -> None:
    common = ["--steps", "2", "--no-progress", "--set", f"data.cache_dir={tmp_path / 'cache'}", "--set", "eval_every=0",
              "--set", "save_every=0"]
    assert cli_main(["train", "--data", str(laptop_ds), "--out", str(tmp_path / "run"), "--camera-map", "laptop=front",
                     *common]) == 0
    saved = yaml.safe_load((tmp_path / "run" / "train_config.yaml").read_text())
    assert saved["data"]["camera_map"] == {"laptop": "front"} and (tmp_path / "run" / "final").is_dir()
    assert json.loads((tmp_path / "run" / "run.json").read_text())["train_episodes"][0].startswith("laptop/episode_")
    # without the map the camera names do not match: a clear error, exit 1
    assert cli_main(["train", "--data", str(laptop_ds), "--out", str(tmp_path / "run2"), *common]) == 1
    assert cli_main(["dataset", "import-lerobot", str(laptop_ds), "--camera-map", "laptop=front", "--set",
                     f"data.cache_dir={tmp_path / 'cache'}"]) == 0
    assert cli_main(["dataset", "validate", str(laptop_ds)]) == 0
    assert cli_main(["dataset", "info", str(laptop_ds), "--json"]) == 0
