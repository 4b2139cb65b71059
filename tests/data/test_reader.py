import json
from collections import Counter

import pytest

from maskaudit.data.reader import iter_candidates, load_scene_info
from maskaudit.errors import ConfigError, DataError
from maskaudit.labels import GEOMETRIC_TYPES, TRAIN_TYPES, normalise_type

META = "train_test_meta_files"
SETTINGS = [
    ("train", "train"),
    ("test_s", "image"),
    ("test_s", "video"),
    ("test_u", "image"),
    ("test_u", "video"),
]


def expected_counts(root, split, mode):
    """(type, rank) counts read straight from the JSON file."""
    name = {"train": "train_audit_only_filtered.json"}.get(mode, f"{split}_{mode}_filtered.json")
    document = json.loads((root / META / name).read_text())
    if mode == "video":
        entries = [f for item in document.values() for f in item["frames"]]
    else:
        entries = list(document.values()) if isinstance(document, dict) else document
    counts = Counter()
    for e in entries:
        counts["perfect", -1] += 1
        for key, items in e["part_neg_masks"].items():
            for c in items:
                counts[normalise_type(key), c["rank"]] += 1
        counts["full_neg", -1] += len(e["full_neg_masks"])
        counts["null", -1] += len(e.get("null_masks", []))
    return counts


@pytest.mark.parametrize(("split", "mode"), SETTINGS)
def test_counts_match_the_files_for_every_filter(synth_root, split, mode):
    expected = expected_counts(synth_root, split, mode)
    everything = list(iter_candidates(synth_root, split, mode))
    assert Counter((c.mask_type, c.rank) for c in everything) == expected
    for mask_type in TRAIN_TYPES:
        for rank in (-1, 1, 2):
            got = list(iter_candidates(synth_root, split, mode, mask_type, rank))
            want = sum(
                n
                for (t, r), n in expected.items()
                if t == mask_type and (rank == -1 or t not in GEOMETRIC_TYPES or r == rank)
            )
            assert len(got) == want, (mask_type, rank)
    ids = Counter((c.uid, c.frame, c.mask_id) for c in everything)
    assert max(ids.values()) == 1


def test_candidate_fields(synth_root):
    info = load_scene_info(synth_root)
    for c in iter_candidates(synth_root, "test_s", "video"):
        assert c.mode == "video" and c.split == "test_s"
        assert c.mask_path.is_file() and c.image_path.is_file() and c.audio_path.is_file()
        assert c.image_path == c.frames_dir / f"{c.frame}.jpg"
        assert c.expression == info["expressions"][c.uid]["expression"]
        assert c.expression_kind == info["expressions"][c.uid]["kind"]
    train = list(iter_candidates(synth_root, "train", "train"))
    kfid = {uid: e["kfid"] for uid, e in info["expressions"].items()}
    assert all(c.frame == kfid[c.uid] for c in train)
    assert {c.mask_id for c in train if c.mask_type == "erode"} <= {
        "erode_1_0",
        "erode_2_0",
        "erode_2_1",
    }


def make_root(tmp_path, uids=("v1_dog_1",), vid="v1"):
    root = tmp_path / "bench"
    (root / META).mkdir(parents=True)
    lines = ["vid,uid,split,fid,exp,kfid"] + [
        f"{vid},{u},test_s,0,The Sounding Dog,3" for u in uids
    ]
    (root / META / "metadata.csv").write_text("\n".join(lines) + "\n")
    return root


def write(root, name, document):
    (root / META / name).write_text(json.dumps(document))


def test_image_variants_dict_items_string_gt_missing_lists_rank_and_action(tmp_path):
    root = make_root(tmp_path)
    write(
        root,
        "test_s_image_filtered.json",
        {
            "v1_dog_1": {
                "image_path": "media/v1/frames/7.jpg",
                "gt_mask_path": "m/gt.png",
                "part_neg_masks": {
                    "cut_out": [{"mask_path": "m/c.png", "iou_to_gt": 0.5}],
                    "merge_mask": [{"mask_path": "m/m.png", "iou_to_gt": 0.4, "rank": 1}],
                },
                "full_neg_masks": [{"mask_path": "m/f.png", "iou_to_gt": 0.0, "rank": 1}],
            }
        },
    )
    got = {c.mask_id: c for c in iter_candidates(root, "test_s", "image")}
    assert sorted(got) == ["cutout_-1_0", "full_neg_0", "merge_1_0", "perfect"]
    assert got["perfect"].iou == 1.0 and got["perfect"].action == "accept"
    assert got["cutout_-1_0"].action == "major revision" and got["cutout_-1_0"].rank == -1
    assert got["merge_1_0"].action == "reject"
    assert got["full_neg_0"].action == "reject" and got["full_neg_0"].frame == 7
    assert got["perfect"].mask_path == root / "m/gt.png"
    assert got["perfect"].expression == "the sounding dog" and got["perfect"].expression_kind == ""
    assert len(list(iter_candidates(root, "test_s", "image", "cutout", 1))) == 0
    assert len(list(iter_candidates(root, "test_s", "image", "merge", 2))) == 1


def test_list_items_video_mode_and_null_uids(tmp_path):
    root = make_root(tmp_path, uids=("v1_dog_1", "null_c-v1_null_1"))
    frame = {
        "frame": 4,
        "gt_mask_path": {"mask_path": "m/gt.png"},
        "part_neg_masks": {
            "erode": [
                {"mask_path": "m/e.png", "iou_to_gt": 0.8, "rank": 1, "action": "Minor Revision"}
            ]
        },
        "full_neg_masks": [],
        "null_masks": [{"mask_path": "m/n.png", "iou_to_gt": 0}],
    }
    write(
        root,
        "test_s_video_filtered.json",
        [{"uid": "v1_dog_1", "frames": [frame]}, {"uid": "null_c-v1_null_1", "frames": [frame]}],
    )
    got = list(iter_candidates(root, "test_s", "video"))
    assert [c.mask_id for c in got] == ["perfect", "erode_1_0", "null_0"] * 2
    assert all(c.frame == 4 and c.image_path == root / "media/v1/frames/4.jpg" for c in got)
    assert got[1].action == "minor revision" and got[2].action == "reject"
    assert got[0].audio_path == root / "media/v1/audio.wav"
    assert got[3].audio_path == root / "media_cross/v1/audio.wav" and got[3].vid == "v1"


def test_train_entry_without_image_uses_the_metadata_key_frame(tmp_path):
    root = make_root(tmp_path)
    write(
        root,
        "train_audit_only_filtered.json",
        {
            "v1_dog_1": {
                "gt_mask_path": {"mask_path": "m/gt.png", "response": "x", "iou_to_gt": 1.0},
                "part_neg_masks": {
                    "dilate": [
                        {"mask_path": "m/d.png", "response": "x", "iou_to_gt": 0.7, "rank": 2}
                    ]
                },
                "full_neg_masks": [],
                "null_masks": [],
            }
        },
    )
    got = list(iter_candidates(root, "train", "train"))
    assert [(c.mask_id, c.frame, c.split) for c in got] == [
        ("perfect", 3, "train"),
        ("dilate_2_0", 3, "train"),
    ]
    assert load_scene_info(root) == {}


BAD = [
    ({"part_neg_masks": {"erode": [{"iou_to_gt": 0.8}]}}, "part_neg_masks.erode[0].mask_path"),
    ({"part_neg_masks": {"erode": [{"mask_path": "a.png", "iou_to_gt": "high"}]}}, "iou_to_gt"),
    ({"part_neg_masks": {"erode": [{"mask_path": "a.png", "iou_to_gt": 1.5}]}}, "iou_to_gt"),
    (
        {"part_neg_masks": {"erode": [{"mask_path": "a.png", "iou_to_gt": 0.8, "rank": "x"}]}},
        "rank",
    ),
    (
        {"part_neg_masks": {"blur": [{"mask_path": "a.png", "iou_to_gt": 0.8}]}},
        "part_neg_masks.blur",
    ),
    ({"part_neg_masks": {"erode": {"mask_path": "a.png"}}}, "part_neg_masks.erode"),
    ({"full_neg_masks": [{"mask_path": "a.png", "iou_to_gt": 0.0, "action": "shrug"}]}, "action"),
    ({"full_neg_masks": [{"mask_path": "a.png"}]}, "full_neg_masks[0].iou_to_gt"),
    ({"gt_mask_path": None}, "gt_mask_path"),
]


@pytest.mark.parametrize(("change", "field"), BAD)
def test_malformed_entries_name_file_uid_and_field(tmp_path, change, field):
    root = make_root(tmp_path)
    item = {
        "uid": "v1_dog_1",
        "gt_mask_path": "m/gt.png",
        "part_neg_masks": {},
        "full_neg_masks": [],
    }
    item.update(change)
    write(root, "test_s_image_filtered.json", [item])
    with pytest.raises(DataError) as info:
        list(iter_candidates(root, "test_s", "image"))
    message = str(info.value)
    assert "test_s_image_filtered.json" in message and "v1_dog_1" in message and field in message


def test_missing_files_unknown_uids_and_bad_arguments(tmp_path):
    root = make_root(tmp_path)
    with pytest.raises(DataError, match="test_u_video_filtered.json"):
        list(iter_candidates(root, "test_u", "video"))
    (root / META / "test_u_image_filtered.json").write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        list(iter_candidates(root, "test_u", "image"))
    write(root, "test_s_image_filtered.json", [{"uid": "v9_cat_1", "gt_mask_path": "g.png"}])
    with pytest.raises(DataError, match=r"v9_cat_1.*metadata.csv"):
        list(iter_candidates(root, "test_s", "image"))
    write(root, "test_s_image_filtered.json", [{"gt_mask_path": "g.png"}])
    with pytest.raises(DataError, match="uid"):
        list(iter_candidates(root, "test_s", "image"))
    (root / META / "metadata.csv").unlink()
    with pytest.raises(DataError, match="metadata.csv"):
        list(iter_candidates(root, "test_s", "image"))
    with pytest.raises(ConfigError):
        list(iter_candidates(root, "test_s", "train"))
    with pytest.raises(ConfigError):
        list(iter_candidates(root, "val", "image"))
    with pytest.raises(ConfigError):
        list(iter_candidates(root, "test_s", "image", "blurry"))
    with pytest.raises(ConfigError):
        list(iter_candidates(root, "test_s", "image", "erode", 3))
