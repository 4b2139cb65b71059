"""The numpy reference against independent computations (scipy) and hand-worked cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from maskaudit.errors import InputError
from maskaudit.kernels.pooling_numpy import geometry_numpy, mask_pool_numpy


def _scipy_pool(mask: np.ndarray, feat: np.ndarray, factor: int) -> np.ndarray:
    """One candidate, one scale, computed with scipy filters: ``[3 * C]``."""
    h, w = mask.shape[0] // factor, mask.shape[1] // factor
    coverage = mask.astype(np.float64).reshape(h, factor, w, factor).mean(axis=(1, 3))
    # Edge replication leaves a window's extremes unchanged, i.e. clips the window at the border.
    band = ndimage.maximum_filter(coverage, size=3, mode="nearest") - ndimage.minimum_filter(
        coverage, size=3, mode="nearest"
    )
    out = []
    for weight in (coverage, band, 1 - coverage):
        out.append(np.einsum("yx,cyx->c", weight, feat) / (weight.sum() + 1e-6))
    return np.concatenate(out)


def test_pooling_matches_scipy_filters(rng: np.random.Generator, make_case) -> None:
    for _ in range(3):
        case = make_case(rng)
        pooled, _ = mask_pool_numpy(case.masks, case.feats)
        B, K, H, _ = case.masks.shape
        for b in range(B):
            for k in range(K):
                expected = np.concatenate(
                    [
                        _scipy_pool(case.masks[b, k], f[b].astype(np.float64), H // f.shape[2])
                        for f in case.feats
                    ]
                )
                np.testing.assert_allclose(pooled[b, k], expected, rtol=1e-5, atol=1e-6)


def test_euler_number_matches_component_and_hole_counts(
    rng: np.random.Generator, make_case
) -> None:
    eight = np.ones((3, 3))
    for _ in range(3):
        case = make_case(rng, max_batch=2, max_candidates=6)
        geometry = geometry_numpy(case.masks)
        for b, k in np.ndindex(case.masks.shape[:2]):
            binary = case.masks[b, k] > 0.5
            _, components = ndimage.label(binary, structure=eight)
            # Holes: 4-connected background regions of the padded image, less the outer one.
            _, background = ndimage.label(np.pad(~binary, 1, constant_values=True))
            assert geometry[b, k, 2] == components - (background - 1), (b, k)


def test_perimeter_and_bbox_match_direct_counts(rng: np.random.Generator, make_case) -> None:
    case = make_case(rng, max_candidates=6)
    geometry = geometry_numpy(case.masks)
    H, W = case.masks.shape[2:]
    for b, k in np.ndindex(case.masks.shape[:2]):
        binary = case.masks[b, k] > 0.5
        edges = np.sum(binary[:, 1:] != binary[:, :-1]) + np.sum(binary[1:] != binary[:-1])
        assert geometry[b, k, 1] == pytest.approx(edges / (H + W), rel=1e-6)
        slices = ndimage.find_objects(binary.astype(int))
        if not slices:
            assert geometry[b, k, 7] == 0
            continue
        rows, cols = slices[0]
        box = (rows.stop - rows.start) * (cols.stop - cols.start)
        assert geometry[b, k, 7] == pytest.approx(case.masks[b, k].sum() / box, rel=1e-5)


def test_constant_map_pools_to_the_constant_in_every_nonempty_region() -> None:
    masks = np.zeros((1, 1, 32, 32), np.float32)
    masks[..., 5:20, 9:30] = 1
    feats = [np.full((1, 3, 16, 16), 2.5, np.float32), np.full((1, 2, 4, 4), -7.0, np.float32)]
    pooled, _ = mask_pool_numpy(masks, feats)
    expected = [2.5] * 9 + [-7.0] * 6
    np.testing.assert_allclose(pooled[0, 0], expected, rtol=1e-5)


def test_empty_and_full_masks_leave_regions_empty() -> None:
    masks = np.stack([np.zeros((16, 16)), np.ones((16, 16))]).astype(np.float32)[None]
    feat = np.random.default_rng(0).normal(size=(1, 4, 8, 8)).astype(np.float32)
    pooled, _ = mask_pool_numpy(masks, [feat])
    mean = feat[0].mean(axis=(1, 2))
    inside, band, outside = pooled[0, 0, :4], pooled[0, 0, 4:8], pooled[0, 0, 8:]
    np.testing.assert_array_equal(inside, 0)
    np.testing.assert_array_equal(band, 0)
    np.testing.assert_allclose(outside, mean, rtol=1e-5, atol=1e-6)
    inside, band, outside = pooled[0, 1, :4], pooled[0, 1, 4:8], pooled[0, 1, 8:]
    np.testing.assert_allclose(inside, mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(band, 0)
    np.testing.assert_array_equal(outside, 0)


def test_band_is_the_coverage_boundary_on_each_side() -> None:
    masks = np.zeros((1, 1, 8, 8), np.float32)
    masks[..., :, :4] = 1  # left half: coverage columns 0-1 are 1, 2-3 are 0 at factor 2
    feat = np.zeros((1, 1, 4, 4), np.float32)
    feat[..., :, 1] = 1.0  # last covered column
    feat[..., :, 2] = 3.0  # first uncovered column
    feat[..., :, 0] = 100.0  # far from the boundary: outside the band
    pooled, _ = mask_pool_numpy(masks, [feat])
    np.testing.assert_allclose(pooled[0, 0, 1], 2.0, rtol=1e-5)  # band: mean of columns 1 and 2


def test_shape_errors_name_the_input() -> None:
    masks = np.zeros((1, 2, 30, 30), np.float32)
    with pytest.raises(InputError, match="feature map 0 is 8x8"):
        mask_pool_numpy(masks, [np.zeros((1, 4, 8, 8), np.float32)])
    with pytest.raises(InputError, match="batch 2"):
        mask_pool_numpy(masks, [np.zeros((2, 4, 15, 15), np.float32)])
    with pytest.raises(InputError, match="4-d"):
        mask_pool_numpy(masks[0], [np.zeros((1, 4, 15, 15), np.float32)])
    with pytest.raises(InputError, match="no feature map"):
        mask_pool_numpy(masks, [])
