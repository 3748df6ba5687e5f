"""Reading an image file safely: format sniffing, size limits, PNG/JPEG/16-bit/DICOM decoding.

One decoder for every file the project reads: uploads to the service, a site's films for
``calibrate-gate``, and the data set's films in training and evaluation, so a model never meets
one conversion in training and another in use. Every problem becomes an :class:`~pneumolib.decode.errors.ImageFileError`
whose ``detail`` says, in plain words, what went wrong and what to send instead. Nothing here
imports a web framework or a deep-learning library.

* ``image``: :func:`decode_image`, the entry point, and :class:`DecodedImage`;
* ``formats``: what the bytes are (never trusting the file name), and what is supported;
* ``signatures``: image sizes read from PNG/JPEG/JPEG 2000 headers before decoding;
* ``dicom``: DICOM files (windowing, photometric interpretation, compressed transfer syntaxes);
* ``pixels``: any decoded array -> 8-bit grayscale;
* ``limits``: the byte and pixel limits; ``errors``: the error classes.
"""
