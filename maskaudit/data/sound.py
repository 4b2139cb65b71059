"""Sound synthesis for synthetic scenes: one stem per object, mixed into a 10-second clip.

A stem is a carrier of the object's timbre at its fundamental ``f0`` (RMS 1), gated to its
onset and duration, pulsed at its rhythm (50 % duty) or steady, scaled by its loudness (dB) and
by a per-second fluctuation in [0.6, 1.0]. Harmonics are kept weak so that each sounding object
occupies its own region of the mel spectrogram.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

SAMPLE_RATE = 16000
"""Samples per second of every clip."""

CLIP_SECONDS = 10
"""Length of every clip in seconds (one frame per second)."""

PEAK = 0.8
"""Peak amplitude of a normalised mix."""

NOISE_FLOOR = 0.002
"""Standard deviation of the faint noise added to every mix."""

_RAMP_S = 0.008
_NYQUIST_GUARD = 7500.0


@dataclass(frozen=True)
class SoundSpec:
    """What one object's sound is.

    Attributes:
        timbre: Sound family (see ``maskaudit.data.vocabulary.TIMBRES``).
        f0: Fundamental frequency in Hz.
        onset: Start time in seconds.
        duration: Length in seconds (``onset + duration`` <= 10).
        loudness_db: Gain in dB, -24..0 (0 dB = RMS 1 carrier before mixing).
        rhythm_hz: Pulse rate in Hz (1..8), or 0 for a steady sound.
        fluctuation: Ten per-second gains in [0.6, 1.0].
        seed: Seed of the stem's own randomness (noise carriers, phases).
    """

    timbre: str
    f0: float
    onset: float
    duration: float
    loudness_db: float
    rhythm_hz: float
    fluctuation: tuple[float, ...]
    seed: int


def _partials(t: np.ndarray, f0: float, weights: list[float], phase: float) -> np.ndarray:
    """Sum of harmonics k*f0 with the given weights, skipping any above the Nyquist guard."""
    out = np.zeros_like(t)
    for k, weight in enumerate(weights, start=1):
        if k * f0 < _NYQUIST_GUARD:
            out += weight * np.sin(2 * np.pi * k * f0 * t + k * phase)
    return out


def _narrow_noise(n: int, f0: float, rng: np.random.Generator) -> np.ndarray:
    """White noise band-limited to about +-2 semitones around ``f0``."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    band = (freqs >= f0 * 2 ** (-2 / 12)) & (freqs <= f0 * 2 ** (2 / 12))
    return np.fft.irfft(spectrum * band, n)


def _carrier(spec: SoundSpec, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The stem's tone before gating, with RMS 1."""
    phase = float(rng.uniform(0, 2 * np.pi))
    if spec.timbre == "sine":
        wave = _partials(t, spec.f0, [1.0], phase)
    elif spec.timbre == "harmonic":
        wave = _partials(t, spec.f0, [1.0, 0.18, 0.08], phase)
    elif spec.timbre == "buzz":
        wave = _partials(t, spec.f0, [1.0, 0.0, 0.25, 0.0, 0.12, 0.0, 0.06], phase)
    elif spec.timbre == "noise":
        wave = _narrow_noise(len(t), spec.f0, rng)
    elif spec.timbre == "pluck":
        wave = _partials(t, spec.f0, [1.0, 0.1], phase)
    elif spec.timbre == "vibrato":
        depth = 0.015 * spec.f0 / 5.0
        wave = np.sin(2 * np.pi * spec.f0 * t + depth * np.sin(2 * np.pi * 5.0 * t) + phase)
    else:
        raise ValueError(f"unknown timbre {spec.timbre!r}")
    rms = float(np.sqrt(np.mean(wave**2)))
    return wave / max(rms, 1e-12)


def _ramp_gate(t: np.ndarray, start: float, stop: float) -> np.ndarray:
    """1 inside [start, stop), 0 outside, with short linear ramps."""
    rise = np.clip((t - start) / _RAMP_S, 0.0, 1.0)
    fall = np.clip((stop - t) / _RAMP_S, 0.0, 1.0)
    return rise * fall


def _envelope(spec: SoundSpec, t: np.ndarray) -> np.ndarray:
    """Amplitude envelope: active span, rhythm pulses (or pluck decays), fluctuation."""
    gate = _ramp_gate(t, spec.onset, spec.onset + spec.duration)
    local = np.maximum(t - spec.onset, 0.0)
    if spec.rhythm_hz > 0:
        cycle = (local * spec.rhythm_hz) % 1.0
        period = 1.0 / spec.rhythm_hz
        gate = gate * np.clip(np.minimum(cycle, 0.5 - cycle) * period / _RAMP_S, 0.0, 1.0)
    if spec.timbre == "pluck":
        since = local % (1.0 / spec.rhythm_hz) if spec.rhythm_hz > 0 else local
        tau = 0.25 / spec.rhythm_hz if spec.rhythm_hz > 0 else max(spec.duration / 3.0, 0.3)
        gate = gate * np.exp(-since / tau)
    return gate * _fluctuation_curve(spec.fluctuation, len(t))


def _fluctuation_curve(gains: tuple[float, ...], n: int) -> np.ndarray:
    """Per-second gains as a curve, with 20 ms linear cross-fades at the second boundaries."""
    half = 0.01
    knots_t, knots_g = [0.0], [gains[0]]
    for k in range(1, len(gains)):
        knots_t += [k - half, k + half]
        knots_g += [gains[k - 1], gains[k]]
    knots_t.append(float(len(gains)))
    knots_g.append(gains[-1])
    return np.interp(np.arange(n) / SAMPLE_RATE, knots_t, knots_g)


@lru_cache(maxsize=8)
def synthesize(spec: SoundSpec) -> np.ndarray:
    """Render one object's stem.

    The result is cached (a scene's stems are synthesised once for its envelopes and again for
    its audio) and read-only: copy it before changing it.

    Args:
        spec: The sound.

    Returns:
        float64 samples, ``CLIP_SECONDS * SAMPLE_RATE`` long.
    """
    samples = _synthesize(spec)
    samples.flags.writeable = False
    return samples


def _synthesize(spec: SoundSpec) -> np.ndarray:
    """Render one object's stem (uncached)."""
    rng = np.random.default_rng(spec.seed)
    t = np.arange(CLIP_SECONDS * SAMPLE_RATE) / SAMPLE_RATE
    gain = 10.0 ** (spec.loudness_db / 20.0)
    return _carrier(spec, t, rng) * _envelope(spec, t) * gain


def per_second_rms(samples: np.ndarray) -> np.ndarray:
    """RMS of each whole second of ``samples`` (``CLIP_SECONDS`` values)."""
    seconds = samples[: CLIP_SECONDS * SAMPLE_RATE].reshape(CLIP_SECONDS, SAMPLE_RATE)
    return np.sqrt(np.mean(seconds**2, axis=1))


def mix(stems: list[np.ndarray], seed: int) -> tuple[np.ndarray, float]:
    """Mix stems, peak-normalise to ``PEAK`` and add the noise floor.

    Args:
        stems: Stems of the sounding objects (at least one).
        seed: Seed of the noise floor.

    Returns:
        (float32 samples in [-1, 1], the gain applied to the summed stems).
    """
    total = np.sum(stems, axis=0)
    gain = PEAK / max(float(np.max(np.abs(total))), 1e-9)
    noise = np.random.default_rng(seed).standard_normal(total.shape) * NOISE_FLOOR
    out = np.clip(total * gain + noise, -1.0, 1.0)
    return out.astype(np.float32), gain
