"""Expressions: tokenisation and the ONNX expression embedder (no torch).

An expression is cleaned (control characters removed, whitespace collapsed, stripped,
lower-cased), tokenised with a WordPiece ``tokenizer.json`` into ``[CLS] ... [SEP]``, and padded
or truncated to ``MAX_TOKENS`` (32). Characters the vocabulary lacks (most emoji) become the
unknown token; an expression that is empty after cleaning, or holds nothing but unknown tokens,
is refused, since no audit could follow it. The embedder runs the bundle's text encoder graph with
onnxruntime and caches one embedding per cleaned expression, since a stream repeats the same
expression for every frame.
"""

from __future__ import annotations

import logging
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from maskaudit.errors import BundleError, InputError
from maskaudit.features.constants import MAX_TOKENS

logger = logging.getLogger(__name__)

TEXT_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
"""Names of the token arrays, in the order the text encoder graph takes them."""


def clean_expression(expression: str) -> str:
    """Return the cleaned form of an expression, the form that is tokenised and cached.

    Control and format characters are removed (tabs and line breaks become spaces), runs of
    whitespace collapse to one space, and the text is stripped and lower-cased.

    Args:
        expression: a referring expression.

    Returns:
        The cleaned expression; may be empty.

    Raises:
        InputError: if ``expression`` is not a string.
    """
    if not isinstance(expression, str):
        raise InputError(
            f"expression {expression!r} is a {type(expression).__name__}, not a string: "
            "pass the referring expression as text"
        )
    kept = (
        " " if char.isspace() else char
        for char in expression
        if char.isspace() or not unicodedata.category(char).startswith("C")
    )
    return " ".join("".join(kept).split()).lower()


def _as_list(expressions: str | Sequence[str]) -> list[str]:
    """Accept one expression or a sequence of them."""
    if isinstance(expressions, str):
        return [expressions]
    return list(expressions)


class Tokenizer:
    """A WordPiece tokenizer (the ``tokenizers`` library) producing fixed-length token arrays.

    Args:
        path: the ``tokenizer.json`` file (shipped in every bundle next to the text encoder).
        max_tokens: token length of every encoded expression, [CLS] and [SEP] included.
            Defaults to ``MAX_TOKENS`` (32).

    Raises:
        BundleError: if the file is missing or is not a tokenizer definition.

    Example:
        >>> tok = Tokenizer("bundle/tokenizer.json")
        >>> tok.encode(["the loudest piano"])["input_ids"].shape
        (1, 32)
    """

    def __init__(self, path: str | Path, max_tokens: int = MAX_TOKENS) -> None:
        from tokenizers import Tokenizer as _WordPiece

        self.path = Path(path)
        self.max_tokens = int(max_tokens)
        if not self.path.is_file():
            raise BundleError(f"tokenizer file {self.path} does not exist: check the bundle")
        try:
            self._tokenizer = _WordPiece.from_file(str(self.path))
        except Exception as err:  # the Rust library raises plain Exception subclasses
            raise BundleError(
                f"tokenizer file {self.path} is not a tokenizers JSON file ({err}): "
                "re-export the text encoder"
            ) from err

        self._unknown = getattr(self._tokenizer.model, "unk_token", None)
        pad_token = "[PAD]"
        pad_id = self._tokenizer.token_to_id(pad_token)
        if pad_id is None:
            raise BundleError(f"tokenizer file {self.path} has no [PAD] token: re-export it")
        self._tokenizer.enable_truncation(max_length=self.max_tokens)
        self._tokenizer.enable_padding(length=self.max_tokens, pad_id=pad_id, pad_token=pad_token)

    def clean(self, expressions: str | Sequence[str]) -> list[str]:
        """Clean expressions and check that none is empty.

        Args:
            expressions: one expression or a sequence of them.

        Returns:
            The cleaned expressions (:func:`clean_expression`), in order.

        Raises:
            InputError: if an expression is not a string or is empty after cleaning.
        """
        cleaned = []
        for index, expression in enumerate(_as_list(expressions)):
            text = clean_expression(expression)
            if not text:
                raise InputError(
                    f"expression {index} ({expression!r}) is empty: pass a referring "
                    "expression such as 'the object making the loudest sound'"
                )
            cleaned.append(text)
        return cleaned

    def encode(self, expressions: str | Sequence[str]) -> dict[str, np.ndarray]:
        """Tokenise expressions into fixed-length int64 arrays.

        Args:
            expressions: one expression or a sequence of N expressions.

        Returns:
            ``{"input_ids", "attention_mask", "token_type_ids"}``, each int64 of shape
            (N, max_tokens). Expressions longer than ``max_tokens`` tokens are truncated (the
            final [SEP] kept) and logged.

        Raises:
            InputError: if an expression is not a string, is empty after cleaning, or has no
                token but the unknown one (only emoji, say).
        """
        cleaned = self.clean(expressions)
        encodings = self._tokenizer.encode_batch(cleaned) if cleaned else []
        for text, encoding in zip(cleaned, encodings, strict=True):
            flags = encoding.special_tokens_mask
            words = [t for t, special in zip(encoding.tokens, flags, strict=True) if not special]
            if self._unknown is not None and all(token == self._unknown for token in words):
                raise InputError(
                    f"expression {text!r} has no word the text encoder knows (only "
                    f"{self._unknown} tokens): write the referring expression in words, e.g. "
                    "'the object making the loudest sound'"
                )
            if encoding.overflowing:
                logger.warning(
                    "expression %r is longer than %d tokens and was truncated",
                    text,
                    self.max_tokens,
                )
        shape = (len(cleaned), self.max_tokens)
        return {
            "input_ids": np.array([e.ids for e in encodings], np.int64).reshape(shape),
            "attention_mask": np.array([e.attention_mask for e in encodings], np.int64).reshape(
                shape
            ),
            "token_type_ids": np.array([e.type_ids for e in encodings], np.int64).reshape(shape),
        }


class ExpressionEmbedder:
    """Embed expressions with the text encoder ONNX graph, caching one vector per expression.

    Args:
        onnx_path: the text encoder graph (inputs ``input_ids``, ``attention_mask``,
            ``token_type_ids`` int64 [N, L]; first output float32 [N, D]).
        tokenizer_path: its ``tokenizer.json``.
        providers: onnxruntime execution providers, in order of preference. Defaults to
            ``("CPUExecutionProvider",)``.
        cache_size: how many distinct cleaned expressions keep their embedding. Defaults to
            1024.
        threads: onnxruntime intra-op threads. Defaults to 0 (onnxruntime's choice).

    Raises:
        BundleError: if the graph or tokenizer file is missing or cannot be loaded.

    Example:
        >>> embedder = ExpressionEmbedder("text_encoder.int8.onnx", "tokenizer.json")
        >>> embedder.embed(["the loudest piano"]).shape
        (1, 384)
    """

    def __init__(
        self,
        onnx_path: str | Path,
        tokenizer_path: str | Path,
        providers: Sequence[str] = ("CPUExecutionProvider",),
        cache_size: int = 1024,
        threads: int = 0,
    ) -> None:
        import onnxruntime as ort

        self.onnx_path = Path(onnx_path)
        self.tokenizer = Tokenizer(tokenizer_path)
        self.cache_size = int(cache_size)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

        if not self.onnx_path.is_file():
            raise BundleError(f"text encoder {self.onnx_path} does not exist: check the bundle")
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads)
        try:
            self._session = ort.InferenceSession(
                str(self.onnx_path), sess_options=options, providers=list(providers)
            )
        except Exception as err:  # onnxruntime raises its own untyped errors
            raise BundleError(
                f"text encoder {self.onnx_path} cannot be loaded ({err}): re-export it"
            ) from err
        self._inputs = [i.name for i in self._session.get_inputs()]
        unknown = set(self._inputs) - set(TEXT_INPUTS)
        if unknown:
            raise BundleError(
                f"text encoder {self.onnx_path} takes unexpected inputs {sorted(unknown)}; "
                f"expected a subset of {list(TEXT_INPUTS)}: re-export it"
            )
        self._output = self._session.get_outputs()[0].name
        logger.info(
            "text encoder %s on %s", self.onnx_path.name, ", ".join(self._session.get_providers())
        )

    @property
    def providers(self) -> list[str]:
        """The execution providers the session really got (onnxruntime may fall back)."""
        return self._session.get_providers()

    def _run(self, cleaned: list[str]) -> np.ndarray:
        """Run the graph on cleaned expressions; float32 [N, D]."""
        tokens = self.tokenizer.encode(cleaned)
        feeds = {name: tokens[name] for name in self._inputs}
        (embedding,) = self._session.run([self._output], feeds)
        return np.asarray(embedding, dtype=np.float32)

    def embed(self, expressions: str | Sequence[str]) -> np.ndarray:
        """Embed expressions, reusing cached embeddings of expressions seen before.

        Args:
            expressions: one expression or a sequence of N expressions.

        Returns:
            A float32 array of shape (N, D) (D = 384 for the shipped encoder), one row per
            expression, in order; a fresh array the caller may modify.

        Raises:
            InputError: if an expression is not a string or is empty after cleaning.
        """
        cleaned = self.tokenizer.clean(expressions)
        missing = list(dict.fromkeys(text for text in cleaned if text not in self._cache))
        fresh = dict(zip(missing, self._run(missing), strict=True)) if missing else {}

        rows = []
        for text in cleaned:
            if text in fresh:
                rows.append(fresh[text])
            else:
                self._cache.move_to_end(text)
                rows.append(self._cache[text])
        for text, vector in fresh.items():
            self._remember(text, vector)
        if not rows:
            width = self._session.get_outputs()[0].shape[-1]
            return np.zeros((0, width if isinstance(width, int) else 0), dtype=np.float32)
        return np.stack(rows)

    def _remember(self, text: str, vector: np.ndarray) -> None:
        """Store one embedding, evicting the least recently used beyond ``cache_size``."""
        if self.cache_size <= 0:
            return
        vector = vector.copy()
        vector.setflags(write=False)
        self._cache[text] = vector
        self._cache.move_to_end(text)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
