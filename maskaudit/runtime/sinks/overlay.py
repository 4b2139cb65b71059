"""Overlay video sink: each candidate tinted by its action, with its IoU and type beside it."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from maskaudit.errors import ConfigError
from maskaudit.runtime.sinks.base import FrameResult
from maskaudit.runtime.verdict import Verdict

logger = logging.getLogger(__name__)

ACTION_COLOURS: dict[str, tuple[int, int, int]] = {
    "accept": (40, 200, 40),
    "minor revision": (240, 220, 30),
    "major revision": (250, 140, 20),
    "reject": (230, 40, 40),
}
"""RGB tint of each action: green, yellow, orange, red."""

ERROR_COLOUR = (160, 160, 160)
"""RGB colour of the label of a candidate whose verdict is an error."""

ALPHA = 0.45
"""Opacity of the tint."""


def draw_verdicts(
    image: np.ndarray, masks: dict[str, np.ndarray], verdicts: list[Verdict]
) -> np.ndarray:
    """Draw candidates tinted by their action, outlined, labelled ``id iou type``.

    Args:
        image: The RGB frame.
        masks: ``{mask_id: soft mask at the frame's size}``.
        verdicts: The frame's verdicts.

    Returns:
        A new RGB image.
    """
    out = np.ascontiguousarray(image[:, :, :3], dtype=np.uint8).copy()
    labels: list[tuple[tuple[int, int], str, tuple[int, int, int]]] = []
    for verdict in verdicts:
        mask = masks.get(verdict.mask_id)
        colour = ACTION_COLOURS.get(verdict.action or "", ERROR_COLOUR)
        if verdict.ok and mask is not None and mask.shape == out.shape[:2]:
            inside = mask > 0.5
            tint = np.array(colour, np.float32)
            out[inside] = (out[inside] * (1 - ALPHA) + tint * ALPHA).astype(np.uint8)
            contours, _ = cv2.findContours(
                inside.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
            )
            cv2.drawContours(out, contours, -1, colour, 2)
        text = (
            f"{verdict.mask_id} {verdict.iou:.2f} {verdict.mask_type}"
            if verdict.ok
            else f"{verdict.mask_id} error"
        )
        labels.append((_anchor(mask, out.shape[:2], len(labels)), text, colour))
    for (x, y), text, colour in labels:
        width = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)[0][0]
        x = max(2, min(x, out.shape[1] - width - 2))
        cv2.putText(out, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(out, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)
    return out


def _anchor(mask: np.ndarray | None, shape: tuple[int, int], row: int) -> tuple[int, int]:
    """Where a candidate's label goes: above its top-left corner, or in a list at the top."""
    if mask is not None and mask.shape == shape and (mask > 0.5).any():
        ys, xs = np.nonzero(mask > 0.5)
        return int(xs.min()), max(14, int(ys.min()) - 4)
    return 6, 16 + 18 * row


class OverlaySink:
    """Writes an overlay video (``mp4v``) of the frames with their verdicts drawn.

    The stream must keep frames (``keep_frames=True``; ``maskaudit stream --overlay`` does).

    Args:
        path: The output video file.
        fps: Frame rate of the output. Defaults to 25.0.

    Raises:
        ConfigError: If the folder cannot be created.
    """

    def __init__(self, path: str | Path, fps: float | None = 25.0) -> None:
        self.path = Path(path)
        self.fps = float(fps or 25.0)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ConfigError(
                f"cannot write the overlay {self.path} ({err}): check --overlay"
            ) from err
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None
        self.frames = 0
        self._warned = False

    def write(self, result: FrameResult) -> None:
        """Draw and write one frame; a frame without an image is skipped."""
        image = result.image
        if not isinstance(image, np.ndarray) or image.ndim != 3:
            if image is None and not self._warned:
                logger.warning(
                    "overlay: frame %d has no image (undecodable, or the stream was started "
                    "without keep_frames=True); it is skipped",
                    result.index,
                )
                self._warned = True
            return
        if self._writer is None:
            self._size = (image.shape[1], image.shape[0])
            fourcc = cv2.VideoWriter_fourcc(*"mp4v")
            self._writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, self._size)
            if not self._writer.isOpened():
                raise ConfigError(f"OpenCV cannot write the video {self.path}: use an .mp4 name")
        drawn = draw_verdicts(image, result.masks, result.verdicts)
        if (drawn.shape[1], drawn.shape[0]) != self._size:
            drawn = cv2.resize(drawn, self._size)
        self._writer.write(cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self) -> None:
        """Finish the video file."""
        if self._writer is not None:
            self._writer.release()
            logger.info("overlay: %d frames written to %s", self.frames, self.path)
