import json

import pytest

from maskaudit.data import vocabulary as vocab
from maskaudit.errors import DataError

UNSEEN = [
    "baby",
    "emergency-car",
    "gun",
    "leopard",
    "lion",
    "motorcycle",
    "mower",
    "pig",
    "sheep",
    "tiger",
    "truck",
    "tuba",
    "wolf",
]


def test_shipped_vocabulary_has_the_real_categories_and_split():
    document = json.loads(vocab.VOCABULARY_PATH.read_text())
    assert document["attribution"] == vocab.ATTRIBUTION
    assert "GeWu-Lab" in document["attribution"] and "MIT" in document["attribution"]
    names = [c["name"] for c in document["categories"]]
    assert len(names) == 51 and names == sorted(names)
    assert document["unseen"] == UNSEEN
    assert vocab.unseen_categories() == UNSEEN
    assert not set(vocab.seen_categories()) & set(UNSEEN)
    assert all(c["count"] > 0 for c in document["categories"])
    assert not any(n.endswith("_null") or n == "null" for n in names)


def test_appearances_are_hash_derived_stable_and_distinct():
    loaded = vocab.load_vocabulary()
    again = vocab.assign_appearances(list(loaded))
    assert {n: c.appearance for n, c in loaded.items()} == again
    looks = list(again.values())
    for i, a in enumerate(looks):
        for b in looks[i + 1 :]:
            same_form = a.shape == b.shape and a.texture == b.texture
            assert not same_form or vocab._hue_gap(a.hue, b.hue) >= vocab.MIN_HUE_GAP
    assert len({look.shape for look in looks}) >= 8
    assert {look.texture for look in looks} == set(vocab.TEXTURES)


def test_timbres_cover_the_families_within_the_pitch_limits():
    timbres = [c.timbre for c in vocab.load_vocabulary().values()]
    assert {t.family for t in timbres} == set(vocab.TIMBRES)
    for t in timbres:
        assert vocab.F0_MIN <= t.f0_low < t.f0_high <= vocab.F0_MAX


def test_derive_vocabulary_from_a_small_csv(tmp_path):
    csv_path = tmp_path / "metadata.csv"
    csv_path.write_text(
        "vid,uid,split,fid,exp\n"
        "v_1,v_1_emergency-car_1,test_u,0,The first object.\n"
        "v_1,v_1_man_1,test_u,1,The man.\n"
        "v_2,v_2_man_1,train,0,The man.\n"
        "v_2,v_2_man_2,train,0,The sounding man.\n"
        "v_3,null_x-v_3_null_1,test_n,0,The object.\n"
        "v_4,v_4_430000_null_1,test_n,0,The object.\n"
    )
    document = vocab.derive_vocabulary(csv_path)
    counts = {c["name"]: c["count"] for c in document["categories"]}
    assert counts == {"emergency-car": 1, "man": 3}
    assert document["unseen"] == ["emergency-car"]
    first = {c["name"]: c["appearance"] for c in document["categories"]}
    assert first == {
        c["name"]: c["appearance"] for c in vocab.derive_vocabulary(csv_path)["categories"]
    }


def test_derive_vocabulary_names_a_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        vocab.derive_vocabulary(tmp_path / "nope.csv")


def test_category_of_uid():
    assert vocab.category_of_uid("-1Hy_137000", "-1Hy_137000_emergency-car_2") == "emergency-car"
