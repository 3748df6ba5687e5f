"""Training: the schedule, the training loop and its plots (augmentation lives in pneumolib.data.augment)."""
