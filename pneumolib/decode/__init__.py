"""Reading an uploaded file safely: format sniffing, size limits, PNG/JPEG/16-bit/DICOM decoding.

Used by the service, by ``calibrate-gate`` on a site's films, and by anything else that reads
files it did not make. Every problem becomes an :class:`~pneumolib.decode.errors.UploadError`
whose ``detail`` says, in plain words, what went wrong and what to send instead. Nothing here
imports a web framework or a deep-learning library.

* ``upload``: :func:`decode_upload`, the entry point, and :class:`DecodedImage`;
* ``formats``: what the bytes are (never trusting the file name), and what is supported;
* ``signatures``: image sizes read from PNG/JPEG/JPEG 2000 headers before decoding;
* ``dicom``: DICOM files (windowing, photometric interpretation, compressed transfer syntaxes);
* ``pixels``: any decoded array -> 8-bit grayscale;
* ``limits``: the byte and pixel limits; ``errors``: the error classes.
"""
