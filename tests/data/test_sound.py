import numpy as np
import pytest

from maskaudit.data import sound

SR = sound.SAMPLE_RATE


def spec(**kw):
    base = dict(
        timbre="sine",
        f0=440.0,
        onset=2.0,
        duration=3.0,
        loudness_db=0.0,
        rhythm_hz=0.0,
        fluctuation=(1.0,) * 10,
        seed=1,
    )
    base.update(kw)
    return sound.SoundSpec(**base)


def test_stem_is_silent_outside_its_span_and_has_rms_from_loudness():
    x = sound.synthesize(spec(loudness_db=-6.0))
    assert x.shape == (10 * SR,)
    assert np.abs(x[: int(1.99 * SR)]).max() == 0.0
    assert np.abs(x[int(5.01 * SR) :]).max() == 0.0
    active = x[int(2.1 * SR) : int(4.9 * SR)]
    assert np.sqrt(np.mean(active**2)) == pytest.approx(10 ** (-6 / 20), rel=0.02)


@pytest.mark.parametrize("timbre", ["sine", "harmonic", "buzz", "noise", "pluck", "vibrato"])
def test_each_timbre_peaks_at_its_fundamental(timbre):
    x = sound.synthesize(spec(timbre=timbre, f0=600.0, onset=0.0, duration=10.0))
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    band = (freqs > 600 * 2**-0.3) & (freqs < 600 * 2**0.3)
    assert power[band].sum() > 0.6 * power.sum()


def test_rhythm_pulses_at_its_rate_with_half_duty():
    x = sound.synthesize(spec(onset=0.0, duration=10.0, rhythm_hz=4.0))
    frames = np.sqrt(np.mean(x.reshape(-1, SR // 100) ** 2, axis=1))
    on = frames > 0.5 * frames.max()
    assert 0.4 < on.mean() < 0.6
    edges = np.count_nonzero(np.diff(on.astype(int)) == 1)
    assert 38 <= edges <= 41


def test_fluctuation_scales_each_second():
    gains = (1.0, 0.6, 1.0, 0.6, 1.0, 0.6, 1.0, 0.6, 1.0, 0.6)
    x = sound.synthesize(spec(onset=0.0, duration=10.0, fluctuation=gains))
    rms = sound.per_second_rms(x)
    np.testing.assert_allclose(rms / rms.max(), gains, rtol=0.03)


def test_mix_is_peak_normalised_without_clipping():
    a = sound.synthesize(spec(onset=0.0, duration=10.0))
    b = sound.synthesize(spec(f0=150.0, loudness_db=-12.0, seed=2))
    out, gain = sound.mix([a, b], seed=3)
    assert out.dtype == np.float32 and out.shape == (10 * SR,)
    assert 0.78 < np.abs(out).max() < 0.82
    assert gain == pytest.approx(sound.PEAK / np.abs(a + b).max())
    assert np.abs(out[: SR // 10]).max() > 0


def test_synthesis_is_deterministic_and_read_only():
    x = sound.synthesize(spec(timbre="noise", seed=5))
    y = sound._synthesize(spec(timbre="noise", seed=5))
    assert np.array_equal(x, y)
    with pytest.raises(ValueError):
        x[0] = 1.0
