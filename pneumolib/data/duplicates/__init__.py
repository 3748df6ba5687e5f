"""Identifying images by hash and finding exact and near duplicates among thousands of files."""
