"""HMAC-SHA256 over a transform URL's options, image and generation; several keys at once.

The first key signs; every key verifies (try each, constant time), so a key can be rotated
in without breaking the URLs pages already embed. The signature is the first 16 bytes of
the HMAC, base64url without padding (22 characters).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

from imgflow.errors import BadSignature, ConfigError

SIGNATURE_BYTES = 16
#: how many verified signatures a signer remembers (then it forgets them all and starts over)
VERIFIED_CACHE = 4096
#: the signature segment of an unsigned (public preset) URL
UNSIGNED = "_"
#: a purpose label, so that a key shared with another HMAC use never makes a valid transform signature
_CONTEXT = b"imgflow-transform-v1\n"


def message(options: str, image_id: str, generation: int) -> bytes:
    return _CONTEXT + f"{options}/{image_id}/{generation}".encode()


class Signer:
    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ConfigError("on-demand URLs need at least one signing key")
        if any(len(k) < 16 for k in keys):
            raise ConfigError("every on-demand signing key is at least 16 bytes")
        self.keys = tuple(keys)
        #: signatures already verified (a page's srcset is asked for again and again); bounded
        self._verified: set[tuple[str, bytes]] = set()

    @staticmethod
    def _mac(key: bytes, data: bytes) -> str:
        digest = hmac.new(key, data, hashlib.sha256).digest()[:SIGNATURE_BYTES]
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def sign(self, options: str, image_id: str, generation: int) -> str:
        return self._mac(self.keys[0], message(options, image_id, generation))

    def verify(self, signature: str, options: str, image_id: str, generation: int) -> None:
        """Raises BadSignature unless some key made ``signature`` for exactly these parts."""
        data = message(options, image_id, generation)
        if (signature, data) in self._verified:
            return
        given = signature.encode("ascii", "replace")
        ok = False
        for key in self.keys:  # every key, always: the time taken says nothing about which matched
            ok |= hmac.compare_digest(self._mac(key, data).encode("ascii"), given)
        if not ok:
            raise BadSignature("the URL's signature does not match its options and image")
        if len(self._verified) >= VERIFIED_CACHE:
            self._verified.clear()
        self._verified.add((signature, data))


def derive_key(secret: bytes) -> bytes:
    """A transform key derived from another secret (the local server's signing key)."""
    return hmac.new(secret, b"imgflow-transform-key", hashlib.sha256).hexdigest().encode()
