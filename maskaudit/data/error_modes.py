"""Candidate masks of every error type, made from a ground-truth mask and the scene's others.

Geometric errors (cutout, erode, dilate) hit their rank's IoU band by search: a target IoU is
drawn uniformly in the band, then the error's strength parameter (bite radius, hole radius, cut
position, erosion/dilation distance) is bisected until the candidate's IoU is as close to the
target as the pixels allow. The IoU stored with a candidate is always recomputed from its final
pixels, and a candidate whose IoU misses its band is never returned (``None`` instead, which a
caller skips). Erosion and dilation are distance thresholds under different metrics, which is
morphology with a round (L2), square (chessboard), cross/diamond (L1) or stretched round
(anisotropic) structuring element of continuous size, optionally with a jittered boundary.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from maskaudit.labels import GEOMETRIC_TYPES, TRAIN_TYPES, action_for

RANK_BANDS: dict[int, tuple[float, float]] = {1: (0.75, 0.90), 2: (0.45, 0.75)}
"""IoU band per rank of the geometric types: rank 1 (Hard) is [0.75, 0.90], rank 2 (Medium)
is [0.45, 0.75) (upper bound excluded)."""

IOU_DECIMALS = 6
"""Stored IoUs are rounded to this many decimals; bands are checked on the rounded value."""

_BISECT_STEPS = 18


@dataclass(frozen=True)
class MaskCandidate:
    """A generated candidate mask with its labels.

    Attributes:
        mask: Bool mask, HxW.
        mask_type: One of ``maskaudit.labels.TRAIN_TYPES``.
        iou: IoU with the ground truth, from the final pixels, rounded to ``IOU_DECIMALS``.
        action: The rule's action for ``mask_type`` and ``iou``.
        rank: 1 or 2 for geometric types, -1 otherwise.
        variant: How it was made (e.g. ``bite``, ``l2``), for inspection.
    """

    mask: np.ndarray
    mask_type: str
    iou: float
    action: str
    rank: int
    variant: str


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two masks.

    Args:
        a: Bool (or 0/nonzero) mask.
        b: Mask of the same shape.

    Returns:
        |a & b| / |a | b|; 1.0 when both are empty (they agree exactly).
    """
    a = np.asarray(a, dtype=bool)
    b = np.asarray(b, dtype=bool)
    union = int(np.count_nonzero(a | b))
    if union == 0:
        return 1.0
    return int(np.count_nonzero(a & b)) / union


def in_band(value: float, rank: int) -> bool:
    """True if ``value`` lies in the IoU band of ``rank`` (see ``RANK_BANDS``)."""
    low, high = RANK_BANDS[rank]
    return low <= value <= high if rank == 1 else low <= value < high


def _search(
    gt: np.ndarray,
    build: Callable[[float], np.ndarray],
    low: float,
    high: float,
    target: float,
    rank: int,
) -> np.ndarray | None:
    """Bisect ``build``'s parameter in [low, high] for a mask whose IoU is nearest ``target``.

    ``build(p)`` must make IoU fall as ``p`` grows. Returns the in-band mask seen nearest the
    target, or None if no step landed in the band of ``rank``.
    """
    best, best_gap = None, float("inf")
    for _ in range(_BISECT_STEPS):
        mid = 0.5 * (low + high)
        mask = build(mid)
        value = iou(gt, mask)
        gap = abs(value - target)
        if mask.any() and gap < best_gap and in_band(round(value, IOU_DECIMALS), rank):
            best, best_gap = mask, gap
        if value > target:
            low = mid
        else:
            high = mid
        if gap < 1e-3:
            break
    return best


def _smooth_noise(shape: tuple[int, int], rng: np.random.Generator, cells: int = 6) -> np.ndarray:
    """Low-frequency noise in about [-1, 1] (a coarse random grid, cubically upsampled)."""
    grid = rng.uniform(-1.0, 1.0, size=(cells, cells)).astype(np.float32)
    return cv2.resize(grid, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def _distance(mask: np.ndarray, metric: str, stretch: float) -> np.ndarray:
    """Distance of every pixel inside ``mask`` to the nearest pixel outside it."""
    src = mask.astype(np.uint8)
    if metric == "anisotropic":
        h, w = src.shape
        wide = cv2.resize(src, (max(1, round(w * stretch)), h), interpolation=cv2.INTER_NEAREST)
        dist = cv2.distanceTransform(wide, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        return cv2.resize(dist, (w, h), interpolation=cv2.INTER_LINEAR) / stretch
    kind = {"l2": cv2.DIST_L2, "l1": cv2.DIST_L1, "chessboard": cv2.DIST_C}[metric]
    size = cv2.DIST_MASK_PRECISE if metric == "l2" else 3
    return cv2.distanceTransform(src, kind, size)


def _morph_builder(
    gt: np.ndarray, grow: bool, rng: np.random.Generator
) -> tuple[Callable[[float], np.ndarray], float, str]:
    """Return (build(distance), largest useful distance, variant) for erosion or dilation."""
    metric = str(rng.choice(["l2", "l2", "chessboard", "l1", "anisotropic"]))
    stretch = float(rng.uniform(1.8, 3.0)) if rng.random() < 0.5 else float(rng.uniform(0.33, 0.55))
    jitter = (
        _smooth_noise(gt.shape, rng) * float(rng.uniform(0.5, 2.5)) if rng.random() < 0.4 else 0
    )
    variant = metric + ("+noise" if isinstance(jitter, np.ndarray) else "")
    if grow:
        dist = _distance(~gt, metric, stretch) + jitter
        limit = float(max(gt.shape))

        def build(d: float) -> np.ndarray:
            return gt | (dist <= d)

    else:
        dist = _distance(gt, metric, stretch) + jitter
        limit = float(max(1.0, np.max(dist)))

        def build(d: float) -> np.ndarray:
            return gt & (dist > d)

    return build, limit, variant


def _boundary_points(gt: np.ndarray) -> np.ndarray:
    """(y, x) of the mask's boundary pixels."""
    eroded = cv2.erode(gt.astype(np.uint8), np.ones((3, 3), np.uint8))
    return np.argwhere(gt & (eroded == 0))


def _cutout_builder(
    gt: np.ndarray, rng: np.random.Generator
) -> tuple[Callable[[float], np.ndarray], float, str]:
    """Return (build(strength), largest strength, variant) for one way of cutting out a part."""
    h, w = gt.shape
    ys, xs = np.nonzero(gt)
    size = float(np.hypot(np.ptp(ys) + 1, np.ptp(xs) + 1))
    variant = str(rng.choice(["bite", "bite", "holes", "slice"]))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)

    if variant == "slice":
        angle = rng.uniform(0, 2 * np.pi)
        proj = (xx - xs.mean()) * np.cos(angle) + (yy - ys.mean()) * np.sin(angle)
        top = float(proj[gt].max())
        span = top - float(proj[gt].min())
        wobble = _smooth_noise(gt.shape, rng, cells=4) * (0.04 * span)

        def build(p: float) -> np.ndarray:
            return gt & (proj + wobble < top - p)

        return build, span, variant

    if variant == "bite":
        points = _boundary_points(gt)
        count = int(rng.integers(1, 3))
    else:
        dist = cv2.distanceTransform(gt.astype(np.uint8), cv2.DIST_L2, 3)
        points = np.argwhere(dist >= max(1.0, 0.3 * float(dist.max())))
        count = int(rng.integers(1, 4))
    if len(points) == 0:
        points = np.argwhere(gt)
    centres = points[rng.choice(len(points), size=min(count, len(points)), replace=False)]
    aspect = rng.uniform(0.6 if variant == "bite" else 0.5, 1.0, size=len(centres))
    angles = rng.uniform(0, np.pi, size=len(centres))
    shapes = []
    for (cy, cx), a, t in zip(centres, aspect, angles, strict=True):
        dx, dy = xx - cx, yy - cy
        u = dx * np.cos(t) + dy * np.sin(t)
        v = (-dx * np.sin(t) + dy * np.cos(t)) / a
        shapes.append(np.hypot(u, v))
    radius = np.minimum.reduce(shapes)

    def build(r: float) -> np.ndarray:
        return gt & (radius > r)

    return build, size, variant


def _nearest_first(gt: np.ndarray, others: Sequence[np.ndarray]) -> list[int]:
    """Indices of non-empty ``others``: boxes overlapping the target's first, then by distance."""

    def box(m: np.ndarray) -> tuple[int, int, int, int]:
        ys, xs = np.nonzero(m)
        return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())

    gx0, gy0, gx1, gy1 = box(gt)
    gc = np.array([(gx0 + gx1) / 2, (gy0 + gy1) / 2])
    order = []
    for i, other in enumerate(others):
        if not np.any(other):
            continue
        x0, y0, x1, y1 = box(other)
        overlap = x0 <= gx1 and gx0 <= x1 and y0 <= gy1 and gy0 <= y1
        dist = float(np.hypot(*(np.array([(x0 + x1) / 2, (y0 + y1) / 2]) - gc)))
        order.append((not overlap, dist, i))
    return [i for _, _, i in sorted(order)]


def _pick(order: list[int], rng: np.random.Generator) -> int:
    """Pick from a preference order: the first with probability 0.6, else any other."""
    if len(order) == 1 or rng.random() < 0.6:
        return order[0]
    return order[int(rng.integers(1, len(order)))]


def _finish(mask: np.ndarray, gt: np.ndarray, mask_type: str, rank: int, variant: str):
    """Label a finished mask; None if a geometric candidate misses its band."""
    value = round(iou(gt, mask), IOU_DECIMALS)
    if mask_type in GEOMETRIC_TYPES and not in_band(value, rank):
        return None
    return MaskCandidate(mask, mask_type, value, action_for(mask_type, value), rank, variant)


def make_candidate(
    gt: np.ndarray,
    others: Sequence[np.ndarray],
    mask_type: str,
    rank: int,
    rng: np.random.Generator,
    distractor: int | None = None,
) -> MaskCandidate | None:
    """Make one candidate mask of a given type (and rank) from the ground truth.

    Args:
        gt: Ground-truth mask, bool HxW, non-empty.
        others: The other objects' masks in the scene, most plausible distractor first (e.g.
            nearest, same category or sounding); used by ``merge`` and ``full_neg``.
        mask_type: One of ``maskaudit.labels.TRAIN_TYPES``.
        rank: 1 (Hard) or 2 (Medium) for cutout, erode and dilate; ignored (stored as -1)
            for the other types.
        rng: Random generator; the result depends only on it and the inputs.
        distractor: Index into ``others`` to use for ``merge``/``full_neg``. Defaults to None:
            ``merge`` prefers an object whose box overlaps the target's, then the nearest;
            ``full_neg`` prefers ``others[0]``.

    Returns:
        The candidate, or None when it cannot be made within its band (a tiny object, or no
        other object for merge / full_neg).

    Raises:
        ValueError: On an unknown type, a geometric type without rank 1 or 2, or an empty gt.
    """
    gt = np.asarray(gt, dtype=bool)
    if mask_type not in TRAIN_TYPES:
        raise ValueError(f"unknown mask type {mask_type!r}; expected one of {TRAIN_TYPES}")
    if not gt.any():
        raise ValueError("the ground-truth mask is empty")
    if mask_type in GEOMETRIC_TYPES and rank not in RANK_BANDS:
        raise ValueError(f"{mask_type} needs rank 1 or 2, got {rank!r}")

    if mask_type == "perfect":
        return _finish(gt.copy(), gt, "perfect", -1, "gt")
    if mask_type == "null":
        return _finish(np.zeros_like(gt), gt, "null", -1, "empty")
    if mask_type in ("merge", "full_neg"):
        others = [np.asarray(o, dtype=bool) & ~gt for o in others]
        if distractor is None:
            usable = [i for i, o in enumerate(others) if o.any()]
            if not usable:
                return None
            order = _nearest_first(gt, others) if mask_type == "merge" else usable
            distractor = _pick(order, rng)
        if not others[distractor].any():
            return None
        mask = gt | others[distractor] if mask_type == "merge" else others[distractor].copy()
        return _finish(mask, gt, mask_type, -1, f"object{distractor}")

    low, high = RANK_BANDS[rank]
    target = float(rng.uniform(low + 0.005, high - 0.005))
    if mask_type == "cutout":
        build, limit, variant = _cutout_builder(gt, rng)
    else:
        build, limit, variant = _morph_builder(gt, mask_type == "dilate", rng)
    mask = _search(gt, build, 0.0, limit, target, rank)
    if mask is None:
        return None
    return _finish(mask, gt, mask_type, rank, variant)
