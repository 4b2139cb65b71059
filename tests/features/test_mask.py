import struct
import zlib

import cv2
import numpy as np
import pytest

from maskaudit.errors import InputError
from maskaudit.features.mask import normalise_mask, prepare_masks, read_mask, resize_mask


def _box(height=40, width=60):
    box = np.zeros((height, width), bool)
    box[10:30, 20:50] = True
    return box


def _write_palette_png(path, indices, palette, bit_depth=8, transparency=None):
    """Write a palette PNG by hand (no imaging library needed)."""

    def chunk(kind, payload):
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    height, width = indices.shape
    per_byte = 8 // bit_depth
    rows = []
    for row in indices.astype(np.uint8):
        padded = np.zeros(-(-width // per_byte) * per_byte, np.uint8)
        padded[:width] = row
        groups = padded.reshape(-1, per_byte)
        shifts = bit_depth * np.arange(per_byte - 1, -1, -1)
        packed = (groups << shifts).sum(axis=1).astype(np.uint8)
        rows.append(b"\x00" + packed.tobytes())
    header = struct.pack(">IIBBBBB", width, height, bit_depth, 3, 0, 0, 0)
    body = [chunk(b"IHDR", header), chunk(b"PLTE", bytes(np.asarray(palette, np.uint8).ravel()))]
    if transparency is not None:
        body.append(chunk(b"tRNS", bytes(transparency)))
    body.append(chunk(b"IDAT", zlib.compress(b"".join(rows))))
    body.append(chunk(b"IEND", b""))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"".join(body))


# normalise_mask: every input kind


def test_bool_mask():
    box = _box()
    out = normalise_mask(box)
    assert out.dtype == np.float32 and out.shape == box.shape
    np.testing.assert_array_equal(out, box.astype(np.float32))


@pytest.mark.parametrize("scale", [1, 255])
def test_uint8_zero_one_and_zero_255(scale):
    box = _box()
    np.testing.assert_array_equal(
        normalise_mask(box.astype(np.uint8) * scale), box.astype(np.float32)
    )


def test_uint8_soft_values_scale_by_255():
    values = np.array([[0, 64, 128, 255]], np.uint8)
    np.testing.assert_allclose(normalise_mask(values), values / 255.0, rtol=1e-6)


@pytest.mark.parametrize("scale", [1, 65535])
def test_uint16_masks(scale):
    box = _box()
    np.testing.assert_array_equal(
        normalise_mask(box.astype(np.uint16) * scale), box.astype(np.float32)
    )
    np.testing.assert_allclose(
        normalise_mask(np.array([[0, 32768]], np.uint16)), [[0.0, 32768 / 65535]], rtol=1e-6
    )


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.int8, np.uint32])
def test_other_integers_are_label_maps(dtype):
    labels = np.array([[0, 1, 2, 7]], dtype)
    np.testing.assert_array_equal(normalise_mask(labels), [[0.0, 1.0, 1.0, 1.0]])


def test_float_soft_mask_nan_and_clipping():
    soft = np.array([[0.25, np.nan, 1.5, -0.5, np.inf, 0.75]], np.float64)
    out = normalise_mask(soft)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.25, 0.0, 1.0, 0.0, 1.0, 0.75]])


def test_float_above_one_is_logged(caplog):
    with caplog.at_level("WARNING", logger="maskaudit.features.mask"):
        normalise_mask(np.array([[0.0, 255.0]], np.float32))
    assert "1/255" in caplog.text


def test_rgb_binary_any_nonzero_channel_counts():
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[0, 0] = (255, 0, 0)
    rgb[1, 1] = (0, 0, 255)
    rgb[2, 2] = (255, 255, 255)
    expected = np.zeros((4, 4), np.float32)
    expected[[0, 1, 2], [0, 1, 2]] = 1.0
    np.testing.assert_array_equal(normalise_mask(rgb), expected)


def test_rgb_gray_keeps_soft_values():
    gray = np.array([[0, 64, 128, 255]], np.uint8)
    rgb = np.repeat(gray[..., None], 3, axis=2)
    np.testing.assert_allclose(normalise_mask(rgb), gray / 255.0, rtol=1e-6)


def test_rgb_coloured_masks_are_binarised():
    rgb = np.zeros((1, 4, 3), np.uint8)
    rgb[0, 1] = (0, 200, 0)
    rgb[0, 2] = (40, 0, 90)
    rgb[0, 3] = (128, 128, 128)
    np.testing.assert_array_equal(normalise_mask(rgb), [[0.0, 1.0, 1.0, 1.0]])


def test_single_channel_axis_is_dropped():
    box = _box().astype(np.uint8) * 255
    np.testing.assert_array_equal(normalise_mask(box[:, :, None]), normalise_mask(box))


def test_rgba_alpha_is_the_mask_when_colour_is_flat():
    box = _box()
    for colour in (0, 255):
        rgba = np.full(box.shape + (4,), colour, np.uint8)
        rgba[..., 3] = box * 255
        np.testing.assert_array_equal(normalise_mask(rgba), box.astype(np.float32))


def test_rgba_colour_is_the_mask_when_alpha_is_constant():
    box = _box()
    rgba = np.zeros(box.shape + (4,), np.uint8)
    rgba[..., :3] = box[..., None] * 255
    rgba[..., 3] = 255
    np.testing.assert_array_equal(normalise_mask(rgba), box.astype(np.float32))


def test_rgba_colour_wins_when_both_vary():
    box = _box()
    rgba = np.zeros(box.shape + (4,), np.uint8)
    rgba[..., 0] = box * 255
    rgba[..., 3] = 255
    rgba[0, 0, 3] = 0
    np.testing.assert_array_equal(normalise_mask(rgba), box.astype(np.float32))


def test_rgba_scales_colour_and_alpha_separately():
    box = _box()
    rgba = np.zeros(box.shape + (4,), np.uint8)
    rgba[..., 0] = box  # 0/1 colour with an opaque alpha of 255
    rgba[..., 3] = 255
    np.testing.assert_array_equal(normalise_mask(rgba), box.astype(np.float32))


@pytest.mark.parametrize(
    "bad", [np.zeros((4, 4, 2)), np.zeros((2, 2, 2, 2)), np.zeros(5), np.zeros((0, 4))]
)
def test_bad_mask_shapes(bad):
    with pytest.raises(InputError, match="shape"):
        normalise_mask(bad)


def test_bad_mask_dtype():
    with pytest.raises(InputError, match="dtype"):
        normalise_mask(np.array([["a", "b"]]))


def test_normalise_is_deterministic_and_does_not_modify_input():
    soft = np.random.default_rng(0).random((30, 30)).astype(np.float32)
    soft[0, 0] = np.nan
    before = soft.copy()
    first = normalise_mask(soft)
    np.testing.assert_array_equal(first, normalise_mask(soft))
    np.testing.assert_array_equal(soft, before)


# resize_mask and prepare_masks


def test_resize_keeps_soft_coverage():
    mask = np.zeros((320, 320), np.uint8)
    mask[0:3, :] = 255  # a band 1.5 output rows high
    out = resize_mask(mask)
    assert out.shape == (160, 160) and out.dtype == np.float32
    np.testing.assert_allclose(out[0], 1.0)
    np.testing.assert_allclose(out[1], 0.5)
    assert out[2:].max() == 0.0
    assert abs(out.mean() - normalise_mask(mask).mean()) < 1e-6


def test_resize_matches_cv2_area_and_custom_size():
    soft = np.random.default_rng(1).random((100, 150)).astype(np.float32)
    expected = cv2.resize(soft, (64, 64), interpolation=cv2.INTER_AREA)
    np.testing.assert_allclose(resize_mask(soft, size=64), expected, rtol=1e-6)


def test_prepare_masks_stacks_any_kinds():
    box = _box(120, 160)
    masks = [box, box.astype(np.uint8) * 255, box.astype(np.float32)]
    out = prepare_masks(masks, frame_shape=(120, 160, 3))
    assert out.shape == (3, 160, 160) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0], out[1])
    np.testing.assert_array_equal(out[0], out[2])
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_prepare_masks_accepts_stacked_arrays_and_empty_lists():
    stack = np.stack([_box(), ~_box()])
    out = prepare_masks(stack)
    assert out.shape == (2, 160, 160)
    np.testing.assert_allclose(out[0] + out[1], 1.0, atol=1e-6)
    assert prepare_masks([]).shape == (0, 160, 160)
    assert prepare_masks(_box()).shape == (1, 160, 160)


def test_prepare_masks_accepts_same_aspect_ratio():
    out = prepare_masks([_box(360, 640)], frame_shape=(720, 1280))
    assert out.shape == (1, 160, 160)
    prepare_masks([np.zeros((361, 640))], frame_shape=(720, 1280))  # within 1%


def test_prepare_masks_rejects_other_aspect_ratio_naming_both_sizes():
    with pytest.raises(InputError, match=r"mask 1 is 640x480 but the frame is 1280x720"):
        prepare_masks([np.zeros((720, 1280)), np.zeros((480, 640))], frame_shape=(720, 1280, 3))


def test_prepare_masks_without_resize_needs_exact_size():
    prepare_masks([np.zeros((720, 1280))], frame_shape=(720, 1280), resize=False)
    with pytest.raises(InputError, match="360 but the frame is 1280x720.*resize"):
        prepare_masks([np.zeros((360, 640))], frame_shape=(720, 1280), resize=False)


# read_mask


@pytest.mark.parametrize("scale", [1, 255])
def test_read_8bit_png(tmp_path, scale):
    box = _box()
    path = tmp_path / "mask.png"
    cv2.imwrite(str(path), box.astype(np.uint8) * scale)
    np.testing.assert_array_equal(read_mask(path), box.astype(np.float32))


def test_read_16bit_png(tmp_path):
    box = _box()
    path = tmp_path / "mask16.png"
    cv2.imwrite(str(path), box.astype(np.uint16) * 65535)
    assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    np.testing.assert_array_equal(read_mask(path), box.astype(np.float32))


def test_read_rgb_and_rgba_png(tmp_path):
    box = _box()
    rgb = np.zeros(box.shape + (3,), np.uint8)
    rgb[box] = (0, 200, 0)
    cv2.imwrite(str(tmp_path / "rgb.png"), rgb)
    np.testing.assert_array_equal(read_mask(tmp_path / "rgb.png"), box.astype(np.float32))

    rgba = np.zeros(box.shape + (4,), np.uint8)
    rgba[..., 3] = box * 255
    cv2.imwrite(str(tmp_path / "rgba.png"), rgba)
    np.testing.assert_array_equal(read_mask(tmp_path / "rgba.png"), box.astype(np.float32))


@pytest.mark.parametrize("bit_depth", [8, 4, 2, 1])
def test_read_palette_png_index_above_zero_is_foreground(tmp_path, bit_depth):
    indices = np.zeros((40, 60), np.uint8)
    indices[10:30, 20:35] = 1
    if bit_depth > 1:
        indices[10:30, 40:50] = 2
    # index 0 is white and index 1 black: colour does not decide, the index does
    palette = [(255, 255, 255), (0, 0, 0), (0, 128, 0)]
    path = tmp_path / f"palette{bit_depth}.png"
    _write_palette_png(path, indices, palette, bit_depth=bit_depth)
    np.testing.assert_array_equal(read_mask(path), (indices > 0).astype(np.float32))
    np.testing.assert_array_equal(read_mask(path, label=1), (indices == 1).astype(np.float32))


def test_read_palette_png_with_transparency(tmp_path):
    indices = np.zeros((8, 8), np.uint8)
    indices[2:5, 2:5] = 3
    palette = [(0, 0, 0), (10, 10, 10), (20, 20, 20), (200, 0, 0)]
    path = tmp_path / "trns.png"
    _write_palette_png(path, indices, palette, transparency=[0, 255, 255, 255])
    np.testing.assert_array_equal(read_mask(path), (indices > 0).astype(np.float32))


def test_read_palette_png_written_by_pillow(tmp_path):
    image_module = pytest.importorskip("PIL.Image", reason="Pillow writes the palette PNG")
    indices = np.zeros((30, 40), np.uint8)
    indices[5:10, 5:10] = 1
    indices[20:25, 20:30] = 2
    image = image_module.fromarray(indices, mode="P")
    image.putpalette([255, 255, 255, 255, 0, 0, 0, 255, 0] + [0] * (253 * 3))
    path = tmp_path / "pillow.png"
    image.save(path)
    np.testing.assert_array_equal(read_mask(path), (indices > 0).astype(np.float32))
    np.testing.assert_array_equal(read_mask(path, label=2), (indices == 2).astype(np.float32))


def test_label_needs_a_palette_png(tmp_path):
    path = tmp_path / "gray.png"
    cv2.imwrite(str(path), _box().astype(np.uint8))
    with pytest.raises(InputError, match="gray.png is not a palette PNG"):
        read_mask(path, label=1)


def test_read_mask_rejects_non_images(tmp_path):
    text = tmp_path / "mask.png"
    text.write_text("hello")
    with pytest.raises(InputError, match="mask.png"):
        read_mask(text)
    truncated = tmp_path / "cut.png"
    cv2.imwrite(str(truncated), _box().astype(np.uint8))
    truncated.write_bytes(truncated.read_bytes()[:20])
    with pytest.raises(InputError, match="cut.png"):
        read_mask(truncated)
    with pytest.raises(InputError, match="nowhere.png"):
        read_mask(tmp_path / "nowhere.png")
