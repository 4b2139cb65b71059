import numpy as np
import pytest

from maskaudit import labels
from maskaudit.runtime.policy import PolicyThresholds, decide


def one_hot(name, names, weight=0.9):
    probs = np.full(len(names), (1 - weight) / (len(names) - 1))
    probs[names.index(name)] = weight
    return probs


def types(name):
    return one_hot(name, labels.TRAIN_TYPES)


def actions(name):
    return one_hot(name, labels.ACTIONS)


def test_consistent_answer_is_kept():
    decision = decide(0.75, types("erode"), actions("minor revision"))
    assert (decision.mask_type, decision.action, decision.reason) == ("erode", "minor revision", "")
    assert decision.action_raw == "minor revision"


def test_action_not_allowed_for_the_type_takes_the_best_allowed_one():
    probs = np.array([0.5, 0.3, 0.15, 0.05])  # accept, minor, major, reject
    decision = decide(0.7, types("cutout"), probs)
    assert decision.action == "minor revision"
    assert decision.action_raw == "accept"
    assert "accept is not allowed for cutout" in decision.reason


def test_accept_with_low_iou_uses_the_rule():
    type_probs = np.array([0.6, 0.05, 0.25, 0.03, 0.03, 0.02, 0.02])  # perfect, then erode
    decision = decide(0.5, type_probs, actions("accept"))
    assert decision.mask_type == "erode"
    assert decision.action == labels.action_for("erode", 0.5) == "major revision"
    assert "accept contradicts IoU 0.500" in decision.reason


def test_reject_with_high_iou_uses_the_rule():
    type_probs = np.array([0.02, 0.03, 0.02, 0.3, 0.03, 0.55, 0.05])  # full_neg, then dilate
    decision = decide(0.8, type_probs, actions("reject"))
    assert (decision.mask_type, decision.action) == ("dilate", "minor revision")
    assert "reject contradicts" in decision.reason


def test_thresholds_are_honoured():
    loose = PolicyThresholds(accept_min_iou=0.4, reject_max_iou=0.9)
    assert decide(0.5, types("perfect"), actions("accept"), loose).action == "accept"
    assert decide(0.8, types("full_neg"), actions("reject"), loose).action == "reject"
    assert PolicyThresholds.from_dict({"accept_min_iou": "0.7", "other": 1}).accept_min_iou == 0.7


def test_empty_mask_is_null_and_rejected():
    decision = decide(0.6, types("perfect"), actions("accept"), empty=True)
    assert (decision.mask_type, decision.action, decision.iou) == ("null", "reject", 0.0)


def test_null_is_never_predicted_for_a_non_empty_mask():
    decision = decide(0.3, one_hot("null", labels.TRAIN_TYPES, 0.97), actions("reject"))
    assert decision.mask_type != "null"


@pytest.mark.parametrize("seed", range(40))
def test_decision_always_obeys_the_task(seed):
    rng = np.random.default_rng(seed)
    iou = float(rng.uniform(-0.1, 1.1))
    decision = decide(iou, rng.dirichlet(np.ones(7)), rng.dirichlet(np.ones(4)))
    assert 0.0 <= decision.iou <= 1.0
    assert decision.mask_type in labels.MASK_TYPES
    assert decision.action in labels.ALLOWED_ACTIONS[decision.mask_type]


def test_rule_answer_not_allowed_for_the_type_is_moved_to_the_nearest_allowed():
    type_probs = np.array([0.02, 0.03, 0.02, 0.03, 0.3, 0.55, 0.05])  # full_neg, then merge
    decision = decide(0.95, type_probs, actions("reject"))
    assert (decision.mask_type, decision.action) == ("merge", "minor revision")
    assert "nearest allowed for merge" in decision.reason
