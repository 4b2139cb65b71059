"""Export the trained auditor's three graphs to ONNX, check them and run them once.

The graphs follow :mod:`maskaudit.export.contract`. Export uses PyTorch's TorchScript-based
exporter (``torch.onnx.export(..., dynamo=False)``): the dynamo exporter needs the ``onnxscript``
package, which maskaudit does not depend on, and the TorchScript exporter already gives a graph
whose batch, candidate and context axes are dynamic (proved by running it at two sizes). Every
graph is checked with ``onnx.checker`` (with shape inference), simplified with ``onnxslim`` when
that keeps its outputs within ``SIMPLIFY_ATOL`` of the unsimplified graph, and run once in
onnxruntime against PyTorch.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from maskaudit.errors import BundleError
from maskaudit.export import contract
from maskaudit.export.parity import max_output_difference, run_graph
from maskaudit.model.auditor import AuditorModel
from maskaudit.model.config import ModelConfig

logger = logging.getLogger(__name__)

DEFAULT_OPSET = 17
"""ONNX opset of the exported graphs (TensorRT 8.6+ and onnxruntime 1.14+ read it)."""

SIMPLIFY_ATOL = 1e-5
"""Largest output change that ``onnxslim`` may cause for its result to be kept."""


class FrameEncoderGraph(nn.Module):
    """The frame encoder with its dict output flattened into the contract's output order.

    Args:
        encoder: The trained ``FrameEncoder``.
    """

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, frame: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Encode uint8 frames [N, S, S, 3]; returns the five maps of ``contract.OUTPUTS``."""
        out = self.encoder(frame)
        return tuple(out[name] for name in contract.OUTPUTS[contract.FRAME_ENCODER])


def graph_modules(model: AuditorModel) -> dict[str, nn.Module]:
    """Return the module exported as each trained graph, in eval mode.

    Args:
        model: The auditor.

    Returns:
        ``{graph name: module}`` for ``contract.TRAINED_GRAPHS``.
    """
    model.eval()
    return {
        contract.FRAME_ENCODER: FrameEncoderGraph(model.frame_encoder).eval(),
        contract.AUDIO_ENCODER: model.audio_encoder.eval(),
        contract.AUDIT_HEAD: model.audit_head.eval(),
    }


def random_masks(rng: np.random.Generator, b: int, k: int, size: int) -> np.ndarray:
    """Return float32 [b, k, size, size] masks: filled rectangles with a soft edge row.

    Args:
        rng: The random generator.
        b: Frames.
        k: Candidates per frame.
        size: Mask side.

    Returns:
        Masks with values in [0, 1]; each is a rectangle covering 5% to 60% of the side.
    """
    masks = np.zeros((b, k, size, size), dtype=np.float32)
    for i in range(b):
        for j in range(k):
            h, w = rng.integers(size // 20, size * 3 // 5, size=2)
            y, x = rng.integers(0, size - h), rng.integers(0, size - w)
            masks[i, j, y : y + h, x : x + w] = 1.0
            masks[i, j, y, x : x + w] = 0.5
    return masks


def random_inputs(
    config: ModelConfig,
    n: int = 2,
    b: int = 2,
    k: int = 3,
    t: int = 10,
    seed: int = 0,
) -> dict[str, dict[str, np.ndarray]]:
    """Return random inputs of every trained graph, with the contract's names and dtypes.

    Args:
        config: The model sizes.
        n: Frames and windows given to the encoders. Defaults to 2.
        b: Frames given to the head. Defaults to 2.
        k: Candidates per frame. Defaults to 3.
        t: Context seconds. Defaults to 10.
        seed: Seed of the draw. Defaults to 0.

    Returns:
        ``{graph: {input name: array}}``; the head's feature inputs are standard normal, its
        last context entry is marked invalid when ``t > 1`` (padding is exercised too).
    """
    rng = np.random.default_rng(seed)
    s = config.frame_size
    valid = np.ones((b, t), dtype=np.float32)
    if t > 1:
        valid[:, 0] = 0.0

    def normal(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(np.float32)

    return {
        contract.FRAME_ENCODER: {"frame": rng.integers(0, 256, (n, s, s, 3), dtype=np.uint8)},
        contract.AUDIO_ENCODER: {"log_mel": (normal(n, config.n_mels, 101) * 3.0 - 8.0)},
        contract.AUDIT_HEAD: {
            "feat0": normal(b, config.c0, s // 2, s // 2),
            "feat1": normal(b, config.c1, s // 4, s // 4),
            "feat2": normal(b, config.c2, s // 8, s // 8),
            "frame_global": normal(b, config.global_dim),
            "context_maps": normal(b, t, config.context_dim, s // 4, s // 4),
            "context_audio": normal(b, t, config.audio_dim),
            "context_valid": valid,
            "text_embedding": normal(b, config.text_dim) / float(np.sqrt(config.text_dim)),
            "masks": random_masks(rng, b, k, s),
        },
    }


def torch_outputs(module: nn.Module, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Run a graph's module in PyTorch on numpy inputs (in contract order).

    Args:
        module: A module of :func:`graph_modules`.
        inputs: ``{input name: array}``.

    Returns:
        The outputs as numpy arrays, in contract order.
    """
    with torch.no_grad():
        out = module(*(torch.from_numpy(np.ascontiguousarray(v)) for v in inputs.values()))
    if isinstance(out, torch.Tensor):
        out = (out,)
    return [o.numpy() for o in out]


def export_graph(
    module: nn.Module, graph: str, inputs: Mapping[str, np.ndarray], path: Path, opset: int
) -> Path:
    """Export one module as a contract graph and check it with ``onnx.checker``.

    Args:
        module: The module (see :func:`graph_modules`).
        graph: Its name in ``contract.TRAINED_GRAPHS``.
        inputs: Example inputs ``{name: array}`` in contract order (their sizes do not matter:
            the contract's axes are dynamic).
        path: The ``.onnx`` file to write (weights inside the file).
        opset: The ONNX opset.

    Returns:
        ``path``.

    Raises:
        BundleError: If the exported graph fails the ONNX checker.
    """
    import onnx

    args = tuple(torch.from_numpy(np.ascontiguousarray(v)) for v in inputs.values())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.onnx.export(
            module,
            args,
            str(path),
            dynamo=False,
            opset_version=opset,
            input_names=list(contract.INPUTS[graph]),
            output_names=list(contract.OUTPUTS[graph]),
            dynamic_axes=contract.DYNAMIC_AXES[graph],
            do_constant_folding=True,
        )
    for warning in caught:
        logger.debug("export of %s: %s", graph, warning.message)
    try:
        onnx.checker.check_model(str(path), full_check=True)
    except onnx.checker.ValidationError as exc:
        raise BundleError(
            f"the exported {path.name} fails the ONNX checker ({exc}); report this with the "
            "checkpoint's config.json"
        ) from exc
    return path


def simplify_graph(
    path: Path, check_inputs: list[Mapping[str, np.ndarray]], atol: float = SIMPLIFY_ATOL
) -> dict[str, float | bool | int]:
    """Simplify a graph file with ``onnxslim`` in place, where that helps and is exact.

    The simplified graph is kept when it has fewer nodes and its outputs stay within ``atol``
    of the original's on ``check_inputs``; otherwise the file is left as exported.

    Args:
        path: The ``.onnx`` file.
        check_inputs: Input sets (at least two sizes, so dynamic axes are exercised) on which
            the simplified graph must agree with the original.
        atol: Largest absolute output change accepted. Defaults to ``SIMPLIFY_ATOL`` (1e-5).

    Returns:
        ``{"kept": bool, "max_diff": float, "nodes_before": int, "nodes_after": int}``.
    """
    import onnx
    import onnxslim

    from maskaudit.export.manifest import read_signature, signature_difference

    original = onnx.load(str(path))
    slim_path = path.with_suffix(".slim.onnx")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            slim = onnxslim.slim(original)
        onnx.save(slim, str(slim_path))
        onnx.checker.check_model(str(slim_path), full_check=True)
        before, after = read_signature(path), read_signature(slim_path)
        for key in ("inputs", "outputs"):
            diff = signature_difference(before[key], after[key])
            if diff is not None:
                raise ValueError(f"onnxslim changed the {key}: {diff}")
        worst = 0.0
        for inputs in check_inputs:
            worst = max(
                worst,
                max_output_difference(run_graph(path, inputs), run_graph(slim_path, inputs)),
            )
    except Exception as exc:  # noqa: BLE001 - any failure means: keep the original graph
        logger.warning("onnxslim could not simplify %s (%s); keeping it as exported", path, exc)
        slim_path.unlink(missing_ok=True)
        return {"kept": False, "max_diff": float("nan"), "nodes_before": len(original.graph.node)}
    before, after = len(original.graph.node), len(slim.graph.node)
    result = {
        "kept": worst <= atol and after < before,
        "max_diff": worst,
        "nodes_before": before,
        "nodes_after": after,
    }
    if result["kept"]:
        slim_path.replace(path)
    else:
        if worst > atol:
            logger.warning(
                "onnxslim changed %s's outputs by %.3g > %.1g; keeping the graph as exported",
                path.name,
                worst,
                atol,
            )
        slim_path.unlink(missing_ok=True)
    return result


def check_parity(
    model: AuditorModel,
    graph_dir: str | Path,
    input_sets: list[dict[str, dict[str, np.ndarray]]],
    precision: str = "fp32",
) -> dict[str, float]:
    """Compare the exported graphs with PyTorch on given inputs.

    Args:
        model: The auditor the graphs were exported from.
        graph_dir: Folder with ``<graph>.<precision>.onnx``.
        input_sets: Input sets ``{graph: {input: array}}``; a graph missing from a set is
            skipped for that set.
        precision: The graph files to run. Defaults to ``fp32``.

    Returns:
        ``{graph: largest scaled difference}`` (see
        :func:`~maskaudit.export.parity.max_output_difference`).
    """
    graph_dir = Path(graph_dir)
    worst: dict[str, float] = {}
    for graph, module in graph_modules(model).items():
        path = graph_dir / contract.graph_file(graph, precision)
        for inputs in input_sets:
            if graph not in inputs:
                continue
            diff = max_output_difference(
                run_graph(path, inputs[graph]), torch_outputs(module, inputs[graph])
            )
            worst[graph] = max(worst.get(graph, 0.0), diff)
    return worst


@dataclass
class ExportReport:
    """What :func:`export_graphs` wrote and measured.

    Attributes:
        paths: ``{graph: fp32 .onnx path}``.
        simplify: ``{graph: onnxslim result}`` (see :func:`simplify_graph`).
        parity: ``{graph: largest |onnxruntime - PyTorch| over its outputs and check inputs}``.
    """

    paths: dict[str, Path] = field(default_factory=dict)
    simplify: dict[str, dict] = field(default_factory=dict)
    parity: dict[str, float] = field(default_factory=dict)


def check_sizes(config: ModelConfig) -> list[dict[str, dict[str, np.ndarray]]]:
    """Return two random input sets of different sizes on every dynamic axis.

    Args:
        config: The model sizes.

    Returns:
        Input sets as :func:`random_inputs` gives them: (N=2, B=2, K=3, T=10) and
        (N=3, B=1, K=5, T=4).
    """
    return [
        random_inputs(config, n=2, b=2, k=3, t=10, seed=1),
        random_inputs(config, n=3, b=1, k=5, t=4, seed=2),
    ]


def export_graphs(
    model: AuditorModel,
    out_dir: str | Path,
    opset: int = DEFAULT_OPSET,
    simplify: bool = True,
    extra_inputs: list[dict[str, dict[str, np.ndarray]]] | None = None,
    parity_atol: float = 1e-4,
) -> ExportReport:
    """Export the frame encoder, audio encoder and audit head as ``<graph>.fp32.onnx``.

    Args:
        model: The auditor (put in eval mode here).
        out_dir: The folder to write into (created if missing).
        opset: ONNX opset. Defaults to ``DEFAULT_OPSET`` (17).
        simplify: Simplify with ``onnxslim`` where outputs stay within ``SIMPLIFY_ATOL``.
            Defaults to True.
        extra_inputs: More input sets for the smoke run (e.g. benchmark inputs), each as
            :func:`random_inputs` gives them. Defaults to None (random inputs only).
        parity_atol: Largest accepted ``|onnxruntime - PyTorch|`` of any output, scaled by
            ``max(1, |output|)``. Defaults to 1e-4.

    Returns:
        The written paths, simplification results and measured parity.

    Raises:
        BundleError: If a graph fails the checker or the smoke run.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    modules = graph_modules(model)
    sets = check_sizes(model.config) + list(extra_inputs or [])
    report = ExportReport()
    for graph, module in modules.items():
        path = out_dir / contract.graph_file(graph, "fp32")
        logger.info("exporting %s", path.name)
        export_graph(module, graph, sets[0][graph], path, opset)
        if simplify:
            report.simplify[graph] = simplify_graph(path, [s[graph] for s in sets[:2]])
        worst = 0.0
        for inputs in sets:
            expected = torch_outputs(module, inputs[graph])
            worst = max(worst, max_output_difference(run_graph(path, inputs[graph]), expected))
        report.parity[graph] = worst
        report.paths[graph] = path
        logger.info("%s: onnxruntime vs PyTorch max difference %.3g", graph, worst)
        if not worst <= parity_atol:
            raise BundleError(
                f"{path.name} differs from PyTorch by {worst:.3g} (> {parity_atol:g}) in the "
                "smoke run after export; export with --no-simplify, or report the checkpoint"
            )
    return report
