"""The four graphs of a bundle as typed calls, with sizes read from the manifest.

Nothing here hard-codes a channel count: the frame size, the context map's shape, the audio
embedding's length and T all come from the manifest's graph signatures.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from maskaudit.errors import BundleError
from maskaudit.export import contract
from maskaudit.runtime.backends.base import LoadedBackend
from maskaudit.runtime.bundle import Bundle

logger = logging.getLogger(__name__)

FRAME_OUTPUTS: tuple[str, ...] = contract.OUTPUTS[contract.FRAME_ENCODER]
"""Outputs of the frame encoder (the graph contract's)."""

HEAD_FRAME_INPUTS: tuple[str, ...] = ("feat0", "feat1", "feat2", "frame_global")
"""Frame-encoder outputs the head takes for the candidate's own frame."""


def _fixed(shape: list[int | str], what: str) -> tuple[int, ...]:
    """Return a shape whose axes must all be fixed, or refuse the bundle."""
    if not all(isinstance(d, int) for d in shape):
        raise BundleError(f"{what} has dynamic axes {shape} where fixed sizes are needed")
    return tuple(int(d) for d in shape)


@dataclass(frozen=True)
class GraphSizes:
    """Sizes the runtime needs, read from the manifest.

    Attributes:
        frame: Side of the model-input frame (the frame encoder's input).
        mask: Side of the head's masks.
        n_mels: Mel bands of the audio encoder's input.
        mel_frames: Mel frames of the audio encoder's input.
        context_map: Shape of one ``context`` map (``Cc, H, W``).
        audio_dim: Length of one audio embedding.
        seconds: T, the context entries the head takes.
        max_tokens: Token length of an expression (None when the graph leaves it dynamic).
    """

    frame: int
    mask: int
    n_mels: int
    mel_frames: int
    context_map: tuple[int, ...]
    audio_dim: int
    seconds: int
    max_tokens: int | None

    @classmethod
    def from_bundle(cls, bundle: Bundle) -> GraphSizes:
        """Read the sizes from a bundle's manifest."""
        frame = _fixed(bundle.input_shape("frame_encoder", "frame")[1:], "frame_encoder.frame")
        masks = _fixed(bundle.input_shape("audit_head", "masks")[2:], "audit_head.masks")
        mel = _fixed(bundle.input_shape("audio_encoder", "log_mel")[1:], "audio_encoder.log_mel")
        context = _fixed(
            bundle.output_shape("frame_encoder", "context")[1:], "frame_encoder.context"
        )
        audio = _fixed(
            bundle.output_shape("audio_encoder", "audio_embedding")[1:], "audio_embedding"
        )
        seconds = bundle.input_shape("audit_head", "context_valid")[1]
        tokens = bundle.input_shape("text_encoder", "input_ids")[1]
        return cls(
            frame=frame[0],
            mask=masks[0],
            n_mels=mel[0],
            mel_frames=mel[1],
            context_map=context,
            audio_dim=audio[0],
            seconds=seconds if isinstance(seconds, int) else bundle.context_seconds,
            max_tokens=tokens if isinstance(tokens, int) else None,
        )


class AuditGraphs:
    """Runs a bundle's graphs on a loaded backend.

    Args:
        bundle: The checked bundle.
        backend: Its graphs started on a backend.
    """

    def __init__(self, bundle: Bundle, backend: LoadedBackend) -> None:
        self.bundle = bundle
        self.backend = backend
        self.sizes = GraphSizes.from_bundle(bundle)
        self.text_inputs = bundle.input_names("text_encoder")

    def encode_frames(self, frames: np.ndarray) -> dict[str, np.ndarray]:
        """Run the frame encoder.

        Args:
            frames: uint8 [N, S, S, 3] RGB model-input frames.

        Returns:
            ``feat0``, ``feat1``, ``feat2``, ``frame_global``, ``context``, each [N, ...].
        """
        out = self.backend.runners["frame_encoder"].run({"frame": frames})
        return {name: out[name] for name in FRAME_OUTPUTS}

    def encode_audio(self, log_mels: np.ndarray) -> np.ndarray:
        """Run the audio encoder on float32 [N, n_mels, mel_frames]; return [N, audio_dim]."""
        return self.backend.runners["audio_encoder"].run({"log_mel": log_mels})["audio_embedding"]

    def encode_text(self, tokens: dict[str, np.ndarray]) -> np.ndarray:
        """Run the text encoder on token arrays (int64 [N, L]); return float32 [N, D]."""
        feeds = {name: tokens[name] for name in self.text_inputs}
        return self.backend.runners["text_encoder"].run(feeds)["text_embedding"]

    def judge(
        self,
        frame_features: dict[str, np.ndarray],
        context: tuple[np.ndarray, np.ndarray, np.ndarray],
        text_embedding: np.ndarray,
        masks: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Run the audit head for K candidates of one frame.

        Args:
            frame_features: The frame encoder's outputs for this frame, each [1, ...].
            context: ``context_maps`` [1, T, ...], ``context_audio`` [1, T, Da] and
                ``context_valid`` [1, T].
            text_embedding: The expression's embedding, [1, D].
            masks: float32 [K, S, S] soft masks, K >= 1.

        Returns:
            ``iou`` [K], ``type_logits`` [K, 7] and ``action_logits`` [K, 4].
        """
        maps, audio, valid = context
        feeds = {name: frame_features[name] for name in HEAD_FRAME_INPUTS}
        feeds.update(
            context_maps=maps,
            context_audio=audio,
            context_valid=valid,
            text_embedding=text_embedding,
            masks=masks[None].astype(np.float32, copy=False),
        )
        out = self.backend.runners["audit_head"].run(feeds)
        return out["iou"][0], out["type_logits"][0], out["action_logits"][0]
