"""The bundle manifest: what a bundle holds, with hashes and graph signatures.

A bundle is a folder with the ONNX graphs (``<graph>.<precision>.onnx``), ``tokenizer.json``,
``manifest.json`` and optionally ``engines/``. The manifest is a JSON object:

- ``format_version`` (int, :data:`FORMAT_VERSION`), ``maskaudit_version``, ``created`` (UTC,
  ISO 8601);
- ``graphs``: ``{name: {precision: file, ..., "inputs": [...], "outputs": [...]}}`` (precisions
  ``fp32``, ``int8``, ``int8-trt``, see :data:`PRECISIONS`) where each
  input and output is ``{"name", "dtype", "shape"}``, dtypes are numpy names (``float32``,
  ``uint8``, ``int64``) and dynamic axes are strings (``"N"``, ``"K"``);
- ``files``: ``{file: {"sha256", "bytes"}}`` for every file of the bundle except
  ``manifest.json`` itself and ``engines/`` (engines are built per machine after export);
- ``preprocessing``, ``labels``, ``policy``, ``context``, ``calibration``, ``accuracy``: the
  sections that the exporter passes in (see :func:`build_manifest` for the defaults).

This module needs no torch, no ``onnx`` and no onnxruntime session: graph signatures are read
straight from the ONNX protobuf (:func:`read_signature`).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import mmap
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
"""The bundle format this maskaudit writes and reads."""

MANIFEST_NAME = "manifest.json"
"""File name of the manifest inside a bundle."""

ENGINES_DIR = "engines"
"""Folder of per-machine TensorRT engines and caches inside a bundle (not hashed)."""

PRECISIONS: tuple[str, ...] = ("fp32", "int8", "int8-trt")
"""Precisions a graph file may have: ``fp32``; ``int8`` (QDQ for CPUs: unsigned activations,
signed weights); ``int8-trt`` (QDQ for TensorRT and GPUs: signed, symmetric activations)."""

GRAPH_FILE = re.compile(r"^(?P<graph>[A-Za-z0-9_]+)\.(?P<precision>fp32|int8|int8-trt)\.onnx$")
"""Pattern of a graph file name: ``<graph>.<precision>.onnx``."""

_ONNX_DTYPES: dict[int, str] = {
    1: "float32",
    2: "uint8",
    3: "int8",
    5: "int16",
    6: "int32",
    7: "int64",
    9: "bool",
    10: "float16",
    11: "float64",
}
_ORT_DTYPES: dict[str, str] = {
    "tensor(float)": "float32",
    "tensor(uint8)": "uint8",
    "tensor(int8)": "int8",
    "tensor(int16)": "int16",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
    "tensor(bool)": "bool",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
}


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Return the hex sha256 of a file, read in chunks.

    Args:
        path: The file.
        chunk: Bytes read per step. Defaults to 1 MiB.

    Returns:
        The 64-character lower-case hex digest.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    """Decode a protobuf varint at ``pos``; return the value and the next position."""
    value, shift = 0, 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("malformed varint")


def _fields(buf: memoryview, start: int, end: int) -> Iterator[tuple[int, int, Any]]:
    """Yield ``(field number, wire type, value)`` of one protobuf message in ``buf[start:end]``.

    Varints are yielded as ints and length-delimited fields as ``(start, end)`` spans;
    fixed-width fields are skipped (yielded as None).
    """
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            yield number, wire, value
        elif wire == 2:
            length, pos = _varint(buf, pos)
            yield number, wire, (pos, pos + length)
            pos += length
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
            yield number, wire, None
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
    if pos != end:
        raise ValueError("truncated protobuf message")


def _text(buf: memoryview, span: tuple[int, int]) -> str:
    """Decode a length-delimited UTF-8 string field."""
    return bytes(buf[span[0] : span[1]]).decode("utf-8")


def _sub(buf: memoryview, span: tuple[int, int], number: int) -> Iterator[tuple[int, int]]:
    """Yield the spans of the length-delimited fields ``number`` of a message."""
    for n, wire, value in _fields(buf, *span):
        if n == number and wire == 2:
            yield value


def _dimension(buf: memoryview, span: tuple[int, int]) -> int | str:
    """Decode a ``TensorShapeProto.Dimension``: its value, its parameter name, or ``"?"``."""
    dim: int | str = "?"
    for number, wire, value in _fields(buf, *span):
        if number == 1 and wire == 0:
            dim = value - (1 << 64) if value >= 1 << 63 else value
        elif number == 2 and wire == 2:
            dim = _text(buf, value) or "?"
    return dim


def _value_info(buf: memoryview, span: tuple[int, int]) -> dict[str, Any]:
    """Decode an ONNX ``ValueInfoProto``: name, tensor element type and shape."""
    name, elem, shape = "", 0, []
    for number, wire, value in _fields(buf, *span):
        if number == 1 and wire == 2:
            name = _text(buf, value)
        elif number == 2 and wire == 2:
            for tensor in _sub(buf, value, 1):  # TypeProto.tensor_type
                for n, w, v in _fields(buf, *tensor):
                    if n == 1 and w == 0:
                        elem = v
                    elif n == 2 and w == 2:  # TensorShapeProto
                        shape = [_dimension(buf, d) for d in _sub(buf, v, 1)]
    return {"name": name, "dtype": _ONNX_DTYPES.get(elem, f"onnx:{elem}"), "shape": shape}


def _tensor_name(buf: memoryview, span: tuple[int, int]) -> str:
    """Return the ``name`` of a ``TensorProto`` without reading its data."""
    return next((_text(buf, v) for v in _sub(buf, span, 8)), "")


def read_signature(path: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Read the input and output signature of an ONNX graph.

    Only the graph's declared inputs and outputs are decoded, straight from the protobuf wire
    format; the weights are skipped. Neither ``onnx`` nor an onnxruntime session is needed, so
    this is fast even for large graphs.

    Args:
        path: The ``.onnx`` file.

    Returns:
        ``{"inputs": [...], "outputs": [...]}``, each entry ``{"name", "dtype", "shape"}``;
        inputs that are initialisers (weights) are left out.

    Raises:
        ValueError: If the file is not an ONNX model.
    """
    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            raise ValueError(f"{path} is empty, not an ONNX model")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            buf = memoryview(data)
            try:
                return _graph_signature(buf)
            except (ValueError, IndexError, UnicodeDecodeError) as err:
                raise ValueError(f"{path} is not an ONNX model ({err})") from err
            finally:
                buf.release()


def _graph_signature(buf: memoryview) -> dict[str, list[dict[str, Any]]]:
    """Decode the inputs and outputs of ``ModelProto.graph``."""
    graph = next(_sub(buf, (0, len(buf)), 7), None)
    if graph is None:
        raise ValueError("no graph")
    inputs, outputs, weights = [], [], set()
    for number, wire, value in _fields(buf, *graph):
        if wire != 2:
            continue
        if number == 11:
            inputs.append(_value_info(buf, value))
        elif number == 12:
            outputs.append(_value_info(buf, value))
        elif number == 5:
            weights.add(_tensor_name(buf, value))
    return {"inputs": [v for v in inputs if v["name"] not in weights], "outputs": outputs}


def describe_ort_value(value: Any) -> dict[str, Any]:
    """Describe an onnxruntime ``NodeArg`` the way the manifest does.

    Args:
        value: An element of ``session.get_inputs()`` or ``session.get_outputs()``.

    Returns:
        ``{"name", "dtype", "shape"}`` with numpy dtype names and strings for dynamic axes.
    """
    shape = [int(d) if isinstance(d, int) else (d or "?") for d in (value.shape or [])]
    return {"name": value.name, "dtype": _ORT_DTYPES.get(value.type, value.type), "shape": shape}


def signature_difference(expected: list[dict], actual: list[dict]) -> str | None:
    """Compare two signature lists; fixed axes must agree, dynamic axes must both be dynamic.

    The names of dynamic axes are not compared: exporters and runtimes spell them differently.

    Args:
        expected: Inputs or outputs as the manifest states them.
        actual: Inputs or outputs as read from the graph or a session.

    Returns:
        None when they agree, else a short description of the first difference.
    """
    if [e["name"] for e in expected] != [a["name"] for a in actual]:
        return (
            f"names {[e['name'] for e in actual]} differ from the manifest's "
            f"{[e['name'] for e in expected]}"
        )
    for want, got in zip(expected, actual, strict=True):
        if want["dtype"] != got["dtype"]:
            return f"{want['name']} has dtype {got['dtype']}, the manifest says {want['dtype']}"
        if len(want["shape"]) != len(got["shape"]):
            return f"{want['name']} has shape {got['shape']}, the manifest says {want['shape']}"
        for w, g in zip(want["shape"], got["shape"], strict=True):
            if isinstance(w, int) != isinstance(g, int) or (isinstance(w, int) and w != g):
                return f"{want['name']} has shape {got['shape']}, the manifest says {want['shape']}"
    return None


def _default_sections() -> dict[str, Any]:
    """Return the manifest sections that have sensible defaults."""
    from maskaudit import __version__, labels

    sections: dict[str, Any] = {
        "maskaudit_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "labels": {"types": list(labels.TRAIN_TYPES), "actions": list(labels.ACTIONS)},
        "context": {"seconds": 10},
        "calibration": {},
        "accuracy": {},
    }
    try:
        from maskaudit.features.constants import CONTEXT_SECONDS, preprocessing_constants
    except ImportError:  # pragma: no cover - the features package ships with maskaudit
        logger.warning("maskaudit.features is missing; the manifest gets no preprocessing section")
    else:
        sections["preprocessing"] = preprocessing_constants()
        sections["context"] = {"seconds": CONTEXT_SECONDS}
    from maskaudit.runtime.policy import PolicyThresholds

    sections["policy"] = PolicyThresholds().to_dict()
    return sections


def _hashed_files(bundle_dir: Path) -> dict[str, dict[str, Any]]:
    """Return ``{relative path: {sha256, bytes}}`` for every bundle file that is hashed."""
    files: dict[str, dict[str, Any]] = {}
    for path in sorted(p for p in bundle_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(bundle_dir).as_posix()
        if rel == MANIFEST_NAME or rel.split("/", 1)[0] == ENGINES_DIR:
            continue
        files[rel] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    return files


def _graphs(bundle_dir: Path) -> dict[str, dict[str, Any]]:
    """Collect graph files by name and precision and read one signature per graph."""
    graphs: dict[str, dict[str, Any]] = {}
    for path in sorted(bundle_dir.glob("*.onnx")):
        match = GRAPH_FILE.match(path.name)
        if match is None:
            raise ValueError(
                f"{path.name} is not named <graph>.<precision>.onnx with precision in "
                f"{PRECISIONS}: rename it or move it out of {bundle_dir}"
            )
        graph, precision = match["graph"], match["precision"]
        signature = read_signature(path)
        entry = graphs.setdefault(graph, {})
        if "inputs" in entry:
            for key in ("inputs", "outputs"):
                diff = signature_difference(entry[key], signature[key])
                if diff is not None:
                    raise ValueError(
                        f"{path.name}: its {key} differ from the other precision of {graph} "
                        f"({diff}); export every precision of a graph from the same model"
                    )
        else:
            entry.update(signature)
        entry[precision] = path.name
    return graphs


def build_manifest(bundle_dir: str | Path, **sections: Any) -> dict[str, Any]:
    """Describe a bundle folder: hash its files and read every graph's signature.

    Graph files must be named ``<graph>.<precision>.onnx``. The keyword sections are written
    as given and override the defaults: ``maskaudit_version`` (this package's version),
    ``created`` (now, UTC), ``labels`` (``labels.TRAIN_TYPES`` and ``labels.ACTIONS``),
    ``preprocessing`` (``features.constants.preprocessing_constants()``), ``policy``
    (``runtime.policy.PolicyThresholds()`` defaults), ``context`` (``{"seconds": 10}``),
    ``calibration`` and ``accuracy`` (empty). ``format_version``, ``graphs`` and ``files`` are
    always computed here.

    Args:
        bundle_dir: The bundle folder (graphs, ``tokenizer.json``, other files).
        **sections: Manifest sections to set (see above).

    Returns:
        The manifest as a JSON-ready dict (not yet written; see :func:`write_manifest`).

    Raises:
        FileNotFoundError: If ``bundle_dir`` is not a folder.
        ValueError: If a graph file is misnamed, two precisions of a graph disagree, or a
            computed section is passed in.
    """
    bundle_dir = Path(bundle_dir)
    if not bundle_dir.is_dir():
        raise FileNotFoundError(f"bundle folder {bundle_dir} does not exist")
    computed = {"format_version", "graphs", "files"} & set(sections)
    if computed:
        raise ValueError(f"manifest sections {sorted(computed)} are computed, not passed in")

    manifest: dict[str, Any] = {"format_version": FORMAT_VERSION}
    manifest.update(_default_sections())
    manifest.update(sections)
    manifest["graphs"] = _graphs(bundle_dir)
    manifest["files"] = _hashed_files(bundle_dir)
    logger.info(
        "manifest for %s: %d graphs, %d files",
        bundle_dir,
        len(manifest["graphs"]),
        len(manifest["files"]),
    )
    return manifest


def write_manifest(bundle_dir: str | Path, manifest: dict[str, Any] | None = None) -> Path:
    """Write ``manifest.json`` into a bundle folder.

    Args:
        bundle_dir: The bundle folder.
        manifest: The manifest to write. Defaults to None: build it with
            :func:`build_manifest` and its defaults.

    Returns:
        The path of the written manifest.
    """
    bundle_dir = Path(bundle_dir)
    if manifest is None:
        manifest = build_manifest(bundle_dir)
    path = bundle_dir / MANIFEST_NAME
    path.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path
