"""Parameter count and multiply-accumulates (MACs) of the trained auditor.

MACs are counted with ``torch.utils.flop_counter.FlopCounterMode`` (which counts the matrix
products and convolutions, two FLOPs per MAC) on one frame at the model's resolution:

- ``per_frame``: what each new frame costs in a stream: the frame encoder and the audio encoder
  once, and the audit head for one candidate with the full temporal context (the context maps
  of earlier seconds come from the ring buffer, not from new encoder runs);
- ``per_extra_candidate``: what each further candidate on the same frame adds (the head with
  two candidates minus the head with one).

Element-wise work (pooling, normalisation, activations) is not counted, as is usual.
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from maskaudit.export import contract
from maskaudit.export.onnx_export import graph_modules, random_inputs
from maskaudit.model.auditor import AuditorModel


def parameter_counts(model: AuditorModel) -> dict[str, int]:
    """Return the parameters of each trained part and their total.

    Args:
        model: The auditor.

    Returns:
        ``{"frame_encoder", "audio_encoder", "audit_head", "total"}`` (the frozen text encoder
        is not part of the auditor).
    """
    parts = {
        contract.FRAME_ENCODER: model.frame_encoder,
        contract.AUDIO_ENCODER: model.audio_encoder,
        contract.AUDIT_HEAD: model.audit_head,
    }
    counts = {name: sum(p.numel() for p in part.parameters()) for name, part in parts.items()}
    counts["total"] = sum(counts.values())
    return counts


def _macs(module: torch.nn.Module, inputs: dict) -> int:
    """Count the MACs of one forward pass."""
    args = tuple(torch.from_numpy(v) for v in inputs.values())
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        module(*args)
    return int(counter.get_total_flops() // 2)


def mac_counts(model: AuditorModel, context: int = 10) -> dict[str, int]:
    """Return the MACs per frame and per extra candidate (see the module notes).

    Args:
        model: The auditor.
        context: Seconds of temporal context the head sees. Defaults to 10.

    Returns:
        ``{"frame_encoder", "audio_encoder", "audit_head_1", "per_frame",
        "per_extra_candidate"}``, all for one frame.
    """
    modules = graph_modules(model)
    one = random_inputs(model.config, n=1, b=1, k=1, t=context)
    two = random_inputs(model.config, n=1, b=1, k=2, t=context)
    frame = _macs(modules[contract.FRAME_ENCODER], one[contract.FRAME_ENCODER])
    audio = _macs(modules[contract.AUDIO_ENCODER], one[contract.AUDIO_ENCODER])
    head1 = _macs(modules[contract.AUDIT_HEAD], one[contract.AUDIT_HEAD])
    head2 = _macs(modules[contract.AUDIT_HEAD], two[contract.AUDIT_HEAD])
    return {
        contract.FRAME_ENCODER: frame,
        contract.AUDIO_ENCODER: audio,
        "audit_head_1": head1,
        "per_frame": frame + audio + head1,
        "per_extra_candidate": head2 - head1,
    }
