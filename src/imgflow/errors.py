"""Named errors. Every failure a user can see has a stable ``code``.

Adapters translate library errors into these; each entry point maps them to a
response (HTTP problem, failed record, exit code) in exactly one place.
"""

from __future__ import annotations

_MAX_MESSAGE = 1024


class ImgflowError(Exception):
    """Base of every error imgflow raises on purpose."""

    code: str = "error"
    http_status: int = 500
    #: a retry may succeed (transient infrastructure trouble), so a queue should redeliver
    retryable: bool = False

    def __init__(self, message: str, *, code: str | None = None) -> None:
        message = " ".join(str(message).split())
        if len(message) > _MAX_MESSAGE:
            message = message[: _MAX_MESSAGE - 3] + "..."
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


# --- input: the image itself -------------------------------------------------
class InputError(ImgflowError):
    """The image is bad; retrying cannot help."""

    http_status = 422


class UnsupportedFormat(InputError):
    code = "unsupported_type"
    http_status = 415


class TooLarge(InputError):
    code = "too_large"
    http_status = 413


class TooManyPixels(InputError):
    code = "too_many_pixels"
    http_status = 422


class TooLargeDecoded(InputError):
    """Decoding would take more memory than the budget (bit depth and channels count, not just pixels)."""

    code = "too_large_decoded"
    http_status = 422


class TooManyFrames(InputError):
    code = "too_many_frames"
    http_status = 422


class CorruptImage(InputError):
    code = "corrupt_image"
    http_status = 422


class ProcessingFailed(ImgflowError):
    """The image decoded but a later stage (resize, watermark, encode) failed: not the image's fault."""

    code = "processing_failed"


# --- configuration -----------------------------------------------------------
class BadRecipe(ImgflowError):
    code = "bad_recipe"
    http_status = 422


class ConfigError(ImgflowError):
    code = "bad_config"


# --- records and storage -----------------------------------------------------
class NotFound(ImgflowError):
    code = "not_found"
    http_status = 404


class Conflict(ImgflowError):
    """A conditional write lost: the record was not in an allowed state."""

    code = "conflict"
    http_status = 409


class LeaseLost(Conflict):
    """A job's lease was retaken or the job is gone: the holder must stop."""

    code = "lease_lost"


class BadRequest(ImgflowError):
    code = "bad_request"
    http_status = 400


class InvalidField(BadRequest):
    """A value the user gave (a tag, the alt text, a metadata field) breaks its rule: 422 naming ``field``."""

    code = "invalid_field"
    http_status = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class PreconditionFailed(Conflict):
    """``If-Match`` named a version the record no longer has."""

    code = "precondition_failed"
    http_status = 412


class InvalidKey(BadRequest):
    """An object key that could escape the store's root or that no store can hold."""

    code = "invalid_key"


class BadSignature(ImgflowError):
    """A signed local URL or upload token was tampered with or made for something else."""

    code = "bad_signature"
    http_status = 403


class SignatureExpired(BadSignature):
    code = "signature_expired"


class Unauthorized(ImgflowError):
    code = "unauthorized"
    http_status = 401


class Busy(ImgflowError):
    """Too much of this caller's work is waiting: come back after ``retry_after`` seconds."""

    code = "too_many_pending"
    http_status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StorageError(ImgflowError):
    """The store or catalog failed for a reason that is not the caller's."""

    code = "storage_error"
    http_status = 503
    retryable = True


class DiskFull(StorageError):
    """A write failed with ENOSPC/EDQUOT: retry, but over minutes (the retry policy's own base)."""

    code = "disk_full"


class StorageForbidden(StorageError):
    """The store or catalog refused this process's credentials (AccessDenied): a retry cannot help."""

    code = "storage_forbidden"
    retryable = False


# --- on-demand transforms ----------------------------------------------------
class BadTransform(BadRequest):
    """A ``/t/`` URL's options or limits are wrong (unknown, repeated, out of order, off the grid)."""

    code = "bad_transform"


class TooBusy(ImgflowError):
    """Every renderer is busy and the waiting line is full: retry after ``retry_after`` seconds."""

    code = "too_busy"
    http_status = 429
    retryable = True
    retry_after = 1


class NotReady(ImgflowError):
    """The image is being (re)processed and this rendition is not cached: retry shortly."""

    code = "not_ready"
    http_status = 503
    retryable = True
    retry_after = 5


class RenderTimeout(ImgflowError):
    code = "render_timeout"
    http_status = 503
    retryable = True
    retry_after = 5
