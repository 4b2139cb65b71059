"""Fit the verdict policy's thresholds on held-out training data.

The policy (:mod:`maskaudit.runtime.policy`) overrules the action head when its ``accept`` or
``reject`` contradicts the IoU estimate. Where the thresholds lie decides how often a hesitant
head's accept of a correct mask is kept and how often an accept of a wrong one is caught. Rather
than fixing them by hand, the exporter chooses them on the training run's held-out videos (never
on a test split): every pair of a grid is applied to the bundle's outputs there, and the pair
with the highest macro F2 of the action (the task's score) is kept, ties going to the pair
nearest the defaults.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from maskaudit.labels import ACTIONS
from maskaudit.runtime.policy import ACCEPT_MIN_IOU, REJECT_MAX_IOU, PolicyThresholds, decide

if TYPE_CHECKING:
    from maskaudit.model.dataset import ClipStore

logger = logging.getLogger(__name__)

ACCEPT_GRID: tuple[float, ...] = tuple(np.round(np.arange(0.30, 0.901, 0.05), 2))
"""Candidate values of ``accept_min_iou`` (0.30 to 0.90 by 0.05)."""

REJECT_GRID: tuple[float, ...] = tuple(np.round(np.arange(0.20, 0.801, 0.05), 2))
"""Candidate values of ``reject_max_iou`` (0.20 to 0.80 by 0.05)."""


@dataclass(frozen=True)
class PolicyFit:
    """The chosen thresholds and what they were chosen on.

    Attributes:
        thresholds: The pair with the best action F2.
        action_f2: Its macro F2 of the action on the held-out candidates.
        default_action_f2: The macro F2 with the default thresholds, for comparison.
        candidates: Held-out candidates the pair was chosen on.
    """

    thresholds: PolicyThresholds
    action_f2: float
    default_action_f2: float
    candidates: int

    def section(self, source: str) -> dict:
        """Return the manifest's ``policy`` section: the thresholds and how they were chosen.

        Args:
            source: What the held-out data was (e.g. ``bench/train holdout``).

        Returns:
            ``accept_min_iou``, ``reject_max_iou`` and a ``fit`` record.
        """
        return {
            **self.thresholds.to_dict(),
            "fit": {
                "data": source,
                "candidates": self.candidates,
                "objective": "macro F2 of the action",
                "action_f2": round(self.action_f2, 4),
                "default_action_f2": round(self.default_action_f2, 4),
            },
        }


def policy_action_f2(
    outputs: Mapping[str, np.ndarray],
    true_actions: Sequence[str],
    empty: np.ndarray,
    thresholds: PolicyThresholds,
) -> float:
    """Return the macro F2 of the policy's actions under ``thresholds``.

    Args:
        outputs: ``iou`` [M], ``type_probs`` [M, 7] and ``action_probs`` [M, 4].
        true_actions: The M true actions.
        empty: bool [M], whether each candidate mask is empty.
        thresholds: The thresholds to apply.

    Returns:
        The macro F2 (the reference's action score).
    """
    from maskaudit.eval.metrics import action_report

    actions = [
        decide(float(i), t, a, thresholds, empty=bool(e)).action
        for i, t, a, e in zip(
            outputs["iou"], outputs["type_probs"], outputs["action_probs"], empty, strict=True
        )
    ]
    return action_report(list(true_actions), actions).macro_fbeta


def fit_policy(
    outputs: Mapping[str, np.ndarray],
    true_actions: Sequence[str],
    empty: np.ndarray,
    accept_grid: Sequence[float] = ACCEPT_GRID,
    reject_grid: Sequence[float] = REJECT_GRID,
) -> PolicyFit:
    """Choose the policy's thresholds that maximise action F2 on held-out candidates.

    Args:
        outputs: The bundle's ``iou``, ``type_probs`` and ``action_probs`` on the candidates.
        true_actions: Their true actions (names from ``labels.ACTIONS``).
        empty: bool [M], whether each candidate mask is empty.
        accept_grid: Values tried for ``accept_min_iou``. Defaults to ``ACCEPT_GRID``.
        reject_grid: Values tried for ``reject_max_iou``. Defaults to ``REJECT_GRID``.

    Returns:
        The best pair (ties: nearest the defaults), its score and the default's score.

    Raises:
        ValueError: If there are no candidates or an action name is unknown.
    """
    if len(true_actions) == 0:
        raise ValueError("fitting the policy needs at least one held-out candidate")
    unknown = set(true_actions) - set(ACTIONS)
    if unknown:
        raise ValueError(f"unknown actions {sorted(unknown)}: expected names from {ACTIONS}")
    default = PolicyThresholds()
    best: tuple[float, float, PolicyThresholds] | None = None
    for accept in accept_grid:
        for reject in reject_grid:
            thresholds = PolicyThresholds(float(accept), float(reject))
            score = policy_action_f2(outputs, true_actions, empty, thresholds)
            distance = abs(accept - ACCEPT_MIN_IOU) + abs(reject - REJECT_MAX_IOU)
            if best is None or (score, -distance) > (best[0], -best[1]):
                best = (score, distance, thresholds)
    assert best is not None
    return PolicyFit(
        thresholds=best[2],
        action_f2=best[0],
        default_action_f2=policy_action_f2(outputs, true_actions, empty, default),
        candidates=len(true_actions),
    )


def fit_bundle_policy(
    graph_dir: str | Path,
    precision: str,
    store: ClipStore,
    text_embeddings: np.ndarray,
    threads: int = 0,
) -> PolicyFit:
    """Run a bundle precision over held-out candidates and fit the policy on its outputs.

    Args:
        graph_dir: Folder with the precision's graphs.
        precision: The precision the runtime uses by default (``int8`` where written).
        store: The held-out candidates (e.g. the training run's validation videos).
        text_embeddings: float32 [E, 384] of ``store.expressions``.
        threads: onnxruntime intra-op threads (0: its default). Defaults to 0.

    Returns:
        The fit.
    """
    from maskaudit.export.accuracy import bundle_outputs, candidate_labels

    outputs = bundle_outputs(graph_dir, precision, store, text_embeddings, threads=threads)
    _, actions, empty = candidate_labels(store)
    fit = fit_policy(outputs, actions, empty)
    logger.info(
        "policy fitted on %d held-out candidates: %s (action F2 %.4f; defaults %.4f)",
        fit.candidates,
        fit.thresholds,
        fit.action_f2,
        fit.default_action_f2,
    )
    return fit
