"""The sample film shipped with the package for notebook 06 and the README's curl example."""

from __future__ import annotations


def test_the_sample_film_ships_and_decodes():
    from pneumolib.decode.image import decode_image
    from pneumolib.samples import SAMPLE_FILM, SAMPLE_LABEL

    image = decode_image(SAMPLE_FILM.read_bytes())
    assert SAMPLE_LABEL == "PNEUMONIA" and min(image.pixels.shape) >= 224
    assert (SAMPLE_FILM.parent / "README.md").read_text().count("CC BY 4.0") == 1
