from types import SimpleNamespace

import numpy as np
import pytest

from maskaudit.data import expressions as ex


def obj(
    category,
    cx=0.5,
    cy=0.5,
    sounding=True,
    onset=0.0,
    duration=5.0,
    loud=-6.0,
    f0=440.0,
    rhythm=0.0,
    continuous=False,
):
    if not sounding:
        return SimpleNamespace(
            category=category,
            cx=cx,
            cy=cy,
            sounding=False,
            onset=None,
            duration=None,
            loudness_db=None,
            f0=None,
            rhythm_hz=None,
            continuous=False,
        )
    return SimpleNamespace(
        category=category,
        cx=cx,
        cy=cy,
        sounding=True,
        onset=onset,
        duration=duration,
        loudness_db=loud,
        f0=f0,
        rhythm_hz=rhythm,
        continuous=continuous,
    )


def test_sounding_needs_exactly_one_sounding_object():
    assert ex.resolve("sounding", [obj("a", sounding=False), obj("b")]) == 1
    assert ex.resolve("sounding", [obj("a"), obj("b")]) is None


def test_sounding_category_with_a_silent_twin():
    scene = [obj("dog", sounding=False), obj("dog"), obj("cat")]
    assert ex.resolve("sounding_category", scene, "dog") == 1
    assert ex.resolve("sounding_category", [obj("dog"), obj("dog")], "dog") is None


def test_onset_margins():
    assert ex.resolve("first", [obj("a", onset=2.0), obj("b", onset=0.5)]) == 1
    assert ex.resolve("first", [obj("a", onset=1.0), obj("b", onset=0.5)]) is None
    assert ex.resolve("last", [obj("a", onset=4.0), obj("b", onset=0.5), obj("c", onset=2.9)]) == 0
    assert ex.resolve("first", [obj("a", onset=0.0), obj("b", sounding=False)]) is None


def test_loudness_duration_pitch_and_rhythm_margins():
    assert ex.resolve("loudest", [obj("a", loud=-3.0), obj("b", loud=-9.5)]) == 0
    assert ex.resolve("loudest", [obj("a", loud=-3.0), obj("b", loud=-8.0)]) is None
    assert ex.resolve("longest", [obj("a", duration=3.0), obj("b", duration=6.0)]) == 1
    assert ex.resolve("shortest", [obj("a", duration=3.0), obj("b", duration=4.0)]) is None
    assert ex.resolve("lowest", [obj("a", f0=300.0), obj("b", f0=200.0)]) == 1
    assert ex.resolve("lowest", [obj("a", f0=300.0), obj("b", f0=250.0)]) is None
    assert ex.resolve("faster_rhythm", [obj("a", rhythm=2.0), obj("b", rhythm=5.0)]) == 1
    assert ex.resolve("slower_rhythm", [obj("a", rhythm=2.0), obj("b", rhythm=3.0)]) is None
    assert ex.resolve("faster_rhythm", [obj("a", rhythm=0.0), obj("b", rhythm=5.0)]) is None


def test_continuous_must_be_the_only_one():
    scene = [obj("a", continuous=True, onset=0, duration=10), obj("b")]
    assert ex.resolve("continuous", scene) == 0
    scene.append(obj("c", continuous=True, onset=0, duration=10))
    assert ex.resolve("continuous", scene) is None


def test_lower_than_names_a_unique_sounding_reference():
    scene = [obj("violin", f0=800.0), obj("drum", f0=200.0), obj("flute", f0=1600.0)]
    assert ex.resolve("lower_than", scene, "violin") == 1
    assert ex.resolve("lower_than", scene, "flute") is None
    scene.append(obj("violin", sounding=False))
    assert ex.resolve("lower_than", scene, "violin") is None


def test_left_right_and_near():
    scene = [
        obj("piano", cx=0.5),
        obj("a", cx=0.2),
        obj("b", cx=0.8),
        obj("c", cx=0.3, sounding=False),
    ]
    assert ex.resolve("left_of", scene, "piano") == 1
    assert ex.resolve("right_of", scene, "piano") == 2
    scene[3] = obj("c", cx=0.3)
    assert ex.resolve("left_of", scene, "piano") is None
    near = [obj("x", cx=0.5, cy=0.5), obj("a", cx=0.6, cy=0.5), obj("b", cx=0.9, cy=0.9)]
    assert ex.resolve("near", near, "x") == 1
    near[2] = obj("b", cx=0.5, cy=0.62)
    assert ex.resolve("near", near, "x") is None


def test_wording_is_lower_case_and_names_the_category():
    rng = np.random.default_rng(0)
    for kind in ex.KINDS:
        text = ex.word(kind, "Emergency-Car", rng)
        assert text == text.lower()
        assert ("emergency-car" in text) == (kind in ex.CATEGORY_KINDS)


def test_bad_kind_and_missing_category():
    with pytest.raises(ValueError):
        ex.resolve("biggest", [obj("a")])
    with pytest.raises(ValueError):
        ex.resolve("near", [obj("a")])


def test_options_lists_every_resolvable_expression():
    scene = [obj("a", onset=0.0, loud=0.0, f0=200.0), obj("b", onset=3.0, loud=-20.0, f0=900.0)]
    found = ex.options(scene)
    assert ("first", None, 0) in found and ("last", None, 1) in found
    assert ("loudest", None, 0) in found and ("lowest", None, 0) in found
    assert all(ex.resolve(k, scene, c) == t for k, c, t in found)
