"""Hand-made features of a candidate mask and its frame, for the geometry baseline.

They describe the mask's shape (area, components, holes, compactness, solidity, box fill) and
how well its boundary follows the frame's edges and colours (gradient on the boundary against
nearby, colour contrast across it). Nothing here sees the audio or the expression.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from maskaudit.errors import DataError

WORK_SIZE = 256
"""Frames and masks whose longer side exceeds this are downscaled to it before measuring."""

FEATURE_NAMES: tuple[str, ...] = (
    "empty",
    "area",
    "sqrt_area",
    "log_components",
    "largest_component_share",
    "log_holes",
    "hole_share",
    "compactness",
    "solidity",
    "box_fill",
    "box_log_aspect",
    "box_area",
    "border_share",
    "boundary_gradient",
    "boundary_vs_near_gradient",
    "inside_gradient",
    "colour_contrast",
    "inside_colour_std",
)
"""Names of the features ``mask_features`` returns, in order."""

_KERNEL3 = np.ones((3, 3), np.uint8)
_KERNEL7 = np.ones((7, 7), np.uint8)


def read_mask(path: str | Path) -> np.ndarray:
    """Read a mask image as a boolean array (any non-background value is foreground).

    Args:
        path: A PNG (or any image OpenCV reads) with 0 as background.

    Returns:
        Boolean array (H, W).

    Raises:
        DataError: If the file cannot be read as an image.
    """
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise DataError(f"cannot read mask {path}: check the benchmark folder is complete")
    return image > (127 if image.max() > 1 else 0)


def read_frame(path: str | Path) -> np.ndarray:
    """Read a frame as a BGR uint8 array.

    Args:
        path: A JPEG or PNG frame.

    Returns:
        Array (H, W, 3).

    Raises:
        DataError: If the file cannot be read as an image.
    """
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DataError(f"cannot read frame {path}: check the benchmark folder is complete")
    return image


class FrameMaps:
    """Per-frame maps the features share: edge strength and Lab colour, at working size.

    Args:
        frame: BGR uint8 frame (H, W, 3).
    """

    def __init__(self, frame: np.ndarray) -> None:
        height, width = frame.shape[:2]
        factor = min(1.0, WORK_SIZE / max(height, width))
        if factor < 1.0:
            size = (max(1, round(width * factor)), max(1, round(height * factor)))
            frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32)
        gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
        magnitude = np.sqrt(gx * gx + gy * gy)
        self.gradient = magnitude / (float(magnitude.mean()) + 1e-6)
        self.lab = cv2.cvtColor(frame, cv2.COLOR_BGR2LAB).astype(np.float32)
        self.shape = gray.shape

    def fit_mask(self, mask: np.ndarray) -> np.ndarray:
        """Return ``mask`` resized (area-weighted, then thresholded at 0.5) to the maps' size.

        Args:
            mask: Boolean mask of any size.

        Returns:
            Boolean mask of ``self.shape``.
        """
        if mask.shape == self.shape:
            return mask
        resized = cv2.resize(
            mask.astype(np.float32), (self.shape[1], self.shape[0]), interpolation=cv2.INTER_AREA
        )
        return resized >= 0.5


def _mean(values: np.ndarray, where: np.ndarray) -> float:
    return float(values[where].mean()) if where.any() else 0.0


def _shape_features(mask: np.ndarray) -> list[float]:
    height, width = mask.shape
    pixels = float(height * width)
    area = float(mask.sum())
    m8 = mask.astype(np.uint8)

    n_labels, _, stats, _ = cv2.connectedComponentsWithStats(m8, connectivity=8)
    comp_areas = stats[1:, cv2.CC_STAT_AREA].astype(np.float64)

    n_bg, bg_labels, bg_stats, _ = cv2.connectedComponentsWithStats(1 - m8, connectivity=4)
    border_labels = set(
        np.unique(
            np.concatenate([bg_labels[0], bg_labels[-1], bg_labels[:, 0], bg_labels[:, -1]])
        ).tolist()
    )
    holes = [i for i in range(1, n_bg) if i not in border_labels]
    hole_area = float(sum(bg_stats[i, cv2.CC_STAT_AREA] for i in holes))

    contours, _ = cv2.findContours(m8, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    points = np.vstack(contours)
    hull_area = float(cv2.contourArea(cv2.convexHull(points)))
    x, y, w, h = cv2.boundingRect(points)

    edge_pixels = np.concatenate([mask[0], mask[-1], mask[:, 0], mask[:, -1]])
    return [
        area / pixels,
        math.sqrt(area / pixels),
        math.log1p(n_labels - 1),
        float(comp_areas.max() / area),
        math.log1p(len(holes)),
        hole_area / (area + hole_area),
        min(1.5, 4.0 * math.pi * area / max(perimeter, 1.0) ** 2),
        min(1.0, area / hull_area) if hull_area > 0 else 1.0,
        area / float(w * h),
        math.log(w / h),
        float(w * h) / pixels,
        float(edge_pixels.mean()),
    ]


def _boundary_features(mask: np.ndarray, maps: FrameMaps) -> list[float]:
    m8 = mask.astype(np.uint8)
    inner = cv2.erode(m8, _KERNEL3).astype(bool)
    boundary = mask & ~inner
    outer_near = cv2.dilate(m8, _KERNEL7).astype(bool) & ~cv2.dilate(m8, _KERNEL3).astype(bool)
    inner_near = inner & ~cv2.erode(m8, _KERNEL7).astype(bool)
    near = outer_near | inner_near

    on_boundary = _mean(maps.gradient, boundary)
    nearby = _mean(maps.gradient, near)
    inside_lab = maps.lab[mask]
    outside_lab = maps.lab[outer_near]
    contrast = (
        float(np.linalg.norm(inside_lab.mean(axis=0) - outside_lab.mean(axis=0))) / 100.0
        if outside_lab.size
        else 0.0
    )
    return [
        on_boundary,
        math.log((on_boundary + 0.05) / (nearby + 0.05)),
        _mean(maps.gradient, mask),
        contrast,
        float(inside_lab.std(axis=0).mean()) / 100.0,
    ]


def mask_features(mask: np.ndarray, maps: FrameMaps) -> np.ndarray:
    """Return the features of one mask on its frame, in ``FEATURE_NAMES`` order.

    An empty mask gets ``empty`` = 1 and every other feature 0.

    Args:
        mask: Boolean mask; resized to the frame maps if its size differs.
        maps: The frame's ``FrameMaps``.

    Returns:
        float64 array of ``len(FEATURE_NAMES)`` values.
    """
    mask = maps.fit_mask(mask)
    if not mask.any():
        out = np.zeros(len(FEATURE_NAMES))
        out[0] = 1.0
        return out
    values = [0.0] + _shape_features(mask) + _boundary_features(mask, maps)
    return np.array(values, dtype=np.float64)
