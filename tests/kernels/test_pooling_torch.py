"""The PyTorch form against the numpy reference, its context pooling and its gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from maskaudit.errors import InputError
from maskaudit.kernels.pooling_torch import (
    mask_geometry,
    mask_pool,
    mask_pool_context,
    mask_pool_naive_torch,
    pooled_width,
    region_weights,
)


def _run(form, case) -> tuple[np.ndarray, np.ndarray]:
    pooled, geometry = form(torch.from_numpy(case.masks), [torch.from_numpy(f) for f in case.feats])
    return pooled.numpy(), geometry.numpy()


@pytest.mark.parametrize("form", [mask_pool, mask_pool_naive_torch])
def test_agrees_with_numpy_on_random_draws(
    form, rng: np.random.Generator, make_case, check_pooled, check_geometry
) -> None:
    for draw in range(6):
        case = make_case(rng, max_batch=3, max_candidates=5, max_channels=40)
        pooled, geometry = _run(form, case)
        assert pooled.shape[-1] == pooled_width([f.shape[1] for f in case.feats])
        check_pooled(pooled, case, f"{form.__name__} draw {draw}")
        check_geometry(geometry, case, f"{form.__name__} draw {draw}")


def test_agrees_with_numpy_at_the_default_resolution(
    rng: np.random.Generator, make_case, check_pooled, check_geometry
) -> None:
    scales = [(8, 2), (32, 4), (64, 8)]
    case = make_case(rng, max_batch=1, max_candidates=4, size=(160, 160), scales=scales)
    pooled, geometry = _run(mask_pool, case)
    check_pooled(pooled, case, "160x160")
    check_geometry(geometry, case, "160x160")


def test_candidates_do_not_interact(rng: np.random.Generator, make_case) -> None:
    case = make_case(rng, max_candidates=5)
    masks = torch.from_numpy(case.masks)
    feats = [torch.from_numpy(f) for f in case.feats]
    order = torch.from_numpy(rng.permutation(masks.shape[1]))
    pooled, geometry = mask_pool(masks, feats)
    shuffled_pooled, shuffled_geometry = mask_pool(masks[:, order], feats)
    torch.testing.assert_close(shuffled_pooled, pooled[:, order], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(shuffled_geometry, geometry[:, order], rtol=1e-6, atol=1e-6)


def test_region_weights_order_and_range(rng: np.random.Generator, make_case) -> None:
    case = make_case(rng)
    masks = torch.from_numpy(case.masks)
    weights = region_weights(masks, 2)
    B, K, H, W = masks.shape
    assert weights.shape == (B, K, 3, H // 2, W // 2)
    torch.testing.assert_close(
        weights[:, :, 0] + weights[:, :, 2], torch.ones(B, K, H // 2, W // 2)
    )
    assert weights.min() >= 0 and weights.max() <= 1


def test_context_pools_each_step_like_one_scale(rng: np.random.Generator, make_case) -> None:
    case = make_case(rng, max_candidates=3)
    masks = torch.from_numpy(case.masks)
    B, K, H, W = masks.shape
    steps, channels, factor = int(rng.integers(1, 5)), int(rng.integers(1, 12)), 4
    context = torch.from_numpy(
        rng.normal(size=(B, steps, channels, H // factor, W // factor)).astype(np.float32)
    )
    pooled = mask_pool_context(masks, context)
    assert pooled.shape == (B, K, steps, 3, channels)
    for t in range(steps):
        expected, _ = mask_pool(masks, [context[:, t]])
        torch.testing.assert_close(pooled[:, :, t], expected.reshape(B, K, 3, channels))


def test_context_shape_errors() -> None:
    masks = torch.zeros(1, 2, 32, 32)
    with pytest.raises(InputError, match="5-d"):
        mask_pool_context(masks, torch.zeros(1, 4, 8, 8))
    with pytest.raises(InputError, match="10x10"):
        mask_pool_context(masks, torch.zeros(1, 3, 4, 10, 10))


def test_gradients_match_finite_differences() -> None:
    generator = torch.Generator().manual_seed(1)
    masks = torch.rand(1, 2, 8, 8, generator=generator, dtype=torch.float64, requires_grad=True)
    feats = [
        torch.randn(1, 3, 4, 4, generator=generator, dtype=torch.float64, requires_grad=True),
        torch.randn(1, 2, 2, 2, generator=generator, dtype=torch.float64, requires_grad=True),
    ]
    context = torch.randn(1, 2, 3, 4, 4, generator=generator, dtype=torch.float64)
    context.requires_grad_(True)

    def soft_outputs(m, f0, f1, ctx):
        pooled, geometry = mask_pool(m, [f0, f1])
        soft_geometry = geometry[..., [0, 3, 4, 5, 6]]  # area, centroid and spread
        return pooled, soft_geometry, mask_pool_context(m, ctx)

    assert torch.autograd.gradcheck(soft_outputs, (masks, *feats, context), fast_mode=True)


def test_gradients_stay_finite_on_degenerate_masks() -> None:
    masks = torch.zeros(1, 4, 16, 16)
    masks[0, 1] = 1  # full
    masks[0, 2, :, 5] = 1  # one column: zero spread in x
    masks[0, 3, 7, 7] = 1  # one pixel: zero spread in both axes
    masks.requires_grad_(True)
    feats = [torch.randn(1, 4, 8, 8, requires_grad=True)]
    pooled, geometry = mask_pool(masks, feats)
    (pooled.sum() + geometry.sum()).backward()
    assert torch.isfinite(masks.grad).all()
    assert torch.isfinite(feats[0].grad).all()
    assert masks.grad.abs().sum() > 0 and feats[0].grad.abs().sum() > 0


def test_geometry_of_an_empty_mask_and_a_square_in_one_batch() -> None:
    masks = torch.zeros(2, 1, 16, 16)
    masks[1, 0, 4:8, 4:8] = 1
    geometry = mask_geometry(masks)
    torch.testing.assert_close(geometry[0, 0, 3:5], torch.tensor([0.5, 0.5]))
    torch.testing.assert_close(geometry[1, 0, 0], torch.tensor(16 / 256))
