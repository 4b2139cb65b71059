"""Benchmark clips held in memory as model-ready arrays, through the runtime's preprocessing.

Every frame, audio window and mask goes through ``maskaudit.features``, the same functions the
runtime uses, so training and deployment can never see different inputs.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from maskaudit.data.reader import iter_candidates, load_scene_info
from maskaudit.data.records import Candidate
from maskaudit.errors import DataError
from maskaudit.features.audio import load_audio, log_mel_batch, split_windows
from maskaudit.features.constants import CONTEXT_SECONDS, FRAME_SIZE
from maskaudit.features.frame import prepare_frame, read_frame
from maskaudit.features.mask import read_mask, resize_mask
from maskaudit.labels import ACTIONS, TRAIN_TYPES
from maskaudit.model.categories import NO_CATEGORY, CategoryLabels

logger = logging.getLogger(__name__)


@dataclass
class Item:
    """The candidates of one expression on one frame of one clip."""

    uid: str
    video: int
    frame: int
    expression: int
    candidates: list[Candidate]
    first_mask: int
    named: int = NO_CATEGORY

    @property
    def kind(self) -> str:
        """The expression's kind (e.g. ``loudest``), or "" where the benchmark gives none."""
        return self.candidates[0].expression_kind


@dataclass
class ClipStore:
    """Model-ready arrays of a benchmark split.

    Attributes:
        frames: uint8 [V, T, S, S, 3], every clip's frames.
        log_mels: float16 [V, T, n_mels, 101], every clip's audio windows.
        masks: uint8 [M, S, S], every candidate's soft coverage scaled to 0..255.
        types: int64 [M], index into ``TRAIN_TYPES``.
        actions: int64 [M], index into ``ACTIONS``.
        ious: float32 [M].
        expressions: The distinct expressions, indexed by ``Item.expression``.
        items: One entry per (uid, frame).
        videos: Video ids, indexed by ``Item.video``.
        categories: int64 [M], the category of each whole-object candidate (index into
            ``maskaudit.model.categories.category_names``), ``NO_CATEGORY`` for the rest.
    """

    frames: np.ndarray
    log_mels: np.ndarray
    masks: np.ndarray
    types: np.ndarray
    actions: np.ndarray
    ious: np.ndarray
    expressions: list[str]
    items: list[Item]
    videos: list[str] = field(default_factory=list)
    categories: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def subset(self, keep: Callable[[Item], bool]) -> ClipStore:
        """Return a store sharing the arrays but holding only the items ``keep`` accepts."""
        return replace(self, items=[item for item in self.items if keep(item)])


def video_in_holdout(vid: str, fraction: float) -> bool:
    """Return True when ``vid`` falls in the held-out share, decided by a stable hash."""
    digest = hashlib.sha256(vid.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < fraction


def load_clip(frames_dir: Path, audio_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a clip's T frames and T audio windows through the runtime's preprocessing."""
    frames = np.stack(
        [prepare_frame(read_frame(frames_dir / f"{k}.jpg")) for k in range(CONTEXT_SECONDS)]
    )
    windows = split_windows(load_audio(audio_path), n_windows=CONTEXT_SECONDS)
    return frames, log_mel_batch(windows).astype(np.float16)


def group_items(candidates: Iterable[Candidate]) -> OrderedDict[tuple[str, int], list[Candidate]]:
    """Group candidates by (uid, frame), keeping file order."""
    groups: OrderedDict[tuple[str, int], list[Candidate]] = OrderedDict()
    for cand in candidates:
        groups.setdefault((cand.uid, cand.frame), []).append(cand)
    return groups


def build_store(
    root: Path,
    split: str,
    mode: str,
    progress: bool = True,
    keep: Callable[[Candidate], bool] | None = None,
) -> ClipStore:
    """Read one split of a benchmark folder into memory.

    Args:
        root: The benchmark folder (MQ-RAVSBench layout).
        split: ``train``, ``test_s`` or ``test_u``.
        mode: ``train``, ``image`` or ``video``.
        progress: Show a progress bar on stderr. Defaults to True.
        keep: Read only the candidates for which this returns True (e.g. the held-out videos,
            with :func:`video_in_holdout`). Defaults to None: every candidate.

    Returns:
        The split's clips, candidates and labels.

    Raises:
        DataError: If no candidate is read.
    """
    candidates = iter_candidates(root, split, mode)
    if keep is not None:
        candidates = (c for c in candidates if keep(c))
    groups = group_items(candidates)
    if not groups:
        chosen = " among those kept" if keep is not None else ""
        raise DataError(
            f"{root} has no {split} candidates in {mode} mode{chosen}: check the folder "
            "(made by `maskaudit synth`) and the split"
        )
    video_index: dict[str, int] = {}
    frames: list[np.ndarray] = []
    mels: list[np.ndarray] = []
    expressions: dict[str, int] = {}
    items: list[Item] = []
    masks: list[np.ndarray] = []
    types: list[int] = []
    actions: list[int] = []
    ious: list[float] = []
    categories: list[int] = []
    labels = CategoryLabels(load_scene_info(root))
    iterator = groups.items()
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, total=len(groups), desc=f"reading {split}/{mode}", unit="item")
    for (uid, frame), cands in iterator:
        first = cands[0]
        if first.vid not in video_index:
            clip_frames, clip_mels = load_clip(first.frames_dir, first.audio_path)
            video_index[first.vid] = len(frames)
            frames.append(clip_frames)
            mels.append(clip_mels)
        expr = expressions.setdefault(first.expression, len(expressions))
        named = labels.named_by(uid)
        items.append(Item(uid, video_index[first.vid], frame, expr, cands, len(masks), named))
        for cand in cands:
            coverage = resize_mask(read_mask(cand.mask_path), FRAME_SIZE)
            masks.append(np.round(coverage * 255.0).astype(np.uint8))
            types.append(TRAIN_TYPES.index(cand.mask_type))
            actions.append(ACTIONS.index(cand.action))
            ious.append(cand.iou)
            categories.append(labels.of_candidate(cand))
    logger.info(
        "%s/%s: %d clips, %d items, %d candidates", split, mode, len(frames), len(items), len(masks)
    )
    return ClipStore(
        frames=np.stack(frames),
        log_mels=np.stack(mels),
        masks=np.stack(masks),
        types=np.asarray(types, dtype=np.int64),
        actions=np.asarray(actions, dtype=np.int64),
        ious=np.asarray(ious, dtype=np.float32),
        expressions=list(expressions),
        items=items,
        videos=list(video_index),
        categories=np.asarray(categories, dtype=np.int64),
    )
