"""The graph contract: names, inputs, outputs and dynamic axes of every bundle graph.

This module is plain data (no torch, no onnx), so the exporter, the TensorRT option builders and
the runtime can all read the same names. Dynamic axes are named:

- ``N``: frames or audio windows given to an encoder at once;
- ``B``: frames whose candidates the audit head judges at once;
- ``K``: candidate masks per frame;
- ``T``: seconds of temporal context per frame (10 in the shipped bundle);
- ``L``: tokens per expression (the text encoder).
"""

from __future__ import annotations

FRAME_ENCODER = "frame_encoder"
"""Graph: uint8 RGB frames to feature maps, a global vector and the per-second context map."""

AUDIO_ENCODER = "audio_encoder"
"""Graph: log-mel windows to audio embeddings."""

TEXT_ENCODER = "text_encoder"
"""Graph: token ids to expression embeddings (exported from all-MiniLM-L6-v2)."""

AUDIT_HEAD = "audit_head"
"""Graph: frame features, context, sound, expression and K masks to IoU, type and action."""

TRAINED_GRAPHS: tuple[str, ...] = (FRAME_ENCODER, AUDIO_ENCODER, AUDIT_HEAD)
"""The graphs exported from an auditor checkpoint, in the order they run."""

GRAPHS: tuple[str, ...] = (FRAME_ENCODER, AUDIO_ENCODER, TEXT_ENCODER, AUDIT_HEAD)
"""Every graph a bundle holds."""

INPUTS: dict[str, tuple[str, ...]] = {
    FRAME_ENCODER: ("frame",),
    AUDIO_ENCODER: ("log_mel",),
    TEXT_ENCODER: ("input_ids", "attention_mask", "token_type_ids"),
    AUDIT_HEAD: (
        "feat0",
        "feat1",
        "feat2",
        "frame_global",
        "context_maps",
        "context_audio",
        "context_valid",
        "text_embedding",
        "masks",
    ),
}
"""Input names of each graph, in the order the graph takes them."""

OUTPUTS: dict[str, tuple[str, ...]] = {
    FRAME_ENCODER: ("feat0", "feat1", "feat2", "frame_global", "context"),
    AUDIO_ENCODER: ("audio_embedding",),
    TEXT_ENCODER: ("text_embedding",),
    AUDIT_HEAD: ("iou", "type_logits", "action_logits"),
}
"""Output names of each graph, in the order the graph returns them."""

DYNAMIC_AXES: dict[str, dict[str, dict[int, str]]] = {
    FRAME_ENCODER: {name: {0: "N"} for name in ("frame", *OUTPUTS[FRAME_ENCODER])},
    AUDIO_ENCODER: {"log_mel": {0: "N"}, "audio_embedding": {0: "N"}},
    TEXT_ENCODER: {
        "input_ids": {0: "N", 1: "L"},
        "attention_mask": {0: "N", 1: "L"},
        "token_type_ids": {0: "N", 1: "L"},
        "text_embedding": {0: "N"},
    },
    AUDIT_HEAD: {
        "feat0": {0: "B"},
        "feat1": {0: "B"},
        "feat2": {0: "B"},
        "frame_global": {0: "B"},
        "context_maps": {0: "B", 1: "T"},
        "context_audio": {0: "B", 1: "T"},
        "context_valid": {0: "B", 1: "T"},
        "text_embedding": {0: "B"},
        "masks": {0: "B", 1: "K"},
        "iou": {0: "B", 1: "K"},
        "type_logits": {0: "B", 1: "K"},
        "action_logits": {0: "B", 1: "K"},
    },
}
"""For each graph, ``{tensor: {axis index: axis name}}`` of its dynamic axes."""


def graph_file(graph: str, precision: str) -> str:
    """Return the file name of a graph in a bundle.

    Args:
        graph: One of ``GRAPHS``.
        precision: ``fp32``, ``int8`` (the CPU variant: unsigned activations) or ``int8-trt``
            (the TensorRT variant: signed, symmetric activations).

    Returns:
        ``<graph>.<precision>.onnx``.

    Example:
        >>> graph_file("audit_head", "int8")
        'audit_head.int8.onnx'
    """
    return f"{graph}.{precision}.onnx"
