from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from maskaudit.eval import metrics

# --- IoU regression -------------------------------------------------------------------------


def test_image_rmse_counts_unparsed_as_zero():
    # diffs 0, -1 (unparsed -> 0.0 vs 1.0), 0.3 -> sqrt((0 + 1 + 0.09) / 3)
    pred, true = [0.5, None, 0.9], [0.5, 1.0, 0.6]
    assert metrics.iou_rmse(pred, true, "image") == pytest.approx(0.6027713, abs=1e-6)
    assert metrics.iou_mae(pred, true, "image") == pytest.approx(1.3 / 3)


def test_video_rmse_averages_per_uid_before_the_rmse():
    groups = ["a", "a", "b", "b", "c"]
    pred = [0.4, None, 0.8, 0.6, None]
    true = [0.5, 0.7, 0.9, 0.9, 0.3]
    # a: pred 0.4 (None skipped) vs true 0.6; b: 0.7 vs 0.9; c: no prediction -> 0.0 vs 0.3
    pair_pred, pair_true = metrics.iou_pairs(pred, true, "video", groups)
    assert pair_pred.tolist() == pytest.approx([0.4, 0.7, 0.0])
    assert pair_true.tolist() == pytest.approx([0.6, 0.9, 0.3])
    assert metrics.iou_rmse(pred, true, "video", groups) == pytest.approx(math.sqrt(0.17 / 3))
    assert metrics.iou_mae(pred, true, "video", groups) == pytest.approx(0.7 / 3)


def test_video_rmse_differs_from_image_rmse_on_the_same_items():
    groups = ["a", "a"]
    pred, true = [0.2, 0.8], [0.8, 0.2]
    assert metrics.iou_rmse(pred, true, "video", groups) == pytest.approx(0.0)
    assert metrics.iou_rmse(pred, true, "image") == pytest.approx(0.6)


def test_iou_metrics_edge_cases():
    assert math.isnan(metrics.iou_rmse([], [], "image"))
    assert math.isnan(metrics.mae([], []))
    with pytest.raises(ValueError, match="group key"):
        metrics.iou_pairs([0.1], [0.2], "video")
    with pytest.raises(ValueError, match="mode"):
        metrics.iou_pairs([0.1], [0.2], "clip")
    with pytest.raises(ValueError, match="length"):
        metrics.iou_rmse([0.1, 0.2], [0.2], "image")


# --- classification ---------------------------------------------------------------------------

TRUE = ["erode", "erode", "erode", "dilate", "dilate", "perfect"]
PRED = ["erode", "dilate", None, "dilate", "cutoff", "merge"]


def test_per_class_scores_by_hand():
    report = metrics.type_report(TRUE, PRED, "image")
    erode, dilate = report.per_class["erode"], report.per_class["dilate"]
    assert (erode.support, erode.predicted, erode.tp) == (3, 1, 1)
    assert erode.precision == 1.0 and erode.recall == pytest.approx(1 / 3)
    assert erode.fbeta == pytest.approx(5 / 13)  # 5 * 1 * 1/3 / (4 + 1/3)
    assert (dilate.precision, dilate.recall, dilate.fbeta) == pytest.approx((0.5, 0.5, 0.5))
    # A class with ground truth but no prediction: precision 0, not undefined.
    perfect = report.per_class["perfect"]
    assert (perfect.predicted, perfect.precision, perfect.recall, perfect.fbeta) == (0, 0, 0, 0)
    # Predicted but absent from the ground truth: precision 0, recall undefined, F2 0.
    merge = report.per_class["merge"]
    assert merge.precision == 0.0 and math.isnan(merge.recall) and merge.fbeta == 0.0
    # Neither: nothing defined.
    cutout = report.per_class["cutout"]
    assert math.isnan(cutout.precision) and math.isnan(cutout.fbeta)
    assert report.n_unparsed == 1 and report.n_unlisted == 1


def test_image_mode_averages_over_classes_with_any_defined_metric():
    report = metrics.type_report(TRUE, PRED, "image")
    assert report.averaged == ("perfect", "erode", "dilate", "merge")
    assert report.macro_fbeta == pytest.approx((5 / 13 + 0.5 + 0 + 0) / 4)
    assert report.macro_precision == pytest.approx((1 + 0.5 + 0 + 0) / 4)
    assert report.macro_recall == pytest.approx((1 / 3 + 0.5 + 0) / 3)


def test_video_mode_averages_over_ground_truth_classes():
    report = metrics.type_report(TRUE, PRED, "video")
    assert report.averaged == ("perfect", "erode", "dilate")
    assert report.macro_fbeta == pytest.approx((5 / 13 + 0.5 + 0) / 3)
    assert report.macro_precision == pytest.approx(0.5)


def test_micro_f1_counts_parse_failures_as_missed_only():
    report = metrics.type_report(TRUE, PRED, "image")
    # tp 2; predictions of listed classes 4 (None and "cutoff" are no class); support 6
    assert report.micro_precision == pytest.approx(0.5)
    assert report.micro_recall == pytest.approx(1 / 3)
    assert report.micro_f1 == pytest.approx(0.4)


def test_cutoff_and_parse_failure_are_both_misses_of_cutout():
    true = ["cutout", "cutout"]
    hit = metrics.type_report(true, ["cutout", "cutout"], "image")
    cutoff = metrics.type_report(true, ["cutoff", "cutout"], "image")
    failed = metrics.type_report(true, [None, "cutout"], "image")
    assert hit.macro_fbeta == 1.0
    assert cutoff.per_class["cutout"].recall == 0.5
    assert cutoff.macro_fbeta == pytest.approx(failed.macro_fbeta)
    assert (cutoff.n_unparsed, cutoff.n_unlisted) == (0, 1)
    assert (failed.n_unparsed, failed.n_unlisted) == (1, 0)


def test_single_type_subset_follows_the_averaging_rule_of_each_mode():
    true = ["erode"] * 4
    pred = ["erode", "erode", "dilate", None]
    erode_f2 = 5 * 0.5 / (4 + 0.5)  # precision 2/2, recall 2/4
    image = metrics.type_report(true, pred, "image")
    video = metrics.type_report(true, pred, "video")
    assert image.macro_fbeta == pytest.approx(erode_f2 / 2)  # dilate enters with F2 0
    assert video.macro_fbeta == pytest.approx(erode_f2)


def test_action_classes_are_those_present_in_the_ground_truth():
    true = ["accept", "minor revision", "minor revision", "reject"]
    pred = ["accept", "major revision", None, "minor revision"]
    report = metrics.action_report(true, pred, "image")
    assert tuple(report.per_class) == ("accept", "minor revision", "reject")
    assert report.averaged == ("accept", "minor revision", "reject")
    assert report.macro_fbeta == pytest.approx(1 / 3)
    # "major revision" is no class here: a false positive of nothing.
    assert report.micro_precision == pytest.approx(0.5)
    assert report.micro_f1 == pytest.approx(2 * 0.5 * 0.25 / 0.75)


def test_empty_classification_is_undefined():
    report = metrics.type_report([], [], "image")
    assert math.isnan(report.macro_fbeta) and math.isnan(report.micro_f1)
    assert report.averaged == ()


def test_fbeta_weights_recall():
    assert metrics.fbeta_score(0.5, 1.0) == pytest.approx(5 * 0.5 / 3)
    assert metrics.fbeta_score(1.0, 0.5) == pytest.approx(2.5 / 4.5)
    assert metrics.fbeta_score(0.0, 0.0) == 0.0
    assert metrics.fbeta_score(0.5, 1.0, beta=1.0) == pytest.approx(2 / 3)


# --- quality-control extras --------------------------------------------------------------------


def test_correlations_by_hand():
    assert metrics.spearman([0.1, 0.4, 0.35, 0.8], [0.2, 0.5, 0.6, 0.9]) == pytest.approx(0.8)
    assert metrics.pearson([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    assert metrics.average_ranks([0.3, 0.1, 0.3, 0.3]).tolist() == [3.0, 1.0, 3.0, 3.0]


def test_correlations_degenerate_cases_are_nan():
    assert math.isnan(metrics.pearson([0.5, 0.5, 0.5], [0.1, 0.2, 0.3]))
    assert math.isnan(metrics.spearman([0.1], [0.2]))
    assert math.isnan(metrics.spearman([0.1, 0.2], [0.7, 0.7]))


def test_correlations_match_scipy_with_ties():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, 60) / 4
    y = x + rng.normal(0, 0.3, 60)
    assert metrics.spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)
    assert metrics.pearson(x, y) == pytest.approx(stats.pearsonr(x, y).statistic)


def test_auroc_by_hand():
    assert metrics.auroc([1, 1, 0, 0], [0.9, 0.4, 0.6, 0.1]) == pytest.approx(0.75)
    assert metrics.auroc([1, 1, 0, 0], [0.5, 0.3, 0.5, 0.1]) == pytest.approx(0.625)  # tie = 1/2
    assert math.isnan(metrics.auroc([1, 1], [0.2, 0.3]))


def test_auroc_matches_mann_whitney():
    rng = np.random.default_rng(1)
    labels = rng.random(80) < 0.3
    scores = np.round(rng.random(80) + labels * 0.3, 1)
    u = stats.mannwhitneyu(scores[labels], scores[~labels]).statistic
    assert metrics.auroc(labels, scores) == pytest.approx(u / (labels.sum() * (~labels).sum()))


def test_failure_auroc_scores_one_minus_predicted_iou():
    # failures (true < 0.5): items 1, 2; the unparsed item 1 counts as predicted IoU 0.
    pred, true = [0.9, None, 0.3, 0.7], [0.95, 0.2, 0.4, 0.6]
    assert metrics.failure_auroc(pred, true) == pytest.approx(1.0)
    assert metrics.failure_auroc([0.1, 0.9], [0.95, 0.2]) == pytest.approx(0.0)
    assert math.isnan(metrics.failure_auroc([0.3, 0.4], [0.9, 0.8]))


def test_aurc_by_hand():
    pred, true = [0.9, 0.8, 0.7, 0.6], [0.95, 0.3, 0.8, 0.2]
    # failure risks in acceptance order 0, 1, 0, 1 -> mean(0, 1/2, 1/3, 2/4)
    assert metrics.aurc(pred, true) == pytest.approx((0 + 0.5 + 1 / 3 + 0.5) / 4)
    # absolute errors 0.05, 0.5, 0.1, 0.4 -> running means 0.05, 0.275, 0.65/3, 0.2625
    expected = (0.05 + 0.275 + 0.65 / 3 + 0.2625) / 4
    assert metrics.aurc(pred, true, risk="error") == pytest.approx(expected)


def test_aurc_ties_do_not_depend_on_order():
    assert metrics.aurc([0.5, 0.5], [0.9, 0.1]) == pytest.approx(0.5)
    assert metrics.aurc([0.5, 0.5], [0.1, 0.9]) == pytest.approx(0.5)
    # a perfect ranking beats the reverse one
    assert metrics.aurc([0.9, 0.1], [0.9, 0.1]) < metrics.aurc([0.1, 0.9], [0.9, 0.1])


def test_aurc_edge_cases():
    assert math.isnan(metrics.aurc([], []))
    with pytest.raises(ValueError, match="risk"):
        metrics.aurc([0.1], [0.2], risk="loss")
