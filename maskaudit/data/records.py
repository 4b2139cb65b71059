"""The record of one candidate mask, as the benchmark reader yields it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Candidate:
    """One candidate mask under audit, with its ground-truth labels.

    Attributes:
        uid: Expression id, ``<vid>_<category>_<n>``.
        vid: Video id (``uid.rsplit('_', 2)[0]``).
        split: ``train``, ``test_s`` or ``test_u``.
        mode: ``train``, ``image`` or ``video``.
        frame: Index (0-9) of the frame the mask belongs to.
        mask_id: Id of the candidate, unique within its uid and frame (e.g. ``erode_1_0``).
        mask_type: One of ``maskaudit.labels.TRAIN_TYPES``.
        rank: 1 (Hard) or 2 (Medium) for geometric types, -1 otherwise.
        iou: IoU with the ground truth, from the file.
        action: The action from the file (or from the rule where the file has none).
        mask_path: Absolute path of the mask PNG.
        image_path: Absolute path of the frame image.
        audio_path: Absolute path of the clip's audio (``media_cross`` for ``null_`` uids).
        expression: The referring expression, lower-cased.
        expression_kind: The expression's form (e.g. ``loudest``), or "" where unknown.
        frames_dir: Folder holding the clip's ten frames ``0.jpg`` ... ``9.jpg``.
    """

    uid: str
    vid: str
    split: str
    mode: str
    frame: int
    mask_id: str
    mask_type: str
    rank: int
    iou: float
    action: str
    mask_path: Path
    image_path: Path
    audio_path: Path
    expression: str
    expression_kind: str
    frames_dir: Path
