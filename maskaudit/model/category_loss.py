"""The category grounding loss: teach the auditor what each named category looks like.

Expressions that name a category ("the sounding piano", "the sounding object on the left of the
cello") are grounded by matching the expression's query against each object's pooled features
(the audit head's ``match`` cue and its anchor attention). Left to the audit losses alone, that
match is learnt slowly, through a few grounding candidates per expression. This loss supervises
it directly wherever the benchmark says which category each whole object shows and which one the
expression names (``maskaudit.model.categories``):

* a category prototype per vocabulary entry, shared by both sides, classifies each whole
  object's pooled inside features and each naming expression's query;
* the match of a naming expression's query with a whole object is pushed up when the object is
  of the named category and down otherwise.

The prototypes are a training-only module: they live in the training checkpoint, never in the
auditor's weights or the exported graphs.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from maskaudit.model.categories import NO_CATEGORY


class CategoryPrototypes(nn.Module):
    """One learnt prototype per category in the space of the frame's coarsest features.

    Args:
        n_categories: Number of categories (``len(category_names())``).
        dim: Channels of the pooled features and of the query (``ModelConfig.c2``).
    """

    def __init__(self, n_categories: int, dim: int) -> None:
        super().__init__()
        self.classify = nn.Linear(dim, n_categories)

    def forward(
        self,
        inside: torch.Tensor,
        query: torch.Tensor,
        categories: torch.Tensor,
        named: torch.Tensor,
        candidate_valid: torch.Tensor,
    ) -> torch.Tensor:
        """Return the mean of the three category terms (0 where a batch has no labels).

        Args:
            inside: Pooled inside features per candidate, [B, K, C].
            query: The expression's query into those features, [B, C].
            categories: Category of each whole-object candidate, -1 for the rest, [B, K].
            named: Category the expression names, -1 where none, [B].
            candidate_valid: 1 for real candidates, 0 for padding, [B, K].
        """
        objects = (categories != NO_CATEGORY) & (candidate_valid > 0)
        naming = named != NO_CATEGORY
        terms = []
        if objects.any():
            terms.append(F.cross_entropy(self.classify(inside[objects]), categories[objects]))
        if naming.any():
            terms.append(F.cross_entropy(self.classify(query[naming]), named[naming]))
        pairs = objects & naming.unsqueeze(1)
        if pairs.any():
            match = torch.einsum("bkc,bc->bk", inside, query) / math.sqrt(inside.shape[2])
            same = (categories == named.unsqueeze(1)).to(match.dtype)
            terms.append(F.binary_cross_entropy_with_logits(match[pairs], same[pairs]))
        if not terms:
            return inside.sum() * 0.0
        return torch.stack(terms).mean()
