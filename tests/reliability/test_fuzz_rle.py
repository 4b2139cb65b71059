"""Fuzzing RLE parsing: a mask of the declared size, or an InputError or ConfigError."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from maskaudit.errors import ConfigError, InputError
from maskaudit.runtime.sources.masks import MAX_RLE_PIXELS, RleJsonl, rle_decode

pytestmark = pytest.mark.timeout(120)
FUZZ = settings(max_examples=50, deadline=None)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
"""Any JSON-like value (NaN and infinities included, as Python's json reads them)."""

SIZES = st.one_of(
    st.lists(st.integers(-3, 12), min_size=2, max_size=2),
    st.lists(st.integers(0, 2**40), min_size=2, max_size=2),
    JSON,
)
COUNTS = st.one_of(
    st.lists(st.integers(-2, 40), max_size=12), st.lists(st.integers(), max_size=4), JSON
)


def rle_encode(mask):
    flat = mask.T.reshape(-1)
    edges = np.flatnonzero(np.diff(np.concatenate([[False], flat, [not flat[-1]]])))
    return np.diff(np.concatenate([[0], edges])).tolist()


@FUZZ
@given(SIZES, COUNTS)
def test_rle_decode_gives_a_mask_of_its_size_or_an_input_error(size, counts):
    try:
        mask = rle_decode(size, counts)
    except InputError:
        return
    h, w = size
    assert mask.dtype == np.bool_ and mask.shape == (h, w) and h * w <= MAX_RLE_PIXELS
    assert int(mask.sum()) == sum(counts[1::2])  # every odd run is foreground


@FUZZ
@given(hnp.arrays(np.bool_, st.tuples(st.integers(1, 9), st.integers(1, 9))))
def test_rle_round_trip(mask):
    counts = rle_encode(mask)
    assert sum(counts) == mask.size
    np.testing.assert_array_equal(rle_decode(list(mask.shape), counts), mask)


@st.composite
def jsonl_files(draw):
    """RLE JSON-lines files: valid lines mixed with fuzzed values, fuzzed fields and junk."""
    lines = []
    for frame in range(draw(st.integers(0, 5))):
        mask = draw(hnp.arrays(np.bool_, st.tuples(st.integers(1, 4), st.integers(1, 4))))
        record = {"frame": frame, "size": list(mask.shape), "counts": rle_encode(mask)}
        kind = draw(st.sampled_from(["good", "field", "drop", "junk", "frame"]))
        if kind == "field":
            record[draw(st.sampled_from(["size", "counts", "mask_id"]))] = draw(JSON)
        elif kind == "drop":
            record.pop(draw(st.sampled_from(["size", "counts", "frame"])))
        elif kind == "frame":
            record["frame"] = draw(JSON)
        line = json.dumps(record) if kind != "junk" else draw(st.text(max_size=20))
        lines.append(line.encode("utf-8", "surrogatepass"))
    return b"\n".join(lines) + draw(st.sampled_from([b"", b"\n", b"\n\n"]))


@FUZZ
@given(jsonl_files())
def test_rle_jsonl_refuses_at_start_or_gives_masks_and_error_values(tmp_path_factory, data):
    path = tmp_path_factory.getbasetemp() / "fuzz.jsonl"
    path.write_bytes(data)
    try:
        source = RleJsonl(path)
    except ConfigError as err:
        assert "fuzz.jsonl line" in str(err)
        return
    for frame in list(source.offsets)[:6]:
        for mask_id, mask in source.masks_for(frame, 0.0).items():
            assert isinstance(mask_id, str)
            if isinstance(mask, InputError):
                assert f"frame {frame}" in str(mask)
            else:
                assert mask.dtype == np.bool_ and mask.ndim == 2
