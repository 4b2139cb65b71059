"""Turn store items into padded tensors for the auditor."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from maskaudit.model.dataset import ClipStore, Item


def make_batch(
    store: ClipStore, items: Sequence[Item], text_embeddings: np.ndarray
) -> dict[str, torch.Tensor]:
    """Stack the clips and candidates of ``items`` into one batch.

    Candidates are padded to the largest count in the batch; ``candidate_valid`` marks the real
    ones.

    Args:
        store: The arrays the items point into.
        items: The (expression, frame) groups to batch.
        text_embeddings: float32 [E, text_dim], indexed by ``Item.expression``.

    Returns:
        Tensors ``frames``, ``key_frame``, ``log_mels``, ``context_valid``, ``text_embedding``,
        ``masks``, ``candidate_valid``, ``types``, ``actions``, ``ious``.
    """
    P = len(items)
    K = max(len(item.candidates) for item in items)
    S = store.masks.shape[1]
    videos = np.asarray([item.video for item in items])
    masks = np.zeros((P, K, S, S), dtype=np.float32)
    valid = np.zeros((P, K), dtype=np.float32)
    types = np.zeros((P, K), dtype=np.int64)
    actions = np.zeros((P, K), dtype=np.int64)
    ious = np.zeros((P, K), dtype=np.float32)
    for p, item in enumerate(items):
        n = len(item.candidates)
        span = slice(item.first_mask, item.first_mask + n)
        masks[p, :n] = store.masks[span].astype(np.float32) / 255.0
        valid[p, :n] = 1.0
        types[p, :n] = store.types[span]
        actions[p, :n] = store.actions[span]
        ious[p, :n] = store.ious[span]
    T = store.frames.shape[1]
    return {
        "frames": torch.from_numpy(store.frames[videos]),
        "key_frame": torch.as_tensor([item.frame for item in items], dtype=torch.int64),
        "log_mels": torch.from_numpy(store.log_mels[videos].astype(np.float32)),
        "context_valid": torch.ones(P, T),
        "text_embedding": torch.from_numpy(
            text_embeddings[[item.expression for item in items]].astype(np.float32)
        ),
        "masks": torch.from_numpy(masks),
        "candidate_valid": torch.from_numpy(valid),
        "types": torch.from_numpy(types),
        "actions": torch.from_numpy(actions),
        "ious": torch.from_numpy(ious),
    }


MODEL_INPUTS = ("frames", "key_frame", "log_mels", "context_valid", "text_embedding", "masks")
"""The batch entries the model's forward takes, in order."""
