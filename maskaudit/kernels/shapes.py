"""Shape checks shared by every form of fused mask pooling.

The masks are at full resolution and each feature map is a whole-number downscale of them; the
factor of each scale is what the coverage pooling averages over.
"""

from __future__ import annotations

from collections.abc import Sequence

from maskaudit.errors import InputError


def scale_factors(mask_shape: Sequence[int], feat_shapes: Sequence[Sequence[int]]) -> list[int]:
    """Return the integer downscale factor of each feature map against the masks.

    Args:
        mask_shape: Shape of the masks, ``[B, K, H, W]``.
        feat_shapes: Shape of each feature map, ``[B, C_s, h_s, w_s]``, in scale order.

    Returns:
        One factor ``f_s`` per scale with ``H == f_s * h_s`` and ``W == f_s * w_s``.

    Raises:
        InputError: If a shape has the wrong rank, the batch sizes differ, there is no feature
            map, or a feature map is not a whole-number downscale of the masks.
    """
    if len(mask_shape) != 4:
        raise InputError(
            f"masks have shape {tuple(mask_shape)}; pass a 4-d array [B, K, H, W] "
            "(frames, candidates, height, width)"
        )
    if len(feat_shapes) == 0:
        raise InputError("no feature map was given; pass at least one map [B, C, h, w]")
    # The batch sizes are compared but never converted: under graph capture they are symbols.
    batch, height, width = mask_shape[0], int(mask_shape[2]), int(mask_shape[3])
    factors = []
    for index, shape in enumerate(feat_shapes):
        if len(shape) != 4:
            raise InputError(
                f"feature map {index} has shape {tuple(shape)}; pass a 4-d array [B, C, h, w]"
            )
        feat_batch, h, w = shape[0], int(shape[2]), int(shape[3])
        if feat_batch != batch:
            raise InputError(
                f"feature map {index} has batch {feat_batch} but the masks have {batch}; "
                "pass one feature map per frame of the masks"
            )
        factor = height // h if h > 0 else 0
        if h <= 0 or w <= 0 or factor * h != height or factor * w != width:
            raise InputError(
                f"feature map {index} is {h}x{w} but the masks are {height}x{width}; the masks "
                "must be the same whole-number multiple of every map in both axes"
            )
        factors.append(factor)
    return factors
