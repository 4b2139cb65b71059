"""Turn store items into padded tensors for the auditor."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from maskaudit.model.categories import NO_CATEGORY
from maskaudit.model.dataset import ClipStore, Item

PREFIX_KINDS = frozenset(
    {
        "sounding",
        "sounding_category",
        "loudest",
        "lowest",
        "lower_than",
        "faster_rhythm",
        "slower_rhythm",
        "left_of",
        "right_of",
        "near",
    }
)
"""Expression kinds whose answer rarely depends on the clip's last seconds, so a clip cut short
still carries its label: training shows them with a truncated context, as a stream's first
seconds are."""

SHORTEST_PREFIX = 5
"""Fewest seconds of context a truncated training clip keeps."""


def make_batch(
    store: ClipStore,
    items: Sequence[Item],
    text_embeddings: np.ndarray,
    rng: np.random.Generator | None = None,
    truncate_prob: float = 0.0,
) -> dict[str, torch.Tensor]:
    """Stack the clips and candidates of ``items`` into one batch.

    Candidates are padded to the largest count in the batch; ``candidate_valid`` marks the real
    ones.

    Args:
        store: The arrays the items point into.
        items: The (expression, frame) groups to batch.
        text_embeddings: float32 [E, text_dim], indexed by ``Item.expression``.
        rng: Random generator for the truncation. Defaults to None (no truncation).
        truncate_prob: Chance that a clip whose kind is in ``PREFIX_KINDS`` keeps only its first
            5 to T-1 seconds of context (the rest marked invalid, the candidates' frame moved
            inside the kept part), as in a stream that started less than T seconds ago.
            Defaults to 0.

    Returns:
        Tensors ``frames``, ``key_frame``, ``log_mels``, ``context_valid``, ``text_embedding``,
        ``masks``, ``candidate_valid``, ``types``, ``actions``, ``ious``, and the category
        labels of the grounding loss: ``categories`` [P, K] and ``named`` [P] (-1 where unknown).
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
    categories = np.full((P, K), NO_CATEGORY, dtype=np.int64)
    labelled = store.categories.size == store.masks.shape[0]
    for p, item in enumerate(items):
        n = len(item.candidates)
        span = slice(item.first_mask, item.first_mask + n)
        masks[p, :n] = store.masks[span].astype(np.float32) / 255.0
        valid[p, :n] = 1.0
        types[p, :n] = store.types[span]
        actions[p, :n] = store.actions[span]
        ious[p, :n] = store.ious[span]
        if labelled:
            categories[p, :n] = store.categories[span]
    T = store.frames.shape[1]
    context_valid = np.ones((P, T), dtype=np.float32)
    key_frame = np.asarray([item.frame for item in items], dtype=np.int64)
    if rng is not None and truncate_prob > 0.0:
        for p, item in enumerate(items):
            if item.kind in PREFIX_KINDS and rng.random() < truncate_prob:
                kept = int(rng.integers(SHORTEST_PREFIX, T))
                context_valid[p, kept:] = 0.0
                key_frame[p] = min(key_frame[p], kept - 1)
    return {
        "frames": torch.from_numpy(store.frames[videos]),
        "key_frame": torch.from_numpy(key_frame),
        "log_mels": torch.from_numpy(store.log_mels[videos].astype(np.float32)),
        "context_valid": torch.from_numpy(context_valid),
        "text_embedding": torch.from_numpy(
            text_embeddings[[item.expression for item in items]].astype(np.float32)
        ),
        "masks": torch.from_numpy(masks),
        "candidate_valid": torch.from_numpy(valid),
        "types": torch.from_numpy(types),
        "actions": torch.from_numpy(actions),
        "ious": torch.from_numpy(ious),
        "categories": torch.from_numpy(categories),
        "named": torch.tensor([item.named for item in items], dtype=torch.int64),
    }


MODEL_INPUTS = ("frames", "key_frame", "log_mels", "context_valid", "text_embedding", "masks")
"""The batch entries the model's forward takes, in order."""
