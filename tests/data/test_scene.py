import numpy as np
import pytest

from maskaudit.data import expressions as ex
from maskaudit.data import sound
from maskaudit.data.render import (
    FrameRenderer,
    object_masks,
    render_audio,
    render_frame,
    shape_mask,
)
from maskaudit.data.scene import AREA_RANGE, MAX_OVERLAP, PITCH_GAP_OCTAVES, make_scene
from maskaudit.data.vocabulary import unseen_categories


@pytest.fixture(scope="module")
def scenes():
    return {
        kind: make_scene(np.random.default_rng(i), kind=kind) for i, kind in enumerate(ex.KINDS)
    }


def test_every_kind_resolves_to_its_target(scenes):
    for kind, scene in scenes.items():
        first = scene.expressions[0]
        assert first.kind == kind
        for e in scene.expressions:
            assert ex.resolve(e.kind, scene.objects, e.category) == e.target
            assert e.text == e.text.lower()
            if e.category is not None:
                assert e.category in e.text
        if kind not in ("sounding", "sounding_category"):
            assert sum(o.sounding for o in scene.objects) >= 2


def test_objects_sizes_overlaps_and_sounds(scenes):
    for scene in scenes.values():
        assert 2 <= len(scene.objects) <= 4
        assert any(o.sounding for o in scene.objects)
        total = 224 * 224
        for m in object_masks(scene):
            assert AREA_RANGE[0] <= m.sum() / total <= AREA_RANGE[1]
        full = [shape_mask(o, (224, 224)) for o in scene.objects]
        for i in range(len(full)):
            for j in range(i + 1, len(full)):
                small = min(full[i].sum(), full[j].sum())
                assert (full[i] & full[j]).sum() <= MAX_OVERLAP * small
        f0s = sorted(np.log2(o.f0) for o in scene.objects if o.sounding)
        assert all(b - a >= PITCH_GAP_OCTAVES for a, b in zip(f0s, f0s[1:], strict=False))
        for o in scene.objects:
            if o.sounding:
                assert 120 <= o.f0 <= 2000 and -24 <= o.loudness_db <= 0
                assert o.rhythm_hz == 0 or 1 <= o.rhythm_hz <= 8
                assert 0 <= o.onset and o.onset + o.duration <= 10.0 + 1e-9


def test_visual_envelope_follows_the_sound(scenes):
    for scene in scenes.values():
        for o in scene.objects:
            env = np.array(o.envelope)
            vis = np.array(o.visual_envelope)
            assert len(env) == len(vis) == 10 and vis.min() >= 0.5 and vis.max() <= 1.0
            if o.sounding:
                np.testing.assert_allclose(vis, 0.5 + 0.5 * env / env.max(), atol=1e-3)
            else:
                assert not env.any()
                if not o.distractor:
                    assert np.ptp(vis) == 0


def test_envelope_is_the_objects_rms_in_the_mix(scenes):
    scene = scenes["loudest"]
    stems = [sound.synthesize(o.sound) for o in scene.objects if o.sounding]
    audio = render_audio(scene)
    assert audio.dtype == np.float32 and audio.shape == (10 * sound.SAMPLE_RATE,)
    assert 0.78 < np.abs(audio).max() <= 0.82
    sounding = [o for o in scene.objects if o.sounding]
    for o, stem in zip(sounding, stems, strict=True):
        np.testing.assert_allclose(
            o.envelope, sound.per_second_rms(stem * scene.mix_gain), rtol=1e-4, atol=1e-6
        )


def test_render_at_any_size(scenes):
    scene = scenes["near"]
    small = render_frame(scene, 3, (224, 224))
    wide = render_frame(scene, 3.4, (640, 360))
    assert small.shape == (224, 224, 3) and small.dtype == np.uint8
    assert wide.shape == (360, 640, 3)
    masks = object_masks(scene, (640, 360))
    assert all(m.shape == (360, 640) and m.any() for m in masks)
    assert sum(m.astype(int) for m in masks).max() == 1


def test_pulsing_objects_change_brightness_between_frames():
    scene = make_scene(np.random.default_rng(7), kind="first")
    renderer = FrameRenderer(scene, sensor_noise=0)
    frames = [renderer.frame(k).astype(float) for k in range(10)]
    for o, m in zip(scene.objects, renderer.masks, strict=True):
        means = np.array([f[m].mean() for f in frames])
        if np.ptp(o.visual_envelope) > 0.1:
            assert np.ptp(means) > 5
        if np.ptp(o.visual_envelope) == 0:
            assert np.ptp(means) < 1e-6


def test_same_seed_same_scene_and_category_pools():
    a = make_scene(np.random.default_rng(3), kind="lowest")
    b = make_scene(np.random.default_rng(3), kind="lowest")
    assert a == b
    unseen = unseen_categories()
    scene = make_scene(np.random.default_rng(4), categories=unseen, target_categories=unseen)
    assert all(o.category in unseen for o in scene.objects)


def test_bad_arguments():
    with pytest.raises(ValueError, match="kind"):
        make_scene(np.random.default_rng(0), kind="biggest")
    with pytest.raises(ValueError, match="categories"):
        make_scene(np.random.default_rng(0), categories=["dog", "cat"])
