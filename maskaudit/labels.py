"""Label sets, the action rule and the allowed actions per mask type.

The strings are exactly those of the task (MQ-RAVSBench). ``null`` (an empty mask) is a
seventh type used in training only; it is never scored.
"""

from __future__ import annotations

MASK_TYPES: tuple[str, ...] = ("perfect", "cutout", "erode", "dilate", "merge", "full_neg")
"""The six scored mask types, in the order of the protocol table."""

TRAIN_TYPES: tuple[str, ...] = MASK_TYPES + ("null",)
"""The seven types the auditor's type head predicts (the six plus ``null``)."""

ACTIONS: tuple[str, ...] = ("accept", "minor revision", "major revision", "reject")
"""The four actions, from best to worst."""

GEOMETRIC_TYPES: tuple[str, ...] = ("cutout", "erode", "dilate")
"""Types that come in two difficulty ranks."""

RANKS: dict[int, str] = {1: "Hard", 2: "Medium"}
"""Difficulty ranks of the geometric types; rank -1 means "all ranks" in filters."""

ALLOWED_ACTIONS: dict[str, tuple[str, ...]] = {
    "perfect": ("accept",),
    "cutout": ("minor revision", "major revision"),
    "erode": ("minor revision", "major revision"),
    "dilate": ("minor revision", "major revision"),
    "merge": ("minor revision", "major revision", "reject"),
    "full_neg": ("reject",),
    "null": ("reject",),
}
"""Actions the task allows for each type."""

MAJOR_IOU = 0.6
"""At or below this IoU (and above 0) a flawed mask needs a major revision."""

MINOR_IOU = 0.9
"""At or below this IoU (and above ``MAJOR_IOU``) a flawed mask needs a minor revision."""

MERGE_REJECT_IOU = 0.5
"""A merge whose IoU is below this is rejected: the distractor's share of the union is then
larger than the target's, so the mask is mostly the wrong object."""


def action_for(mask_type: str, iou: float) -> str:
    """Return the action the task's rule gives a candidate.

    The rule: ``perfect`` is accepted; ``full_neg`` and ``null`` are rejected; otherwise IoU 0
    is rejected, IoU <= 0.6 needs a major revision, IoU <= 0.9 a minor revision, and above that
    the mask is accepted. A ``merge`` whose IoU is below ``MERGE_REJECT_IOU`` is rejected (the
    reference leaves this case open; this is maskaudit's documented choice).

    Args:
        mask_type: One of ``TRAIN_TYPES``.
        iou: The candidate's IoU with the ground truth, in [0, 1].

    Returns:
        One of ``ACTIONS``.

    Raises:
        ValueError: If ``mask_type`` is unknown or ``iou`` is outside [0, 1].

    Example:
        >>> action_for("erode", 0.82)
        'minor revision'
    """
    if mask_type not in TRAIN_TYPES:
        raise ValueError(f"unknown mask type {mask_type!r}; expected one of {TRAIN_TYPES}")
    if not 0.0 <= iou <= 1.0:
        raise ValueError(f"IoU {iou!r} is outside [0, 1]")
    if mask_type == "perfect":
        return "accept"
    if mask_type in ("full_neg", "null") or iou == 0.0:
        return "reject"
    if mask_type == "merge" and iou < MERGE_REJECT_IOU:
        return "reject"
    if iou <= MAJOR_IOU:
        return "major revision"
    if iou <= MINOR_IOU:
        return "minor revision"
    return "accept"


def normalise_type(text: str) -> str | None:
    """Map a type key or answer word to a type, by substring, in the reference's order.

    gt / gt_mask / perfect -> perfect; contains ``cut`` -> cutout; ``erode``; ``dilate``;
    ``merge``; null / empty -> null; contains ``full`` or ``neg`` -> full_neg.

    Args:
        text: A key of a benchmark file or a word of an answer.

    Returns:
        The type, or None when nothing matches.
    """
    t = text.strip().lower()
    if t in ("gt", "gt_mask", "gt_mask_path") or "perfect" in t:
        return "perfect"
    for needle, label in (("cut", "cutout"), ("erode", "erode"), ("dilate", "dilate")):
        if needle in t:
            return label
    if "merge" in t:
        return "merge"
    if "null" in t or "empty" in t:
        return "null"
    if "full" in t or "neg" in t:
        return "full_neg"
    return None


def normalise_action(text: str) -> str | None:
    """Map an answer's action text to an action by substring (accept, major, minor, reject).

    Args:
        text: The text inside an ``<action>`` tag, or a label.

    Returns:
        The action, or None when nothing matches.
    """
    t = text.strip().lower()
    for needle, label in (
        ("accept", "accept"),
        ("major", "major revision"),
        ("minor", "minor revision"),
        ("reject", "reject"),
    ):
        if needle in t:
            return label
    return None
