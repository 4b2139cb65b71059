"""Audio sources: 1-s windows of 16 kHz mono samples, by whole second.

Window j covers [j, j + 1) seconds and goes with the frames of second j. File audio is known
in advance: window j is ready as soon as a frame of second j arrives. Live audio completes one
second later (``live = True``): window j is ready once the stream reaches t = j + 1.

A WAV file of 16 kHz PCM is read window by window (memory stays flat however long it is);
any other file or rate is decoded and resampled once with ``features.audio.load_audio``. The
audio track of a video is decoded with PyAV when it is installed.
"""

from __future__ import annotations

import logging
import struct
import wave
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from maskaudit.errors import ConfigError, InputError
from maskaudit.features.audio import load_audio

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
"""Sample rate of every window."""

MIN_COVERAGE = 0.5
"""Fraction of a window the audio must cover for the window to exist (the rest is zeros)."""


class AudioSource(Protocol):
    """What the pipeline reads audio windows from."""

    name: str
    """How messages name the audio."""
    live: bool
    """Whether window j completes only at t = j + 1."""
    duration: float | None
    """Length in seconds, None where unknown (live)."""

    def window(self, second: int) -> np.ndarray | None:
        """Return window ``second`` (float32, 16000 samples), or None past the end."""
        ...


def _window_from(samples: np.ndarray, second: int) -> np.ndarray | None:
    """Cut window ``second`` out of 16 kHz samples, zero-padding a partly covered last one."""
    start = second * SAMPLE_RATE
    if second < 0 or samples.size - start < MIN_COVERAGE * SAMPLE_RATE:
        return None
    out = np.zeros(SAMPLE_RATE, np.float32)
    chunk = samples[start : start + SAMPLE_RATE]
    out[: chunk.size] = chunk
    return out


class ArrayAudio:
    """Audio held in memory as 16 kHz mono samples.

    Args:
        samples: 1-D float samples at 16 kHz.
        name: How messages name it. Defaults to ``"audio"``.
        live: Whether windows complete one second late. Defaults to False.

    Raises:
        InputError: If ``samples`` is not 1-D.
    """

    def __init__(self, samples: np.ndarray, name: str = "audio", live: bool = False) -> None:
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 1:
            raise InputError(
                f"{name} has shape {samples.shape}; expected 1-D mono samples at 16 kHz: "
                "average the channels first"
            )
        self.samples = samples
        self.name = name
        self.live = live
        self.duration = samples.size / SAMPLE_RATE

    def window(self, second: int) -> np.ndarray | None:
        """Return window ``second``, or None when the audio does not cover half of it."""
        return _window_from(self.samples, second)


_PCM_SCALE = {1: 128.0, 2: 32768.0, 3: 8388608.0, 4: 2147483648.0}


def _data_bytes(path: Path) -> tuple[int, int] | None:
    """Return the offset and real length of a WAV file's ``data`` chunk, or None if not found.

    The real length is what the file holds, which is less than the chunk header says when the
    file was truncated, or when a recorder that never finished wrote a placeholder length
    (0xFFFFFFFF).
    """
    size = path.stat().st_size
    with open(path, "rb") as handle:
        offset = 12
        while offset + 8 <= size:
            handle.seek(offset)
            kind, length = struct.unpack("<4sI", handle.read(8))
            if kind == b"data":
                return offset + 8, min(length, size - offset - 8)
            offset += 8 + length + (length & 1)
    return None


class WavAudio:
    """A 16 kHz PCM WAV file, read one window at a time.

    Samples are scaled as soundfile (and so librosa) scales them (int16 / 32768, ...) and
    channels are averaged, so windows equal those of ``load_audio`` on the same file.

    The length is what the file really holds: a header that claims more samples than the file
    has (a truncated file, or a recorder's placeholder length 0xFFFFFFFF) is corrected, with a
    warning, so the seconds past the real end have no window instead of silent ones. A header
    that claims fewer samples is believed.

    Args:
        path: The WAV file (16 kHz, 8/16/24/32-bit PCM, any channel count).

    Raises:
        ConfigError: If the file is not such a WAV file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = self.path.name
        self.live = False
        try:
            with wave.open(str(self.path), "rb") as handle:
                self.channels = handle.getnchannels()
                self.width = handle.getsampwidth()
                self.rate = handle.getframerate()
                claimed = handle.getnframes()
            data = _data_bytes(self.path)
        except (OSError, EOFError, wave.Error, struct.error) as err:
            raise ConfigError(f"audio {self.path} is not a PCM WAV file ({err})") from err
        if self.rate != SAMPLE_RATE or self.width not in _PCM_SCALE or self.channels < 1:
            raise ConfigError(f"audio {self.path} is not 16 kHz PCM")
        self.frames = claimed
        if data is not None:
            real = data[1] // (self.width * self.channels)
            if real != claimed:
                logger.warning(
                    "%s: the header claims %d samples but the file holds %d; using %d",
                    self.path,
                    claimed,
                    real,
                    min(real, claimed),
                )
            self.frames = min(real, claimed)
        self.duration = self.frames / SAMPLE_RATE

    def window(self, second: int) -> np.ndarray | None:
        """Read window ``second`` from the file, or None when the file does not cover half."""
        start = second * SAMPLE_RATE
        if second < 0 or self.frames - start < MIN_COVERAGE * SAMPLE_RATE:
            return None
        with wave.open(str(self.path), "rb") as handle:
            handle.setpos(start)
            raw = handle.readframes(min(SAMPLE_RATE, self.frames - start))
        block = self.width * self.channels
        raw = raw[: len(raw) - len(raw) % block]
        samples = _decode_pcm(raw, self.width).reshape(-1, self.channels).mean(axis=1)
        out = np.zeros(SAMPLE_RATE, np.float32)
        out[: samples.size] = samples
        return out


def _decode_pcm(raw: bytes, width: int) -> np.ndarray:
    """Decode little-endian PCM bytes to float32 in [-1, 1)."""
    if width == 1:
        values = np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0
    elif width == 3:
        bytes3 = np.frombuffer(raw, np.uint8).reshape(-1, 3)
        values = (
            bytes3[:, 0].astype(np.int32)
            | (bytes3[:, 1].astype(np.int32) << 8)
            | (bytes3[:, 2].astype(np.int8).astype(np.int32) << 16)
        ).astype(np.float32)
    else:
        values = np.frombuffer(raw, {2: "<i2", 4: "<i4"}[width]).astype(np.float32)
    return values / np.float32(_PCM_SCALE[width])


def container_audio(video: str | Path) -> ArrayAudio:
    """Decode a video file's audio track to 16 kHz mono with PyAV.

    Args:
        video: The video file.

    Returns:
        The decoded audio.

    Raises:
        ConfigError: If PyAV is not installed, or the file has no audio track.
    """
    try:
        import av
    except ImportError as err:
        raise ConfigError(
            f"reading the audio track of {video} needs PyAV, which is not installed: pass "
            "--audio WAV (e.g. ffmpeg -i VIDEO -ac 1 -ar 16000 audio.wav) or pip install av"
        ) from err
    try:
        with av.open(str(video)) as container:
            if not container.streams.audio:
                raise ConfigError(f"video {video} has no audio track: pass --audio WAV")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            chunks = []
            for frame in container.decode(container.streams.audio[0]):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except ConfigError:
        raise
    except Exception as err:  # PyAV raises many decoder-specific errors
        raise ConfigError(
            f"the audio track of {video} cannot be decoded ({err}): pass --audio WAV"
        ) from err
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    return ArrayAudio(samples, name=f"audio of {Path(video).name}")


def open_audio(audio: Any, video: str | Path | None = None) -> AudioSource:
    """Open what ``Auditor.stream`` accepts as audio.

    Args:
        audio: An audio source (returned as is), a 1-D array of 16 kHz samples, an audio file
            path, or None for the audio track of ``video``.
        video: The video file, used when ``audio`` is None.

    Returns:
        The audio source.

    Raises:
        ConfigError: If the file is missing or unreadable, no audio can be found, or the audio
            is too short to give one window (less than half a second, e.g. a WAV with no
            samples).
    """
    if hasattr(audio, "window") and hasattr(audio, "live"):
        return audio
    source = _open(audio, video)
    if source.duration is not None and source.duration < MIN_COVERAGE:
        raise ConfigError(
            f"audio {source.name} holds {source.duration:.2f} s of sound, less than the "
            f"{MIN_COVERAGE:g} s one window needs: pass audio that covers the video"
        )
    return source


def _open(audio: Any, video: str | Path | None) -> AudioSource:
    """Open an array, a file or a video's audio track (see :func:`open_audio`)."""
    if isinstance(audio, np.ndarray):
        try:
            return ArrayAudio(audio)
        except (InputError, TypeError, ValueError) as err:  # not 1-D, or not numbers
            raise ConfigError(f"audio array cannot be used: {err}") from err
    if audio is None:
        if video is None or not Path(str(video)).is_file():
            raise ConfigError(
                "no audio: pass --audio WAV (a camera or URL has no audio maskaudit can read)"
            )
        return container_audio(video)
    path = Path(audio)
    if not path.is_file():
        raise ConfigError(f"audio {path} does not exist: check the path given to --audio")
    try:
        return WavAudio(path)
    except ConfigError:
        pass
    try:
        return ArrayAudio(load_audio(path), name=path.name)
    except InputError as err:
        raise ConfigError(str(err)) from err
