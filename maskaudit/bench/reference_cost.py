"""Multiply-accumulates (MACs) per verdict of the reference auditor, and maskaudit's against it.

The reference auditor (MQ-Auditor: a LLaMA-2-7B-chat language model with CLIP ViT-L/14 for
images and BEATs for audio) recomputes everything for every candidate mask: 13 CLIP passes
(the 10 frames of the clip, the key frame, and the mask given twice, as a binary image and as
the masked frame), 10 BEATs windows, a prefill of about 800 positions, and up to 256 greedily
decoded tokens, batch size 1. Its cost is counted here from those architectures, layer by
layer, with every constant named below; maskaudit's comes from its exported graphs
(:func:`maskaudit.bench.graph_ops.bundle_macs`).

Conventions, shared with :mod:`maskaudit.bench.graph_ops`: a MAC is one multiply-accumulate;
one FLOP count is about two MACs. Matrix products, convolutions and attention's two products
(query-key scores and the weighted sum of values) are counted; normalisation, activations,
softmax, rotary embeddings, residual additions and biases are not. Where an implementation
choice changes the count, the smaller is taken, so the reference's count is a lower bound and
the ratio understates maskaudit's saving:

- causal attention in the prefill costs only the unmasked scores (position p attends p + 1
  keys), as a flash-attention kernel does; an implementation that computes the full square of
  scores and then masks it adds about 84 GMACs;
- the language-model head runs on the last prefill position only (the logits of the others
  are never read);
- the Q-Former adapters that turn CLIP and BEATs features into language-model tokens are left
  out (their published size is not part of the count above; they would add a few percent);
- a 256-token answer needs the prefill, whose last logits give the first token, and 255
  one-token passes with a key-value cache.

Example:
    >>> reference = reference_auditor_macs()
    >>> round(reference["total"] / 1e12, 2)  # TMACs per verdict
    8.11
"""

from __future__ import annotations

import math
from collections.abc import Mapping

# --- CLIP ViT-L/14 (the image encoder) -------------------------------------------------------

CLIP_PASSES = 13
"""Image passes per verdict: 10 clip frames, the key frame, and the mask as two images."""

CLIP_IMAGE_SIZE = 224
"""Side of the square image CLIP sees, in pixels."""

CLIP_PATCH = 14
"""Side of one CLIP patch (the "/14" of ViT-L/14): a 16 x 16 grid at 224 px."""

CLIP_CHANNELS = 3
"""Colour channels entering CLIP's patch embedding."""

CLIP_LAYERS = 24
"""Transformer layers of ViT-L."""

CLIP_WIDTH = 1024
"""Token width of ViT-L."""

CLIP_MLP = 4096
"""Hidden width of ViT-L's two-matrix MLP."""

CLIP_CLASS_TOKENS = 1
"""Class tokens prepended to the patches: 16 x 16 + 1 = 257 tokens."""

# --- BEATs (the audio encoder) ---------------------------------------------------------------

BEATS_WINDOWS = 10
"""Audio windows per verdict: one per second of the 10-second clip, window k with frame k."""

BEATS_WINDOW_SECONDS = 1.0
"""Length of one window: the reference cuts the clip's audio into 1-s windows, each encoded
on its own (not the 10-s clip at once)."""

BEATS_SAMPLE_RATE = 16000
"""Samples per second of the audio BEATs reads."""

BEATS_MEL_BINS = 128
"""Mel bins of BEATs' filterbank input."""

BEATS_FRAME_LENGTH_MS = 25
"""Analysis window of the filterbank, in ms (400 samples)."""

BEATS_FRAME_SHIFT_MS = 10
"""Hop of the filterbank, in ms (160 samples): 98 frames per 1-s window."""

BEATS_PATCH = 16
"""Side of BEATs' square patches over (time frames x mel bins), stride 16, no overlap."""

BEATS_PATCH_DIM = 512
"""Channels of BEATs' patch-embedding convolution, before the projection to the width."""

BEATS_LAYERS = 12
"""Transformer layers of BEATs (ViT-Base-like)."""

BEATS_WIDTH = 768
"""Token width of BEATs."""

BEATS_MLP = 3072
"""Hidden width of BEATs' two-matrix feed-forward block."""

BEATS_POS_CONV_KERNEL = 128
"""Kernel of BEATs' convolutional position embedding (over tokens)."""

BEATS_POS_CONV_GROUPS = 16
"""Groups of that convolution: each output channel reads 768 / 16 = 48 input channels."""

# --- LLaMA-2-7B (the language model) ---------------------------------------------------------

LLM_LAYERS = 32
"""Decoder layers of LLaMA-2-7B."""

LLM_WIDTH = 4096
"""Token width of LLaMA-2-7B (32 heads of 128; keys and values as wide as queries)."""

LLM_FFN = 11008
"""Hidden width of its SwiGLU feed-forward block."""

LLM_FFN_MATRICES = 3
"""Matrices of the SwiGLU block: gate and up (width to hidden), down (hidden to width)."""

LLM_VOCAB = 32000
"""Vocabulary of the language-model head."""

PREFILL_POSITIONS = 800
"""Prompt positions processed at once: instructions, expression, image and audio tokens."""

DECODED_TOKENS = 256
"""Answer tokens generated greedily, at most (the count takes the most)."""


def attention_macs(queries: int, keys: int, width: int) -> int:
    """Return the MACs of attention's two products, summed over heads.

    Scores (queries x keys, each a dot product over the head width) and the weighted sum of
    values cost ``queries * keys * width`` each, whatever the number of heads.

    Args:
        queries: Query positions.
        keys: Key positions each query attends.
        width: Model width (heads x head width).

    Returns:
        ``2 * queries * keys * width``.

    Example:
        >>> attention_macs(257, 257, 1024)
        135268352
    """
    return 2 * queries * keys * width


def transformer_layer_macs(
    tokens: int, width: int, mlp: int, mlp_matrices: int = 2, keys: int | None = None
) -> int:
    """Return the MACs of one transformer layer on ``tokens`` tokens.

    Four width x width projections (query, key, value, output), a feed-forward block of
    ``mlp_matrices`` width x mlp matrices, and attention over ``keys`` positions per query.

    Args:
        tokens: Tokens processed.
        width: Model width.
        mlp: Feed-forward hidden width.
        mlp_matrices: Matrices of the feed-forward block: 2 for a plain MLP, 3 for SwiGLU.
            Defaults to 2.
        keys: Positions each token attends. Defaults to None: ``tokens`` (full attention).

    Returns:
        ``tokens * (4 * width**2 + mlp_matrices * width * mlp) + attention``.

    Example:
        >>> transformer_layer_macs(257, 1024, 4096)
        3369076736
    """
    keys = tokens if keys is None else keys
    projections = 4 * tokens * width * width
    feed_forward = mlp_matrices * tokens * width * mlp
    return projections + feed_forward + attention_macs(tokens, keys, width)


def clip_tokens() -> int:
    """Return CLIP ViT-L/14's tokens at 224 px: (224 / 14)**2 patches + 1 class token = 257."""
    return (CLIP_IMAGE_SIZE // CLIP_PATCH) ** 2 + CLIP_CLASS_TOKENS


def clip_pass_macs() -> dict[str, int]:
    """Return the MACs of one CLIP ViT-L/14 pass on a 224-px image.

    Returns:
        ``{"tokens", "patch_embedding", "layers", "total"}``: the patch embedding is a
        14 x 14 stride-14 convolution from 3 channels to the width on 256 patches; the layers
        are ``CLIP_LAYERS`` transformer layers on 257 tokens. The projection to CLIP's joint
        embedding is left out (a multimodal model reads the token features).
    """
    tokens = clip_tokens()
    patches = tokens - CLIP_CLASS_TOKENS
    patch_embedding = patches * CLIP_WIDTH * CLIP_CHANNELS * CLIP_PATCH * CLIP_PATCH
    layers = CLIP_LAYERS * transformer_layer_macs(tokens, CLIP_WIDTH, CLIP_MLP)
    return {
        "tokens": tokens,
        "patch_embedding": patch_embedding,
        "layers": layers,
        "total": patch_embedding + layers,
    }


def beats_frames() -> int:
    """Return the filterbank frames of one window: 1 + (16000 - 400) // 160 = 98."""
    samples = int(round(BEATS_WINDOW_SECONDS * BEATS_SAMPLE_RATE))
    length = BEATS_SAMPLE_RATE * BEATS_FRAME_LENGTH_MS // 1000
    shift = BEATS_SAMPLE_RATE * BEATS_FRAME_SHIFT_MS // 1000
    return 1 + (samples - length) // shift


def beats_tokens() -> int:
    """Return BEATs' tokens per 1-s window: (98 // 16) time x (128 // 16) mel patches = 48."""
    return (beats_frames() // BEATS_PATCH) * (BEATS_MEL_BINS // BEATS_PATCH)


def beats_window_macs() -> dict[str, int]:
    """Return the MACs of one BEATs pass on a 1-s window.

    Returns:
        ``{"tokens", "patch_embedding", "position_conv", "layers", "total"}``: a 16 x 16
        stride-16 convolution from the filterbank to ``BEATS_PATCH_DIM`` channels, its
        projection to the width, the grouped convolutional position embedding over tokens, and
        ``BEATS_LAYERS`` transformer layers. BEATs' gated relative position bias (a few
        thousand MACs per layer) is left out.
    """
    tokens = beats_tokens()
    patch_embedding = tokens * BEATS_PATCH_DIM * BEATS_PATCH * BEATS_PATCH
    projection = tokens * BEATS_PATCH_DIM * BEATS_WIDTH
    position_conv = (
        tokens * BEATS_WIDTH * (BEATS_WIDTH // BEATS_POS_CONV_GROUPS) * BEATS_POS_CONV_KERNEL
    )
    layers = BEATS_LAYERS * transformer_layer_macs(tokens, BEATS_WIDTH, BEATS_MLP)
    return {
        "tokens": tokens,
        "patch_embedding": patch_embedding + projection,
        "position_conv": position_conv,
        "layers": layers,
        "total": patch_embedding + projection + position_conv + layers,
    }


def llm_token_macs() -> int:
    """Return the MACs of one position through the decoder layers, attention products excluded.

    Per layer: four width x width projections and the three SwiGLU matrices; the attention
    products, which depend on the position, are counted by the callers.

    Returns:
        ``LLM_LAYERS * (4 * LLM_WIDTH**2 + LLM_FFN_MATRICES * LLM_WIDTH * LLM_FFN)``.
    """
    return LLM_LAYERS * transformer_layer_macs(
        1, LLM_WIDTH, LLM_FFN, mlp_matrices=LLM_FFN_MATRICES, keys=0
    )


def llm_head_macs() -> int:
    """Return the MACs of the language-model head on one position: width x vocabulary."""
    return LLM_WIDTH * LLM_VOCAB


def llm_prefill_macs(positions: int = PREFILL_POSITIONS) -> dict[str, int]:
    """Return the MACs of the prefill: every prompt position at once, causal attention.

    Args:
        positions: Prompt positions. Defaults to ``PREFILL_POSITIONS`` (800).

    Returns:
        ``{"positions", "linear", "attention", "head", "total"}``: position p attends p + 1
        keys; the head runs on the last position only.
    """
    linear = positions * llm_token_macs()
    attention = LLM_LAYERS * sum(attention_macs(1, p + 1, LLM_WIDTH) for p in range(positions))
    head = llm_head_macs()
    return {
        "positions": positions,
        "linear": linear,
        "attention": attention,
        "head": head,
        "total": linear + attention + head,
    }


def llm_decode_macs(
    tokens: int = DECODED_TOKENS, prompt: int = PREFILL_POSITIONS
) -> dict[str, int]:
    """Return the MACs of greedy decoding after the prefill, with a key-value cache.

    The prefill's last logits give the first token; each of the other ``tokens - 1`` tokens
    is one pass of one position through the layers and the head, attending every position
    before it and itself.

    Args:
        tokens: Answer tokens. Defaults to ``DECODED_TOKENS`` (256).
        prompt: Prompt positions before the answer. Defaults to ``PREFILL_POSITIONS`` (800).

    Returns:
        ``{"tokens", "passes", "linear", "attention", "head", "total"}``.
    """
    passes = max(tokens - 1, 0)
    attention = LLM_LAYERS * sum(
        attention_macs(1, prompt + i + 1, LLM_WIDTH) for i in range(passes)
    )
    linear = passes * llm_token_macs()
    head = passes * llm_head_macs()
    return {
        "tokens": tokens,
        "passes": passes,
        "linear": linear,
        "attention": attention,
        "head": head,
        "total": linear + attention + head,
    }


def reference_auditor_macs() -> dict:
    """Return the reference auditor's MACs per verdict, part by part.

    Returns:
        ``{"clip": {..., "passes", "per_pass", "all_passes"}, "beats": {..., "windows",
        "per_window", "all_windows"}, "prefill": {...}, "decode": {...}, "total",
        "flops_approx"}``; ``flops_approx`` is twice ``total``.
    """
    clip = clip_pass_macs()
    beats = beats_window_macs()
    prefill = llm_prefill_macs()
    decode = llm_decode_macs()
    total = (
        CLIP_PASSES * clip["total"]
        + BEATS_WINDOWS * beats["total"]
        + prefill["total"]
        + decode["total"]
    )
    return {
        "clip": {
            **clip,
            "passes": CLIP_PASSES,
            "per_pass": clip["total"],
            "all_passes": CLIP_PASSES * clip["total"],
        },
        "beats": {
            **beats,
            "windows": BEATS_WINDOWS,
            "window_seconds": BEATS_WINDOW_SECONDS,
            "filterbank_frames": beats_frames(),
            "per_window": beats["total"],
            "all_windows": BEATS_WINDOWS * beats["total"],
        },
        "prefill": prefill,
        "decode": decode,
        "total": total,
        "flops_approx": 2 * total,
    }


def constants() -> dict[str, int | float]:
    """Return every architectural constant of the count, by name (for the results file)."""
    return {
        name: value
        for name, value in globals().items()
        if name.isupper() and isinstance(value, int | float) and not isinstance(value, bool)
    }


def maskaudit_verdict_macs(counts: Mapping[str, int | None], context: int = 10) -> dict:
    """Return maskaudit's MACs per verdict in three situations, from its graph counts.

    Args:
        counts: As :func:`maskaudit.bench.graph_ops.bundle_macs` returns them (``per_frame``,
            ``per_extra_candidate``, the encoders, ``audit_head_1``, ``text_encoder``).
        context: Seconds of context the head sees; a cold clip encodes that many frames and
            windows. Defaults to 10.

    Returns:
        ``{"stream_k1", "stream_k16", "per_extra_candidate", "cold_clip"}``, each
        ``{"macs", "what"}``:

        - ``stream_k1``: a stream with one candidate per frame: each verdict costs one frame
          encoding, one window encoding and the head with one candidate (earlier seconds of
          context come from ring buffers; the expression is embedded once per stream);
        - ``stream_k16``: the same frame with 16 candidates, per verdict;
        - ``per_extra_candidate``: what one more candidate on a frame adds;
        - ``cold_clip``: one verdict with nothing cached, like the reference: ``context``
          frames and windows encoded, the expression embedded, the head with one candidate.
    """
    frame = int(counts["frame_encoder"])
    audio = int(counts["audio_encoder"])
    head = int(counts["audit_head_1"])
    extra = int(counts["per_extra_candidate"])
    text = int(counts.get("text_encoder") or 0)
    per_frame = frame + audio + head
    return {
        "stream_k1": {
            "macs": per_frame,
            "what": "frame encoder + audio encoder + head (K=1), per frame of a stream",
        },
        "stream_k16": {
            "macs": (per_frame + 15 * extra) / 16,
            "what": "one frame with 16 candidates: (per frame + 15 extra candidates) / 16",
        },
        "per_extra_candidate": {
            "macs": extra,
            "what": "head(K=2) - head(K=1): one more candidate on the same frame",
        },
        "cold_clip": {
            "macs": context * (frame + audio) + text + head,
            "what": f"nothing cached: {context} frames + {context} windows + text encoder "
            "+ head (K=1)",
        },
    }


def cost_ratios(reference_total: int, verdicts: Mapping[str, Mapping[str, float]]) -> dict:
    """Return how many times maskaudit's MACs the reference spends, per situation.

    Args:
        reference_total: The reference auditor's MACs per verdict.
        verdicts: As :func:`maskaudit_verdict_macs` returns them.

    Returns:
        ``{situation: reference_total / macs}`` (``math.inf`` where maskaudit's count is 0).
    """
    return {
        name: (reference_total / value["macs"] if value["macs"] else math.inf)
        for name, value in verdicts.items()
    }
