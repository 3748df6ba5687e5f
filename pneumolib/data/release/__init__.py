"""Finding the Kermany release on disk (or downloading it) and reading its files."""
