from __future__ import annotations

import numpy as np

from maskaudit.report import figures
from maskaudit.report.numbers import confusion_counts, reliability_bins

from .page_checks import assert_png


def test_iou_scatter(tmp_path):
    rng = np.random.default_rng(0)
    true = rng.uniform(size=300)
    pred = np.clip(true + rng.normal(0, 0.1, 300), 0, 1)
    path = figures.iou_scatter(pred, true, reliability_bins(pred, true), tmp_path / "s.png", "t")
    assert_png(path)


def test_iou_scatter_draws_an_even_subset_of_many_points(tmp_path, monkeypatch):
    monkeypatch.setattr(figures, "SCATTER_POINTS", 50)
    pred = np.linspace(0, 1, 500)
    path = figures.iou_scatter(pred, pred, reliability_bins(pred, pred), tmp_path / "s.png", "t")
    assert_png(path)


def test_confusion_matrix_with_an_other_column(tmp_path):
    counts, columns = confusion_counts(["a", "b", "b"], ["a", None, "b"], ["a", "b"])
    path = figures.confusion_matrix(counts, ["a", "b"], columns, tmp_path / "c.png", "t")
    image = assert_png(path, min_side=150)
    assert image.shape[1] > image.shape[0]  # three columns, two rows: wider than tall


def test_risk_coverage_curves(tmp_path):
    rng = np.random.default_rng(1)
    true = rng.uniform(size=200)
    methods = {"maskaudit": true + rng.normal(0, 0.1, 200), "prior": np.full(200, 0.6)}
    path = figures.risk_coverage_curves(
        methods, true, {"maskaudit": 0.1, "prior": 0.5}, tmp_path / "r.png", "t"
    )
    assert_png(path)


def test_latency_histogram(tmp_path):
    values = np.random.default_rng(2).gamma(4.0, 3.0, size=400)
    marks = {"p50": float(np.percentile(values, 50)), "p99": float(np.percentile(values, 99))}
    assert_png(figures.latency_histogram(values, marks, tmp_path / "l.png", "t"))
