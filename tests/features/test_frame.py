import cv2
import numpy as np
import pytest

from maskaudit.errors import InputError
from maskaudit.features.frame import prepare_frame, read_frame


def _image(height, width, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    shape = (height, width) if channels is None else (height, width, channels)
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


@pytest.mark.parametrize("shape", [(480, 640, 3), (720, 1280, 3), (90, 120, 3), (160, 160, 3)])
def test_rgb_frames_become_square_uint8(shape):
    frame = prepare_frame(_image(*shape))
    assert frame.shape == (160, 160, 3)
    assert frame.dtype == np.uint8
    assert frame.flags["C_CONTIGUOUS"]


def test_custom_size():
    assert prepare_frame(_image(50, 70), size=32).shape == (32, 32, 3)


def test_same_input_gives_identical_output():
    image = _image(333, 517)
    np.testing.assert_array_equal(prepare_frame(image), prepare_frame(image.copy()))


def test_downscaling_uses_area_interpolation():
    image = _image(480, 640)
    expected = cv2.resize(image, (160, 160), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(prepare_frame(image), expected)


def test_upscaling_uses_linear_interpolation():
    image = _image(100, 400)  # height grows, width shrinks: counts as upscaling
    expected = cv2.resize(image, (160, 160), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(prepare_frame(image), expected)


def test_plain_stretch_keeps_left_and_right_halves():
    image = np.zeros((100, 400, 3), np.uint8)
    image[:, 200:] = 255
    frame = prepare_frame(image)
    assert frame[:, :79].max() == 0
    assert frame[:, 81:].min() == 255


def test_gray_is_repeated_into_three_channels():
    gray = _image(200, 300, channels=None)
    frame = prepare_frame(gray)
    assert frame.shape == (160, 160, 3)
    np.testing.assert_array_equal(frame[..., 0], frame[..., 1])
    np.testing.assert_array_equal(frame[..., 0], frame[..., 2])
    np.testing.assert_array_equal(prepare_frame(gray[:, :, None]), frame)


def test_rgba_drops_alpha():
    rgba = _image(200, 300, channels=4)
    np.testing.assert_array_equal(prepare_frame(rgba), prepare_frame(rgba[:, :, :3].copy()))


def test_frame_is_not_modified():
    image = _image(64, 64)
    before = image.copy()
    prepare_frame(image)
    np.testing.assert_array_equal(image, before)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((10, 10, 2), np.uint8),
        np.zeros((10, 10, 5), np.uint8),
        np.zeros((2, 10, 10, 3), np.uint8),
        np.zeros((10,), np.uint8),
        np.zeros((0, 10, 3), np.uint8),
    ],
)
def test_bad_shapes_raise_input_error_naming_the_shape(bad):
    with pytest.raises(InputError, match=r"\(" + ", ".join(str(s) for s in bad.shape)):
        prepare_frame(bad)


@pytest.mark.parametrize("dtype", [np.float32, np.uint16, np.int64, np.bool_])
def test_other_dtypes_raise_input_error(dtype):
    with pytest.raises(InputError, match="uint8"):
        prepare_frame(np.zeros((10, 10, 3), dtype))


def test_non_array_raises_input_error():
    with pytest.raises(InputError, match="numpy array"):
        prepare_frame([[0, 0, 0]])


def test_read_frame_returns_rgb(tmp_path):
    rgb = _image(30, 40)
    path = tmp_path / "frame.png"
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    np.testing.assert_array_equal(read_frame(path), rgb)


def test_read_frame_gray_file_gives_three_channels(tmp_path):
    path = tmp_path / "gray.png"
    cv2.imwrite(str(path), _image(20, 10, channels=None))
    assert read_frame(path).shape == (20, 10, 3)


def test_read_frame_rejects_non_image(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("not an image")
    with pytest.raises(InputError, match="notes.png"):
        read_frame(path)


def test_read_frame_rejects_empty_and_missing_files(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty.jpg"):
        read_frame(empty)
    with pytest.raises(InputError, match="missing.jpg"):
        read_frame(tmp_path / "missing.jpg")
