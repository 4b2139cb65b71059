import io
import json

import cv2
import numpy as np

from maskaudit import labels
from maskaudit.runtime.sinks import (
    ACTION_COLOURS,
    CallbackSink,
    FrameResult,
    JsonlSink,
    OverlaySink,
    SummaryCollector,
    draw_verdicts,
)
from maskaudit.runtime.verdict import Verdict


def verdict(mask_id, action="accept", mask_type="perfect", status="ok"):
    ok = status == "ok"
    return Verdict(
        source="s",
        frame=0,
        t=0.0,
        mask_id=mask_id,
        iou=0.95 if ok else None,
        mask_type=mask_type if ok else None,
        action=action if ok else None,
        type_probs={k: 1 / 7 for k in labels.TRAIN_TYPES} if ok else None,
        action_probs={k: 0.25 for k in labels.ACTIONS} if ok else None,
        status=status,
        backend="ort-cpu",
        precision="int8",
        latency_ms={"pre": 1.0, "model": 2.0, "total": 3.0},
    )


class Tracking(io.StringIO):
    def __init__(self):
        super().__init__()
        self.flushed_at = []

    def flush(self):
        self.flushed_at.append(self.getvalue().count("\n"))
        super().flush()


def test_jsonl_flushes_every_line():
    stream = Tracking()
    sink = JsonlSink(stream)
    sink.write(FrameResult(0, 0.0, [verdict("a"), verdict("b")]))
    sink.write(FrameResult(1, 0.04, [verdict("a")]))
    sink.close()
    lines = stream.getvalue().splitlines()
    assert [json.loads(x)["mask_id"] for x in lines] == ["a", "b", "a"]
    assert stream.flushed_at[:3] == [1, 2, 3]


def test_jsonl_to_a_file(tmp_path):
    sink = JsonlSink(tmp_path / "out" / "v.jsonl")
    sink.write(FrameResult(0, 0.0, [verdict("a")]))
    assert (tmp_path / "out" / "v.jsonl").read_text().count("\n") == 1  # flushed before close
    sink.close()


def test_overlay_tints_masks_by_action(tmp_path):
    image = np.full((60, 80, 3), 100, np.uint8)
    masks = {}
    results = []
    for k in range(len(labels.ACTIONS)):
        mask = np.zeros((60, 80), np.float32)
        mask[30:50, 5 + 19 * k : 18 + 19 * k] = 1.0
        masks[f"m{k}"] = mask
    mask_types = {
        "accept": "perfect",
        "minor revision": "erode",
        "major revision": "cutout",
        "reject": "full_neg",
    }
    verdicts = [verdict(f"m{k}", a, mask_types[a]) for k, a in enumerate(labels.ACTIONS)]
    verdicts.append(verdict("gone", status="error: broken"))
    drawn = draw_verdicts(image, masks, verdicts)
    for k, action in enumerate(labels.ACTIONS):
        pixel = drawn[45, 11 + 19 * k].astype(int)
        expected = (100 * 0.55 + np.array(ACTION_COLOURS[action]) * 0.45).astype(int)
        assert np.abs(pixel - expected).max() <= 2, (action, pixel, expected)
    assert (drawn[:28] != 100).any()  # the labels are written above the masks
    assert np.array_equal(image, np.full((60, 80, 3), 100, np.uint8))  # input untouched

    path = tmp_path / "overlay.mp4"
    sink = OverlaySink(path, fps=10)
    for i in range(3):
        results.append(FrameResult(i, i / 10, verdicts, image, masks))
        sink.write(results[-1])
    sink.write(FrameResult(3, 0.3, verdicts, None, {}))  # a bad frame is skipped
    sink.close()
    capture = cv2.VideoCapture(str(path))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    ok, first = capture.read()
    assert ok and first.shape == (60, 80, 3)
    green = first[45, 11][::-1].astype(int)  # BGR -> RGB
    assert green[1] > green[0] + 30 and green[1] > green[2] + 30


def test_callback_per_verdict_and_per_frame():
    got, frames = [], []
    CallbackSink(got.append).write(FrameResult(0, 0.0, [verdict("a"), verdict("b")]))
    CallbackSink(frames.append, per_frame=True).write(FrameResult(0, 0.0, [verdict("a")]))
    assert [v.mask_id for v in got] == ["a", "b"]
    assert len(frames) == 1 and frames[0].index == 0


def test_summary_counts_and_percentiles():
    collector = SummaryCollector("s", "ort-cpu", "int8")
    for i in range(100):
        verdicts = [verdict("a"), verdict("b", status="error: x" if i % 10 == 0 else "ok")]
        latency = {"pre": 1.0, "model": 1.0, "total": float(i + 1), "queue": 2.0}
        collector.write(FrameResult(i, i / 25, verdicts, latency_ms=latency, dropped=i // 20))
    summary = collector.close(dropped=7)
    assert (summary.frames, summary.verdicts, summary.errors, summary.dropped) == (100, 200, 10, 7)
    assert summary.latency_ms["p50"] == 50.5 and summary.latency_ms["p99"] > 99
    assert summary.latency_ms["queue_p50"] == 2.0
    assert "100 frames, 200 verdicts, 10 errors, 7 dropped" in summary.format()
    assert json.loads(json.dumps(summary.to_dict()))["backend"] == "ort-cpu"
