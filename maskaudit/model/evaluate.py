"""Score a trained run on a benchmark split, with optional modality ablations."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from maskaudit.data.records import Candidate
from maskaudit.eval.answer import Answer
from maskaudit.eval.predictions import PredictionKey, answer_from_record
from maskaudit.features.audio import log_mel_batch
from maskaudit.features.constants import SAMPLE_RATE
from maskaudit.model.auditor import AuditorModel
from maskaudit.model.config import RunConfig
from maskaudit.model.dataset import ClipStore, Item, build_store
from maskaudit.model.predict import predict_store, verdict_records
from maskaudit.model.text_cache import TEXT_ENCODER_FILE, embed_expressions, ensure_text_encoder
from maskaudit.model.train import WEIGHTS

logger = logging.getLogger(__name__)

ABLATIONS = ("none", "swap_expression", "silence")
"""``swap_expression`` gives each item another expression of the same video; ``silence``
replaces every audio window by silence."""


def load_run(run: Path) -> tuple[AuditorModel, RunConfig]:
    """Load a run folder's configuration and final weights."""
    config = RunConfig.load(run / "config.json")
    model = AuditorModel(config.model)
    model.load_state_dict(torch.load(run / WEIGHTS, weights_only=True))
    model.eval()
    return model, config


def swap_expressions(store: ClipStore) -> ClipStore:
    """Give every item the expression of another item of the same video, where one exists.

    Items whose video has a single expression keep theirs and are dropped from the result, so
    the ablation only scores items whose expression really changed.
    """
    by_video: dict[int, list[Item]] = {}
    for item in store.items:
        by_video.setdefault(item.video, []).append(item)
    swapped = []
    for item in store.items:
        others = [o.expression for o in by_video[item.video] if o.expression != item.expression]
        if others:
            swapped.append(
                Item(item.uid, item.video, item.frame, others[0], item.candidates, item.first_mask)
            )
    return replace(store, items=swapped)


def silence(store: ClipStore) -> ClipStore:
    """Return the store with every audio window replaced by silence."""
    quiet = log_mel_batch(np.zeros((1, SAMPLE_RATE), dtype=np.float32)).astype(np.float16)
    log_mels = np.broadcast_to(quiet, store.log_mels.shape).copy()
    return replace(store, log_mels=log_mels)


def predict_split(
    run: Path,
    data: Path,
    split: str,
    mode: str,
    ablation: str = "none",
    store: ClipStore | None = None,
) -> tuple[list[Candidate], dict[PredictionKey, Answer], list[dict]]:
    """Run a trained auditor over one split and mode.

    Args:
        run: The run folder (``model.pt``, ``config.json``).
        data: The benchmark folder.
        split: ``test_s`` or ``test_u`` (or ``train``).
        mode: ``image`` or ``video``.
        ablation: One of ``ABLATIONS``. Defaults to ``none``.
        store: An already-read store of that split and mode, to skip reading it again.

    Returns:
        The scored candidates, their answers keyed for the evaluator, and the verdict records.
    """
    if ablation not in ABLATIONS:
        raise ValueError(f"unknown ablation {ablation!r}; expected one of {ABLATIONS}")
    model, config = load_run(run)
    store = store if store is not None else build_store(data, split, mode)
    if ablation == "swap_expression":
        store = swap_expressions(store)
    elif ablation == "silence":
        store = silence(store)
    text_dir = Path(config.text_encoder)
    if not (text_dir / TEXT_ENCODER_FILE).exists():
        text_dir = ensure_text_encoder(run / "text_encoder")
    embeddings = embed_expressions(store.expressions, text_dir)
    outputs = predict_store(model, store, embeddings)
    records = list(verdict_records(outputs, store))
    candidates = [c for item in store.items for c in item.candidates]
    answers = {(r["uid"], r["frame"], r["mask_id"]): answer_from_record(r) for r in records}
    return candidates, answers, records


def grounding_accuracy(
    candidates: list[Candidate], answers: dict[PredictionKey, Answer]
) -> dict[str, float]:
    """Accuracy of perfect-vs-full_neg typing, overall and per expression kind.

    A perfect candidate counts as right when predicted ``perfect``, a full_neg one when
    predicted ``full_neg``.
    """
    hits: dict[str, list[bool]] = {}
    for cand in candidates:
        if cand.mask_type not in ("perfect", "full_neg"):
            continue
        answer = answers.get((cand.uid, cand.frame, cand.mask_id))
        right = answer is not None and answer.mask_type == cand.mask_type
        hits.setdefault("all", []).append(right)
        hits.setdefault(cand.expression_kind or "unknown", []).append(right)
    return {kind: float(np.mean(v)) for kind, v in sorted(hits.items())}
