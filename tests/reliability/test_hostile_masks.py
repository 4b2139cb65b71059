"""Hostile masks: odd encodings are normalised as documented, bad ones become error records."""

import json
import shutil

import cv2
import numpy as np
import pytest

from maskaudit.errors import ConfigError
from maskaudit.features.mask import read_mask
from maskaudit.runtime.auditor import Auditor
from maskaudit.runtime.verdict import validate_verdict

EXPRESSION = "the object making the loudest sound"
pytestmark = pytest.mark.timeout(60)


def verdict(auditor, frame, mask):
    return auditor.audit(frame, [mask], None, EXPRESSION)[0].to_dict()


def same_verdict(a, b):
    assert a["status"] == b["status"] == "ok", (a["status"], b["status"])
    assert a["iou"] == pytest.approx(b["iou"], abs=1e-4)
    assert (a["mask_type"], a["action"]) == (b["mask_type"], b["action"])


@pytest.mark.parametrize(
    "name, expected",
    [
        # 16-bit: 65535 is full scale; a 0/1 16-bit mask is read as 0/1
        ("mask_16bit.png", lambda disc: disc / 255.0),
        ("mask_16bit_01.png", lambda disc: (disc > 0).astype(np.float32)),
        # RGBA with one flat colour: the alpha channel is the mask
        ("mask_rgba_alpha.png", lambda disc: disc / 255.0),
        # RGBA with a coloured object: any nonzero colour channel is foreground
        ("mask_rgba_colour.png", lambda disc: (disc > 0).astype(np.float32)),
        # palette: index > 0 is foreground, whatever colour the palette gives it (here black)
        ("mask_palette.png", lambda disc: (disc > 0).astype(np.float32)),
    ],
)
def test_other_encodings_give_the_verdict_of_their_normalised_mask(
    name, expected, corpus, auditor, frame3, tools
):
    disc = tools.disc_mask(3).astype(np.float32)
    soft = read_mask(corpus.path(name))
    assert soft.dtype == np.float32 and soft.shape == disc.shape
    np.testing.assert_allclose(soft, expected(disc), atol=1e-6)
    same_verdict(verdict(auditor, frame3, corpus.path(name)), verdict(auditor, frame3, soft))
    same_verdict(
        verdict(auditor, frame3, corpus.path(name)),
        verdict(auditor, frame3, corpus.path("mask_8bit.png")),
    )


def test_soft_mask_keeps_its_soft_values(corpus, auditor, frame3):
    soft = read_mask(corpus.path("mask_soft.png"))
    assert soft.min() == 0.0 and soft.max() == 1.0 and len(np.unique(soft)) > 32
    same_verdict(
        verdict(auditor, frame3, corpus.path("mask_soft.png")), verdict(auditor, frame3, soft)
    )
    binary = verdict(auditor, frame3, (soft > 0.5).astype(np.float32))
    assert verdict(auditor, frame3, soft)["iou"] != binary["iou"]  # softness is not thrown away


def test_empty_mask_is_rejected_as_null_and_full_mask_is_audited(corpus, auditor, frame3):
    empty = verdict(auditor, frame3, corpus.path("mask_empty.png"))
    assert (empty["status"], empty["iou"], empty["mask_type"], empty["action"]) == (
        "ok",
        0.0,
        "null",
        "reject",
    )
    assert empty["reason"] == "empty mask"
    full = verdict(auditor, frame3, corpus.path("mask_full.png"))
    assert full["status"] == "ok" and full["mask_type"] != "null"
    assert validate_verdict(empty) == [] and validate_verdict(full) == []


@pytest.mark.parametrize(
    "name, message",
    [
        ("mask_text.png", "is not an image"),
        ("mask_zero.png", "is not an image"),
        ("mask_truncated.png", "is not an image"),
        ("mask_half_size.png", "is 32x24 but the frame is 64x48"),
        ("mask_other_aspect.png", "is 64x64 but the frame is 64x48"),
    ],
)
def test_unusable_mask_is_an_error_record_and_the_others_are_audited(
    name, message, corpus, auditor, frame3
):
    records = [
        v.to_dict()
        for v in auditor.audit(
            frame3, [corpus.path("mask_8bit.png"), corpus.path(name)], None, EXPRESSION
        )
    ]
    assert records[0]["status"] == "ok"
    assert records[1]["status"].startswith("error: mask ") and name in records[1]["status"]
    assert message in records[1]["status"]
    assert records[1]["iou"] is None and records[1]["action"] is None
    assert all(validate_verdict(r) == [] for r in records)


def test_resize_masks_stretches_the_same_aspect_only(corpus, tiny_bundle, frame3, tools):
    stretching = Auditor.load(tiny_bundle, backend="ort-cpu", threads=1, resize_masks=True)
    half = verdict(stretching, frame3, corpus.path("mask_half_size.png"))
    small = cv2.imread(str(corpus.path("mask_half_size.png")), cv2.IMREAD_UNCHANGED)
    stretched = cv2.resize(small.astype(np.float32) / 255, (64, 48), interpolation=cv2.INTER_AREA)
    assert half["status"] == "ok"
    other = verdict(stretching, frame3, corpus.path("mask_other_aspect.png"))
    assert other["status"].startswith("error: ") and "another aspect ratio" in other["status"]
    # the stretched mask is audited as a mask of the frame's own size would be
    direct = verdict(stretching, frame3, stretched)
    assert half["iou"] == pytest.approx(direct["iou"], abs=0.02)


def test_hostile_png_folder_streams_to_the_end(corpus, auditor, tmp_path):
    masks = shutil.copytree(corpus.masks, tmp_path / "masks")
    placed = {
        2: "mask_16bit.png",
        3: "mask_palette.png",
        4: "mask_rgba_alpha.png",
        5: "mask_text.png",
        6: "mask_zero.png",
        7: "mask_half_size.png",
        8: "mask_empty.png",
        9: "mask_full.png",
    }
    for frame, name in placed.items():
        shutil.copyfile(corpus.path(name), masks / f"{frame:06d}.png")
    run = auditor.stream(str(corpus.video), str(masks), str(corpus.wav), EXPRESSION)
    records = {r["frame"]: r for r in (v.to_dict() for v in run)}
    assert sorted(records) == list(range(corpus.frames))  # every frame, in one piece
    for frame in range(corpus.frames):
        status = records[frame]["status"]
        if frame in (5, 6):
            assert "is not an image" in status
        elif frame == 7:
            assert "is 32x24 but the frame is 64x48" in status
        else:
            assert status == "ok", (frame, status)
    assert records[8]["mask_type"] == "null" and records[8]["action"] == "reject"
    assert run.summary.errors == 3 and run.summary.frames == corpus.frames
    assert all(validate_verdict(r) == [] for r in records.values())


@pytest.mark.parametrize(
    "name, message",
    [
        ("rle_not_json.jsonl", "line 3 is not a JSON object"),
        ("rle_no_frame.jsonl", "line 3 is not a JSON object"),
        ("rle_list.jsonl", "line 3 is not a JSON object"),
        ("rle_infinite_frame.jsonl", "line 3 is not a JSON object"),
        ("rle_huge_frame.jsonl", "line 3 is not a JSON object"),
        ("rle_binary.jsonl", "line 3 is not a JSON object"),
    ],
)
def test_malformed_rle_file_is_a_start_up_error(
    name, message, corpus, auditor, tiny_bundle, tools, capsys
):
    path = corpus.path(name)
    with pytest.raises(ConfigError, match=message):
        auditor.stream(str(corpus.video), str(path), str(corpus.wav), EXPRESSION)
    code, out, err = tools.run_cli(
        [
            "stream",
            "--video",
            str(corpus.video),
            "--audio",
            str(corpus.wav),
            "--masks",
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
    tools.assert_one_line_error(code, out, err, name, message)


def test_damaged_rle_lines_are_error_records(corpus, auditor, tiny_bundle, tmp_path, tools, capsys):
    run = auditor.stream(
        str(corpus.video), str(corpus.path("rle_damaged.jsonl")), str(corpus.wav), EXPRESSION
    )
    records = {r["frame"]: r for r in (v.to_dict() for v in run)}
    assert sorted(records) == list(range(corpus.frames))
    expected = {
        2: "counts sum to 6 but size 48x64 has 3072 pixels",
        3: "RLE size [48] is not [h, w]",
        4: "the line has no 'size'",
        5: "larger than",
        6: "are not a list of run lengths",
        7: "are not a list of run lengths",
        8: "is 32x24 but the frame is 64x48",
    }
    for frame, record in records.items():
        if frame in expected:
            assert record["status"].startswith("error: "), record
            assert expected[frame] in record["status"], (frame, record["status"])
        else:
            assert record["status"] == "ok", (frame, record["status"])
    good = {
        r["frame"]: r
        for r in (
            v.to_dict()
            for v in auditor.stream(
                str(corpus.video), str(corpus.masks), str(corpus.wav), EXPRESSION
            )
        )
    }
    for frame in (0, 1, 9, 19):  # RLE and PNG of the same mask give the same verdict
        assert records[frame]["iou"] == pytest.approx(good[frame]["iou"], abs=1e-4)

    out_file = tmp_path / "v.jsonl"
    code, out, err = tools.run_cli(
        [
            "stream",
            "--video",
            str(corpus.video),
            "--audio",
            str(corpus.wav),
            "--masks",
            str(corpus.path("rle_damaged.jsonl")),
            "--expression",
            EXPRESSION,
            "--out",
            str(out_file),
            "--bundle",
            str(tiny_bundle),
            "--backend",
            "ort-cpu",
        ],
        capsys,
    )
    assert code == 0, err
    lines = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert len(lines) == corpus.frames
    assert sum(r["status"] != "ok" for r in lines) == len(expected)
    assert f"{corpus.frames} frames, {corpus.frames} verdicts, {len(expected)} errors" in err
