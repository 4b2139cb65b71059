"""Calibration inputs for INT8 quantization, drawn from a benchmark split.

The inputs are the ones training sees: frames, log-mel windows and masks come from a
:class:`~maskaudit.model.dataset.ClipStore` (built with ``maskaudit.features``) through
:func:`~maskaudit.model.batch.make_batch`. The audit head is calibrated on what the deployed
encoders give it: its feature maps, context maps and audio embeddings are the outputs of the
fp32 encoder graphs run in onnxruntime on the item's real clip (all ten seconds of context).

Every sample of a graph has the same shape (``CALIBRATION_BATCH`` frames or windows per encoder
sample, one frame with ``CALIBRATION_CANDIDATES`` candidates per head sample): onnxruntime's
histogram calibrators (entropy, percentile) stack the samples of a tensor and need equal shapes.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from onnxruntime.quantization import CalibrationDataReader

from maskaudit.errors import DataError
from maskaudit.export import contract
from maskaudit.export.parity import cpu_session
from maskaudit.model.batch import make_batch
from maskaudit.model.dataset import ClipStore, Item

logger = logging.getLogger(__name__)

CALIBRATION_BATCH = 8
"""Frames (or audio windows) per encoder calibration sample."""

CALIBRATION_CANDIDATES = 8
"""Candidates per head calibration sample (drawn from the item's own, repeated if fewer)."""

Sample = dict[str, np.ndarray]
"""One set of graph inputs, ``{input name: array}``."""


class SampleReader(CalibrationDataReader):
    """An onnxruntime calibration reader over samples made on demand.

    Supports ``len()`` and ``set_range`` (onnxruntime's strided calibration, which bounds
    memory) and ``rewind`` (so the same samples can feed the QDQ debugging runs).

    Args:
        count: Number of samples.
        make: ``make(i)`` returns sample ``i``; it must be deterministic.
    """

    def __init__(self, count: int, make: Callable[[int], Sample]) -> None:
        self.count = count
        self.make = make
        self.start, self.end = 0, count
        self.position = 0

    def get_next(self) -> Sample | None:
        """Return the next sample of the current range, or None at its end."""
        if self.position >= self.end:
            return None
        sample = self.make(self.position)
        self.position += 1
        return sample

    def __len__(self) -> int:
        return self.count

    def set_range(self, start_index: int, end_index: int) -> None:
        """Restrict reading to samples ``start_index`` (inclusive) to ``end_index``."""
        self.start, self.end = start_index, min(end_index, self.count)
        self.position = self.start

    def rewind(self) -> None:
        """Read every sample again from the first."""
        self.start, self.end, self.position = 0, self.count, 0


class EncoderCache:
    """Outputs of the frame and audio encoder graphs for whole clips, kept for the last clips.

    Args:
        frame_path: The frame encoder graph.
        audio_path: The audio encoder graph.
        keep: Clips kept in memory. Defaults to 8.
        threads: onnxruntime intra-op threads (0: its default). Defaults to 0.
        optimize: onnxruntime graph optimisations (off: exact QDQ simulation). Defaults to
            True.
    """

    def __init__(
        self,
        frame_path: Path,
        audio_path: Path,
        keep: int = 8,
        threads: int = 0,
        optimize: bool = True,
    ) -> None:
        self.frame = cpu_session(frame_path, threads, optimize)
        self.audio = cpu_session(audio_path, threads, optimize)
        self.keep = keep
        self.clips: OrderedDict[int, tuple[dict[str, np.ndarray], np.ndarray]] = OrderedDict()

    @classmethod
    def fp32(cls, graph_dir: Path) -> EncoderCache:
        """Open the fp32 encoder graphs of a folder (``<graph>.fp32.onnx``)."""
        return cls(
            graph_dir / contract.graph_file(contract.FRAME_ENCODER, "fp32"),
            graph_dir / contract.graph_file(contract.AUDIO_ENCODER, "fp32"),
        )

    def clip(
        self, video: int, frames: np.ndarray, log_mels: np.ndarray
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Return (frame encoder outputs by name [T, ...], audio embeddings [T, Da]) of a clip.

        Args:
            video: The clip's index in the store (the cache key).
            frames: uint8 [T, S, S, 3].
            log_mels: float32 [T, n_mels, 101].
        """
        if video in self.clips:
            self.clips.move_to_end(video)
            return self.clips[video]
        names = contract.OUTPUTS[contract.FRAME_ENCODER]
        feats = dict(zip(names, self.frame.run(None, {"frame": frames}), strict=True))
        (audio,) = self.audio.run(None, {"log_mel": np.ascontiguousarray(log_mels, np.float32)})
        self.clips[video] = (feats, audio)
        if len(self.clips) > self.keep:
            self.clips.popitem(last=False)
        return feats, audio


@dataclass
class CalibrationData:
    """Calibration readers of the three trained graphs and where they came from.

    Attributes:
        readers: ``{graph: SampleReader}``.
        items: The store items the samples were drawn from.
        source: A short description of the data (folder name and split).
        seed: The seed of the draw.
    """

    readers: dict[str, SampleReader]
    items: list[Item]
    source: str
    seed: int = 0


def choose_items(store: ClipStore, samples: int, seed: int) -> list[Item]:
    """Draw ``samples`` distinct items (all of them if the store has fewer), sorted by clip.

    Args:
        store: The split.
        samples: How many items.
        seed: Seed of the draw.

    Returns:
        The items, ordered by clip so that the encoder cache is reused.

    Raises:
        DataError: If the store has no item.
    """
    if not store.items:
        raise DataError("the calibration split has no item: pass --calib-data with a train split")
    rng = np.random.default_rng(seed)
    count = min(samples, len(store.items))
    picked = rng.choice(len(store.items), size=count, replace=False)
    return sorted((store.items[i] for i in picked), key=lambda item: (item.video, item.frame))


def _candidate_indices(rng: np.random.Generator, available: int, wanted: int) -> np.ndarray:
    """Pick ``wanted`` candidate indices out of ``available`` (repeating only when needed)."""
    return np.sort(rng.choice(available, size=wanted, replace=available < wanted))


def head_sample(
    store: ClipStore,
    item: Item,
    text_embeddings: np.ndarray,
    encoders: EncoderCache,
    candidates: int,
    seed: int,
) -> Sample:
    """Return the audit head's inputs for one item, from the fp32 encoders on its real clip.

    Args:
        store: The split.
        item: The (expression, frame) whose candidates are audited.
        text_embeddings: float32 [E, 384], indexed by ``item.expression``.
        encoders: The fp32 encoder outputs cache.
        candidates: Candidates in the sample.
        seed: Seed of the candidate draw.

    Returns:
        ``{input name: array}`` with B = 1 and K = ``candidates``.
    """
    batch = make_batch(store, [item], text_embeddings)
    feats, audio = encoders.clip(
        item.video, batch["frames"][0].numpy(), batch["log_mels"][0].numpy()
    )
    key = item.frame
    n = len(item.candidates)
    pick = _candidate_indices(np.random.default_rng(seed), n, candidates)
    return {
        "feat0": feats["feat0"][key : key + 1],
        "feat1": feats["feat1"][key : key + 1],
        "feat2": feats["feat2"][key : key + 1],
        "frame_global": feats["frame_global"][key : key + 1],
        "context_maps": feats["context"][None],
        "context_audio": audio[None],
        "context_valid": batch["context_valid"].numpy(),
        "text_embedding": batch["text_embedding"].numpy(),
        "masks": np.ascontiguousarray(batch["masks"][0, :n].numpy()[pick][None]),
    }


def _encoder_batches(
    store: ClipStore, items: Sequence[Item], batch: int
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Stack the items' key frames and their audio windows into equal batches."""
    frames = np.stack([store.frames[item.video, item.frame] for item in items])
    mels = np.stack([store.log_mels[item.video, item.frame] for item in items]).astype(np.float32)
    count = -(-len(items) // batch) * batch
    order = np.arange(count) % len(items)  # the last batch is filled by wrapping around
    return (
        [frames[order[i : i + batch]] for i in range(0, count, batch)],
        [mels[order[i : i + batch]] for i in range(0, count, batch)],
    )


def calibration_data(
    store: ClipStore,
    text_embeddings: np.ndarray,
    graph_dir: str | Path,
    samples: int = 256,
    seed: int = 0,
    source: str = "",
    batch: int = CALIBRATION_BATCH,
    candidates: int = CALIBRATION_CANDIDATES,
) -> CalibrationData:
    """Build the calibration readers of the frame encoder, audio encoder and audit head.

    Args:
        store: The benchmark's train split (``build_store(root, "train", "train")``).
        text_embeddings: float32 [E, 384] of ``store.expressions`` from the bundle's text
            encoder.
        graph_dir: Folder with the fp32 encoder graphs (the head's inputs come from them).
        samples: Items drawn (each gives one key frame, its window and one head sample).
            Defaults to 256.
        seed: Seed of the draws. Defaults to 0.
        source: Description recorded in the manifest. Defaults to "".
        batch: Frames or windows per encoder sample. Defaults to ``CALIBRATION_BATCH`` (8).
        candidates: Candidates per head sample. Defaults to ``CALIBRATION_CANDIDATES`` (8).

    Returns:
        The readers and the items drawn.
    """
    items = choose_items(store, samples, seed)
    frame_batches, mel_batches = _encoder_batches(store, items, batch)
    encoders = EncoderCache.fp32(Path(graph_dir))

    def frame_sample(i: int) -> Sample:
        return {"frame": frame_batches[i]}

    def audio_sample(i: int) -> Sample:
        return {"log_mel": mel_batches[i]}

    def head(i: int) -> Sample:
        return head_sample(store, items[i], text_embeddings, encoders, candidates, seed + i)

    logger.info(
        "calibration: %d items, %d encoder batches of %d, %d head samples of %d candidates",
        len(items),
        len(frame_batches),
        batch,
        len(items),
        candidates,
    )
    return CalibrationData(
        readers={
            contract.FRAME_ENCODER: SampleReader(len(frame_batches), frame_sample),
            contract.AUDIO_ENCODER: SampleReader(len(mel_batches), audio_sample),
            contract.AUDIT_HEAD: SampleReader(len(items), head),
        },
        items=items,
        source=source,
        seed=seed,
    )
