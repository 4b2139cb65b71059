from __future__ import annotations

import math

import pytest

from maskaudit.eval.answer import Answer
from maskaudit.eval.predictions import candidate_key
from maskaudit.eval.protocol import ROWS, coverage, kind_table, protocol_table, score, select


@pytest.fixture
def image_candidates(make_candidate):
    c = make_candidate
    return [
        c("u_a_1", 0, "perfect", "perfect", -1, 1.0, "accept"),
        c("u_a_1", 0, "erode_1_0", "erode", 1, 0.8, "minor revision"),
        c("u_a_1", 0, "erode_2_0", "erode", 2, 0.5, "major revision", kind=""),
        c("u_a_1", 0, "full_neg_0", "full_neg", -1, 0.0, "reject"),
        c("u_a_1", 0, "null_0", "null", -1, 0.0, "reject"),
        c("u_b_2", 3, "perfect", "perfect", -1, 1.0, "accept", kind="first"),
        c("u_b_2", 3, "cutout_1_0", "cutout", 1, 0.85, "minor revision", kind="first"),
        c("u_b_2", 3, "dilate_2_0", "dilate", 2, 0.55, "major revision", kind="first"),
        c("u_b_2", 3, "merge_0", "merge", -1, 0.45, "reject", kind="first"),
    ]


def test_rows_filter_by_type_and_rank(image_candidates):
    counts = {row.name: len(select(image_candidates, row)) for row in ROWS}
    assert counts == {
        "perfect": 2,
        "cutout-H": 1,
        "cutout-M": 0,
        "erode-H": 1,
        "erode-M": 1,
        "dilate-H": 0,
        "dilate-M": 1,
        "merge": 1,
        "full_neg": 1,
        "all": 8,
    }
    erode_h = select(image_candidates, ROWS[3])
    assert [c.mask_id for c in erode_h] == ["erode_1_0"]
    assert all(c.mask_type != "null" for c in select(image_candidates, ROWS[-1]))


def test_full_neg_and_merge_rows_keep_every_rank(make_candidate):
    cands = [
        make_candidate(mask_id="full_neg_0", mask_type="full_neg", rank=1, iou=0.0),
        make_candidate(mask_id="full_neg_1", mask_type="full_neg", rank=2, iou=0.0),
    ]
    assert len(select(cands, ROWS[8])) == 2


def test_table_scores_each_row_on_its_subset(image_candidates):
    by_id = {c.mask_id + str(c.frame): c for c in image_candidates}
    answers = {
        candidate_key(by_id["perfect0"]): Answer(0.9, "perfect", "accept"),
        # u_b_2's perfect has no prediction: IoU 0.0, type and action unparsed
        candidate_key(by_id["erode_1_00"]): Answer(0.7, "dilate", "minor revision"),
        candidate_key(by_id["full_neg_00"]): Answer(0.1, "full_neg", "reject"),
    }
    table = protocol_table(image_candidates, answers, "image")
    assert list(table) == [row.name for row in ROWS]

    perfect = table["perfect"]
    assert (perfect.n, perfect.unparsed_iou, perfect.unparsed_type) == (2, 1, 1)
    assert perfect.rmse == pytest.approx(math.sqrt((0.01 + 1.0) / 2))
    assert perfect.mae == pytest.approx(0.55)
    # perfect: P = 1, R = 1/2 -> F2 = 5 * 0.5 / 4.5
    assert perfect.type_f2 == pytest.approx(2.5 / 4.5)

    erode_h = table["erode-H"]
    assert erode_h.rmse == pytest.approx(0.1)
    assert erode_h.type_f2 == 0.0  # erode missed, dilate predicted (F2 0), image rule
    assert erode_h.action_f2 == 1.0

    full_neg = table["full_neg"]
    assert (full_neg.type_f2, full_neg.action_f2) == (1.0, 1.0)
    assert math.isnan(full_neg.auroc)  # only failures: AUROC undefined

    assert table["cutout-M"].n == 0 and math.isnan(table["cutout-M"].rmse)
    assert table["all"].n == 8 and table["all"].unparsed_iou == 5


def test_video_rows_group_per_uid_and_all_per_candidate_setting(make_candidate):
    c = make_candidate
    cands = [
        c("u_a_1", 0, "perfect", "perfect", -1, 1.0, "accept"),
        c("u_a_1", 1, "perfect", "perfect", -1, 1.0, "accept"),
        c("u_a_1", 0, "erode_1_0", "erode", 1, 0.7, "minor revision"),
        c("u_a_1", 1, "erode_1_0", "erode", 1, 0.9, "minor revision"),
    ]
    answers = {
        candidate_key(cands[0]): Answer(0.8, "perfect", "accept"),
        candidate_key(cands[1]): Answer(1.0, "perfect", "accept"),
        candidate_key(cands[2]): Answer(0.6, "erode", "minor revision"),
        candidate_key(cands[3]): Answer(None, "erode", "minor revision"),
    }
    table = protocol_table(cands, answers, "video")
    assert table["perfect"].groups == 1
    assert table["perfect"].rmse == pytest.approx(0.1)  # mean 0.9 vs 1.0
    assert table["erode-H"].rmse == pytest.approx(0.2)  # 0.6 (None skipped) vs mean 0.8
    # all: groups (uid, perfect) and (uid, erode, 1), not one uid-wide average
    assert table["all"].groups == 2
    assert table["all"].rmse == pytest.approx(math.sqrt((0.01 + 0.04) / 2))
    assert score(cands, answers, "video", per_uid=True).rmse == pytest.approx(0.1)


def test_kind_table_breaks_down_every_scored_candidate(image_candidates):
    kinds = kind_table(image_candidates, {}, "image")
    assert list(kinds) == ["first", "loudest", "unknown"]
    assert {k: s.n for k, s in kinds.items()} == {"first": 4, "loudest": 3, "unknown": 1}


def test_coverage_counts_matches_and_strays(image_candidates):
    answers = {
        candidate_key(image_candidates[0]): Answer(),
        candidate_key(image_candidates[4]): Answer(),  # the null candidate: not scored
        ("elsewhere", 0, "perfect"): Answer(),
    }
    assert coverage(image_candidates, answers) == (1, 1)
