"""Inputs of one stream step for a bundle's graphs, made once for side-by-side timing.

A step is one frame through the frame encoder, one 1-s audio window through the audio encoder,
and the audit head with K candidates and a full temporal context. The head's inputs are what the
bundle's fp32 encoders make of random frames and log-mel windows, so every configuration timed
on them sees the same realistic tensors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from maskaudit.export import contract
from maskaudit.export.onnx_export import random_masks


def cpu_session(path: Path, threads: int) -> ort.InferenceSession:
    """Open a graph on onnxruntime's CPU provider, sequential, with pinned intra-op threads.

    Args:
        path: The ONNX file.
        threads: Intra-op threads (0: onnxruntime's default).

    Returns:
        The session.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def step_inputs(
    bundle: Path, manifest: dict, k: int, seed: int, context: int = 10
) -> dict[str, dict[str, np.ndarray]]:
    """Return one stream step's inputs per graph.

    Args:
        bundle: The bundle folder (its fp32 encoders make the head's inputs).
        manifest: The bundle's manifest (graph signatures).
        k: Candidates on the frame.
        seed: Seed of the random frames, windows, text embedding and masks.
        context: Seconds of temporal context. Defaults to 10.

    Returns:
        ``{graph name: {input name: array}}`` for the frame encoder, audio encoder and head.
    """
    rng = np.random.default_rng(seed)
    size = manifest["graphs"][contract.FRAME_ENCODER]["inputs"][0]["shape"][1]
    n_mels = manifest["graphs"][contract.AUDIO_ENCODER]["inputs"][0]["shape"][1]
    frames = rng.integers(0, 256, (context, size, size, 3), dtype=np.uint8)
    mels = (rng.standard_normal((context, n_mels, 101)) * 3.0 - 8.0).astype(np.float32)
    encoder = cpu_session(bundle / contract.graph_file(contract.FRAME_ENCODER, "fp32"), 0)
    audio_encoder = cpu_session(bundle / contract.graph_file(contract.AUDIO_ENCODER, "fp32"), 0)
    names = contract.OUTPUTS[contract.FRAME_ENCODER]
    feats = dict(zip(names, encoder.run(None, {"frame": frames}), strict=True))
    (audio,) = audio_encoder.run(None, {"log_mel": mels})
    text = rng.standard_normal((1, 384)).astype(np.float32)
    return {
        contract.FRAME_ENCODER: {"frame": frames[-1:]},
        contract.AUDIO_ENCODER: {"log_mel": mels[-1:]},
        contract.AUDIT_HEAD: {
            "feat0": feats["feat0"][-1:],
            "feat1": feats["feat1"][-1:],
            "feat2": feats["feat2"][-1:],
            "frame_global": feats["frame_global"][-1:],
            "context_maps": np.ascontiguousarray(feats["context"][None]),
            "context_audio": np.ascontiguousarray(audio[None]),
            "context_valid": np.ones((1, context), dtype=np.float32),
            "text_embedding": text / np.linalg.norm(text),
            "masks": random_masks(rng, 1, k, size),
        },
    }
