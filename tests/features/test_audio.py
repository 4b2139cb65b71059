import wave

import librosa
import numpy as np
import pytest

from maskaudit.errors import InputError
from maskaudit.features.audio import (
    load_audio,
    log_mel,
    log_mel_batch,
    mel_filterbank,
    split_windows,
)


def _librosa_log_mel(window):
    power = librosa.feature.melspectrogram(
        y=window,
        sr=16000,
        n_fft=400,
        hop_length=160,
        win_length=400,
        window="hann",
        center=True,
        power=2.0,
        n_mels=64,
        fmin=50.0,
        fmax=8000.0,
    )
    return np.log(power + 1e-6)


def _tone(freq=440.0, seconds=1.0, amplitude=0.5):
    t = np.arange(int(16000 * seconds)) / 16000
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _noise(seed, n=16000):
    return np.random.default_rng(seed).standard_normal(n).astype(np.float32)


def _write_wav(path, samples, sr):
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1 if pcm.ndim == 1 else pcm.shape[1])
        handle.setsampwidth(2)
        handle.setframerate(sr)
        handle.writeframes(pcm.tobytes())


@pytest.mark.parametrize(
    "window",
    [
        pytest.param(_noise(0), id="noise"),
        pytest.param(0.01 * _noise(1), id="quiet"),
        pytest.param(_tone(440.0), id="tone"),
        pytest.param(_tone(3000.0, amplitude=1.0), id="high-tone"),
        pytest.param(np.zeros(16000, np.float32), id="silence"),
    ],
)
def test_log_mel_matches_librosa(window):
    ours = log_mel(window)
    reference = _librosa_log_mel(window)
    assert ours.shape == reference.shape == (64, 101)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, reference, atol=1e-4, rtol=0)


def test_filterbank_is_librosas_default_slaney():
    expected = librosa.filters.mel(sr=16000, n_fft=400, n_mels=64, fmin=50, fmax=8000)
    np.testing.assert_array_equal(mel_filterbank(), expected)
    assert mel_filterbank().shape == (64, 201)


def test_log_mel_of_silence_is_log_offset():
    np.testing.assert_allclose(log_mel(np.zeros(16000, np.float32)), np.log(1e-6), rtol=1e-6)


def test_tone_energy_lands_in_the_right_band():
    features = log_mel(_tone(1000.0))
    centres = librosa.mel_frequencies(n_mels=66, fmin=50, fmax=8000)[1:-1]
    assert abs(centres[features[:, 50].argmax()] - 1000.0) < 60.0


def test_batch_equals_single_windows_and_is_deterministic():
    windows = np.random.default_rng(2).standard_normal((3, 16000)).astype(np.float32)
    batch = log_mel_batch(windows)
    assert batch.shape == (3, 64, 101) and batch.dtype == np.float32
    for index in range(3):
        np.testing.assert_array_equal(batch[index], log_mel(windows[index]))
    np.testing.assert_array_equal(batch, log_mel_batch(windows.copy()))


def test_short_window_is_zero_padded():
    short = np.random.default_rng(3).standard_normal(9000).astype(np.float32)
    padded = np.concatenate([short, np.zeros(7000, np.float32)])
    np.testing.assert_array_equal(log_mel(short), log_mel(padded))


def test_long_window_is_rejected():
    with pytest.raises(InputError, match="16001 samples"):
        log_mel(np.zeros(16001, np.float32))


def test_non_finite_samples_become_zero():
    window = np.random.default_rng(4).standard_normal(16000).astype(np.float32)
    cleaned = window.copy()
    window[[10, 500, 9000]] = [np.nan, np.inf, -np.inf]
    cleaned[[10, 500, 9000]] = 0.0
    np.testing.assert_array_equal(log_mel(window), log_mel(cleaned))
    assert np.isfinite(log_mel_batch(window[None])).all()


def test_log_mel_rejects_wrong_rank():
    with pytest.raises(InputError, match="1-D"):
        log_mel(np.zeros((2, 8000), np.float32))
    with pytest.raises(InputError, match="shape"):
        log_mel_batch(np.zeros(16000, np.float32))


def test_split_windows_pads_the_last_window():
    samples = np.arange(1, 35001, dtype=np.float32)
    windows = split_windows(samples)
    assert windows.shape == (3, 16000) and windows.dtype == np.float32
    np.testing.assert_array_equal(windows.reshape(-1)[:35000], samples)
    assert not windows[2, 3000:].any()


def test_split_windows_exact_count_pads_and_truncates():
    samples = np.ones(25000, np.float32)
    assert split_windows(samples, n_windows=10).shape == (10, 16000)
    assert split_windows(samples, n_windows=10)[2:].sum() == 0
    assert split_windows(samples, n_windows=1).shape == (1, 16000)
    assert split_windows(samples, n_windows=1).min() == 1.0
    assert split_windows(np.zeros(0, np.float32)).shape == (0, 16000)
    assert split_windows(np.ones(8000, np.float32), sr=8000).shape == (1, 8000)


def test_split_windows_rejects_bad_input():
    with pytest.raises(InputError, match="mono"):
        split_windows(np.zeros((2, 100), np.float32))
    with pytest.raises(InputError, match="negative"):
        split_windows(np.zeros(100, np.float32), n_windows=-1)


def test_load_audio_resamples_to_16k_mono(tmp_path):
    path = tmp_path / "tone.wav"
    _write_wav(path, _tone(440.0, seconds=2.0)[::2], sr=8000)
    samples = load_audio(path)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert samples.shape == (32000,)
    assert 0.4 < np.abs(samples).max() < 0.6


def test_load_audio_mixes_stereo_to_mono(tmp_path):
    path = tmp_path / "stereo.wav"
    left = _tone(440.0, seconds=0.5)
    _write_wav(path, np.stack([left, np.zeros_like(left)], axis=1), sr=16000)
    samples = load_audio(path)
    assert samples.shape == (8000,)
    np.testing.assert_allclose(samples, left / 2, atol=1e-3)


def test_load_audio_replaces_non_finite_samples(tmp_path):
    soundfile = pytest.importorskip("soundfile", reason="writes the float WAV with NaN")
    path = tmp_path / "nan.wav"
    samples = _tone(440.0, seconds=0.25)
    samples[[5, 50]] = [np.nan, np.inf]
    soundfile.write(str(path), samples, 16000, subtype="FLOAT")
    loaded = load_audio(path)
    assert np.isfinite(loaded).all()
    assert loaded[5] == 0.0 and loaded[50] == 0.0


def test_load_audio_errors_name_the_file(tmp_path):
    with pytest.raises(InputError, match="missing.wav"):
        load_audio(tmp_path / "missing.wav")
    bogus = tmp_path / "bogus.wav"
    bogus.write_bytes(b"RIFF not really a wave file")
    with pytest.raises(InputError, match="bogus.wav"):
        load_audio(bogus)
