"""Accuracy of a bundle precision on a benchmark split, run through onnxruntime.

The inputs are those of training (a :class:`~maskaudit.model.dataset.ClipStore` read through
``maskaudit.features``, candidates batched with :func:`~maskaudit.model.batch.make_batch`,
the whole clip as temporal context); the graphs are the bundle's ONNX files of one precision.
Each candidate's verdict is the runtime's: the head's IoU, its logits turned into
probabilities by the runtime's :func:`~maskaudit.runtime.auditor.softmax`, then the verdict
policy (:func:`maskaudit.runtime.policy.decide`) for type and action. The scores are the
reference's (image mode): IoU RMSE, and macro F2 of type and action from
:mod:`maskaudit.eval.metrics`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from maskaudit.export import contract
from maskaudit.export.calibration import EncoderCache
from maskaudit.export.parity import cpu_session
from maskaudit.model.batch import make_batch
from maskaudit.model.dataset import ClipStore
from maskaudit.runtime.auditor import softmax
from maskaudit.runtime.policy import PolicyThresholds

logger = logging.getLogger(__name__)

IOU_RMSE_TOLERANCE = 0.01
"""Largest accepted growth of IoU RMSE from fp32 to another precision."""

F2_TOLERANCE = 0.02
"""Largest accepted fall of type or action F2 from fp32 to another precision."""


def bundle_outputs(
    graph_dir: str | Path,
    precision: str,
    store: ClipStore,
    text_embeddings: np.ndarray,
    batch_items: int = 8,
    threads: int = 0,
    simulate: bool = False,
) -> dict[str, np.ndarray]:
    """Run one precision of the trained graphs over every candidate of a store.

    Args:
        graph_dir: Folder with ``<graph>.<precision>.onnx`` of the three trained graphs.
        precision: ``fp32``, ``int8`` or ``int8-trt``.
        store: The split.
        text_embeddings: float32 [E, 384] of ``store.expressions``.
        batch_items: Items (frames with their candidates) per head run. Defaults to 8.
        threads: onnxruntime intra-op threads (0: its default). Defaults to 0.
        simulate: Run QDQ graphs as an exact INT8 simulation (graph optimisations off) rather
            than with the CPU's integer kernels: the ``int8-trt`` variant is meant for
            TensorRT, whose INT8 arithmetic this reproduces up to rounding. Defaults to False.

    Returns:
        ``iou`` [M], ``type_probs`` [M, 7], ``action_probs`` [M, 4] for the M candidates in
        store order (item order, then candidate order).
    """
    graph_dir = Path(graph_dir)
    encoders = EncoderCache(
        graph_dir / contract.graph_file(contract.FRAME_ENCODER, precision),
        graph_dir / contract.graph_file(contract.AUDIO_ENCODER, precision),
        threads=threads,
        optimize=not simulate,
    )
    head = cpu_session(
        graph_dir / contract.graph_file(contract.AUDIT_HEAD, precision), threads, not simulate
    )
    ious, types, actions = [], [], []
    for start in range(0, len(store.items), batch_items):
        items = store.items[start : start + batch_items]
        batch = make_batch(store, items, text_embeddings)
        parts: dict[str, list[np.ndarray]] = {
            name: [] for name in contract.INPUTS[contract.AUDIT_HEAD]
        }
        for item in items:
            feats, audio = encoders.clip(
                item.video, store.frames[item.video], store.log_mels[item.video].astype(np.float32)
            )
            for name in ("feat0", "feat1", "feat2", "frame_global"):
                parts[name].append(feats[name][item.frame])
            parts["context_maps"].append(feats["context"])
            parts["context_audio"].append(audio)
        inputs = {name: np.stack(values) for name, values in parts.items() if values}
        inputs["context_valid"] = batch["context_valid"].numpy()
        inputs["text_embedding"] = batch["text_embedding"].numpy()
        inputs["masks"] = batch["masks"].numpy()
        iou, type_logits, action_logits = head.run(None, inputs)
        for p, item in enumerate(items):
            n = len(item.candidates)
            ious.append(iou[p, :n])
            types.append(softmax(type_logits[p, :n]))
            actions.append(softmax(action_logits[p, :n]))
    return {
        "iou": np.concatenate(ious),
        "type_probs": np.concatenate(types),
        "action_probs": np.concatenate(actions),
    }


def candidate_labels(store: ClipStore) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Return the store's candidates in output order: index, true actions, empty masks.

    Args:
        store: A split, its candidates ordered by item as :func:`bundle_outputs` runs them.

    Returns:
        ``(index into the store's arrays, true action names, bool empty-mask flags)``.
    """
    from maskaudit.labels import ACTIONS

    index = np.concatenate(
        [np.arange(i.first_mask, i.first_mask + len(i.candidates)) for i in store.items]
    )
    actions = [ACTIONS[a] for a in store.actions[index]]
    empty = store.masks[index].reshape(len(index), -1).max(axis=1) == 0
    return index, actions, empty


def score_outputs(
    outputs: Mapping[str, np.ndarray],
    store: ClipStore,
    thresholds: PolicyThresholds | None = None,
) -> dict[str, float]:
    """Score model outputs against a store's labels, as the runtime would answer.

    Args:
        outputs: As :func:`bundle_outputs` returns them.
        store: The split they were computed on.
        thresholds: The verdict policy's thresholds. Defaults to None: ``PolicyThresholds()``.

    Returns:
        ``iou_rmse``, ``type_f2`` and ``action_f2`` (after the verdict policy),
        ``type_f2_raw`` and ``action_f2_raw`` (the heads' argmax) and ``candidates``.
    """
    from maskaudit.eval.metrics import action_report, iou_rmse, type_report
    from maskaudit.labels import ACTIONS, TRAIN_TYPES
    from maskaudit.runtime.policy import decide

    index, true_action, empty = candidate_labels(store)
    true_iou = store.ious[index]
    true_type = [TRAIN_TYPES[t] for t in store.types[index]]
    decisions = [
        decide(float(i), t, a, thresholds, empty=bool(e))
        for i, t, a, e in zip(
            outputs["iou"], outputs["type_probs"], outputs["action_probs"], empty, strict=True
        )
    ]
    raw_type = [TRAIN_TYPES[int(t)] for t in outputs["type_probs"].argmax(axis=1)]
    raw_action = [ACTIONS[int(a)] for a in outputs["action_probs"].argmax(axis=1)]
    return {
        "iou_rmse": iou_rmse([d.iou for d in decisions], true_iou),
        "type_f2": type_report(true_type, [d.mask_type for d in decisions]).macro_fbeta,
        "action_f2": action_report(true_action, [d.action for d in decisions]).macro_fbeta,
        "type_f2_raw": type_report(true_type, raw_type).macro_fbeta,
        "action_f2_raw": action_report(true_action, raw_action).macro_fbeta,
        "candidates": int(len(index)),
    }


def evaluate_precision(
    graph_dir: str | Path,
    precision: str,
    store: ClipStore,
    text_embeddings: np.ndarray,
    threads: int = 0,
    simulate: bool | None = None,
    thresholds: PolicyThresholds | None = None,
) -> dict[str, float]:
    """Return the scores of one bundle precision on one split (see :func:`score_outputs`).

    Args:
        graph_dir: Folder with the precision's graphs.
        precision: ``fp32``, ``int8`` or ``int8-trt``.
        store: The split.
        text_embeddings: float32 [E, 384] of ``store.expressions``.
        threads: onnxruntime intra-op threads (0: its default). Defaults to 0.
        simulate: Exact INT8 simulation (see :func:`bundle_outputs`); None simulates the
            ``int8-trt`` variant only. Defaults to None.
        thresholds: The verdict policy's thresholds. Defaults to None: ``PolicyThresholds()``.

    Returns:
        The scores.
    """
    if simulate is None:
        simulate = precision == "int8-trt"
    outputs = bundle_outputs(
        graph_dir, precision, store, text_embeddings, threads=threads, simulate=simulate
    )
    scores = score_outputs(outputs, store, thresholds)
    logger.info("%s on %d candidates: %s", precision, scores["candidates"], scores)
    return scores


def compare_precisions(table: Mapping[str, Mapping[str, float]]) -> dict[str, dict]:
    """Compare every precision of a split's table with fp32 against the tolerances.

    Args:
        table: ``{precision: scores}`` with an ``fp32`` entry.

    Returns:
        ``{precision: {"iou_rmse_change", "type_f2_change", "action_f2_change",
        "within_tolerance"}}`` for every precision but fp32. Changes are other minus fp32;
        within tolerance means IoU RMSE grew by at most ``IOU_RMSE_TOLERANCE`` (0.01) and
        both F2 fell by at most ``F2_TOLERANCE`` (0.02).
    """
    base = table["fp32"]
    out: dict[str, dict] = {}
    for precision, scores in table.items():
        if precision == "fp32":
            continue
        change = {key: scores[key] - base[key] for key in ("iou_rmse", "type_f2", "action_f2")}
        finite = all(math.isfinite(v) for v in change.values())
        ok = finite and (
            change["iou_rmse"] <= IOU_RMSE_TOLERANCE
            and change["type_f2"] >= -F2_TOLERANCE
            and change["action_f2"] >= -F2_TOLERANCE
        )
        out[precision] = {
            "iou_rmse_change": change["iou_rmse"],
            "type_f2_change": change["type_f2"],
            "action_f2_change": change["action_f2"],
            "within_tolerance": bool(ok),
        }
    return out


def accuracy_section(
    graph_dir: str | Path,
    precisions: tuple[str, ...],
    splits: Mapping[str, tuple[ClipStore, np.ndarray]],
    threads: int = 0,
    thresholds: PolicyThresholds | None = None,
) -> dict:
    """Evaluate every precision on every split: the manifest's ``accuracy`` section.

    Args:
        graph_dir: Folder with the graphs of every precision.
        precisions: Precisions to evaluate; ``fp32`` must be one.
        splits: ``{split name: (store, text embeddings)}``, e.g. ``test_s`` and ``test_u``
            in image mode.
        threads: onnxruntime intra-op threads. Defaults to 0.
        thresholds: The verdict policy's thresholds (the bundle's). Defaults to None:
            ``PolicyThresholds()``.

    Returns:
        ``{"mode": "image", "tolerance": {...}, "splits": {split: {"scores": {precision:
        scores}, "vs_fp32": {...}}}}``; ``int8-trt`` is scored by exact INT8 simulation in
        onnxruntime (TensorRT itself is not run here).
    """
    section: dict = {
        "mode": "image",
        "runtime": "onnxruntime CPU (int8-trt: QDQ simulation with graph optimisations off)",
        "tolerance": {"iou_rmse_growth": IOU_RMSE_TOLERANCE, "f2_fall": F2_TOLERANCE},
        "splits": {},
    }
    for split, (store, embeddings) in splits.items():
        scores = {
            p: evaluate_precision(graph_dir, p, store, embeddings, threads, thresholds=thresholds)
            for p in precisions
        }
        section["splits"][split] = {"scores": scores, "vs_fp32": compare_precisions(scores)}
    return section
