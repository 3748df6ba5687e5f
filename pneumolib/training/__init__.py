"""Training: augmentation, the schedule, checkpoints and the training loop."""
