"""The runtime must work where torch cannot even be imported."""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import importlib, pkgutil, sys

    class BlockTorch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch.") or name == "torchvision":
                raise ImportError(f"torch is blocked in this test ({name})")
            return None

    sys.meta_path.insert(0, BlockTorch())
    try:
        import torch  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("torch was not blocked")

    import maskaudit.runtime as runtime
    names = ["maskaudit.api", "maskaudit.export.manifest", "maskaudit.export.trt_options",
             "maskaudit.commands.audit", "maskaudit.commands.stream"]
    names += [m.name for m in pkgutil.walk_packages(runtime.__path__, "maskaudit.runtime.")]
    for name in names:
        importlib.import_module(name)

    import numpy as np
    from maskaudit import Auditor
    auditor = Auditor.load(sys.argv[1], backend="ort-cpu", threads=1)
    frame = np.zeros((48, 64, 3), np.uint8)
    mask = np.zeros((48, 64), np.uint8)
    mask[10:30, 10:40] = 1
    verdict = auditor.audit(frame, [mask], np.zeros(16000, np.float32), "the sounding object")[0]
    assert verdict.ok, verdict.status
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchvision"))
    assert not loaded, loaded
    print("runtime modules:", len(names))
    """
)


def test_runtime_imports_and_audits_with_torch_blocked(tiny_bundle):
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tiny_bundle)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    count = int(result.stdout.split("runtime modules:")[1])
    assert count >= 20
