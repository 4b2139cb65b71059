import json

import cv2
import numpy as np
import pytest

from maskaudit.cli import main
from maskaudit.runtime.verdict import validate_verdict

EXPRESSION = "the object making the loudest sound"


def run_cli(args, capsys):
    try:
        main(args)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def frame_and_masks(tmp_path, make_clip_frame):
    frame_image, mask_pair = make_clip_frame
    cv2.imwrite(str(tmp_path / "frame.png"), frame_image(4))
    disc, box = mask_pair(4)
    cv2.imwrite(str(tmp_path / "disc.png"), disc)
    cv2.imwrite(str(tmp_path / "box.png"), box)
    cv2.imwrite(str(tmp_path / "small.png"), np.zeros((50, 50), np.uint8))
    return tmp_path


def test_audit_prints_one_verdict_per_mask(frame_and_masks, tiny_bundle, clip, capsys):
    d = frame_and_masks
    code, out, err = run_cli(
        [
            "audit",
            "--frame",
            str(d / "frame.png"),
            "--mask",
            str(d / "disc.png"),
            "--mask",
            str(d / "box.png"),
            "--mask",
            str(d / "small.png"),
            "--audio",
            str(clip.audio),
            "--t",
            "1.2",
            "--expression",
            EXPRESSION,
            "--bundle",
            str(tiny_bundle),
            "--backend",
            "ort-cpu",
            "--threads",
            "1",
        ],
        capsys,
    )
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["mask_id"] for r in records] == ["disc", "box", "small"]
    assert [r["status"] == "ok" for r in records] == [True, True, False]
    assert records[2]["status"].startswith(
        "error: mask small.png is 50x50 but the frame is 320x240"
    )
    assert records[0]["source"] == "frame.png" and records[0]["t"] == 1.2
    assert all(validate_verdict(r) == [] for r in records)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--backend", "tpu"], "Invalid value for '--backend'"),
        (["--bundle", "/nonexistent/bundle"], "bundle folder /nonexistent/bundle does not exist"),
    ],
)
def test_audit_bad_configuration_exits_non_zero(
    frame_and_masks, tiny_bundle, capsys, extra, message
):
    d = frame_and_masks
    args = [
        "audit",
        "--frame",
        str(d / "frame.png"),
        "--mask",
        str(d / "disc.png"),
        "--expression",
        EXPRESSION,
        "--bundle",
        str(tiny_bundle),
        *extra,
    ]
    code, out, err = run_cli(args, capsys)
    assert code != 0 and out == ""
    assert message in err


def test_stream_writes_verdicts_overlay_and_summary(clip, tiny_bundle, tmp_path, capsys):
    out_file, overlay, summary = tmp_path / "v.jsonl", tmp_path / "o.mp4", tmp_path / "s.json"
    code, out, err = run_cli(
        [
            "stream",
            "--video",
            str(clip.video),
            "--audio",
            str(clip.audio),
            "--masks",
            str(clip.masks),
            "--expression",
            EXPRESSION,
            "--out",
            str(out_file),
            "--overlay",
            str(overlay),
            "--smooth",
            "3",
            "--summary-json",
            str(summary),
            "--bundle",
            str(tiny_bundle),
            "--backend",
            "ort-cpu",
            "--threads",
            "1",
        ],
        capsys,
    )
    assert code == 0, err
    records = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert len(records) == 2 * clip.frames
    assert all(validate_verdict(r) == [] for r in records)
    assert f"{clip.frames} frames, {2 * clip.frames} verdicts, 0 errors, 0 dropped" in err
    assert "p50" in err and "p99" in err
    assert json.loads(summary.read_text())["frames"] == clip.frames
    capture = cv2.VideoCapture(str(overlay))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == clip.frames


def test_stream_to_stdout(clip, tiny_bundle, capsys):
    code, out, err = run_cli(
        [
            "stream",
            "--video",
            str(clip.video),
            "--audio",
            str(clip.audio),
            "--masks",
            str(clip.masks),
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
    assert len(out.splitlines()) == 2 * clip.frames


@pytest.mark.parametrize(
    "args, message",
    [
        (["--video", "/nonexistent.mp4"], "video /nonexistent.mp4 does not exist"),
        (["--backend", "gpu"], "Invalid value for '--backend'"),
        (["--bundle", "/nonexistent"], "bundle folder /nonexistent does not exist"),
        (["--camera", "0"], "give exactly one of --video, --camera or --url"),
        (["--masks", "/nonexistent"], "masks /nonexistent do not exist"),
        (["--audio", "/nonexistent.wav"], "audio /nonexistent.wav does not exist"),
    ],
)
def test_stream_bad_configuration_fails_at_start(clip, tiny_bundle, capsys, args, message):
    base = {
        "--video": str(clip.video),
        "--audio": str(clip.audio),
        "--masks": str(clip.masks),
        "--expression": EXPRESSION,
        "--bundle": str(tiny_bundle),
        "--backend": "ort-cpu",
    }
    argv = ["stream"]
    for key, value in base.items():
        if key not in args:
            argv += [key, value]
    code, out, err = run_cli(argv + args, capsys)
    assert code != 0 and out == ""
    assert message in err
    assert sum("rror" in line for line in err.splitlines()) == 1  # one line says what is wrong


def test_stream_with_ort_cuda_here_fails_with_the_reason(clip, tiny_bundle, capsys):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    code, out, err = run_cli(
        [
            "stream",
            "--video",
            str(clip.video),
            "--audio",
            str(clip.audio),
            "--masks",
            str(clip.masks),
            "--expression",
            EXPRESSION,
            "--bundle",
            str(tiny_bundle),
            "--backend",
            "ort-cuda",
        ],
        capsys,
    )
    assert code == 1 and out == ""
    assert err.startswith("maskaudit: error: backend ort-cuda: onnxruntime has no")
    assert "pip install onnxruntime-gpu" in err


@pytest.mark.parametrize("name", ["audit", "stream"])
def test_help_states_every_default(name, capsys):
    code, out, _ = run_cli([name, "--help"], capsys)
    assert code == 0
    for text in ("default: auto", "default: int8", "Default: the shipped bundle"):
        assert text in out.replace("\n", " ").replace("  ", " ")
    if name == "stream":
        for text in ("[default: 0;", "[default: 3;", "[default: 4;", "[default: -]"):
            assert text in out, text


def test_accept_min_iou_overrides_only_that_threshold(tiny_bundle):
    from maskaudit.commands.audit import load_auditor

    default = load_auditor(tiny_bundle, "ort-cpu", "int8", 1, False)
    strict = load_auditor(tiny_bundle, "ort-cpu", "int8", 1, False, accept_min_iou=0.9)
    assert strict.policy.accept_min_iou == 0.9
    assert strict.policy.reject_max_iou == default.policy.reject_max_iou
    decision = strict_decision(strict.policy)
    assert decision.action != "accept" and "0.9" in decision.reason


def strict_decision(policy):
    """An accept at IoU 0.8: kept by the defaults, overruled at accept_min_iou 0.9."""
    import numpy as np

    from maskaudit.runtime.policy import decide

    return decide(0.8, np.eye(7)[0], np.eye(4)[0], policy)
