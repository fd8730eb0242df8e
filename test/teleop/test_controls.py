"""The operator's inputs, without ROS: keys and Joy messages -> motion and episode events, and the
episode life cycle every device shares. Time is passed in, so nothing here depends on the clock."""

from __future__ import annotations

import numpy as np
import pytest

from robovla.teleop import Event, EpisodeControls, Intent, JoyMapping, JoyTeleop, KeyboardTeleop, Phase, TeleopConfig
from robovla.teleop.keyboard import split_keys


def test_terminal_input_splits_into_keys_arrows_and_named_keys() -> None:
    assert split_keys("wW\x1b[A\x1b[D \r\x7f+") == ["w", "w", "up", "left", "space", "enter", "backspace", "+"]


def test_a_key_moves_its_axis_for_hold_s_after_its_last_press_and_space_stops_at_once() -> None:
    kb = KeyboardTeleop(hold_s=0.5)
    assert kb.feed("w", now=10.0) == []
    assert kb.direction(10.2).tolist() == [1, 0, 0, 0, 0, 0]
    kb.feed("w", now=10.4)  # auto-repeat refreshes the hold
    assert kb.direction(10.8)[0] == 1
    assert kb.direction(10.91)[0] == 0  # let go: stops after hold_s
    kb.feed("rj", now=20.0)  # two axes at once: up and yaw
    assert kb.direction(20.1).tolist() == [0, 0, 1, 0, 0, 1]
    kb.feed("f", now=20.2)  # the opposite key on the same axis wins
    assert kb.direction(20.3)[2] == -1
    assert kb.feed(" ", now=20.3) == [Event.HALT]
    assert not kb.direction(20.3).any()


def test_event_keys_and_unknown_keys() -> None:
    kb = KeyboardTeleop(hold_s=0.5)
    assert kb.feed("\ryxngp+-q", now=0) == [Event.START, Event.KEEP_SUCCESS, Event.DISCARD, Event.KEEP_FAILURE,
                                             Event.GRIPPER, Event.PAUSE, Event.FASTER, Event.SLOWER, Event.QUIT]
    kb.feed("z", now=0)
    assert kb.unknown == ["z"]


def test_speeds_scale_and_are_clipped_and_nan_is_no_motion() -> None:
    cfg = TeleopConfig(max_linear_speed=0.1, max_angular_speed=0.5, speed_scale=0.5)
    lin, ang = cfg.scaled(np.array([1, -2, np.nan, 0, 0, 1.0]))
    assert lin.tolist() == pytest.approx([0.05, -0.05, 0.0]) and ang.tolist() == pytest.approx([0, 0, 0.25])
    with pytest.raises(ValueError, match="speed_scale"):
        TeleopConfig(speed_scale=1.5)
    with pytest.raises(ValueError, match="positive"):
        TeleopConfig(rate_hz=0)


def test_episode_life_cycle_keep_discard_and_quit_keeps_what_was_recorded() -> None:
    c = EpisodeControls(TeleopConfig())
    assert c.handle(Event.KEEP_SUCCESS) == [] and c.phase is Phase.IDLE  # nothing to keep
    assert c.handle(Event.START) == [Intent("start")] and c.phase is Phase.STARTING
    assert c.handle(Event.START) == []  # one episode at a time
    assert not c.moving_allowed
    c.started()
    assert c.moving_allowed
    c.handle(Event.GRIPPER)
    assert c.gripper == 1.0
    c.handle(Event.PAUSE)
    assert c.phase is Phase.PAUSED and not c.moving_allowed
    c.handle(Event.PAUSE)
    assert c.moving_allowed
    assert c.handle(Event.KEEP_SUCCESS) == [Intent("finish", Event.KEEP_SUCCESS)] and c.phase is Phase.FINISHING
    assert c.handle(Event.DISCARD) == []  # the verdict is given once
    c.finished(Event.KEEP_SUCCESS)
    assert c.phase is Phase.IDLE and c.gripper == -1.0 and c.kept == [True]
    c.handle(Event.START), c.started()
    assert c.handle(Event.DISCARD) == [Intent("finish", Event.DISCARD)]
    c.finished(Event.DISCARD)
    c.handle(Event.START), c.started()
    assert c.handle(Event.QUIT) == [Intent("finish", Event.KEEP_FAILURE), Intent("quit")]
    c.finished(Event.KEEP_FAILURE)
    assert c.kept == [True, False] and c.discarded == 1
    assert c.handle(Event.QUIT) == [Intent("quit")]


def test_speed_scale_steps_within_bounds() -> None:
    c = EpisodeControls(TeleopConfig(speed_scale=0.9, scale_step=0.1))
    c.handle(Event.FASTER), c.handle(Event.FASTER)
    assert c.config.speed_scale == 1.0
    for _ in range(20):
        c.handle(Event.SLOWER)
    assert c.config.speed_scale == pytest.approx(0.1)


def test_joy_moves_only_with_the_deadman_held_and_buttons_fire_once_per_press() -> None:
    joy = JoyTeleop(JoyMapping())
    axes = [0.0] * 8
    axes[1] = 0.8  # left stick up: forward
    axes[0] = 0.05  # inside the deadzone
    buttons = [0] * 11
    assert joy.update(axes, buttons) == []
    assert not joy.direction().any(), "no deadman, no motion"
    buttons[4] = 1  # LB held
    joy.update(axes, buttons)
    assert joy.direction().tolist() == pytest.approx([0.8, 0, 0, 0, 0, 0])
    buttons[7] = 1  # Start pressed
    assert joy.update(axes, buttons) == [Event.START]
    assert joy.update(axes, buttons) == [], "held, not pressed again"
    buttons[7] = 0
    joy.update(axes, buttons)
    buttons[0] = 1
    assert joy.update(axes, buttons) == [Event.KEEP_SUCCESS]
    joy.lost()
    assert not joy.direction().any()


def test_joy_with_too_few_axes_says_so_and_does_not_move() -> None:
    joy = JoyTeleop(JoyMapping())
    assert joy.update([1.0, 1.0], [0, 0, 0, 0, 1]) == []
    assert "2 axes" in joy.complaint and not joy.direction().any()


def test_spacemouse_preset_needs_no_deadman() -> None:
    joy = JoyTeleop(JoyMapping.spacemouse())
    joy.update([0.0, 0.0, 0.5, 0.0, 0.0, -0.3], [1, 0])
    assert joy.direction().tolist() == pytest.approx([0, 0, 0.5, 0, 0, -0.3])
    with pytest.raises(ValueError, match="6"):
        JoyMapping(axes=[(0, 1.0)])


def test_terminal_keys_reads_a_tty_key_by_key_and_restores_it() -> None:
    """On a terminal (a pty here): keys arrive without Enter and unechoed; Ctrl-C is a key (the
    session ends through QUIT, its episode kept); the terminal's mode is restored after."""
    import os
    import pty
    import termios

    from robovla.teleop.keyboard import terminal_keys

    master, slave = pty.openpty()
    stream = os.fdopen(slave, "rb", buffering=0)
    try:
        before = termios.tcgetattr(slave)
        with terminal_keys(stream) as read:
            mode = termios.tcgetattr(slave)
            assert not mode[3] & termios.ICANON and not mode[3] & termios.ECHO and not mode[3] & termios.ISIG
            assert read(0.05) == ""
            os.write(master, b"w")
            assert read(2.0) == "w", "one key, no Enter"
            os.write(master, b"\x03")
            assert KeyboardTeleop(0.5).feed(read(2.0), now=0) == [Event.QUIT]
        assert termios.tcgetattr(slave) == before
    finally:
        stream.close()
        os.close(master)


def test_a_closed_pipe_reads_as_quit() -> None:
    import os

    from robovla.teleop.keyboard import terminal_keys

    r, w = os.pipe()
    os.write(w, b"y")
    os.close(w)
    with os.fdopen(r, "rb", buffering=0) as stream, terminal_keys(stream) as read:
        assert read(1.0) == "y"
        assert KeyboardTeleop(0.5).feed(read(1.0), now=0) == [Event.QUIT]
