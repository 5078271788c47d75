"""Training of learned constructive policies (POMO), checkpoints and shipped weights."""

from coptim.training.checkpoint import FORMAT, load_file, load_policy, policy_payload, save_atomic
from coptim.training.pomo import TrainConfig, evaluate_gap, pomo_loss, reference_objectives, train, validation_instances

__all__ = [
    "FORMAT", "TrainConfig", "evaluate_gap", "load_file", "load_policy", "policy_payload", "pomo_loss",
    "reference_objectives", "save_atomic", "train", "validation_instances",
]
