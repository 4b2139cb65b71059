"""Soak: a long stream whose memory must stay flat and whose latency must not drift.

A sample clip is rendered once (its 10-s scene looped to the requested length) and streamed
through the runtime from the video file, with several candidate masks on every frame and every
verdict written to a JSON-lines file. While it runs, the process's resident memory is sampled
every ``sample_every`` frames. The result says whether a record was lost (records read back
from the file against frames x candidates), how much memory grew after warm-up, and how the
latency percentiles of the first and last segments compare.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

MAX_GROWTH_MB = 50.0
"""Largest accepted growth of resident memory after warm-up, in MB."""

MAX_DRIFT = 1.25
"""Largest accepted ratio of the last segment's p50 latency to the first's."""


def resident_mb() -> float:
    """Return the process's resident set size in MB (from ``/proc``; 0.0 where unavailable)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    try:  # pragma: no cover - not Linux
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    except (ImportError, OSError):  # pragma: no cover
        return 0.0


@dataclass
class SoakResult:
    """What a soak run measured.

    Attributes:
        frames: Frames streamed.
        candidates: Candidate masks on every frame.
        records: Verdict records read back from the JSON-lines file.
        errors: Records whose ``status`` is not ``ok``.
        wall_seconds: Wall time of the stream (rendering excluded).
        warmup_frames: Frames before the memory baseline is taken.
        rss_mb: ``[frame, resident MB]`` samples.
        rss_baseline_mb: Resident memory at the end of warm-up.
        rss_peak_mb: Highest resident memory after warm-up.
        rss_growth_mb: ``rss_peak_mb - rss_baseline_mb``.
        segments: Per segment of frames: first frame, p50/p90/p99 of total latency in ms.
        drift: Last segment's p50 over the first segment's (both after warm-up).
    """

    frames: int
    candidates: int
    records: int
    errors: int
    wall_seconds: float
    warmup_frames: int
    rss_mb: list[list[float]] = field(default_factory=list)
    rss_baseline_mb: float = 0.0
    rss_peak_mb: float = 0.0
    rss_growth_mb: float = 0.0
    segments: list[dict[str, float]] = field(default_factory=list)
    drift: float = float("nan")

    @property
    def lost(self) -> int:
        """Records missing from the file (frames x candidates minus records read back)."""
        return self.frames * self.candidates - self.records

    def passed(
        self, max_growth_mb: float = MAX_GROWTH_MB, max_drift: float = MAX_DRIFT
    ) -> dict[str, bool]:
        """Check the result against the soak's targets.

        Args:
            max_growth_mb: Largest accepted memory growth. Defaults to ``MAX_GROWTH_MB`` (50).
            max_drift: Largest accepted latency drift ratio. Defaults to ``MAX_DRIFT`` (1.25).

        Returns:
            ``{"nothing_lost", "no_errors", "memory_flat", "latency_steady"}`` to booleans.
        """
        return {
            "nothing_lost": self.lost == 0,
            "no_errors": self.errors == 0,
            "memory_flat": self.rss_growth_mb < max_growth_mb,
            "latency_steady": bool(self.drift <= max_drift),
        }

    def to_dict(self) -> dict:
        """Return the result, the loss count and the checks as a JSON-ready dict."""
        data = asdict(self)
        data["lost"] = self.lost
        data["checks"] = self.passed()
        return data


def _segments(latency: np.ndarray, start: int, size: int) -> list[dict[str, float]]:
    """Latency percentiles of consecutive segments of ``size`` frames from ``start``."""
    rows = []
    for first in range(start, len(latency), size):
        part = latency[first : first + size]
        if len(part) < max(10, size // 2):
            break
        p50, p90, p99 = (float(v) for v in np.percentile(part, [50, 90, 99]))
        rows.append(
            {"first_frame": first, "p50": round(p50, 3), "p90": round(p90, 3), "p99": round(p99, 3)}
        )
    return rows


def run_soak(
    frames: int,
    candidates: int = 4,
    size: tuple[int, int] = (320, 180),
    fps: float = 25.0,
    bundle: str | Path | None = None,
    backend: str = "ort-cpu",
    precision: str = "int8",
    threads: int | None = None,
    warmup_frames: int = 500,
    sample_every: int = 250,
    segment_frames: int = 2000,
    workdir: Path | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> SoakResult:
    """Stream a long sample clip and measure memory, latency and completeness.

    Args:
        frames: Frames to stream (the clip is the demo scene looped to at least this length).
        candidates: Candidate masks per frame, at most 4 (the demo's). Defaults to 4.
        size: (width, height) of the rendered video. Defaults to (320, 180).
        fps: Frame rate of the clip. Defaults to 25.
        bundle: Bundle folder. Defaults to None: the shipped bundle.
        backend: Backend name. Defaults to ``ort-cpu``.
        precision: Precision. Defaults to ``int8``.
        threads: Intra-op threads per graph. Defaults to None (the backend's default).
        warmup_frames: Frames before the memory baseline. Defaults to 500.
        sample_every: Frames between memory samples. Defaults to 250.
        segment_frames: Frames per latency segment. Defaults to 2000.
        workdir: Folder for the clip and the records. Defaults to None: a temporary folder.
        progress: Called as ``progress(frames_done, resident_mb)`` at every memory sample.
            Defaults to None.

    Returns:
        The measurements.
    """
    from maskaudit.data.sample_clip import CLIP_SECONDS, write_sample_clip
    from maskaudit.runtime.auditor import Auditor
    from maskaudit.runtime.sinks.jsonl import JsonlSink

    workdir = Path(workdir or tempfile.mkdtemp(prefix="maskaudit-soak-"))
    loops = max(1, int(np.ceil(frames / (CLIP_SECONDS * fps))))
    clip = write_sample_clip(workdir, size=size, fps=fps, loops=loops)
    masks = dict(list(clip.masks.items())[:candidates])
    auditor = Auditor.load(bundle, backend=backend, precision=precision, threads=threads)
    records_path = workdir / "verdicts.jsonl"
    sink = JsonlSink(records_path)

    def masks_for(frame: object, index: int, t: float) -> dict[str, np.ndarray]:
        return masks

    run = auditor.stream(str(clip.video), masks_for, str(clip.audio), clip.expression)
    latency: list[float] = []
    rss: list[list[float]] = []
    started = time.perf_counter()
    done = 0
    try:
        for result in run.results():
            sink.write(result)
            latency.append(result.latency_ms.get("total", float("nan")))
            done += 1
            if done % sample_every == 0:
                rss.append([done, round(resident_mb(), 2)])
                if progress is not None:
                    progress(done, rss[-1][1])
            if done >= frames:
                break
    finally:
        run.close()
        sink.close()
    wall = time.perf_counter() - started

    records = errors = 0
    with open(records_path, encoding="utf-8") as lines:
        for line in lines:
            records += 1
            errors += json.loads(line).get("status") != "ok"

    after = [mb for frame, mb in rss if frame >= warmup_frames]
    baseline = after[0] if after else float("nan")
    peak = max(after) if after else float("nan")
    steady = np.asarray(latency[warmup_frames:], dtype=np.float64)
    segments = _segments(steady, 0, segment_frames)
    for row in segments:
        row["first_frame"] += warmup_frames
    drift = segments[-1]["p50"] / segments[0]["p50"] if len(segments) >= 2 else float("nan")
    return SoakResult(
        frames=done,
        candidates=len(masks),
        records=records,
        errors=errors,
        wall_seconds=round(wall, 2),
        warmup_frames=warmup_frames,
        rss_mb=rss,
        rss_baseline_mb=baseline,
        rss_peak_mb=peak,
        rss_growth_mb=round(peak - baseline, 2),
        segments=segments,
        drift=round(drift, 3),
    )
