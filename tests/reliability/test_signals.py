"""SIGINT and SIGTERM during ``maskaudit stream``: a clean stop with everything written."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from maskaudit.runtime.signals import EXIT_CODES
from maskaudit.runtime.verdict import validate_verdict

EXPRESSION = "the object making the loudest sound"
FRAMES = 3000  # far more than the stream gets through before the signal
FPS = 50


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory, tools):
    """A 60-s clip of small frames with two candidates per frame in one NPZ."""
    root = tmp_path_factory.mktemp("long")
    frames = [tools.frame_image(i % 40, 32, 24) for i in range(FRAMES)]
    video = tools.write_video(root / "long.mp4", frames, FPS, "mp4v")
    masks = np.stack(
        [np.stack([tools.disc_mask(i % 40, 32, 24), 255 - tools.disc_mask(i % 40, 32, 24)])
         for i in range(FRAMES)]
    )  # fmt: skip
    np.savez_compressed(root / "masks.npz", masks=masks > 0)
    rng = np.random.default_rng(0)
    audio = tools.write_wav(root / "long.wav", 0.1 * rng.standard_normal(16000 * FRAMES // FPS))
    return video, root / "masks.npz", audio


def wait_for_lines(path: Path, count: int, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"the stream ended before the signal (rc {process.returncode}): {err}")
        if path.is_file() and path.read_text().count("\n") >= count:
            return
        time.sleep(0.05)
    process.kill()
    pytest.fail("the stream wrote no verdicts in time")


@pytest.mark.timeout(90)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_signal_stops_the_stream_cleanly(sig, long_clip, tiny_bundle, tmp_path):
    video, masks, audio = long_clip
    out, summary = tmp_path / "verdicts.jsonl", tmp_path / "summary.json"
    command = [
        sys.executable,
        "-m",
        "maskaudit",
        "stream",
        "--video",
        str(video),
        "--audio",
        str(audio),
        "--masks",
        str(masks),
        "--expression",
        EXPRESSION,
        "--out",
        str(out),
        "--summary-json",
        str(summary),
        "--bundle",
        str(tiny_bundle),
        "--backend",
        "ort-cpu",
        "--threads",
        "1",
    ]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    wait_for_lines(out, 10, process, timeout=60)
    process.send_signal(sig)
    sent = time.monotonic()
    try:
        stdout, stderr = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"the stream did not stop within 30 s of {sig.name}")
    assert time.monotonic() - sent < 15

    assert process.returncode == EXIT_CODES[sig.name] == 128 + int(sig), stderr
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    assert f"maskaudit: stopped by {sig.name}" in stderr

    text = out.read_text()
    assert text.endswith("\n")  # the last record was finished
    records = [json.loads(line) for line in text.splitlines()]
    assert all(validate_verdict(r) == [] for r in records)
    frames = [r["frame"] for r in records]
    assert frames == sorted(frames) and len(set(frames)) < FRAMES  # it really stopped early
    assert set(frames) == set(range(len(set(frames))))  # no frame skipped
    for frame in set(frames):  # each frame complete: both candidates written
        assert sorted(r["mask_id"] for r in records if r["frame"] == frame) == ["m0", "m1"]

    totals = json.loads(summary.read_text())
    assert totals["stopped"] == sig.name
    assert totals["frames"] == len(set(frames)) and totals["verdicts"] == len(records)
    assert f"{totals['frames']} frames, {totals['verdicts']} verdicts" in stderr
