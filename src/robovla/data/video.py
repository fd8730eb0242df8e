"""Video files that hold many episodes back to back (LeRobot v3 packs hundreds into one mp4).

Why not decode a file whole: a published dataset's mp4 is 200-500 MB of compressed video, tens of
GB once decoded. `VideoReader` decodes only the frames an episode asks for, in chunks, and keeps
its position so the next episode of the same file continues without a seek; `VideoWriter` appends
episodes to a file and says where each one starts, so files rotate at a size limit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


class VideoError(ValueError):
    """A video that cannot give the frames asked for; the message names the file and the times."""


class VideoWriter:
    """Append frames of successive episodes to one constant-rate mp4 (h264/AV1, yuv420p)."""

    def __init__(self, path: str | Path, fps: int, width: int, height: int, *, codec: str = "libx264",
                 crf: int = 18, gop: int = 2) -> None:
        import av

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fps = int(fps)
        self.frames = 0
        self.bytes = 0
        self._container = av.open(str(self.path), mode="w")
        self._stream = self._container.add_stream(codec, rate=self.fps)
        self._stream.width, self._stream.height = int(width), int(height)
        self._stream.pix_fmt = "yuv420p"
        self._stream.codec_context.time_base = Fraction(1, self.fps)
        opts = {"g": str(gop)}
        if crf is not None:
            opts["crf"] = str(crf)
        self._stream.options = opts

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps

    def write(self, frames: np.ndarray) -> None:
        """Append (n, H, W, 3) uint8 RGB frames; their times continue from the last frame written."""
        import av

        for img in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            frame.pts = self.frames
            frame.time_base = Fraction(1, self.fps)
            self.frames += 1
            self._mux(self._stream.encode(frame))

    def _mux(self, packets: list) -> None:
        for packet in packets:
            self.bytes += packet.size
            self._container.mux(packet)

    def close(self) -> None:
        if self._container is None:
            return
        self._mux(self._stream.encode())
        self._container.close()
        self._container = None


class VideoReader:
    """Frames of one video file at given times, decoded forward in chunks from the nearest keyframe.

    A request that starts at or shortly after the current position continues decoding (the common
    case: episodes read in file order), otherwise the reader seeks to the keyframe before it. Only
    the frames of the request and one look-ahead frame are held.
    """

    #: continue decoding instead of seeking when the request starts at most this far ahead
    SEEK_AHEAD_S = 2.0

    def __init__(self, path: str | Path) -> None:
        import av

        self.path = Path(path)
        if not self.path.is_file():
            raise VideoError(f"video {self.path} does not exist")
        try:
            self._container = av.open(str(self.path))
            self._stream = self._container.streams.video[0]
        except (av.FFmpegError, IndexError) as exc:
            raise VideoError(f"cannot open video {self.path}: {exc}") from exc
        self._stream.thread_type = "AUTO"
        from av.video.reformatter import VideoReformatter

        self._rgb = VideoReformatter()  # one cached swscale context: 3x faster than frame.to_ndarray(format=...)
        self._tb = float(self._stream.time_base)
        self._frames: Iterator | None = None
        self._pending: tuple[float, object] | None = None  # decoded, not yet consumed
        self._last_t = -np.inf  # time of the last frame taken from the decoder
        self.decoded = 0  # frames decoded so far (tests and benchmarks read it)
        self.seeks = 0

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _seek(self, t: float) -> None:
        import av

        try:
            self._container.seek(max(0, int(round(t / self._tb)) - 1), stream=self._stream, backward=True,
                                 any_frame=False)
        except av.FFmpegError as exc:
            raise VideoError(f"cannot seek {self.path} to {t:.3f} s: {exc}") from exc
        self._frames = None
        self._pending = None
        self._last_t = -np.inf
        self.seeks += 1

    def _next(self) -> tuple[float, object] | None:
        import av

        if self._pending is not None:
            item, self._pending = self._pending, None
            return item
        if self._frames is None:
            self._frames = self._container.decode(self._stream)
        while True:
            try:
                frame = next(self._frames)
            except StopIteration:
                return None
            except av.FFmpegError as exc:
                raise VideoError(f"cannot decode {self.path}: {exc}") from exc
            if frame.pts is None:
                continue
            self.decoded += 1
            t = float(frame.pts * self._tb)
            self._last_t = t
            return t, frame

    def read(self, times: np.ndarray, tolerance_s: float, *, chunk: int = 64,
             convert: Callable[[np.ndarray], np.ndarray] | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (offset, frames) chunks: frames[i] is the frame at times[offset + i] (RGB uint8).

        times must be ascending (seconds in the file); a time with no frame within tolerance_s is a
        VideoError. convert (e.g. a resize) runs on each frame as it is decoded.
        """
        times = np.asarray(times, dtype=np.float64)
        if len(times) == 0:
            return
        if np.any(np.diff(times) < 0):
            raise VideoError(f"{self.path}: requested times are not ascending")
        first = float(times[0])
        if self._frames is None and self._pending is None:
            if first > self.SEEK_AHEAD_S:  # a fresh reader decodes from the start
                self._seek(first)
        elif self._pending is not None:
            if self._pending[0] > first + tolerance_s or first - self._pending[0] > self.SEEK_AHEAD_S:
                self._seek(first)
        elif self._last_t >= first - tolerance_s or first - self._last_t > self.SEEK_AHEAD_S:
            self._seek(first)
        buf: list[np.ndarray] = []
        offset = j = 0
        item = None
        while j < len(times):
            item = self._next()
            if item is None:
                raise VideoError(f"{self.path}: no frame at {times[j]:.4f} s (the video ends at "
                                 f"{self._last_t:.4f} s)")
            t, frame = item
            if t < times[j] - tolerance_s:
                continue  # before the request (decoded from the keyframe)
            if t > times[j] + tolerance_s:
                raise VideoError(f"{self.path}: no frame within {tolerance_s * 1e3:.1f} ms of {times[j]:.4f} s "
                                 f"(nearest decoded: {t:.4f} s)")
            img = self._rgb.reformat(frame, format="rgb24").to_ndarray()
            if convert is not None:
                img = convert(img)
            while j < len(times) and abs(t - times[j]) <= tolerance_s:  # repeated times share a frame
                buf.append(img)
                j += 1
                if len(buf) == chunk:
                    yield offset, np.stack(buf)
                    offset += len(buf)
                    buf = []
        if buf:
            yield offset, np.stack(buf)
        # the last frame may also start the next request (a repeated time): keep it
        if item is not None:
            self._pending = item


def video_codec(path: str | Path) -> str:
    """The codec as LeRobot's info.json names it (the stream's canonical name: h264, av1, ...)."""
    import av

    with av.open(str(path)) as c:
        return str(c.streams.video[0].codec_context.codec.canonical_name)


def video_duration_s(path: str | Path) -> float:
    """Duration as LeRobot measures it (stream duration, else container duration)."""
    import av

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        if s.duration is not None:
            return float(s.duration * s.time_base)
        return float(c.duration / av.time_base) if c.duration is not None else 0.0
