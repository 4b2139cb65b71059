import json

from maskaudit.features import constants
from maskaudit.features.constants import preprocessing_constants


def test_constants_are_json_ready_and_match_module():
    values = preprocessing_constants()
    assert json.loads(json.dumps(values)) == values
    assert values["frame_size"] == constants.FRAME_SIZE == 160
    assert values["sample_rate"] == 16000
    assert values["n_fft"] == 400 and values["hop"] == 160
    assert values["n_mels"] == 64
    assert values["mel_frames"] == 101
    assert values["max_tokens"] == 32
    assert values["context_seconds"] == 10
    assert values["log_offset"] == 1e-6


def test_constants_are_a_fresh_dict():
    first = preprocessing_constants()
    first["frame_size"] = 0
    assert preprocessing_constants()["frame_size"] == 160
