"""The summary of a stream: counts, drops, throughput and latency percentiles."""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from maskaudit.runtime.sinks.base import FrameResult

RESERVOIR = 20000
"""Frame latencies kept for percentiles (a uniform sample of the whole stream)."""


@dataclass
class StreamSummary:
    """Totals of one stream.

    Attributes:
        source: The frame source's name.
        frames: Frames processed (dropped frames are not processed).
        verdicts: Verdict records written.
        errors: Records whose status is an error.
        dropped: Frames a live source dropped because the auditor was busy.
        seconds: Wall time from the first to the last frame processed.
        fps: Frames processed per second of wall time.
        latency_ms: ``p50``, ``p90``, ``p99`` of the frame's processing time (``total``) and
            ``queue_p50`` of its wait between decoding and processing.
        backend: The backend that ran.
        precision: The precision that ran.
        backend_note: Why the backend is not the one asked for, if so.
        bundle: The bundle that ran (``<folder>@<manifest sha256 prefix>``), "" if unknown.
        reconnects: Reconnect attempts of a live source that stalled.
        stopped: Why the stream ended before its source did (``"SIGINT"``), "" if it did not.
    """

    source: str = ""
    frames: int = 0
    verdicts: int = 0
    errors: int = 0
    dropped: int = 0
    seconds: float = 0.0
    fps: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)
    backend: str = ""
    precision: str = ""
    backend_note: str = ""
    bundle: str = ""
    reconnects: int = 0
    stopped: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as a JSON-ready dict."""
        return asdict(self)

    def format(self) -> str:
        """Return the summary as one line for a terminal."""
        lat = self.latency_ms
        latency = (
            f"latency p50 {lat['p50']:.1f} ms, p90 {lat['p90']:.1f} ms, p99 {lat['p99']:.1f} ms"
            if lat
            else "no latency"
        )
        events = f", {self.reconnects} reconnect attempts" if self.reconnects else ""
        events += f", stopped by {self.stopped}" if self.stopped else ""
        return (
            f"{self.source}: {self.frames} frames, {self.verdicts} verdicts, "
            f"{self.errors} errors, {self.dropped} dropped{events}, {self.fps:.1f} fps, "
            f"{latency} ({self.backend} {self.precision})"
        )


class SummaryCollector:
    """Builds a :class:`StreamSummary` from the frames of a stream, in bounded memory.

    Args:
        source: The frame source's name.
        backend: The backend that runs.
        precision: The precision that runs.
        backend_note: The backend's note. Defaults to "".
        bundle: The bundle's id. Defaults to "".
    """

    def __init__(
        self,
        source: str,
        backend: str,
        precision: str,
        backend_note: str = "",
        bundle: str = "",
    ) -> None:
        self.summary = StreamSummary(
            source=source,
            backend=backend,
            precision=precision,
            backend_note=backend_note,
            bundle=bundle,
        )
        self._total: list[float] = []
        self._queue: list[float] = []
        self._random = random.Random(0)
        self._start: float | None = None
        self._end: float | None = None

    def _keep(self, values: list[float], value: float, seen: int) -> None:
        """Reservoir-sample ``value`` into ``values``."""
        if len(values) < RESERVOIR:
            values.append(value)
        else:
            slot = self._random.randrange(seen)
            if slot < RESERVOIR:
                values[slot] = value

    def write(self, result: FrameResult) -> None:
        """Count one frame."""
        now = time.perf_counter()
        if self._start is None:
            self._start = now - result.latency_ms.get("total", 0.0) / 1e3
        self._end = now
        s = self.summary
        s.frames += 1
        s.verdicts += len(result.verdicts)
        s.errors += sum(not v.ok for v in result.verdicts)
        s.dropped = max(s.dropped, result.dropped)
        self._keep(self._total, result.latency_ms.get("total", 0.0), s.frames)
        self._keep(self._queue, result.latency_ms.get("queue", 0.0), s.frames)

    def close(
        self, dropped: int | None = None, reconnects: int = 0, stopped: str = ""
    ) -> StreamSummary:
        """Finish and return the summary.

        Args:
            dropped: The final count of dropped frames (drops after the last processed frame
                count too). Defaults to None: the count seen on the last frame.
            reconnects: Reconnect attempts of the source. Defaults to 0.
            stopped: Why the stream was stopped early. Defaults to "": it was not.
        """
        s = self.summary
        s.reconnects = int(reconnects)
        s.stopped = stopped
        if dropped is not None:
            s.dropped = max(s.dropped, dropped)
        if self._start is not None and self._end is not None:
            s.seconds = max(self._end - self._start, 1e-9)
            s.fps = s.frames / s.seconds
        if self._total:
            p50, p90, p99 = np.percentile(self._total, [50, 90, 99])
            s.latency_ms = {
                "p50": round(float(p50), 3),
                "p90": round(float(p90), 3),
                "p99": round(float(p99), 3),
                "queue_p50": round(float(np.percentile(self._queue, 50)), 3),
            }
        return s
