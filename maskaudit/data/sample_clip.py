"""A short sample clip with candidate masks of several error types, for the demo.

The clip is one synthetic scene played ``loops`` times (its 10 s of sound repeated), rendered at
any size and frame rate, with its audio as a 16 kHz WAV and a fixed set of candidate masks whose
true IoU, type and action are computed from the pixels.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from maskaudit.data.error_modes import make_candidate
from maskaudit.data.render import FrameRenderer, render_audio
from maskaudit.data.scene import Scene, make_scene
from maskaudit.features.constants import SAMPLE_RATE

CLIP_SECONDS = 10
"""Length of one pass of a synthetic scene."""

DEMO_CANDIDATES: tuple[tuple[str, str, int], ...] = (
    ("m0_perfect", "perfect", -1),
    ("m1_erode", "erode", 2),
    ("m2_dilate", "dilate", 1),
    ("m3_full_neg", "full_neg", -1),
)
"""(mask id, type, rank) of the demo's candidates."""


@dataclass
class SampleClip:
    """A written sample clip.

    Attributes:
        video: Path of the MP4 (mp4v) video.
        audio: Path of the 16 kHz mono WAV.
        expression: The referring expression.
        kind: The expression's kind.
        masks: ``{mask_id: bool HxW}`` candidate masks, the same on every frame.
        truth: ``{mask_id: {"mask_type", "iou", "action"}}`` from the pixels.
        fps: Frame rate.
        frames: Number of frames.
    """

    video: Path
    audio: Path
    expression: str
    kind: str
    masks: dict[str, np.ndarray]
    truth: dict[str, dict]
    fps: float
    frames: int


def write_wav(path: Path, samples: np.ndarray, sr: int = SAMPLE_RATE) -> None:
    """Write float samples in [-1, 1] as a 16-bit mono WAV."""
    pcm = np.clip(samples, -1.0, 1.0)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sr)
        out.writeframes((pcm * 32767.0).astype("<i2").tobytes())


def demo_candidates(
    scene: Scene, target: int, size: tuple[int, int], rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
    """Make the demo's candidate masks for the scene's target at ``size`` (width, height)."""
    renderer_masks = FrameRenderer(scene, size).masks
    gt = renderer_masks[target]
    others = [m for i, m in enumerate(renderer_masks) if i != target and m.any()]
    masks, truth = {}, {}
    for mask_id, mask_type, rank in DEMO_CANDIDATES:
        made = make_candidate(gt, others, mask_type, rank, rng)
        if made is None:
            continue
        masks[mask_id] = made.mask
        truth[mask_id] = {"mask_type": made.mask_type, "iou": made.iou, "action": made.action}
    return masks, truth


def write_sample_clip(
    out: Path,
    seed: int = 7,
    size: tuple[int, int] = (480, 480),
    fps: float = 10.0,
    loops: int = 2,
    kind: str = "loudest",
) -> SampleClip:
    """Render a sample clip into ``out`` (``clip.mp4``, ``clip.wav``).

    Args:
        out: Folder to write into (created).
        seed: Seed of the scene and the candidates. Defaults to 7.
        size: (width, height) of the video. Defaults to (480, 480).
        fps: Frame rate. Defaults to 10.
        loops: Times the 10-s scene is played. Defaults to 2 (a 20-s clip), so that the
            auditor's 10-s context is full for the second half.
        kind: Expression kind of the scene. Defaults to ``loudest``.

    Returns:
        The clip's paths, expression, candidate masks and their true labels.
    """
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    scene = make_scene(rng, kind=kind, n_expressions=1)
    expression = scene.expressions[0]
    masks, truth = demo_candidates(scene, expression.target, size, rng)

    audio = np.tile(render_audio(scene), loops)
    audio_path = out / "clip.wav"
    write_wav(audio_path, audio)

    renderer = FrameRenderer(scene, size)
    video_path = out / "clip.mp4"
    writer = cv2.VideoWriter(str(video_path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    n_frames = int(round(CLIP_SECONDS * loops * fps))
    try:
        for index in range(n_frames):
            t = (index / fps) % CLIP_SECONDS
            writer.write(cv2.cvtColor(renderer.frame(t), cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return SampleClip(
        video_path, audio_path, expression.text, expression.kind, masks, truth, fps, n_frames
    )
