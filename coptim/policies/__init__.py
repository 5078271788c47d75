"""Learned constructive policies: the attention model and the decoding strategies."""

from coptim.policies.attention import AttentionModel, Cache, ModelConfig
from coptim.policies.decoding import (
    STRATEGIES,
    Decoded,
    Rollout,
    beam_search,
    decode,
    decode_instances,
    greedy_select,
    rollout,
    sampling_select,
    score,
)

__all__ = [
    "AttentionModel", "Cache", "ModelConfig", "STRATEGIES", "Decoded", "Rollout", "beam_search", "decode",
    "decode_instances", "greedy_select", "rollout", "sampling_select", "score",
]
