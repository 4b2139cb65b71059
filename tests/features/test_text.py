import numpy as np
import pytest

from maskaudit.errors import BundleError, InputError
from maskaudit.features.text import ExpressionEmbedder, Tokenizer, clean_expression

WORDS = ["the", "piano", "cello", "on", "left", "of", "loudest", "sound", "dog", "##s"]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
VOCAB = {token: index for index, token in enumerate(SPECIALS + WORDS)}


@pytest.fixture(scope="module")
def tokenizer_path(tmp_path_factory):
    """A small WordPiece tokenizer.json with the BERT pipeline of the shipped one."""
    from tokenizers import Tokenizer as WordPiece
    from tokenizers import models, normalizers, pre_tokenizers, processors

    tokenizer = WordPiece(models.WordPiece(VOCAB, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    path = tmp_path_factory.mktemp("tokenizer") / "tokenizer.json"
    tokenizer.save(str(path))
    return path


@pytest.fixture(scope="module")
def encoder_path(tmp_path_factory):
    """A tiny text encoder graph: a masked sum of per-token embeddings, [N, L] -> [N, 4]."""
    onnx = pytest.importorskip("onnx", reason="builds the tiny test graph")
    from onnx import TensorProto, helper, numpy_helper

    table = np.random.default_rng(0).standard_normal((len(VOCAB), 4)).astype(np.float32)
    nodes = [
        helper.make_node("Gather", ["table", "input_ids"], ["vectors"]),
        helper.make_node("Cast", ["attention_mask"], ["weights"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["weights", "last"], ["weights3"]),
        helper.make_node("Mul", ["vectors", "weights3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "tokens_axis"], ["text_embedding"], keepdims=0),
    ]
    tokens = ["batch", "tokens"]
    graph = helper.make_graph(
        nodes,
        "tiny_text_encoder",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, tokens),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, tokens),
        ],
        [helper.make_tensor_value_info("text_embedding", TensorProto.FLOAT, ["batch", 4])],
        initializer=[
            numpy_helper.from_array(table, "table"),
            numpy_helper.from_array(np.array([-1], np.int64), "last"),
            numpy_helper.from_array(np.array([1], np.int64), "tokens_axis"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = tmp_path_factory.mktemp("encoder") / "tiny.onnx"
    onnx.save(model, str(path))
    return path, table


def test_clean_expression():
    assert clean_expression("  The PIANO\x07 on\tthe\n left\u200b ") == "the piano on the left"
    assert clean_expression(" \t\n ") == ""
    with pytest.raises(InputError, match="not a string"):
        clean_expression(None)


def test_encode_shapes_and_special_tokens(tokenizer_path):
    tokens = Tokenizer(tokenizer_path).encode(["the piano", "The   CELLO on the left"])
    assert set(tokens) == {"input_ids", "attention_mask", "token_type_ids"}
    for array in tokens.values():
        assert array.dtype == np.int64 and array.shape == (2, 32)
    ids = tokens["input_ids"]
    assert ids[0, :4].tolist() == [VOCAB["[CLS]"], VOCAB["the"], VOCAB["piano"], VOCAB["[SEP]"]]
    assert (ids[0, 4:] == VOCAB["[PAD]"]).all()
    assert tokens["attention_mask"].sum(axis=1).tolist() == [4, 7]
    assert not tokens["token_type_ids"].any()


def test_encode_is_case_and_space_insensitive_and_deterministic(tokenizer_path):
    tokenizer = Tokenizer(tokenizer_path)
    first = tokenizer.encode(["the piano on the left"])
    second = tokenizer.encode(["  THE Piano\ton the LEFT\x00"])
    for key in first:
        np.testing.assert_array_equal(first[key], second[key])


def test_single_string_is_one_expression(tokenizer_path):
    assert Tokenizer(tokenizer_path).encode("the dogs")["input_ids"].shape == (1, 32)


def test_long_expression_is_truncated_and_logged(tokenizer_path, caplog):
    with caplog.at_level("WARNING", logger="maskaudit.features.text"):
        tokens = Tokenizer(tokenizer_path).encode(["the piano " * 40])
    assert tokens["attention_mask"].all()
    assert tokens["input_ids"][0, -1] == VOCAB["[SEP]"]
    assert "truncated" in caplog.text


def test_custom_length(tokenizer_path):
    tokens = Tokenizer(tokenizer_path, max_tokens=6).encode(["the piano"])
    assert tokens["input_ids"].shape == (1, 6)


@pytest.mark.parametrize("bad", ["", "   ", "\t\n", "\x00\x07"])
def test_empty_expression_raises(tokenizer_path, bad):
    with pytest.raises(InputError, match="expression 1 .* is empty"):
        Tokenizer(tokenizer_path).encode(["the piano", bad])


def test_missing_or_bad_tokenizer_file(tmp_path):
    with pytest.raises(BundleError, match="nothing.json"):
        Tokenizer(tmp_path / "nothing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(BundleError, match="bad.json"):
        Tokenizer(bad)


def test_embedder_output_and_feeds_only_graph_inputs(tokenizer_path, encoder_path):
    path, table = encoder_path
    embedder = ExpressionEmbedder(path, tokenizer_path)
    assert embedder.providers == ["CPUExecutionProvider"]
    out = embedder.embed(["the piano", "the cello on the left"])
    assert out.dtype == np.float32 and out.shape == (2, 4)
    ids = [VOCAB[t] for t in ["[CLS]", "the", "piano", "[SEP]"]]
    np.testing.assert_allclose(out[0], table[ids].sum(axis=0), rtol=1e-6)


def test_embedder_caches_per_cleaned_expression(tokenizer_path, encoder_path, monkeypatch):
    embedder = ExpressionEmbedder(encoder_path[0], tokenizer_path, cache_size=2)
    calls = []
    original = embedder._run

    def counting(cleaned):
        calls.append(list(cleaned))
        return original(cleaned)

    monkeypatch.setattr(embedder, "_run", counting)
    first = embedder.embed(["the piano", "the piano", "The Piano "])
    assert calls == [["the piano"]]
    np.testing.assert_array_equal(first[0], first[2])

    first[0] += 1.0  # the caller owns the returned array
    again = embedder.embed(["the piano"])
    assert calls == [["the piano"]]
    np.testing.assert_array_equal(again[0], first[1])

    embedder.embed(["the cello", "the dog"])  # evicts "the piano" (least recently used)
    embedder.embed(["the piano"])
    assert calls[-1] == ["the piano"]
    assert len(calls) == 3


def test_embedder_without_cache(tokenizer_path, encoder_path):
    embedder = ExpressionEmbedder(encoder_path[0], tokenizer_path, cache_size=0)
    out = embedder.embed(["the piano", "the cello"])
    np.testing.assert_array_equal(out, embedder.embed(["the piano", "the cello"]))


def test_embedder_rejects_empty_expression(tokenizer_path, encoder_path):
    embedder = ExpressionEmbedder(encoder_path[0], tokenizer_path)
    with pytest.raises(InputError, match="empty"):
        embedder.embed([" "])


def test_embedder_bundle_errors(tmp_path, tokenizer_path):
    with pytest.raises(BundleError, match="missing.onnx"):
        ExpressionEmbedder(tmp_path / "missing.onnx", tokenizer_path)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a graph")
    with pytest.raises(BundleError, match="broken.onnx"):
        ExpressionEmbedder(broken, tokenizer_path)
