"""Model and training configuration, saved beside every checkpoint as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class ModelConfig:
    """Sizes of the auditor's parts.

    Attributes:
        frame_size: Side of the square uint8 RGB frame the frame encoder takes. Defaults to 160.
        c0: Channels of the stride-2 low-level map ``feat0``. Defaults to 8.
        c1: Channels of the stride-4 map ``feat1``. Defaults to 32.
        c2: Channels of the stride-8 map ``feat2``. Defaults to 64.
        global_dim: Size of the frame's global vector. Defaults to 64.
        context_dim: Channels of the per-second ``context`` map kept in the ring buffer.
            Defaults to 8.
        n_mels: Mel bins of the audio encoder's input. Defaults to 64.
        bands: Frequency bands the audio embedding is split into. Defaults to 16.
        band_dim: Features per band in the audio embedding. Defaults to 8.
        text_dim: Size of the text encoder's embedding. Defaults to 384 (all-MiniLM-L6-v2).
        hidden: Width of the audit head's fusion layers. Defaults to 256.
        n_types: Type classes (six types plus ``null``). Defaults to 7.
        n_actions: Action classes. Defaults to 4.
    """

    frame_size: int = 160
    c0: int = 8
    c1: int = 32
    c2: int = 64
    global_dim: int = 64
    context_dim: int = 8
    n_mels: int = 64
    bands: int = 16
    band_dim: int = 8
    text_dim: int = 384
    hidden: int = 256
    n_types: int = 7
    n_actions: int = 4

    @property
    def audio_dim(self) -> int:
        """Size of the audio embedding (``bands * band_dim``)."""
        return self.bands * self.band_dim


@dataclass
class TrainConfig:
    """How the auditor is trained.

    Attributes:
        seed: Seed of every random draw. Defaults to 0.
        minutes: Wall-clock budget of the training loop; it stops at the end of the step that
            crosses it. Defaults to 40.
        max_steps: Upper bound on optimiser steps. Defaults to 20000.
        clips_per_step: Clips (each with one expression and all its candidates) per step.
            Defaults to 8.
        lr: Peak learning rate of AdamW (cosine decay after a short warm-up). Defaults to 2e-3.
        weight_decay: AdamW weight decay. Defaults to 1e-4.
        iou_weight: Weight of the IoU regression loss against the two cross-entropies.
            Defaults to 10.0.
        val_fraction: Share of training videos held out for validation. Defaults to 0.05.
        eval_every: Steps between validation passes and checkpoints. Defaults to 250.
        threads: Torch intra-op threads (0 = torch's default). Defaults to 0.
        truncate_prob: Chance of cutting a clip's context short, as in a stream's first
            seconds (see ``maskaudit.model.batch.make_batch``). Defaults to 0.2.
        category_weight: Weight of the category grounding loss
            (``maskaudit.model.category_loss``) where the data labels categories; 0 turns it
            off. Defaults to 0.3.
        decoy_prob: Chance that an expression naming a category is shown with a decoy word in
            its place (``maskaudit.model.decoys``); 0 turns it off. Defaults to 0.25.
    """

    seed: int = 0
    minutes: float = 40.0
    max_steps: int = 20000
    clips_per_step: int = 8
    lr: float = 2e-3
    weight_decay: float = 1e-4
    iou_weight: float = 10.0
    val_fraction: float = 0.05
    eval_every: int = 250
    threads: int = 0
    truncate_prob: float = 0.2
    category_weight: float = 0.3
    decoy_prob: float = 0.25


@dataclass
class RunConfig:
    """Everything needed to rebuild a run: the model, the training and the data it saw."""

    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: str = ""
    text_encoder: str = ""

    def save(self, path: Path) -> None:
        """Write the configuration as indented JSON."""
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> RunConfig:
        """Read a configuration written by :meth:`save`."""
        raw = json.loads(Path(path).read_text())
        return cls(
            model=ModelConfig(**raw.get("model", {})),
            train=TrainConfig(**raw.get("train", {})),
            data=raw.get("data", ""),
            text_encoder=raw.get("text_encoder", ""),
        )
