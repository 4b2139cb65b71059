"""The public Python API of maskaudit.

Example:
    >>> from maskaudit import Auditor
    >>> auditor = Auditor.load(backend="auto", precision="int8")  # doctest: +SKIP
    >>> for verdict in auditor.stream("clip.mp4", "masks/", "clip.wav", "the loudest sound"):
    ...     print(verdict.to_json())  # doctest: +SKIP
"""

from __future__ import annotations

from maskaudit.runtime.auditor import Auditor
from maskaudit.runtime.bundle import Bundle, load_bundle
from maskaudit.runtime.pipeline import StreamRun
from maskaudit.runtime.policy import PolicyThresholds
from maskaudit.runtime.sinks import CallbackSink, JsonlSink, OverlaySink, StreamSummary
from maskaudit.runtime.verdict import VERDICT_SCHEMA, Verdict, validate_verdict

__all__ = [
    "VERDICT_SCHEMA",
    "Auditor",
    "Bundle",
    "CallbackSink",
    "JsonlSink",
    "OverlaySink",
    "PolicyThresholds",
    "StreamRun",
    "StreamSummary",
    "Verdict",
    "load_bundle",
    "validate_verdict",
]
