"""Run a trained auditor over a store and turn its outputs into verdict records."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from maskaudit.labels import ACTIONS, TRAIN_TYPES
from maskaudit.model.auditor import AuditorModel
from maskaudit.model.batch import MODEL_INPUTS, make_batch
from maskaudit.model.dataset import ClipStore


@torch.no_grad()
def predict_store(
    model: AuditorModel,
    store: ClipStore,
    text_embeddings: np.ndarray,
    batch_items: int = 16,
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """Return the model's raw outputs for every candidate of ``store``, in store order.

    Returns:
        ``iou`` [M], ``type_probs`` [M, 7], ``action_probs`` [M, 4] for the M candidates of the
        store's items (item order, then candidate order).
    """
    model.eval()
    ious, types, actions = [], [], []
    chunks = range(0, len(store.items), batch_items)
    if progress:
        from tqdm import tqdm

        chunks = tqdm(chunks, desc="predicting", unit="batch")
    for start in chunks:
        items = store.items[start : start + batch_items]
        batch = make_batch(store, items, text_embeddings)
        iou, type_logits, action_logits = model(*(batch[name] for name in MODEL_INPUTS))
        for p, item in enumerate(items):
            n = len(item.candidates)
            ious.append(iou[p, :n].numpy())
            types.append(torch.softmax(type_logits[p, :n], dim=1).numpy())
            actions.append(torch.softmax(action_logits[p, :n], dim=1).numpy())
    return {
        "iou": np.concatenate(ious),
        "type_probs": np.concatenate(types),
        "action_probs": np.concatenate(actions),
    }


def store_labels(store: ClipStore) -> dict[str, np.ndarray]:
    """Return the labels of the store's items' candidates, in the order of ``predict_store``."""
    index = np.concatenate(
        [np.arange(i.first_mask, i.first_mask + len(i.candidates)) for i in store.items]
    )
    return {"iou": store.ious[index], "type": store.types[index], "action": store.actions[index]}


def summarise(outputs: dict[str, np.ndarray], store: ClipStore) -> dict[str, float]:
    """Quick validation numbers: IoU RMSE, type and action accuracy, perfect-vs-full_neg."""
    labels = store_labels(store)
    pred_type = outputs["type_probs"].argmax(axis=1)
    grounding = np.isin(
        labels["type"], [TRAIN_TYPES.index("perfect"), TRAIN_TYPES.index("full_neg")]
    )
    return {
        "iou_rmse": float(np.sqrt(np.mean((outputs["iou"] - labels["iou"]) ** 2))),
        "type_acc": float(np.mean(pred_type == labels["type"])),
        "action_acc": float(np.mean(outputs["action_probs"].argmax(axis=1) == labels["action"])),
        "grounding_acc": float(np.mean(pred_type[grounding] == labels["type"][grounding]))
        if grounding.any()
        else float("nan"),
    }


def verdict_records(outputs: dict[str, np.ndarray], store: ClipStore) -> Iterator[dict]:
    """Yield one verdict record per candidate (uid, frame, mask_id, iou, type, action, probs)."""
    row = 0
    for item in store.items:
        for cand in item.candidates:
            type_probs = outputs["type_probs"][row]
            action_probs = outputs["action_probs"][row]
            yield {
                "uid": item.uid,
                "frame": item.frame,
                "mask_id": cand.mask_id,
                "iou": round(float(outputs["iou"][row]), 4),
                "mask_type": TRAIN_TYPES[int(type_probs.argmax())],
                "action": ACTIONS[int(action_probs.argmax())],
                "type_probs": {
                    t: round(float(p), 4) for t, p in zip(TRAIN_TYPES, type_probs, strict=True)
                },
                "action_probs": {
                    a: round(float(p), 4) for a, p in zip(ACTIONS, action_probs, strict=True)
                },
            }
            row += 1
