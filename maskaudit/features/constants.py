"""Preprocessing constants shared by training, export and the runtime.

These numbers define what the exported graphs expect. They are written into each bundle's
manifest (see :func:`preprocessing_constants`) so a runtime can check that it prepares inputs
the way the bundle was trained.
"""

from __future__ import annotations

FRAME_SIZE = 160
"""Side of the square model input frame, in pixels (frames are uint8 RGB, NHWC)."""

SAMPLE_RATE = 16000
"""Audio sample rate in Hz; every audio source is resampled to it."""

WINDOW_SECONDS = 1.0
"""Length of one audio window in seconds (window k goes with frame k)."""

N_FFT = 400
"""STFT frame length in samples (25 ms at 16 kHz)."""

HOP = 160
"""STFT hop in samples (10 ms at 16 kHz)."""

WIN = "hann"
"""STFT window function."""

CENTER = True
"""Whether STFT frames are centred (zero-padded by N_FFT // 2 on both sides)."""

PAD_MODE = "constant"
"""Padding used when CENTER is true: zeros, as librosa 0.10+ does by default."""

N_MELS = 64
"""Number of mel bands."""

FMIN = 50.0
"""Lowest mel filter edge in Hz."""

FMAX = 8000.0
"""Highest mel filter edge in Hz (the Nyquist frequency at 16 kHz)."""

POWER = 2.0
"""Exponent applied to the STFT magnitude (2.0 = power spectrogram)."""

LOG_OFFSET = 1e-6
"""Offset added before the natural log: log-mel = ln(mel_power + LOG_OFFSET)."""

CONTEXT_SECONDS = 10
"""Temporal context length T: how many past frames/windows the audit head sees."""

MAX_TOKENS = 32
"""Token length of an encoded expression, [CLS] and [SEP] included."""

WINDOW_SAMPLES = int(round(SAMPLE_RATE * WINDOW_SECONDS))
"""Samples in one audio window (16000)."""

MEL_FRAMES = 1 + WINDOW_SAMPLES // HOP
"""Mel frames in one window with centred STFT frames (101)."""


def preprocessing_constants() -> dict:
    """Return the preprocessing constants as a JSON-ready dict for the bundle manifest.

    Returns:
        A dict mapping lower-case constant names (``frame_size``, ``sample_rate``, ``n_fft``,
        ...) to their values: ints, floats, bools and strings only.
    """
    return {
        "frame_size": FRAME_SIZE,
        "frame_layout": "NHWC",
        "frame_dtype": "uint8",
        "frame_colour": "RGB",
        "sample_rate": SAMPLE_RATE,
        "window_seconds": WINDOW_SECONDS,
        "window_samples": WINDOW_SAMPLES,
        "n_fft": N_FFT,
        "hop": HOP,
        "win": WIN,
        "center": CENTER,
        "pad_mode": PAD_MODE,
        "n_mels": N_MELS,
        "fmin": FMIN,
        "fmax": FMAX,
        "power": POWER,
        "mel_htk": False,
        "mel_norm": "slaney",
        "log_offset": LOG_OFFSET,
        "mel_frames": MEL_FRAMES,
        "context_seconds": CONTEXT_SECONDS,
        "max_tokens": MAX_TOKENS,
    }
