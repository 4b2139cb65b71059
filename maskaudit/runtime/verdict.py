"""The verdict record: the audit of one candidate, one JSON object per line.

Required fields (their meaning never changes): ``source``, ``frame``, ``t``, ``mask_id``,
``iou``, ``mask_type``, ``action``, ``type_probs``, ``action_probs``, ``status``, ``backend``,
``precision``, ``latency_ms`` (``pre``, ``model``, ``total``). On an error, ``status`` is
``"error: <what and how to fix it>"`` and the scores are null. Optional fields are written only
when they carry something: ``iou_raw`` (the frame's own IoU when smoothing), ``action_raw``
(the action head's argmax), ``action_policy`` (the policy's action before hysteresis, when
smoothing), ``reason`` (why the action differs from the head's), ``backend_note`` (why the
backend is not the one asked for), ``dropped_frames`` (frames a live source dropped so far),
``bundle`` (the bundle that ran: ``<folder>@<first 12 hex of its manifest's sha256>``).

``latency_ms`` is per frame and shared by that frame's candidates: ``pre`` = preparing the
frame, masks and audio; ``model`` = graph runs; ``total`` = from taking the frame to its
verdicts; in a stream also ``queue`` = time the frame waited between decoding and processing.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from maskaudit import labels

_NUMBER = {"type": "number"}
_PROBS = {
    "type": ["object", "null"],
    "additionalProperties": {"type": "number", "minimum": 0.0, "maximum": 1.0},
}

VERDICT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "maskaudit verdict",
    "type": "object",
    "required": [
        "source",
        "frame",
        "t",
        "mask_id",
        "iou",
        "mask_type",
        "action",
        "type_probs",
        "action_probs",
        "status",
        "backend",
        "precision",
        "latency_ms",
    ],
    "properties": {
        "source": {"type": "string"},
        "frame": {"type": "integer", "minimum": 0},
        "t": {"type": ["number", "null"], "minimum": 0.0},
        "mask_id": {"type": "string"},
        "iou": {"type": ["number", "null"], "minimum": 0.0, "maximum": 1.0},
        "iou_raw": {"type": ["number", "null"], "minimum": 0.0, "maximum": 1.0},
        "mask_type": {"enum": [*labels.TRAIN_TYPES, None]},
        "action": {"enum": [*labels.ACTIONS, None]},
        "action_raw": {"enum": [*labels.ACTIONS, None]},
        "action_policy": {"enum": [*labels.ACTIONS, None]},
        "type_probs": _PROBS,
        "action_probs": _PROBS,
        "status": {"type": "string", "pattern": "^(ok|error: .+)$"},
        "backend": {"enum": ["ort-cpu", "ort-cuda", "ort-trt", "trt"]},
        "precision": {"enum": ["fp32", "int8"]},
        "latency_ms": {
            "type": "object",
            "required": ["pre", "model", "total"],
            "properties": {"pre": _NUMBER, "model": _NUMBER, "total": _NUMBER},
            "additionalProperties": _NUMBER,
        },
        "reason": {"type": "string"},
        "backend_note": {"type": "string"},
        "bundle": {"type": "string"},
        "dropped_frames": {"type": "integer", "minimum": 0},
    },
    "additionalProperties": True,
}
"""JSON schema (draft 2020-12) of one verdict record."""

_LATENCY = ("pre", "model", "total")
_OPTIONAL = (
    "iou_raw",
    "action_raw",
    "action_policy",
    "reason",
    "backend_note",
    "dropped_frames",
    "bundle",
)


@dataclass
class Verdict:
    """The audit of one candidate mask on one frame.

    Attributes:
        source: Where the frame came from (a file name, ``camera:0``, a URL, ``frame``).
        frame: Index of the frame in its source.
        t: Time of the frame in seconds (None where unknown).
        mask_id: Id of the candidate (``m0`` when the input names none).
        iou: Estimated IoU with the unseen ground truth (smoothed when smoothing is on).
        mask_type: One of ``labels.TRAIN_TYPES``.
        action: One of ``labels.ACTIONS``: the final answer.
        type_probs: Probability of each type, ``labels.TRAIN_TYPES`` order.
        action_probs: Probability of each action, ``labels.ACTIONS`` order.
        status: ``"ok"``, or ``"error: ..."`` saying what went wrong and how to fix it.
        backend: The backend that actually ran (``ort-cpu``, ``ort-cuda``, ``ort-trt``, ``trt``).
        precision: The precision of the graphs that actually ran (``fp32`` or ``int8``).
        latency_ms: ``pre``, ``model``, ``total`` (and in a stream ``queue``) in milliseconds.
        extra: Optional fields (``iou_raw``, ``action_raw``, ``action_policy``, ``reason``,
            ``backend_note``, ``dropped_frames``, ``bundle``); empty values are not written.
    """

    source: str
    frame: int
    t: float | None
    mask_id: str
    iou: float | None
    mask_type: str | None
    action: str | None
    type_probs: dict[str, float] | None
    action_probs: dict[str, float] | None
    status: str
    backend: str
    precision: str
    latency_ms: dict[str, float]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the candidate was audited (``status == "ok"``)."""
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        """Return the record as a JSON-ready dict, required fields first, floats rounded."""
        record: dict[str, Any] = {
            "source": self.source,
            "frame": int(self.frame),
            "t": None if self.t is None else round(float(self.t), 4),
            "mask_id": self.mask_id,
            "iou": _round(self.iou),
            "mask_type": self.mask_type,
            "action": self.action,
            "type_probs": _round_probs(self.type_probs),
            "action_probs": _round_probs(self.action_probs),
            "status": self.status,
            "backend": self.backend,
            "precision": self.precision,
            "latency_ms": {
                k: round(float(self.latency_ms[k]), 3) for k in sorted(self.latency_ms, key=_rank)
            },
        }
        for key in _OPTIONAL:
            value = self.extra.get(key)
            if value is not None and value != "":
                record[key] = _round(value) if isinstance(value, float) else value
        for key, value in self.extra.items():
            if key not in record and key not in _OPTIONAL and value is not None:
                record[key] = value
        return record

    def to_json(self) -> str:
        """Return the record as one line of JSON."""
        return json.dumps(self.to_dict(), separators=(", ", ": "))


def _rank(key: str) -> int:
    """Order of a latency key: ``pre``, ``model``, ``total``, then the others."""
    return _LATENCY.index(key) if key in _LATENCY else len(_LATENCY)


def _round(value: float | None, digits: int = 4) -> float | None:
    """Round a float for the record; None stays None."""
    return None if value is None else round(float(value), digits)


def _round_probs(probs: dict[str, float] | None) -> dict[str, float] | None:
    """Round every probability of a dict; None stays None."""
    return None if probs is None else {k: round(float(v), 4) for k, v in probs.items()}


def _type_ok(value: Any, kind: str) -> bool:
    """Whether ``value`` is of JSON type ``kind``."""
    checks = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
    }
    return checks[kind](value)


def _check(value: Any, schema: dict[str, Any], where: str, problems: list[str]) -> None:
    """Check ``value`` against the subset of JSON schema that ``VERDICT_SCHEMA`` uses."""
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: {value!r} is not one of {schema['enum']}")
        return
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(_type_ok(value, k) for k in kinds):
            problems.append(f"{where}: {value!r} is not of type {' or '.join(kinds)}")
            return
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            problems.append(f"{where}: {value!r} is not finite")
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{where}: {value!r} is below {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{where}: {value!r} is above {schema['maximum']}")
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        problems.append(f"{where}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                problems.append(f"{where}: missing {key!r}")
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in properties:
                _check(item, properties[key], f"{where}.{key}", problems)
            elif extra is False:
                problems.append(f"{where}: unexpected {key!r}")
            elif isinstance(extra, dict):
                _check(item, extra, f"{where}.{key}", problems)


def validate_verdict(record: dict[str, Any]) -> list[str]:
    """Check a record against :data:`VERDICT_SCHEMA` and the record's own invariants.

    Beyond the schema: an ``ok`` record has every score set, its probabilities cover the label
    lists and sum to 1, and its action is allowed for its type; an error record has null scores.

    Args:
        record: A verdict record (``Verdict.to_dict()`` or a parsed JSON line).

    Returns:
        The problems found; empty when the record is valid.
    """
    problems: list[str] = []
    _check(record, VERDICT_SCHEMA, "verdict", problems)
    if problems or not isinstance(record, dict):
        return problems
    scores = ("iou", "mask_type", "action", "type_probs", "action_probs")
    if record["status"] == "ok":
        problems += [f"verdict: status ok but {k} is null" for k in scores if record[k] is None]
        if problems:
            return problems
        for key, names in (("type_probs", labels.TRAIN_TYPES), ("action_probs", labels.ACTIONS)):
            if list(record[key]) != list(names):
                problems.append(f"verdict.{key}: keys {list(record[key])} are not {list(names)}")
            elif abs(sum(record[key].values()) - 1.0) > 1e-3:
                problems.append(f"verdict.{key}: probabilities sum to {sum(record[key].values())}")
        if record["action"] not in labels.ALLOWED_ACTIONS[record["mask_type"]]:
            problems.append(
                f"verdict: action {record['action']!r} is not allowed for {record['mask_type']!r}"
            )
    else:
        problems += [f"verdict: error record has {k} set" for k in scores if record[k] is not None]
    return problems
