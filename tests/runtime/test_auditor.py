import numpy as np
import pytest

import maskaudit
from maskaudit.errors import InputError
from maskaudit.runtime.auditor import Auditor, softmax
from maskaudit.runtime.backends.base import LoadedBackend
from maskaudit.runtime.bundle import load_bundle
from maskaudit.runtime.verdict import validate_verdict

EXPRESSION = "the object making the loudest sound"


@pytest.fixture(scope="module")
def scene(make_clip_frame):
    frame_image, mask_pair = make_clip_frame
    frame = frame_image(3)[:, :, ::-1].copy()
    disc, box = mask_pair(3)
    window = (0.1 * np.sin(np.arange(16000) / 7.0)).astype(np.float32)
    return frame, [disc, box], window


class Counting:
    """Wraps a graph runner and counts its calls and batch sizes."""

    def __init__(self, runner):
        self.runner, self.graph, self.calls = runner, runner.graph, []

    def run(self, feeds):
        first = next(iter(feeds.values()))
        self.calls.append(first.shape)
        return self.runner.run(feeds)


@pytest.fixture
def counted(auditor):
    runners = {g: Counting(r) for g, r in auditor.backend.runners.items()}
    backend = LoadedBackend("ort-cpu", "int8", runners, auditor.backend.precisions)
    return Auditor(auditor.bundle, backend), runners


def test_one_valid_verdict_per_mask(auditor, scene):
    frame, masks, window = scene
    verdicts = auditor.audit(frame, masks, window, EXPRESSION, mask_ids=["disc", "box"])
    assert [v.mask_id for v in verdicts] == ["disc", "box"]
    for verdict in verdicts:
        record = verdict.to_dict()
        assert validate_verdict(record) == [], record
        assert record["status"] == "ok"
        assert record["backend"] == "ort-cpu" and record["precision"] == "int8"
        assert record["latency_ms"]["total"] >= record["latency_ms"]["model"] > 0
    assert verdicts[0].iou != verdicts[1].iou


def test_encoders_run_once_per_frame_window_and_expression(counted, scene):
    auditor, runners = counted
    frame, masks, window = scene
    auditor.audit(frame, masks * 3, window, EXPRESSION)
    auditor.audit(frame, masks, window, "  The object MAKING the loudest sound ")
    assert runners["text_encoder"].calls == [(1, 32)]
    assert runners["frame_encoder"].calls == [(1, 160, 160, 3)]
    assert runners["audio_encoder"].calls == [(1, 64, 101)]
    assert [c[:1] for c in runners["audit_head"].calls] == [(1,), (1,)]
    assert [c.__len__() for c in runners["audit_head"].calls] == [4, 4]
    auditor.audit(frame[::-1].copy(), masks, window, EXPRESSION)
    assert len(runners["frame_encoder"].calls) == 2


def test_scores_do_not_depend_on_the_other_candidates(auditor, scene):
    frame, masks, window = scene
    together = auditor.audit(frame, masks, window, EXPRESSION)
    alone = auditor.audit(frame, masks[1:], window, EXPRESSION)
    assert alone[0].iou == pytest.approx(together[1].iou, abs=1e-6)


def test_context_none_is_the_frame_and_its_window(auditor, scene):
    frame, masks, window = scene
    plain = auditor.audit(frame, masks, window, EXPRESSION)
    explicit = auditor.audit(frame, masks, window, EXPRESSION, context=[(frame, window)])
    assert [v.iou for v in plain] == [v.iou for v in explicit]
    longer = auditor.audit(
        frame, masks, window, EXPRESSION, context=[(frame[::-1].copy(), None), (frame, window)]
    )
    assert [v.iou for v in longer] != [v.iou for v in plain]


def test_audio_and_expression_change_the_answer(auditor, scene):
    frame, masks, window = scene
    base = auditor.audit(frame, masks, window, EXPRESSION)[0]
    silent = auditor.audit(frame, masks, None, EXPRESSION)[0]
    other = auditor.audit(frame, masks, window, "the first object to make a sound")[0]
    assert base.type_probs != silent.type_probs
    assert base.type_probs != other.type_probs


def test_bad_mask_gives_an_error_verdict_and_others_are_audited(auditor, scene, tmp_path):
    frame, masks, window = scene
    broken = tmp_path / "000123.png"
    broken.write_bytes(b"not a png")
    small = np.zeros((100, 100), np.uint8)
    verdicts = auditor.audit(frame, [masks[0], small, broken], window, EXPRESSION)
    assert verdicts[0].ok
    assert verdicts[1].status == (
        "error: mask m1 is 100x100 but the frame is 320x240: pass masks at the frame's size, "
        "or resize=True (--resize-masks) to stretch masks of the same aspect ratio"
    )
    assert verdicts[2].status.startswith("error: mask file ")
    assert "000123.png is not an image" in verdicts[2].status
    for verdict in verdicts:
        assert validate_verdict(verdict.to_dict()) == []


def test_resize_masks_accepts_the_same_aspect_ratio(auditor, scene):
    frame, masks, window = scene
    half = masks[0][::2, ::2]
    strict = auditor.audit(frame, [half], window, EXPRESSION)[0]
    assert not strict.ok
    loose = Auditor(auditor.bundle, auditor.backend, resize_masks=True)
    assert loose.audit(frame, [half], window, EXPRESSION)[0].ok


def test_empty_mask_is_null_and_rejected(auditor, scene):
    frame, masks, window = scene
    verdict = auditor.audit(frame, [np.zeros_like(masks[0])], window, EXPRESSION)[0]
    assert (verdict.mask_type, verdict.action, verdict.iou) == ("null", "reject", 0.0)
    assert verdict.extra["reason"] == "empty mask"


def test_masks_as_a_dict_a_stack_or_one_array(auditor, scene):
    frame, masks, window = scene
    by_dict = auditor.audit(frame, {"a": masks[0], "b": masks[1]}, window, EXPRESSION)
    stacked = auditor.audit(frame, np.stack(masks), window, EXPRESSION)
    single = auditor.audit(frame, masks[0], window, EXPRESSION)
    assert [v.mask_id for v in by_dict] == ["a", "b"]
    assert [v.iou for v in stacked] == [v.iou for v in by_dict]
    assert single[0].iou == by_dict[0].iou


def test_frame_level_problems_raise(auditor, scene):
    frame, masks, window = scene
    with pytest.raises(InputError):
        auditor.audit(frame.astype(np.float32), masks, window, EXPRESSION)
    with pytest.raises(InputError, match="empty"):
        auditor.audit(frame, masks, window, "   ")
    with pytest.raises(InputError, match="more than 16000"):
        auditor.audit(frame, masks, np.zeros(20000, np.float32), EXPRESSION)
    with pytest.raises(InputError, match="1 mask ids for 2 masks"):
        auditor.audit(frame, masks, window, EXPRESSION, mask_ids=["x"])


def test_fp32_and_int8_agree_roughly(tiny_bundle, auditor, scene):
    frame, masks, window = scene
    fp32 = Auditor.load(tiny_bundle, backend="ort-cpu", precision="fp32", threads=1)
    a = fp32.audit(frame, masks, window, EXPRESSION)
    b = auditor.audit(frame, masks, window, EXPRESSION)
    assert a[0].precision == "fp32" and b[0].precision == "int8"
    assert a[0].iou == pytest.approx(b[0].iou, abs=0.1)


def test_public_entry_points(tiny_bundle):
    assert maskaudit.Auditor is Auditor
    auditor = maskaudit.Auditor.load(load_bundle(tiny_bundle), backend="ort-cpu")
    assert auditor.backend_name == "ort-cpu"


def test_softmax_is_stable():
    probs = softmax(np.array([[1000.0, 0.0], [0.0, 0.0]]))
    assert np.allclose(probs, [[1.0, 0.0], [0.5, 0.5]])
