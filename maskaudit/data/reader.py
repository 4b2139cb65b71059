"""Read MQ-RAVSBench (real or synthetic) as a stream of ``Candidate`` records.

Accepts every schema variant of the benchmark's files: items as a list or a dict keyed by uid,
``gt_mask_path`` as a dict or a plain path, missing ``null_masks`` (or other candidate lists),
missing ``rank`` (read as -1) and missing ``action`` (computed with the task's rule). Type keys
are normalised by substring (``maskaudit.labels.normalise_type``).

A candidate's ``mask_id`` is deterministic: ``perfect``, ``<type>_<rank>_<i>`` for the lists of
``part_neg_masks``, ``full_neg_<i>`` and ``null_<i>``, where ``i`` is the position in its list.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from maskaudit.data.records import Candidate
from maskaudit.errors import ConfigError, DataError
from maskaudit.labels import (
    ACTIONS,
    GEOMETRIC_TYPES,
    TRAIN_TYPES,
    action_for,
    normalise_action,
    normalise_type,
)

META_DIR = "train_test_meta_files"
"""Folder of the metadata and JSON files, under the benchmark root."""

MODES: tuple[str, ...] = ("train", "image", "video")
"""Reading modes: the training file, or the image- or video-mode test files."""

TEST_SPLITS: tuple[str, ...] = ("test_s", "test_u")
"""Splits of the test files."""

_NULL_PREFIX = re.compile(r"^null_[^-]*-")


def benchmark_file(root: str | Path, split: str, mode: str) -> Path:
    """Path of the JSON file that holds ``split`` in ``mode``.

    Args:
        root: Benchmark root.
        split: ``train`` (with mode ``train``), ``test_s`` or ``test_u``.
        mode: One of ``MODES``.

    Returns:
        The file's path (not checked for existence).

    Raises:
        ConfigError: On an unknown mode or a split the mode does not have.
    """
    meta = Path(root) / META_DIR
    if mode == "train":
        if split != "train":
            raise ConfigError(f"mode 'train' reads split 'train', not {split!r}")
        return meta / "train_audit_only_filtered.json"
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}; expected one of {MODES}")
    if split not in TEST_SPLITS:
        raise ConfigError(f"mode {mode!r} reads split test_s or test_u, not {split!r}")
    return meta / f"{split}_{mode}_filtered.json"


def _load_json(path: Path) -> object:
    """Load a JSON file, raising ``DataError`` that names it."""
    if not path.is_file():
        raise DataError(f"benchmark file {path} not found: check the benchmark root and split")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # ValueError: also numbers too long
        raise DataError(f"benchmark file {path} is not valid JSON ({exc})") from exc


@lru_cache(maxsize=8)
def _metadata(meta_path: Path, mtime: float) -> dict[str, dict[str, str]]:
    """Rows of metadata.csv by uid (cached per file version)."""
    rows: dict[str, dict[str, str]] = {}
    with meta_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"vid", "uid", "exp"} - set(reader.fieldnames or [])
        if missing:
            raise DataError(f"{meta_path} lacks columns {sorted(missing)}")
        for row in reader:
            rows[row["uid"]] = row
    return rows


def load_metadata(root: str | Path) -> dict[str, dict[str, str]]:
    """Read ``metadata.csv`` of a benchmark.

    Args:
        root: Benchmark root.

    Returns:
        Row (vid, uid, split, fid, exp and kfid where present) per uid.

    Raises:
        DataError: If the file is missing or lacks the vid, uid or exp column.
    """
    path = Path(root) / META_DIR / "metadata.csv"
    if not path.is_file():
        raise DataError(f"{path} not found: the benchmark needs its metadata.csv")
    return _metadata(path, path.stat().st_mtime)


def load_scene_info(root: str | Path) -> dict:
    """Read the synthetic benchmark's sidecar of scene facts.

    Args:
        root: Benchmark root.

    Returns:
        The sidecar (``videos`` by vid, ``expressions`` by uid), or {} when the benchmark has
        none (the real MQ-RAVSBench).

    Raises:
        DataError: If the sidecar exists but is not valid JSON.
    """
    path = Path(root) / META_DIR / "synth_scenes.json"
    if not path.is_file():
        return {}
    document = _load_json(path)
    if not isinstance(document, dict):
        raise DataError(f"{path} should hold a JSON object")
    return document


class _Context:
    """What every candidate of one file shares: the root, file, split, mode and lookups."""

    def __init__(self, root: Path, path: Path, split: str, mode: str):
        self.root = root
        self.path = path
        self.split = split
        self.mode = mode
        self.metadata = load_metadata(root)
        info = load_scene_info(root)
        self.kinds = {uid: str(e.get("kind", "")) for uid, e in info.get("expressions", {}).items()}

    def fail(self, uid: str, field: str, problem: str) -> DataError:
        return DataError(f"{self.path}: uid {uid}: field {field} {problem}")

    def absolute(self, value: object, uid: str, field: str) -> Path:
        if not isinstance(value, str) or not value:
            raise self.fail(uid, field, "should be a non-empty path string")
        path = Path(value)
        return path if path.is_absolute() else self.root / path

    def row(self, uid: str) -> dict[str, str]:
        if uid not in self.metadata:
            raise self.fail(uid, "uid", f"is not in {self.root / META_DIR / 'metadata.csv'}")
        return self.metadata[uid]


def _vid_of(uid: str, row: dict[str, str]) -> str:
    """The uid's video id: from metadata, else from the uid (without a ``null_x-`` prefix)."""
    if row.get("vid"):
        return row["vid"]
    return _NULL_PREFIX.sub("", uid).rsplit("_", 2)[0]


def _frame_of(image_path: Path, fallback: int) -> int:
    """Frame index from an image file name like ``7.jpg``, else ``fallback``."""
    match = re.fullmatch(r"(\d+)", image_path.stem)
    return int(match.group(1)) if match else fallback


def _number(ctx: _Context, uid: str, field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ctx.fail(uid, field, f"should be a number, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise ctx.fail(uid, field, f"should be a number, got {value!r}") from None
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise ctx.fail(uid, field, f"should be an IoU in [0, 1], got {value!r}")
    return number


def _rank(ctx: _Context, uid: str, field: str, value: object) -> int:
    if value is None:
        return -1
    if isinstance(value, bool):
        raise ctx.fail(uid, field, f"should be an integer rank, got {value!r}")
    try:
        rank = int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an infinite float
        raise ctx.fail(uid, field, f"should be an integer rank, got {value!r}") from None
    if rank != value and str(rank) != str(value):
        raise ctx.fail(uid, field, f"should be an integer rank, got {value!r}")
    return rank


def _action(ctx: _Context, uid: str, field: str, value: object, mask_type: str, iou: float) -> str:
    if value is None:
        return action_for(mask_type, iou)
    action = normalise_action(value) if isinstance(value, str) else None
    if action not in ACTIONS:
        raise ctx.fail(uid, field, f"should be one of {ACTIONS}, got {value!r}")
    return action


def _entry_candidates(
    ctx: _Context, uid: str, entry: object, field: str, frame: int | None, image: object
) -> Iterator[Candidate]:
    """Candidates of one item (image or train mode) or one frame (video mode)."""
    if not isinstance(entry, dict):
        raise ctx.fail(uid, field, "should be a JSON object")
    row = ctx.row(uid)
    vid = _vid_of(uid, row)
    media = ctx.root / "media" / vid
    if frame is None:
        kfid = entry.get("kfid", row.get("kfid"))
        frame = _rank(ctx, uid, f"{field}.kfid", kfid) if kfid not in (None, "") else 0
    if image is None:
        image_path = media / "frames" / f"{frame}.jpg"
    else:
        image_path = ctx.absolute(image, uid, f"{field}.image_path")
        frame = _frame_of(image_path, frame)
    audio_root = "media_cross" if uid.startswith("null_") else "media"
    shared = {
        "uid": uid,
        "vid": vid,
        "split": ctx.split,
        "mode": ctx.mode,
        "frame": frame,
        "image_path": image_path,
        "audio_path": ctx.root / audio_root / vid / "audio.wav",
        "expression": row.get("exp", "").strip().lower(),
        "expression_kind": ctx.kinds.get(uid, ""),
        "frames_dir": media / "frames",
    }

    def make(
        item: object, where: str, mask_type: str, mask_id: str, default_iou: float | None
    ) -> Candidate:
        if isinstance(item, str) and default_iou is not None:
            item = {"mask_path": item}
        if not isinstance(item, dict):
            raise ctx.fail(uid, where, "should be a JSON object with mask_path and iou_to_gt")
        if "mask_path" not in item:
            raise ctx.fail(uid, f"{where}.mask_path", "is missing")
        if "iou_to_gt" in item:
            iou = _number(ctx, uid, f"{where}.iou_to_gt", item["iou_to_gt"])
        elif default_iou is not None:
            iou = default_iou
        else:
            raise ctx.fail(uid, f"{where}.iou_to_gt", "is missing")
        rank = _rank(ctx, uid, f"{where}.rank", item.get("rank"))
        return Candidate(
            mask_id=mask_id.format(rank=rank),
            mask_type=mask_type,
            rank=rank,
            iou=iou,
            action=_action(ctx, uid, f"{where}.action", item.get("action"), mask_type, iou),
            mask_path=ctx.absolute(item["mask_path"], uid, f"{where}.mask_path"),
            **shared,
        )

    if "gt_mask_path" not in entry:
        raise ctx.fail(uid, f"{field}.gt_mask_path", "is missing")
    yield make(entry["gt_mask_path"], f"{field}.gt_mask_path", "perfect", "perfect", 1.0)

    part = entry.get("part_neg_masks") or {}
    if not isinstance(part, dict):
        raise ctx.fail(uid, f"{field}.part_neg_masks", "should map types to lists")
    for key, items in part.items():
        mask_type = normalise_type(str(key))
        if mask_type is None:
            raise ctx.fail(
                uid, f"{field}.part_neg_masks.{key}", f"is not a known type ({TRAIN_TYPES})"
            )
        if not isinstance(items, list):
            raise ctx.fail(uid, f"{field}.part_neg_masks.{key}", "should be a list")
        for i, item in enumerate(items):
            where = f"{field}.part_neg_masks.{key}[{i}]"
            yield make(item, where, mask_type, f"{mask_type}_{{rank}}_{i}", None)

    for key, mask_type in (("full_neg_masks", "full_neg"), ("null_masks", "null")):
        items = entry.get(key) or []
        if not isinstance(items, list):
            raise ctx.fail(uid, f"{field}.{key}", "should be a list")
        for i, item in enumerate(items):
            default = 0.0 if mask_type == "null" else None
            yield make(item, f"{field}.{key}[{i}]", mask_type, f"{mask_type}_{i}", default)


def _items(ctx: _Context, document: object) -> Iterator[tuple[str, object, str]]:
    """(uid, item, field) of a file holding a list of items or a dict keyed by uid."""
    if isinstance(document, dict):
        for uid, item in document.items():
            yield str(uid), item, str(uid)
    elif isinstance(document, list):
        for i, item in enumerate(document):
            uid = item.get("uid") if isinstance(item, dict) else None
            if not isinstance(uid, str) or not uid:
                raise ctx.fail(f"#{i}", f"[{i}].uid", "is missing")
            yield uid, item, f"[{i}]"
    else:
        raise DataError(f"{ctx.path}: should hold a JSON list or object of items")


def _all_candidates(ctx: _Context, document: object) -> Iterator[Candidate]:
    """Every candidate of a file, in file order."""
    for uid, item, field in _items(ctx, document):
        if ctx.mode != "video":
            image = item.get("image_path") if isinstance(item, dict) else None
            yield from _entry_candidates(ctx, uid, item, field, None, image)
            continue
        frames = item.get("frames") if isinstance(item, dict) else None
        if not isinstance(frames, list):
            raise ctx.fail(uid, f"{field}.frames", "should be a list of frames")
        for k, frame in enumerate(frames):
            where = f"{field}.frames[{k}]"
            if not isinstance(frame, dict):
                raise ctx.fail(uid, where, "should be a JSON object")
            index = _rank(ctx, uid, f"{where}.frame", frame.get("frame", k))
            yield from _entry_candidates(ctx, uid, frame, where, index, frame.get("image_path"))


def iter_candidates(
    root: str | Path, split: str, mode: str, mask_type: str | None = None, rank: int = -1
) -> Iterator[Candidate]:
    """Yield the candidates of one split and mode, optionally filtered as the protocol does.

    Args:
        root: Benchmark root (holds ``media/`` and ``train_test_meta_files/``).
        split: ``train`` (mode ``train``), ``test_s`` or ``test_u``.
        mode: ``train`` (the training file), ``image`` or ``video`` (the test files).
        mask_type: Keep only this type (any spelling ``normalise_type`` accepts). Defaults to
            None (all types).
        rank: 1 or 2 keeps only that rank of the geometric types (cutout, erode, dilate); other
            types are never filtered by rank. Defaults to -1 (all ranks).

    Yields:
        Candidates in file order.

    Raises:
        ConfigError: On an unknown split, mode, type or rank.
        DataError: If a file is missing or malformed, naming the file, the uid and the field.

    Example:
        >>> for c in iter_candidates("bench-data", "test_s", "image", "erode", rank=1):
        ...     print(c.uid, c.iou, c.action)  # doctest: +SKIP
    """
    path = benchmark_file(root, split, mode)
    wanted = None
    if mask_type is not None:
        wanted = mask_type if mask_type in TRAIN_TYPES else normalise_type(mask_type)
        if wanted is None:
            raise ConfigError(f"unknown mask type {mask_type!r}; expected one of {TRAIN_TYPES}")
    if rank not in (-1, 1, 2):
        raise ConfigError(f"rank must be -1 (all), 1 (Hard) or 2 (Medium), got {rank!r}")
    ctx = _Context(Path(root), path, split, mode)
    for candidate in _all_candidates(ctx, _load_json(path)):
        if wanted is not None and candidate.mask_type != wanted:
            continue
        if rank != -1 and candidate.mask_type in GEOMETRIC_TYPES and candidate.rank != rank:
            continue
        yield candidate
