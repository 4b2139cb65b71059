"""The audio encoder: one 1-s log-mel window to a band-structured embedding."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from maskaudit.model.config import ModelConfig

LOG_MEL_MEAN = -10.0
"""Typical log-mel value of the synthetic benchmark's audio, subtracted inside the graph."""

LOG_MEL_STD = 4.0
"""Typical spread of log-mel values, divided inside the graph."""

FIXED_BAND_FEATURES = 3
"""Per band, the first features are fixed statistics: mean energy, its spread over time and its
mean absolute change (a rhythm cue); the rest are learned."""


class AudioEncoder(nn.Module):
    """Encode one window of log-mel features into ``bands`` groups of ``band_dim`` features.

    Keeping the embedding split by frequency band lets the audit head find, by correlation over
    time, which band moves with a candidate object, and compare that band with the others
    (louder, lower, earlier, faster).

    Args:
        config: The model sizes.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.bands = config.bands
        self.band_dim = config.band_dim
        self.mels_per_band = config.n_mels // config.bands
        learned = config.band_dim - FIXED_BAND_FEATURES
        self.band_conv = nn.Conv2d(1, 16, (self.mels_per_band, 5), (self.mels_per_band, 1), (0, 2))
        self.time_conv = nn.Conv2d(16, 16, (1, 5), 1, (0, 4), dilation=(1, 2))
        self.to_band = nn.Conv2d(32, learned, 1)

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        """Encode log-mel windows [N, n_mels, frames] into [N, bands * band_dim]."""
        x = (log_mel - LOG_MEL_MEAN) / LOG_MEL_STD
        n = x.shape[0]
        per_band = x.reshape(n, self.bands, self.mels_per_band, -1).mean(dim=2)
        mean = per_band.mean(dim=2)
        spread = (per_band - mean.unsqueeze(2)).pow(2).mean(dim=2).add(1e-6).sqrt()
        change = (per_band[:, :, 1:] - per_band[:, :, :-1]).abs().mean(dim=2)
        fixed = torch.stack([mean, spread, change], dim=2)
        h = F.relu(self.band_conv(x.unsqueeze(1)))
        h = F.relu(self.time_conv(h))
        pooled = torch.cat([h.mean(dim=3, keepdim=True), h.amax(dim=3, keepdim=True)], dim=1)
        learned = self.to_band(pooled).squeeze(3).transpose(1, 2)
        return torch.cat([fixed, learned], dim=2).reshape(n, self.bands * self.band_dim)
