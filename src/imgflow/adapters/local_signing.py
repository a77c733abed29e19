"""HMAC-signed, expiring URLs for the local store (what S3 presigning does on AWS).

Upload token: ``base64url(json payload) "." base64url(HMAC-SHA256)`` where the payload
pins the key, the content type, the maximum size and the expiry. Download signature:
HMAC over the key, the expiry and the optional download filename. Upload and download
MACs are domain-separated so one can never stand in for the other.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from imgflow.adapters.keys import validate_key
from imgflow.errors import BadSignature, InvalidKey, SignatureExpired

_UPLOAD = b"imgflow-upload-v1\n"
_DOWNLOAD = b"imgflow-download-v1\n"


@dataclass(frozen=True)
class UploadGrant:
    key: str
    content_type: str
    max_size: int
    expires_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class UploadSigner:
    """Signs and verifies local upload tokens and download links with one secret ``key``."""

    def __init__(self, key: bytes, *, clock: Callable[[], float] = time.time) -> None:
        if len(key) < 16:
            raise ValueError("the signing key must be at least 16 bytes")
        self._key = key
        self.clock = clock

    def _mac(self, domain: bytes, message: bytes) -> bytes:
        return hmac.new(self._key, domain + message, hashlib.sha256).digest()

    # --- uploads ------------------------------------------------------------------
    def sign_upload(self, key: str, *, content_type: str, max_size: int, expires_at: float) -> str:
        validate_key(key)
        payload = {"k": key, "ct": content_type, "max": int(max_size), "exp": int(expires_at)}
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=True).encode()
        return f"{_b64(body)}.{_b64(self._mac(_UPLOAD, body))}"

    def verify_upload(self, token: str) -> UploadGrant:
        """The grant a token carries. Raises BadSignature (tampered, malformed) or SignatureExpired."""
        try:
            body_b64, mac_b64 = token.split(".")
            body, mac = _unb64(body_b64), _unb64(mac_b64)
        except (ValueError, binascii.Error) as exc:
            raise BadSignature("malformed upload token") from exc
        if not hmac.compare_digest(mac, self._mac(_UPLOAD, body)):
            raise BadSignature("upload token signature does not match")
        try:
            data = json.loads(body)
            grant = UploadGrant(
                key=validate_key(data["k"]),
                content_type=str(data["ct"]),
                max_size=int(data["max"]),
                expires_at=int(data["exp"]),
            )
        except (ValueError, KeyError, TypeError, InvalidKey) as exc:
            raise BadSignature("upload token payload is invalid") from exc
        if self.clock() > grant.expires_at:
            raise SignatureExpired("upload token expired")
        return grant

    # --- downloads ----------------------------------------------------------------
    def _download_message(self, key: str, expires_at: int, filename: str | None) -> bytes:
        return json.dumps([key, expires_at, filename], ensure_ascii=True).encode()

    def sign_download(self, key: str, *, expires_at: float, filename: str | None = None) -> dict[str, str]:
        """The query parameters of a download link: ``exp``, ``sig`` and ``filename`` if given."""
        validate_key(key)
        exp = int(expires_at)
        params = {"exp": str(exp), "sig": _b64(self._mac(_DOWNLOAD, self._download_message(key, exp, filename)))}
        if filename is not None:
            params["filename"] = filename
        return params

    def verify_download(self, key: str, *, exp: str | int, sig: str, filename: str | None = None) -> None:
        """Raises BadSignature unless ``sig`` signs this key/expiry/filename, SignatureExpired after ``exp``."""
        try:
            expires_at = int(exp)
            given = _unb64(sig)
        except (ValueError, binascii.Error) as exc:
            raise BadSignature("malformed download signature") from exc
        expected = self._mac(_DOWNLOAD, self._download_message(key, expires_at, filename))
        if not hmac.compare_digest(given, expected):
            raise BadSignature("download signature does not match")
        if self.clock() > expires_at:
            raise SignatureExpired("download link expired")
