"""`robovla eval --jobs N`: how the workers are told their share, and what they are not re-told."""

from __future__ import annotations

import pytest

from robovla.cli.eval import _without, parse_shard


def test_a_shard_is_one_of_n_parts():
    assert parse_shard("0/2") == (0, 2) and parse_shard("1/3") == (1, 3)
    for bad in ("2/2", "-1/2", "1/0"):
        with pytest.raises(ValueError):
            parse_shard(bad)


def test_workers_get_the_command_less_the_options_the_parent_sets():
    argv = ["-v", "eval", "--policy", "p", "--jobs", "2", "--logs=L", "--out", "x.json", "--shard", "0/2"]
    assert _without(argv, ("--jobs", "--logs", "--shard")) == ["-v", "eval", "--policy", "p", "--out", "x.json"]
