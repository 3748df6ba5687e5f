"""Finding the chest X-ray set, reading its images, and the project's manifest and split."""
