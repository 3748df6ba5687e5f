"""Errors for image files that cannot be used (uploads or files on disk), each with its HTTP status and advice.

The web layer turns any :class:`ImageFileError` into a response with ``status_code`` and
``detail`` unchanged, so the wording here is what a person uploading a file reads: it says what
went wrong in plain words and what to send instead. Nothing here imports a web framework, so
the decoder and its tests stay framework-free.
"""

from __future__ import annotations


class ImageFileError(Exception):
    """Base class: a problem with the file (what a client sent, or a file on disk), never a bug on our side."""

    status_code: int = 400
    code: str = "bad_upload"
    default_detail: str = (
        "The upload could not be used. Send one chest X-ray as PNG, JPEG or DICOM."
    )

    def __init__(self, detail: str | None = None) -> None:
        self.detail: str = detail or self.default_detail
        super().__init__(self.detail)

    def to_dict(self) -> dict[str, str | int]:
        """A JSON-ready body: a stable machine-readable ``code`` plus the human ``detail``."""
        return {"code": self.code, "status": self.status_code, "detail": self.detail}


class EmptyUpload(ImageFileError):
    """Zero bytes arrived, usually a form field sent without its file."""

    status_code = 400
    code = "empty_upload"
    default_detail = "The upload was empty (0 bytes). Attach the image file and send it again."


class UndecodableImage(ImageFileError):
    """The bytes claim (or seem) to be an image we read, but decoding them failed."""

    status_code = 400
    code = "undecodable_image"
    default_detail = (
        "The file could not be read as an image; it may be truncated or corrupted. "
        "Open it in an image viewer to check it, then export it again as PNG or JPEG."
    )


class UploadTooLarge(ImageFileError):
    """The upload (or what it expands to) is over the byte limit."""

    status_code = 413
    code = "upload_too_large"
    default_detail = "The file is too large. Send a smaller file (at most 20 MB)."


class ImageTooLarge(ImageFileError):
    """Width x height is over the pixel limit; raised from the header, before decoding."""

    status_code = 413
    code = "image_too_large"
    default_detail = (
        "The image has too many pixels to process. Downscale it (a chest X-ray needs no more "
        "than about 3000 x 3000 pixels) and send it again."
    )


class UnsupportedMediaType(ImageFileError):
    """A readable file of a kind we do not take (GIF, PDF, text, an undecodable DICOM codec)."""

    status_code = 415
    code = "unsupported_media_type"
    default_detail = "This file type is not supported. Send a PNG, JPEG or DICOM image."


class NotAChestXray(ImageFileError):
    """The image decoded fine but does not look like a chest X-ray (the OOD gate said no)."""

    status_code = 422
    code = "not_a_chest_xray"
    default_detail = (
        "The image does not look like a frontal chest X-ray, so no prediction was made. "
        "Send a chest radiograph; photos, documents and other body parts are not supported."
    )
