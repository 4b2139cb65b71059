"""Small numpy models for the baselines: feature standardisation, ridge regression, softmax.

They fit in well under a second on tens of thousands of rows of a few dozen features and keep
their parameters as plain arrays.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class Standardiser:
    """Centre features and scale them to unit variance (constant features are only centred)."""

    def __init__(self) -> None:
        self.mean: np.ndarray | None = None
        self.scale: np.ndarray | None = None

    def fit(self, x: np.ndarray) -> Standardiser:
        """Learn each column's mean and standard deviation.

        Args:
            x: Features, shape (n, d), n >= 1.

        Returns:
            self.
        """
        self.mean = x.mean(axis=0)
        std = x.std(axis=0)
        self.scale = np.where(std > 1e-12, std, 1.0)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Return standardised features.

        Args:
            x: Features, shape (n, d).

        Returns:
            ``(x - mean) / scale``.

        Raises:
            RuntimeError: If called before ``fit``.
        """
        if self.mean is None or self.scale is None:
            raise RuntimeError("Standardiser.transform called before fit")
        return (x - self.mean) / self.scale


def _with_bias(x: np.ndarray) -> np.ndarray:
    return np.hstack([x, np.ones((x.shape[0], 1), dtype=x.dtype)])


class RidgeRegressor:
    """Linear least squares with an L2 penalty on the weights (not on the intercept).

    Args:
        alpha: Penalty strength, relative to the number of rows. Defaults to 1.0.
    """

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha
        self.weights: np.ndarray | None = None

    def fit(self, x: np.ndarray, y: np.ndarray) -> RidgeRegressor:
        """Solve for the weights in closed form.

        Args:
            x: Features, shape (n, d) (standardise them first).
            y: Targets, shape (n,).

        Returns:
            self.
        """
        xb = _with_bias(np.asarray(x, dtype=np.float64))
        penalty = self.alpha * xb.shape[0] * np.eye(xb.shape[1])
        penalty[-1, -1] = 0.0
        self.weights = np.linalg.solve(xb.T @ xb + penalty, xb.T @ np.asarray(y, dtype=np.float64))
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Return predictions, shape (n,).

        Args:
            x: Features, shape (n, d).

        Returns:
            ``x @ w + b``.

        Raises:
            RuntimeError: If called before ``fit``.
        """
        if self.weights is None:
            raise RuntimeError("RidgeRegressor.predict called before fit")
        return _with_bias(np.asarray(x, dtype=np.float64)) @ self.weights


class SoftmaxClassifier:
    """Multinomial logistic regression fitted by full-batch gradient descent.

    Args:
        l2: Weight decay on the weights (not the intercepts). Defaults to 1e-3.
        steps: Gradient steps. Defaults to 500.
        learning_rate: Step size (features should be standardised). Defaults to 0.5.
    """

    def __init__(self, l2: float = 1e-3, steps: int = 500, learning_rate: float = 0.5) -> None:
        self.l2 = l2
        self.steps = steps
        self.learning_rate = learning_rate
        self.classes: tuple[str, ...] = ()
        self.weights: np.ndarray | None = None

    def fit(self, x: np.ndarray, labels: Sequence[str]) -> SoftmaxClassifier:
        """Fit the class weights.

        Args:
            x: Features, shape (n, d) (standardise them first).
            labels: Class of each row; the classes are those present, sorted.

        Returns:
            self.
        """
        self.classes = tuple(sorted(set(labels)))
        index = {c: i for i, c in enumerate(self.classes)}
        xb = _with_bias(np.asarray(x, dtype=np.float64))
        onehot = np.zeros((xb.shape[0], len(self.classes)))
        onehot[np.arange(xb.shape[0]), [index[c] for c in labels]] = 1.0
        weights = np.zeros((xb.shape[1], len(self.classes)))
        decay = np.full((xb.shape[1], 1), self.l2)
        decay[-1] = 0.0
        for _ in range(self.steps):
            probs = _softmax(xb @ weights)
            grad = xb.T @ (probs - onehot) / xb.shape[0] + decay * weights
            weights -= self.learning_rate * grad
        self.weights = weights
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Return class probabilities, shape (n, len(classes)), columns in ``classes`` order.

        Args:
            x: Features, shape (n, d).

        Returns:
            Rows summing to 1.

        Raises:
            RuntimeError: If called before ``fit``.
        """
        if self.weights is None:
            raise RuntimeError("SoftmaxClassifier.predict_proba called before fit")
        return _softmax(_with_bias(np.asarray(x, dtype=np.float64)) @ self.weights)

    def predict(self, x: np.ndarray) -> list[str]:
        """Return the most probable class of each row.

        Args:
            x: Features, shape (n, d).

        Returns:
            One class per row.
        """
        return [self.classes[i] for i in np.argmax(self.predict_proba(x), axis=1)]


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
