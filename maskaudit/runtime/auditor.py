"""The public auditor: load a bundle on a backend, audit one frame, or stream a video.

The expensive work is shared: a frame is encoded once for all its candidates, an audio window
once, an expression once (its embedding is cached). Only the audit head runs per candidate,
and it runs once for all K candidates of a frame.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from maskaudit import labels
from maskaudit.errors import InputError
from maskaudit.features.audio import log_mel_batch, mel_filterbank
from maskaudit.features.frame import prepare_frame
from maskaudit.features.mask import normalise_mask, prepare_masks, read_mask
from maskaudit.features.text import Tokenizer, clean_expression
from maskaudit.runtime.backends import LoadedBackend, OrtOptions, open_backend
from maskaudit.runtime.bundle import Bundle, load_bundle
from maskaudit.runtime.context import pack_context
from maskaudit.runtime.graphs import AuditGraphs
from maskaudit.runtime.policy import Decision, PolicyThresholds, decide
from maskaudit.runtime.verdict import Verdict

logger = logging.getLogger(__name__)

MaskLike = Any
"""A mask as the auditor accepts it: an array of any kind ``normalise_mask`` takes, or a path."""


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, computed stably in float64, returned as float32."""
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return (z / z.sum(axis=-1, keepdims=True)).astype(np.float32)


@dataclass
class Candidate:
    """One candidate mask of a frame, prepared for the head or failed.

    Attributes:
        mask_id: The candidate's id.
        prepared: float32 [S, S] soft mask for the head; None when it failed.
        error: Why it failed (``"mask m1.png is 320x240 but ..."``); None when prepared.
        soft: The soft mask at the frame's own size (kept only for overlays), or None.
    """

    mask_id: str
    prepared: np.ndarray | None
    error: str | None = None
    soft: np.ndarray | None = None

    @property
    def empty(self) -> bool:
        """Whether the prepared mask covers nothing."""
        return self.prepared is not None and not bool(self.prepared.any())


class _Lru:
    """A small least-recently-used cache."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, Any] = OrderedDict()

    def get(self, key: str) -> Any:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: str, value: Any) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


def _digest(array: np.ndarray) -> str:
    """Content hash of an array, for the caches."""
    return hashlib.blake2b(np.ascontiguousarray(array).tobytes(), digest_size=16).hexdigest()


def _mask_list(masks: Any, mask_ids: Sequence[str] | None) -> list[tuple[str, str, MaskLike]]:
    """Turn the accepted mask containers into ``(mask_id, name, mask)`` triples."""
    if isinstance(masks, Mapping):
        items = [(str(k), v) for k, v in masks.items()]
    else:
        if isinstance(masks, np.ndarray) and masks.ndim == 2 or isinstance(masks, str | Path):
            masks = [masks]
        items = [(f"m{i}", m) for i, m in enumerate(masks)]
    if mask_ids is not None:
        mask_ids = [str(m) for m in mask_ids]
        if len(mask_ids) != len(items):
            raise InputError(
                f"{len(mask_ids)} mask ids for {len(items)} masks: pass one id per mask"
            )
        items = [(mid, m) for mid, (_, m) in zip(mask_ids, items, strict=True)]
    if len({mid for mid, _ in items}) != len(items):
        raise InputError("mask ids repeat: give every candidate of a frame its own id")
    return [
        (mid, f"mask {Path(m).name}" if isinstance(m, str | Path) else f"mask {mid}", m)
        for mid, m in items
    ]


class Auditor:
    """Audits candidate masks with a bundle's graphs on one backend.

    Build it with :meth:`load`. The verdicts it returns record the backend and precision that
    really ran.

    Args:
        bundle: The checked bundle.
        backend: Its graphs started on a backend.
        policy: Verdict policy thresholds. Defaults to None: the bundle's.
        resize_masks: Accept masks of another size than their frame when the aspect ratio
            matches (they are stretched). Defaults to False: such a mask is an error.

    Example:
        >>> auditor = Auditor.load(backend="ort-cpu")  # doctest: +SKIP
        >>> verdicts = auditor.audit(frame, [mask], window, "the loudest sound")  # doctest: +SKIP
        >>> verdicts[0].action  # doctest: +SKIP
        'minor revision'
    """

    def __init__(
        self,
        bundle: Bundle,
        backend: LoadedBackend,
        policy: PolicyThresholds | None = None,
        resize_masks: bool = False,
    ) -> None:
        self.bundle = bundle
        self.backend = backend
        self.graphs = AuditGraphs(bundle, backend)
        self.sizes = self.graphs.sizes
        self.policy = policy or bundle.policy
        self.resize_masks = resize_masks
        max_tokens = self.sizes.max_tokens or int(bundle.preprocessing.get("max_tokens", 32))
        self.tokenizer = Tokenizer(bundle.tokenizer_path, max_tokens=max_tokens)
        mel_filterbank()  # imports librosa now rather than during the first verdict
        self._lock = threading.RLock()
        self._texts = _Lru(64)
        self._frames = _Lru(2 * self.sizes.seconds + 2)
        self._windows = _Lru(2 * self.sizes.seconds + 2)

    @classmethod
    def load(
        cls,
        bundle: str | Path | Bundle | None = None,
        backend: str = "auto",
        precision: str = "int8",
        threads: int | None = None,
        *,
        inter_threads: int | None = None,
        device_id: int = 0,
        policy: PolicyThresholds | None = None,
        resize_masks: bool = False,
        warmup: bool | None = None,
    ) -> Auditor:
        """Load a bundle and start its graphs on a backend.

        Args:
            bundle: A bundle folder or a loaded :class:`Bundle`. Defaults to None: the shipped
                bundle.
            backend: ``auto``, ``trt``, ``ort-trt``, ``ort-cuda`` or ``ort-cpu``. Defaults to
                ``"auto"`` (the fastest that really loads).
            precision: ``int8`` or ``fp32``. Defaults to ``"int8"``.
            threads: Intra-op threads per graph; 0 is onnxruntime's choice (one per core).
                Defaults to None: one thread (``backends.ort.DEFAULT_THREADS``).
            inter_threads: Inter-op threads per graph. Defaults to None.
            device_id: CUDA device for GPU backends. Defaults to 0.
            policy: Verdict policy thresholds. Defaults to None: the bundle's.
            resize_masks: Stretch masks of another size (same aspect ratio) to their frame.
                Defaults to False.
            warmup: Run every graph once before returning. Defaults to None: on GPUs only.

        Returns:
            The auditor.

        Raises:
            BundleError: If the bundle is missing, tampered with or of another version.
            BackendError: If the backend cannot run here.
            ConfigError: If the backend or precision name is unknown.
        """
        loaded_bundle = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
        options = OrtOptions(threads=threads, inter_threads=inter_threads, device_id=device_id)
        loaded = open_backend(loaded_bundle, backend, precision, options, warmup=warmup)
        return cls(loaded_bundle, loaded, policy=policy, resize_masks=resize_masks)

    @property
    def backend_name(self) -> str:
        """The backend that really runs."""
        return self.backend.name

    @property
    def precision(self) -> str:
        """The precision of the frame encoder, audio encoder and head."""
        return self.backend.precision

    @property
    def bundle_id(self) -> str:
        """The bundle that runs, as records name it (``<folder>@<manifest sha256 prefix>``)."""
        return self.bundle.id

    # -- shared encoders ---------------------------------------------------------------------

    def embed_expression(self, expression: str) -> np.ndarray:
        """Return the expression's embedding, [1, D]; computed once per cleaned expression.

        Raises:
            InputError: If the expression is not a string or is empty.
        """
        key = clean_expression(expression)
        with self._lock:
            cached = self._texts.get(key)
            if cached is None:
                cached = self.graphs.encode_text(self.tokenizer.encode([key]))[:1].copy()
                self._texts.put(key, cached)
        return cached

    def prepare_frame(self, image: np.ndarray) -> np.ndarray:
        """Resize an RGB image to the bundle's model-input frame (uint8 [S, S, 3])."""
        return prepare_frame(image, size=self.sizes.frame)

    def frame_features(self, frames: list[np.ndarray], cache: bool = True) -> list[dict]:
        """Encode model-input frames, each once; return one ``{name: [1, ...]}`` per frame.

        Args:
            frames: uint8 [S, S, 3] frames.
            cache: Reuse and keep the features of recently seen frames (by content). Defaults
                to True; a stream, whose frames never repeat, passes False.

        Returns:
            The frame encoder's outputs for each frame, in order.
        """
        keys = [_digest(f) for f in frames] if cache else [str(i) for i in range(len(frames))]
        found: dict[str, dict] = {}
        with self._lock:
            if cache:
                found = {k: v for k in keys if (v := self._frames.get(k)) is not None}
            todo = list(dict.fromkeys(k for k in keys if k not in found))
            if todo:
                batch = np.stack([frames[keys.index(k)] for k in todo])
                out = self.graphs.encode_frames(batch)
                for i, key in enumerate(todo):
                    found[key] = {name: value[i : i + 1] for name, value in out.items()}
                    if cache:
                        self._frames.put(key, found[key])
        return [found[k] for k in keys]

    def audio_embeddings(self, windows: list[np.ndarray], cache: bool = True) -> np.ndarray:
        """Embed 1-s windows of 16 kHz samples, each once; return float32 [n, Da].

        Args:
            windows: 1-D float windows (shorter ones are zero-padded).
            cache: Reuse and keep the embeddings of recently seen windows (by content).
                Defaults to True.

        Raises:
            InputError: If a window is not 1-D or longer than 1 s.
        """
        return self.embed_windows(windows, cache)[0]

    def embed_windows(
        self, windows: list[np.ndarray], cache: bool = True
    ) -> tuple[np.ndarray, float]:
        """Embed windows as :meth:`audio_embeddings` does; also return the log-mel seconds.

        The log-mel features are preprocessing, not model time: callers that report latency
        move those seconds from ``model`` to ``pre``.

        Returns:
            The embeddings, float32 [n, Da], and the seconds spent on log-mel features.
        """
        if not windows:
            return np.zeros((0, self.sizes.audio_dim), np.float32), 0.0
        windows = [np.asarray(w, dtype=np.float32) for w in windows]
        keys = [_digest(w) for w in windows] if cache else [str(i) for i in range(len(windows))]
        found: dict[str, np.ndarray] = {}
        mel_seconds = 0.0
        with self._lock:
            if cache:
                found = {k: v for k in keys if (v := self._windows.get(k)) is not None}
            todo = list(dict.fromkeys(k for k in keys if k not in found))
            if todo:
                start = time.perf_counter()
                mels = np.stack([_one_mel(windows[keys.index(k)]) for k in todo])
                mel_seconds = time.perf_counter() - start
                embeddings = self.graphs.encode_audio(mels)
                for i, key in enumerate(todo):
                    found[key] = embeddings[i].copy()
                    if cache:
                        self._windows.put(key, found[key])
        return np.stack([found[k] for k in keys]), mel_seconds

    def candidates(
        self,
        masks: Any,
        frame_shape: tuple[int, ...],
        mask_ids: Sequence[str] | None = None,
        keep_soft: bool = False,
    ) -> list[Candidate]:
        """Prepare a frame's candidate masks; a bad mask becomes a failed candidate.

        Args:
            masks: A list or tuple of masks (arrays of any kind ``normalise_mask`` accepts, or
                paths of mask images), a stacked [K, H, W] array, one [H, W] array, or a dict
                ``{mask_id: mask}``; a value may also be an exception (a mask that could not be
                read), which becomes a failed candidate.
            frame_shape: The original frame's shape.
            mask_ids: Ids of the masks. Defaults to None: the dict's keys, else ``m0``, ``m1``...
            keep_soft: Keep each soft mask at the frame's size (for overlays). Defaults to False.

        Returns:
            One candidate per mask, in order.

        Raises:
            InputError: If the ids do not match the masks or repeat.
        """
        out = []
        for mask_id, name, mask in _mask_list(masks, mask_ids):
            try:
                if isinstance(mask, BaseException):
                    raise mask
                if isinstance(mask, str | Path):
                    mask = read_mask(mask)
                prepared = prepare_masks(
                    [mask], frame_shape, size=self.sizes.mask, resize=self.resize_masks
                )[0]
                soft = normalise_mask(mask) if keep_soft else None
                out.append(Candidate(mask_id, prepared, None, soft))
            except InputError as err:
                message = str(err)
                if message.startswith("mask 0 "):
                    message = f"{name} {message[len('mask 0 ') :]}"
                out.append(Candidate(mask_id, None, message))
        return out

    # -- verdicts ----------------------------------------------------------------------------

    def judge(
        self,
        features: dict[str, np.ndarray],
        context: tuple[np.ndarray, np.ndarray, np.ndarray],
        text_embedding: np.ndarray,
        candidates: list[Candidate],
    ) -> list[tuple[float, np.ndarray, np.ndarray] | None]:
        """Run the head once for the frame's prepared candidates.

        Returns:
            Per candidate, ``(iou, type_probs, action_probs)``, or None for a failed one.
        """
        ready = [c for c in candidates if c.prepared is not None]
        if not ready:
            return [None] * len(candidates)
        masks = np.stack([c.prepared for c in ready])
        iou, type_logits, action_logits = self.graphs.judge(
            features, context, text_embedding, masks
        )
        scores = iter(zip(iou, softmax(type_logits), softmax(action_logits), strict=True))
        return [next(scores) if c.prepared is not None else None for c in candidates]

    def verdict(
        self,
        meta: tuple[str, int, float | None],
        candidate_id: str,
        scores: tuple[float, np.ndarray, np.ndarray] | None,
        latency: dict[str, float],
        error: str | None = None,
        decision: Decision | None = None,
        extra: dict[str, Any] | None = None,
        empty: bool = False,
    ) -> Verdict:
        """Build one verdict record from the head's scores (or an error).

        Args:
            meta: ``(source, frame index, t)``.
            candidate_id: The mask id.
            scores: ``(iou, type_probs, action_probs)`` or None on an error.
            latency: ``pre``, ``model``, ``total`` (and ``queue``) in ms.
            error: The error message when ``scores`` is None.
            decision: A decision already made (by smoothing). Defaults to None: the policy's.
            extra: Optional record fields.
            empty: Whether the candidate mask is empty.

        Returns:
            The verdict.
        """
        source, index, t = meta
        extra = dict(extra or {})
        extra.setdefault("bundle", self.bundle.id)
        if self.backend.note:
            extra.setdefault("backend_note", self.backend.note)
        common = dict(
            source=source,
            frame=int(index),
            t=t,
            mask_id=candidate_id,
            backend=self.backend.name,
            precision=self.backend.precision,
            latency_ms=dict(latency),
        )
        if scores is None:
            return Verdict(
                iou=None,
                mask_type=None,
                action=None,
                type_probs=None,
                action_probs=None,
                status=f"error: {error or 'unknown error'}",
                extra=extra,
                **common,
            )
        iou, type_probs, action_probs = scores
        decision = decision or decide(iou, type_probs, action_probs, self.policy, empty=empty)
        extra.setdefault("action_raw", decision.action_raw)
        if decision.reason:
            extra.setdefault("reason", decision.reason)
        return Verdict(
            iou=decision.iou,
            mask_type=decision.mask_type,
            action=decision.action,
            type_probs=dict(zip(labels.TRAIN_TYPES, map(float, type_probs), strict=True)),
            action_probs=dict(zip(labels.ACTIONS, map(float, action_probs), strict=True)),
            status="ok",
            extra=extra,
            **common,
        )

    # -- public calls ------------------------------------------------------------------------

    def audit(
        self,
        frame: np.ndarray,
        masks: Any,
        audio_window: np.ndarray | None,
        expression: str,
        context: Iterable[tuple[np.ndarray, np.ndarray | None]] | None = None,
        mask_ids: Sequence[str] | None = None,
        *,
        source: str = "frame",
        index: int = 0,
        t: float | None = None,
    ) -> list[Verdict]:
        """Audit the candidate masks of one frame.

        Args:
            frame: The frame, uint8 RGB [H, W, 3] (gray and RGBA are accepted).
            masks: The candidates (see :meth:`candidates`), at the frame's size.
            audio_window: The frame's 1-s window of 16 kHz mono float samples, or None for
                silence (the audit then cannot use sound).
            expression: The referring expression.
            context: The temporal context as ``(frame, window)`` pairs of the context seconds,
                oldest first, at most T (the bundle's context seconds; older ones are dropped).
                The list is used as given: include the second that holds this frame (as a
                stream does) or the whole clip (as the benchmark does). A window may be None
                (silence). Defaults to None: this frame and its window are the only entry.
            mask_ids: Ids of the candidates. Defaults to None (dict keys, else ``m0``, ...).
            source: The record's ``source``. Defaults to ``"frame"``.
            index: The record's ``frame``. Defaults to 0.
            t: The record's ``t`` in seconds. Defaults to None.

        Returns:
            One verdict per mask, in order; a mask that cannot be used (wrong size, unreadable)
            gets a verdict whose ``status`` is the error.

        Raises:
            InputError: If the frame, a window, the expression or the ids cannot be used.
        """
        start = time.perf_counter()
        prepared = self.prepare_frame(frame)
        candidates = self.candidates(masks, np.shape(frame), mask_ids)
        entries = [(frame, audio_window)] if context is None else list(context)
        if len(entries) > self.sizes.seconds:
            logger.warning(
                "context of %d entries; keeping the last %d", len(entries), self.sizes.seconds
            )
            entries = entries[-self.sizes.seconds :]
        context_frames = [self.prepare_frame(f) for f, _ in entries]
        windows = [self._window(w) for _, w in entries]
        pre = time.perf_counter()

        features = self.frame_features([prepared, *context_frames])
        embeddings, mel_seconds = self.embed_windows(windows, cache=True)
        packed = pack_context(
            [f["context"][0] for f in features[1:]],
            list(embeddings),
            self.sizes.seconds,
            self.sizes.context_map,
            self.sizes.audio_dim,
        )
        text = self.embed_expression(expression)
        scores = self.judge(features[0], packed, text, candidates)
        end = time.perf_counter()

        latency = {
            "pre": (pre - start + mel_seconds) * 1e3,
            "model": (end - pre - mel_seconds) * 1e3,
            "total": (end - start) * 1e3,
        }
        meta = (source, index, t)
        return [
            self.verdict(meta, c.mask_id, s, latency, error=c.error, empty=c.empty)
            for c, s in zip(candidates, scores, strict=True)
        ]

    def _window(self, window: np.ndarray | None) -> np.ndarray:
        """Return a window as float32 samples; None becomes one second of silence."""
        if window is None:
            return np.zeros(_window_samples(self.bundle), np.float32)
        return np.asarray(window, dtype=np.float32)

    def stream(self, source: Any, masks: Any, audio: Any, expression: str, **options: Any) -> Any:
        """Audit a video, camera, URL or frame iterable as it plays; see :class:`StreamRun`.

        Args:
            source: A video file path, a camera index (int), an ``rtsp://`` / ``http://`` URL,
                or a frame source (``maskaudit.runtime.sources``).
            masks: A mask source or what :func:`maskaudit.runtime.sources.open_masks` accepts
                (a PNG folder, a mask video, an NPZ, an RLE JSONL file, or a callback
                ``(frame, index, t) -> {mask_id: mask}``).
            audio: A WAV path, a 16 kHz sample array, an audio source, or None for the video's
                own audio track (needs PyAV).
            expression: The referring expression.
            **options: Passed to :class:`maskaudit.runtime.pipeline.StreamRun` (``smooth``,
                ``hold``, ``queue_size``, ``keep_frames``, ``source_name``, ``time_tolerance``,
                ``reconnect``).

        Returns:
            A :class:`~maskaudit.runtime.pipeline.StreamRun`: iterate it for verdicts, or call
            its ``run(sinks)`` to write them; its ``summary`` holds the totals at the end.

        Raises:
            ConfigError: If the source, masks or audio cannot be opened.
            InputError: If the expression is empty.
        """
        from maskaudit.runtime.pipeline import StreamRun

        return StreamRun(self, source, masks, audio, expression, **options)


def _window_samples(bundle: Bundle) -> int:
    """Samples in one audio window, from the manifest (16000 by default)."""
    return int(bundle.preprocessing.get("window_samples", 16000))


def _one_mel(window: np.ndarray) -> np.ndarray:
    """Log-mel of one window, raising InputError for a window that is not 1-D."""
    if window.ndim != 1:
        raise InputError(
            f"audio window has shape {window.shape}; expected 1-D mono samples at 16 kHz: "
            "average the channels first"
        )
    return log_mel_batch(window[None, :])[0]
