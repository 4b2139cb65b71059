import math
import shutil
import threading
import time
import tracemalloc

import cv2
import numpy as np
import pytest

from maskaudit.errors import ConfigError, InputError
from maskaudit.runtime.auditor import Auditor
from maskaudit.runtime.backends.base import LoadedBackend
from maskaudit.runtime.sources import IterableSource, SourceFrame, WavAudio
from maskaudit.runtime.verdict import validate_verdict

EXPRESSION = "the object making the loudest sound"


def records(run):
    return [v.to_dict() for v in run]


def test_stream_gives_one_valid_record_per_frame_and_candidate(auditor, clip):
    run = auditor.stream(str(clip.video), str(clip.masks), str(clip.audio), EXPRESSION)
    out = records(run)
    assert len(out) == clip.frames * 2
    assert sorted((r["frame"], r["mask_id"]) for r in out) == [
        (i, m) for i in range(clip.frames) for m in ("m0", "m1")
    ]
    for record in out:
        assert validate_verdict(record) == [], record
        assert record["status"] == "ok"
        assert record["source"] == "clip.mp4"
        assert record["t"] == pytest.approx(record["frame"] / clip.fps, abs=1e-4)
        assert "dropped_frames" not in record
        assert record["latency_ms"]["queue"] >= 0
    summary = run.summary
    assert (summary.frames, summary.verdicts, summary.errors, summary.dropped) == (
        clip.frames,
        clip.frames * 2,
        0,
        0,
    )
    assert summary.fps > 0 and summary.latency_ms["p50"] <= summary.latency_ms["p99"]


def test_stream_equals_audit_with_the_same_context(auditor, clip, clip_frames):
    out = records(auditor.stream(str(clip.video), str(clip.masks), str(clip.audio), EXPRESSION))
    audio = WavAudio(clip.audio)
    checked = 0
    for index in (0, 7, 24, 25, 26, 49):
        t = index / clip.fps
        seconds = range(max(0, math.floor(t) - 9), math.floor(t) + 1)
        context = [(clip_frames[j * clip.fps], audio.window(j)) for j in seconds]
        masks = [clip.masks / f"{index:06d}_m0.png", clip.masks / f"{index:06d}_m1.png"]
        verdicts = auditor.audit(
            clip_frames[index], masks, audio.window(math.floor(t)), EXPRESSION, context=context
        )
        streamed = sorted((r for r in out if r["frame"] == index), key=lambda r: r["mask_id"])
        for verdict, record in zip(verdicts, streamed, strict=True):
            assert record["iou"] == pytest.approx(verdict.to_dict()["iou"], abs=2e-4)
            for key, p in verdict.to_dict()["type_probs"].items():
                assert record["type_probs"][key] == pytest.approx(p, abs=2e-4)
            checked += 1
    assert checked == 12
    # the context really matters: second 1 sees two entries, second 0 one
    first, second = out[0], next(r for r in out if r["frame"] == 25)
    assert first["iou"] != second["iou"]


def test_wav_windows_match_features_load_audio(clip):
    from maskaudit.features.audio import load_audio

    samples = load_audio(clip.audio)
    audio = WavAudio(clip.audio)
    for j in range(2):
        assert np.allclose(audio.window(j), samples[j * 16000 : (j + 1) * 16000], atol=1e-6)
    assert audio.window(2) is None


def test_bad_mask_wrong_size_and_missing_audio_give_error_records(
    auditor, clip, tmp_path, make_wav
):
    masks = shutil.copytree(clip.masks, tmp_path / "masks")
    (masks / "000003_m0.png").write_bytes(b"\x89PNG broken")
    cv2.imwrite(str(masks / "000005_m1.png"), np.zeros((100, 100), np.uint8))
    rng = np.random.default_rng(1)
    short = make_wav(tmp_path / "short.wav", 0.1 * rng.standard_normal(int(16000 * 1.2)))

    out = records(auditor.stream(str(clip.video), str(masks), str(short), EXPRESSION))
    assert len(out) == clip.frames * 2
    by_key = {(r["frame"], r["mask_id"]): r for r in out}
    assert "000003_m0.png is not an image" in by_key[(3, "m0")]["status"]
    assert by_key[(3, "m1")]["status"] == "ok"
    assert by_key[(5, "m1")]["status"].startswith("error: mask 000005_m1.png is 100x100")
    for frame in range(25):
        if frame not in (3, 5):
            assert by_key[(frame, "m0")]["status"] == "ok"
    for frame in range(25, 50):
        status = by_key[(frame, "m0")]["status"]
        assert status.startswith("error: no audio window for second 1"), status
        assert "short.wav ends at 1.20 s" in status
    for record in out:
        assert validate_verdict(record) == []


def test_bad_frame_gives_error_records_and_the_stream_goes_on(auditor, make_clip_frame):
    frame_image, mask_pair = make_clip_frame
    frames = [frame_image(i)[:, :, ::-1].copy() for i in range(6)]
    frames[2] = np.zeros(10, np.float32)
    source = IterableSource(frames, fps=25.0)
    audio = np.zeros(16000, np.float32)

    def masks(frame, index, t):
        if index == 4:
            raise RuntimeError("segmenter crashed")
        return dict(zip(("a", "b"), mask_pair(index), strict=True))

    out = records(auditor.stream(source, masks, audio, EXPRESSION))
    statuses = [(r["frame"], r["mask_id"], r["status"][:30]) for r in out]
    assert [s[:2] for s in statuses] == [
        (0, "a"),
        (0, "b"),
        (1, "a"),
        (1, "b"),
        (2, "a"),
        (2, "b"),
        (3, "a"),
        (3, "b"),
        (4, "*"),
        (5, "a"),
        (5, "b"),
    ]
    assert out[4]["status"].startswith("error: frame 2: frame has dtype float32")
    assert "segmenter crashed" in out[8]["status"]
    assert sum(r["status"] == "ok" for r in out) == 8


class FastLiveSource:
    """A live source producing frames faster than the (slowed) auditor can take them."""

    live = True
    fps = 200.0
    name = "fake-camera"

    def __init__(self, frames, image):
        self.frames, self.image = frames, image
        self.produced = 0

    def __iter__(self):
        for i in range(self.frames):
            time.sleep(1 / self.fps)
            self.produced += 1
            yield SourceFrame(i, i / self.fps, self.image.copy())

    def close(self):
        pass


class Slow:
    def __init__(self, runner, seconds):
        self.runner, self.graph, self.seconds = runner, runner.graph, seconds

    def run(self, feeds):
        time.sleep(self.seconds)
        return self.runner.run(feeds)


def test_live_source_faster_than_the_auditor_drops_and_counts(auditor, make_clip_frame):
    frame_image, mask_pair = make_clip_frame
    runners = dict(auditor.backend.runners)
    runners["audit_head"] = Slow(runners["audit_head"], 0.03)
    slow = Auditor(auditor.bundle, LoadedBackend("ort-cpu", "int8", runners))
    image = frame_image(0)[:, :, ::-1].copy()
    masks = dict(zip(("a", "b"), mask_pair(0), strict=True))
    source = FastLiveSource(120, image)

    tracemalloc.start()
    run = slow.stream(source, lambda f, i, t: masks, np.zeros(16000 * 2, np.float32), EXPRESSION)
    out = records(run)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    summary = run.summary
    assert source.produced == 120
    assert summary.dropped > 0
    assert summary.frames + summary.dropped == 120
    assert len(out) == 2 * summary.frames
    assert all("dropped_frames" in r for r in out)
    drops = [r["dropped_frames"] for r in out]
    assert drops == sorted(drops) and drops[-1] <= summary.dropped
    # bounded memory: far less than keeping every produced frame (120 x 230 KB)
    assert peak < 120 * image.nbytes / 3, peak


def test_file_source_loses_no_frame_behind_a_slow_auditor(auditor, make_clip_frame):
    frame_image, mask_pair = make_clip_frame
    runners = dict(auditor.backend.runners)
    runners["audit_head"] = Slow(runners["audit_head"], 0.01)
    slow = Auditor(auditor.bundle, LoadedBackend("ort-cpu", "int8", runners))
    frames = [frame_image(i)[:, :, ::-1].copy() for i in range(30)]
    run = slow.stream(
        IterableSource(frames),
        lambda f, i, t: {"m0": mask_pair(i)[0]},
        np.zeros(16000 * 2, np.float32),
        EXPRESSION,
        queue_size=1,
    )
    out = records(run)
    assert [r["frame"] for r in out] == list(range(30))
    assert run.summary.dropped == 0


def test_live_audio_fills_context_one_second_late(auditor, make_clip_frame):
    from maskaudit.runtime.sources import ArrayAudio

    frame_image, mask_pair = make_clip_frame
    frames = [(i / 2.0, frame_image(i)[:, :, ::-1].copy()) for i in range(6)]  # t = 0, 0.5, ...
    seen = []

    class Watch(ArrayAudio):
        def window(self, second):
            seen.append(second)
            return super().window(second)

    audio = Watch(np.zeros(16000 * 4, np.float32), live=True)
    run = auditor.stream(
        IterableSource(frames), lambda f, i, t: {"m0": mask_pair(i)[0]}, audio, EXPRESSION
    )
    out = records(run)
    assert len(out) == 6 and all(r["status"] == "ok" for r in out)
    assert seen == [0, 1]  # second 0 at t = 1.0, second 1 at t = 2.0
    assert run.context.seconds_held() == [0, 1]


def test_smoothing_records_raw_and_policy_fields(auditor, clip):
    run = auditor.stream(
        str(clip.video), str(clip.masks), str(clip.audio), EXPRESSION, smooth=5, hold=2
    )
    out = records(run)
    assert all("iou_raw" in r and "action_policy" in r for r in out)
    m0 = [r for r in out if r["mask_id"] == "m0"]
    raw = np.array([r["iou_raw"] for r in m0])
    smoothed = np.array([r["iou"] for r in m0])
    assert np.abs(np.diff(smoothed)).max() <= np.abs(np.diff(raw)).max() + 1e-6
    assert smoothed[4] == pytest.approx(raw[:5].mean(), abs=2e-4)


def test_bad_configuration_fails_at_start(auditor, clip, tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        auditor.stream(str(tmp_path / "none.mp4"), str(clip.masks), str(clip.audio), EXPRESSION)
    with pytest.raises(ConfigError, match="masks .* do not exist"):
        auditor.stream(str(clip.video), str(tmp_path / "none"), str(clip.audio), EXPRESSION)
    with pytest.raises(ConfigError, match="audio .* does not exist"):
        auditor.stream(str(clip.video), str(clip.masks), str(tmp_path / "a.wav"), EXPRESSION)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(ConfigError, match="bad.wav"):
        auditor.stream(str(clip.video), str(clip.masks), str(bad), EXPRESSION)
    with pytest.raises(ConfigError, match="PyAV"):
        auditor.stream(str(clip.video), str(clip.masks), None, EXPRESSION)
    with pytest.raises(InputError, match="empty"):
        auditor.stream(str(clip.video), str(clip.masks), str(clip.audio), "")
    with pytest.raises(ConfigError, match="queue size"):
        auditor.stream(str(clip.video), str(clip.masks), str(clip.audio), EXPRESSION, queue_size=0)


def test_stopping_early_ends_the_threads(auditor, clip):
    before = threading.active_count()
    run = auditor.stream(str(clip.video), str(clip.masks), str(clip.audio), EXPRESSION)
    for i, _ in enumerate(run):
        if i == 3:
            break
    run.close()
    assert run.summary is not None and run.summary.frames >= 1
    assert threading.active_count() <= before
    with pytest.raises(RuntimeError, match="iterated once"):
        list(run)
