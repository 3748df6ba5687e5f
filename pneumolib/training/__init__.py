"""Training: the schedule, the training loop and its figures (augmentation lives in pneumolib.data.inputs.augment)."""
