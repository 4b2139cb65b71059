"""Temporal smoothing of verdicts per candidate, with hysteresis on the action.

A robot acting on verdicts must not see the action flicker from frame to frame. For each
``mask_id`` the smoother keeps the scores of the last ``frames`` frames and averages them (IoU,
type and action probabilities), applies the verdict policy to the averages, and then changes
the published action only after the new action has won ``hold`` consecutive frames.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field, replace

import numpy as np

from maskaudit.runtime.policy import Decision, PolicyThresholds, decide

MAX_TRACKED = 4096
"""Candidates (mask ids) whose state is kept; the least recently seen is forgotten first."""


@dataclass
class _Track:
    """Smoothing state of one candidate."""

    scores: deque
    stable: Decision | None = None
    challenger: str | None = None
    wins: int = 0


@dataclass(frozen=True)
class Smoothed:
    """Smoothed scores and the published decision for one candidate on one frame.

    Attributes:
        iou: Average IoU estimate over the window.
        type_probs: Average type probabilities.
        action_probs: Average action probabilities.
        policy: The policy's decision on the averages (before hysteresis).
        decision: The published decision (after hysteresis); its ``reason`` says when the
            action is held.
    """

    iou: float
    type_probs: np.ndarray
    action_probs: np.ndarray
    policy: Decision
    decision: Decision


@dataclass
class Smoother:
    """Moving average and hysteresis per candidate.

    Attributes:
        frames: Frames averaged per candidate (1 = no averaging). Defaults to 5.
        hold: Consecutive frames a new action must win before it is published (1 = switch at
            once). Defaults to 3.
        thresholds: The verdict policy's thresholds. Defaults to ``PolicyThresholds()``.
    """

    frames: int = 5
    hold: int = 3
    thresholds: PolicyThresholds = field(default_factory=PolicyThresholds)

    def __post_init__(self) -> None:
        if self.frames < 1 or self.hold < 1:
            raise ValueError(f"frames ({self.frames}) and hold ({self.hold}) must be at least 1")
        self._tracks: OrderedDict[str, _Track] = OrderedDict()

    def reset(self) -> None:
        """Forget every candidate's state."""
        self._tracks.clear()

    def update(
        self,
        mask_id: str,
        iou: float,
        type_probs: np.ndarray,
        action_probs: np.ndarray,
        empty: bool = False,
    ) -> Smoothed:
        """Add one frame's scores of a candidate and return its smoothed verdict.

        Args:
            mask_id: The candidate's id; state is kept per id.
            iou: The head's IoU estimate on this frame.
            type_probs: Type probabilities on this frame (``labels.TRAIN_TYPES`` order).
            action_probs: Action probabilities on this frame (``labels.ACTIONS`` order).
            empty: Whether the candidate mask is empty on this frame. Defaults to False.

        Returns:
            The smoothed scores, the policy's decision on them and the published decision.
        """
        track = self._track(mask_id)
        track.scores.append((float(iou), np.asarray(type_probs), np.asarray(action_probs)))
        mean_iou = float(np.mean([s[0] for s in track.scores]))
        mean_types = np.mean([s[1] for s in track.scores], axis=0)
        mean_actions = np.mean([s[2] for s in track.scores], axis=0)
        policy = decide(mean_iou, mean_types, mean_actions, self.thresholds, empty=empty)
        return Smoothed(mean_iou, mean_types, mean_actions, policy, self._hysteresis(track, policy))

    def _track(self, mask_id: str) -> _Track:
        """Return the state of ``mask_id``, creating it and forgetting the oldest if needed."""
        track = self._tracks.get(mask_id)
        if track is None:
            track = _Track(scores=deque(maxlen=self.frames))
            self._tracks[mask_id] = track
            while len(self._tracks) > MAX_TRACKED:
                self._tracks.popitem(last=False)
        else:
            self._tracks.move_to_end(mask_id)
        return track

    def _hysteresis(self, track: _Track, policy: Decision) -> Decision:
        """Publish ``policy`` unless its action is new and has not yet won ``hold`` frames."""
        if track.stable is None or policy.action == track.stable.action:
            track.stable, track.challenger, track.wins = policy, None, 0
            return policy
        if policy.action == track.challenger:
            track.wins += 1
        else:
            track.challenger, track.wins = policy.action, 1
        if track.wins >= self.hold:
            track.stable, track.challenger, track.wins = policy, None, 0
            return policy
        held = f"held {track.stable.action}: {policy.action} won {track.wins} of {self.hold} frames"
        return replace(track.stable, iou=policy.iou, action_raw=policy.action_raw, reason=held)
