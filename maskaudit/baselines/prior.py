"""The prior baseline: the same answer for every candidate, learnt from the train split."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from maskaudit.baselines import Progress, no_progress
from maskaudit.data.records import Candidate
from maskaudit.errors import DataError
from maskaudit.eval.predictions import verdict_record
from maskaudit.labels import ACTIONS, MASK_TYPES

logger = logging.getLogger(__name__)


def majority(labels: Iterable[str], order: Sequence[str]) -> str:
    """Return the most frequent label, ties going to the earlier label in ``order``.

    Args:
        labels: Observed labels (each in ``order``).
        order: Tie-break order.

    Returns:
        The majority label.

    Raises:
        ValueError: If ``labels`` is empty.
    """
    counts = Counter(labels)
    if not counts:
        raise ValueError("no labels to take the majority of")
    return max(order, key=lambda label: (counts.get(label, 0), -order.index(label)))


class PriorBaseline:
    """Answer the train split's mean IoU, majority type and majority action, whatever the mask.

    Only scored candidates (not ``null``) of the train split are counted. Type and action are
    each the majority on their own, so they need not agree with the action rule.
    """

    name = "prior"

    def __init__(self) -> None:
        self.iou: float | None = None
        self.mask_type: str | None = None
        self.action: str | None = None

    def fit(
        self, candidates: Iterable[Candidate], progress: Progress = no_progress
    ) -> PriorBaseline:
        """Learn the three constants.

        Args:
            candidates: Train-split candidates.
            progress: Progress wrapper. Defaults to none.

        Returns:
            self.

        Raises:
            DataError: If there is no scored candidate to learn from.
        """
        scored = [c for c in progress(candidates, "prior: fit") if c.mask_type != "null"]
        if not scored:
            raise DataError("the train split has no scored candidate: regenerate the benchmark")
        self.iou = sum(c.iou for c in scored) / len(scored)
        self.mask_type = majority((c.mask_type for c in scored), MASK_TYPES)
        self.action = majority((c.action for c in scored), ACTIONS)
        logger.info("prior: iou=%.4f type=%s action=%s", self.iou, self.mask_type, self.action)
        return self

    def predict(
        self, candidates: Iterable[Candidate], progress: Progress = no_progress
    ) -> list[dict[str, Any]]:
        """Return one verdict record per candidate, all with the same answer.

        Args:
            candidates: Candidates to audit.
            progress: Progress wrapper. Defaults to none.

        Returns:
            Verdict records in the candidates' order.

        Raises:
            RuntimeError: If called before ``fit``.
        """
        if self.iou is None:
            raise RuntimeError("PriorBaseline.predict called before fit")
        return [
            verdict_record(c, self.iou, self.mask_type, self.action, baseline=self.name)
            for c in progress(candidates, "prior: predict")
        ]
