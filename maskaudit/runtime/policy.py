"""The verdict policy: from the head's scores to a consistent (type, action) answer.

The audit head predicts an IoU, a type and an action independently. The policy turns the three
into one answer that obeys the task's rules, in these steps:

1. An empty candidate is ``null`` and rejected with IoU 0 (no model opinion needed).
2. The type is the most probable of the six scored types (``null`` is for training only).
3. The action is the most probable action that the type allows (``labels.ALLOWED_ACTIONS``).
4. The action is checked against the IoU estimate: ``accept`` with
   ``iou < accept_min_iou``, or ``reject`` with ``iou > reject_max_iou``, contradicts it. Then
   the type is doubtful too: the answer becomes the task's rule (``labels.action_for``) applied
   to the most probable type that the IoU does not contradict, and to the IoU. Where the rule
   gives an action that type does not allow (an estimated IoU above 0.9 for an ``erode``), the
   allowed action nearest in severity is taken.

Every change from the head's own argmax is explained in ``reason``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from maskaudit import labels

ACCEPT_MIN_IOU = 0.75
"""Default lowest IoU estimate at which the head's ``accept`` stands."""

REJECT_MAX_IOU = 0.6
"""Default highest IoU estimate at which the head's ``reject`` stands."""

_ACCEPTABLE_TYPES = ("perfect",)
_REJECTED_TYPES = ("full_neg", "null")


@dataclass(frozen=True)
class PolicyThresholds:
    """Thresholds of the verdict policy, stored in each bundle's manifest under ``policy``.

    Attributes:
        accept_min_iou: An ``accept`` whose IoU estimate is below this is overruled. Defaults
            to ``ACCEPT_MIN_IOU`` (0.75): below the task's 0.9 so that the IoU estimate's error
            does not overrule confident accepts of perfect masks.
        reject_max_iou: A ``reject`` whose IoU estimate is above this is overruled. Defaults to
            ``REJECT_MAX_IOU`` (0.6), above ``labels.MERGE_REJECT_IOU`` (0.5), the highest IoU at
            which the task's rule rejects.
    """

    accept_min_iou: float = ACCEPT_MIN_IOU
    reject_max_iou: float = REJECT_MAX_IOU

    def to_dict(self) -> dict[str, float]:
        """Return the thresholds as a JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> PolicyThresholds:
        """Build thresholds from a manifest's ``policy`` section; missing keys keep defaults.

        Args:
            data: The section, or None for all defaults.

        Returns:
            The thresholds.
        """
        data = data or {}
        known = {k: float(v) for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class Decision:
    """The policy's answer for one candidate.

    Attributes:
        iou: The IoU estimate, clipped to [0, 1] (0 for an empty mask).
        mask_type: One of ``labels.TRAIN_TYPES`` (``null`` only for an empty mask).
        action: One of ``labels.ACTIONS``, allowed for ``mask_type``.
        action_raw: The action head's own most probable action.
        reason: Why ``action`` or ``mask_type`` differs from the head's argmax; "" if not.
    """

    iou: float
    mask_type: str
    action: str
    action_raw: str
    reason: str = ""


def _best(probs: np.ndarray, names: tuple[str, ...], allowed: tuple[str, ...]) -> str:
    """Return the most probable name of ``names`` that is in ``allowed``."""
    order = np.argsort(-np.asarray(probs), kind="stable")
    for i in order:
        if names[i] in allowed:
            return names[i]
    raise ValueError(f"none of {allowed} is in {names}")


def _nearest(action: str, allowed: tuple[str, ...]) -> str:
    """Return the allowed action closest in severity to ``action`` (the more severe on ties)."""
    rank = labels.ACTIONS.index(action)
    return min(
        allowed, key=lambda a: (abs(labels.ACTIONS.index(a) - rank), -labels.ACTIONS.index(a))
    )


def decide(
    iou: float,
    type_probs: np.ndarray,
    action_probs: np.ndarray,
    thresholds: PolicyThresholds | None = None,
    empty: bool = False,
) -> Decision:
    """Apply the verdict policy to one candidate's scores.

    Args:
        iou: The head's IoU estimate.
        type_probs: Probabilities over ``labels.TRAIN_TYPES`` (7 values).
        action_probs: Probabilities over ``labels.ACTIONS`` (4 values).
        thresholds: The policy's thresholds. Defaults to None: ``PolicyThresholds()``.
        empty: Whether the candidate mask is empty. Defaults to False.

    Returns:
        The decision; its action is always one that its type allows.

    Example:
        >>> import numpy as np
        >>> d = decide(0.4, np.eye(7)[0], np.eye(4)[0])  # "perfect", "accept", but IoU 0.4
        >>> d.mask_type != "perfect", d.action
        (True, 'major revision')
    """
    thresholds = thresholds or PolicyThresholds()
    iou = float(np.clip(iou, 0.0, 1.0))
    action_raw = labels.ACTIONS[int(np.argmax(action_probs))]
    if empty:
        return Decision(0.0, "null", "reject", action_raw, "empty mask")

    reasons = []
    mask_type = _best(type_probs, labels.TRAIN_TYPES, labels.MASK_TYPES)
    action = _best(action_probs, labels.ACTIONS, labels.ALLOWED_ACTIONS[mask_type])
    if action != action_raw:
        reasons.append(f"{action_raw} is not allowed for {mask_type}")

    doubtful: tuple[str, ...] = ()
    if action == "accept" and iou < thresholds.accept_min_iou:
        reasons.append(f"accept contradicts IoU {iou:.3f} < {thresholds.accept_min_iou}")
        doubtful = _ACCEPTABLE_TYPES
    elif action == "reject" and iou > thresholds.reject_max_iou:
        reasons.append(f"reject contradicts IoU {iou:.3f} > {thresholds.reject_max_iou}")
        doubtful = _REJECTED_TYPES
    if doubtful:
        others = tuple(t for t in labels.MASK_TYPES if t not in doubtful)
        mask_type = _best(type_probs, labels.TRAIN_TYPES, others)
        action = labels.action_for(mask_type, iou)
        reasons.append(f"rule on ({mask_type}, {iou:.3f}) gives {action}")
        allowed = labels.ALLOWED_ACTIONS[mask_type]
        if action not in allowed:
            action = _nearest(action, allowed)
            reasons.append(f"nearest allowed for {mask_type} is {action}")
    return Decision(iou, mask_type, action, action_raw, "; ".join(reasons))
