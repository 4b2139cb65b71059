from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from maskaudit.data.records import Candidate
from maskaudit.labels import action_for


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def _disc(shape, centre, radius) -> np.ndarray:
    out = np.zeros(shape, np.uint8)
    cv2.circle(out, centre, radius, 1, -1)
    return out.astype(bool)


def write_scene(root: Path, uid: str, seed: int, split: str) -> list[Candidate]:
    """One frame with two discs, and candidates of every type with their true IoU."""
    rng = np.random.default_rng(seed)
    shape = (96, 128)
    frame = rng.integers(0, 40, (*shape, 3), dtype=np.uint8)
    target = _disc(shape, (40 + int(rng.integers(0, 10)), 48), 18 + int(rng.integers(0, 6)))
    other = _disc(shape, (95, 45), 14)
    frame[target] = (40, 200, 230)
    frame[other] = (220, 60, 60)
    t8 = target.astype(np.uint8)
    holed = target.copy()
    holed[40:52, 35:47] = False
    masks = {
        ("perfect", -1): target,
        ("erode", 1): cv2.erode(t8, np.ones((3, 3), np.uint8)).astype(bool),
        ("erode", 2): cv2.erode(t8, np.ones((9, 9), np.uint8)).astype(bool),
        ("dilate", 1): cv2.dilate(t8, np.ones((3, 3), np.uint8)).astype(bool),
        ("dilate", 2): cv2.dilate(t8, np.ones((11, 11), np.uint8)).astype(bool),
        ("cutout", 1): holed,
        ("merge", -1): target | other,
        ("full_neg", -1): other,
        ("null", -1): np.zeros(shape, bool),
    }
    folder = root / uid
    folder.mkdir(parents=True)
    cv2.imwrite(str(folder / "0.jpg"), frame)
    out = []
    for i, ((mask_type, rank), mask) in enumerate(masks.items()):
        mask_id = "perfect" if mask_type == "perfect" else f"{mask_type}_{max(rank, 0)}_{i}"
        path = folder / f"{mask_id}.png"
        cv2.imwrite(str(path), mask.astype(np.uint8) * 255)
        iou = 1.0 if mask_type == "perfect" else _iou(mask, target)
        out.append(
            Candidate(
                uid=uid,
                vid=uid.rsplit("_", 2)[0],
                split=split,
                mode="train" if split == "train" else "image",
                frame=0,
                mask_id=mask_id,
                mask_type=mask_type,
                rank=rank,
                iou=iou,
                action=action_for(mask_type, iou),
                mask_path=path,
                image_path=folder / "0.jpg",
                audio_path=folder / "audio.wav",
                expression="the sounding object",
                expression_kind="sounding",
                frames_dir=folder,
            )
        )
    return out


@pytest.fixture
def tiny_scenes(tmp_path):
    """(train candidates, test candidates) written to tmp_path."""
    train = [c for s in range(6) for c in write_scene(tmp_path, f"tr{s}_dog_0", s, "train")]
    test = [c for s in range(2) for c in write_scene(tmp_path, f"te{s}_cat_0", 100 + s, "test_s")]
    return train, test
