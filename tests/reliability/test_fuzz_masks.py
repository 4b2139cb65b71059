"""Fuzzing mask decoding and normalisation: a soft mask in [0, 1] or an InputError, nothing else."""

import struct
import zlib

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from maskaudit.errors import InputError
from maskaudit.features.mask import normalise_mask, prepare_masks, read_mask

pytestmark = pytest.mark.timeout(120)
FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

DTYPES = st.sampled_from(
    [
        np.bool_,
        np.uint8,
        np.uint16,
        np.int8,
        np.int16,
        np.int32,
        np.int64,
        np.uint32,
        np.uint64,
        np.float16,
        np.float32,
        np.float64,
        np.complex64,
        np.dtype("U3"),
        np.dtype("datetime64[s]"),
    ]
)
SHAPES = st.one_of(
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=0, max_side=12),
    st.tuples(st.integers(0, 9), st.integers(0, 9), st.sampled_from([1, 2, 3, 4, 5])),
    hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4),
)


def check_soft(soft, shape=None):
    assert isinstance(soft, np.ndarray) and soft.dtype == np.float32 and soft.ndim == 2
    if shape is not None:
        assert soft.shape == shape
    assert np.isfinite(soft).all()
    assert soft.size == 0 or (soft.min() >= 0.0 and soft.max() <= 1.0)


@FUZZ
@given(hnp.arrays(DTYPES, SHAPES))
def test_normalise_mask_gives_a_soft_mask_or_an_input_error(array):
    try:
        soft = normalise_mask(array)
    except InputError:
        return
    check_soft(soft, array.shape[:2])


@FUZZ
@given(
    hnp.arrays(
        st.sampled_from([np.bool_, np.uint8, np.uint16, np.float32, np.float64]),
        st.tuples(st.integers(1, 9), st.integers(1, 9)),
    ),
    st.sampled_from([(1, 1), (4, 4), (9, 9), (8, 6), (3, 7)]),
    st.booleans(),
)
def test_prepare_masks_fits_the_model_size_or_raises(array, frame_hw, resize):
    try:
        out = prepare_masks([array], frame_hw, size=16, resize=resize)
    except InputError as err:
        assert array.shape != frame_hw, err  # a mask at the frame's size is always accepted
        return
    assert out.shape == (1, 16, 16) and out.dtype == np.float32
    assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0


@FUZZ
@given(
    hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 8), st.integers(1, 8)),
        elements=st.floats(allow_nan=True, allow_infinity=True, width=64),
    )
)
def test_nan_and_infinite_mask_values_are_cleaned(array):
    soft = normalise_mask(array)
    check_soft(soft, array.shape)
    finite = np.isfinite(array)
    expected = np.where(finite, np.clip(np.nan_to_num(array.astype(np.float32)), 0, 1), 0.0)
    expected[np.isposinf(array)] = 1.0
    np.testing.assert_allclose(soft, expected, atol=1e-6)


def _png(array: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", array)
    assert ok
    return data.tobytes()


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


SEEDS = [
    _png(np.eye(5, dtype=np.uint8) * 255),
    _png((np.arange(24, dtype=np.uint16).reshape(4, 6)) * 2000),
    _png(np.dstack([np.eye(4, dtype=np.uint8) * 255] * 4)),
    b"\x89PNG\r\n\x1a\n"
    + _chunk(b"IHDR", struct.pack(">IIBBBBB", 3, 2, 8, 3, 0, 0, 0))
    + _chunk(b"PLTE", bytes(range(9)))
    + _chunk(b"IDAT", zlib.compress(b"\x00\x00\x01\x02\x00\x02\x01\x00"))
    + _chunk(b"IEND", b""),
]


@st.composite
def damaged_images(draw):
    """Valid PNGs (gray, 16-bit, RGBA, palette) with bytes flipped, cut, inserted or forged
    (the declared size, or the whole header chunk)."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 4))):
        action = draw(st.sampled_from(["flip", "cut", "insert", "ihdr", "header"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if action == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[at:]
        elif action == "insert":
            data[at:at] = draw(st.binary(max_size=16))
        elif action == "ihdr" and len(data) > 24:
            # forge the declared size (up to 2^31 pixels a side) and fix the CRC
            w, h = draw(st.integers(0, 2**31 - 1)), draw(st.integers(0, 2**31 - 1))
            data[16:24] = struct.pack(">II", w, h)
            data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
        elif action == "header":
            # replace the IHDR chunk by a well-formed chunk of any length and content
            length = struct.unpack(">I", bytes(data[8:12]))[0] if len(data) >= 12 else 0
            rest = bytes(data[8 + 12 + length :]) if length < len(data) else b""
            data = bytearray(data[:8] + _chunk(b"IHDR", draw(st.binary(max_size=20))) + rest)
    return bytes(data)


@FUZZ
@given(st.one_of(damaged_images(), st.binary(max_size=64)))
def test_read_mask_on_damaged_files_gives_a_soft_mask_or_an_input_error(tmp_path_factory, data):
    path = tmp_path_factory.getbasetemp() / "fuzz_mask.png"
    path.write_bytes(data)
    try:
        soft = read_mask(path)
    except InputError as err:
        assert "fuzz_mask.png" in str(err)
        return
    check_soft(soft)


@FUZZ
@given(st.one_of(damaged_images(), st.binary(max_size=64)), st.integers(0, 300))
def test_read_mask_with_a_label(tmp_path_factory, data, label):
    path = tmp_path_factory.getbasetemp() / "fuzz_label.png"
    path.write_bytes(data)
    try:
        soft = read_mask(path, label=label)
    except InputError:
        return
    check_soft(soft)
    assume(soft.size)
    assert set(np.unique(soft)) <= {0.0, 1.0}  # a label selects whole pixels
