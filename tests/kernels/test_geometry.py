"""Geometry of known shapes, in the numpy and PyTorch forms."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from maskaudit.kernels.pooling_numpy import geometry_numpy
from maskaudit.kernels.pooling_torch import GEOMETRY_FIELDS, mask_geometry

SIZE = 64


def _numpy_form(masks: np.ndarray) -> np.ndarray:
    return geometry_numpy(masks)


def _torch_form(masks: np.ndarray) -> np.ndarray:
    return mask_geometry(torch.from_numpy(masks)).numpy()


FORMS = {"numpy": _numpy_form, "torch": _torch_form}


def _disc(cy: float, cx: float, radius: float, size: int = SIZE) -> np.ndarray:
    ys, xs = np.mgrid[0:size, 0:size]
    return ((ys - cy) ** 2 + (xs - cx) ** 2 < radius**2).astype(np.float32)


def _geometry(form: str, *masks: np.ndarray) -> dict[str, np.ndarray]:
    values = FORMS[form](np.stack(masks)[None])[0]
    return {name: values[:, i] for i, name in enumerate(GEOMETRY_FIELDS)}


@pytest.mark.parametrize("form", FORMS)
def test_euler_number_counts_components_minus_holes(form: str) -> None:
    disc = _disc(32, 32, 20)
    ring = disc - _disc(32, 32, 10)
    two = np.maximum(_disc(16, 16, 10), _disc(46, 46, 12))
    three_with_hole = np.maximum(ring, np.maximum(_disc(5, 58, 4), _disc(58, 5, 4)))
    empty = np.zeros((SIZE, SIZE), np.float32)
    euler = _geometry(form, disc, ring, two, three_with_hole, empty)["euler"]
    np.testing.assert_array_equal(euler, [1, 0, 2, 2, 0])


@pytest.mark.parametrize("form", FORMS)
def test_euler_number_uses_8_connected_foreground(form: str) -> None:
    diagonal = np.zeros((SIZE, SIZE), np.float32)
    diagonal[10, 10] = diagonal[11, 11] = 1
    diamond = np.zeros((SIZE, SIZE), np.float32)
    diamond[[20, 22, 21, 21], [21, 21, 20, 22]] = 1  # four pixels around a background hole
    corner = np.zeros((SIZE, SIZE), np.float32)
    corner[0, 0] = corner[SIZE - 1, SIZE - 1] = 1
    euler = _geometry(form, diagonal, diamond, corner)["euler"]
    np.testing.assert_array_equal(euler, [1, 0, 2])


@pytest.mark.parametrize("form", FORMS)
def test_square_area_centroid_spread_perimeter_fill(form: str) -> None:
    square = np.zeros((SIZE, SIZE), np.float32)
    square[8:24, 40:56] = 1
    g = _geometry(form, square)
    side_spread = np.sqrt((16**2 - 1) / 12) / SIZE
    np.testing.assert_allclose(g["area"], [256 / SIZE**2], rtol=1e-6)
    np.testing.assert_allclose(g["cx"], [0.75], rtol=1e-6)
    np.testing.assert_allclose(g["cy"], [0.25], rtol=1e-6)
    np.testing.assert_allclose(g["sx"], [side_spread], rtol=1e-5)
    np.testing.assert_allclose(g["sy"], [side_spread], rtol=1e-5)
    np.testing.assert_allclose(g["perimeter"], [4 * 16 / (2 * SIZE)], rtol=1e-6)
    np.testing.assert_allclose(g["fill"], [1.0], rtol=1e-6)


@pytest.mark.parametrize("form", FORMS)
def test_fill_of_rectangles_and_discs(form: str) -> None:
    rectangle = np.zeros((SIZE, SIZE), np.float32)
    rectangle[3:7, 10:60] = 1
    disc = _disc(32, 32, 20)
    two_corners = np.zeros((SIZE, SIZE), np.float32)
    two_corners[:4, :4] = two_corners[-4:, -4:] = 1
    fill = _geometry(form, rectangle, disc, two_corners)["fill"]
    np.testing.assert_allclose(fill[0], 1.0, rtol=1e-6)
    np.testing.assert_allclose(fill[1], disc.sum() / 39**2, rtol=1e-5)  # bbox rows/cols 13..51
    np.testing.assert_allclose(fill[2], 32 / SIZE**2, rtol=1e-5)


@pytest.mark.parametrize("form", FORMS)
def test_empty_full_and_faint_masks(form: str) -> None:
    empty = np.zeros((SIZE, SIZE), np.float32)
    full = np.ones((SIZE, SIZE), np.float32)
    faint = np.full((SIZE, SIZE), 0.4, np.float32)  # soft everywhere, binarises to nothing
    g = FORMS[form](np.stack([empty, full, faint])[None])[0]
    full_spread = np.sqrt((SIZE**2 - 1) / 12) / SIZE
    np.testing.assert_allclose(g[0], [0, 0, 0, 0.5, 0.5, 0, 0, 0], atol=1e-7)
    np.testing.assert_allclose(
        g[1], [1, 0, 1, 0.5, 0.5, full_spread, full_spread, 1], rtol=1e-5, atol=1e-7
    )
    np.testing.assert_allclose(
        g[2], [0.4, 0, 0, 0.5, 0.5, full_spread, full_spread, 0], rtol=1e-5, atol=1e-7
    )


@pytest.mark.parametrize("form", FORMS)
def test_soft_centroid_weights_by_coverage(form: str) -> None:
    mask = np.zeros((SIZE, SIZE), np.float32)
    mask[0, 0] = 1.0
    mask[0, 3] = 0.25  # binarises away but still pulls the centroid
    g = _geometry(form, mask)
    expected_cx = (1.0 * 0.5 + 0.25 * 3.5) / 1.25 / SIZE
    np.testing.assert_allclose(g["cx"], [expected_cx], rtol=1e-6)
    np.testing.assert_allclose(g["fill"], [1.25], rtol=1e-6)
    # The corner pixel changes to background once to its right and once below; the image
    # border is not a boundary.
    np.testing.assert_allclose(g["perimeter"], [2 / (2 * SIZE)], rtol=1e-6)
