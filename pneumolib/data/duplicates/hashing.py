"""Hashes that identify an image: by its file bytes, by its pixels, and by what it looks like.

* ``pneumolib.file_digest.file_sha256``: integrity of the file as stored (does my copy match the
  manifest?).
* ``content_hash``: sha256 of the decoded 8-bit pixels and shape, so the same picture saved
  with different metadata still counts as an exact duplicate.
* ``perceptual_hash``: a 256-bit DCT hash (pHash, 16x16 low frequencies) that stays close under
  re-encoding, mild resizing and brightness changes; near duplicates are pairs within a small
  Hamming distance. The common 64-bit pHash is too coarse for chest radiographs: every film shares
  the same layout, so unrelated children (even a normal and a pneumonia film) land 2-4 bits apart.
"""

from __future__ import annotations

import hashlib

import imagehash
import numpy as np
from PIL import Image


def content_hash(pixels: np.ndarray) -> str:
    """sha256 over shape and pixel bytes of a decoded grayscale image."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    digest = hashlib.sha256(f"{pixels.shape}".encode())
    digest.update(pixels.tobytes())
    return digest.hexdigest()


PERCEPTUAL_HASH_SIZE = 16
"""Side of the DCT block kept by pHash: 16x16 = 256 bits."""
_WORDS = PERCEPTUAL_HASH_SIZE * PERCEPTUAL_HASH_SIZE // 64


def perceptual_hash(pixels: np.ndarray) -> str:
    """256-bit pHash of a grayscale image as 64 hex digits."""
    image = Image.fromarray(np.asarray(pixels, dtype=np.uint8))
    return str(imagehash.phash(image, hash_size=PERCEPTUAL_HASH_SIZE))


def hashes_to_words(hashes: list[str] | np.ndarray) -> np.ndarray:
    """Hex pHashes as an (n, 4) array of uint64 words, for vectorised Hamming distances."""
    words = np.zeros((len(hashes), _WORDS), dtype=np.uint64)
    for row, text in enumerate(hashes):
        if len(text) != _WORDS * 16:
            raise ValueError(f"perceptual hash {text!r} is not {_WORDS * 16} hex digits")
        for word in range(_WORDS):
            words[row, word] = int(text[word * 16 : (word + 1) * 16], 16)
    return words


def hamming_distances(one: np.ndarray, many: np.ndarray) -> np.ndarray:
    """Bit differences between one hash (a row of words) and many (rows of words)."""
    return np.bitwise_count(np.bitwise_xor(one[None, :], many)).sum(axis=1).astype(np.int64)


def words_to_bits(words: np.ndarray) -> np.ndarray:
    """(n, w) uint64 words -> (n, 64 w) bits (0/1, uint8); bit 0 is the most significant of word 0
    (the first hex digit's highest bit)."""
    as_bytes = np.ascontiguousarray(np.asarray(words, dtype=np.uint64).astype(">u8")).view(np.uint8)
    return np.unpackbits(as_bytes.reshape(len(words), -1), axis=1)


def bits_to_words(bits: np.ndarray) -> np.ndarray:
    """The inverse of :func:`words_to_bits`: (n, 64 w) bits -> (n, w) uint64 words."""
    return np.packbits(np.asarray(bits, dtype=np.uint8), axis=1).view(">u8").astype(np.uint64)
