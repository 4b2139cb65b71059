from __future__ import annotations

import subprocess
import sys


def test_package_and_numpy_form_import_neither_torch_nor_triton() -> None:
    code = (
        "import sys, maskaudit.kernels, maskaudit.kernels.pooling_numpy; "
        "print(sorted(m for m in ('torch', 'triton') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_torch_form_does_not_import_triton() -> None:
    code = (
        "import sys, maskaudit.kernels.pooling_torch, maskaudit.kernels.pooling_triton; "
        "print('triton' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
