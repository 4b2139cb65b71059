from __future__ import annotations

import doctest
import math

import numpy as np
import pytest

from maskaudit.eval.metrics import aurc
from maskaudit.report import numbers
from maskaudit.report.numbers import (
    OTHER,
    confusion_counts,
    draw_groups,
    even_indices,
    latency_percentiles,
    reliability_bins,
    risk_coverage,
    row_normalise,
)


def test_docstring_examples_run():
    result = doctest.testmod(numbers)
    assert result.attempted >= 5 and result.failed == 0


@pytest.mark.parametrize(("total", "count"), [(10, 3), (7, 7), (100, 1), (9, 20), (1000, 333)])
def test_even_indices_are_distinct_sorted_and_spread(total, count):
    picked = even_indices(total, count)
    assert len(picked) == min(total, count)
    assert picked[0] == 0 and picked[-1] < total
    assert np.all(np.diff(picked) >= 1)
    gaps = np.diff(np.append(picked, total))
    assert gaps.max() - gaps.min() <= 1


def test_even_indices_of_nothing():
    assert even_indices(0, 5).size == 0
    assert even_indices(5, 0).size == 0


def test_draw_groups_keeps_everything_without_a_limit():
    assert draw_groups([3, 1, 2], None) == [0, 1, 2]
    assert draw_groups([3, 1, 2], 6) == [0, 1, 2]


def test_draw_groups_respects_the_limit_and_spreads():
    sizes = [10] * 90
    picked = draw_groups(sizes, 300)
    assert picked == list(range(0, 90, 3))
    assert sum(sizes[i] for i in picked) == 300


def test_draw_groups_with_uneven_sizes_stays_under_the_limit():
    sizes = [1, 9, 1, 9, 1, 9, 1, 9]
    picked = draw_groups(sizes, 12)
    assert sum(sizes[i] for i in picked) <= 12
    assert picked and picked == sorted(set(picked))


def test_draw_groups_smaller_than_any_group_gives_nothing():
    assert draw_groups([5, 5], 3) == []


def test_reliability_bins_by_hand():
    pred = [0.05, 0.15, 0.12, 0.95, 1.0, None]
    true = [0.2, 0.4, 0.6, 0.9, 0.7, 0.0]
    bins = reliability_bins(pred, true, bins=10)
    assert len(bins) == 10
    assert [b.n for b in bins] == [2, 2, 0, 0, 0, 0, 0, 0, 0, 2]
    # bin 0: 0.05 and the unparsed prediction (counted as 0)
    assert bins[0].mean_pred == pytest.approx(0.025)
    assert bins[0].mean_true == pytest.approx(0.1)
    assert bins[1].mean_pred == pytest.approx(0.135)
    assert bins[1].mean_true == pytest.approx(0.5)
    # 1.0 falls in the last bin, not outside
    assert bins[9].mean_pred == pytest.approx(0.975)
    assert bins[9].mean_true == pytest.approx(0.8)
    assert math.isnan(bins[5].mean_true) and math.isnan(bins[5].mean_pred)
    assert bins[3].low == pytest.approx(0.3) and bins[3].high == pytest.approx(0.4)


def test_reliability_of_a_calibrated_estimate_lies_on_the_diagonal():
    pred = np.linspace(0.0, 1.0, 101)
    bins = reliability_bins(pred, pred, bins=5)
    for b in bins:
        assert b.mean_true == pytest.approx(b.mean_pred)
    assert sum(b.n for b in bins) == 101


def test_reliability_rejects_bad_inputs():
    with pytest.raises(ValueError):
        reliability_bins([0.1], [0.1, 0.2])
    with pytest.raises(ValueError):
        reliability_bins([0.1], [0.1], bins=0)


def test_confusion_counts_by_hand():
    labels = ["perfect", "erode", "merge"]
    true = ["perfect", "perfect", "erode", "erode", "erode", "merge"]
    pred = ["perfect", "erode", "erode", "erode", "merge", "merge"]
    counts, columns = confusion_counts(true, pred, labels)
    assert columns == labels
    assert counts.tolist() == [[1, 1, 0], [0, 2, 1], [0, 0, 1]]
    assert counts.sum() == len(true)


def test_confusion_counts_put_unparsed_and_unlisted_in_other():
    counts, columns = confusion_counts(["a", "a", "b"], [None, "cutoff", "b"], ["a", "b"])
    assert columns == ["a", "b", OTHER]
    assert counts.tolist() == [[0, 0, 2], [0, 1, 0]]


def test_confusion_counts_refuse_unknown_true_labels():
    with pytest.raises(ValueError, match="zzz"):
        confusion_counts(["zzz"], ["a"], ["a"])


def test_row_normalise():
    shares = row_normalise(np.array([[1, 3], [0, 0], [2, 0]]))
    assert shares.tolist() == [[0.25, 0.75], [0.0, 0.0], [1.0, 0.0]]


def test_risk_coverage_by_hand():
    # accepted in order 0.9 (ok), 0.7 (fail), 0.3 (ok), 0.1 (fail)
    cov, risk = risk_coverage([0.7, 0.1, 0.9, 0.3], [0.2, 0.3, 0.8, 0.6])
    assert cov.tolist() == [0.25, 0.5, 0.75, 1.0]
    assert risk.tolist() == pytest.approx([0.0, 0.5, 1 / 3, 0.5])


def test_risk_coverage_ties_are_averaged():
    cov, risk = risk_coverage([0.5, 0.5], [0.9, 0.1])
    assert risk.tolist() == pytest.approx([0.5, 0.5])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mean_risk_is_the_protocol_aurc(seed):
    rng = np.random.default_rng(seed)
    true = rng.uniform(size=200)
    pred = np.round(true + rng.normal(0, 0.2, size=200), 1).tolist()  # rounded: many ties
    pred[3] = None
    _, risk = risk_coverage(pred, true)
    assert float(np.mean(risk)) == pytest.approx(aurc(pred, true, risk="failure"))


def test_risk_coverage_empty():
    cov, risk = risk_coverage([], [])
    assert cov.size == 0 and risk.size == 0


def test_latency_percentiles():
    values = list(range(1, 101)) + [math.nan]
    out = latency_percentiles(values)
    assert out["frames"] == 100
    assert out["p50"] == pytest.approx(50.5)
    assert out["p90"] == pytest.approx(90.1)
    assert out["p99"] == pytest.approx(99.01)
    assert out["mean"] == pytest.approx(50.5)


def test_latency_percentiles_of_nothing_are_nan():
    out = latency_percentiles([])
    assert out["frames"] == 0 and math.isnan(out["p50"]) and math.isnan(out["mean"])
