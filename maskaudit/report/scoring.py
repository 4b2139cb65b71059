"""A bundle's verdicts on a benchmark split, as the runtime would give them.

The split is read into a :class:`~maskaudit.model.dataset.ClipStore` (optionally an even draw
of its items), its expressions are embedded with the bundle's own text encoder, the bundle's
graphs run through :func:`maskaudit.export.accuracy.bundle_outputs` (onnxruntime on the CPU,
the whole clip as context) and each candidate's scores go through the bundle's verdict policy
(:func:`maskaudit.runtime.policy.decide`). This path needs PyTorch (the batching of
``maskaudit.model.batch``): the ``train`` extra.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from maskaudit.data.records import Candidate
from maskaudit.errors import BundleError
from maskaudit.eval.answer import Answer
from maskaudit.eval.predictions import PredictionKey, answer_from_record, candidate_key
from maskaudit.report.numbers import draw_groups
from maskaudit.runtime.bundle import Bundle

logger = logging.getLogger(__name__)

Progress = Callable[[Iterable[Any], str], Iterable[Any]]
"""Wraps an iteration, given a label (``progress(items, label)``), to show progress."""

TRAINED_GRAPHS: tuple[str, ...] = ("frame_encoder", "audio_encoder", "audit_head")
"""The graphs ``bundle_outputs`` runs in the asked precision."""

TEXT_ENCODER_FILE = "text_encoder.int8.onnx"
"""The text-encoder graph expressions are embedded with (the one training embeds with)."""

CHUNK_ITEMS = 64
"""Items (frames with their candidates) per call of ``bundle_outputs``: one progress step."""


def quiet(items: Iterable[Any], label: str) -> Iterable[Any]:
    """Return ``items`` unchanged: a ``Progress`` that shows nothing.

    Args:
        items: Anything iterable.
        label: What the iteration does (ignored).

    Returns:
        ``items``.
    """
    return items


@dataclass
class SplitVerdicts:
    """A bundle's verdicts on the candidates of one split, in store order.

    Attributes:
        split: The split's name.
        candidates: Every candidate scored (``null`` ones included), in store order.
        answers: The verdict of each candidate as an ``Answer``, keyed as the protocol keys.
        available: Candidates the whole split holds (before a ``limit`` draw).
    """

    split: str
    candidates: list[Candidate]
    answers: dict[PredictionKey, Answer]
    available: int


def check_precision(bundle: Bundle, precision: str) -> None:
    """Check that the bundle has the graphs a split is scored with, in ``precision``.

    Args:
        bundle: The loaded bundle.
        precision: ``int8`` or ``fp32``.

    Raises:
        BundleError: If a trained graph lacks that precision, or the int8 text encoder (the
            one expressions are embedded with) is missing.
    """
    for graph in TRAINED_GRAPHS:
        if precision not in bundle.precisions(graph):
            raise BundleError(
                f"bundle {bundle.path} has no {precision} {graph} "
                f"(it has {', '.join(bundle.precisions(graph)) or 'none'}): "
                "pass --precision with one of those"
            )
    if not (bundle.path / TEXT_ENCODER_FILE).is_file():
        raise BundleError(
            f"bundle {bundle.path} has no {TEXT_ENCODER_FILE}, which the report embeds "
            "expressions with: export the bundle with its int8 text encoder"
        )


def read_split(data: Path, split: str, limit: int | None = None, progress: bool = True):
    """Read a split in image mode, keeping an even draw of at most ``limit`` candidates.

    Whole items are drawn (every candidate of a drawn expression's key frame is kept) with
    :func:`~maskaudit.report.numbers.draw_groups`.

    Args:
        data: The benchmark folder.
        split: ``test_s`` or ``test_u``.
        limit: Most candidates to keep. Defaults to None: all.
        progress: Show ``build_store``'s progress bar on stderr. Defaults to True.

    Returns:
        (the store, restricted to the drawn items; the candidates the split holds).
    """
    from maskaudit.model.dataset import build_store

    store = build_store(data, split, "image", progress=progress)
    available = sum(len(item.candidates) for item in store.items)
    drawn = draw_groups([len(item.candidates) for item in store.items], limit)
    return replace(store, items=[store.items[i] for i in drawn]), available


def bundle_verdicts(
    bundle: Bundle,
    precision: str,
    store: Any,
    split: str,
    available: int | None = None,
    progress: Progress = quiet,
) -> SplitVerdicts:
    """Run the bundle over every candidate of a store and apply its verdict policy.

    Args:
        bundle: The loaded bundle (see :func:`check_precision`).
        precision: ``int8`` or ``fp32``: the file precision of the three trained graphs.
        store: A :class:`~maskaudit.model.dataset.ClipStore` of the split (image mode).
        split: The split's name, for the record.
        available: Candidates of the whole split. Defaults to None: those of the store.
        progress: Wraps the iteration over chunks of items. Defaults to ``quiet``.

    Returns:
        The verdicts, in store order.
    """
    from maskaudit.export.accuracy import bundle_outputs
    from maskaudit.model.text_cache import embed_expressions
    from maskaudit.runtime.policy import decide

    embeddings = embed_expressions(store.expressions, bundle.path)
    chunks = [
        replace(store, items=store.items[i : i + CHUNK_ITEMS])
        for i in range(0, len(store.items), CHUNK_ITEMS)
    ]
    candidates: list[Candidate] = []
    answers: dict[PredictionKey, Answer] = {}
    for chunk in progress(chunks, f"auditing {split} ({precision})"):
        outputs = bundle_outputs(bundle.path, precision, chunk, embeddings)
        chunk_candidates = [c for item in chunk.items for c in item.candidates]
        index = np.concatenate(
            [np.arange(i.first_mask, i.first_mask + len(i.candidates)) for i in chunk.items]
        )
        empty = chunk.masks[index].reshape(len(index), -1).max(axis=1) == 0
        for k, candidate in enumerate(chunk_candidates):
            decision = decide(
                float(outputs["iou"][k]),
                outputs["type_probs"][k],
                outputs["action_probs"][k],
                bundle.policy,
                empty=bool(empty[k]),
            )
            answers[candidate_key(candidate)] = answer_from_record(
                {"iou": decision.iou, "mask_type": decision.mask_type, "action": decision.action}
            )
        candidates.extend(chunk_candidates)
    logger.info("%s: %d verdicts from %s (%s)", split, len(candidates), bundle.id, precision)
    return SplitVerdicts(
        split, candidates, answers, len(candidates) if available is None else available
    )
