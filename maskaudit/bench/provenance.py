"""Where and on what a benchmark ran: machine, GPU, versions, bundle and command line.

Built on :mod:`maskaudit.provenance` (CPU model, flags, cores, load, package versions) and adds
what a latency record needs besides: the GPUs ``nvidia-smi`` reports, the onnxruntime build and
its providers, the bundle's identity (the sha256 of its ``manifest.json``, which itself holds
the sha256 of every graph file) and the command that produced the numbers.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from maskaudit.export.manifest import MANIFEST_NAME, sha256_file
from maskaudit.provenance import machine, versions
from maskaudit.runtime.bundle import Bundle

logger = logging.getLogger(__name__)

GPU_QUERY = "name,driver_version,memory.total"
"""Fields asked of ``nvidia-smi --query-gpu``."""


def gpu_info(timeout_s: float = 10.0) -> list[dict] | None:
    """Return the GPUs ``nvidia-smi`` lists, or None where there is none or it fails.

    Args:
        timeout_s: Seconds to wait for ``nvidia-smi``. Defaults to 10.

    Returns:
        One ``{"name", "driver", "memory"}`` per GPU, or None.
    """
    tool = shutil.which("nvidia-smi")
    if tool is None:
        return None
    try:
        done = subprocess.run(
            [tool, f"--query-gpu={GPU_QUERY}", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as err:
        logger.info("nvidia-smi failed (%s); no GPU recorded", err)
        return None
    gpus = []
    for line in done.stdout.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3:
            gpus.append({"name": parts[0], "driver": parts[1], "memory": parts[2]})
    return gpus or None


def command_line(argv: Sequence[str] | None = None) -> str:
    """Return the command line that is running, as a shell would take it back.

    ``maskaudit`` (the console script) and ``python -m maskaudit`` are both written as
    ``maskaudit ...``.

    Args:
        argv: The arguments, program first. Defaults to None: ``sys.argv``.

    Returns:
        The quoted command line.
    """
    argv = list(sys.argv if argv is None else argv)
    if not argv:
        return ""
    program = os.path.basename(argv[0])
    if program in ("maskaudit", "__main__.py"):
        argv[0] = "maskaudit"
    return shlex.join(argv)


def runtime_versions() -> dict:
    """Return :func:`maskaudit.provenance.versions` plus the onnxruntime build and providers."""
    import onnxruntime

    from maskaudit.runtime.backends.ort import installed_onnxruntime

    out = versions()
    out["onnxruntime_build"] = installed_onnxruntime()
    out["onnxruntime_providers"] = list(onnxruntime.get_available_providers())
    return out


def portable_path(path: str | Path) -> str:
    """Return a path as results files should hold it: free of this machine's folders.

    The shipped bundle becomes ``maskaudit/assets/default`` (its place in the package), a path
    under the working directory becomes relative to it, and any other path is kept as given.

    Args:
        path: The path.

    Returns:
        The path as text.
    """
    path = Path(path)
    package = Path(str(resources.files("maskaudit"))).resolve()
    resolved = path.resolve()
    for root, prefix in ((package, Path("maskaudit")), (Path.cwd().resolve(), Path())):
        if resolved.is_relative_to(root):
            return (prefix / resolved.relative_to(root)).as_posix()
    return str(path)


def bundle_identity(bundle: Bundle) -> dict:
    """Return what identifies a bundle: its folder, manifest sha256, version and counts.

    Args:
        bundle: The loaded bundle.

    Returns:
        ``{"path", "manifest_sha256", "format_version", "maskaudit_version", "created",
        "checkpoint", "parameters", "macs"}`` (the last three None where the manifest lacks
        them); the path as :func:`portable_path` writes it.
    """
    manifest = bundle.manifest
    model = manifest.get("model") or {}
    return {
        "path": portable_path(bundle.path),
        "manifest_sha256": sha256_file(bundle.path / MANIFEST_NAME),
        "format_version": manifest.get("format_version"),
        "maskaudit_version": manifest.get("maskaudit_version"),
        "created": manifest.get("created"),
        "checkpoint": model.get("checkpoint"),
        "parameters": model.get("parameters") or manifest.get("parameters"),
        "macs": model.get("macs") or manifest.get("macs"),
    }


def bench_provenance(bundle: Bundle, command: str | None = None) -> dict:
    """Return the provenance block of a benchmark's results.

    Args:
        bundle: The bundle measured.
        command: The command line. Defaults to None: :func:`command_line` of this process.

    Returns:
        ``{"time_utc", "command", "machine", "gpu", "versions", "bundle"}``.
    """
    return {
        "time_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command_line() if command is None else command,
        "machine": machine(),
        "gpu": gpu_info(),
        "versions": runtime_versions(),
        "bundle": bundle_identity(bundle),
    }
