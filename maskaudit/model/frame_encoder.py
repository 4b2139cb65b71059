"""The frame encoder: one uint8 RGB frame to three feature maps, a vector and a context map."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from maskaudit.model.config import ModelConfig

RGB_MEAN = (0.45, 0.45, 0.45)
"""Per-channel mean subtracted inside the graph (frames are scaled to [0, 1] first)."""

RGB_STD = (0.25, 0.25, 0.25)
"""Per-channel standard deviation divided inside the graph."""


def conv_bn(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    """Return a 3x3 convolution, batch norm and ReLU."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()
    )


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with a skip connection."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = conv_bn(channels, channels)
        self.conv2 = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False), nn.BatchNorm2d(channels)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block."""
        return F.relu(x + self.conv2(self.conv1(x)))


class FrameEncoder(nn.Module):
    """Encode frames once; every candidate mask on the frame reuses the result.

    Outputs (for frames of side S):
        ``feat0`` [N, c0, S/2, S/2]: low-level map whose last two channels are the luminance and
        its gradient magnitude (what the mask boundary is compared against).
        ``feat1`` [N, c1, S/4, S/4] and ``feat2`` [N, c2, S/8, S/8]: learned features.
        ``frame_global`` [N, global_dim]: the scene as a vector.
        ``context`` [N, context_dim, S/4, S/4]: the map kept per second for temporal context;
        its last channel is the luminance, so brightness pulses reach the head unchanged.

    Args:
        config: The model sizes.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        c = config
        self.register_buffer("mean", torch.tensor(RGB_MEAN).view(1, 3, 1, 1) * 255.0)
        self.register_buffer("std", torch.tensor(RGB_STD).view(1, 3, 1, 1) * 255.0)
        sobel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8.0
        self.register_buffer("sobel", torch.stack([sobel, sobel.t()]).unsqueeze(1))
        self.stem = conv_bn(3, 16, stride=2)
        self.low = nn.Conv2d(16, c.c0 - 2, 1)
        self.stage1 = nn.Sequential(conv_bn(16, c.c1, stride=2), ResidualBlock(c.c1))
        self.stage2 = nn.Sequential(conv_bn(c.c1, c.c2, stride=2), ResidualBlock(c.c2))
        self.to_global = nn.Linear(c.c2, c.global_dim)
        self.to_context = nn.Conv2d(c.c1, c.context_dim - 1, 1)

    def normalise(self, frame: torch.Tensor) -> torch.Tensor:
        """Turn uint8 NHWC RGB frames into normalised float NCHW."""
        x = frame.permute(0, 3, 1, 2).to(torch.float32)
        return (x - self.mean) / self.std

    def luminance(self, x: torch.Tensor) -> torch.Tensor:
        """Return the mean of the normalised channels, [N, 1, H, W]."""
        return x.mean(dim=1, keepdim=True)

    def encode_context(self, frame: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the stem and the first stage only: returns (``feat1``, ``context``).

        Training uses this for the context frames, which need no ``feat2``.
        """
        x = self.normalise(frame)
        stem = self.stem(x)
        feat1 = self.stage1(stem)
        luma1 = F.avg_pool2d(self.luminance(x), 4)
        context = torch.cat([self.to_context(feat1), luma1], dim=1)
        return feat1, context

    def forward(self, frame: torch.Tensor) -> dict[str, torch.Tensor]:
        """Encode a batch of uint8 frames [N, S, S, 3].

        Returns:
            A dict with ``feat0``, ``feat1``, ``feat2``, ``frame_global`` and ``context``.
        """
        x = self.normalise(frame)
        luma = self.luminance(x)
        edges = F.conv2d(luma, self.sobel, padding=1)
        edge = torch.sqrt(edges.pow(2).sum(dim=1, keepdim=True) + 1e-6)
        stem = self.stem(x)
        feat0 = torch.cat([self.low(stem), F.avg_pool2d(luma, 2), F.avg_pool2d(edge, 2)], dim=1)
        feat1 = self.stage1(stem)
        feat2 = self.stage2(feat1)
        frame_global = self.to_global(feat2.mean(dim=(2, 3)))
        context = torch.cat([self.to_context(feat1), F.avg_pool2d(luma, 4)], dim=1)
        return {
            "feat0": feat0,
            "feat1": feat1,
            "feat2": feat2,
            "frame_global": frame_global,
            "context": context,
        }
