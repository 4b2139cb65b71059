"""Write a synthetic benchmark in the MQ-RAVSBench layout.

Layout (all paths in JSON files are relative to the benchmark root)::

    media/<vid>/frames/0.jpg ... 9.jpg     224x224, JPEG quality 95
    media/<vid>/audio.wav                  16 kHz mono, 16-bit
    masks/<vid>/gt/<fid>.png               each object's visible mask (0/255)
    masks/<vid>/null.png                   the empty mask
    masks/<vid>/<uid>/image/<id>.png       generated candidates of the key frame (train, image)
    masks/<vid>/<uid>/video/<k>/<id>.png   generated candidates of frame k (video mode)
    train_test_meta_files/metadata.csv     vid, uid, split, fid, exp, kfid
    train_test_meta_files/train_audit_only_filtered.json
    train_test_meta_files/test_{s,u}_{image,video}_filtered.json
    train_test_meta_files/synth_scenes.json   the scenes' facts (sidecar)

Every video is made from its own seed, derived from ``(seed, index)``, so the files are the same
byte for byte whatever the number of workers.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import multiprocessing
import shutil
import wave
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from maskaudit.data import error_modes
from maskaudit.data.expressions import KINDS
from maskaudit.data.render import FrameRenderer, render_audio
from maskaudit.data.scene import Scene
from maskaudit.data.scene import make_scene as build_scene
from maskaudit.data.sound import SAMPLE_RATE
from maskaudit.data.vocabulary import load_vocabulary, seen_categories, unseen_categories
from maskaudit.errors import ConfigError

logger = logging.getLogger(__name__)

FRAME_SIZE = (224, 224)
"""(width, height) of benchmark frames and masks."""

JPEG_QUALITY = 95
"""JPEG quality of the frames."""

META_DIR = "train_test_meta_files"
"""Folder of the metadata and JSON files."""

SIDECAR = "synth_scenes.json"
"""File name of the scenes' facts, in ``META_DIR``."""

SPLIT_SLOTS: dict[int, str] = {
    2: "test_s",
    9: "test_s",
    16: "test_s",
    5: "test_u",
    12: "test_u",
    19: "test_u",
}
"""Slots (index modulo 20) of the test splits; the other 14 of every 20 videos are train."""

IMAGE_MENU: tuple[tuple[str, int], ...] = (
    ("cutout", 1),
    ("cutout", 2),
    ("erode", 1),
    ("erode", 2),
    ("dilate", 1),
    ("dilate", 2),
    ("merge", -1),
)
"""Candidates made for every uid's key frame, besides perfect, full_neg (1-2) and null."""

VIDEO_MENU: tuple[tuple[str, int, float], ...] = tuple((t, r, 1.0) for t, r in IMAGE_MENU[:6]) + (
    ("merge", -1, 1.0),
    ("full_neg", -1, 1.0),
    ("null", -1, 0.5),
)
"""(type, rank, weight) menu from which each video-mode frame draws its extra candidates."""

VIDEO_EXTRA = 4
"""Candidates drawn per video-mode frame besides the perfect one."""


def split_of(index: int) -> str:
    """The split of video ``index`` (70 % train, 15 % test_s, 15 % test_u)."""
    return SPLIT_SLOTS.get(index % 20, "train")


def first_kind(index: int, seed: int) -> str:
    """The kind of video ``index``'s first expression.

    Kinds take turns within each split (from an offset drawn from the seed), so every split
    holds them in nearly equal numbers.

    Args:
        index: Video index.
        seed: Benchmark seed.

    Returns:
        One of ``maskaudit.data.expressions.KINDS``.
    """
    split = split_of(index)
    slots = [j for j in range(20) if split_of(j) == split]
    turn = (index // 20) * len(slots) + sum(j < index % 20 for j in slots)
    offset = int(np.random.default_rng(np.random.SeedSequence([seed, 1 << 20])).integers(0, 15))
    return KINDS[(turn + offset) % len(KINDS)]


def video_id(index: int) -> str:
    """The vid of video ``index`` (``synth_000123``)."""
    return f"synth_{index:06d}"


def response_text(mask_type: str, action: str, value: float) -> str:
    """The answer text of a training candidate, in the reference's tag form."""
    return (
        f"<audit><mask_type>{mask_type}</mask_type><action>{action}</action>"
        f"<iou> {value:.4f} </iou></audit>"
    )


def _write_png(path: Path, mask: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".png", mask.astype(np.uint8) * 255)
    if not ok:
        raise OSError(f"could not encode {path}")
    path.write_bytes(data.tobytes())


def _write_wav(path: Path, samples: np.ndarray) -> None:
    pcm = np.clip(np.round(samples * 32767.0), -32768, 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(SAMPLE_RATE)
        handle.writeframes(pcm.tobytes())
    path.write_bytes(buffer.getvalue())


def _distractor_order(scene: Scene, target: int) -> list[int]:
    """Other objects, most plausible distractor first: same category, sounding, then nearest."""
    t = scene.objects[target]

    def key(i: int) -> tuple:
        o = scene.objects[i]
        return (
            o.category != t.category,
            not o.sounding,
            float(np.hypot(o.cx - t.cx, o.cy - t.cy)),
            i,
        )

    return sorted((i for i in range(len(scene.objects)) if i != target), key=key)


class _VideoWriter:
    """Writes one video's media and candidates and returns its JSON fragments."""

    def __init__(self, root: Path, index: int, seed: int):
        self.root = root
        self.index = index
        self.vid = video_id(index)
        self.split = split_of(index)
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
        self.kind = first_kind(index, seed)

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def run(self) -> dict:
        if self.split == "test_u":
            scene = build_scene(
                self.rng,
                kind=self.kind,
                categories=list(load_vocabulary()),
                target_categories=unseen_categories(),
            )
        else:
            scene = build_scene(self.rng, kind=self.kind, categories=seen_categories())
        media = self.root / "media" / self.vid
        (media / "frames").mkdir(parents=True, exist_ok=True)
        renderer = FrameRenderer(scene, FRAME_SIZE)
        for k in range(10):
            bgr = cv2.cvtColor(renderer.frame(float(k)), cv2.COLOR_RGB2BGR)
            ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            if not ok:
                raise OSError(f"could not encode frame {k} of {self.vid}")
            (media / "frames" / f"{k}.jpg").write_bytes(data.tobytes())
        _write_wav(media / "audio.wav", render_audio(scene))

        masks = self.masks = renderer.masks
        mask_dir = self.root / "masks" / self.vid
        self.gt_paths = []
        for fid, mask in enumerate(masks):
            _write_png(mask_dir / "gt" / f"{fid}.png", mask)
            self.gt_paths.append(self.rel(mask_dir / "gt" / f"{fid}.png"))
        self.null_path = mask_dir / "null.png"
        _write_png(self.null_path, np.zeros_like(masks[0]))

        record = {
            "vid": self.vid,
            "split": self.split,
            "rows": [],
            "train": {},
            "image": [],
            "video": {},
        }
        record["scene"] = self._scene_facts(scene, masks)
        record["expressions"] = {}
        per_category: dict[str, int] = {}
        for expression in scene.expressions:
            category = scene.objects[expression.target].category
            per_category[category] = per_category.get(category, 0) + 1
            uid = f"{self.vid}_{category}_{per_category[category]}"
            kfid = int(self.rng.integers(0, 10))
            record["rows"].append(
                [self.vid, uid, self.split, expression.target, expression.text, kfid]
            )
            record["expressions"][uid] = {
                "vid": self.vid,
                "expression": expression.text,
                "kind": expression.kind,
                "target": expression.target,
                "category": expression.category,
                "kfid": kfid,
            }
            order = _distractor_order(scene, expression.target)
            others = [masks[i] for i in order]
            if self.split == "train":
                record["train"][uid] = self._image_entry(
                    uid, kfid, expression.target, order, others, train=True
                )
            else:
                record["image"].append(
                    self._image_entry(uid, kfid, expression.target, order, others, train=False)
                )
                record["video"][uid] = {
                    "frames": self._video_frames(uid, expression.target, order, others)
                }
        return record

    def _scene_facts(self, scene: Scene, masks: list[np.ndarray]) -> dict:
        total = float(masks[0].size)
        objects = []
        for obj, mask in zip(scene.objects, masks, strict=True):
            ys, xs = np.nonzero(mask)
            objects.append(
                {
                    "category": obj.category,
                    "shape": obj.shape,
                    "texture": obj.texture,
                    "hue": obj.hue,
                    "cx": obj.cx,
                    "cy": obj.cy,
                    "radius": obj.radius,
                    "rotation": obj.rotation,
                    "bbox": [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1],
                    "area": round(len(ys) / total, 6),
                    "sounding": obj.sounding,
                    "distractor": obj.distractor,
                    "timbre": obj.sound.timbre if obj.sounding else None,
                    "onset": obj.onset,
                    "duration": obj.duration,
                    "loudness_db": obj.loudness_db,
                    "f0": obj.f0,
                    "rhythm_hz": obj.rhythm_hz,
                    "continuous": obj.continuous,
                    "envelope": list(obj.envelope),
                    "visual_envelope": list(obj.visual_envelope),
                }
            )
        return {
            "split": self.split,
            "background": scene.background.family,
            "mix_gain": scene.mix_gain,
            "frame_size": list(FRAME_SIZE),
            "objects": objects,
        }

    def _save(self, uid: str, folder: str, name: str, candidate: error_modes.MaskCandidate) -> str:
        path = self.root / "masks" / self.vid / uid / folder / f"{name}.png"
        _write_png(path, candidate.mask)
        return self.rel(path)

    def _entry(self, path: str, c: error_modes.MaskCandidate, train: bool) -> dict:
        entry = {"mask_path": path, "iou_to_gt": c.iou, "rank": c.rank, "action": c.action}
        if train:
            entry["response"] = response_text(c.mask_type, c.action, c.iou)
        return entry

    def _candidates(
        self,
        uid: str,
        folder: str,
        target: int,
        order: list[int],
        others: list,
        menu: list[tuple[str, int]],
        train: bool,
    ) -> dict:
        gt = self.masks[target]
        part: dict[str, list] = {}
        full: list = []
        nulls: list = []
        used_full: set[int] = set()
        for mask_type, rank in menu:
            if mask_type == "null":
                c = error_modes.make_candidate(gt, others, "null", -1, self.rng)
                nulls.append(self._entry(self.rel(self.null_path), c, train))
                continue
            if mask_type == "full_neg":
                free = [i for i in range(len(others)) if i not in used_full]
                if not free:
                    continue
                pick = (
                    free[0]
                    if self.rng.random() < 0.6
                    else free[int(self.rng.integers(0, len(free)))]
                )
                used_full.add(pick)
                c = error_modes.make_candidate(
                    gt, others, "full_neg", -1, self.rng, distractor=pick
                )
                if c is not None:
                    full.append(self._entry(self.gt_paths[order[pick]], c, train))
                continue
            c = error_modes.make_candidate(gt, others, mask_type, rank, self.rng)
            if c is None:
                logger.debug("%s %s: no %s rank %d candidate", uid, folder, mask_type, rank)
                continue
            items = part.setdefault(mask_type, [])
            name = f"{mask_type}_{rank}_{len(items)}"
            items.append(self._entry(self._save(uid, folder, name, c), c, train))
        return {"part_neg_masks": part, "full_neg_masks": full, "null_masks": nulls}

    def _image_entry(
        self, uid: str, kfid: int, target: int, order: list[int], others: list, train: bool
    ) -> dict:
        n_full = 1 if len(others) < 2 or self.rng.random() < 0.5 else 2
        menu = list(IMAGE_MENU) + [("full_neg", -1)] * n_full + [("null", -1)]
        found = self._candidates(uid, "image", target, order, others, menu, train)
        gt = {"mask_path": self.gt_paths[target], "iou_to_gt": 1.0, "rank": -1, "action": "accept"}
        if train:
            gt["response"] = response_text("perfect", "accept", 1.0)
            return {
                "image_path": f"media/{self.vid}/frames/{kfid}.jpg",
                "kfid": kfid,
                "gt_mask_path": gt,
                **found,
            }
        return {
            "uid": uid,
            "image_path": f"media/{self.vid}/frames/{kfid}.jpg",
            "gt_mask_path": gt,
            **found,
        }

    def _video_frames(self, uid: str, target: int, order: list[int], others: list) -> list[dict]:
        weights = np.array([w for _, _, w in VIDEO_MENU])
        frames = []
        for k in range(10):
            picks = self.rng.choice(
                len(VIDEO_MENU), size=VIDEO_EXTRA, replace=False, p=weights / weights.sum()
            )
            menu = [(VIDEO_MENU[i][0], VIDEO_MENU[i][1]) for i in sorted(picks)]
            found = self._candidates(uid, f"video/{k}", target, order, others, menu, train=False)
            gt = {
                "mask_path": self.gt_paths[target],
                "iou_to_gt": 1.0,
                "rank": -1,
                "action": "accept",
            }
            frames.append(
                {
                    "frame": k,
                    "image_path": f"media/{self.vid}/frames/{k}.jpg",
                    "gt_mask_path": gt,
                    **found,
                }
            )
        return frames


def _make_video(job: tuple[str, int, int]) -> dict:
    """Worker entry point: write video ``index`` under ``root``."""
    root, index, seed = job
    cv2.setNumThreads(1)
    return _VideoWriter(Path(root), index, seed).run()


def _prepare(out: Path) -> None:
    """Create ``out``, replacing a previous synthetic benchmark there but nothing else."""
    if out.exists() and any(out.iterdir()):
        if not (out / META_DIR / SIDECAR).is_file():
            raise ConfigError(
                f"output folder {out} is not empty and holds no synthetic benchmark: "
                "pass an empty or new folder"
            )
        for name in ("media", "masks", META_DIR):
            shutil.rmtree(out / name, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)


def write_benchmark(
    out: str | Path,
    videos: int,
    seed: int = 0,
    workers: int = 2,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Generate a synthetic benchmark of ``videos`` videos under ``out``.

    Args:
        out: Output folder; created if needed. A previous synthetic benchmark there is replaced;
            any other non-empty folder is refused.
        videos: Number of videos (two expressions each where the scene allows).
        seed: Seed of the whole benchmark. Defaults to 0.
        workers: Worker processes. Defaults to 2; 1 runs in this process.
        progress: Called with the number of videos finished so far, after each one. Defaults
            to None.

    Returns:
        Counts: videos, uids per split, and candidates written.

    Raises:
        ConfigError: On a non-positive ``videos`` or ``workers``, or an unusable ``out``.
    """
    if videos < 1:
        raise ConfigError(f"--videos must be at least 1, got {videos}")
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    root = Path(out)
    _prepare(root)
    jobs = [(str(root), i, seed) for i in range(videos)]
    records = []
    if workers == 1:
        for job in jobs:
            records.append(_make_video(job))
            if progress:
                progress(len(records))
    else:
        context = multiprocessing.get_context("spawn")
        with context.Pool(workers) as pool:
            for record in pool.imap(_make_video, jobs, chunksize=2):
                records.append(record)
                if progress:
                    progress(len(records))
    return _write_indexes(root, records)


def _write_indexes(root: Path, records: list[dict]) -> dict[str, int]:
    """Write metadata.csv, the five JSON files and the sidecar from the videos' records."""
    meta = root / META_DIR
    meta.mkdir(parents=True, exist_ok=True)
    train: dict = {}
    image = {"test_s": [], "test_u": []}
    video: dict = {"test_s": {}, "test_u": {}}
    sidecar: dict = {"format": 1, "videos": {}, "expressions": {}}
    rows = []
    for record in records:
        rows.extend(record["rows"])
        train.update(record["train"])
        if record["split"] != "train":
            image[record["split"]].extend(record["image"])
            video[record["split"]].update(record["video"])
        sidecar["videos"][record["vid"]] = record["scene"]
        sidecar["expressions"].update(record["expressions"])
    with (meta / "metadata.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["vid", "uid", "split", "fid", "exp", "kfid"])
        writer.writerows(rows)

    def dump(name: str, document: object) -> None:
        (meta / name).write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")

    dump("train_audit_only_filtered.json", train)
    for split in ("test_s", "test_u"):
        dump(f"{split}_image_filtered.json", image[split])
        dump(f"{split}_video_filtered.json", video[split])
    dump(SIDECAR, sidecar)

    counts = {
        "videos": len(records),
        "train": len(train),
        "test_s": len(image["test_s"]),
        "test_u": len(image["test_u"]),
    }
    n = 0
    for entry in list(train.values()) + image["test_s"] + image["test_u"]:
        n += _count(entry)
    for split in video.values():
        n += sum(_count(frame) for item in split.values() for frame in item["frames"])
    counts["candidates"] = n
    return counts


def _count(entry: dict) -> int:
    """Candidates in one entry (the perfect one included)."""
    part = sum(len(v) for v in entry["part_neg_masks"].values())
    return 1 + part + len(entry["full_neg_masks"]) + len(entry["null_masks"])
