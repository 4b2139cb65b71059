"""Fused mask pooling in PyTorch: the form the auditor trains through and exports to ONNX.

Every step is an op that exports to ONNX opset 17 and that ONNX Runtime and TensorRT run well:
average and max pooling, element-wise arithmetic, reshapes with no data-dependent shape, and one
batched matmul per scale that pools the three regions of every candidate at once,
``weights [B, K*3, hw] @ feats [B, hw, C]``. There is no Python loop over frames or candidates,
so the batch axis ``B`` and the candidate axis ``K`` stay dynamic in the exported graph.

The operation, for masks ``[B, K, H, W]`` in [0, 1] and feature maps ``[B, C_s, h_s, w_s]`` with
``H = f_s * h_s`` and ``W = f_s * w_s``:

1. coverage ``c``: the mean of each ``f_s x f_s`` block of the mask;
2. regions: inside ``c``, band ``max3x3(c) - min3x3(c)`` (window clipped at the border) and
   outside ``1 - c``;
3. each region's weighted mean of every channel, ``sum(w * F) / (sum(w) + 1e-6)``;
4. per scale ``[inside C_s, band C_s, outside C_s]``, scales in order.

The coverage of each scale is pooled from the coarsest coverage already computed whose factor
divides it, so the full-resolution masks are read once for all scales. The geometry (area,
perimeter, Euler number, centroid, spread and bounding-box fill) comes from the full-resolution
mask with max pools and row and column sums; see :func:`mask_geometry`.
:func:`mask_pool_naive_torch` is the same operation as the unfused chain, for comparison.

Export with ``torch.onnx.export(..., opset_version=17, dynamo=False)``: the TorchScript exporter
needs nothing beyond PyTorch (the dynamo exporter needs the ``onnxscript`` package).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from maskaudit.errors import InputError
from maskaudit.kernels.shapes import scale_factors

__all__ = [
    "EMPTY_EPS",
    "GEOMETRY_FIELDS",
    "NUM_REGIONS",
    "POOL_EPS",
    "mask_geometry",
    "mask_pool",
    "mask_pool_context",
    "mask_pool_naive_torch",
    "pooled_width",
    "region_weights",
]

NUM_REGIONS = 3
"""Regions pooled per scale, in output order: inside, band, outside."""

POOL_EPS = 1e-6
"""Added to each region's total weight so that an empty region pools to zero."""

EMPTY_EPS = 1e-6
"""A mask whose total is below this is empty: centroid 0.5, spread 0."""

GEOMETRY_FIELDS = ("area", "perimeter", "euler", "cx", "cy", "sx", "sy", "fill")
"""Names of the eight geometry values, in output order."""


def pooled_width(channels: Sequence[int]) -> int:
    """Return the width of the pooled vector for feature maps with the given channel counts.

    Args:
        channels: ``C_s`` of each scale.

    Returns:
        ``sum_s 3 * C_s``.
    """
    return NUM_REGIONS * sum(channels)


def _coverages(masks: Tensor, factors: Sequence[int]) -> dict[int, Tensor]:
    """Coverage ``[B*K, 1, H / f, W / f]`` of the masks at each factor.

    Each is pooled from the coarsest coverage already computed whose factor divides it, so
    factors 2, 4 and 8 read the full-resolution masks once, not three times.
    """
    found = {1: masks.flatten(0, 1).unsqueeze(1)}
    for factor in sorted(set(factors)):
        source = max(f for f in found if factor % f == 0)
        if factor != source:
            found[factor] = F.avg_pool2d(found[source], factor // source)
    return found


def _regions(coverage: Tensor) -> Tensor:
    """Inside, band and outside weights ``[N, 3, h, w]`` from coverage ``[N, 1, h, w]``."""
    # Max pooling pads with -inf, so the 3x3 window is clipped at the border for both extrema.
    dilated = F.max_pool2d(coverage, 3, stride=1, padding=1)
    eroded = -F.max_pool2d(-coverage, 3, stride=1, padding=1)
    return torch.cat([coverage, dilated - eroded, 1.0 - coverage], dim=1)


def region_weights(masks: Tensor, factor: int) -> Tensor:
    """Return the inside, band and outside weights of every candidate at one scale.

    Args:
        masks: Candidate masks ``[B, K, H, W]`` with values in [0, 1].
        factor: Downscale factor ``f`` of the scale; ``H`` and ``W`` must be multiples of it.

    Returns:
        Weights ``[B, K, 3, H / f, W / f]``, regions in the order inside, band, outside.
    """
    weights = _regions(_coverages(masks, [factor])[factor])
    return weights.unflatten(0, (masks.shape[0], masks.shape[1]))


def _pool(weights: Tensor, maps: Tensor) -> Tensor:
    """Weighted means ``[B, K*3, D]`` from weights ``[B*K, 3, h, w]`` and maps ``[B, D, h, w]``.

    One batched matmul: ``weights [B, K*3, hw] @ maps [B, hw, D]``.
    """
    hw = maps.shape[2] * maps.shape[3]
    weights = weights.reshape(maps.shape[0], -1, hw)
    sums = torch.matmul(weights, maps.reshape(maps.shape[0], -1, hw).transpose(1, 2))
    return sums / (weights.sum(dim=-1, keepdim=True) + POOL_EPS)


def mask_pool(masks: Tensor, feats: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    """Pool feature maps inside, on the boundary band of, and outside each candidate mask.

    Args:
        masks: Candidate masks ``[B, K, H, W]``, float, values in [0, 1] (soft coverage allowed).
        feats: Feature maps, one per scale, ``[B, C_s, h_s, w_s]`` with ``H = f_s * h_s`` and
            ``W = f_s * w_s`` for a whole number ``f_s``.

    Returns:
        ``pooled [B, K, sum_s 3 * C_s]`` (per scale: inside, band, outside, each ``C_s`` wide)
        and ``geometry [B, K, 8]`` (see :func:`mask_geometry`). Both are differentiable with
        respect to the masks and the feature maps.

    Raises:
        InputError: If the shapes do not fit together.

    Example:
        >>> import torch
        >>> masks = torch.zeros(1, 2, 160, 160); masks[:, :, 40:120, 40:120] = 1
        >>> feats = [torch.randn(1, 8, 80, 80), torch.randn(1, 32, 40, 40)]
        >>> pooled, geometry = mask_pool(masks, feats)
        >>> tuple(pooled.shape), tuple(geometry.shape)
        ((1, 2, 120), (1, 2, 8))
    """
    factors = scale_factors(masks.shape, [f.shape for f in feats])
    coverages = _coverages(masks, factors)

    pooled = []
    for feat, factor in zip(feats, factors, strict=True):
        means = _pool(_regions(coverages[factor]), feat)
        pooled.append(means.reshape(masks.shape[0], -1, NUM_REGIONS * feat.shape[1]))
    return torch.cat(pooled, dim=-1), mask_geometry(masks)


def mask_pool_context(masks: Tensor, context: Tensor) -> Tensor:
    """Pool T context frames' feature maps with each candidate's regions on its own frame.

    The regions come from the candidate's mask; every context frame's map is pooled with the
    same weights, so the head sees how the masked area behaves over time.

    Args:
        masks: Candidate masks ``[B, K, H, W]``, values in [0, 1].
        context: Feature maps of T context frames per frame, ``[B, T, C, h, w]`` with
            ``H = f * h`` and ``W = f * w``.

    Returns:
        Pooled context ``[B, K, T, 3, C]``, regions in the order inside, band, outside.

    Raises:
        InputError: If the shapes do not fit together.
    """
    if context.dim() != 5:
        raise InputError(
            f"context has shape {tuple(context.shape)}; pass a 5-d array [B, T, C, h, w]"
        )
    steps, channels, h, w = context.shape[1], context.shape[2], context.shape[3], context.shape[4]
    (factor,) = scale_factors(masks.shape, [(context.shape[0], steps * channels, h, w)])

    weights = _regions(_coverages(masks, [factor])[factor])
    pooled = _pool(weights, context.reshape(context.shape[0], -1, h, w))
    pooled = pooled.reshape(masks.shape[0], masks.shape[1], NUM_REGIONS, steps, channels)
    return pooled.transpose(2, 3)


def mask_pool_naive_torch(masks: Tensor, feats: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    """Compute :func:`mask_pool` as the unfused chain, for comparison and benchmarking.

    Per scale and region: resize the mask, build the region's weight map, broadcast-multiply it
    with the feature map and reduce, each a separate pass over memory. The geometry is counted
    the direct way too: shifted copies of the image for the quads and the neighbour changes.

    Args:
        masks: Candidate masks ``[B, K, H, W]``, values in [0, 1].
        feats: Feature maps, one per scale, ``[B, C_s, h_s, w_s]``.

    Returns:
        The same ``(pooled, geometry)`` as :func:`mask_pool`.

    Raises:
        InputError: If the shapes do not fit together.
    """
    scale_factors(masks.shape, [f.shape for f in feats])
    pooled = []
    for f in feats:
        factor = masks.shape[-2] // f.shape[2]
        coverage = F.avg_pool2d(masks, factor) if factor > 1 else masks
        dilated = F.max_pool2d(coverage, 3, stride=1, padding=1)
        eroded = -F.max_pool2d(-coverage, 3, stride=1, padding=1)
        for weight in (coverage, dilated - eroded, 1.0 - coverage):
            weighted = weight.unsqueeze(2) * f.unsqueeze(1)
            total = weight.sum(dim=(-2, -1)).unsqueeze(-1) + POOL_EPS
            pooled.append(weighted.sum(dim=(-2, -1)) / total)
    return torch.cat(pooled, dim=-1), _naive_geometry(masks)


def _naive_geometry(masks: Tensor) -> Tensor:
    """:func:`mask_geometry` from shifted copies of the binarised image, ``[B, K, 8]``."""
    H, W = masks.shape[-2], masks.shape[-1]
    binary = (masks > 0.5).to(masks.dtype)

    padded = F.pad(binary, (1, 1, 1, 1))
    a, b = padded[..., :-1, :-1], padded[..., :-1, 1:]
    c, d = padded[..., 1:, :-1], padded[..., 1:, 1:]
    count = a + b + c + d
    ones = (count == 1).to(masks.dtype).sum(dim=(-2, -1))
    threes = (count == 3).to(masks.dtype).sum(dim=(-2, -1))
    diagonals = (a * d * (1 - b) * (1 - c) + b * c * (1 - a) * (1 - d)).sum(dim=(-2, -1))
    euler = (ones - threes - 2 * diagonals) / 4

    across = (binary[..., :, 1:] - binary[..., :, :-1]).abs().sum(dim=(-2, -1))
    down = (binary[..., 1:, :] - binary[..., :-1, :]).abs().sum(dim=(-2, -1))
    perimeter = (across + down) / (H + W)

    total = masks.sum(dim=(-2, -1))
    safe_total = total.clamp_min(EMPTY_EPS)
    x = (torch.arange(W, dtype=masks.dtype, device=masks.device) + 0.5) / W
    y = (torch.arange(H, dtype=masks.dtype, device=masks.device).unsqueeze(-1) + 0.5) / H
    cx = (masks * x).sum(dim=(-2, -1)) / safe_total
    cy = (masks * y).sum(dim=(-2, -1)) / safe_total
    dx = x - cx[..., None, None]
    dy = y - cy[..., None, None]
    sx = _safe_sqrt((masks * dx * dx).sum(dim=(-2, -1)) / safe_total)
    sy = _safe_sqrt((masks * dy * dy).sum(dim=(-2, -1)) / safe_total)
    empty = total < EMPTY_EPS
    cx = torch.where(empty, 0.5, cx)
    cy = torch.where(empty, 0.5, cy)
    sx = torch.where(empty, 0.0, sx)
    sy = torch.where(empty, 0.0, sy)

    width, height = _extent(binary.amax(dim=-2)), _extent(binary.amax(dim=-1))
    box = (width * height).clamp_min(1.0) / (H * W)
    area = masks.mean(dim=(-2, -1))
    fill = torch.where(width > 0, area / box, 0.0)
    return torch.stack([area, perimeter, euler, cx, cy, sx, sy, fill], dim=-1)


def _safe_sqrt(value: Tensor) -> Tensor:
    """Square root with a finite gradient at zero (where the value is exactly zero)."""
    return torch.where(value > 0, torch.sqrt(value.clamp_min(1e-30)), 0.0)


def _cell_counts(binary: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Corners, horizontal edges and vertical edges touched by foreground pixels, ``[B, K]`` each.

    Each count is a max pool over the zero-padded image (max pooling pads with -inf, which for
    0/1 values and windows that always hold an image pixel is the same as zero padding).
    """
    corners = F.max_pool2d(binary, 2, stride=1, padding=1).sum(dim=(-2, -1))
    horizontal = F.max_pool2d(binary, (2, 1), stride=1, padding=(1, 0)).sum(dim=(-2, -1))
    vertical = F.max_pool2d(binary, (1, 2), stride=1, padding=(0, 1)).sum(dim=(-2, -1))
    return corners, horizontal, vertical


def _extent(occupied: Tensor) -> Tensor:
    """Number of indices from the first to the last occupied one along the last axis, ``[B, K]``.

    Masked max reductions over a coordinate grid; nothing occupied gives a negative value.
    """
    length = occupied.shape[-1]
    index = torch.arange(length, dtype=occupied.dtype, device=occupied.device)
    last = (occupied * (index + 1)).amax(dim=-1)
    first = length - (occupied * (length - index)).amax(dim=-1)
    return last - first


def mask_geometry(masks: Tensor) -> Tensor:
    """Return eight shape descriptors of each full-resolution candidate mask.

    With ``m`` the (soft) mask and ``b = m > 0.5`` its binarisation, the values are:
    ``area`` = mean(m); ``perimeter`` = count of horizontal and vertical changes in ``b``
    divided by ``H + W``; ``euler`` = Euler number of ``b`` with 8-connected foreground
    (components minus holes); ``cx``, ``cy`` = centroid of ``m`` in normalised coordinates
    ``((x + 0.5) / W, (y + 0.5) / H)``, 0.5 when the mask is empty (total < 1e-6); ``sx``,
    ``sy`` = standard deviation of the normalised coordinates under ``m``, 0 when empty;
    ``fill`` = area over the normalised bounding-box area of ``b``, 0 when ``b`` is empty.

    Args:
        masks: Candidate masks ``[B, K, H, W]``, values in [0, 1].

    Returns:
        Geometry ``[B, K, 8]`` in the order of ``GEOMETRY_FIELDS``. Differentiable through the
        soft values (area, centroid, spread, fill); the binarised values carry no gradient.
    """
    H, W = masks.shape[-2], masks.shape[-1]
    binary = (masks > 0.5).to(masks.dtype)
    binary_columns, binary_rows = binary.sum(dim=-2), binary.sum(dim=-1)
    pixels = binary_columns.sum(dim=-1)

    # The foreground as a union of closed unit squares: its Euler number (8-connected pixels,
    # components minus holes) is corners - edges + squares, the same value as Gray's count over
    # the 2x2 quads. The edges also give the perimeter: over neighbouring pixels x, y inside
    # the image, |x - y| = 2 max(x, y) - x - y, where the maxima add up to the touched edges
    # less the foreground sides on the image border, and x + y to 4 * pixels less those sides.
    corners, horizontal, vertical = _cell_counts(binary)
    euler = corners - horizontal - vertical + pixels
    on_border = binary_columns[..., 0] + binary_columns[..., -1]
    on_border = on_border + binary_rows[..., 0] + binary_rows[..., -1]
    perimeter = (2 * (horizontal + vertical) - 4 * pixels - on_border) / (H + W)

    columns, rows = masks.sum(dim=-2), masks.sum(dim=-1)
    total = columns.sum(dim=-1)
    area = total / (H * W)
    empty = total < EMPTY_EPS
    safe_total = total.clamp_min(EMPTY_EPS)
    xs = (torch.arange(W, dtype=masks.dtype, device=masks.device) + 0.5) / W
    ys = (torch.arange(H, dtype=masks.dtype, device=masks.device) + 0.5) / H
    cx = (columns * xs).sum(dim=-1) / safe_total
    cy = (rows * ys).sum(dim=-1) / safe_total
    sx = _safe_sqrt((columns * (xs - cx.unsqueeze(-1)) ** 2).sum(dim=-1) / safe_total)
    sy = _safe_sqrt((rows * (ys - cy.unsqueeze(-1)) ** 2).sum(dim=-1) / safe_total)
    cx, cy = torch.where(empty, 0.5, cx), torch.where(empty, 0.5, cy)
    sx, sy = torch.where(empty, 0.0, sx), torch.where(empty, 0.0, sy)

    width, height = _extent(binary_columns.clamp_max(1)), _extent(binary_rows.clamp_max(1))
    fill = torch.where(width > 0, total / (width * height).clamp_min(1.0), 0.0)

    return torch.stack([area, perimeter, euler, cx, cy, sx, sy, fill], dim=-1)
