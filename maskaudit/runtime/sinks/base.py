"""What a sink receives: one :class:`FrameResult` per processed frame, in order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from maskaudit.runtime.verdict import Verdict


@dataclass
class FrameResult:
    """The verdicts of one frame, with what an overlay needs to draw them.

    Attributes:
        index: The frame's index in its source.
        t: The frame's time in seconds.
        verdicts: One verdict per candidate (empty when the frame had no candidate).
        image: The RGB frame, kept only when the stream keeps frames (for overlays).
        masks: ``{mask_id: soft mask at the frame's size}``, kept likewise.
        latency_ms: The frame's ``pre``, ``model``, ``total`` and ``queue`` times.
        dropped: Frames the live source had dropped when this frame was taken.
    """

    index: int
    t: float
    verdicts: list[Verdict]
    image: Any = None
    masks: dict[str, Any] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    dropped: int = 0


class Sink(Protocol):
    """Receives every frame's verdicts in order; closed once at the end of the stream."""

    def write(self, result: FrameResult) -> None:
        """Take one frame's result."""
        ...

    def close(self) -> None:
        """Finish writing (flush, close files)."""
        ...
