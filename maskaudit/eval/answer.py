"""Parse an auditor's answer text into an IoU, a mask type and an action.

The reference auditor writes ``<mask_type>...</mask_type>``, ``<action>...</action>`` and
``<iou> 0.xxxx </iou>``, possibly inside ``<think>``, ``<answer>`` or ``<audit>`` wrappers. Tags
are matched case-insensitively anywhere in the text; the first ``<mask_type>`` and ``<action>``
tags are read. Labels are normalised by substring as the reference does, including its one
quirk: a type text containing ``cutoff`` becomes the label ``cutoff``, which matches no class
(it is a wrong prediction, neither ``cutout`` nor a parse failure).
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from dataclasses import dataclass

from maskaudit.labels import normalise_action, normalise_type

CUTOFF = "cutoff"
"""The label a ``cutoff`` type text normalises to; it never equals ``cutout``."""


def _tag(name: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The opening and the closing pattern of a tag (any case, spaces allowed inside)."""
    opening = re.compile(rf"<\s*{name}\s*>", re.IGNORECASE)
    closing = re.compile(rf"<\s*/\s*{name}\s*>", re.IGNORECASE)
    return opening, closing


def _tag_texts(
    tag: tuple[re.Pattern[str], re.Pattern[str]], text: str, first: bool = False
) -> list[str]:
    """Return the texts inside a tag's pairs, left to right, without overlaps.

    The result is what ``re.findall(r"<tag>(.*?)</tag>", text, re.DOTALL)`` gives (each opening
    tag pairs with the first closing tag after it; the search goes on after that closing tag),
    found in time linear in the text: the single pattern backtracks over the whole rest of the
    text for every opening tag that has no closing tag, which is quadratic on a degenerate
    answer that repeats an opening tag.
    """
    opening, closing = tag
    opens = [(m.start(), m.end()) for m in opening.finditer(text)]
    closes = [(m.start(), m.end()) for m in closing.finditer(text)]
    open_starts = [start for start, _ in opens]
    close_starts = [start for start, _ in closes]
    found: list[str] = []
    position = 0
    while True:
        i = bisect_left(open_starts, position)
        if i == len(opens):
            return found
        j = bisect_left(close_starts, opens[i][1])
        if j == len(closes):
            return found
        found.append(text[opens[i][1] : close_starts[j]])
        if first:
            return found
        position = closes[j][1]


_TYPE_TAG = _tag("mask_type")
_ACTION_TAG = _tag("action")
_IOU_TAG = _tag("iou")


@dataclass(frozen=True)
class Answer:
    """One parsed answer; a field is ``None`` where the answer gave nothing parsable.

    Attributes:
        iou: Predicted IoU in [0, 1], or None.
        mask_type: Predicted type (one of ``TRAIN_TYPES``, or ``CUTOFF``), or None.
        action: Predicted action (one of ``ACTIONS``), or None.
    """

    iou: float | None = None
    mask_type: str | None = None
    action: str | None = None


UNPARSED = Answer()
"""The answer of a candidate that has no prediction at all."""


def parse_type_label(text: str) -> str | None:
    """Normalise a type text by substring, keeping the reference's ``cutoff`` quirk.

    Args:
        text: The text inside a ``<mask_type>`` tag, or a label.

    Returns:
        A type of ``TRAIN_TYPES``, ``CUTOFF`` for a text containing "cutoff", or None.

    Example:
        >>> parse_type_label(" Erode "), parse_type_label("cutoff")
        ('erode', 'cutoff')
    """
    if CUTOFF in text.lower():
        return CUTOFF
    return normalise_type(text)


def parse_iou_value(value: object) -> float | None:
    """Return ``value`` as an IoU if it is a finite number in [0, 1], else None.

    Args:
        value: A number or the text of a number (booleans are not numbers here).

    Returns:
        The IoU, or None.
    """
    number = _finite_float(value)
    return number if number is not None and 0.0 <= number <= 1.0 else None


def _finite_float(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def parse_iou(text: str) -> float | None:
    """Read the IoU of an answer text.

    Every ``<iou>`` value that parses as a finite float is collected. The first wins if it is
    in [0, 1]; otherwise the last in-range value after it does; with none in range the IoU is
    unparsed.

    Args:
        text: The whole answer.

    Returns:
        The IoU, or None.

    Example:
        >>> parse_iou("<iou>1.7</iou> <iou>0.4</iou> <iou>0.6</iou>")
        0.6
    """
    values = [
        v for v in (_finite_float(m.strip()) for m in _tag_texts(_IOU_TAG, text)) if v is not None
    ]
    if not values:
        return None
    if 0.0 <= values[0] <= 1.0:
        return values[0]
    in_range = [v for v in values[1:] if 0.0 <= v <= 1.0]
    return in_range[-1] if in_range else None


def _first_tag(tag: tuple[re.Pattern[str], re.Pattern[str]], text: str) -> str | None:
    found = _tag_texts(tag, text, first=True)
    return found[0] if found else None


def parse_answer(text: str) -> Answer:
    """Parse an auditor's answer text.

    Args:
        text: The generated answer, wrappers and reasoning included.

    Returns:
        The parsed answer; missing or unreadable parts are None.

    Example:
        >>> parse_answer("<answer><MASK_TYPE>Dilate</MASK_TYPE><action>minor revision</action>"
        ...              "<iou> 0.7312 </iou></answer>")
        Answer(iou=0.7312, mask_type='dilate', action='minor revision')
    """
    type_text = _first_tag(_TYPE_TAG, text)
    action_text = _first_tag(_ACTION_TAG, text)
    return Answer(
        iou=parse_iou(text),
        mask_type=None if type_text is None else parse_type_label(type_text),
        action=None if action_text is None else normalise_action(action_text),
    )
