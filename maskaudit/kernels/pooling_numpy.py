"""Fused mask pooling, the plain numpy reference.

Written as the naive chain, one step at a time, in float64: resize each mask to the scale,
build the inside, band and outside weight maps, multiply each with the feature map and reduce.
The other forms (:mod:`maskaudit.kernels.pooling_torch`, :mod:`maskaudit.kernels.pooling_triton`)
are tested against it. See :mod:`maskaudit.kernels.pooling_torch` for the definition.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from maskaudit.kernels.shapes import scale_factors

__all__ = ["geometry_numpy", "mask_pool_numpy"]

POOL_EPS = 1e-6
EMPTY_EPS = 1e-6


def _coverage(masks: np.ndarray, factor: int) -> np.ndarray:
    """Mean of each ``factor x factor`` block: ``[B, K, H, W] -> [B, K, H / f, W / f]``."""
    B, K, H, W = masks.shape
    blocks = masks.reshape(B, K, H // factor, factor, W // factor, factor)
    return blocks.mean(axis=(3, 5))


def _window_extreme(values: np.ndarray, reduce: np.ufunc, pad: float) -> np.ndarray:
    """Max or min over each 3x3 window (stride 1), the window clipped at the border."""
    h, w = values.shape[-2:]
    padded = np.pad(values, [(0, 0), (0, 0), (1, 1), (1, 1)], constant_values=pad)
    result = np.full_like(values, pad)
    for dy in range(3):
        for dx in range(3):
            result = reduce(result, padded[..., dy : dy + h, dx : dx + w])
    return result


def _weighted_mean(weight: np.ndarray, feats: np.ndarray) -> np.ndarray:
    """``sum(w * F) / (sum(w) + eps)`` for weights ``[B, K, h, w]``, maps ``[B, C, h, w]``."""
    weighted = weight[:, :, None] * feats[:, None]
    total = weight.sum(axis=(-2, -1))[..., None] + POOL_EPS
    return weighted.sum(axis=(-2, -1)) / total


def _euler_number(binary: np.ndarray) -> int:
    """Euler number of one binary image, 8-connected foreground, from 2x2 quad counts (Gray)."""
    padded = np.pad(binary.astype(np.int64), 1)
    a, b = padded[:-1, :-1], padded[:-1, 1:]
    c, d = padded[1:, :-1], padded[1:, 1:]
    count = a + b + c + d
    ones = int(np.sum(count == 1))
    threes = int(np.sum(count == 3))
    diagonals = int(np.sum((count == 2) & (a == d)))
    return (ones - threes - 2 * diagonals) // 4


def _geometry_one(mask: np.ndarray) -> list[float]:
    """The eight geometry values of one full-resolution mask ``[H, W]`` (float64)."""
    H, W = mask.shape
    binary = mask > 0.5
    area = mask.mean()

    changes = np.abs(np.diff(binary.astype(np.int64), axis=1)).sum()
    changes += np.abs(np.diff(binary.astype(np.int64), axis=0)).sum()
    perimeter = changes / (H + W)
    euler = _euler_number(binary)

    total = mask.sum()
    ys, xs = np.mgrid[0:H, 0:W]
    x = (xs + 0.5) / W
    y = (ys + 0.5) / H
    if total < EMPTY_EPS:
        cx = cy = 0.5
        sx = sy = 0.0
    else:
        cx = (mask * x).sum() / total
        cy = (mask * y).sum() / total
        sx = np.sqrt((mask * (x - cx) ** 2).sum() / total)
        sy = np.sqrt((mask * (y - cy) ** 2).sum() / total)

    rows, cols = np.nonzero(binary)
    if rows.size == 0:
        fill = 0.0
    else:
        box_area = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1) / (H * W)
        fill = area / box_area
    return [area, perimeter, euler, cx, cy, sx, sy, fill]


def geometry_numpy(masks: np.ndarray) -> np.ndarray:
    """Return the eight geometry values of each candidate mask.

    See :func:`maskaudit.kernels.pooling_torch.mask_geometry` for the definitions.

    Args:
        masks: Candidate masks ``[B, K, H, W]``, values in [0, 1].

    Returns:
        Geometry ``[B, K, 8]``, float32: area, perimeter, euler, cx, cy, sx, sy, fill.
    """
    masks = np.asarray(masks, dtype=np.float64)
    B, K = masks.shape[:2]
    geometry = [[_geometry_one(masks[b, k]) for k in range(K)] for b in range(B)]
    return np.asarray(geometry, dtype=np.float64).reshape(B, K, 8).astype(np.float32)


def mask_pool_numpy(
    masks: np.ndarray, feats: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Pool feature maps inside, on the boundary band of, and outside each candidate mask.

    Args:
        masks: Candidate masks ``[B, K, H, W]``, values in [0, 1] (soft coverage allowed).
        feats: Feature maps, one per scale, ``[B, C_s, h_s, w_s]`` with ``H = f_s * h_s`` and
            ``W = f_s * w_s`` for a whole number ``f_s``.

    Returns:
        ``pooled [B, K, sum_s 3 * C_s]`` (per scale: inside, band, outside) and
        ``geometry [B, K, 8]``, both float32, computed in float64.

    Raises:
        InputError: If the shapes do not fit together.

    Example:
        >>> import numpy as np
        >>> masks = np.zeros((1, 1, 8, 8), np.float32); masks[..., :4, :] = 1
        >>> pooled, geometry = mask_pool_numpy(masks, [np.ones((1, 2, 4, 4), np.float32)])
        >>> pooled.round(3).tolist()
        [[[1.0, 1.0, 1.0, 1.0, 1.0, 1.0]]]
    """
    masks = np.asarray(masks, dtype=np.float64)
    factors = scale_factors(masks.shape, [np.shape(f) for f in feats])

    pooled = []
    for feat, factor in zip(feats, factors, strict=True):
        feat = np.asarray(feat, dtype=np.float64)
        coverage = _coverage(masks, factor)
        inside = coverage
        band = _window_extreme(coverage, np.maximum, -np.inf) - _window_extreme(
            coverage, np.minimum, np.inf
        )
        outside = 1.0 - coverage
        for weight in (inside, band, outside):
            pooled.append(_weighted_mean(weight, feat))

    return np.concatenate(pooled, axis=-1).astype(np.float32), geometry_numpy(masks)
