"""Where a stream's verdicts go: JSON lines, an overlay video, a callback, and a summary."""

from maskaudit.runtime.sinks.base import FrameResult, Sink
from maskaudit.runtime.sinks.callback import CallbackSink
from maskaudit.runtime.sinks.jsonl import JsonlSink
from maskaudit.runtime.sinks.overlay import ACTION_COLOURS, OverlaySink, draw_verdicts
from maskaudit.runtime.sinks.summary import StreamSummary, SummaryCollector

__all__ = [
    "ACTION_COLOURS",
    "CallbackSink",
    "FrameResult",
    "JsonlSink",
    "OverlaySink",
    "Sink",
    "StreamSummary",
    "SummaryCollector",
    "draw_verdicts",
]
