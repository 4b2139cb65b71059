"""Decoy category words: train the auditor for expressions that name a category it never saw.

The category grounding loss (``maskaudit.model.category_loss``) teaches the auditor what every
training category looks like. An expression that names a category outside that set ("the
sounding tuba" when no tuba was ever shown) then matches no object well, and an auditor that
trusts the match too much calls even the referred object a wrong one. To learn that an unknown
name is weak evidence, training sometimes shows a naming expression with its category replaced
by a word from ``DECOY_WORDS`` (nouns in no vocabulary category and no near synonym of one),
keeping the candidates' labels: the auditor must fall back on the other cues (which object
sounds, where it is) and hedge where they do not settle it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from maskaudit.model.categories import NO_CATEGORY, category_names
from maskaudit.model.dataset import ClipStore

DECOY_WORDS: tuple[str, ...] = (
    "lamp",
    "kettle",
    "bicycle",
    "robot",
    "bottle",
    "phone",
    "radio",
    "fan",
    "toaster",
    "hammer",
    "bell",
    "banjo",
    "bird",
    "duck",
    "train",
    "drill",
    "blender",
    "printer",
    "whistle",
    "speaker",
    "doorbell",
    "oboe",
    "typewriter",
    "fountain",
    "tambourine",
)
"""Nouns named by no vocabulary category (checked by the tests)."""

VARIANTS = 3
"""Decoy wordings made per naming expression."""


@dataclass
class Decoys:
    """Decoy wordings of the naming expressions, embedded.

    Attributes:
        embeddings: float32 [D, text_dim], one row per decoy wording.
        of_expression: For each expression index that names a category, the rows of its decoys.
        texts: The decoy wordings, aligned with ``embeddings``.
    """

    embeddings: np.ndarray
    of_expression: dict[int, np.ndarray]
    texts: list[str]

    def pick(self, expression: int, rng: np.random.Generator) -> np.ndarray | None:
        """Return one decoy embedding of ``expression``, or None if it has none."""
        rows = self.of_expression.get(expression)
        if rows is None:
            return None
        return self.embeddings[int(rows[rng.integers(len(rows))])]


def make_decoys(
    store: ClipStore,
    embed: Callable[[list[str]], np.ndarray],
    seed: int = 0,
    words: Sequence[str] = DECOY_WORDS,
) -> Decoys:
    """Word and embed ``VARIANTS`` decoys of every expression in ``store`` that names a category.

    Args:
        store: The training items (their ``named`` labels say which expressions name what).
        embed: Embeds a list of expressions (e.g. ``embed_expressions`` with the run's encoder).
        seed: Seed of the word choice. Defaults to 0.
        words: The decoy nouns. Defaults to ``DECOY_WORDS``.

    Returns:
        The decoys; empty when no expression names a category.
    """
    names = category_names()
    rng = np.random.default_rng(seed)
    named: dict[int, int] = {}
    for item in store.items:
        if item.named != NO_CATEGORY:
            named.setdefault(item.expression, item.named)
    texts: list[str] = []
    of_expression: dict[int, np.ndarray] = {}
    for expression, category in sorted(named.items()):
        text = store.expressions[expression]
        name = names[category]
        if name not in text:
            continue
        start = len(texts)
        for word in rng.choice(len(words), size=min(VARIANTS, len(words)), replace=False):
            texts.append(text.replace(name, words[int(word)]))
        of_expression[expression] = np.arange(start, len(texts))
    embeddings = embed(texts) if texts else np.zeros((0, 0), dtype=np.float32)
    return Decoys(np.asarray(embeddings, dtype=np.float32), of_expression, texts)
