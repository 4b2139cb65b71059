import csv
import hashlib
import json
import wave
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from maskaudit.data import expressions as ex
from maskaudit.data.error_modes import in_band, iou
from maskaudit.data.vocabulary import unseen_categories
from maskaudit.data.writer import write_benchmark
from maskaudit.errors import ConfigError
from maskaudit.labels import ALLOWED_ACTIONS, GEOMETRIC_TYPES, action_for, normalise_type

META = "train_test_meta_files"


def load(root, name):
    return json.loads((root / META / name).read_text())


def entries(root):
    """(file, uid, entry) of every candidate-holding entry of the five files."""
    for uid, entry in load(root, "train_audit_only_filtered.json").items():
        yield "train", uid, entry
    for split in ("test_s", "test_u"):
        for item in load(root, f"{split}_image_filtered.json"):
            yield f"{split}_image", item["uid"], item
        for uid, item in load(root, f"{split}_video_filtered.json").items():
            for frame in item["frames"]:
                yield f"{split}_video", uid, frame


def candidates(entry):
    """(type, candidate) of one entry, the perfect one first."""
    yield "perfect", entry["gt_mask_path"]
    for key, items in entry["part_neg_masks"].items():
        for c in items:
            yield normalise_type(key), c
    for c in entry["full_neg_masks"]:
        yield "full_neg", c
    for c in entry.get("null_masks", []):
        yield "null", c


def read_mask(root, rel):
    image = cv2.imread(str(root / rel), cv2.IMREAD_UNCHANGED)
    assert image.dtype == np.uint8 and image.ndim == 2 and image.shape == (224, 224)
    assert set(np.unique(image)) <= {0, 255}
    return image > 0


def test_stored_iou_band_and_action_match_the_pixels(synth_root):
    seen_types = set()
    for _, uid, entry in entries(synth_root):
        gt = read_mask(synth_root, entry["gt_mask_path"]["mask_path"])
        for mask_type, c in candidates(entry):
            value = iou(gt, read_mask(synth_root, c["mask_path"]))
            assert c["iou_to_gt"] == pytest.approx(value, abs=1e-6), (uid, c)
            assert c["action"] == action_for(mask_type, c["iou_to_gt"])
            assert c["action"] in ALLOWED_ACTIONS[mask_type]
            if mask_type in GEOMETRIC_TYPES:
                assert in_band(c["iou_to_gt"], c["rank"]), (uid, c)
            else:
                assert c["rank"] == -1
            seen_types.add(mask_type)
    assert seen_types == {"perfect", "cutout", "erode", "dilate", "merge", "full_neg", "null"}


def test_image_mode_has_every_type_and_rank(synth_root):
    for name, uid, entry in entries(synth_root):
        if name.endswith("video"):
            assert len(list(candidates(entry))) >= 3
            continue
        part = entry["part_neg_masks"]
        ranks = {(t, c["rank"]) for t, items in part.items() for c in items}
        assert len(ranks) >= 5, uid
        assert 1 <= len(entry["full_neg_masks"]) <= 2 and len(entry["null_masks"]) == 1
        if name == "train":
            assert "<iou>" in entry["gt_mask_path"]["response"]


def test_media_files(synth_root):
    rows = list(csv.DictReader((synth_root / META / "metadata.csv").open()))
    assert list(rows[0]) == ["vid", "uid", "split", "fid", "exp", "kfid"]
    for row in rows:
        assert row["uid"].rsplit("_", 2)[0] == row["vid"]
        assert 0 <= int(row["kfid"]) <= 9 and row["exp"] == row["exp"].lower()
    vids = {row["vid"] for row in rows}
    for vid in vids:
        frames = sorted((synth_root / "media" / vid / "frames").iterdir())
        assert [f.name for f in frames] == [f"{k}.jpg" for k in range(10)]
        assert cv2.imread(str(frames[0])).shape == (224, 224, 3)
        with wave.open(str(synth_root / "media" / vid / "audio.wav")) as w:
            assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16000)
            assert w.getnframes() == 160000


def test_splits_and_unseen_categories(synth_root):
    info = load(synth_root, "synth_scenes.json")
    unseen = set(unseen_categories())
    splits = {v["split"] for v in info["videos"].values()}
    assert splits == {"train", "test_s", "test_u"}
    for vid, video in info["videos"].items():
        names = {o["category"] for o in video["objects"]}
        if video["split"] in ("train", "test_s"):
            assert not names & unseen, vid
        else:
            assert names & unseen, vid
    for uid, e in info["expressions"].items():
        video = info["videos"][e["vid"]]
        if video["split"] == "test_u":
            assert video["objects"][e["target"]]["category"] in unseen, uid


def test_expressions_resolve_from_the_sidecar(synth_root):
    info = load(synth_root, "synth_scenes.json")
    rows = {r["uid"]: r for r in csv.DictReader((synth_root / META / "metadata.csv").open())}
    assert set(rows) == set(info["expressions"])
    for uid, e in info["expressions"].items():
        objects = [SimpleNamespace(**o) for o in info["videos"][e["vid"]]["objects"]]
        assert ex.resolve(e["kind"], objects, e["category"]) == e["target"], uid
        assert int(rows[uid]["fid"]) == e["target"] and rows[uid]["exp"] == e["expression"]
        assert uid.rsplit("_", 2)[1] == objects[e["target"]].category
    per_video = {}
    for e in info["expressions"].values():
        per_video.setdefault(e["vid"], []).append(e["target"])
    assert sum(len(set(t)) == 2 for t in per_video.values()) >= len(per_video) // 2


def digest(root):
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files
    }


def test_same_seed_same_bytes_with_several_workers(synth_root, tmp_path):
    again = tmp_path / "again"
    write_benchmark(again, 8, seed=0, workers=2)
    assert digest(again) == digest(synth_root)
    other = tmp_path / "other"
    write_benchmark(other, 2, seed=1, workers=1)
    assert (other / META / "metadata.csv").read_bytes() != (
        again / META / "metadata.csv"
    ).read_bytes()


def test_output_folder_rules(tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty"):
        write_benchmark(busy, 1, seed=0, workers=1)
    with pytest.raises(ConfigError, match="videos"):
        write_benchmark(tmp_path / "x", 0)
    redo = tmp_path / "redo"
    write_benchmark(redo, 2, seed=0, workers=1)
    write_benchmark(redo, 1, seed=0, workers=1)
    assert sorted(p.name for p in (redo / "media").iterdir()) == ["synth_000000"]
