"""The whole auditor: the three trained parts wired as in training."""

from __future__ import annotations

import torch
from torch import nn

from maskaudit.model.audio_encoder import AudioEncoder
from maskaudit.model.audit_head import AuditHead
from maskaudit.model.config import ModelConfig
from maskaudit.model.frame_encoder import FrameEncoder


class AuditorModel(nn.Module):
    """Frame encoder, audio encoder and audit head (the text encoder is frozen and separate).

    Args:
        config: The model sizes. Defaults to ``ModelConfig()``.
    """

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        self.frame_encoder = FrameEncoder(self.config)
        self.audio_encoder = AudioEncoder(self.config)
        self.audit_head = AuditHead(self.config)

    def forward(
        self,
        frames: torch.Tensor,
        key_frame: torch.Tensor,
        log_mels: torch.Tensor,
        context_valid: torch.Tensor,
        text_embedding: torch.Tensor,
        masks: torch.Tensor,
        with_grounding: bool = False,
    ) -> tuple[torch.Tensor, ...]:
        """Audit the candidates of P clips, each seen through its T seconds of context.

        Args:
            frames: uint8 [P, T, S, S, 3], the clip's frames, one per second.
            key_frame: int64 [P], the index of the frame the candidates belong to.
            log_mels: float32 [P, T, n_mels, frames], one window per second.
            context_valid: float32 [P, T], 1 for real seconds.
            text_embedding: float32 [P, text_dim].
            masks: float32 [P, K, S, S].
            with_grounding: Also return the audit head's ``inside`` and ``query`` (see
                ``AuditHead.forward``). Defaults to False.

        Returns:
            ``iou`` [P, K], ``type_logits`` [P, K, n_types], ``action_logits`` [P, K, n_actions],
            then ``inside`` and ``query`` when ``with_grounding``.
        """
        P, T = frames.shape[:2]
        flat = frames.reshape(P * T, *frames.shape[2:])
        _, context = self.frame_encoder.encode_context(flat)
        context = context.reshape(P, T, *context.shape[1:])
        key = frames[torch.arange(P, device=frames.device), key_frame]
        feats = self.frame_encoder(key)
        audio = self.audio_encoder(log_mels.reshape(P * T, *log_mels.shape[2:]))
        audio = audio.reshape(P, T, -1)
        return self.audit_head(
            feats["feat0"],
            feats["feat1"],
            feats["feat2"],
            feats["frame_global"],
            context,
            audio,
            context_valid,
            text_embedding,
            masks,
            with_grounding,
        )
