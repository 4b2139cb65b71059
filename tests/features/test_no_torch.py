import subprocess
import sys

SCRIPT = """
import sys
import numpy as np
from maskaudit.features import audio, constants, frame, mask, text
audio.log_mel(np.zeros(16000, np.float32))
frame.prepare_frame(np.zeros((8, 8, 3), np.uint8))
mask.prepare_masks([np.ones((8, 8), bool)])
text.clean_expression("the piano")
loaded = sorted(name for name in sys.modules if name.split(".")[0] in ("torch", "transformers"))
print(",".join(loaded))
"""


def test_features_never_import_torch():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == ""
