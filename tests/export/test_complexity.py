from maskaudit.export.complexity import mac_counts, parameter_counts
from maskaudit.model.auditor import AuditorModel
from maskaudit.model.config import ModelConfig


def test_audio_encoder_macs_match_a_hand_count():
    config = ModelConfig()
    macs = mac_counts(AuditorModel(config))
    bands, per_band, frames = config.bands, config.n_mels // config.bands, 101
    learned = config.band_dim - 3
    expected = (
        16 * bands * frames * per_band * 5  # band_conv
        + 16 * bands * frames * 16 * 5  # time_conv
        + learned * bands * 32  # to_band (1x1 over the pooled bands)
    )
    assert macs["audio_encoder"] == expected


def test_default_auditor_is_within_the_design_budgets():
    model = AuditorModel(ModelConfig())
    macs = mac_counts(model)
    params = parameter_counts(model)
    assert params["total"] <= 5_000_000
    assert macs["per_frame"] <= 0.6e9
    assert 0 < macs["per_extra_candidate"] <= 0.1 * macs["per_frame"]
    assert macs["per_frame"] == (
        macs["frame_encoder"] + macs["audio_encoder"] + macs["audit_head_1"]
    )


def test_manifest_model_section(bundle_manifest, small_model):
    model = bundle_manifest["model"]
    assert model["parameters"] == parameter_counts(small_model)
    assert model["macs"] == mac_counts(small_model)
    assert model["config"]["c1"] == small_model.config.c1
