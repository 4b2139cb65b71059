"""The timed calls of each benchmark stage, on deterministic synthetic inputs.

A :class:`Workload` is one call to time (``run``) and, where the call must see new data every
time, an untimed step before it (``before``). The stages:

- ``frame_resize``: ``prepare_frame`` of ``batch`` source frames to the bundle's frame size;
- ``mask_resize``: ``prepare_masks`` of the K candidates of ``batch`` frames;
- ``log_mel``: the log-mel features of ``batch`` 1-s windows;
- ``frame_encoder``, ``audio_encoder``: one graph call on ``batch`` frames or log-mel windows;
- ``text_encoder``: tokenising and embedding one expression (a stream does this once);
- ``audit_head``: one head call on ``batch`` frames with K candidates each and full temporal
  context, fed with what the encoders made of the synthetic frame and window;
- ``end_to_end``: ``Auditor.audit`` of one source frame with K candidates and its window. Each
  call gets a frame and a window it has not seen (a few pixels and one sample change, untimed),
  so the auditor's frame and window caches never answer, as in a stream; the expression's
  embedding is cached after the warm-up, as in a stream.

Parameter counts and MACs come from the ``model`` section of the bundle's manifest (written by
``maskaudit export``); a bundle without it, and the preprocessing stages, report None.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from maskaudit.bench.plan import END_TO_END
from maskaudit.features.audio import log_mel_batch
from maskaudit.features.frame import prepare_frame
from maskaudit.features.mask import prepare_masks
from maskaudit.runtime.graphs import GraphSizes

UNITS: dict[str, str] = {
    "frame_resize": "frames",
    "mask_resize": "masks",
    "log_mel": "windows",
    "frame_encoder": "frames",
    "audio_encoder": "windows",
    "text_encoder": "expressions",
    "audit_head": "masks",
    END_TO_END: "frames",
}
"""What the throughput of each stage counts."""

USES_K: frozenset[str] = frozenset({"mask_resize", "audit_head", END_TO_END})
"""Stages whose cost depends on the candidates per frame."""

USES_BATCH: frozenset[str] = frozenset(
    {"frame_resize", "mask_resize", "log_mel", "frame_encoder", "audio_encoder", "audit_head"}
)
"""Stages that take a batch; the text encoder and the end-to-end audit take one at a time."""

WINDOW_SAMPLES = 16000
"""Samples of one synthetic audio window (1 s at 16 kHz)."""


@dataclass
class Workload:
    """One stage's call to time.

    Attributes:
        stage: The stage's name.
        batch: Frames or windows per call (1 for the text encoder and end to end).
        k: Candidates per frame, or None where the stage has none.
        unit: What ``items`` counts (``frames``, ``windows``, ``masks``, ``expressions``).
        items: Units handled per call, for the throughput.
        run: The timed call.
        before: An untimed step before each call, or None.
        graph: The bundle graph the stage runs, or None.
    """

    stage: str
    batch: int
    k: int | None
    unit: str
    items: int
    run: Callable[[], Any]
    before: Callable[[], None] | None = None
    graph: str | None = None


class SyntheticInputs:
    """Deterministic source frames, candidate masks and audio windows.

    Args:
        frame_size: ``(width, height)`` of the source frames and masks.
        frames: How many distinct source frames and windows to make. Defaults to 1.
        masks: How many candidate masks to make. Defaults to 16.
        seed: Seed of the random content. Defaults to 0.

    Attributes:
        frames: uint8 RGB ``[H, W, 3]`` frames.
        masks: uint8 ``[H, W]`` candidate masks (0 or 255): discs of different sizes and places.
        windows: float32 ``[n, 16000]`` noisy tones.
    """

    def __init__(
        self, frame_size: tuple[int, int], frames: int = 1, masks: int = 16, seed: int = 0
    ) -> None:
        width, height = frame_size
        rng = np.random.default_rng(seed)
        self.frames = [
            rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(frames)
        ]
        yy, xx = np.mgrid[0:height, 0:width]
        self.masks = []
        for _ in range(masks):
            cy, cx = rng.uniform(0.2, 0.8) * height, rng.uniform(0.2, 0.8) * width
            radius = rng.uniform(0.08, 0.3) * min(height, width)
            disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
            self.masks.append(disc.astype(np.uint8) * 255)
        t = np.arange(WINDOW_SAMPLES) / WINDOW_SAMPLES
        tones = rng.uniform(100.0, 2000.0, (frames, 1))
        noise = 0.05 * rng.standard_normal((frames, WINDOW_SAMPLES))
        self.windows = (0.3 * np.sin(2 * np.pi * tones * t) + noise).astype(np.float32)

    def frame_batch(self, batch: int) -> list[np.ndarray]:
        """Return ``batch`` source frames (repeating them when fewer were made)."""
        return [self.frames[i % len(self.frames)] for i in range(batch)]

    def window_batch(self, batch: int) -> np.ndarray:
        """Return ``batch`` windows as float32 ``[batch, 16000]``."""
        return self.windows[np.arange(batch) % len(self.windows)]


def preprocessing_workload(
    stage: str, sizes: GraphSizes, inputs: SyntheticInputs, batch: int, k: int | None
) -> Workload:
    """Build the workload of a preprocessing stage (no backend needed).

    Args:
        stage: ``frame_resize``, ``mask_resize`` or ``log_mel``.
        sizes: The bundle's sizes (frame and mask side).
        inputs: The synthetic inputs.
        batch: Frames or windows per call.
        k: Candidates per frame (``mask_resize`` only; ignored otherwise).

    Returns:
        The workload.

    Raises:
        ValueError: If ``stage`` is not a preprocessing stage, or ``mask_resize`` has no k.
    """
    frames = inputs.frame_batch(batch)
    if stage == "frame_resize":
        return Workload(
            stage,
            batch,
            None,
            "frames",
            batch,
            lambda: [prepare_frame(f, sizes.frame) for f in frames],
        )
    if stage == "mask_resize":
        if k is None:
            raise ValueError("mask_resize needs k, the candidates per frame")
        masks = inputs.masks[:k]
        shape = frames[0].shape

        def resize_masks() -> list[np.ndarray]:
            return [prepare_masks(masks, shape, size=sizes.mask, resize=False) for _ in frames]

        return Workload(stage, batch, k, "masks", batch * k, resize_masks)
    if stage == "log_mel":
        windows = inputs.window_batch(batch)
        return Workload(stage, batch, None, "windows", batch, lambda: log_mel_batch(windows))
    raise ValueError(f"{stage!r} is not a preprocessing stage")


def model_workload(
    stage: str,
    auditor: Any,
    inputs: SyntheticInputs,
    batch: int,
    k: int | None,
    expression: str,
) -> Workload:
    """Build the workload of a model stage or of the end-to-end audit.

    Args:
        stage: ``frame_encoder``, ``audio_encoder``, ``text_encoder``, ``audit_head`` or
            ``end_to_end``.
        auditor: A loaded :class:`~maskaudit.runtime.auditor.Auditor`.
        inputs: The synthetic inputs.
        batch: Frames or windows per call (ignored by ``text_encoder`` and ``end_to_end``).
        k: Candidates per frame (``audit_head`` and ``end_to_end``).
        expression: The referring expression.

    Returns:
        The workload.

    Raises:
        ValueError: If ``stage`` is unknown, or a stage that needs k has none.
    """
    runners = auditor.backend.runners
    sizes: GraphSizes = auditor.sizes
    if stage in USES_K and k is None:
        raise ValueError(f"{stage} needs k, the candidates per frame")
    if stage == "frame_encoder":
        feeds = {"frame": _model_frames(inputs, sizes, batch)}
        return Workload(
            stage, batch, None, "frames", batch, lambda: runners[stage].run(feeds), graph=stage
        )
    if stage == "audio_encoder":
        feeds = {"log_mel": log_mel_batch(inputs.window_batch(batch))}
        return Workload(
            stage, batch, None, "windows", batch, lambda: runners[stage].run(feeds), graph=stage
        )
    if stage == "text_encoder":

        def embed() -> np.ndarray:
            return auditor.graphs.encode_text(auditor.tokenizer.encode([expression]))

        return Workload(stage, 1, None, "expressions", 1, embed, graph=stage)
    if stage == "audit_head":
        feeds = head_feeds(auditor, inputs, batch, k, expression)
        return Workload(
            stage, batch, k, "masks", batch * k, lambda: runners[stage].run(feeds), graph=stage
        )
    if stage == END_TO_END:
        return _end_to_end(auditor, inputs, k, expression)
    raise ValueError(f"{stage!r} is not a model stage")


def _model_frames(inputs: SyntheticInputs, sizes: GraphSizes, batch: int) -> np.ndarray:
    """The source frames resized to the model's input, uint8 ``[batch, S, S, 3]``."""
    return np.stack([prepare_frame(f, sizes.frame) for f in inputs.frame_batch(batch)])


def head_feeds(
    auditor: Any, inputs: SyntheticInputs, batch: int, k: int, expression: str
) -> dict[str, np.ndarray]:
    """Build the audit head's inputs for ``batch`` frames with ``k`` candidates each.

    The frame features and audio embeddings are the encoders' outputs on the synthetic frames
    and windows; the context repeats them over all T seconds (all valid), the costliest case.

    Args:
        auditor: A loaded auditor.
        inputs: The synthetic inputs.
        batch: Frames per head call.
        k: Candidates per frame.
        expression: The referring expression.

    Returns:
        The head's feeds by input name.
    """
    sizes: GraphSizes = auditor.sizes
    features = auditor.graphs.encode_frames(_model_frames(inputs, sizes, batch))
    audio = auditor.graphs.encode_audio(log_mel_batch(inputs.window_batch(batch)))
    text = auditor.embed_expression(expression)
    seconds = sizes.seconds
    frame = inputs.frames[0]
    masks = prepare_masks(inputs.masks[:k], frame.shape, size=sizes.mask, resize=False)
    feeds = {name: features[name] for name in ("feat0", "feat1", "feat2", "frame_global")}
    feeds.update(
        context_maps=np.ascontiguousarray(
            np.repeat(features["context"][:, None], seconds, axis=1), dtype=np.float32
        ),
        context_audio=np.ascontiguousarray(
            np.repeat(audio[:, None], seconds, axis=1), dtype=np.float32
        ),
        context_valid=np.ones((batch, seconds), np.float32),
        text_embedding=np.ascontiguousarray(np.repeat(text, batch, axis=0), dtype=np.float32),
        masks=np.ascontiguousarray(np.repeat(masks[None], batch, axis=0), dtype=np.float32),
    )
    return feeds


def _end_to_end(auditor: Any, inputs: SyntheticInputs, k: int, expression: str) -> Workload:
    """``Auditor.audit`` of one frame with k candidates, each call on unseen content."""
    frame = inputs.frames[0].copy()
    window = inputs.windows[0].copy()
    masks = inputs.masks[:k]
    height, width = frame.shape[:2]
    side = auditor.sizes.frame
    # A block that covers at least one whole pixel of the model-input frame after resizing, so
    # that its colour reaches the resized frame (and the cache key) unchanged.
    block_h = 2 * math.ceil(height / side) + 1
    block_w = 2 * math.ceil(width / side) + 1
    counter = itertools.count(1)

    def fresh_inputs() -> None:
        i = next(counter)
        frame[:block_h, :block_w] = (i & 255, (i >> 8) & 255, (i >> 16) & 255)
        window[0] = np.float32(i) * np.float32(1e-4)

    def audit() -> list:
        return auditor.audit(frame, masks, window, expression)

    return Workload(END_TO_END, 1, k, "frames", 1, audit, before=fresh_inputs)


def stage_cost(
    manifest: dict, stage: str, batch: int, k: int | None
) -> tuple[int | None, int | None]:
    """Return the parameters a stage runs with and its MACs per call, from the manifest.

    Read from the manifest's ``model`` section (``parameters`` and ``macs``, written by
    ``maskaudit export``); head MACs grow by ``per_extra_candidate`` for each candidate after
    the first, and every count is multiplied by ``batch``. The end-to-end audit counts the whole
    auditor (the text encoder is outside it: it runs once per expression).

    Args:
        manifest: The bundle's manifest.
        stage: The stage.
        batch: Frames or windows per call.
        k: Candidates per frame, or None.

    Returns:
        ``(parameters, macs)``; None where the manifest has no count or the stage is not a
        trained graph.
    """
    model = manifest.get("model") or {}
    params = model.get("parameters") or manifest.get("parameters") or {}
    macs = model.get("macs") or manifest.get("macs") or {}
    extra = (k or 1) - 1
    if stage in ("frame_encoder", "audio_encoder"):
        return _int(params.get(stage)), _times(macs.get(stage), batch)
    if stage == "audit_head":
        head = _plus(macs.get("audit_head_1"), macs.get("per_extra_candidate"), extra)
        return _int(params.get(stage)), _times(head, batch)
    if stage == END_TO_END:
        frame = _plus(macs.get("per_frame"), macs.get("per_extra_candidate"), extra)
        return _int(params.get("total")), frame
    return None, None


def _int(value: Any) -> int | None:
    """A count as int, or None."""
    return int(value) if isinstance(value, int | float) else None


def _times(value: Any, factor: int) -> int | None:
    """A count times ``factor``, or None."""
    value = _int(value)
    return None if value is None else value * factor


def _plus(base: Any, step: Any, steps: int) -> int | None:
    """``base + steps * step``, or None when a needed count is missing."""
    base = _int(base)
    if base is None or steps == 0:
        return base
    step = _int(step)
    return None if step is None else base + steps * step
