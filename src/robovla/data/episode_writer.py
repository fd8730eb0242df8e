"""Crash-safe writing of one demonstration episode as a rosbag2 (MCAP) bag directory.

Layout of a recording root::

    <root>/<episode_id>/                 finished episodes (metadata.yaml + <episode_id>.mcap)
    <root>/_incomplete/<episode_id>/     the episode being recorded (or one whose recorder died)

Why: a demo is expensive, so a killed recorder must never cost a finished episode. An episode is
written under `_incomplete/` and moved into place with one atomic rename only after the MCAP
footer and metadata.yaml are on disk, so a finished episode is either complete or absent. While
recording, the MCAP chunk buffer is flushed to disk every `flush_interval_s`, so an interrupted
episode can be salvaged up to the last flush with :func:`recover_incomplete`; the salvaged bag is
clearly marked (custom_data ``robovla.incomplete: "true"``, metadata ``finished: false``).

One time base per bag: the two /robovla/episode_metadata messages are stamped on the data's own
clock (the first and the last data stamp), never the wall clock, so metadata.yaml's duration is
the data's span whether the data is stamped with wall time, sim time or an offline origin
(messages.BAG_T0_NS); `ros2 bag play` would otherwise wait out the gap. Topics carry the graph's
offered QoS and the real distro (robovla.data.bagfile).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import struct
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from robovla.data.bagfile import BagWriter
from robovla.data.metadata import CUSTOM_DATA_KEY, METADATA_TOPIC, METADATA_TYPE, EpisodeMetadata
from robovla.data.typestore import typestore

log = logging.getLogger(__name__)

INCOMPLETE_DIR = "_incomplete"
_EPISODE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def new_episode_id(prefix: str = "episode") -> str:
    return f"{prefix}_{time.strftime('%Y%m%d_%H%M%S')}_{int(time.time_ns() % 1_000_000_000 // 1000):06d}"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class EpisodeWriter:
    """Writes one episode; `finish()` publishes it atomically, `abort()` leaves it marked incomplete.

    The start metadata is written with the first data message, on its stamp; `clock` (ns, the
    clock the data is stamped with: a node clock, sim time) stamps the metadata of an episode
    that ends with no data at all.
    """

    def __init__(self, root: str | Path, metadata: EpisodeMetadata, *, flush_interval_s: float = 1.0,
                 fsync: bool = True, clock: Callable[[], int] = time.time_ns) -> None:
        if not _EPISODE_ID.match(metadata.episode_id):
            raise ValueError(f"episode id {metadata.episode_id!r} must match {_EPISODE_ID.pattern}")
        self.root = Path(root)
        self.metadata = replace(metadata, finished=False)
        self.final_path = self.root / metadata.episode_id
        self.partial_path = self.root / INCOMPLETE_DIR / metadata.episode_id
        if self.final_path.exists() or self.partial_path.exists():
            raise FileExistsError(f"episode {metadata.episode_id!r} already exists under {self.root}")
        self.partial_path.parent.mkdir(parents=True, exist_ok=True)
        self.flush_interval_s = flush_interval_s
        self.fsync = fsync
        self._store = typestore()
        self._clock = clock
        self._writer = BagWriter(self.partial_path)
        self._writer.open()
        self._conns: dict[tuple[str, str], Any] = {}
        self._last_flush = time.monotonic()
        self.message_count = 0
        self.first_ns: int | None = None  # data stamps (the metadata messages excluded)
        self.last_ns: int | None = None
        self._started = False  # start metadata written
        self._closed = False

    def _connection(self, topic: str, msgtype: str) -> Any:
        key = (topic, msgtype)
        conn = self._conns.get(key)
        if conn is None:
            if msgtype not in self._store.types:
                raise KeyError(f"message type {msgtype!r} (topic {topic}) is not in the robovla typestore")
            conn = self._writer.add_connection(topic, msgtype, typestore=self._store)
            self._conns[key] = conn
        return conn

    def write(self, topic: str, msgtype: str, msg: Any, stamp_ns: int) -> None:
        """Serialise and write a rosbags message object (stamp = receive time, ns)."""
        self.write_raw(topic, msgtype, self._store.serialize_cdr(msg, msgtype), stamp_ns)

    def write_raw(self, topic: str, msgtype: str, cdr: bytes | memoryview, stamp_ns: int) -> None:
        """Write an already CDR-serialised message (what an rclpy raw subscription delivers)."""
        if self._closed:
            raise RuntimeError(f"episode {self.metadata.episode_id} is already closed")
        stamp_ns = int(stamp_ns)
        if not self._started:
            self._write_metadata(self.metadata, stamp_ns)
        self._put(topic, msgtype, cdr, stamp_ns)
        self.first_ns = stamp_ns if self.first_ns is None else min(self.first_ns, stamp_ns)
        self.last_ns = stamp_ns if self.last_ns is None else max(self.last_ns, stamp_ns)
        if time.monotonic() - self._last_flush >= self.flush_interval_s:
            self.flush()

    def _put(self, topic: str, msgtype: str, cdr: bytes | memoryview, stamp_ns: int) -> None:
        self._writer.write(self._connection(topic, msgtype), stamp_ns, cdr)
        self.message_count += 1

    def _write_metadata(self, meta: EpisodeMetadata, stamp_ns: int) -> None:
        self._put(METADATA_TOPIC, METADATA_TYPE, self._store.serialize_cdr(meta.to_msg(stamp_ns), METADATA_TYPE),
                  stamp_ns)
        self._started = True

    def flush(self) -> None:
        """Push the buffered MCAP chunk to disk so a crash loses at most the last interval."""
        storage = self._writer.storage
        if storage is None:
            return
        chunk = getattr(storage, "chunk", None)
        if chunk is not None and chunk.bio.tell():
            storage.close_chunk()
        storage.bio.flush()
        if self.fsync:
            os.fsync(storage.bio.fileno())
        self._last_flush = time.monotonic()

    @property
    def closed(self) -> bool:
        """Finished or aborted: nothing more is written."""
        return self._closed

    def finish(self, success: bool, operator_notes: str | None = None, **extra: Any) -> Path:
        """Write the final metadata, close the bag and move it into place atomically."""
        meta = replace(self.metadata, finished=True, success=bool(success))
        if operator_notes is not None:
            meta.operator_notes = operator_notes
        meta.extra = {**meta.extra, **extra}
        if self._closed:
            raise RuntimeError(f"episode {meta.episode_id} is already closed")
        end_ns = self.last_ns if self.last_ns is not None else int(self._clock())
        if not self._started:  # no data: both markers at the clock's now
            self._write_metadata(self.metadata, end_ns)
        self._write_metadata(meta, end_ns)
        self.metadata = meta
        self._writer.set_custom_data(CUSTOM_DATA_KEY, meta.to_json())
        self._writer.set_custom_data("robovla.incomplete", "false")
        self._writer.close()
        self._closed = True
        if self.fsync:
            for f in self.partial_path.iterdir():
                with open(f, "rb") as fh:
                    os.fsync(fh.fileno())
            _fsync_dir(self.partial_path)
        os.rename(self.partial_path, self.final_path)
        if self.fsync:
            _fsync_dir(self.root)
        log.info("episode %s written to %s (%d messages)", meta.episode_id, self.final_path, self.message_count)
        return self.final_path

    def abort(self) -> Path:
        """Stop without finalising: data so far stays under _incomplete/ for recover_incomplete()."""
        if not self._closed:
            self.flush()
            self._writer.abort()
            self._closed = True
        log.warning("episode %s aborted; partial data left in %s", self.metadata.episode_id, self.partial_path)
        return self.partial_path

    def __enter__(self) -> EpisodeWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if not self._closed:
            self.abort()


# --- salvage of interrupted recordings -------------------------------------------------------------

_MAGIC = b"\x89MCAP0\r\n"


def _string(buf: bytes, pos: int) -> tuple[str, int]:
    (n,) = struct.unpack_from("<I", buf, pos)
    return buf[pos + 4 : pos + 4 + n].decode(), pos + 4 + n


def _records(buf: bytes, pos: int, end: int) -> Any:
    """Yield (opcode, body) for every COMPLETE record in buf[pos:end]; stop at a truncated one."""
    while pos + 9 <= end:
        op = buf[pos]
        (length,) = struct.unpack_from("<Q", buf, pos + 1)
        body_end = pos + 9 + length
        if body_end > end:
            return
        yield op, buf[pos + 9 : body_end]
        pos = body_end


def scan_partial_mcap(path: Path) -> tuple[dict[int, tuple[str, str]], list[tuple[int, int, bytes]]]:
    """Read what a killed writer left: channels {id: (topic, msgtype)} and [(channel, log_ns, cdr)]."""
    buf = path.read_bytes()
    if not buf.startswith(_MAGIC):
        raise ValueError(f"{path} is not an MCAP file (bad magic)")
    schemas: dict[int, str] = {}
    channels: dict[int, tuple[str, str]] = {}
    messages: list[tuple[int, int, bytes]] = []

    def handle(op: int, body: bytes) -> bool:
        if op == 0x03:  # schema
            (sid,) = struct.unpack_from("<H", body, 0)
            schemas[sid], _ = _string(body, 2)
        elif op == 0x04:  # channel
            cid, sid = struct.unpack_from("<HH", body, 0)
            topic, _ = _string(body, 4)
            channels[cid] = (topic, schemas.get(sid, ""))
        elif op == 0x05:  # message
            cid, _seq, log_ns = struct.unpack_from("<HIQ", body, 0)
            messages.append((cid, log_ns, body[22:]))
        elif op == 0x02:  # footer
            return False
        return True

    for op, body in _records(buf, len(_MAGIC), len(buf)):
        if op == 0x06:  # chunk: start, end, uncompressed size, crc, compression, records
            compression, p = _string(body, 28)
            (n,) = struct.unpack_from("<Q", body, p)
            if compression:
                log.warning("%s: skipping a %s-compressed chunk during salvage", path, compression)
                continue
            inner = body[p + 8 : p + 8 + n]
            for iop, ibody in _records(inner, 0, len(inner)):
                handle(iop, ibody)
        elif not handle(op, body):
            break
    return channels, messages


def recover_incomplete(root: str | Path) -> list[Path]:
    """Salvage every interrupted episode under <root>/_incomplete into a readable, marked bag.

    Returns the recovered bag directories. A partial episode with no message beyond its header is
    left in place (with a warning) rather than turned into an empty bag.
    """
    root = Path(root)
    recovered: list[Path] = []
    inc = root / INCOMPLETE_DIR
    if not inc.is_dir():
        return recovered
    store = typestore()
    for partial in sorted(p for p in inc.iterdir() if p.is_dir() and not p.name.startswith(".")):
        mcaps = sorted(partial.glob("*.mcap"))
        if not mcaps:
            log.warning("incomplete episode %s has no .mcap file; left in place", partial)
            continue
        try:
            channels, messages = scan_partial_mcap(mcaps[0])
        except (ValueError, struct.error) as exc:
            log.error("cannot salvage incomplete episode %s: %s", partial, exc)
            continue
        if not messages:
            log.warning("incomplete episode %s holds no complete message; left in place", partial)
            continue
        meta = EpisodeMetadata(episode_id=partial.name)
        for cid, _, data in messages:
            if channels.get(cid, ("", ""))[1] == METADATA_TYPE:
                meta = EpisodeMetadata.from_msg(store.deserialize_cdr(data, METADATA_TYPE))
        meta = replace(meta, finished=False, success=False,
                       operator_notes=(meta.operator_notes + " [recovered from an interrupted recording]").strip())
        target = root / partial.name
        tmp = inc / ".recovering" / partial.name  # same basename: the MCAP file is named after it
        tmp.parent.mkdir(exist_ok=True)
        if tmp.exists():
            shutil.rmtree(tmp)
        with BagWriter(tmp) as w:  # the graph's QoS per topic, whatever the partial file held
            conns: dict[int, Any] = {}
            for cid, (topic, msgtype) in channels.items():
                if msgtype in store.types:
                    conns[cid] = w.add_connection(topic, msgtype, typestore=store)
                else:
                    log.warning("%s: dropping topic %s of unknown type %r", partial, topic, msgtype)
            last = 0
            for cid, ns, data in messages:
                if cid in conns:
                    w.write(conns[cid], ns, data)
                    last = max(last, ns)
            meta_conn = next((c for c in conns.values() if c.msgtype == METADATA_TYPE), None)
            if meta_conn is None:
                meta_conn = w.add_connection(METADATA_TOPIC, METADATA_TYPE, typestore=store)
            w.write(meta_conn, last, store.serialize_cdr(meta.to_msg(last), METADATA_TYPE))
            w.set_custom_data(CUSTOM_DATA_KEY, meta.to_json())
            w.set_custom_data("robovla.incomplete", "true")
        if target.exists():
            log.error("cannot place recovered episode %s: %s exists; left in %s", partial.name, target, tmp)
            continue
        os.rename(tmp, target)
        shutil.rmtree(partial)
        log.warning("recovered interrupted episode %s (%d messages) -> %s (marked incomplete)",
                    partial.name, len(messages), target)
        recovered.append(target)
    return recovered
