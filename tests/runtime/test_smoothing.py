import numpy as np
import pytest

from maskaudit import labels
from maskaudit.runtime.smoothing import MAX_TRACKED, Smoother


def scores(action, iou, mask_type="erode"):
    t = np.full(7, 0.01)
    t[labels.TRAIN_TYPES.index(mask_type)] = 0.94
    a = np.full(4, 0.02)
    a[labels.ACTIONS.index(action)] = 0.94
    return iou, t, a


def test_average_over_the_window():
    smoother = Smoother(frames=3, hold=1)
    for iou in (0.3, 0.6, 0.9, 0.9):
        out = smoother.update("m0", *scores("minor revision", iou))
    assert out.iou == pytest.approx(0.8)


def test_hysteresis_holds_until_the_new_action_wins_hold_frames():
    smoother = Smoother(frames=1, hold=3)
    published = []
    sequence = ["minor revision"] * 3 + ["major revision"] * 2 + ["minor revision"]
    sequence += ["major revision"] * 3
    for action in sequence:
        iou = 0.75 if action == "minor revision" else 0.4
        published.append(smoother.update("m0", *scores(action, iou)).decision)
    actions = [d.action for d in published]
    assert actions == ["minor revision"] * 6 + [
        "minor revision",
        "minor revision",
        "major revision",
    ]
    assert "held minor revision" in published[4].reason
    assert published[-1].reason == ""


def test_flicker_is_removed():
    smoother = Smoother(frames=1, hold=2)
    out = [
        smoother.update("m0", *scores(a, 0.75 if a == "minor revision" else 0.4)).decision.action
        for a in ["minor revision", "major revision"] * 5
    ]
    assert set(out) == {"minor revision"}


def test_state_is_per_mask_id_and_bounded():
    smoother = Smoother(frames=2, hold=2)
    smoother.update("a", *scores("minor revision", 0.75))
    out = smoother.update("b", *scores("major revision", 0.4))
    assert out.decision.action == "major revision"
    for i in range(MAX_TRACKED + 10):
        smoother.update(f"id{i}", *scores("minor revision", 0.75))
    assert len(smoother._tracks) == MAX_TRACKED


def test_invalid_settings():
    with pytest.raises(ValueError):
        Smoother(frames=0)
    with pytest.raises(ValueError):
        Smoother(hold=0)
