from __future__ import annotations

from pathlib import Path

import pytest

from maskaudit.data.records import Candidate


def candidate(
    uid: str = "v1_dog_0",
    frame: int = 0,
    mask_id: str = "perfect",
    mask_type: str = "perfect",
    rank: int = -1,
    iou: float = 1.0,
    action: str = "accept",
    kind: str = "loudest",
) -> Candidate:
    root = Path("/nonexistent")
    return Candidate(
        uid=uid,
        vid=uid.rsplit("_", 2)[0],
        split="test_s",
        mode="image",
        frame=frame,
        mask_id=mask_id,
        mask_type=mask_type,
        rank=rank,
        iou=iou,
        action=action,
        mask_path=root / f"{uid}_{frame}_{mask_id}.png",
        image_path=root / f"{frame}.jpg",
        audio_path=root / "audio.wav",
        expression="the object making the loudest sound",
        expression_kind=kind,
        frames_dir=root,
    )


@pytest.fixture
def make_candidate():
    return candidate
