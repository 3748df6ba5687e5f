"""Images as the model sees them: canonical preprocessing, the uint8 cache, split arrays, augmentation and stress shifts."""
