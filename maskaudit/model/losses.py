"""The auditor's training losses."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from maskaudit.labels import TRAIN_TYPES

GROUNDING_TYPES = torch.tensor([TRAIN_TYPES.index(t) for t in ("perfect", "merge", "full_neg")])
"""Types whose label depends on which object the expression refers to."""

GROUNDING_WEIGHT = 2.0
"""Weight of those candidates in the type and action losses (the rest weigh 1): they are the
minority of each expression's candidates and the hardest to get right."""


def audit_losses(
    iou: torch.Tensor,
    type_logits: torch.Tensor,
    action_logits: torch.Tensor,
    batch: dict[str, torch.Tensor],
) -> dict[str, torch.Tensor]:
    """Return the per-candidate mean IoU squared error and the two cross-entropies.

    Padded candidates (``candidate_valid`` 0) do not count; in the cross-entropies, candidates
    whose type depends on grounding weigh ``GROUNDING_WEIGHT``.
    """
    valid = batch["candidate_valid"]
    count = valid.sum().clamp(min=1.0)
    weight = valid * (1.0 + (GROUNDING_WEIGHT - 1.0) * torch.isin(batch["types"], GROUNDING_TYPES))
    iou_loss = ((iou - batch["ious"]).pow(2) * valid).sum() / count
    type_ce = F.cross_entropy(type_logits.flatten(0, 1), batch["types"].flatten(), reduction="none")
    action_ce = F.cross_entropy(
        action_logits.flatten(0, 1), batch["actions"].flatten(), reduction="none"
    )
    flat_weight = weight.flatten()
    total = flat_weight.sum().clamp(min=1.0)
    return {
        "iou": iou_loss,
        "type": (type_ce * flat_weight).sum() / total,
        "action": (action_ce * flat_weight).sum() / total,
    }
