"""Loading and checking a model bundle.

A bundle (see :mod:`maskaudit.export.manifest`) is refused, with a :class:`BundleError` naming
the file at fault and the fix, when its folder or manifest is missing, its ``format_version`` is
not the one this maskaudit reads, a file is missing, lies outside the folder or its sha256
differs from the manifest's, a graph or a precision is missing, a graph's real inputs and
outputs differ from the signature in the manifest or from the graph contract the runtime relies
on, or the manifest states labels, preprocessing constants, policy thresholds or a context
length that this maskaudit would misread (a bundle made for other labels or another log-mel
would give verdicts that look right and are not).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from maskaudit import labels
from maskaudit.errors import BundleError
from maskaudit.export import contract
from maskaudit.export.manifest import (
    ENGINES_DIR,
    FORMAT_VERSION,
    MANIFEST_NAME,
    PRECISIONS,
    read_signature,
    sha256_file,
    signature_difference,
)
from maskaudit.features.constants import preprocessing_constants
from maskaudit.runtime.policy import PolicyThresholds

logger = logging.getLogger(__name__)

GRAPHS: tuple[str, ...] = contract.GRAPHS
"""The graphs every bundle holds (the graph contract's, in the order they run)."""

OPTIONAL_INPUTS: frozenset[str] = frozenset({"token_type_ids"})
"""Contract inputs a graph may leave out (the runtime feeds them only when a graph has them)."""

CONTRACT: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    graph: (
        tuple(name for name in contract.INPUTS[graph] if name not in OPTIONAL_INPUTS),
        contract.OUTPUTS[graph],
    )
    for graph in GRAPHS
}
"""Input and output names each graph must have: :mod:`maskaudit.export.contract` less
``OPTIONAL_INPUTS``."""

REEXPORT = "re-export the bundle with `maskaudit export` or restore the file"

FIXED_PREPROCESSING: tuple[str, ...] = (
    "frame_layout",
    "frame_dtype",
    "frame_colour",
    "sample_rate",
    "window_seconds",
    "window_samples",
    "n_fft",
    "hop",
    "win",
    "center",
    "pad_mode",
    "n_mels",
    "fmin",
    "fmax",
    "power",
    "mel_htk",
    "mel_norm",
    "log_offset",
    "mel_frames",
)
"""Preprocessing constants that this maskaudit computes with fixed values
(:mod:`maskaudit.features.constants`); a manifest that states other values is refused. The frame
size, the context length and the token length are read from the graphs instead."""


def default_bundle_path() -> Path:
    """Return the folder of the shipped default bundle (``maskaudit/assets/default``)."""
    return Path(str(resources.files("maskaudit").joinpath("assets", "default")))


@dataclass(frozen=True)
class Bundle:
    """A checked model bundle.

    Attributes:
        path: The bundle folder.
        manifest: The parsed ``manifest.json``.
        manifest_sha256: The sha256 of ``manifest.json`` as read (which, through the file
            hashes it lists, fixes every file of the bundle); "" when not read from a file.
    """

    path: Path
    manifest: dict[str, Any]
    manifest_sha256: str = ""

    @property
    def id(self) -> str:
        """The bundle's identity in records: ``<folder>@<first 12 hex of manifest_sha256>``."""
        if not self.manifest_sha256:
            return self.path.name
        return f"{self.path.name}@{self.manifest_sha256[:12]}"

    def precisions(self, graph: str) -> tuple[str, ...]:
        """Return the file precisions of ``graph`` (e.g. ``("fp32", "int8", "int8-trt")``)."""
        entry = self.manifest["graphs"][graph]
        return tuple(k for k in PRECISIONS if entry.get(k) is not None)

    def resolve_precision(self, graph: str, precision: str, gpu: bool = False) -> str:
        """Return the graph file's precision to run ``graph`` in when ``precision`` is asked for.

        ``int8`` runs the CPU variant (``<graph>.int8.onnx``) on the CPU and prefers the
        TensorRT variant (``<graph>.int8-trt.onnx``, signed symmetric activations) on GPUs. The
        text encoder runs once per expression and may ship in one precision only; it then runs
        in that one. Every other graph must exist in the asked precision.

        Args:
            graph: One of ``GRAPHS``.
            precision: ``fp32`` or ``int8``.
            gpu: Whether a GPU backend runs the graph. Defaults to False.

        Returns:
            The precision of the file that will run (``fp32``, ``int8`` or ``int8-trt``).

        Raises:
            BundleError: If ``graph`` does not exist in ``precision``.
        """
        available = self.precisions(graph)
        wanted = ["int8-trt", "int8"] if precision == "int8" and gpu else [precision]
        for option in wanted:
            if option in available:
                return option
        if graph == "text_encoder" and available:
            logger.info("%s has no %s graph; using %s", graph, precision, available[0])
            return available[0]
        other = "int8" if precision == "fp32" else "fp32"
        raise BundleError(
            f"bundle {self.path} has no {precision} {graph} ({graph}.{precision}.onnx; it has "
            f"{', '.join(available) or 'none'}): pass --precision {other} or export the bundle "
            f"with {precision} graphs"
        )

    def graph_path(self, graph: str, precision: str, gpu: bool = False) -> Path:
        """Return the ONNX file of ``graph`` at ``precision`` (see :meth:`resolve_precision`)."""
        precision = self.resolve_precision(graph, precision, gpu)
        return self.path / self.manifest["graphs"][graph][precision]

    def signature(self, graph: str) -> dict[str, list[dict[str, Any]]]:
        """Return ``{"inputs": [...], "outputs": [...]}`` of ``graph`` from the manifest."""
        entry = self.manifest["graphs"][graph]
        return {"inputs": entry["inputs"], "outputs": entry["outputs"]}

    def input_shape(self, graph: str, name: str) -> list[int | str]:
        """Return the manifest shape of input ``name`` of ``graph``."""
        return _find(self.signature(graph)["inputs"], name, graph)["shape"]

    def output_shape(self, graph: str, name: str) -> list[int | str]:
        """Return the manifest shape of output ``name`` of ``graph``."""
        return _find(self.signature(graph)["outputs"], name, graph)["shape"]

    def input_names(self, graph: str) -> tuple[str, ...]:
        """Return the input names of ``graph`` in manifest order."""
        return tuple(v["name"] for v in self.signature(graph)["inputs"])

    @property
    def tokenizer_path(self) -> Path:
        """The bundle's ``tokenizer.json``."""
        return self.path / "tokenizer.json"

    @property
    def engines_dir(self) -> Path:
        """The bundle's ``engines/`` folder (may not exist)."""
        return self.path / ENGINES_DIR

    @property
    def context_seconds(self) -> int:
        """Seconds of temporal context the head takes (T)."""
        return int(self.manifest.get("context", {}).get("seconds", 10))

    @property
    def policy(self) -> PolicyThresholds:
        """The verdict policy's thresholds stored in the manifest (defaults where absent)."""
        return PolicyThresholds.from_dict(self.manifest.get("policy"))

    @property
    def preprocessing(self) -> dict[str, Any]:
        """The preprocessing constants stored in the manifest."""
        return dict(self.manifest.get("preprocessing", {}))

    def check_signature(
        self, graph: str, inputs: list[dict], outputs: list[dict], what: str
    ) -> None:
        """Refuse a loaded graph (a session, an engine) whose signature differs from the manifest.

        Args:
            graph: One of ``GRAPHS``.
            inputs: Its inputs as ``{"name", "dtype", "shape"}`` dicts.
            outputs: Its outputs, likewise.
            what: The file or engine, for the message.

        Raises:
            BundleError: If the signatures differ.
        """
        expected = self.signature(graph)
        for key, actual in (("inputs", inputs), ("outputs", outputs)):
            diff = signature_difference(expected[key], actual)
            if diff is not None:
                raise BundleError(
                    f"{what}: its {key} do not match {graph} in {self.path / MANIFEST_NAME} "
                    f"({diff}): the graph and the manifest come from different exports; "
                    f"{REEXPORT}"
                )


def _find(values: list[dict], name: str, graph: str) -> dict:
    """Return the signature entry called ``name``."""
    for value in values:
        if value["name"] == name:
            return value
    raise BundleError(f"{graph} has no tensor {name!r} in the manifest; {REEXPORT}")


def _read_manifest(folder: Path, default: bool) -> tuple[dict[str, Any], str]:
    """Read and parse the manifest, refusing a missing folder or file; also return its sha256."""
    if not folder.is_dir():
        if default:
            raise BundleError(
                f"the shipped default bundle is missing ({folder} does not exist): reinstall "
                "maskaudit, or pass --bundle DIR with a bundle made by `maskaudit export`"
            )
        raise BundleError(
            f"bundle folder {folder} does not exist: pass --bundle with a folder made by "
            "`maskaudit export`, or leave it out to use the shipped bundle"
        )
    path = folder / MANIFEST_NAME
    if not path.is_file():
        raise BundleError(
            f"{path} is missing: {folder} is not a maskaudit bundle; export one with "
            "`maskaudit export` or restore its manifest.json"
        )
    try:
        data = path.read_bytes()
        manifest = json.loads(data.decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
        raise BundleError(f"{path} is not valid JSON ({err}): {REEXPORT}") from err
    if not isinstance(manifest, dict):
        raise BundleError(f"{path} is not a JSON object: {REEXPORT}")
    return manifest, hashlib.sha256(data).hexdigest()


def _check_version(manifest: dict[str, Any], path: Path) -> None:
    """Refuse a manifest of another format version, with the way to upgrade."""
    version = manifest.get("format_version")
    writer = manifest.get("maskaudit_version", "an unknown version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise BundleError(f"{path} has no integer format_version: {REEXPORT}")
    if version < FORMAT_VERSION:
        raise BundleError(
            f"{path} has format_version {version}, older than the {FORMAT_VERSION} this "
            f"maskaudit reads (it was written by maskaudit {writer}): upgrade the bundle by "
            "re-exporting it from its checkpoint with `maskaudit export`, or install "
            f"maskaudit {writer} to use it as it is"
        )
    if version > FORMAT_VERSION:
        raise BundleError(
            f"{path} has format_version {version}, newer than the {FORMAT_VERSION} this "
            f"maskaudit reads (it was written by maskaudit {writer}): upgrade maskaudit with "
            "`pip install -U maskaudit`"
        )


def _check_files(folder: Path, manifest: dict[str, Any]) -> None:
    """Refuse a missing file or one whose size or sha256 differs from the manifest's."""
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise BundleError(f"{folder / MANIFEST_NAME} lists no files: {REEXPORT}")
    for name, info in files.items():
        if not _inside(folder, name):
            raise BundleError(
                f"{name!r} in {MANIFEST_NAME} lies outside bundle {folder}: a bundle only lists "
                f"its own files; {REEXPORT}"
            )
        bytes_ = info.get("bytes") if isinstance(info, dict) else None
        if not isinstance(info, dict) or not (bytes_ is None or type(bytes_) is int):
            raise BundleError(
                f"{name} has no {{sha256, bytes}} entry in {MANIFEST_NAME}: {REEXPORT}"
            )
        path = folder / name
        if not path.is_file():
            raise BundleError(f"{name} is missing from bundle {folder}: {REEXPORT}")
        size_ok = info.get("bytes") is None or path.stat().st_size == info["bytes"]
        if not size_ok or sha256_file(path) != info.get("sha256"):
            raise BundleError(
                f"{name} does not match its sha256 in {MANIFEST_NAME}: the file was changed or "
                f"truncated; {REEXPORT}"
            )


def _check_graphs(folder: Path, manifest: dict[str, Any], check_signatures: bool) -> None:
    """Refuse missing graphs, unhashed graph files and signatures that differ from the files."""
    graphs = manifest.get("graphs")
    if not isinstance(graphs, dict):
        raise BundleError(f"{folder / MANIFEST_NAME} has no graphs section: {REEXPORT}")
    for graph in GRAPHS:
        entry = graphs.get(graph)
        if not isinstance(entry, dict) or all(entry.get(p) is None for p in PRECISIONS):
            raise BundleError(
                f"bundle {folder} has no {graph} graph ({graph}.fp32.onnx or {graph}.int8.onnx): "
                f"{REEXPORT}"
            )
        if "inputs" not in entry or "outputs" not in entry:
            raise BundleError(f"{graph} has no signature in {folder / MANIFEST_NAME}: {REEXPORT}")
        for key in ("inputs", "outputs"):
            _check_values(folder, graph, key, entry[key])
        _check_contract(folder, graph, entry)
        for precision in PRECISIONS:
            file = entry.get(precision)
            if file is None:
                continue
            if not isinstance(file, str) or file not in manifest["files"]:
                raise BundleError(
                    f"{graph} {precision} file {file!r} has no sha256 in {MANIFEST_NAME}: "
                    f"{REEXPORT}"
                )
            if check_signatures:
                try:
                    actual = read_signature(folder / file)
                except (OSError, ValueError) as err:
                    raise BundleError(f"{file} is not an ONNX graph ({err}): {REEXPORT}") from err
                bundle = Bundle(folder, manifest)
                bundle.check_signature(graph, actual["inputs"], actual["outputs"], file)
    if "tokenizer.json" not in manifest["files"]:
        raise BundleError(f"bundle {folder} has no tokenizer.json in its manifest: {REEXPORT}")


def _inside(folder: Path, name: Any) -> bool:
    """Whether ``name`` is a relative path that stays inside ``folder``."""
    if not isinstance(name, str) or not name or "\x00" in name or Path(name).is_absolute():
        return False
    return (folder / name).resolve().is_relative_to(folder.resolve())


def _is_dim(value: Any) -> bool:
    """Whether ``value`` is an axis of a signature: a size >= 0 or the name of a dynamic axis."""
    return isinstance(value, str) or (type(value) is int and value >= 0)


def _check_values(folder: Path, graph: str, key: str, values: Any) -> None:
    """Refuse a signature list that is not ``[{"name", "dtype", "shape"}, ...]``."""
    ok = isinstance(values, list) and all(
        isinstance(v, dict)
        and isinstance(v.get("name"), str)
        and isinstance(v.get("dtype"), str)
        and isinstance(v.get("shape"), list)
        and all(_is_dim(d) for d in v["shape"])
        for v in values
    )
    if not ok:
        raise BundleError(
            f"{graph} {key} in {folder / MANIFEST_NAME} are not a list of "
            f"{{name, dtype, shape}} entries: {REEXPORT}"
        )


def _check_sections(folder: Path, manifest: dict[str, Any]) -> None:
    """Refuse labels, preprocessing, policy or context that this maskaudit would misread."""
    path = folder / MANIFEST_NAME
    fix = "the bundle was made for another maskaudit; export it with this version"
    sections = {k: manifest.get(k, {}) for k in ("labels", "preprocessing", "policy", "context")}
    for key, section in sections.items():
        if not isinstance(section, dict):
            raise BundleError(f"{path}: {key} is not a JSON object: {REEXPORT}")
    for key, ours in (("types", labels.TRAIN_TYPES), ("actions", labels.ACTIONS)):
        theirs = sections["labels"].get(key, list(ours))
        if theirs != list(ours):
            raise BundleError(
                f"{path}: labels {key} {str(theirs)[:80]} differ from this maskaudit's "
                f"{list(ours)}, so its verdicts would be misread: {fix}"
            )
    ours = preprocessing_constants()
    for key in FIXED_PREPROCESSING:
        theirs = sections["preprocessing"].get(key, ours[key])
        if theirs != ours[key] or isinstance(theirs, bool) != isinstance(ours[key], bool):
            raise BundleError(
                f"{path}: preprocessing {key} is {str(theirs)[:40]} but this maskaudit computes "
                f"{ours[key]}: {fix}"
            )
    tokens = sections["preprocessing"].get("max_tokens", 1)
    seconds = sections["context"].get("seconds", 1)
    for what, value in (("preprocessing max_tokens", tokens), ("context seconds", seconds)):
        if type(value) is not int or value < 1:
            raise BundleError(f"{path}: {what} {str(value)[:40]} is not a positive integer: {fix}")
    for key in PolicyThresholds.__dataclass_fields__:
        value = sections["policy"].get(key, 0.5)
        if type(value) not in (int, float) or not 0.0 <= value <= 1.0:
            raise BundleError(
                f"{path}: policy {key} {str(value)[:40]} is not an IoU threshold in [0, 1]: "
                f"{REEXPORT}"
            )


def _check_contract(folder: Path, graph: str, entry: dict[str, Any]) -> None:
    """Refuse a graph whose names do not include the ones the runtime feeds and reads."""
    inputs, outputs = CONTRACT[graph]
    have_in = {v["name"] for v in entry["inputs"]}
    have_out = {v["name"] for v in entry["outputs"]}
    missing = [n for n in inputs if n not in have_in] + [n for n in outputs if n not in have_out]
    extra = have_in - set(inputs) - OPTIONAL_INPUTS
    if missing or extra:
        raise BundleError(
            f"{graph} in {folder / MANIFEST_NAME} does not follow the graph contract (missing "
            f"{missing}, unexpected inputs {sorted(extra)}): this maskaudit cannot run it; "
            "export the bundle with this maskaudit version"
        )


def load_bundle(path: str | Path | None = None, check_signatures: bool = True) -> Bundle:
    """Load a bundle folder and check it completely.

    Args:
        path: The bundle folder. Defaults to None: the shipped bundle
            (``maskaudit/assets/default``).
        check_signatures: Whether to read every graph file's inputs and outputs and compare
            them with the manifest. Defaults to True.

    Returns:
        The checked bundle.

    Raises:
        BundleError: If the bundle is missing, of another format version, tampered with,
            incomplete or inconsistent; the message names the file and the fix.

    Example:
        >>> bundle = load_bundle()  # doctest: +SKIP
        >>> bundle.precisions("audit_head")  # doctest: +SKIP
        ('fp32', 'int8')
    """
    folder = default_bundle_path() if path is None else Path(path).expanduser()
    manifest, digest = _read_manifest(folder, default=path is None)
    _check_version(manifest, folder / MANIFEST_NAME)
    _check_files(folder, manifest)
    _check_graphs(folder, manifest, check_signatures)
    _check_sections(folder, manifest)
    logger.info("bundle %s: format %s, files verified", folder, manifest["format_version"])
    return Bundle(folder.resolve(), manifest, digest)
