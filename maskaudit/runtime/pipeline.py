"""The streaming pipeline: decode, audit and write in threads joined by bounded queues.

::

    decode thread --frames--> audit thread --results--> caller (sinks, iteration)

- File sources are preprocessed (masks read, frame and masks resized) on the decode thread,
  so that preparing the next frame overlaps with the graphs running on this one; they block
  when the frame queue is full: no frame is lost. Live sources (cameras,
  URLs) keep only the newest frame: a frame waiting when a newer one arrives is dropped and
  counted (``dropped_frames`` in the records, ``dropped`` in the summary).
- Every queue, cache and buffer is bounded, so memory stays flat however long the stream runs.
- A bad frame, mask or audio window gives verdicts whose ``status`` is the error, and the
  stream goes on. A bad configuration (missing video, masks or audio; empty expression) fails
  when the :class:`StreamRun` is created, before any thread starts.
- Temporal context: the first frame at or after each whole second j, with audio window
  [j, j + 1), becomes context entry j once that window is complete (at once for file audio,
  one second later for live audio). A frame whose own second has no usable audio window (the
  audio ended, or the window cannot be read) gets error verdicts; with live audio the entry is
  skipped instead.
- A frame whose candidates cannot be listed (the mask callback failed) gets one error verdict
  with ``mask_id`` ``"*"``.
- A source that stops: a video file whose frames stop decoding (truncated) gives error verdicts
  for the frames its header still announces (at most ``MAX_BAD_FRAMES`` in a row), then ends
  with a warning; a camera or URL whose reads fail reconnects with exponential backoff
  (:class:`~maskaudit.runtime.sources.Reconnect`; every attempt logged and counted in the
  summary's ``reconnects``) and ends when the attempts run out; a Python frame source that
  raises ends the stream: the verdicts before it are written, the sinks closed, the summary
  kept, and its error is raised to the caller.
- :meth:`StreamRun.stop` (what ``maskaudit stream`` calls on SIGINT or SIGTERM) ends a run
  cleanly: no new frame is read, the frames already read are audited and written, and the
  iteration ends as at the end of the stream, so sinks are closed and the summary is complete
  (``stopped`` says why). Frames still unfinished after ``STOP_GRACE`` seconds are abandoned.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from maskaudit import labels
from maskaudit.errors import ConfigError, InputError
from maskaudit.runtime.context import ContextBuffer
from maskaudit.runtime.sinks.base import FrameResult, Sink
from maskaudit.runtime.sinks.summary import StreamSummary, SummaryCollector
from maskaudit.runtime.smoothing import Smoother
from maskaudit.runtime.sources.audio import open_audio
from maskaudit.runtime.sources.masks import PngMaskFolder, open_masks
from maskaudit.runtime.sources.video import Reconnect, SourceFrame, open_source
from maskaudit.runtime.verdict import Verdict

logger = logging.getLogger(__name__)

_END = object()
_POLL = 0.05

STOP_GRACE = 5.0
"""Seconds a stopped run waits for the frames already read before abandoning them."""


@dataclass
class _Prepared:
    """A frame whose image and masks are preprocessed, waiting for the graphs."""

    frame: SourceFrame
    has_masks: bool
    ids: list[str]
    prepared: np.ndarray
    candidates: list[Any]
    dropped: int
    timing: dict[str, float]
    start: float
    ready: float
    early: bool


class _Failure:
    """An unexpected exception in a pipeline thread, passed on to the caller."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class StreamRun:
    """One streaming audit; iterate it for verdicts or call :meth:`run` with sinks.

    Everything is opened when the run is created, so a bad configuration fails at once. The
    threads start on the first iteration. A run is iterated once.

    Args:
        auditor: The :class:`~maskaudit.runtime.auditor.Auditor`.
        source: A frame source or what ``sources.open_source`` accepts (video path, camera
            index, URL, iterable of RGB frames).
        masks: A mask source or what ``sources.open_masks`` accepts.
        audio: An audio source or what ``sources.open_audio`` accepts; None reads the video
            file's own audio track (needs PyAV).
        expression: The referring expression.
        smooth: Frames averaged per candidate by the smoother (0 or 1 = no smoothing).
            Defaults to 0.
        hold: Frames a new action must win before a smoothed verdict switches to it.
            Defaults to 3.
        queue_size: Capacity of the queue between auditing and the sinks, and of the frame
            queue for file sources (a live source's frame queue holds only the newest frame).
            Defaults to 4.
        keep_frames: Keep each frame and its soft masks in the results (overlays need them).
            Defaults to False.
        source_name: The records' ``source``. Defaults to None (the file name, ``camera:0``,
            the URL).
        time_tolerance: How far a mask named by time may be from its frame, for PNG folders.
            Defaults to None: half a frame at the source's frame rate.
        reconnect: How a camera or URL reconnects when it stalls (exponential backoff, each
            attempt logged and counted in the summary's ``reconnects``). Defaults to None:
            ``Reconnect()`` (5 attempts, 0.5 s doubling to at most 8 s).

    Raises:
        ConfigError: If the source, masks or audio cannot be opened, or an option is invalid.
        InputError: If the expression is empty.
    """

    def __init__(
        self,
        auditor: Any,
        source: Any,
        masks: Any,
        audio: Any,
        expression: str,
        smooth: int = 0,
        hold: int = 3,
        queue_size: int = 4,
        keep_frames: bool = False,
        source_name: str | None = None,
        time_tolerance: float | None = None,
        reconnect: Reconnect | None = None,
    ) -> None:
        if queue_size < 1:
            raise ConfigError(f"queue size {queue_size} must be at least 1: pass --queue 1 or more")
        if smooth < 0 or hold < 1:
            raise ConfigError(f"--smooth {smooth} must be >= 0 and --hold {hold} >= 1")
        self.auditor = auditor
        self.text = auditor.embed_expression(expression)
        self.source = open_source(source, source_name, reconnect)
        try:
            self.masks = open_masks(masks)
            video = (
                source if isinstance(source, str | Path) and Path(str(source)).is_file() else None
            )
            self.audio = open_audio(audio, video)
        except BaseException:
            self.source.close()
            raise
        if isinstance(self.masks, PngMaskFolder) and self.masks.time_tolerance is None:
            fps = self.source.fps or 25.0
            self.masks.time_tolerance = time_tolerance if time_tolerance is not None else 0.5 / fps
        self.smoother = Smoother(smooth, hold, auditor.policy) if smooth > 1 else None
        self.queue_size = queue_size
        self.keep_frames = keep_frames
        self.context = ContextBuffer(auditor.sizes.seconds)
        self.dropped = 0
        self._pending: dict[int, np.ndarray] = {}
        self._last_second: int | None = None
        self._missing: tuple[int, str] | None = None
        self._frames: queue.Queue = queue.Queue(maxsize=1 if self.source.live else queue_size)
        self._results: queue.Queue = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._stopping = threading.Event()
        self._stop_reason = ""
        self._stop_deadline = 0.0
        self._threads: list[threading.Thread] = []
        self._started = False
        self._collector = SummaryCollector(
            self.source.name,
            auditor.backend.name,
            auditor.backend.precision,
            auditor.backend.note,
            bundle=getattr(auditor, "bundle_id", ""),
        )
        self.summary: StreamSummary | None = None

    # -- threads -----------------------------------------------------------------------------

    def _put(self, q: queue.Queue, item: Any) -> bool:
        """Put ``item``, waiting while the queue is full; False when the run is stopping."""
        while not self._stop.is_set():
            try:
                q.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def _put_newest(self, frame: SourceFrame) -> None:
        """Put a live frame, dropping (and counting) the frame still waiting, if any."""
        while True:
            try:
                self._frames.put_nowait(frame)
                return
            except queue.Full:
                try:
                    self._frames.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass

    def _decode(self) -> None:
        """Decode thread: read frames from the source into the frame queue."""
        try:
            for frame in self.source:
                if self._stop.is_set() or self._stopping.is_set():
                    break
                frame.decoded_at = time.perf_counter()
                if self.source.live:
                    self._put_newest(frame)
                elif not self._put(self._frames, self._prepare(frame, early=True)):
                    break
        except BaseException as err:  # handed to the caller, which re-raises it
            self._put(self._frames, _Failure(err))
        finally:
            self.source.close()
            self._put(self._frames, _END)

    def _work(self) -> None:
        """Audit thread: turn each frame into a result."""
        try:
            while True:
                try:
                    item = self._frames.get(timeout=_POLL)
                except queue.Empty:
                    if self._stop.is_set():
                        return
                    continue
                if item is _END or isinstance(item, _Failure):
                    self._put(self._results, item)
                    return
                if isinstance(item, _Prepared):
                    result = self._infer(item)
                elif isinstance(item, FrameResult):
                    result = item
                else:
                    result = self._process(item)
                if not self._put(self._results, result):
                    return
        except BaseException as err:  # handed to the caller, which re-raises it
            self._put(self._results, _Failure(err))

    # -- one frame ---------------------------------------------------------------------------

    def _process(self, frame: SourceFrame) -> FrameResult:
        """Audit one frame; problems of the frame, its masks or its audio become error records."""
        item = self._prepare(frame, early=False)
        return item if isinstance(item, FrameResult) else self._infer(item)

    def _prepare(self, frame: SourceFrame, early: bool) -> _Prepared | FrameResult:
        """Preprocess a frame and its masks, or return its error records.

        File sources are prepared on the decode thread (``early``), so that preprocessing the
        next frame overlaps with the model running on this one; live sources are prepared on
        the audit thread, after the newest frame has been chosen.
        """
        start = time.perf_counter()
        dropped = self.dropped
        waited = (start - frame.decoded_at) * 1e3 if frame.decoded_at and not early else 0.0
        timing: dict[str, float] = {"queue": waited}
        try:
            masks = self.masks.masks_for(frame.index, frame.t, frame.image)
        except InputError as err:
            return self._frame_error(frame, start, timing, dropped, ["*"], str(err))
        except Exception as err:  # a user callback may raise anything
            message = f"masks of frame {frame.index} failed: {type(err).__name__}: {err}"
            return self._frame_error(frame, start, timing, dropped, ["*"], message)
        ids = list(masks) or ["*"]
        if frame.error is not None:
            return self._frame_error(frame, start, timing, dropped, ids, frame.error)
        try:
            prepared = self.auditor.prepare_frame(frame.image)
        except InputError as err:
            return self._frame_error(
                frame, start, timing, dropped, ids, f"frame {frame.index}: {err}"
            )
        candidates = self.auditor.candidates(
            masks, np.shape(frame.image), keep_soft=self.keep_frames
        )
        ready = time.perf_counter()
        return _Prepared(
            frame, bool(masks), ids, prepared, candidates, dropped, timing, start, ready, early
        )

    def _infer(self, item: _Prepared) -> FrameResult:
        """Run the graphs on a prepared frame and turn the scores into verdicts."""
        frame, timing, dropped = item.frame, item.timing, item.dropped
        begin = time.perf_counter()
        if item.early:
            timing["queue"] = (begin - item.ready) * 1e3
        pre_ms = (item.ready - item.start) * 1e3
        start = begin - pre_ms / 1e3  # so that a record's total is its own work, not its wait
        meta = (self.source.name, frame.index, frame.t)

        features = self.auditor.frame_features([item.prepared], cache=False)[0]
        audio_error, mel_seconds = self._update_context(frame, features["context"][0])
        if audio_error is not None:
            if not item.has_masks:
                return self._result(frame, [], start, timing, dropped)
            return self._frame_error(frame, start, timing, dropped, item.ids, audio_error)
        packed = self.context.pack(self.auditor.sizes.context_map, self.auditor.sizes.audio_dim)
        scores = self.auditor.judge(features, packed, self.text, item.candidates)
        end = time.perf_counter()

        timing.update(
            pre=pre_ms + mel_seconds * 1e3,
            model=(end - begin - mel_seconds) * 1e3,
            total=pre_ms + (end - begin) * 1e3,
        )
        verdicts = [
            self._verdict(meta, c, s, timing, dropped)
            for c, s in zip(item.candidates, scores, strict=True)
        ]
        result = self._result(frame, verdicts, start, timing, dropped)
        if self.keep_frames:
            result.masks = {c.mask_id: c.soft for c in item.candidates if c.soft is not None}
        return result

    def _update_context(
        self, frame: SourceFrame, context_map: np.ndarray
    ) -> tuple[str | None, float]:
        """Add this frame's second to the context when it is the first frame of that second.

        Returns:
            An error message when the frame's own second has no audio window (else None), and
            the seconds spent on log-mel features.
        """
        second = math.floor(frame.t + 1e-6)
        if self._last_second is None or second > self._last_second:
            self._last_second = second
            self._pending[second] = context_map
        mel_seconds = 0.0
        ready = second if not self.audio.live else math.floor(frame.t + 1e-6) - 1
        for pending in sorted(s for s in self._pending if s <= ready):
            context_map_j = self._pending.pop(pending)
            try:
                window = self.audio.window(pending)
                if window is None:
                    ends = (
                        f"{self.audio.duration:.2f} s"
                        if self.audio.duration is not None
                        else "earlier"
                    )
                    raise InputError(
                        f"{self.audio.name} ends at {ends}; pass audio that covers the whole video"
                    )
                embedding, seconds = self.auditor.embed_windows([window], cache=False)
            except (InputError, OSError, EOFError) as err:
                self._missing = (pending, str(err))
                logger.debug("no context entry for second %d: %s", pending, err)
                continue
            mel_seconds += seconds
            self.context.add(pending, context_map_j, embedding[0])
        if not self.audio.live and self._missing is not None and self._missing[0] == second:
            return (
                f"no audio window for second {second} (t={frame.t:.3f} s): {self._missing[1]}"
            ), mel_seconds
        return None, mel_seconds

    def _verdict(
        self, meta: tuple, candidate: Any, scores: Any, timing: dict, dropped: int
    ) -> Verdict:
        """Build one verdict, smoothed when smoothing is on."""
        extra: dict[str, Any] = {"dropped_frames": dropped} if self.source.live else {}
        if scores is None or self.smoother is None:
            return self.auditor.verdict(
                meta,
                candidate.mask_id,
                scores,
                timing,
                candidate.error,
                extra=extra,
                empty=candidate.empty,
            )
        iou, type_probs, action_probs = scores
        smoothed = self.smoother.update(
            candidate.mask_id, iou, type_probs, action_probs, empty=candidate.empty
        )
        extra.update(
            iou_raw=float(np.clip(iou, 0.0, 1.0)),
            action_raw=labels.ACTIONS[int(np.argmax(action_probs))],
            action_policy=smoothed.policy.action,
        )
        return self.auditor.verdict(
            meta,
            candidate.mask_id,
            (smoothed.iou, smoothed.type_probs, smoothed.action_probs),
            timing,
            decision=smoothed.decision,
            extra=extra,
        )

    def _frame_error(
        self,
        frame: SourceFrame,
        start: float,
        timing: dict,
        dropped: int,
        ids: list[str],
        message: str,
    ) -> FrameResult:
        """Error verdicts for every candidate of a frame that cannot be audited."""
        end = time.perf_counter()
        timing.update(pre=(end - start) * 1e3, model=0.0, total=(end - start) * 1e3)
        meta = (self.source.name, frame.index, frame.t)
        extra = {"dropped_frames": dropped} if self.source.live else {}
        verdicts = [
            self.auditor.verdict(meta, mask_id, None, timing, error=message, extra=extra)
            for mask_id in ids
        ]
        logger.warning("frame %d: %s", frame.index, message)
        return self._result(frame, verdicts, start, timing, dropped)

    def _result(
        self, frame: SourceFrame, verdicts: list[Verdict], start: float, timing: dict, dropped: int
    ) -> FrameResult:
        """Wrap a frame's verdicts."""
        timing.setdefault("total", (time.perf_counter() - start) * 1e3)
        timing.setdefault("pre", timing["total"])
        timing.setdefault("model", 0.0)
        image = frame.image if self.keep_frames else None
        return FrameResult(frame.index, frame.t, verdicts, image, {}, dict(timing), dropped)

    # -- the caller's side -------------------------------------------------------------------

    def _start(self) -> None:
        if self._started:
            raise RuntimeError("a StreamRun is iterated once; start a new one with auditor.stream")
        self._started = True
        for target, name in ((self._decode, "maskaudit-decode"), (self._work, "maskaudit-audit")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def results(self) -> Iterator[FrameResult]:
        """Yield each frame's result in order; the summary is set when this ends.

        Raises:
            Exception: An unexpected error of a pipeline thread is re-raised here.
        """
        self._start()
        try:
            while True:
                try:
                    item = self._results.get(timeout=_POLL)
                except queue.Empty:
                    if self._stopping.is_set() and time.monotonic() > self._stop_deadline:
                        logger.warning(
                            "frames still in progress %.0f s after the stop; abandoned", STOP_GRACE
                        )
                        break
                    continue
                if item is _END:
                    break
                if isinstance(item, _Failure):
                    raise item.error
                self._collector.write(item)
                yield item
        finally:
            self.close()

    def __iter__(self) -> Iterator[Verdict]:
        for result in self.results():
            yield from result.verdicts

    def run(self, sinks: Iterable[Sink] = ()) -> StreamSummary:
        """Stream to the end, writing every frame's result to each sink; close the sinks.

        Args:
            sinks: Where results go (JSON lines, overlay, callback). Defaults to none.

        Returns:
            The summary.
        """
        sinks = list(sinks)
        try:
            for result in self.results():
                for sink in sinks:
                    sink.write(result)
        finally:
            for sink in sinks:
                sink.close()
        assert self.summary is not None
        return self.summary

    def stop(self, reason: str = "stopped") -> None:
        """End the run cleanly: read no new frame, finish and write the frames already read.

        The iteration (or :meth:`run`) then ends as at the end of the stream: sinks are closed
        and the summary is complete, with ``stopped`` set to ``reason``. Frames not finished
        ``STOP_GRACE`` seconds after the call are abandoned. Safe to call from a signal handler
        or another thread, and more than once (the first reason is kept).

        Args:
            reason: Why the run stopped, for the summary (``"SIGINT"``). Defaults to
                ``"stopped"``.
        """
        if self._stopping.is_set():
            return
        self._stop_reason = reason
        self._stop_deadline = time.monotonic() + STOP_GRACE
        self._stopping.set()
        interrupt = getattr(self.source, "interrupt", None)
        if callable(interrupt):
            interrupt()

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stopping.is_set()

    def close(self) -> None:
        """Stop the threads (if running) and finish the summary; safe to call twice."""
        self._stop.set()
        interrupt = getattr(self.source, "interrupt", None)
        if callable(interrupt):
            interrupt()
        for thread in self._threads:
            thread.join(timeout=5.0)
        if not self._threads:
            self.source.close()
        closer = getattr(self.masks, "close", None)
        if callable(closer):
            closer()
        if self.summary is None:
            self.summary = self._collector.close(
                self.dropped,
                reconnects=int(getattr(self.source, "reconnects", 0) or 0),
                stopped=self._stop_reason,
            )
            logger.info("%s", self.summary.format())
