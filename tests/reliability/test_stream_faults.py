"""Faults during a stream: a source that stops, a live source that stalls, a backend that fails."""

import json
import logging
import re
import threading
import time

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from maskaudit.errors import BackendError
from maskaudit.runtime.auditor import Auditor
from maskaudit.runtime.sources import CaptureSource, IterableSource, Reconnect, SourceFrame
from maskaudit.runtime.verdict import validate_verdict

EXPRESSION = "the object making the loudest sound"
pytestmark = pytest.mark.timeout(60)
needs_cpu_build = pytest.mark.skipif(
    "CUDAExecutionProvider" in ort.get_available_providers(),
    reason="this onnxruntime really has CUDA; the test fakes a CUDA provider that falls back",
)


class Camera:
    """A fake live camera for ``CaptureSource(opener=...)``.

    It gives ``frames`` frames. After frame ``stall_at`` its reads fail (the stream stalls) and
    the next ``dead_opens`` reopenings fail too; then it resumes. After the last frame every
    read fails, as a camera that was unplugged.
    """

    def __init__(self, frames, stall_at=None, dead_opens=0, period=0.005):
        self.frames, self.stall_at, self.dead_opens, self.period = (
            frames,
            stall_at,
            dead_opens,
            period,
        )
        self.next = 0
        self.opens = 0
        self.stalled = False

    def open(self, target):
        self.opens += 1
        return _Capture(self, alive=not self.stalled or self.opens - 1 > self.dead_opens)


class _Capture:
    def __init__(self, camera, alive):
        self.camera, self.alive = camera, alive
        self.read_here = 0  # like a stream's clock, it starts again on every connection

    def isOpened(self):  # noqa: N802 - OpenCV's name
        return self.alive

    def read(self):
        cam = self.camera
        if not self.alive or cam.next >= cam.frames:
            return False, None
        if cam.next == cam.stall_at and not cam.stalled:
            cam.stalled = True
            cam.opens = 1
            return False, None
        time.sleep(cam.period)
        image = np.full((48, 64, 3), 20 * cam.next % 255, np.uint8)
        cam.next += 1
        self.read_here += 1
        return True, image

    def get(self, prop):
        if prop == cv2.CAP_PROP_POS_MSEC:
            return 40.0 * self.read_here
        return 25.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def release(self):
        self.alive = False


def live_run(auditor, camera, reconnect, tools):
    source = CaptureSource(0, opener=camera.open, reconnect=reconnect, name="fake-camera")
    assert source.live
    return auditor.stream(
        source, lambda f, i, t: {"m0": tools.disc_mask(i)}, np.zeros(16000 * 3), EXPRESSION
    )


def logged_delays(messages):
    return [
        (int(m.group(1)), float(m.group(2)))
        for m in (re.search(r"reconnect attempt (\d+) of \d+ in ([\d.]+) s", x) for x in messages)
        if m
    ]


def test_live_source_that_stalls_reconnects_with_backoff_and_resumes(auditor, tools, caplog):
    camera = Camera(frames=12, stall_at=5, dead_opens=2)
    reconnect = Reconnect(attempts=4, first_delay=0.01, factor=2.0, max_delay=1.0)
    run = live_run(auditor, camera, reconnect, tools)
    with caplog.at_level(logging.WARNING):
        records = [v.to_dict() for v in run]
    summary = run.summary

    # the stall: attempts 1 and 2 find the camera dead, attempt 3 gets frame 5
    # the end: all 4 attempts find no frame, and the stream ends
    assert logged_delays(caplog.messages) == [(1, 0.01), (2, 0.02), (3, 0.04)] + [
        (k, round(0.01 * 2 ** (k - 1), 2)) for k in range(1, 5)
    ]
    assert any("reconnected at attempt 3" in m for m in caplog.messages)
    assert any("no frame after 4 reconnect attempts" in m for m in caplog.messages)
    assert summary.reconnects == 7
    assert "7 reconnect attempts" in summary.format()
    assert summary.frames + summary.dropped == 12
    assert records[-1]["frame"] == 11  # frames after the stall are audited
    times = [r["t"] for r in records]
    assert all(b > a for a, b in zip(times, times[1:], strict=False))  # the clock restart is hidden
    assert all(r["status"] == "ok" and validate_verdict(r) == [] for r in records)
    assert all(r["source"] == "fake-camera" and "dropped_frames" in r for r in records)


def test_live_source_that_never_comes_back_ends_the_stream(auditor, tools, caplog):
    camera = Camera(frames=3)
    run = live_run(auditor, camera, Reconnect(attempts=2, first_delay=0.01), tools)
    start = time.monotonic()
    with caplog.at_level(logging.WARNING):
        records = [v.to_dict() for v in run]
    assert time.monotonic() - start < 10
    assert run.summary.reconnects == 2 and run.summary.frames + run.summary.dropped == 3
    assert len(records) == run.summary.frames
    assert logged_delays(caplog.messages) == [(1, 0.01), (2, 0.02)]


def test_no_reconnect_ends_at_the_first_failed_read(auditor, tools):
    run = live_run(auditor, Camera(frames=4, stall_at=2), Reconnect(attempts=0), tools)
    list(run)
    assert run.summary.reconnects == 0 and run.summary.frames + run.summary.dropped == 2


def test_stop_during_a_reconnect_wait_ends_at_once(auditor, tools):
    camera = Camera(frames=10, stall_at=2, dead_opens=100)
    run = live_run(auditor, camera, Reconnect(attempts=5, first_delay=30.0), tools)
    start = time.monotonic()
    for verdict in run:
        if verdict.frame >= 1:
            threading.Timer(0.2, run.stop, args=("test",)).start()
    assert time.monotonic() - start < 10  # not the 30 s wait
    assert run.summary.stopped == "test" and run.summary.reconnects == 1


def test_python_live_source_that_pauses_and_resumes(auditor, tools):
    def frames():
        for i in range(8):
            if i == 4:
                time.sleep(0.6)  # the source stalls, then goes on
            yield SourceFrame(i, i / 10, tools.frame_image(i)[:, :, ::-1].copy())

    run = auditor.stream(
        IterableSource(frames(), live=True, name="paused"),
        lambda f, i, t: {"m0": tools.disc_mask(i)},
        np.zeros(16000),
        EXPRESSION,
    )
    records = [v.to_dict() for v in run]
    assert run.summary.frames + run.summary.dropped == 8
    assert records[-1]["frame"] == 7 and all(r["status"] == "ok" for r in records)


def test_python_source_that_fails_mid_stream_keeps_what_was_audited(auditor, tools, tmp_path):
    from maskaudit.runtime.sinks import JsonlSink

    def frames():
        for i in range(6):
            if i == 4:
                raise OSError("the capture card went away")
            yield tools.frame_image(i)[:, :, ::-1].copy()

    run = auditor.stream(
        IterableSource(frames()),
        lambda f, i, t: {"m0": tools.disc_mask(i)},
        np.zeros(16000),
        EXPRESSION,
    )
    out = tmp_path / "v.jsonl"
    with pytest.raises(OSError, match="capture card"):
        run.run([JsonlSink(out)])
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["frame"] for r in lines] == [0, 1, 2, 3]  # written and flushed before the error
    assert run.summary is not None and run.summary.frames == 4


def test_truncated_video_through_the_cli(corpus, tiny_bundle, tools, capsys, tmp_path):
    out, summary = tmp_path / "v.jsonl", tmp_path / "s.json"
    code, stdout, err = tools.run_cli(
        [
            "stream",
            "--video",
            str(corpus.path("truncated.avi")),
            "--audio",
            str(corpus.wav),
            "--masks",
            str(corpus.masks),
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
        ],
        capsys,
    )
    assert code == 0, err
    records = [json.loads(line) for line in out.read_text().splitlines()]
    totals = json.loads(summary.read_text())
    assert totals["frames"] == len(records) and totals["errors"] > 0
    assert sum(r["status"] != "ok" for r in records) == totals["errors"]
    assert "Traceback" not in err


@pytest.fixture
def fake_cuda(monkeypatch):
    """onnxruntime claims a CUDA provider that quietly falls back to the CPU when used."""
    real = ort.get_available_providers()
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", *real])


@needs_cpu_build
def test_auto_falls_back_when_a_backend_fails_to_load_and_records_say_so(
    fake_cuda, tiny_bundle, corpus
):
    auditor = Auditor.load(tiny_bundle, backend="auto", threads=1)
    assert auditor.backend_name == "ort-cpu" and auditor.backend.requested == "auto"
    note = auditor.backend.note
    assert "auto chose ort-cpu" in note and "ort-cuda: failed" in note and "fell back" in note
    run = auditor.stream(str(corpus.video), str(corpus.masks), str(corpus.wav), EXPRESSION)
    records = [v.to_dict() for v in run]
    assert len(records) == corpus.frames
    for record in records:
        assert record["backend"] == "ort-cpu" and record["backend_note"] == note
    assert run.summary.backend == "ort-cpu" and run.summary.backend_note == note


@needs_cpu_build
def test_auto_fallback_is_reported_by_the_cli_and_a_named_backend_is_an_error(
    fake_cuda, tiny_bundle, corpus, tools, capsys
):
    base = [
        "stream",
        "--video",
        str(corpus.video),
        "--audio",
        str(corpus.wav),
        "--masks",
        str(corpus.masks),
        "--expression",
        EXPRESSION,
        "--bundle",
        str(tiny_bundle),
    ]
    code, out, err = tools.run_cli([*base, "--backend", "auto"], capsys)
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert {r["backend"] for r in records} == {"ort-cpu"}
    assert all("ort-cuda: failed" in r["backend_note"] for r in records)
    assert "maskaudit: auto chose ort-cpu" in err

    code, out, err = tools.run_cli([*base, "--backend", "ort-cuda"], capsys)
    tools.assert_one_line_error(code, out, err, "backend ort-cuda", "fell back")
    with pytest.raises(BackendError, match="fell back"):
        Auditor.load(tiny_bundle, backend="ort-cuda")
