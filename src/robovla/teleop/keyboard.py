"""Terminal keyboard teleoperation: works over SSH and with no X server, as a robot PC often is.

A terminal reports key presses only (no releases), so a motion key moves the arm for key_hold_s
after its last press; the terminal's auto-repeat keeps a held key moving, and letting go stops
the arm within key_hold_s (kinova_control's watchdog stops it anyway if this process dies).
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import termios
import tty
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from robovla.teleop.controls import Event

#: escape sequences of the keys with no character of their own
ESCAPES = {"\x1b[A": "up", "\x1b[B": "down", "\x1b[C": "right", "\x1b[D": "left"}
NAMED = {"\r": "enter", "\n": "enter", "\x7f": "backspace", "\x08": "backspace", " ": "space", "\x03": "ctrl-c",
         "\x04": "ctrl-d"}

#: axis index (x y z roll pitch yaw, base frame) and sign, per motion key
MOTION_KEYS: dict[str, tuple[int, float]] = {
    "w": (0, 1.0), "s": (0, -1.0), "up": (0, 1.0), "down": (0, -1.0),  # forward / back
    "a": (1, 1.0), "d": (1, -1.0), "left": (1, 1.0), "right": (1, -1.0),  # left / right
    "r": (2, 1.0), "f": (2, -1.0),  # up / down
    "u": (3, 1.0), "o": (3, -1.0),  # roll
    "i": (4, 1.0), "k": (4, -1.0),  # pitch
    "j": (5, 1.0), "l": (5, -1.0),  # yaw
}
EVENT_KEYS: dict[str, Event] = {
    "enter": Event.START, "y": Event.KEEP_SUCCESS, "n": Event.KEEP_FAILURE, "x": Event.DISCARD,
    "backspace": Event.DISCARD, "p": Event.PAUSE, "g": Event.GRIPPER, "+": Event.FASTER, "=": Event.FASTER,
    "-": Event.SLOWER, "space": Event.HALT, "q": Event.QUIT, "ctrl-c": Event.QUIT, "ctrl-d": Event.QUIT,
}

HELP = """keys: w/s forward/back  a/d left/right  r/f up/down  (arrows too)  u/o roll  i/k pitch  j/l yaw
      space stop  g gripper open/close  +/- speed  p pause
      Enter start episode  y keep (success)  n keep (failure)  x discard and re-record  q quit"""


def split_keys(data: str) -> list[str]:
    """Key names in a chunk of terminal input (characters, named keys, arrow escapes)."""
    keys, i = [], 0
    while i < len(data):
        seq = next((s for s in ESCAPES if data.startswith(s, i)), None)
        if seq is not None:
            keys.append(ESCAPES[seq])
            i += len(seq)
            continue
        ch = data[i]
        keys.append(NAMED.get(ch, ch.lower() if ch.isalpha() else ch))
        i += 1
    return keys


@dataclass
class KeyMap:
    motion: dict[str, tuple[int, float]] = field(default_factory=lambda: dict(MOTION_KEYS))
    events: dict[str, Event] = field(default_factory=lambda: dict(EVENT_KEYS))


class KeyboardTeleop:
    """Key presses -> a 6-D direction (held for hold_s per key) and episode events. Time is passed
    in (the node's clock), so the behaviour does not depend on how fast this machine is."""

    def __init__(self, hold_s: float, keymap: KeyMap | None = None) -> None:
        self.hold_s = hold_s
        self.keymap = keymap or KeyMap()
        self._until = np.full(6, -np.inf)  # per axis: moving until this time
        self._sign = np.zeros(6)
        self.unknown: list[str] = []  # keys pressed that mean nothing (shown to the operator)

    def feed(self, data: str, now: float) -> list[Event]:
        events = []
        for key in split_keys(data):
            if key in self.keymap.motion:
                axis, sign = self.keymap.motion[key]
                self._sign[axis], self._until[axis] = sign, now + self.hold_s
            elif key in self.keymap.events:
                event = self.keymap.events[key]
                if event is Event.HALT:
                    self.halt()
                events.append(event)
            else:
                self.unknown.append(key)
        return events

    def halt(self) -> None:
        self._until[:] = -np.inf

    def direction(self, now: float) -> np.ndarray:
        return np.where(now <= self._until, self._sign, 0.0)


@contextlib.contextmanager
def terminal_keys(stream=None) -> Iterator[callable]:
    """A reader of pending key input (timeout in seconds -> str, '' if none); the terminal in
    cbreak mode (keys unbuffered, not echoed, Ctrl-C as a key) while inside, restored after. A
    stream that is not a terminal (a pipe: scripted keys) is read as it is; '\\x04' marks its end."""
    stream = stream or sys.stdin
    fd = stream.fileno()
    tty_mode = os.isatty(fd)
    saved = termios.tcgetattr(fd) if tty_mode else None
    if tty_mode:
        tty.setcbreak(fd)
        attrs = termios.tcgetattr(fd)
        attrs[3] &= ~termios.ISIG  # Ctrl-C is a key: the session ends through QUIT, episode kept
        termios.tcsetattr(fd, termios.TCSANOW, attrs)

    def read(timeout: float) -> str:
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return ""
        data = os.read(fd, 64)
        return data.decode(errors="replace") if data else "\x04"  # end of a piped stream

    try:
        yield read
    finally:
        if saved is not None:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
