from __future__ import annotations

import pytest

from maskaudit.eval.answer import CUTOFF, Answer, parse_answer, parse_iou, parse_type_label


def test_full_answer_in_upper_case():
    text = "<MASK_TYPE> Erode </MASK_TYPE><ACTION>Minor Revision</ACTION><IOU> 0.8123 </IOU>"
    assert parse_answer(text) == Answer(0.8123, "erode", "minor revision")


def test_wrappers_and_reasoning_around_the_tags():
    text = (
        "<think>The mask covers the cello and part of the chair.\n</think>\n"
        "<answer><audit>\n<mask_type>\nfull negative\n</mask_type>"
        "<action>REJECT the mask</action><iou> 0.0210 </iou></audit></answer>"
    )
    assert parse_answer(text) == Answer(0.021, "full_neg", "reject")


def test_missing_or_unreadable_tags_are_unparsed():
    assert parse_answer("the mask looks fine to me") == Answer(None, None, None)
    assert parse_answer("<mask_type>banana</mask_type><action>keep</action>") == Answer()
    # an unclosed tag is not a tag
    assert parse_answer("<mask_type>erode <iou>0.5") == Answer()
    partial = parse_answer("<action>major revision</action>")
    assert partial == Answer(None, None, "major revision")


def test_first_tag_of_a_label_wins():
    text = "<mask_type>dilate</mask_type> ... <mask_type>erode</mask_type>"
    assert parse_answer(text).mask_type == "dilate"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<iou>0.3</iou><iou>0.9</iou>", 0.3),  # first in range wins
        ("<iou>1.5</iou><iou>0.2</iou><iou>abc</iou><iou>0.7</iou><iou>2</iou>", 0.7),
        ("<iou>-0.1</iou>", None),  # out of range, nothing after it
        ("<iou>3</iou><iou>-2</iou>", None),
        ("<iou>nan</iou><iou>0.4</iou>", 0.4),  # non-finite values are not collected
        ("<iou>inf</iou>", None),
        ("<iou>about 0.5</iou>", None),
        ("<iou> 1 </iou>", 1.0),
        ("<IoU>0</IoU>", 0.0),
        ("<iou>\n0.65\n</iou>", 0.65),
        ("no tag 0.7", None),
    ],
)
def test_iou_rule(text, expected):
    assert parse_iou(text) == expected


def test_cutoff_is_a_label_that_never_equals_cutout():
    assert parse_type_label("cutoff") == CUTOFF
    assert parse_type_label("CutOff mask") != "cutout"
    assert parse_answer("<mask_type>cutoff</mask_type>").mask_type == CUTOFF
    assert parse_answer("<mask_type>cutout</mask_type>").mask_type == "cutout"
    assert parse_answer("<mask_type>cut</mask_type>").mask_type == "cutout"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("perfect", "perfect"),
        ("Dilate", "dilate"),
        ("merged", "merge"),
        ("null", "null"),
        ("empty mask", "null"),
        ("full_neg", "full_neg"),
        ("negative", "full_neg"),
    ],
)
def test_type_labels_normalise_by_substring(text, expected):
    assert parse_type_label(text) == expected
