"""Fuzzing the answer-text parser: every field is None or in range, and no exception escapes."""

import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maskaudit.eval.answer import (
    CUTOFF,
    _tag,
    _tag_texts,
    parse_answer,
    parse_iou,
    parse_iou_value,
)
from maskaudit.labels import ACTIONS, TRAIN_TYPES

pytestmark = pytest.mark.timeout(120)
FUZZ = settings(max_examples=50, deadline=None)

TAGS = ["mask_type", "action", "iou", "answer", "think", "audit", "MASK_TYPE", " iou ", "/iou"]
WORDS = [
    "erode", "Dilate", "cutoff", "cut out", "perfect", "merge", "null", "full neg", "accept",
    "Minor Revision", "major", "reject", "0.73", "1.7", "-0.2", "nan", "inf", "1e999", "0x1p-2",
    "1_0", "", " ", "\n", "<", ">", "</", "\x00", "\U0001f3b9",
]  # fmt: skip


@st.composite
def answers(draw):
    """Text built from tags, label words and numbers, with unbalanced and nested tags."""
    parts = []
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["open", "close", "word", "text"]))
        if kind == "open":
            parts.append(f"<{draw(st.sampled_from(TAGS))}>")
        elif kind == "close":
            parts.append(f"</{draw(st.sampled_from(TAGS))}>")
        elif kind == "word":
            parts.append(draw(st.sampled_from(WORDS)))
        else:
            parts.append(draw(st.text(max_size=12)))
    return "".join(parts)


def check(answer):
    assert answer.iou is None or (math.isfinite(answer.iou) and 0.0 <= answer.iou <= 1.0)
    assert answer.mask_type is None or answer.mask_type in (*TRAIN_TYPES, CUTOFF)
    assert answer.action is None or answer.action in ACTIONS


@FUZZ
@given(answers() | st.text(max_size=300))
def test_parse_answer_fields_are_none_or_in_range(text):
    check(parse_answer(text))
    assert parse_iou(text) == parse_answer(text).iou


@FUZZ
@given(
    st.sampled_from(TRAIN_TYPES[:6]),
    st.sampled_from(ACTIONS),
    st.floats(0.0, 1.0),
    st.text(max_size=30).filter(lambda t: "<" not in t),
)
def test_a_well_formed_answer_is_read_back_whatever_surrounds_it(mask_type, action, iou, noise):
    text = (
        f"{noise}<think>{noise}</think><answer><mask_type>{mask_type}</mask_type>"
        f"<action> {action.upper()} </action><iou> {iou:.4f} </iou></answer>{noise}"
    )
    answer = parse_answer(text)
    assert answer.mask_type == mask_type and answer.action == action
    assert answer.iou == pytest.approx(round(iou, 4))


@FUZZ
@given(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)))
def test_parse_iou_value_is_none_or_in_range(value):
    iou = parse_iou_value(value)
    assert iou is None or (math.isfinite(iou) and 0.0 <= iou <= 1.0)


@FUZZ
@given(answers())
def test_tags_are_read_as_the_single_pattern_reads_them(text):
    """The linear-time tag scan gives what the plain lazy regex gives, on every input."""
    for name in ("iou", "mask_type", "action"):
        pattern = re.compile(rf"<\s*{name}\s*>(.*?)<\s*/\s*{name}\s*>", re.I | re.S)
        assert _tag_texts(_tag(name), text) == pattern.findall(text)


def test_a_huge_answer_parses_in_linear_time():
    """Many opening tags and no closing one: the search must not go quadratic or worse."""
    import time

    text = "<iou>" * 20000 + "<mask_type>" * 20000 + "0.5"
    start = time.perf_counter()
    answer = parse_answer(text)
    assert time.perf_counter() - start < 5.0
    assert answer.iou is None and answer.mask_type is None
