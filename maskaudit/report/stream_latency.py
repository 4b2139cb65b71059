"""Per-frame latency of a short stream through the runtime.

A sample clip (the demo's synthetic scene, see :mod:`maskaudit.data.sample_clip`) is rendered
to a video file with its WAV, and streamed through
:meth:`maskaudit.runtime.auditor.Auditor.stream` with the same candidate masks on every frame.
Each frame's ``latency_ms["total"]`` (from the frame's arrival to its verdicts: preprocessing,
the graphs, the policy) is recorded.
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maskaudit.report.numbers import latency_percentiles

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamSettings:
    """The stream the report times.

    Attributes:
        seconds: Length of the stream in seconds; 0 skips it. Defaults to 10.
        fps: Frame rate of the video. Defaults to 25.
        size: (width, height) of the video. Defaults to (640, 360).
        candidates: Candidate masks audited on every frame (1 to 4). Defaults to 1.
    """

    seconds: float = 10.0
    fps: float = 25.0
    size: tuple[int, int] = (640, 360)
    candidates: int = 1

    @property
    def frames(self) -> int:
        """Frames the stream is timed on (at least one unless ``seconds`` is 0)."""
        if self.seconds <= 0:
            return 0
        return max(1, round(self.seconds * self.fps))


def time_stream(auditor: Any, settings: StreamSettings, workdir: Path | None = None) -> dict:
    """Stream a rendered sample clip through an auditor and record each frame's latency.

    Args:
        auditor: A loaded :class:`~maskaudit.runtime.auditor.Auditor`.
        settings: The stream (its ``seconds`` must be above 0).
        workdir: Folder for the rendered clip. Defaults to None: a temporary folder, removed
            afterwards.

    Returns:
        ``{"settings": {...}, "backend", "precision", "frames", "wall_seconds",
        "real_time_factor", "latency_ms": [per frame], "model_ms": [per frame],
        "summary": {"total": percentiles, "model": percentiles}}`` (see
        :func:`~maskaudit.report.numbers.latency_percentiles`).
    """
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="maskaudit-report-") as tmp:
            return time_stream(auditor, settings, Path(tmp))
    from maskaudit.data.sample_clip import CLIP_SECONDS, write_sample_clip

    wanted = settings.frames
    loops = max(1, math.ceil(wanted / (settings.fps * CLIP_SECONDS)))
    clip = write_sample_clip(workdir, size=settings.size, fps=settings.fps, loops=loops)
    masks = dict(list(clip.masks.items())[: max(1, settings.candidates)])
    run = auditor.stream(
        str(clip.video), lambda frame, index, t: masks, str(clip.audio), clip.expression
    )
    total: list[float] = []
    model: list[float] = []
    started = time.perf_counter()
    wall = math.nan
    for result in run.results():
        if len(total) < wanted:
            total.append(float(result.latency_ms.get("total", math.nan)))
            model.append(float(result.latency_ms.get("model", math.nan)))
            if len(total) == wanted:
                wall = time.perf_counter() - started
                run.stop("report: enough frames")
    if math.isnan(wall):
        wall = time.perf_counter() - started
    seconds = len(total) / settings.fps
    logger.info("stream: %d frames in %.2f s", len(total), wall)
    return {
        "settings": {
            "seconds": settings.seconds,
            "fps": settings.fps,
            "size": list(settings.size),
            "candidates": len(masks),
        },
        "backend": auditor.backend_name,
        "precision": auditor.precision,
        "frames": len(total),
        "wall_seconds": wall,
        "real_time_factor": seconds / wall if wall > 0 else math.nan,
        "latency_ms": total,
        "model_ms": model,
        "summary": {"total": latency_percentiles(total), "model": latency_percentiles(model)},
    }
