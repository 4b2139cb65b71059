"""Frame sources: video files, cameras, RTSP/HTTP URLs (OpenCV) and Python iterables.

Every source yields :class:`SourceFrame` objects (index, time, RGB image). File sources are
not live: the pipeline blocks on them and loses no frame. Cameras and URLs are live: frames
arrive on their own clock, and the pipeline keeps only the newest, counting every drop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from maskaudit.errors import ConfigError

logger = logging.getLogger(__name__)

MAX_BAD_FRAMES = 25
"""Consecutive undecodable frames after which a video file is taken to have ended."""


@dataclass
class SourceFrame:
    """One frame from a source.

    Attributes:
        index: Index of the frame in its source (counting dropped and bad frames).
        t: Time of the frame in seconds from the start of the source.
        image: uint8 RGB [H, W, 3] (or anything a bad frame holds), None when undecodable.
        error: Why the frame cannot be used, or None.
        decoded_at: ``time.perf_counter()`` when the frame was read (set by the pipeline).
    """

    index: int
    t: float
    image: Any
    error: str | None = None
    decoded_at: float = 0.0


class FrameSource(Protocol):
    """What the pipeline reads frames from."""

    name: str
    """How records name the source (``clip.mp4``, ``camera:0``, a URL)."""
    live: bool
    """Whether frames arrive on their own clock (drop the old ones) or on demand (block)."""
    fps: float | None
    """Nominal frame rate, None where unknown."""

    def __iter__(self) -> Iterator[SourceFrame]:
        """Yield frames in order."""
        ...

    def close(self) -> None:
        """Release the source."""
        ...


@dataclass(frozen=True)
class Reconnect:
    """How a live source reconnects when its stream stalls (a read fails).

    Attempt k (1-based) waits ``min(first_delay * factor ** (k - 1), max_delay)`` seconds, then
    reopens the target; every attempt is logged and counted (``CaptureSource.reconnects``, the
    summary's ``reconnects``). The count of attempts starts again after a frame is read. When
    ``attempts`` attempts in a row fail, the stream ends.

    Attributes:
        attempts: Attempts in a row before giving up; 0 ends the stream at the first failed
            read. Defaults to 5.
        first_delay: Wait before the first attempt, in seconds. Defaults to 0.5.
        factor: Growth of the wait from one attempt to the next. Defaults to 2.0.
        max_delay: Longest wait, in seconds. Defaults to 8.0.
    """

    attempts: int = 5
    first_delay: float = 0.5
    factor: float = 2.0
    max_delay: float = 8.0

    def delay(self, attempt: int) -> float:
        """Return the wait before attempt ``attempt`` (1-based), in seconds."""
        return min(self.first_delay * self.factor ** (attempt - 1), self.max_delay)


class CaptureSource:
    """Frames from ``cv2.VideoCapture``: a video file, a camera index or a stream URL.

    Times come from the frame index and the frame rate for files (exact for constant frame
    rates), and from ``CAP_PROP_POS_MSEC`` for live sources (the wall clock since the first
    frame where the capture reports none). A live source's times only go forward: a stream
    whose clock starts again after a reconnect continues from its last time.

    A video file must give at least one frame when it is opened. A file whose frames stop
    decoding (a truncated file) gives frames with an ``error`` for the frames its header
    announces, up to ``MAX_BAD_FRAMES`` in a row, then ends with a warning. A camera or URL whose
    read fails reconnects as ``reconnect`` says, and ends when the attempts run out (a file
    read as live ends at its end).

    Args:
        target: A file path, a camera index or a URL.
        live: Whether the source is live. Defaults to None: cameras and URLs are live, files
            are not.
        name: The records' ``source``. Defaults to None: the file name, ``camera:<i>`` or the
            URL.
        reconnect: Reconnection of a live source. Defaults to None: ``Reconnect()``.
        opener: Opens the target (``cv2.VideoCapture`` or an object with its ``isOpened``,
            ``read``, ``get`` and ``release``). Defaults to ``cv2.VideoCapture``.

    Raises:
        ConfigError: If the file does not exist, OpenCV cannot open the target, or a video
            file has no frame.
    """

    def __init__(
        self,
        target: str | int | Path,
        live: bool | None = None,
        name: str | None = None,
        reconnect: Reconnect | None = None,
        opener: Callable[[Any], Any] | None = None,
    ):
        is_url = isinstance(target, str) and "://" in target
        is_camera = isinstance(target, int)
        if not (is_url or is_camera):
            path = Path(target)
            if not path.is_file():
                raise ConfigError(f"video {path} does not exist: check the path given to --video")
            target = str(path)
            default_name = path.name
        else:
            default_name = f"camera:{target}" if is_camera else str(target)
        self.target = target
        self.reconnectable = is_url or is_camera
        self.opener = opener or cv2.VideoCapture
        self.reconnect = reconnect or Reconnect()
        self.reconnects = 0
        self._interrupted = threading.Event()
        self.capture = self.opener(target)
        if not self.capture.isOpened():
            what = "camera" if is_camera else ("stream" if is_url else "video")
            fix = (
                "check that the camera is connected and not in use"
                if is_camera
                else "check the URL and that the stream is up"
                if is_url
                else "it is not a video OpenCV can decode; convert it with ffmpeg -i IN OUT.mp4"
            )
            raise ConfigError(f"{what} {target} cannot be opened: {fix}")
        self.name = name or default_name
        self.live = (is_url or is_camera) if live is None else bool(live)
        fps = float(self.capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 0.0 < fps < 1000.0 else None
        count = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count = count if count > 0 and not self.live else None
        self._first: Any = None
        if not self.live:
            ok, self._first = self.capture.read()
            if not ok:
                self.capture.release()
                raise ConfigError(
                    f"video {target} has no frame OpenCV can decode (empty or damaged): check "
                    "the file, or re-encode it with ffmpeg -i IN OUT.mp4"
                )

    def _time(self, index: int, start: float) -> float:
        """Return the frame's time in seconds."""
        if not self.live and self.fps:
            return index / self.fps
        msec = float(self.capture.get(cv2.CAP_PROP_POS_MSEC) or 0.0)
        if msec > 0.0:
            return msec / 1000.0
        return index / self.fps if (self.fps and not self.live) else time.monotonic() - start

    def _read(self) -> tuple[bool, Any]:
        """Read the next frame (the one read at opening first)."""
        if self._first is not None:
            image, self._first = self._first, None
            return True, image
        return self.capture.read()

    def _reopen(self) -> tuple[bool, Any]:
        """Reconnect a stalled live source with backoff; return its first frame, if any."""
        for attempt in range(1, self.reconnect.attempts + 1):
            delay = self.reconnect.delay(attempt)
            self.reconnects += 1
            logger.warning(
                "%s stalled: reconnect attempt %d of %d in %.2f s",
                self.name,
                attempt,
                self.reconnect.attempts,
                delay,
            )
            if self._interrupted.wait(delay):
                return False, None
            self.capture.release()
            try:
                self.capture = self.opener(self.target)
                ok, image = self.capture.read() if self.capture.isOpened() else (False, None)
            except Exception as err:  # noqa: BLE001 - a failed attempt, whatever the driver says
                logger.warning("%s: reconnect attempt %d failed: %s", self.name, attempt, err)
                continue
            if ok:
                logger.warning("%s: reconnected at attempt %d", self.name, attempt)
                return True, image
        if self.reconnect.attempts:
            logger.error(
                "%s: no frame after %d reconnect attempts; the stream ends",
                self.name,
                self.reconnect.attempts,
            )
        return False, None

    def __iter__(self) -> Iterator[SourceFrame]:
        start = time.monotonic()
        index, bad = 0, 0
        offset, last = 0.0, -1.0
        while not self._interrupted.is_set():
            ok, image = self._read()
            if not ok and self.live and self.reconnectable and not self._interrupted.is_set():
                ok, image = self._reopen()
            if not ok:
                more = self.frame_count is not None and index < self.frame_count
                if not more or bad >= MAX_BAD_FRAMES:
                    if more:
                        logger.warning(
                            "%s ends after frame %d of the %d its header announces: the file "
                            "is truncated or damaged",
                            self.name,
                            index - bad - 1,
                            self.frame_count,
                        )
                    return
                bad += 1
                t = index / self.fps if self.fps else 0.0
                yield SourceFrame(index, t, None, f"frame {index} of {self.name} cannot be decoded")
                index += 1
                continue
            bad = 0
            rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if image.ndim == 3 else image
            t = self._time(index, start) + offset
            if self.live and t <= last:  # the stream restarted its clock (a reconnect)
                step = 1.0 / self.fps if self.fps else 1e-3
                offset += last + step - t
                t = last + step
            last = t
            yield SourceFrame(index, t, rgb)
            index += 1

    def interrupt(self) -> None:
        """Make a running iteration end soon (a reconnect wait ends at once); thread-safe."""
        self._interrupted.set()

    def close(self) -> None:
        """Release the capture."""
        self._interrupted.set()
        self.capture.release()


class IterableSource:
    """Frames from a Python iterable of RGB arrays (or of ``(t, array)`` pairs).

    Args:
        frames: The frames, in order.
        fps: Frame rate used for times when the iterable gives none. Defaults to 25.0.
        live: Whether the frames arrive on their own clock. Defaults to False.
        name: The records' ``source``. Defaults to ``"frames"``.
    """

    def __init__(
        self,
        frames: Iterable[Any],
        fps: float = 25.0,
        live: bool = False,
        name: str = "frames",
    ) -> None:
        self.frames = frames
        self.fps = float(fps)
        self.live = live
        self.name = name

    def __iter__(self) -> Iterator[SourceFrame]:
        for index, item in enumerate(self.frames):
            if isinstance(item, SourceFrame):
                yield item
            elif isinstance(item, tuple) and len(item) == 2 and np.isscalar(item[0]):
                yield SourceFrame(index, float(item[0]), item[1])
            else:
                yield SourceFrame(index, index / self.fps, item)

    def close(self) -> None:
        """Close the iterable when it is a generator."""
        close = getattr(self.frames, "close", None)
        if callable(close):
            close()


def open_source(
    source: Any, name: str | None = None, reconnect: Reconnect | None = None
) -> FrameSource:
    """Open what ``Auditor.stream`` accepts as a frame source.

    Args:
        source: A frame source (returned as is), a video file path, a camera index (int or a
            string of digits), an ``rtsp://`` / ``http(s)://`` URL, or an iterable of frames.
        name: The records' ``source``. Defaults to None (derived from ``source``).
        reconnect: How a camera or URL reconnects when it stalls. Defaults to None:
            ``Reconnect()``.

    Returns:
        The frame source.

    Raises:
        ConfigError: If the file is missing or the target cannot be opened.
    """
    if hasattr(source, "live") and hasattr(source, "__iter__") and hasattr(source, "close"):
        return source
    if isinstance(source, int) or (isinstance(source, str) and source.isdigit()):
        return CaptureSource(int(source), name=name, reconnect=reconnect)
    if isinstance(source, str | Path):
        return CaptureSource(str(source), name=name, reconnect=reconnect)
    if isinstance(source, Iterable):
        return IterableSource(source, name=name or "frames")
    raise ConfigError(
        f"cannot read frames from a {type(source).__name__}: pass a video path, a camera "
        "index, a URL or an iterable of RGB frames"
    )
