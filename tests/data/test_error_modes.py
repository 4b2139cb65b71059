import zlib
from collections import Counter

import cv2
import numpy as np
import pytest

from maskaudit.data.error_modes import RANK_BANDS, in_band, iou, make_candidate
from maskaudit.labels import ALLOWED_ACTIONS, action_for

H = W = 224


def disc(cx, cy, r):
    yy, xx = np.mgrid[0:H, 0:W]
    return (xx - cx) ** 2 + (yy - cy) ** 2 < r * r


def star(cx, cy, r):
    a = -np.pi / 2 + np.arange(10) * np.pi / 5
    rr = np.where(np.arange(10) % 2 == 0, r, 0.45 * r)
    pts = np.stack([cx + np.cos(a) * rr, cy + np.sin(a) * rr], 1).round().astype(np.int32)
    out = np.zeros((H, W), np.uint8)
    cv2.fillPoly(out, [pts], 1)
    return out.astype(bool)


SHAPES = {
    "disc": disc(110, 100, 30),
    "small_disc": disc(60, 60, 16),
    "star": star(120, 120, 45),
    "bar": np.zeros((H, W), bool)
    | (np.arange(W)[None, :] > 40)
    & (np.arange(W)[None, :] < 180)
    & (np.arange(H)[:, None] > 100)
    & (np.arange(H)[:, None] < 125),
}
OTHER = disc(190, 40, 20)


def test_iou_basics():
    a = disc(100, 100, 20)
    assert iou(a, a) == 1.0
    assert iou(a, np.zeros_like(a)) == 0.0
    assert iou(np.zeros_like(a), np.zeros_like(a)) == 1.0
    half = a.copy()
    half[:, 100:] = False
    assert iou(a, half) == pytest.approx(half.sum() / a.sum())


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("mask_type", ["cutout", "erode", "dilate"])
@pytest.mark.parametrize("rank", [1, 2])
def test_geometric_candidates_land_in_their_band(shape, mask_type, rank):
    gt = SHAPES[shape]
    rng = np.random.default_rng(zlib.crc32(f"{shape}{mask_type}{rank}".encode()))
    made = 0
    for _ in range(12):
        c = make_candidate(gt, [OTHER], mask_type, rank, rng)
        if c is None:
            continue
        made += 1
        assert in_band(c.iou, rank), (c.iou, RANK_BANDS[rank])
        assert c.iou == round(iou(gt, c.mask), 6)
        assert c.action == action_for(mask_type, c.iou)
        assert c.action in ALLOWED_ACTIONS[mask_type]
        assert c.rank == rank and c.mask_type == mask_type
        if mask_type == "dilate":
            assert (c.mask | gt).sum() == c.mask.sum()
        else:
            assert not (c.mask & ~gt).any()
    assert made >= 10


def test_targets_spread_over_the_band():
    gt = SHAPES["disc"]
    rng = np.random.default_rng(1)
    values = [make_candidate(gt, [], "erode", 2, rng).iou for _ in range(30)]
    assert min(values) < 0.55 and max(values) > 0.65


def test_variants_are_varied():
    gt = SHAPES["star"]
    rng = np.random.default_rng(2)
    cut = Counter(make_candidate(gt, [], "cutout", 2, rng).variant for _ in range(40))
    assert {"bite", "holes", "slice"} <= set(cut)
    morph = Counter(
        make_candidate(gt, [], "dilate", 1, rng).variant.split("+")[0] for _ in range(40)
    )
    assert {"l2", "chessboard", "l1", "anisotropic"} <= set(morph)


def test_tiny_object_gives_none_not_an_out_of_band_mask():
    gt = np.zeros((H, W), bool)
    gt[50:52, 50:52] = True
    rng = np.random.default_rng(0)
    results = [
        make_candidate(gt, [], t, r, rng) for t in ("cutout", "erode", "dilate") for r in (1, 2)
    ]
    for c in results:
        assert c is None or in_band(c.iou, c.rank)
    assert any(c is None for c in results)


def test_merge_prefers_the_object_overlapping_the_box():
    gt = disc(100, 100, 25)
    touching = disc(140, 100, 20) & ~gt
    far = disc(20, 200, 15)
    picks = Counter()
    rng = np.random.default_rng(0)
    for _ in range(50):
        c = make_candidate(gt, [far, touching], "merge", -1, rng)
        picks[c.variant] += 1
        assert c.iou == round(gt.sum() / (gt | c.mask).sum(), 6)
        assert c.action == action_for("merge", c.iou)
        assert (c.mask & gt).sum() == gt.sum()
    assert picks["object1"] > picks["object0"]


def test_merge_with_a_dominant_distractor_is_rejected():
    gt = disc(60, 60, 10)
    big = disc(150, 150, 50)
    c = make_candidate(gt, [big], "merge", -1, np.random.default_rng(0))
    assert c.iou < 0.5 and c.action == "reject"


def test_full_neg_null_and_perfect():
    gt = disc(100, 100, 25)
    rng = np.random.default_rng(0)
    f = make_candidate(gt, [OTHER], "full_neg", -1, rng)
    assert f.iou == 0.0 and f.action == "reject" and np.array_equal(f.mask, OTHER)
    n = make_candidate(gt, [OTHER], "null", -1, rng)
    assert n.iou == 0.0 and n.action == "reject" and not n.mask.any()
    p = make_candidate(gt, [OTHER], "perfect", 1, rng)
    assert p.iou == 1.0 and p.action == "accept" and p.rank == -1
    assert make_candidate(gt, [], "full_neg", -1, rng) is None
    assert make_candidate(gt, [OTHER, gt], "full_neg", -1, rng, distractor=1) is None


def test_bad_arguments():
    gt = disc(100, 100, 25)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown mask type"):
        make_candidate(gt, [], "blur", 1, rng)
    with pytest.raises(ValueError, match="rank"):
        make_candidate(gt, [], "erode", -1, rng)
    with pytest.raises(ValueError, match="empty"):
        make_candidate(np.zeros_like(gt), [], "erode", 1, rng)
