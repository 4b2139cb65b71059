from __future__ import annotations

import cv2
import numpy as np
import pytest

from maskaudit.baselines.mask_geometry import (
    FEATURE_NAMES,
    FrameMaps,
    mask_features,
    read_mask,
)
from maskaudit.errors import DataError


def _features(mask, frame=None):
    if frame is None:
        frame = np.zeros((*mask.shape, 3), np.uint8)
    values = mask_features(mask, FrameMaps(frame))
    assert values.shape == (len(FEATURE_NAMES),)
    return dict(zip(FEATURE_NAMES, values, strict=True))


def _disc(shape=(100, 100), centre=(50, 50), radius=20):
    out = np.zeros(shape, np.uint8)
    cv2.circle(out, centre, radius, 1, -1)
    return out.astype(bool)


def test_disc_is_compact_solid_and_has_no_holes():
    f = _features(_disc())
    assert f["empty"] == 0.0
    assert f["area"] == pytest.approx(np.pi * 20**2 / 100**2, rel=0.05)
    assert f["compactness"] > 0.8 and f["solidity"] > 0.97
    assert f["log_holes"] == 0.0 and f["hole_share"] == 0.0
    assert f["log_components"] == pytest.approx(np.log(2))
    assert f["box_fill"] == pytest.approx(np.pi / 4, rel=0.06)
    assert f["border_share"] == 0.0


def test_holes_components_and_border_are_counted():
    ring = _disc() & ~_disc(radius=8)
    f = _features(ring)
    assert f["log_holes"] == pytest.approx(np.log(2))
    assert f["hole_share"] == pytest.approx(8**2 / 20**2, rel=0.15)
    two = _disc(centre=(25, 50), radius=10) | _disc(centre=(75, 50), radius=5)
    f = _features(two)
    assert f["log_components"] == pytest.approx(np.log(3))
    assert f["largest_component_share"] == pytest.approx(100 / 125, rel=0.1)
    assert f["solidity"] < 0.7
    edge = np.zeros((100, 100), bool)
    edge[:, :30] = True
    assert _features(edge)["border_share"] > 0.2


def test_boundary_on_an_edge_scores_higher_than_off_it():
    frame = np.zeros((100, 100, 3), np.uint8)
    frame[_disc()] = 255
    on_edge = _features(_disc(), frame)
    shrunk = _features(_disc(radius=14), frame)
    assert on_edge["boundary_gradient"] > 3 * shrunk["boundary_gradient"]
    assert on_edge["boundary_vs_near_gradient"] > shrunk["boundary_vs_near_gradient"]
    assert on_edge["colour_contrast"] > shrunk["colour_contrast"]


def test_empty_mask_sets_only_the_flag():
    f = _features(np.zeros((40, 60), bool))
    assert f["empty"] == 1.0 and sum(abs(v) for v in f.values()) == 1.0


def test_large_frames_are_measured_at_working_size_and_masks_resized():
    frame = np.zeros((600, 800, 3), np.uint8)
    maps = FrameMaps(frame)
    assert max(maps.shape) == 256
    big = _disc((600, 800), (400, 300), 120)
    small = mask_features(big, maps)
    assert small[FEATURE_NAMES.index("area")] == pytest.approx(np.pi * 120**2 / 480000, rel=0.05)


def test_read_mask_accepts_0_255_and_0_1_and_names_bad_files(tmp_path):
    mask = _disc()
    cv2.imwrite(str(tmp_path / "a.png"), mask.astype(np.uint8) * 255)
    cv2.imwrite(str(tmp_path / "b.png"), mask.astype(np.uint8))
    assert np.array_equal(read_mask(tmp_path / "a.png"), mask)
    assert np.array_equal(read_mask(tmp_path / "b.png"), mask)
    with pytest.raises(DataError, match="c.png"):
        read_mask(tmp_path / "c.png")
