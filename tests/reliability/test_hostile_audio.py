"""Hostile audio: resampled, down-mixed and cleaned as documented, or refused at start."""

import logging
import math

import numpy as np
import pytest

from maskaudit.errors import ConfigError
from maskaudit.features.audio import load_audio
from maskaudit.runtime.sources import WavAudio, open_audio
from maskaudit.runtime.verdict import validate_verdict

EXPRESSION = "the object making the loudest sound"
pytestmark = pytest.mark.timeout(60)


def stream(auditor, corpus, audio):
    run = auditor.stream(str(corpus.video), str(corpus.masks), audio, EXPRESSION)
    return [v.to_dict() for v in run], run.summary


@pytest.mark.parametrize(
    "name, message",
    [
        ("no_samples.wav", "holds 0.00 s of sound"),
        ("short.wav", "holds 0.19 s of sound"),
        ("not_audio.wav", "not_audio.wav"),
    ],
)
def test_audio_without_a_window_is_a_start_up_error(
    name, message, corpus, auditor, tiny_bundle, tools, capsys
):
    path = corpus.path(name)
    with pytest.raises(ConfigError, match=message):
        auditor.stream(str(corpus.video), str(corpus.masks), str(path), EXPRESSION)
    for command in (
        ["stream", "--video", str(corpus.video), "--masks", str(corpus.masks)],
        ["audit", "--frame", str(corpus.frame_png), "--mask", str(corpus.masks / "000003.png")],
    ):
        code, out, err = tools.run_cli(
            [
                *command,
                "--audio",
                str(path),
                "--expression",
                EXPRESSION,
                "--bundle",
                str(tiny_bundle),
                "--backend",
                "ort-cpu",
            ],
            capsys,
        )
        tools.assert_one_line_error(code, out, err, name)


@pytest.mark.parametrize(
    "name",
    ["stereo_44k.wav", "mono_8k.wav", "six_channels.wav", "pcm8.wav", "pcm24.wav", "pcm32.wav"],
)
def test_other_rates_channels_and_widths_are_resampled_and_mixed_down(name, corpus, auditor):
    """Windows equal librosa's 16 kHz mono decoding of the file (the documented rule)."""
    path = corpus.path(name)
    source = open_audio(str(path))
    reference = load_audio(path)
    assert source.duration == pytest.approx(reference.size / 16000, abs=1e-3)
    for second in range(math.floor(source.duration)):
        window = source.window(second)
        assert window.shape == (16000,) and window.dtype == np.float32
        np.testing.assert_allclose(
            window, reference[second * 16000 : (second + 1) * 16000], atol=1e-4
        )
    records, summary = stream(auditor, corpus, str(path))
    assert len(records) == corpus.frames and summary.errors == 0
    assert all(validate_verdict(r) == [] for r in records)


def test_sound_survives_the_format_change(corpus, auditor):
    """Not only valid: a 16-bit 16 kHz file and its 24-bit copy give the same verdicts."""
    a, _ = stream(auditor, corpus, str(corpus.wav))
    b, _ = stream(auditor, corpus, str(corpus.path("pcm24.wav")))
    for ra, rb in zip(a, b, strict=True):
        assert ra["iou"] == pytest.approx(rb["iou"], abs=2e-3)


def test_nan_and_infinite_samples_become_zero(corpus, auditor, caplog):
    with caplog.at_level(logging.WARNING):
        source = open_audio(str(corpus.path("nan_inf.wav")))
    assert any("NaN or infinite samples replaced by 0" in m for m in caplog.messages)
    clean = open_audio(str(corpus.path("nan_inf_cleaned.wav")))
    for second in (0, 1):
        assert np.isfinite(source.window(second)).all()
        np.testing.assert_array_equal(source.window(second), clean.window(second))
    dirty, summary = stream(auditor, corpus, str(corpus.path("nan_inf.wav")))
    cleaned, _ = stream(auditor, corpus, str(corpus.path("nan_inf_cleaned.wav")))
    assert summary.errors == 0
    assert [r["iou"] for r in dirty] == [r["iou"] for r in cleaned]


def test_nan_samples_in_an_array_window(corpus, auditor, frame3):
    window = np.full(16000, np.nan, np.float32)
    window[::2] = np.inf
    (record,) = auditor.audit(frame3, [corpus.masks / "000003.png"], window, EXPRESSION)
    (silent,) = auditor.audit(
        frame3, [corpus.masks / "000003.png"], np.zeros(16000, np.float32), EXPRESSION
    )
    assert record.ok and record.iou == pytest.approx(silent.iou, abs=1e-6)


@pytest.mark.parametrize("name", ["lies_longer.wav", "placeholder_length.wav"])
def test_header_claiming_more_samples_than_the_file_holds(name, corpus, auditor, caplog):
    """The real length counts: seconds past it have no window (error records), not silence."""
    with caplog.at_level(logging.WARNING):
        source = WavAudio(corpus.path(name))
    assert source.duration == pytest.approx(1.2)
    assert any("the header claims" in m and "holds 19200" in m for m in caplog.messages)
    assert source.window(1) is None and source.window(0).shape == (16000,)
    records, summary = stream(auditor, corpus, str(corpus.path(name)))
    assert len(records) == corpus.frames
    for record in records:
        if record["t"] < 1.0:
            assert record["status"] == "ok"
        else:
            assert record["status"].startswith("error: no audio window for second 1")
            assert f"{name} ends at 1.20 s" in record["status"]
    assert summary.errors == corpus.frames // 2


def test_header_claiming_fewer_samples_is_believed(corpus):
    source = WavAudio(corpus.path("lies_shorter.wav"))
    assert source.duration == pytest.approx(1.2)
    np.testing.assert_array_equal(source.window(0), WavAudio(corpus.wav).window(0))
