from __future__ import annotations

import numpy as np
import pytest

from maskaudit.baselines.linear_models import RidgeRegressor, SoftmaxClassifier, Standardiser


def test_standardiser_centres_and_scales_and_keeps_constant_columns_finite():
    x = np.array([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]])
    z = Standardiser().fit(x).transform(x)
    assert z[:, 0].mean() == pytest.approx(0.0) and z[:, 0].std() == pytest.approx(1.0)
    assert np.all(z[:, 1] == 0.0)


def test_ridge_recovers_a_linear_function():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = x @ np.array([0.5, -1.0, 2.0]) + 0.25
    model = RidgeRegressor(alpha=1e-6).fit(x, y)
    assert model.weights == pytest.approx([0.5, -1.0, 2.0, 0.25], abs=1e-4)
    assert model.predict(x[:5]) == pytest.approx(y[:5], abs=1e-4)


def test_ridge_penalty_shrinks_weights_not_intercept():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(100, 2))
    y = x @ np.array([1.0, 1.0]) + 3.0
    strong = RidgeRegressor(alpha=100.0).fit(x, y)
    assert np.all(np.abs(strong.weights[:2]) < 0.05)
    assert strong.weights[2] == pytest.approx(3.0, abs=0.2)


def test_softmax_separates_blobs_and_probabilities_sum_to_one():
    rng = np.random.default_rng(2)
    centres = {"a": (0, 0), "b": (4, 0), "c": (0, 4)}
    x = np.vstack([rng.normal(c, 0.5, size=(30, 2)) for c in centres.values()])
    labels = [k for k in centres for _ in range(30)]
    model = SoftmaxClassifier(steps=300).fit(x, labels)
    assert model.classes == ("a", "b", "c")
    assert np.mean(np.array(model.predict(x)) == np.array(labels)) > 0.95
    assert model.predict_proba(x).sum(axis=1) == pytest.approx(np.ones(90))


def test_models_refuse_to_predict_before_fit():
    with pytest.raises(RuntimeError):
        RidgeRegressor().predict(np.zeros((1, 2)))
    with pytest.raises(RuntimeError):
        SoftmaxClassifier().predict_proba(np.zeros((1, 2)))
