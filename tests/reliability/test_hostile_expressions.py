"""Hostile expressions: cleaned and truncated as documented, or refused at start."""

import logging

import pytest

from maskaudit.errors import InputError

EXPRESSION = "the object making the loudest sound"
pytestmark = pytest.mark.timeout(60)

REFUSED = {
    "empty": "",
    "spaces": "   \t\n  ",
    "control": "\x00\x01\x07\x1b\x7f\x9b\u200b\u200e\ufeff\u2028",
    "emoji": "\U0001f436\U0001f3b9\U0001f50a",
    "control and emoji": "\x07\U0001f3b9\x1b\U0001f436\x00",
    "one unknown word": "x" * 10_000,
}


@pytest.mark.parametrize("kind", list(REFUSED))
def test_expression_without_words_is_refused_at_start(
    kind, corpus, auditor, tiny_bundle, tools, capsys
):
    expression = REFUSED[kind]
    with pytest.raises(InputError, match="expression"):
        auditor.stream(str(corpus.video), str(corpus.masks), str(corpus.wav), expression)
    with pytest.raises(InputError, match="expression"):
        auditor.audit(tools.frame_image(0), [tools.disc_mask(0)], None, expression)
    code, out, err = tools.run_cli(
        [
            "stream",
            "--video",
            str(corpus.video),
            "--audio",
            str(corpus.wav),
            "--masks",
            str(corpus.masks),
            "--expression",
            expression,
            "--bundle",
            str(tiny_bundle),
            "--backend",
            "ort-cpu",
        ],
        capsys,
    )
    tools.assert_one_line_error(code, out, err, "expression")


def audit(auditor, corpus, frame3, expression):
    return auditor.audit(frame3, [corpus.masks / "000003.png"], None, expression)[0].to_dict()


def test_long_expression_is_truncated_to_its_first_tokens(corpus, auditor, frame3, caplog):
    words = "the loudest piano on the left of the cello that plays first and "
    long = (words * (10_000 // len(words) + 1))[:10_000]
    assert len(long) == 10_000
    with caplog.at_level(logging.WARNING):
        record = audit(auditor, corpus, frame3, long)
    assert record["status"] == "ok"
    assert any("truncated" in m for m in caplog.messages)
    max_tokens = auditor.tokenizer.max_tokens
    head = " ".join(long.split()[: max_tokens - 2])  # [CLS] and [SEP] take two tokens
    assert record["iou"] == pytest.approx(audit(auditor, corpus, frame3, head)["iou"], abs=1e-6)


@pytest.mark.parametrize(
    "messy",
    [
        "  THE object\tmaking the\n LOUDEST sound ",
        "the\x00 object making\x1b the loudest sound\u200b",
        "\ufeffthe object making the loudest sound\x7f",
    ],
)
def test_case_whitespace_and_control_characters_are_cleaned(messy, corpus, auditor, frame3):
    a, b = audit(auditor, corpus, frame3, messy), audit(auditor, corpus, frame3, EXPRESSION)
    assert a["status"] == "ok" and a["iou"] == b["iou"] and a["action"] == b["action"]


def test_emoji_among_words_become_unknown_tokens(corpus, auditor, frame3):
    record = audit(auditor, corpus, frame3, "the \U0001f3b9 making the loudest sound")
    assert record["status"] == "ok"
    assert record["iou"] != audit(auditor, corpus, frame3, EXPRESSION)["iou"]


def test_expression_that_is_not_text(auditor, tools):
    with pytest.raises(InputError, match="not a string"):
        auditor.audit(tools.frame_image(0), [tools.disc_mask(0)], None, b"bytes")
