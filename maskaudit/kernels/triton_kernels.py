"""Triton kernels of fused mask pooling; imported only by :mod:`maskaudit.kernels.pooling_triton`.

Two kernels:

- :func:`pool_scale_kernel`, one scale in one pass. A program owns one candidate and one tile of
  ``BLOCK_P`` pixels of the scale's map. It sums the candidate's full-resolution mask over each
  ``f x f`` block into coverage, forms the band from the 3x3 neighbourhood of coverage, and
  accumulates the inside, band and outside weighted sums of every channel of the frame's map,
  writing one partial sum per tile (no atomics, so results are deterministic).
- :func:`geometry_kernel`, one program per candidate, walking the mask once in row chunks over
  the 2x2 quads of the zero-padded binarisation (Euler number, perimeter) while accumulating
  the soft moments per column (centroid and spread, merged across chunks with Chan's update so
  that the variance does not lose precision to cancellation).

Note:
    The band needs coverage at the eight neighbours of each pixel of the tile; Triton has no
    shuffle between lanes of a block, so a program sums the mask blocks of the neighbours as
    well. Those reads hit the cache (the same blocks as the centre's), so the mask is read from
    memory about once, but the additions are done nine times.
"""

# Triton's idiom: compile-time block sizes in capitals; H, W, K, C are the shapes of the docs.
# ruff: noqa: N803

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _block_coverage(
    mask_base,
    rows,
    cols,
    valid,
    W,
    factor,
    BLOCK_P: tl.constexpr,
    BLOCK_F: tl.constexpr,
):
    """Mean of the mask over the ``factor x factor`` block of each coarse pixel (rows, cols)."""
    offs_f = tl.arange(0, BLOCK_F)
    in_block = valid[:, None] & (offs_f[None, :] < factor)
    first_col = cols[:, None] * factor + offs_f[None, :]
    total = tl.zeros([BLOCK_P], dtype=tl.float32)
    for u in range(0, factor):
        row = rows * factor + u
        values = tl.load(mask_base + row[:, None] * W + first_col, mask=in_block, other=0.0)
        total += tl.sum(values, axis=1)
    return total / (factor * factor)


@triton.jit
def pool_scale_kernel(
    mask_ptr,
    feat_ptr,
    sums_ptr,
    totals_ptr,
    K,
    H,
    W,
    h,
    w,
    C,
    factor,
    n_tiles,
    BLOCK_P: tl.constexpr,
    BLOCK_F: tl.constexpr,
    BLOCK_C: tl.constexpr,
):
    """Partial region sums of one tile of one candidate at one scale.

    Grid ``(B * K, n_tiles)``. Reads masks ``[B*K, H, W]`` and the frame's map ``[B, C, h*w]``
    (both contiguous float32); writes ``sums [B*K, n_tiles, 3, C]`` (weighted sums of every
    channel) and ``totals [B*K, n_tiles, 3]`` (the weights' sums), regions inside, band, outside.
    """
    candidate = tl.program_id(0)
    tile = tl.program_id(1)
    frame = candidate // K
    mask_base = mask_ptr + candidate.to(tl.int64) * H * W
    feat_base = feat_ptr + frame.to(tl.int64) * C * h * w
    out_row = candidate.to(tl.int64) * n_tiles + tile

    pixel = tile * BLOCK_P + tl.arange(0, BLOCK_P)
    in_map = pixel < h * w
    i = pixel // w
    j = pixel % w

    coverage = _block_coverage(mask_base, i, j, in_map, W, factor, BLOCK_P, BLOCK_F)
    high = coverage
    low = coverage
    for dy in tl.static_range(3):
        for dx in tl.static_range(3):
            if dy * 3 + dx != 4:  # every neighbour but the centre
                ni = i + (dy - 1)
                nj = j + (dx - 1)
                inside_map = in_map & (ni >= 0) & (ni < h) & (nj >= 0) & (nj < w)
                near = _block_coverage(mask_base, ni, nj, inside_map, W, factor, BLOCK_P, BLOCK_F)
                high = tl.where(inside_map, tl.maximum(high, near), high)
                low = tl.where(inside_map, tl.minimum(low, near), low)

    inside = tl.where(in_map, coverage, 0.0)
    band = tl.where(in_map, high - low, 0.0)
    outside = tl.where(in_map, 1.0 - coverage, 0.0)
    tl.store(totals_ptr + out_row * 3 + 0, tl.sum(inside, axis=0))
    tl.store(totals_ptr + out_row * 3 + 1, tl.sum(band, axis=0))
    tl.store(totals_ptr + out_row * 3 + 2, tl.sum(outside, axis=0))

    for c0 in range(0, C, BLOCK_C):
        channel = c0 + tl.arange(0, BLOCK_C)
        in_channels = channel < C
        feats = tl.load(
            feat_base + channel[:, None] * (h * w) + pixel[None, :],
            mask=in_channels[:, None] & in_map[None, :],
            other=0.0,
        )
        out = sums_ptr + out_row * 3 * C + channel
        tl.store(out, tl.sum(feats * inside[None, :], axis=1), mask=in_channels)
        tl.store(out + C, tl.sum(feats * band[None, :], axis=1), mask=in_channels)
        tl.store(out + 2 * C, tl.sum(feats * outside[None, :], axis=1), mask=in_channels)


@triton.jit
def _binary_at(mask_base, rows, cols, H, W):
    """Binarised mask (m > 0.5, as 0/1 float) at pixels (rows, cols); 0 outside the image."""
    valid = (rows >= 0) & (rows < H) & (cols >= 0) & (cols < W)
    values = tl.load(mask_base + rows * W + cols, mask=valid, other=0.0)
    return tl.where(values > 0.5, 1.0, 0.0)


@triton.jit
def geometry_kernel(
    mask_ptr,
    out_ptr,
    H,
    W,
    empty_eps,
    BLOCK_R: tl.constexpr,
    BLOCK_W: tl.constexpr,
):
    """Eight geometry values of one candidate; grid ``(B * K,)``, output ``[B*K, 8]``.

    Quads are indexed by the pixel at their bottom-right corner, over rows 0..H and columns
    0..W of the image zero-padded by one pixel (``BLOCK_W`` must exceed ``W``).
    """
    candidate = tl.program_id(0)
    mask_base = mask_ptr + candidate.to(tl.int64) * H * W
    col = tl.arange(0, BLOCK_W)
    col_in = col < W
    x = (col.to(tl.float32) + 0.5) / W

    mass = tl.zeros([BLOCK_W], dtype=tl.float32)  # per column: total of m
    mean_y = tl.zeros([BLOCK_W], dtype=tl.float32)  # per column: mean of y under m
    m2_y = tl.zeros([BLOCK_W], dtype=tl.float32)  # per column: sum of m * (y - mean_y)^2
    changes = tl.zeros([BLOCK_W], dtype=tl.float32)
    quad_sum = tl.zeros([BLOCK_W], dtype=tl.float32)  # n1 - n3 - 2 * nd, per column
    col_any = tl.zeros([BLOCK_W], dtype=tl.float32)
    row_first = tl.full([BLOCK_W], 2147483647, dtype=tl.int32)
    row_last = tl.full([BLOCK_W], -1, dtype=tl.int32)

    for r0 in range(0, H + 1, BLOCK_R):
        row = r0 + tl.arange(0, BLOCK_R)
        rows = row[:, None]
        cols = col[None, :]
        pixel_in = (rows < H) & (cols < W)

        a = _binary_at(mask_base, rows - 1, cols - 1, H, W)
        b = _binary_at(mask_base, rows - 1, cols, H, W)
        c = _binary_at(mask_base, rows, cols - 1, H, W)
        d = _binary_at(mask_base, rows, cols, H, W)

        count = a + b + c + d
        diagonal = a * d * (1.0 - b) * (1.0 - c) + b * c * (1.0 - a) * (1.0 - d)
        quad = tl.where(count == 1, 1.0, 0.0) - tl.where(count == 3, 1.0, 0.0) - 2.0 * diagonal
        quad_sum += tl.sum(tl.where((rows <= H) & (cols <= W), quad, 0.0), axis=0)
        across = tl.where(pixel_in & (cols >= 1), tl.abs(d - c), 0.0)
        down = tl.where(pixel_in & (rows >= 1), tl.abs(d - b), 0.0)
        changes += tl.sum(across + down, axis=0)

        col_any = tl.maximum(col_any, tl.max(d, axis=0))
        row_first = tl.minimum(row_first, tl.min(tl.where(d > 0, rows, 2147483647), axis=0))
        row_last = tl.maximum(row_last, tl.max(tl.where(d > 0, rows, -1), axis=0))

        m = tl.load(mask_base + rows * W + cols, mask=pixel_in, other=0.0)
        y = (rows.to(tl.float32) + 0.5) / H
        chunk_mass = tl.sum(m, axis=0)
        chunk_mean = tl.sum(m * y, axis=0) / tl.maximum(chunk_mass, 1e-30)
        chunk_m2 = tl.sum(m * (y - chunk_mean[None, :]) * (y - chunk_mean[None, :]), axis=0)
        merged = mass + chunk_mass
        share = chunk_mass / tl.maximum(merged, 1e-30)
        delta = chunk_mean - mean_y
        m2_y += chunk_m2 + delta * delta * mass * share
        mean_y += delta * share
        mass = merged

    total = tl.sum(mass, axis=0)
    empty = total < empty_eps
    safe_total = tl.maximum(total, empty_eps)
    cx = tl.sum(mass * x, axis=0) / safe_total
    sx = tl.sqrt(tl.sum(tl.where(col_in, mass * (x - cx) * (x - cx), 0.0), axis=0) / safe_total)
    cy = tl.sum(mass * mean_y, axis=0) / safe_total
    spread_y = tl.sum(m2_y + mass * (mean_y - cy) * (mean_y - cy), axis=0)
    sy = tl.sqrt(spread_y / safe_total)

    x_first = tl.min(tl.where(col_any > 0, col, 2147483647), axis=0)
    x_last = tl.max(tl.where(col_any > 0, col, -1), axis=0)
    y_first = tl.min(row_first, axis=0)
    y_last = tl.max(row_last, axis=0)
    box = ((x_last - x_first + 1) * (y_last - y_first + 1)).to(tl.float32)
    has_box = x_last >= 0

    out = out_ptr + candidate.to(tl.int64) * 8
    tl.store(out + 0, total / (H * W))
    tl.store(out + 1, tl.sum(changes, axis=0) / (H + W))
    tl.store(out + 2, tl.sum(quad_sum, axis=0) / 4.0)
    tl.store(out + 3, tl.where(empty, 0.5, cx))
    tl.store(out + 4, tl.where(empty, 0.5, cy))
    tl.store(out + 5, tl.where(empty, 0.0, sx))
    tl.store(out + 6, tl.where(empty, 0.0, sy))
    tl.store(out + 7, tl.where(has_box, total / tl.maximum(box, 1.0), 0.0))
