"""The geometry baseline: what a mask and its frame alone say about the mask's quality.

It measures each candidate's shape and boundary (``maskaudit.baselines.mask_geometry``), fits a
ridge regression for the IoU and a softmax classifier for the type on the train split, and takes
the action from the task's rule applied to the predicted type and IoU (IoU clipped to [0, 1]; a
candidate predicted ``perfect`` gets IoU 1). It hears no audio and reads no expression, so it
cannot tell which object is referred: a well-shaped mask of the wrong object looks perfect to it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from maskaudit.baselines import Progress, no_progress
from maskaudit.baselines.linear_models import RidgeRegressor, SoftmaxClassifier, Standardiser
from maskaudit.baselines.mask_geometry import FrameMaps, mask_features, read_frame, read_mask
from maskaudit.data.records import Candidate
from maskaudit.errors import DataError
from maskaudit.eval.predictions import verdict_record
from maskaudit.labels import action_for

logger = logging.getLogger(__name__)

FRAME_CACHE = 16
"""Frames whose maps are kept while measuring (candidates of one frame come together)."""


class CandidateFeatures:
    """Measures candidates, reusing each frame's maps across its candidates."""

    def __init__(self) -> None:
        self._maps: dict[Path, FrameMaps] = {}

    def _frame_maps(self, path: Path) -> FrameMaps:
        maps = self._maps.get(path)
        if maps is None:
            if len(self._maps) >= FRAME_CACHE:
                self._maps.pop(next(iter(self._maps)))
            maps = self._maps[path] = FrameMaps(read_frame(path))
        return maps

    def __call__(self, candidate: Candidate) -> np.ndarray:
        """Return the features of one candidate (see ``mask_features``).

        Args:
            candidate: The candidate; its mask and frame files are read.

        Returns:
            The feature vector.

        Raises:
            DataError: If a file cannot be read.
        """
        return mask_features(read_mask(candidate.mask_path), self._frame_maps(candidate.image_path))

    def matrix(self, candidates: Iterable[Candidate]) -> np.ndarray:
        """Return the features of many candidates, one row each.

        Args:
            candidates: Candidates.

        Returns:
            Array (n, number of features); (0, 0) for no candidates.
        """
        rows = [self(c) for c in candidates]
        return np.vstack(rows) if rows else np.zeros((0, 0))


class GeometryBaseline:
    """Ridge IoU and softmax type on mask and frame features; the action from the rule.

    Args:
        alpha: Ridge penalty. Defaults to 1e-2.
        l2: Softmax weight decay. Defaults to 1e-3.
        steps: Softmax gradient steps. Defaults to 500.
    """

    name = "geometry"

    def __init__(self, alpha: float = 1e-2, l2: float = 1e-3, steps: int = 500) -> None:
        self.scaler = Standardiser()
        self.iou_model = RidgeRegressor(alpha)
        self.type_model = SoftmaxClassifier(l2=l2, steps=steps)
        self.fitted = False

    def fit(
        self, candidates: Iterable[Candidate], progress: Progress = no_progress
    ) -> GeometryBaseline:
        """Fit both models on the scored (not ``null``) candidates.

        Args:
            candidates: Train-split candidates.
            progress: Progress wrapper. Defaults to none.

        Returns:
            self.

        Raises:
            DataError: If there is no scored candidate, or a file cannot be read.
        """
        scored = [c for c in candidates if c.mask_type != "null"]
        if not scored:
            raise DataError("the train split has no scored candidate: regenerate the benchmark")
        x = CandidateFeatures().matrix(progress(scored, "geometry: measure train"))
        x = self.scaler.fit(x).transform(x)
        self.iou_model.fit(x, np.array([c.iou for c in scored]))
        self.type_model.fit(x, [c.mask_type for c in scored])
        self.fitted = True
        logger.info("geometry: fitted on %d candidates", len(scored))
        return self

    def answer(self, features: np.ndarray) -> list[tuple[float, str, str]]:
        """Return (IoU, type, action) for rows of raw features.

        Args:
            features: Array (n, number of features) from ``CandidateFeatures``.

        Returns:
            One answer per row.

        Raises:
            RuntimeError: If called before ``fit``.
        """
        if not self.fitted:
            raise RuntimeError("GeometryBaseline.answer called before fit")
        if len(features) == 0:
            return []
        x = self.scaler.transform(features)
        ious = np.clip(self.iou_model.predict(x), 0.0, 1.0)
        answers = []
        for iou, mask_type in zip(ious, self.type_model.predict(x), strict=True):
            iou = 1.0 if mask_type == "perfect" else float(iou)
            answers.append((iou, mask_type, action_for(mask_type, iou)))
        return answers

    def predict(
        self, candidates: Sequence[Candidate], progress: Progress = no_progress
    ) -> list[dict[str, Any]]:
        """Return one verdict record per candidate.

        Args:
            candidates: Candidates to audit.
            progress: Progress wrapper. Defaults to none.

        Returns:
            Verdict records in the candidates' order.

        Raises:
            DataError: If a file cannot be read.
            RuntimeError: If called before ``fit``.
        """
        if not self.fitted:
            raise RuntimeError("GeometryBaseline.predict called before fit")
        features = CandidateFeatures().matrix(progress(candidates, "geometry: measure"))
        return [
            verdict_record(c, iou, mask_type, action, baseline=self.name)
            for c, (iou, mask_type, action) in zip(candidates, self.answer(features), strict=True)
        ]
