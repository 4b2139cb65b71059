import json

import cv2
import numpy as np
import pytest

from maskaudit.errors import ConfigError, InputError
from maskaudit.runtime.sources import (
    ArrayAudio,
    CaptureSource,
    MaskVideo,
    NpzMasks,
    PngMaskFolder,
    RleJsonl,
    open_audio,
    open_masks,
    open_source,
    rle_decode,
)
from maskaudit.runtime.sources.masks import parse_mask_name


@pytest.mark.parametrize(
    "stem, parsed",
    [
        ("000012", ("frame", 12, None)),
        ("12", ("frame", 12, None)),
        ("frame_12", ("frame", 12, None)),
        ("frame_12_m1", ("frame", 12, "m1")),
        ("000012_m1", ("frame", 12, "m1")),
        ("12_person_2", ("frame", 12, "person_2")),
        ("t_0.480", ("t", 0.48, None)),
        ("t_3_m2", ("t", 3.0, "m2")),
        ("mask", None),
        ("frame_x", None),
    ],
)
def test_mask_names(stem, parsed):
    assert parse_mask_name(stem) == parsed


def _png(path, value=255, shape=(8, 10)):
    mask = np.zeros(shape, np.uint8)
    mask[2:5, 3:7] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), mask)
    return path


def test_png_folder_by_index_name_time_and_subfolder(tmp_path):
    _png(tmp_path / "000012.png")
    _png(tmp_path / "frame_12_m1.png")
    _png(tmp_path / "t_0.520.png")
    _png(tmp_path / "t_0.560_m3.png")
    _png(tmp_path / "person" / "12.png")
    _png(tmp_path / "notes.png")
    folder = PngMaskFolder(tmp_path, time_tolerance=0.02)
    assert sorted(folder.masks_for(12, 0.48)) == ["m0", "m1", "person"]
    assert sorted(folder.masks_for(13, 0.52)) == ["m0"]
    assert folder.masks_for(13, 0.52)["m0"].name == "t_0.520.png"
    assert sorted(folder.masks_for(14, 0.56)) == ["m3"]
    assert folder.masks_for(99, 9.0) == {}


def test_png_folder_without_masks_is_a_config_error(tmp_path):
    _png(tmp_path / "readme.png")
    with pytest.raises(ConfigError, match="no PNG named by frame"):
        PngMaskFolder(tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        PngMaskFolder(tmp_path / "none")


def test_npz_by_frame_name_and_stacked(tmp_path):
    a = np.zeros((8, 10), bool)
    a[1:3] = True
    np.savez(tmp_path / "named.npz", **{"12": a, "frame_13_m2": a, "14": np.stack([a, ~a])})
    named = NpzMasks(tmp_path / "named.npz")
    assert list(named.masks_for(12, 0)) == ["m0"]
    assert list(named.masks_for(13, 0)) == ["m2"]
    assert list(named.masks_for(14, 0)) == ["m0", "m1"]
    np.savez(tmp_path / "stacked.npz", masks=np.stack([np.stack([a, ~a])] * 3))
    stacked = open_masks(tmp_path / "stacked.npz")
    assert list(stacked.masks_for(2, 0)) == ["m0", "m1"]
    assert np.array_equal(stacked.masks_for(1, 0)["m1"], ~a)
    assert stacked.masks_for(3, 0) == {}
    np.savez(tmp_path / "bad.npz", x=a, y=a)
    with pytest.raises(ConfigError, match="name them by frame"):
        NpzMasks(tmp_path / "bad.npz")


def _rle_encode(mask):
    flat = mask.T.reshape(-1).astype(np.uint8)
    counts, current, run = [], 0, 0
    for value in flat:
        if value == current:
            run += 1
        else:
            counts.append(run)
            current, run = value, 1
    counts.append(run)
    return counts


def test_rle_decode_round_trip():
    rng = np.random.default_rng(0)
    mask = rng.random((7, 5)) > 0.5
    mask[0, 0] = True  # starts with foreground: leading zero run
    counts = _rle_encode(mask)
    assert counts[0] == 0
    assert np.array_equal(rle_decode([7, 5], counts), mask)
    with pytest.raises(InputError, match="sum to"):
        rle_decode([7, 5], counts[:-1])


def test_rle_jsonl(tmp_path):
    mask = np.zeros((6, 4), bool)
    mask[1:4, 1:3] = True
    lines = [
        {"frame": 0, "mask_id": "m0", "size": [6, 4], "counts": _rle_encode(mask)},
        {"frame": 0, "mask_id": "m1", "size": [6, 4], "counts": [1, 2]},
        {"frame": 2, "size": [6, 4], "counts": _rle_encode(~mask)},
    ]
    path = tmp_path / "masks.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    source = open_masks(path)
    assert isinstance(source, RleJsonl)
    found = source.masks_for(0, 0.0)
    assert np.array_equal(found["m0"], mask)
    assert isinstance(found["m1"], InputError)
    assert np.array_equal(source.masks_for(2, 0.0)["m0"], ~mask)
    assert source.masks_for(1, 0.0) == {}
    (tmp_path / "bad.jsonl").write_text('{"frame": 0}\nnot json\n')
    with pytest.raises(ConfigError, match="line 2"):
        RleJsonl(tmp_path / "bad.jsonl")


def test_mask_video_in_step_with_frames(tmp_path):
    path = tmp_path / "masks.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    for i in range(5):
        frame = np.zeros((48, 64, 3), np.uint8)
        frame[:, : 10 * (i + 1)] = 255
        writer.write(frame)
    writer.release()
    video = open_masks(path)
    assert isinstance(video, MaskVideo)
    areas = [video.masks_for(i, i / 10)["m0"].mean() for i in (0, 1, 3)]
    assert areas[0] < areas[1] < areas[2]
    assert isinstance(video.masks_for(2, 0.2)["m0"], InputError)
    assert isinstance(video.masks_for(9, 0.9)["m0"], InputError)


def test_open_masks_dispatch(tmp_path):
    assert open_masks(lambda f, i, t: {}).masks_for(0, 0.0) == {}
    with pytest.raises(ConfigError, match="unknown kind"):
        (tmp_path / "m.txt").write_text("x")
        open_masks(tmp_path / "m.txt")


def test_callback_must_return_a_dict():
    source = open_masks(lambda f, i, t: [1])
    with pytest.raises(InputError, match="return a dict"):
        source.masks_for(0, 0.0)


def test_array_audio_windows_and_coverage():
    audio = ArrayAudio(np.arange(16000 * 2 + 9000, dtype=np.float32))
    assert audio.window(0)[0] == 0 and audio.window(1)[0] == 16000
    last = audio.window(2)
    assert last[8999] == 16000 * 2 + 8999 and last[9000] == 0
    assert audio.window(3) is None and audio.window(-1) is None
    assert ArrayAudio(np.zeros(16000 * 2 + 7000)).window(2) is None
    with pytest.raises(InputError, match="1-D"):
        ArrayAudio(np.zeros((2, 100)))


def test_stereo_and_resampled_wav(tmp_path, make_wav):
    from maskaudit.features.audio import load_audio

    rng = np.random.default_rng(3)
    stereo = 0.2 * rng.standard_normal(16000 * 2 * 2)
    path = make_wav(tmp_path / "stereo.wav", stereo, channels=2)
    audio = open_audio(path)
    assert np.allclose(audio.window(1), load_audio(path)[16000:32000], atol=1e-6)
    resampled = open_audio(make_wav(tmp_path / "r.wav", stereo[:44100], rate=44100))
    assert isinstance(resampled, ArrayAudio) and resampled.window(0).shape == (16000,)


def test_video_source_times_and_missing_file(clip, tmp_path):
    source = open_source(str(clip.video))
    assert isinstance(source, CaptureSource) and not source.live
    frames = list(source)
    source.close()
    assert len(frames) == clip.frames
    assert [f.index for f in frames] == list(range(clip.frames))
    assert frames[10].t == pytest.approx(10 / clip.fps)
    assert frames[0].image.shape == (240, 320, 3)
    with pytest.raises(ConfigError, match="does not exist"):
        open_source(str(tmp_path / "none.mp4"))
    (tmp_path / "fake.mp4").write_bytes(b"nothing")
    with pytest.raises(ConfigError, match="cannot be opened"):
        open_source(str(tmp_path / "fake.mp4"))
