"""Fuzzing the MQ-RAVSBench reader: valid candidates or a DataError / ConfigError, nothing else."""

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maskaudit.data.reader import META_DIR, iter_candidates
from maskaudit.data.records import Candidate
from maskaudit.errors import ConfigError, DataError
from maskaudit.labels import ACTIONS, ALLOWED_ACTIONS, TRAIN_TYPES

pytestmark = pytest.mark.timeout(120)
FUZZ = settings(max_examples=50, deadline=None)

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(["erode", "cut_out", "Minor Revision", "m/x.png", "1", "0.5", ""]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)

ENTRY = {
    "image_path": "media/v1/frames/7.jpg",
    "gt_mask_path": {"mask_path": "m/gt.png", "iou_to_gt": 1.0},
    "part_neg_masks": {
        "erode": [
            {"mask_path": "m/e.png", "iou_to_gt": 0.8, "rank": 1, "action": "minor revision"}
        ],
        "cut_out": [{"mask_path": "m/c.png", "iou_to_gt": 0.5}],
    },
    "full_neg_masks": [{"mask_path": "m/f.png", "iou_to_gt": 0.0, "rank": 1}],
    "null_masks": [{"mask_path": "m/n.png", "iou_to_gt": 0}],
}
DOCUMENTS = {
    ("test_s", "image"): {"v1_dog_1": ENTRY, "null_c-v1_null_1": ENTRY},
    ("test_s", "video"): [
        {"uid": "v1_dog_1", "frames": [dict(ENTRY, frame=4), dict(ENTRY, frame=5)]},
    ],
    ("train", "train"): {"v1_dog_1": {k: v for k, v in ENTRY.items() if k != "image_path"}},
}
FILES = {
    ("test_s", "image"): "test_s_image_filtered.json",
    ("test_s", "video"): "test_s_video_filtered.json",
    ("train", "train"): "train_audit_only_filtered.json",
}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    (root / META_DIR).mkdir()
    rows = ["vid,uid,split,fid,exp,kfid", "v1,v1_dog_1,test_s,0,The Dog,3"]
    rows.append("v1,null_c-v1_null_1,test_s,0,The Cat,2")
    (root / META_DIR / "metadata.csv").write_text("\n".join(rows) + "\n")
    return root


def read(root, split, mode, document_text):
    (root / META_DIR / FILES[split, mode]).write_text(document_text)
    try:
        return list(iter_candidates(root, split, mode))
    except (DataError, ConfigError) as err:
        assert str(err)
        return None


def check(candidates, mode):
    for c in candidates or []:
        assert isinstance(c, Candidate) and c.mode == mode
        assert c.mask_type in TRAIN_TYPES and c.action in ACTIONS
        assert isinstance(c.iou, float) and 0.0 <= c.iou <= 1.0
        assert isinstance(c.rank, int) and isinstance(c.frame, int)
        assert c.mask_path.is_absolute() and c.image_path.is_absolute()
        if c.mask_type == "perfect":
            assert c.iou == 1.0 and c.action in ALLOWED_ACTIONS["perfect"]


def test_the_unmutated_documents_read(root):
    for (split, mode), document in DOCUMENTS.items():
        candidates = read(root, split, mode, json.dumps(document))
        assert candidates, (split, mode)
        check(candidates, mode)


@FUZZ
@given(st.sampled_from(sorted(DOCUMENTS)), st.data())
def test_mutated_benchmark_file_reads_or_raises_a_data_error(root, setting, data):
    document = copy.deepcopy(DOCUMENTS[setting])
    for _ in range(data.draw(st.integers(1, 3))):
        node, path = document, []
        while isinstance(node, dict | list) and node and data.draw(st.integers(0, 4)) > 0:
            key = data.draw(
                st.sampled_from(list(node) if isinstance(node, dict) else range(len(node)))
            )
            path.append(key)
            if not isinstance(node[key], dict | list) or not node[key]:
                break
            node = node[key]
        if not path:
            document = data.draw(JSON)
            continue
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        if data.draw(st.booleans()):
            parent[path[-1]] = data.draw(JSON)
        elif isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent.pop(path[-1])
    check(read(root, *setting, json.dumps(document)), setting[1])


@FUZZ
@given(st.text(max_size=120) | st.binary(max_size=60).map(lambda b: b.decode("latin-1")))
def test_benchmark_file_that_is_not_json_is_a_data_error(root, text):
    path = root / META_DIR / FILES["test_s", "image"]
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        candidates = list(iter_candidates(root, "test_s", "image"))
    except (DataError, ConfigError):
        return
    check(candidates, "image")


@pytest.mark.parametrize(
    "rank, message",
    [
        ("Infinity", "rank"),
        ("-Infinity", "rank"),
        ("NaN", "rank"),
        ("1e400", "rank"),
        ("9" * 5000, "not valid JSON"),  # longer than Python's int-string limit
    ],
)
def test_numbers_that_json_reads_but_no_benchmark_has(root, rank, message):
    """Python's json reads Infinity, NaN and huge numbers; each is a DataError here."""
    text = json.dumps(DOCUMENTS["test_s", "image"]).replace('"rank": 1', f'"rank": {rank}', 1)
    (root / META_DIR / FILES["test_s", "image"]).write_text(text)
    with pytest.raises(DataError, match=message):
        list(iter_candidates(root, "test_s", "image"))
