"""The verdict policy's thresholds chosen on held-out outputs."""

from __future__ import annotations

import numpy as np
import pytest

from maskaudit.export.policy_fit import PolicyFit, fit_policy, policy_action_f2
from maskaudit.labels import ACTIONS, TRAIN_TYPES
from maskaudit.runtime.policy import PolicyThresholds


def _outputs(rows: list[tuple[float, str, str]]) -> dict[str, np.ndarray]:
    """Confident heads: (IoU estimate, type, action) per candidate."""
    if not rows:
        return {
            "iou": np.zeros(0),
            "type_probs": np.zeros((0, 7)),
            "action_probs": np.zeros((0, 4)),
        }
    return {
        "iou": np.array([r[0] for r in rows], dtype=np.float32),
        "type_probs": np.stack([np.eye(7)[TRAIN_TYPES.index(r[1])] for r in rows]),
        "action_probs": np.stack([np.eye(4)[ACTIONS.index(r[2])] for r in rows]),
    }


def test_hesitant_accepts_of_correct_masks_pull_the_accept_threshold_down():
    rng = np.random.default_rng(0)
    rows, truth = [], []
    for _ in range(40):  # correct masks, the head accepts them with a hedged IoU near 0.5
        rows.append((float(rng.uniform(0.45, 0.6)), "perfect", "accept"))
        truth.append("accept")
    for _ in range(40):  # wrong masks, confidently rejected
        rows.append((float(rng.uniform(0.0, 0.1)), "full_neg", "reject"))
        truth.append("reject")
    outputs = _outputs(rows)
    empty = np.zeros(len(rows), dtype=bool)
    fit = fit_policy(outputs, truth, empty)
    assert fit.thresholds.accept_min_iou <= 0.45
    assert fit.action_f2 == pytest.approx(1.0)
    assert fit.default_action_f2 < fit.action_f2
    assert fit.candidates == 80


def test_ties_keep_the_defaults():
    rows = [(0.95, "perfect", "accept"), (0.02, "full_neg", "reject")]
    outputs = _outputs(rows)
    fit = fit_policy(outputs, ["accept", "reject"], np.zeros(2, dtype=bool))
    assert fit.thresholds == PolicyThresholds()


def test_score_matches_a_hand_count():
    rows = [(0.3, "perfect", "accept"), (0.95, "perfect", "accept")]
    outputs = _outputs(rows)
    empty = np.zeros(2, dtype=bool)
    # Default thresholds overrule the first accept (IoU 0.3 < 0.75): one of two right.
    low = policy_action_f2(outputs, ["accept", "accept"], empty, PolicyThresholds(0.2, 0.6))
    default = policy_action_f2(outputs, ["accept", "accept"], empty, PolicyThresholds())
    assert low == pytest.approx(1.0)
    assert default < 1.0


def test_section_records_the_fit():
    fit = PolicyFit(PolicyThresholds(0.4, 0.35), 0.82, 0.75, 100)
    section = fit.section("bench/train, held-out videos (5%)")
    assert section["accept_min_iou"] == 0.4
    assert section["fit"]["candidates"] == 100
    assert PolicyThresholds.from_dict(section) == PolicyThresholds(0.4, 0.35)


@pytest.mark.parametrize("actions", [[], ["maybe"]])
def test_bad_inputs_are_refused(actions):
    outputs = _outputs([(0.5, "perfect", "accept")] * len(actions))
    with pytest.raises(ValueError):
        fit_policy(outputs, actions, np.zeros(len(actions), dtype=bool))
