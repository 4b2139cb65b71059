"""Fused mask pooling as Triton kernels, the GPU form.

:func:`mask_pool_triton` gives the same ``(pooled, geometry)`` as
:func:`maskaudit.kernels.pooling_torch.mask_pool`, for inference (no gradient). Each scale is
one kernel launch that reads the masks and the map once and writes per-tile partial sums, which
a small reduction over tiles finishes; the geometry is one more launch. The kernels live in
:mod:`maskaudit.kernels.triton_kernels`.

Triton is imported on the first call. On a machine without a GPU the kernels run under Triton's
interpreter on CPU tensors: set ``TRITON_INTERPRET=1`` in the environment before anything
imports Triton.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import ModuleType

import torch
from torch import Tensor

from maskaudit.errors import BackendError, InputError
from maskaudit.kernels.shapes import scale_factors

__all__ = ["mask_pool_triton"]

POOL_EPS = 1e-6
EMPTY_EPS = 1e-6


def _kernels() -> ModuleType:
    """Import the kernel module, turning a missing Triton into a BackendError."""
    try:
        return importlib.import_module("maskaudit.kernels.triton_kernels")
    except ImportError as error:
        raise BackendError(
            f"the Triton form of mask pooling needs the package 'triton' ({error}); install it "
            "with `pip install 'maskaudit[gpu]'`, or use the PyTorch or numpy form"
        ) from error


def _next_power_of_two(n: int) -> int:
    """Smallest power of two that is at least ``n`` (and at least 1)."""
    return 1 << max(int(n) - 1, 0).bit_length()


def _pool_scale(
    kernels: ModuleType, masks: Tensor, feats: Tensor, factor: int, block_pixels: int
) -> Tensor:
    """Pool one scale: ``[B, K, H, W]`` and ``[B, C, h, w]`` to ``[B, K, 3 * C]``."""
    B, K, H, W = masks.shape
    C, h, w = feats.shape[1], feats.shape[2], feats.shape[3]
    block_p = min(block_pixels, _next_power_of_two(h * w))
    n_tiles = -(-(h * w) // block_p)
    sums = torch.empty(B * K, n_tiles, 3, C, dtype=torch.float32, device=masks.device)
    totals = torch.empty(B * K, n_tiles, 3, dtype=torch.float32, device=masks.device)

    kernels.pool_scale_kernel[(B * K, n_tiles)](
        masks, feats, sums, totals, K, H, W, h, w, C, factor, n_tiles,
        BLOCK_P=block_p,
        BLOCK_F=_next_power_of_two(factor),
        BLOCK_C=min(64, _next_power_of_two(C)),
    )  # fmt: skip

    pooled = sums.sum(dim=1) / (totals.sum(dim=1).unsqueeze(-1) + POOL_EPS)
    return pooled.reshape(B, K, 3 * C)


def _geometry(kernels: ModuleType, masks: Tensor, block_rows: int) -> Tensor:
    """Geometry of every candidate, ``[B, K, 8]``."""
    B, K, H, W = masks.shape
    geometry = torch.empty(B * K, 8, dtype=torch.float32, device=masks.device)
    kernels.geometry_kernel[(B * K,)](
        masks, geometry, H, W, EMPTY_EPS,
        BLOCK_R=block_rows,
        BLOCK_W=_next_power_of_two(W + 1),
    )  # fmt: skip
    return geometry.reshape(B, K, 8)


def mask_pool_triton(
    masks: Tensor,
    feats: Sequence[Tensor],
    block_pixels: int = 128,
    block_rows: int = 8,
) -> tuple[Tensor, Tensor]:
    """Pool feature maps inside, on the band of, and outside each candidate, with Triton.

    Args:
        masks: Candidate masks ``[B, K, H, W]``, values in [0, 1], on the GPU (or on the CPU
            under ``TRITON_INTERPRET=1``). Converted to contiguous float32.
        feats: Feature maps, one per scale, ``[B, C_s, h_s, w_s]``, on the same device, with
            ``H = f_s * h_s`` and ``W = f_s * w_s``. Converted to contiguous float32.
        block_pixels: Pixels of a scale's map per program (a power of two). Defaults to 128.
        block_rows: Mask rows per step of the geometry kernel (a power of two). Defaults to 8.

    Returns:
        ``pooled [B, K, sum_s 3 * C_s]`` and ``geometry [B, K, 8]``, float32, as
        :func:`maskaudit.kernels.pooling_torch.mask_pool` defines them. No gradient.

    Raises:
        InputError: If the shapes do not fit together, a tensor is on another device, or a
            block size is not a power of two.
        BackendError: If Triton is not installed.
    """
    factors = scale_factors(masks.shape, [f.shape for f in feats])
    for name, value in (("block_pixels", block_pixels), ("block_rows", block_rows)):
        if value < 1 or _next_power_of_two(value) != value:
            raise InputError(f"{name} is {value}; pass a power of two such as 64 or 128")
    for index, feat in enumerate(feats):
        if feat.device != masks.device:
            raise InputError(
                f"feature map {index} is on {feat.device} but the masks are on {masks.device}; "
                "move them to one device"
            )
    kernels = _kernels()

    masks = masks.detach().to(torch.float32).contiguous()
    pooled = [
        _pool_scale(kernels, masks, f.detach().to(torch.float32).contiguous(), s, block_pixels)
        for f, s in zip(feats, factors, strict=True)
    ]
    return torch.cat(pooled, dim=-1), _geometry(kernels, masks, block_rows)
