import math

import pytest

from maskaudit.bench import reference_cost as rc


def test_one_clip_layer_by_hand():
    tokens, width, mlp = 257, 1024, 4096
    qkvo = 4 * tokens * width * width
    mlp_macs = 2 * tokens * width * mlp
    scores_and_values = 2 * tokens * tokens * width
    assert rc.transformer_layer_macs(tokens, width, mlp) == qkvo + mlp_macs + scores_and_values
    assert rc.transformer_layer_macs(tokens, width, mlp) == 3_369_076_736


def test_swiglu_layer_and_restricted_attention():
    # One token attending 10 keys through a 3-matrix feed-forward block.
    expected = 4 * 8 * 8 + 3 * 8 * 16 + 2 * 10 * 8
    assert rc.transformer_layer_macs(1, 8, 16, mlp_matrices=3, keys=10) == expected


def test_token_counts():
    assert rc.clip_tokens() == 16 * 16 + 1
    assert rc.beats_frames() == 1 + (16000 - 400) // 160 == 98
    assert rc.beats_tokens() == (98 // 16) * (128 // 16) == 48


def test_clip_pass():
    clip = rc.clip_pass_macs()
    assert clip["patch_embedding"] == 256 * 1024 * 3 * 14 * 14
    assert clip["total"] == clip["patch_embedding"] + 24 * 3_369_076_736
    # About 81 GMACs, the usual figure for ViT-L/14 at 224 px.
    assert clip["total"] / 1e9 == pytest.approx(81.0, rel=0.01)


def test_beats_window():
    beats = rc.beats_window_macs()
    assert beats["patch_embedding"] == 48 * 512 * 256 + 48 * 512 * 768
    assert beats["position_conv"] == 48 * 768 * 48 * 128
    assert beats["layers"] == 12 * rc.transformer_layer_macs(48, 768, 3072)
    assert beats["total"] == beats["patch_embedding"] + beats["position_conv"] + beats["layers"]


def test_llm_weights_are_used_once_per_token():
    # LLaMA-2-7B holds about 6.74e9 parameters; all but the input embedding (4096 x 32000)
    # multiply each token once.
    per_token = rc.llm_token_macs() + rc.llm_head_macs()
    assert per_token == 32 * (4 * 4096**2 + 3 * 4096 * 11008) + 4096 * 32000
    assert (per_token + 4096 * 32000) / 1e9 == pytest.approx(6.74, rel=0.01)


def test_prefill_is_causal_and_reads_one_set_of_logits():
    prefill = rc.llm_prefill_macs(800)
    assert prefill["attention"] == 32 * 2 * 4096 * (800 * 801 // 2)
    assert prefill["linear"] == 800 * rc.llm_token_macs()
    assert prefill["head"] == 4096 * 32000
    assert prefill["total"] == prefill["linear"] + prefill["attention"] + prefill["head"]


def test_decode_passes_and_growing_cache():
    decode = rc.llm_decode_macs(tokens=3, prompt=10)
    assert decode["passes"] == 2
    # The second and third tokens attend 11 and 12 positions.
    assert decode["attention"] == 32 * 2 * 4096 * (11 + 12)
    assert decode["total"] == 2 * (rc.llm_token_macs() + rc.llm_head_macs()) + decode["attention"]
    assert rc.llm_decode_macs(tokens=1)["total"] == 0


def test_reference_total_is_the_sum_of_its_parts():
    ref = rc.reference_auditor_macs()
    parts = (
        13 * ref["clip"]["per_pass"]
        + 10 * ref["beats"]["per_window"]
        + ref["prefill"]["total"]
        + ref["decode"]["total"]
    )
    assert ref["total"] == parts
    assert ref["flops_approx"] == 2 * parts
    # The language model dominates: a 7B model over about 1,055 positions.
    assert 7.5e12 < ref["total"] < 9e12


def test_constants_are_named_and_positive():
    names = rc.constants()
    for name in ("CLIP_PASSES", "BEATS_WINDOWS", "LLM_FFN", "PREFILL_POSITIONS", "DECODED_TOKENS"):
        assert names[name] > 0
    assert names["CLIP_PASSES"] == 13 and names["DECODED_TOKENS"] == 256


def test_maskaudit_situations_and_ratios():
    counts = {
        "frame_encoder": 100,
        "audio_encoder": 10,
        "audit_head_1": 20,
        "per_extra_candidate": 8,
        "text_encoder": 300,
    }
    verdicts = rc.maskaudit_verdict_macs(counts, context=10)
    assert verdicts["stream_k1"]["macs"] == 130
    assert verdicts["stream_k16"]["macs"] == pytest.approx((130 + 15 * 8) / 16)
    assert verdicts["per_extra_candidate"]["macs"] == 8
    assert verdicts["cold_clip"]["macs"] == 10 * 110 + 300 + 20
    ratios = rc.cost_ratios(1300, verdicts)
    assert ratios["stream_k1"] == pytest.approx(10.0)
    assert ratios["cold_clip"] == pytest.approx(1300 / 1420)
    assert rc.cost_ratios(1, {"x": {"macs": 0}})["x"] == math.inf
