"""`robovla eval --jobs N`: how the workers are told their share, and what they are not re-told."""

from __future__ import annotations

import pytest

from robovla.cli.eval import _without, parse_shard, render_size


def test_a_shard_is_one_of_n_parts():
    assert parse_shard("0/2") == (0, 2) and parse_shard("1/3") == (1, 3)
    for bad in ("2/2", "-1/2", "1/0"):
        with pytest.raises(ValueError):
            parse_shard(bad)


def test_workers_get_the_command_less_the_options_the_parent_sets():
    argv = ["-v", "eval", "--policy", "p", "--jobs", "2", "--logs=L", "--out", "x.json", "--shard", "0/2"]
    assert _without(argv, ("--jobs", "--logs", "--shard")) == ["-v", "eval", "--policy", "p", "--out", "x.json"]


def test_render_size_follows_the_checkpoint_unless_told(tmp_path):
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "vla_config.yaml").write_text("image_size: 96\ncameras: [front]\n")
    assert render_size("policy", str(ckpt)) == 96
    assert render_size("policy", None) is None, "the scripted expert keeps the sim config's size"
    assert render_size("config", str(ckpt)) is None and render_size("128", str(ckpt)) == 128
    for bad in ("0", "-3", "big"):
        with pytest.raises(ValueError, match="--render-size must be"):
            render_size(bad, str(ckpt))
