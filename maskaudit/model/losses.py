"""The auditor's training losses."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def audit_losses(
    iou: torch.Tensor,
    type_logits: torch.Tensor,
    action_logits: torch.Tensor,
    batch: dict[str, torch.Tensor],
) -> dict[str, torch.Tensor]:
    """Return the per-candidate mean IoU squared error and the two cross-entropies.

    Padded candidates (``candidate_valid`` 0) do not count.
    """
    valid = batch["candidate_valid"]
    count = valid.sum().clamp(min=1.0)
    iou_loss = ((iou - batch["ious"]).pow(2) * valid).sum() / count
    type_ce = F.cross_entropy(type_logits.flatten(0, 1), batch["types"].flatten(), reduction="none")
    action_ce = F.cross_entropy(
        action_logits.flatten(0, 1), batch["actions"].flatten(), reduction="none"
    )
    flat_valid = valid.flatten()
    return {
        "iou": iou_loss,
        "type": (type_ce * flat_valid).sum() / count,
        "action": (action_ce * flat_valid).sum() / count,
    }
