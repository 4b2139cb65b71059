"""Audio: loading, 1-s windows and log-mel features.

The log-mel feature is computed in numpy with librosa's mel filterbank and an STFT written out
here, so that it matches ``librosa.feature.melspectrogram`` (then ``log(x + LOG_OFFSET)``) to
float tolerance while staying cheap and explicit about every constant:

- STFT: ``N_FFT`` = 400 samples (25 ms), ``HOP`` = 160 (10 ms), periodic Hann window, frames
  centred by padding ``N_FFT // 2`` zeros on both sides (librosa's default ``pad_mode`` since
  0.10 is ``"constant"``, i.e. zeros), so one 1-s window gives 101 frames.
- Power spectrogram (``POWER`` = 2), ``N_MELS`` = 64 Slaney-normalised mel filters between
  ``FMIN`` = 50 Hz and ``FMAX`` = 8000 Hz (``htk=False``).
- Natural log of ``mel_power + LOG_OFFSET`` (1e-6).
"""

from __future__ import annotations

import functools
import logging
import math
from pathlib import Path

import numpy as np

from maskaudit.errors import InputError
from maskaudit.features.constants import (
    FMAX,
    FMIN,
    HOP,
    LOG_OFFSET,
    N_FFT,
    N_MELS,
    POWER,
    SAMPLE_RATE,
    WINDOW_SAMPLES,
    WINDOW_SECONDS,
)

logger = logging.getLogger(__name__)


def _finite(samples: np.ndarray, name: str) -> np.ndarray:
    """Replace NaN and infinite samples by 0 (logged), in place on a float32 copy."""
    bad = ~np.isfinite(samples)
    count = int(bad.sum())
    if count:
        logger.warning("%s: %d NaN or infinite samples replaced by 0", name, count)
        samples = samples.copy()
        samples[bad] = 0.0
    return samples


def load_audio(path: str | Path, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Load an audio file as mono float32 samples at ``sr`` Hz.

    Decoding, down-mixing and resampling are librosa's, as ``librosa.load(path, sr=sr,
    mono=True)`` does them (channel mean, ``soxr_hq``), so any format librosa reads works (WAV,
    FLAC, OGG, and MP3/M4A where a decoder is present). Non-finite samples are replaced by 0,
    before resampling, and their count is logged as a warning.

    Args:
        path: audio file.
        sr: output sample rate in Hz. Defaults to ``SAMPLE_RATE`` (16000).

    Returns:
        A 1-D float32 array of samples in [-1, 1] (as decoded).

    Raises:
        InputError: if the file is missing or cannot be decoded.
    """
    import librosa

    path = Path(path)
    if not path.is_file():
        raise InputError(f"audio file {path} does not exist: check the path")
    try:
        samples, native_sr = librosa.load(path, sr=None, mono=False)
    except Exception as err:  # librosa raises decoder-specific types; all mean "unreadable"
        raise InputError(
            f"audio file {path} cannot be decoded ({type(err).__name__}: {err}): "
            "pass a WAV/FLAC/OGG file or convert it with ffmpeg -i IN -ac 1 -ar 16000 OUT.wav"
        ) from err

    samples = _finite(np.asarray(samples, dtype=np.float32), str(path))
    if samples.ndim > 1:
        samples = librosa.to_mono(samples)
    if native_sr != sr:
        samples = librosa.resample(samples, orig_sr=native_sr, target_sr=sr, res_type="soxr_hq")
    return np.ascontiguousarray(samples, dtype=np.float32)


def _as_samples(samples: np.ndarray, name: str) -> np.ndarray:
    """Return ``samples`` as a finite 1-D float32 array, or raise InputError."""
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise InputError(
            f"{name} has shape {samples.shape}; expected 1-D mono samples: "
            "average the channels first (samples.mean(axis=0))"
        )
    if not (np.issubdtype(samples.dtype, np.floating) or np.issubdtype(samples.dtype, np.integer)):
        raise InputError(f"{name} has dtype {samples.dtype}; expected float samples in [-1, 1]")
    return _finite(samples.astype(np.float32, copy=False), name)


def split_windows(
    samples: np.ndarray, sr: int = SAMPLE_RATE, n_windows: int | None = None
) -> np.ndarray:
    """Cut mono samples into consecutive windows of ``WINDOW_SECONDS`` (1 s).

    Window k covers seconds [k, k + 1) and goes with frame k. The last window is padded with
    zeros. With ``n_windows`` given, the output has exactly that many windows: missing audio
    becomes silent windows and audio past the last window is dropped.

    Args:
        samples: 1-D mono samples.
        sr: sample rate of ``samples`` in Hz. Defaults to ``SAMPLE_RATE`` (16000).
        n_windows: number of windows to return. Defaults to None: as many as needed to cover
            every sample (``ceil(len(samples) / sr)``; 0 for empty input).

    Returns:
        A float32 array of shape (n, window) with ``window = round(sr * WINDOW_SECONDS)``.

    Raises:
        InputError: if ``samples`` is not 1-D, or ``sr`` or ``n_windows`` is invalid.
    """
    samples = _as_samples(samples, "audio")
    if sr <= 0:
        raise InputError(f"sample rate {sr} is not positive: pass sr > 0")
    window = int(round(sr * WINDOW_SECONDS))
    if n_windows is None:
        n_windows = math.ceil(samples.size / window)
    if n_windows < 0:
        raise InputError(f"n_windows={n_windows} is negative: pass 0 or more, or None")

    out = np.zeros((n_windows, window), dtype=np.float32)
    used = min(samples.size, n_windows * window)
    out.reshape(-1)[:used] = samples[:used]
    return out


@functools.lru_cache(maxsize=1)
def mel_filterbank() -> np.ndarray:
    """Return the mel filterbank, float32 of shape (N_MELS, N_FFT // 2 + 1) = (64, 201).

    It is ``librosa.filters.mel(sr=16000, n_fft=400, n_mels=64, fmin=50, fmax=8000)`` with
    librosa's defaults ``htk=False`` and ``norm="slaney"``. The array is shared: do not modify it.
    """
    import librosa

    basis = librosa.filters.mel(
        sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=FMIN, fmax=FMAX, htk=False, norm="slaney"
    ).astype(np.float32)
    basis.setflags(write=False)
    return basis


@functools.lru_cache(maxsize=1)
def stft_window() -> np.ndarray:
    """Return the periodic Hann window of ``N_FFT`` samples (as ``scipy.signal.get_window``)."""
    n = np.arange(N_FFT, dtype=np.float64)
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / N_FFT)
    window.setflags(write=False)
    return window


def _as_windows(windows: np.ndarray) -> np.ndarray:
    """Return windows as finite float32 (n, WINDOW_SAMPLES), zero-padding short ones."""
    windows = np.asarray(windows)
    if windows.ndim != 2:
        raise InputError(
            f"audio windows have shape {windows.shape}; expected (n, samples): "
            "use split_windows() to cut audio into windows"
        )
    length = windows.shape[1]
    if length > WINDOW_SAMPLES:
        raise InputError(
            f"audio window has {length} samples, more than {WINDOW_SAMPLES} "
            f"({WINDOW_SECONDS:g} s at {SAMPLE_RATE} Hz): cut it with split_windows()"
        )
    windows = _as_samples(windows.reshape(-1), "audio windows").reshape(windows.shape)
    if length < WINDOW_SAMPLES:
        windows = np.pad(windows, ((0, 0), (0, WINDOW_SAMPLES - length)))
    return windows


def log_mel_batch(windows: np.ndarray) -> np.ndarray:
    """Compute the log-mel features of a batch of 1-s windows.

    Args:
        windows: array of shape (n, samples) at ``SAMPLE_RATE`` with samples <= 16000; shorter
            windows are zero-padded at the end.

    Returns:
        A float32 array of shape (n, N_MELS, MEL_FRAMES) = (n, 64, 101).

    Raises:
        InputError: if ``windows`` is not 2-D or a window is longer than 1 s.
    """
    windows = _as_windows(windows).astype(np.float64)

    pad = N_FFT // 2
    padded = np.pad(windows, ((0, 0), (pad, pad)), mode="constant")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT, axis=1)[:, ::HOP]
    spectrum = np.fft.rfft(frames * stft_window(), n=N_FFT, axis=-1)
    power = np.abs(spectrum) ** POWER

    mel = np.einsum("mf,ntf->nmt", mel_filterbank().astype(np.float64), power)
    return np.log(mel + LOG_OFFSET).astype(np.float32)


def log_mel(window: np.ndarray) -> np.ndarray:
    """Compute the log-mel feature of one 1-s window.

    Equal to ``np.log(librosa.feature.melspectrogram(y=window, sr=16000, n_fft=400,
    hop_length=160, n_mels=64, fmin=50, fmax=8000) + 1e-6)`` to float tolerance.

    Args:
        window: 1-D samples at ``SAMPLE_RATE``, at most 16000; a shorter window is zero-padded
            at the end.

    Returns:
        A float32 array of shape (N_MELS, MEL_FRAMES) = (64, 101).

    Raises:
        InputError: if ``window`` is not 1-D or is longer than 1 s.

    Example:
        >>> import numpy as np
        >>> log_mel(np.zeros(16000, np.float32)).shape
        (64, 101)
    """
    window = _as_samples(window, "audio window")
    return log_mel_batch(window[None, :])[0]
