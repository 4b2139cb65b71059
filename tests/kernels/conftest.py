"""Random masks and feature maps for the mask-pooling tests, fresh on every run.

Each test that takes ``rng`` draws from a new seed and prints it, so pytest shows the seed of a
failing draw (rerun it with ``MASKAUDIT_TEST_SEED=<seed>``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from maskaudit.kernels.pooling_numpy import mask_pool_numpy

RTOL = 1e-5
"""Largest relative error allowed between two forms (float32)."""

GEOMETRY_ATOL = 1e-6
"""Absolute floor for geometry values, which are normalised to the unit scale of the image."""


@dataclass
class Case:
    masks: np.ndarray  # [B, K, H, W] float32
    feats: list[np.ndarray]  # [B, C_s, h_s, w_s] float32


def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:height, 0:width]
    return ys.astype(np.float64), xs.astype(np.float64)


def _box_blur(image: np.ndarray, radius: int) -> np.ndarray:
    padded = np.pad(image, radius, mode="edge")
    size = 2 * radius + 1
    out = np.zeros_like(image)
    for dy in range(size):
        for dx in range(size):
            out += padded[dy : dy + image.shape[0], dx : dx + image.shape[1]]
    return out / size**2


def random_mask(rng: np.random.Generator, height: int, width: int, kind: str) -> np.ndarray:
    """One mask of the given kind with random position and size, float32 in [0, 1]."""
    H, W = height, width
    ys, xs = _grid(H, W)
    cy, cx = rng.uniform(0, H), rng.uniform(0, W)
    radius = rng.uniform(1.0, 0.5 * min(H, W))
    if kind == "empty":
        mask = np.zeros((H, W))
    elif kind == "full":
        mask = np.ones((H, W))
    elif kind == "disc":
        mask = (ys - cy) ** 2 + (xs - cx) ** 2 < radius**2
    elif kind == "ring":
        distance = np.sqrt((ys - cy) ** 2 + (xs - cx) ** 2)
        mask = (distance < radius) & (distance > radius * rng.uniform(0.3, 0.8))
    elif kind == "rect":
        y0, x0 = rng.integers(0, H), rng.integers(0, W)
        mask = np.zeros((H, W))
        mask[y0 : y0 + rng.integers(1, H + 1), x0 : x0 + rng.integers(1, W + 1)] = 1
    elif kind == "blob":
        noise = _box_blur(rng.normal(size=(H, W)), int(rng.integers(1, 4)))
        mask = noise > rng.uniform(-0.2, 0.3)
    elif kind == "soft":
        disc = ((ys - cy) ** 2 + (xs - cx) ** 2 < radius**2).astype(np.float64)
        mask = _box_blur(disc, int(rng.integers(1, 4)))
    elif kind == "noise":
        mask = rng.uniform(size=(H, W))
    elif kind == "pixels":
        mask = np.zeros((H, W))
        count = int(rng.integers(1, 6))
        mask[rng.integers(0, H, count), rng.integers(0, W, count)] = 1
    else:
        raise ValueError(kind)
    return np.clip(np.asarray(mask, dtype=np.float64), 0, 1).astype(np.float32)


KINDS = ("disc", "ring", "rect", "blob", "soft", "noise", "pixels", "empty", "full")


def random_case(
    rng: np.random.Generator,
    max_batch: int = 2,
    max_candidates: int = 4,
    max_cells: int = 8,
    max_channels: int = 24,
    size: tuple[int, int] | None = None,
    scales: list[tuple[int, int]] | None = None,
) -> Case:
    """Random B, K, mask size and scales; the first candidates are an empty and a full mask.

    ``size`` fixes ``(H, W)`` and ``scales`` fixes the ``(channels, factor)`` of each map.
    """
    B = int(rng.integers(1, max_batch + 1))
    K = int(rng.integers(1, max_candidates + 1))
    H, W = 8 * int(rng.integers(2, max_cells + 1)), 8 * int(rng.integers(2, max_cells + 1))
    if size is not None:
        H, W = size
    kinds = list(rng.choice(KINDS, size=B * K))
    kinds[0] = "empty"
    if len(kinds) > 1:
        kinds[1] = "full"
    masks = np.stack([random_mask(rng, H, W, kind) for kind in kinds]).reshape(B, K, H, W)
    if scales is None:
        factors = rng.permutation([1, 2, 4, 8])[: int(rng.integers(1, 4))]
        scales = [(int(rng.integers(1, max_channels + 1)), int(f)) for f in factors]
    feats = [
        (rng.normal(size=(B, c, H // f, W // f)) * rng.uniform(0.1, 10)).astype(np.float32)
        for c, f in scales
    ]
    return Case(masks=masks, feats=feats)


def assert_pooled_close(actual: np.ndarray, case: Case, label: str) -> None:
    """Check pooled features against the float64 reference, element by element.

    The error of each pooled value is measured relative to the same pooling of ``|F|`` (the
    size of the terms the weighted sum adds up), so a mean near zero by cancellation is held to
    the precision its terms allow.
    """
    reference, _ = mask_pool_numpy(case.masks, case.feats)
    scale, _ = mask_pool_numpy(case.masks, [np.abs(f) for f in case.feats])
    assert actual.shape == reference.shape, label
    error = np.abs(actual.astype(np.float64) - reference) / (scale.astype(np.float64) + 1e-12)
    worst = np.unravel_index(np.argmax(error), error.shape)
    assert error.max() <= RTOL, (
        f"{label}: relative error {error.max():.3g} at {worst}: {actual[worst]} vs "
        f"{reference[worst]}"
    )


def assert_geometry_close(actual: np.ndarray, case: Case, label: str) -> None:
    """Check geometry against the float64 reference (relative 1e-5, absolute floor 1e-6)."""
    _, reference = mask_pool_numpy(case.masks, case.feats)
    np.testing.assert_allclose(actual, reference, rtol=RTOL, atol=GEOMETRY_ATOL, err_msg=label)


@pytest.fixture
def rng() -> np.random.Generator:
    seed = int(os.environ.get("MASKAUDIT_TEST_SEED", np.random.SeedSequence().entropy % 2**32))
    print(f"random seed: {seed} (rerun with MASKAUDIT_TEST_SEED={seed})")
    return np.random.default_rng(seed)


@pytest.fixture
def make_case() -> Callable[..., Case]:
    return random_case


@pytest.fixture
def check_pooled() -> Callable[[np.ndarray, Case, str], None]:
    return assert_pooled_close


@pytest.fixture
def check_geometry() -> Callable[[np.ndarray, Case, str], None]:
    return assert_geometry_close
