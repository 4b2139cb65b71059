"""The audit head: once per candidate mask, judged against the scene, sound and expression."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from maskaudit.kernels.pooling_torch import mask_pool, mask_pool_context
from maskaudit.model.config import ModelConfig

ACTIVITY_CHANNELS = 4
"""Learned visual activity series per candidate, correlated with the audio bands."""

ENERGY_CHANNELS = 2
"""Learned energy series per audio band, correlated with the visual activity."""

BAND_DESCRIPTOR = 16
"""Size of the summary of one band's sound over the context (loudness, onset, length, rhythm)."""

GEOMETRY = 8
"""Geometry features per candidate (see ``maskaudit.kernels``)."""

FIXED_DESCRIPTOR = 7
"""Fixed summary of one band over the context: peak and mean energy while active, onset,
offset, duration, pitch (the band's place) and rhythm."""

ACTIVE_LEVEL = 0.1
"""Normalised band energy above which a band counts as sounding in a second."""

ACTIVE_SLOPE = 8.0
"""Sharpness of that threshold."""

MATCH_SHARPNESS = 8.0
"""Sharpness of the fixed choice of the band that moves with the candidate (correlations are
in [-1, 1])."""

RANK_SHARPNESS = 10.0
"""Sharpness of the fixed soft comparisons between the matched band and the others."""

GROUNDING_CUES = 2 * FIXED_DESCRIPTOR + 1 + 5
"""Cues of whether a candidate is the referred object: the fixed band descriptor of the sound
that moves with it and its rank among the others, how well its brightness follows any sound,
and its place relative to the object the expression names."""

GROUNDING_HEADS = 8
"""Expression-weighted sums of the grounding cues fed to the outputs directly."""


def band_descriptors(energy: torch.Tensor, change: torch.Tensor, valid: torch.Tensor):
    """Summarise each band's sound over the context with fixed, interpretable features.

    Args:
        energy: Normalised mean energy per second and band, [B, T, n].
        change: Mean absolute energy change inside each second (a rhythm cue), [B, T, n].
        valid: [B, T], 1 for filled context entries.

    Returns:
        Descriptors [B, n, FIXED_DESCRIPTOR] and each band's activity weight [B, n].
    """
    v = valid.unsqueeze(2)
    seconds = valid.sum(dim=1).clamp(min=1.0).unsqueeze(1)
    active = torch.sigmoid((energy - ACTIVE_LEVEL) * ACTIVE_SLOPE) * v
    amount = active.sum(dim=1)
    peak = (energy * v - (1.0 - v) * 1e4).amax(dim=1)
    mean = (active * energy).sum(dim=1) / amount.clamp(min=1e-3)
    started = torch.cumsum(active, dim=1).clamp(max=1.0)
    onset = 1.0 - started.sum(dim=1) / seconds
    ended = torch.flip(torch.cumsum(torch.flip(active, dims=[1]), dim=1), dims=[1]).clamp(max=1.0)
    offset = ended.sum(dim=1) / seconds
    duration = amount / seconds
    n = energy.shape[2]
    pitch = (torch.arange(n, device=energy.device).to(energy.dtype) / max(1, n - 1)).expand_as(peak)
    rhythm = (active * change).sum(dim=1) / amount.clamp(min=1e-3)
    descriptor = torch.stack([peak, mean, onset, offset, duration, pitch, rhythm], dim=2)
    weight = torch.sigmoid((peak - ACTIVE_LEVEL) * ACTIVE_SLOPE)
    return descriptor, weight


def soft_rank(
    matched: torch.Tensor,
    descriptor: torch.Tensor,
    weight: torch.Tensor,
    sharpness: torch.Tensor | float,
) -> torch.Tensor:
    """Share of the (weighted) bands each matched feature exceeds, [B, K, D] in [0, 1]."""
    diff = matched.unsqueeze(2) - descriptor.unsqueeze(1)
    above = torch.sigmoid(diff * sharpness) * weight[:, None, :, None]
    return above.sum(dim=2) / weight.sum(dim=1).clamp(min=1e-3)[:, None, None]


def standardise(series: torch.Tensor, valid: torch.Tensor, eps: float = 1e-2) -> torch.Tensor:
    """Centre and scale ``series`` over its time axis (dim 2), ignoring invalid steps.

    Args:
        series: [B, X, T, C].
        valid: [B, T] with 1 for filled context entries and 0 for padding.
        eps: Added to the variance so flat series stay near zero instead of exploding.
    """
    v = valid[:, None, :, None]
    count = v.sum(dim=2, keepdim=True).clamp(min=1.0)
    mean = (series * v).sum(dim=2, keepdim=True) / count
    centred = (series - mean) * v
    var = centred.pow(2).sum(dim=2, keepdim=True) / count
    return centred / torch.sqrt(var + eps)


class AuditHead(nn.Module):
    """Estimate IoU, type and action for K candidate masks per frame.

    The head compares each candidate with the rest of the scene rather than judging it alone:

    * appearance and geometry: fused mask pooling of the frame's three feature maps over the
      candidate's inside, boundary band and outside, plus the mask's geometry;
    * sound: the candidate's visual activity over the temporal context (pooled from the
      per-second ``context`` maps) is correlated with every audio band's energy over the same
      seconds; the best-matching band's descriptor is then ranked against the other active bands
      (is this object's sound the loudest, the earliest, the lowest, the longest...);
    * space: the expression attends over the frame to find the object it names, and the
      candidate's centroid is placed relative to it (left of, right of, near);
    * the expression gates the fused features, choosing which comparison matters.

    Args:
        config: The model sizes.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        c = config
        self.bands = c.bands
        self.band_dim = c.band_dim
        pooled_dim = 3 * (c.c0 + c.c1 + c.c2)
        self.pooled_proj = nn.Sequential(nn.Linear(pooled_dim, 128), nn.ReLU())
        self.activity = nn.Linear(3 * c.context_dim, ACTIVITY_CHANNELS)
        self.energy = nn.Linear(c.band_dim, ENERGY_CHANNELS)
        corr_dim = ACTIVITY_CHANNELS * ENERGY_CHANNELS
        self.band_score = nn.Sequential(nn.Linear(corr_dim + 1, 16), nn.ReLU(), nn.Linear(16, 1))
        self.band_step = nn.Sequential(nn.Linear(c.band_dim + 1, 32), nn.ReLU())
        self.band_summary = nn.Linear(64, BAND_DESCRIPTOR)
        self.band_active = nn.Linear(BAND_DESCRIPTOR, 1)
        self.rank_sharpness = nn.Parameter(torch.tensor(4.0))
        self.anchor_query = nn.Linear(c.text_dim, c.c2)
        self.text_proj = nn.Sequential(nn.Linear(c.text_dim, 64), nn.ReLU())
        self.global_proj = nn.Sequential(nn.Linear(c.global_dim, 32), nn.ReLU())
        self.cue_norm = nn.LayerNorm(GROUNDING_CUES)
        self.cue_weights = nn.Linear(c.text_dim, GROUNDING_HEADS * (GROUNDING_CUES + 1))
        self.grounding_to_type = nn.Linear(GROUNDING_HEADS, c.n_types)
        self.grounding_to_action = nn.Linear(GROUNDING_HEADS, c.n_actions)
        self.grounding_to_iou = nn.Linear(GROUNDING_HEADS, 1)
        sound_dim = 3 * BAND_DESCRIPTOR + 4 + 2 * FIXED_DESCRIPTOR
        fused_dim = 128 + GEOMETRY + sound_dim + 4 + 1 + 64 + 32 + GROUNDING_HEADS
        self.norm = nn.LayerNorm(fused_dim)
        self.fuse1 = nn.Linear(fused_dim, c.hidden)
        self.gate = nn.Linear(c.text_dim, c.hidden)
        self.fuse2 = nn.Sequential(nn.Linear(c.hidden, c.hidden // 2), nn.ReLU())
        self.iou_out = nn.Linear(c.hidden // 2, 1)
        self.type_out = nn.Linear(c.hidden // 2, c.n_types)
        self.action_out = nn.Linear(c.hidden // 2, c.n_actions)

    def sound_features(
        self,
        masks: torch.Tensor,
        context_maps: torch.Tensor,
        context_audio: torch.Tensor,
        context_valid: torch.Tensor,
    ) -> torch.Tensor:
        """Return each candidate's audio-visual features [B, K, 3 * BAND_DESCRIPTOR + 18]."""
        B, T = context_audio.shape[:2]
        K = masks.shape[1]
        regions = mask_pool_context(masks, context_maps)
        visual = self.activity(regions.reshape(B, K, T, -1))
        audio = context_audio.reshape(B, T, self.bands, self.band_dim)
        energy = self.energy(audio).permute(0, 2, 1, 3)
        visual_n = standardise(visual, context_valid)
        energy_n = standardise(energy, context_valid)
        count = context_valid.sum(dim=1).clamp(min=1.0)[:, None, None, None, None]
        corr = torch.einsum("bktv,bnte->bknve", visual_n, energy_n) / count
        # A fixed path beside the learned one: the brightness inside the mask (the context map's
        # last channel) against each band's mean energy (the embedding's first feature).
        brightness_n = standardise(regions[:, :, :, 0, -1:], context_valid)
        band_energy_n = standardise(audio[:, :, :, :1].permute(0, 2, 1, 3), context_valid)
        fixed = torch.einsum("bktv,bnte->bkn", brightness_n, band_energy_n) / count[..., 0, 0]
        fixed_descriptor, fixed_weight = band_descriptors(
            audio[:, :, :, 0], audio[:, :, :, 2], context_valid
        )
        fixed_match = torch.softmax(fixed * MATCH_SHARPNESS, dim=2)
        fixed_matched = torch.einsum("bkn,bnd->bkd", fixed_match, fixed_descriptor)
        fixed_rank = soft_rank(fixed_matched, fixed_descriptor, fixed_weight, RANK_SHARPNESS)
        score_in = torch.cat([corr.reshape(B, K, self.bands, -1), fixed.unsqueeze(3)], dim=3)
        score = self.band_score(score_in).squeeze(3)
        weight = torch.softmax(score, dim=2)

        position = torch.linspace(0.0, 1.0, T, device=masks.device).to(audio.dtype)
        position = position.view(1, T, 1, 1).expand(B, T, self.bands, 1)
        steps = self.band_step(torch.cat([audio, position], dim=3))
        valid = context_valid[:, :, None, None]
        step_max = (steps * valid - (1.0 - valid) * 1e4).amax(dim=1)
        step_mean = (steps * valid).sum(dim=1) / valid.sum(dim=1).clamp(min=1.0)
        descriptor = self.band_summary(torch.cat([step_max, step_mean], dim=2))
        active = torch.sigmoid(self.band_active(descriptor)).squeeze(2)

        matched = torch.einsum("bkn,bnd->bkd", weight, descriptor)
        rank = soft_rank(matched, descriptor, active, self.rank_sharpness)
        scene = (descriptor * active.unsqueeze(2)).sum(dim=1) / active.sum(dim=1, keepdim=True)
        scene = scene.clamp(-1e3, 1e3).unsqueeze(1).expand(B, K, BAND_DESCRIPTOR)
        entropy = -(weight * torch.log(weight + 1e-8)).sum(dim=2, keepdim=True)
        best = score.amax(dim=2, keepdim=True)
        best_fixed = fixed.amax(dim=2, keepdim=True)
        matched_active = (weight * active.unsqueeze(1)).sum(dim=2, keepdim=True)
        return torch.cat(
            [
                matched,
                rank,
                scene,
                entropy,
                best,
                matched_active,
                best_fixed,
                fixed_matched,
                fixed_rank,
            ],
            dim=2,
        )

    def spatial_features(
        self,
        feat2: torch.Tensor,
        pooled_inside2: torch.Tensor,
        geometry: torch.Tensor,
        query: torch.Tensor,
    ) -> torch.Tensor:
        """Return the candidate's place relative to the object the expression names [B, K, 5].

        ``query`` [B, c2] is the expression's ``anchor_query`` into the frame's coarsest features.
        """
        B, C, h, w = feat2.shape
        K = geometry.shape[1]
        scores = torch.einsum("bc,bchw->bhw", query, feat2).reshape(B, h * w) / math.sqrt(C)
        attention = torch.softmax(scores, dim=1).reshape(B, h, w)
        ys = (torch.arange(h, device=feat2.device).to(feat2.dtype) + 0.5) / h
        xs = (torch.arange(w, device=feat2.device).to(feat2.dtype) + 0.5) / w
        ax = (attention.sum(dim=1) * xs).sum(dim=1)
        ay = (attention.sum(dim=2) * ys).sum(dim=1)
        dx = geometry[:, :, 3] - ax[:, None]
        dy = geometry[:, :, 4] - ay[:, None]
        dist = torch.sqrt(dx * dx + dy * dy + 1e-6)
        peak = attention.reshape(B, h * w).amax(dim=1, keepdim=True).expand(B, K)
        match = torch.einsum("bkc,bc->bk", pooled_inside2, query) / math.sqrt(C)
        return torch.stack([dx, dy, dist, peak, match], dim=2)

    def forward(
        self,
        feat0: torch.Tensor,
        feat1: torch.Tensor,
        feat2: torch.Tensor,
        frame_global: torch.Tensor,
        context_maps: torch.Tensor,
        context_audio: torch.Tensor,
        context_valid: torch.Tensor,
        text_embedding: torch.Tensor,
        masks: torch.Tensor,
        with_grounding: bool = False,
    ) -> tuple[torch.Tensor, ...]:
        """Audit K candidate masks on each of B frames.

        With ``with_grounding`` (default False, the exported graph's outputs) it also returns
        what the category grounding loss trains (``maskaudit.model.category_loss``): each
        candidate's pooled inside features ``inside`` [B, K, c2] and the expression's query into
        them ``query`` [B, c2].

        Returns:
            ``iou`` [B, K] in [0, 1], ``type_logits`` [B, K, n_types] and ``action_logits``
            [B, K, n_actions], then ``inside`` and ``query`` when ``with_grounding``.
        """
        B, K = masks.shape[:2]
        pooled, geometry = mask_pool(masks, [feat0, feat1, feat2])
        c2 = feat2.shape[1]
        inside2 = pooled[:, :, -3 * c2 : -2 * c2]
        sound = self.sound_features(masks, context_maps, context_audio, context_valid)
        query = self.anchor_query(text_embedding)
        spatial = self.spatial_features(feat2, inside2, geometry, query)
        text = self.text_proj(text_embedding).unsqueeze(1).expand(B, K, -1)
        scene = self.global_proj(frame_global).unsqueeze(1).expand(B, K, -1)
        grounding = self.grounding(sound, spatial, text_embedding)
        fused = torch.cat(
            [self.pooled_proj(pooled), geometry, sound, spatial, text, scene, grounding], dim=2
        )
        gate = torch.sigmoid(self.gate(text_embedding)).unsqueeze(1)
        hidden = F.relu(self.fuse1(self.norm(fused))) * gate
        hidden = self.fuse2(hidden)
        iou_logit = self.iou_out(hidden) + self.grounding_to_iou(grounding)
        type_logits = self.type_out(hidden) + self.grounding_to_type(grounding)
        action_logits = self.action_out(hidden) + self.grounding_to_action(grounding)
        iou = torch.sigmoid(iou_logit).squeeze(2)
        if with_grounding:
            return iou, type_logits, action_logits, inside2, query
        return iou, type_logits, action_logits

    def grounding(
        self, sound: torch.Tensor, spatial: torch.Tensor, text_embedding: torch.Tensor
    ) -> torch.Tensor:
        """Weigh the grounding cues by the expression: [B, K, GROUNDING_HEADS].

        Each head is a linear score of the cues whose weights the expression chooses (a
        bilinear form of expression and cues), so "the loudest" can lean on the loudness rank
        and "on the left of the piano" on the horizontal offset from the piano from the start
        of training, instead of waiting for a deep layer to discover the interaction.
        """
        B, K = sound.shape[:2]
        cues = torch.cat([sound[:, :, -(GROUNDING_CUES - 5) :], spatial], dim=2)
        cues = self.cue_norm(cues)
        cues = torch.cat([cues, torch.ones_like(cues[:, :, :1])], dim=2)
        weights = self.cue_weights(text_embedding).reshape(B, GROUNDING_HEADS, -1)
        return torch.einsum("bkc,bhc->bkh", cues, weights)
