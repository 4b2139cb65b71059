"""Hostile videos and frames: each gives a verdict, error records, or one clear start-up error."""

import json
import logging

import numpy as np
import pytest

from maskaudit.errors import ConfigError, InputError
from maskaudit.runtime.sources import CaptureSource, IterableSource
from maskaudit.runtime.verdict import validate_verdict

EXPRESSION = "the object making the loudest sound"
pytestmark = pytest.mark.timeout(60)


def stream_args(corpus, tiny_bundle, **over):
    args = {
        "--video": str(corpus.video),
        "--audio": str(corpus.wav),
        "--masks": str(corpus.masks),
        "--expression": EXPRESSION,
        "--bundle": str(tiny_bundle),
        "--backend": "ort-cpu",
        "--threads": "1",
    }
    args.update(over)
    return ["stream", *[v for kv in args.items() for v in kv]]


@pytest.mark.parametrize(
    "name, message",
    [
        ("zero.mp4", "cannot be opened"),
        ("truncated.mp4", "cannot be opened"),  # an mp4 cut in half has lost its index
        ("not_a_video.mp4", "cannot be opened"),
        ("no_frames.avi", "has no frame"),
    ],
)
def test_unreadable_video_is_a_start_up_error(
    name, message, corpus, auditor, tiny_bundle, tools, capsys
):
    path = corpus.path(name)
    with pytest.raises(ConfigError, match=message):
        auditor.stream(str(path), str(corpus.masks), str(corpus.wav), EXPRESSION)
    code, out, err = tools.run_cli(
        stream_args(corpus, tiny_bundle, **{"--video": str(path)}), capsys
    )
    tools.assert_one_line_error(code, out, err, name, message)


def test_truncated_video_gives_its_frames_then_error_records_then_ends(corpus, auditor, caplog):
    run = auditor.stream(
        str(corpus.path("truncated.avi")), str(corpus.masks), str(corpus.wav), EXPRESSION
    )
    with caplog.at_level(logging.WARNING):
        records = [v.to_dict() for v in run]
    frames = [r["frame"] for r in records]
    assert frames == list(range(len(frames)))  # in order, none skipped
    ok = [r for r in records if r["status"] == "ok"]
    bad = [r for r in records if r["status"] != "ok"]
    assert 0 < len(ok) < corpus.frames and bad, (len(ok), len(bad))
    assert [r["frame"] for r in ok] == list(range(len(ok)))  # the good part comes first
    for record in bad:
        assert "cannot be decoded" in record["status"] and record["iou"] is None
    assert all(validate_verdict(r) == [] for r in records)
    assert run.summary.frames == len(records) and run.summary.errors == len(bad)
    assert any("truncated" in m for m in caplog.messages), caplog.messages


def test_one_pixel_frames_give_verdicts(corpus, auditor):
    records = [
        v.to_dict()
        for v in auditor.stream(
            str(corpus.path("pixel.avi")),
            str(corpus.path("pixel_masks")),
            str(corpus.wav),
            EXPRESSION,
        )
    ]
    assert len(records) == 3
    for record in records:
        assert record["status"] == "ok" and validate_verdict(record) == []
        assert 0.0 <= record["iou"] <= 1.0


def test_one_pixel_frame_through_the_cli(corpus, tiny_bundle, tools, capsys):
    code, out, err = tools.run_cli(
        [
            "audit",
            "--frame",
            str(corpus.path("pixel_frame.png")),
            "--mask",
            str(corpus.path("pixel_mask.png")),
            "--expression",
            EXPRESSION,
            "--bundle",
            str(tiny_bundle),
            "--backend",
            "ort-cpu",
        ],
        capsys,
    )
    assert code == 0, err
    (record,) = [json.loads(line) for line in out.splitlines()]
    assert record["status"] == "ok" and validate_verdict(record) == []


def test_large_frames_give_verdicts(corpus, auditor, tiny_bundle, tools, capsys):
    records = [
        v.to_dict()
        for v in auditor.stream(
            str(corpus.path("large.avi")),
            str(corpus.path("large_masks")),
            str(corpus.wav),
            EXPRESSION,
        )
    ]
    assert [r["frame"] for r in records] == [0, 1]
    assert all(r["status"] == "ok" and validate_verdict(r) == [] for r in records)

    code, out, err = tools.run_cli(
        [
            "audit",
            "--frame",
            str(corpus.path("large_frame.png")),
            "--mask",
            str(corpus.path("large_mask.png")),
            "--expression",
            EXPRESSION,
            "--bundle",
            str(tiny_bundle),
            "--backend",
            "ort-cpu",
        ],
        capsys,
    )
    assert code == 0, err
    assert json.loads(out)["status"] == "ok"


def test_large_frame_verdict_equals_the_downscaled_frame(auditor, tools):
    """Normalisation, not luck: a 4000x3000 frame is audited as its model-size resize."""
    big = tools.frame_image(0, 4000, 3000)[:, :, ::-1].copy()
    mask = tools.disc_mask(0, 4000, 3000)
    small = auditor.prepare_frame(big)
    small_mask = auditor.candidates([mask], big.shape)[0].prepared
    a = auditor.audit(big, [mask], None, EXPRESSION)[0].to_dict()
    b = auditor.audit(small, [small_mask], None, EXPRESSION)[0].to_dict()
    assert a["iou"] == pytest.approx(b["iou"], abs=1e-4) and a["action"] == b["action"]


@pytest.mark.parametrize(
    "frame, message",
    [
        (np.zeros((48, 64, 3), np.float32), "dtype float32"),
        (np.zeros((48, 64, 2), np.uint8), "shape"),
        (np.zeros((0, 64, 3), np.uint8), "empty"),
        ("not an array", "numpy array"),
    ],
)
def test_bad_frames_in_a_stream_are_error_records(frame, message, auditor, tools):
    frames = [tools.frame_image(i)[:, :, ::-1].copy() for i in range(4)]
    frames[1] = frame
    run = auditor.stream(
        IterableSource(frames),
        lambda f, i, t: {"m0": tools.disc_mask(i)},
        np.zeros(16000, np.float32),
        EXPRESSION,
    )
    records = [v.to_dict() for v in run]
    assert [r["frame"] for r in records] == [0, 1, 2, 3]
    assert [r["status"] == "ok" for r in records] == [True, False, True, True]
    assert message in records[1]["status"]
    with pytest.raises(InputError, match=message):
        auditor.audit(frame, [tools.disc_mask(0)], None, EXPRESSION)


def test_capture_source_of_a_file_reads_its_first_frame_once(corpus):
    source = CaptureSource(corpus.video)
    frames = list(source)
    source.close()
    assert len(frames) == corpus.frames
    assert [f.index for f in frames] == list(range(corpus.frames))
    assert all(f.error is None for f in frames)


@pytest.mark.parametrize("name", ["mask_text.png", "mask_zero.png", "mask_truncated.png"])
def test_frame_file_that_is_not_an_image_is_a_one_line_error(
    name, corpus, tiny_bundle, tools, capsys
):
    code, out, err = tools.run_cli(
        [
            "audit",
            "--frame",
            str(corpus.path(name)),
            "--mask",
            str(corpus.path("mask_8bit.png")),
            "--expression",
            EXPRESSION,
            "--bundle",
            str(tiny_bundle),
            "--backend",
            "ort-cpu",
        ],
        capsys,
    )
    tools.assert_one_line_error(code, out, err, name, "is not an image")
