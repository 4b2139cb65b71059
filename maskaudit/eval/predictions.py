"""Read and write prediction files: one JSON object per line, keyed by (uid, frame, mask_id).

A line is either a maskaudit verdict record::

    {"uid": "v1_dog_0", "frame": 3, "mask_id": "erode_1_0",
     "iou": 0.73, "mask_type": "erode", "action": "minor revision", ...}

(other fields are ignored) or a reference-style answer, whose text is parsed with
``maskaudit.eval.answer.parse_answer``::

    {"uid": "v1_dog_0", "frame": 3, "mask_id": "erode_1_0", "text": "<iou>0.73</iou> ..."}

In a verdict record an IoU that is missing, null, not a finite number or outside [0, 1] is
unparsed, as is a type or action that normalises to nothing. A candidate with no line at all is
scored as unparsed in every field.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from maskaudit.data.records import Candidate
from maskaudit.errors import DataError
from maskaudit.eval.answer import Answer, parse_answer, parse_iou_value, parse_type_label
from maskaudit.labels import normalise_action

logger = logging.getLogger(__name__)

PredictionKey = tuple[str, int, str]
"""(uid, frame, mask_id): the key of one prediction."""

VERDICT_FIELDS: tuple[str, ...] = ("iou", "mask_type", "action")
"""Fields of a verdict record that carry the prediction."""


def candidate_key(candidate: Candidate) -> PredictionKey:
    """Return the prediction key of a candidate.

    Args:
        candidate: A candidate from the benchmark reader.

    Returns:
        ``(uid, frame, mask_id)``.
    """
    return (candidate.uid, candidate.frame, candidate.mask_id)


def _label(value: object, normalise) -> str | None:
    return normalise(value) if isinstance(value, str) else None


def answer_from_record(record: Mapping[str, Any]) -> Answer:
    """Turn one prediction record (verdict or reference-style answer) into an ``Answer``.

    Args:
        record: A decoded line; a ``text`` field makes it a reference-style answer.

    Returns:
        The parsed answer.

    Raises:
        DataError: If ``text`` is not a string, or the record carries neither ``text`` nor any
            of ``iou``, ``mask_type``, ``action``.
    """
    if "text" in record:
        if not isinstance(record["text"], str):
            raise DataError("field 'text' must be a string holding the auditor's answer")
        return parse_answer(record["text"])
    if not any(field in record for field in VERDICT_FIELDS):
        raise DataError(
            "record has neither 'text' nor any of 'iou', 'mask_type', 'action': "
            "write a verdict record or a reference-style answer"
        )
    return Answer(
        iou=parse_iou_value(record.get("iou")),
        mask_type=_label(record.get("mask_type"), parse_type_label),
        action=_label(record.get("action"), normalise_action),
    )


def _key_of(record: Mapping[str, Any]) -> PredictionKey:
    uid, frame, mask_id = record.get("uid"), record.get("frame"), record.get("mask_id")
    if not isinstance(uid, str) or not uid:
        raise DataError("field 'uid' is missing or not a string: every line needs the uid")
    if isinstance(frame, bool) or not isinstance(frame, int):
        raise DataError("field 'frame' is missing or not an integer: give the frame index 0-9")
    if not isinstance(mask_id, str) or not mask_id:
        raise DataError("field 'mask_id' is missing or not a string (e.g. 'erode_1_0')")
    return (uid, frame, mask_id)


def read_predictions(path: str | Path) -> dict[PredictionKey, Answer]:
    """Read a JSON-lines prediction file.

    Blank lines are skipped.

    Args:
        path: The file.

    Returns:
        The answer of every key in the file.

    Raises:
        DataError: If the file cannot be read, or a line is not a JSON object with a valid key
            and prediction, or a key appears twice; the message names the file and line.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataError(f"cannot read predictions {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"predictions {path} is not UTF-8 text: write JSON lines") from exc

    answers: dict[PredictionKey, Answer] = {}
    first_line: dict[PredictionKey, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{where}: not valid JSON ({exc.msg}): write one object per line"
            ) from exc
        if not isinstance(record, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(record).__name__}")
        try:
            key = _key_of(record)
            answer = answer_from_record(record)
        except DataError as exc:
            raise DataError(f"{where}: {exc}") from None
        if key in answers:
            raise DataError(
                f"{where}: duplicate prediction for uid={key[0]!r} frame={key[1]} "
                f"mask_id={key[2]!r} (first on line {first_line[key]}): keep one line per mask"
            )
        answers[key] = answer
        first_line[key] = number
    logger.info("read %d predictions from %s", len(answers), path)
    return answers


def verdict_record(
    candidate: Candidate, iou: float | None, mask_type: str | None, action: str | None, **extra: Any
) -> dict[str, Any]:
    """Build the verdict record of one candidate.

    Args:
        candidate: The candidate audited.
        iou: Predicted IoU, or None.
        mask_type: Predicted type, or None.
        action: Predicted action, or None.
        **extra: Further fields to add (e.g. ``type_probs``); they never replace the key fields.

    Returns:
        A JSON-serialisable dict with ``uid``, ``frame``, ``mask_id``, ``iou``, ``mask_type``,
        ``action`` and the extras.
    """
    record: dict[str, Any] = dict(extra)
    record.update(
        uid=candidate.uid,
        frame=candidate.frame,
        mask_id=candidate.mask_id,
        iou=None if iou is None else float(iou),
        mask_type=mask_type,
        action=action,
    )
    return record


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_verdicts(path: str | Path, records: Iterable[Mapping[str, Any]]) -> int:
    """Write verdict records as JSON lines (non-finite floats at the top level become null).

    Args:
        path: The output file; its folder is created if needed.
        records: Verdict records, e.g. from ``verdict_record``.

    Returns:
        The number of records written.

    Raises:
        DataError: If the file cannot be written.
    """
    path = Path(path)
    count = 0
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as sink:
            for record in records:
                safe = {k: _json_safe(v) for k, v in record.items()}
                sink.write(json.dumps(safe, allow_nan=False) + "\n")
                count += 1
    except OSError as exc:
        raise DataError(f"cannot write verdicts to {path}: {exc.strerror or exc}") from exc
    return count
