import copy
import json

import pytest

from maskaudit import labels
from maskaudit.runtime.verdict import VERDICT_SCHEMA, Verdict, validate_verdict


def good():
    return Verdict(
        source="clip.mp4",
        frame=12,
        t=0.48,
        mask_id="m0",
        iou=0.73,
        mask_type="erode",
        action="minor revision",
        type_probs={k: 1 / 7 for k in labels.TRAIN_TYPES},
        action_probs={k: 0.25 for k in labels.ACTIONS},
        status="ok",
        backend="ort-cpu",
        precision="int8",
        latency_ms={"pre": 1.1, "model": 2.9, "total": 4.4},
        extra={"action_raw": "minor revision", "reason": "", "backend_note": None},
    )


def test_record_has_the_design_fields_in_order():
    record = good().to_dict()
    assert list(record)[:13] == VERDICT_SCHEMA["required"]
    assert "reason" not in record and "backend_note" not in record
    assert validate_verdict(record) == []
    assert json.loads(good().to_json()) == record


def test_error_record_is_valid_with_null_scores():
    v = good()
    v.iou = v.mask_type = v.action = v.type_probs = v.action_probs = None
    v.status = "error: mask 000123.png is 320x240 but the frame is 640x360"
    v.extra = {}
    assert validate_verdict(v.to_dict()) == []


@pytest.mark.parametrize(
    "edit, problem",
    [
        (lambda r: r.pop("latency_ms"), "missing 'latency_ms'"),
        (lambda r: r.update(iou=1.2), "above 1.0"),
        (lambda r: r.update(action="maybe"), "not one of"),
        (lambda r: r.update(backend="cuda"), "not one of"),
        (lambda r: r.update(status="fine"), "does not match"),
        (lambda r: r.update(frame=-1), "below 0"),
        (lambda r: r.update(iou=None), "iou is null"),
        (lambda r: r.update(mask_type="perfect"), "not allowed for 'perfect'"),
        (lambda r: r["type_probs"].update(perfect=0.9), "sum to"),
        (lambda r: r["latency_ms"].pop("model"), "missing 'model'"),
        (lambda r: r.update(status="error: x"), "error record has iou set"),
        (lambda r: r.update(iou=float("nan")), "not finite"),
    ],
)
def test_validator_catches_bad_records(edit, problem):
    record = copy.deepcopy(good().to_dict())
    edit(record)
    problems = validate_verdict(record)
    assert any(problem in p for p in problems), problems
